"""SQLite store: WAL mode with ``synchronous=FULL`` (a batch is on disk when
``create_transfers`` returns); ``BEGIN IMMEDIATE`` takes the write lock."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.pool import StaticPool

from netfin.core.errors import ConfigurationError
from netfin.ledger.model import (
    Account,
    AccountBalance,
    Checkpoint,
    JournalEntry,
    PendingState,
    PendingStatus,
    Transfer,
)
from netfin.ledger.store import (
    ACCOUNT_COLUMNS,
    ACCOUNT_INSERT_COLUMNS,
    BALANCE_COLUMNS,
    CHECKPOINT_COLUMNS,
    JOURNAL_COLUMNS,
    SCHEMA_HEAD,
    TRANSFER_COLUMNS,
    Head,
    LedgerStore,
    WriteTransaction,
    account_from_row,
    account_insert_row,
    add_tail,
    b,
    balance_from_row,
    checkpoint_from_row,
    i,
    journal_from_row,
    migrate,
    transfer_from_row,
    transfer_row,
)

_CHUNK = 4000
# Page cache of a connection (negative = KiB), kept small on purpose. When a B-tree
# rebalance swaps two pages, SQLite files one of them for a moment under the number
# of the page at 1 GiB; every commit after that, while the database is under 1 GiB,
# walks the whole page cache to drop pages past the file's end. With a 512 MiB cache
# (53,000 cached pages at a million accounts) that walk cost 2.3 ms of CPU in one
# commit in ten: the single-transfer p99 went from about 1.2 ms to 4-5 ms
# (docs/benchmarks.md, eleventh sitting). Clean pages are read through the memory
# map instead, without a copy.
CACHE_KIB = 16_384
# The memory map over the database file (SQLite's largest on this build: about 2 GiB).
MMAP_SIZE_BYTES = 2_147_418_112
# The background checkpointer copies new WAL frames into the database at most
# this often, so that no commit pays for a checkpoint itself.
CHECKPOINT_INTERVAL_SECONDS = 0.5
# How long a connection waits for another process's write lock.
BUSY_TIMEOUT_MS = 30_000
# How long a writer that starts the WAL over waits for other processes' writers and
# readers to leave it (their writers wait behind it meanwhile); then it gives up
# until the next checkpoint.
RESTART_WAIT_MS = 20
# The WAL is started over once it holds this much. A restart copies what the last
# background pass left behind while the writer waits (up to one large batch: 37 ms
# at 1M accounts, 3.5% of such a batch), so a light load is not made to pay it.
WAL_RESTART_BYTES = 16 * 1024 * 1024
# The size a WAL file is cut back to when the WAL starts over (after a bulk load).
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
# Each account's tail (see ``store.TAIL_MAX``): the transfers after its row's ``as_of``
# that name it, found through the transfers' (account, timestamp) indexes.
_TAILS = (
    "SELECT a.id, 0, t.amount, t.flags FROM accounts AS a JOIN transfers AS t "
    "ON t.debit_account_id = a.id AND t.timestamp > a.as_of WHERE a.id IN ({marks}) "
    "UNION ALL "
    "SELECT a.id, 1, t.amount, t.flags FROM accounts AS a JOIN transfers AS t "
    "ON t.credit_account_id = a.id AND t.timestamp > a.as_of WHERE a.id IN ({marks})"
)
_TABLES = {"accounts", "transfers", "journal", "pending_transfers", "account_balances", "checkpoints"}


def _chunks(ids: list[bytes]) -> Iterator[list[bytes]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


class _SqliteWrite(WriteTransaction):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.c = conn

    def head(self) -> Head:
        row = self.c.execute("SELECT seq, chain_hash, timestamp FROM ledger_head WHERE id = 1").fetchone()
        return Head(row[0], bytes(row[1]), row[2])

    def _select_in(self, sql: str, keys: list[bytes]) -> Iterator[tuple[Any, ...]]:
        for chunk in _chunks(keys):
            marks = ",".join("?" * len(chunk))
            yield from self.c.execute(sql.format(marks=marks), chunk)

    def load_accounts(self, ids: Iterable[int], tails: dict[int, int] | None = None) -> dict[int, Account]:
        keys = [b(x) for x in set(ids)]
        sql = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id IN ({{marks}})"
        found = {a.id: a for a in map(account_from_row, self._select_in(sql, keys))}
        self.add_tails(found, tails)
        return found

    def add_tails(self, accounts: dict[int, Account], tails: dict[int, int] | None = None) -> None:
        """Add each account's tail to the balances read from its row (in the same
        transaction as that read)."""
        keys = [b(x) for x in accounts]
        for start in range(0, len(keys), _CHUNK // 2):
            chunk = keys[start : start + _CHUNK // 2]
            marks = ",".join("?" * len(chunk))
            add_tail(accounts, tails, self.c.execute(_TAILS.format(marks=marks), chunk + chunk))

    def load_transfers(self, ids: Iterable[int]) -> dict[int, Transfer]:
        keys = [b(x) for x in set(ids)]
        sql = f"SELECT {TRANSFER_COLUMNS} FROM transfers WHERE id IN ({{marks}})"
        return {t.id: t for t in map(transfer_from_row, self._select_in(sql, keys))}

    def load_pending(self, ids: Iterable[int]) -> dict[int, tuple[PendingStatus, int]]:
        keys = [b(x) for x in set(ids)]
        sql = "SELECT id, status, expires_at FROM pending_transfers WHERE id IN ({marks})"
        return {i(r[0]): (PendingStatus(r[1]), r[2]) for r in self._select_in(sql, keys)}

    def due_pending(self, now: int, limit: int) -> list[int]:
        rows = self.c.execute(
            "SELECT id FROM pending_transfers WHERE status = 1 AND expires_at > 0 "
            "AND expires_at <= ? ORDER BY expires_at, id LIMIT ?",
            (now, limit),
        )
        return [i(r[0]) for r in rows]

    def insert_accounts(self, accounts: Sequence[Account]) -> None:
        self.c.executemany(
            f"INSERT INTO accounts ({ACCOUNT_INSERT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            map(account_insert_row, accounts),
        )

    def update_accounts(self, accounts: Iterable[Account], as_of: int) -> None:
        # In key order: neighbouring rows share pages, which halves the cost.
        rows = sorted(
            (b(a.id), a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, a.closed, as_of)
            for a in accounts
        )
        self.c.executemany(
            "UPDATE accounts SET debits_pending = ?2, debits_posted = ?3, credits_pending = ?4, "
            "credits_posted = ?5, closed = ?6, as_of = ?7 WHERE id = ?1",
            rows,
        )

    def insert_transfers(self, transfers: Sequence[Transfer]) -> None:
        self.c.executemany(
            f"INSERT INTO transfers ({TRANSFER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            map(transfer_row, transfers),
        )

    def write_pending(self, new: Sequence[PendingState], changed: Sequence[PendingState]) -> None:
        self.c.executemany(
            "INSERT INTO pending_transfers (id, status, expires_at) VALUES (?,?,?)",
            [(b(s.transfer.id), int(s.status), s.expires_at) for s in new],
        )
        self.c.executemany(
            "UPDATE pending_transfers SET status = ? WHERE id = ?",
            [(int(s.status), b(s.transfer.id)) for s in changed],
        )

    def insert_history(self, rows: Sequence[AccountBalance]) -> None:
        self.c.executemany(
            f"INSERT INTO account_balances ({BALANCE_COLUMNS}) VALUES (?,?,?,?,?,?)",
            [
                (
                    b(r.account_id),
                    r.timestamp,
                    r.debits_pending,
                    r.debits_posted,
                    r.credits_pending,
                    r.credits_posted,
                )
                for r in rows
            ],
        )

    def insert_journal(self, rows: Sequence[tuple[int, int, bytes, int, bytes, bytes]]) -> None:
        self.c.executemany(f"INSERT INTO journal ({JOURNAL_COLUMNS}) VALUES (?,?,?,?,?,?)", rows)

    def insert_checkpoint(self, c: Checkpoint) -> None:
        self.c.execute(
            f"INSERT INTO checkpoints ({CHECKPOINT_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
            (c.seq, c.tree_size, c.root, c.chain_hash, c.timestamp, c.public_key, c.signature),
        )

    def set_head(self, head: Head) -> None:
        self.c.execute(
            "UPDATE ledger_head SET seq = ?, chain_hash = ?, timestamp = ? WHERE id = 1",
            (head.seq, head.chain_hash, head.timestamp),
        )


class SqliteStore(LedgerStore):
    dialect = "sqlite"

    def __init__(self, url: URL) -> None:
        self.url = url.render_as_string(hide_password=True)
        database = url.database or ""
        self.memory = database in ("", ":memory:")
        try:
            self.c = sqlite3.connect(
                ":memory:" if self.memory else database,
                isolation_level=None,
                check_same_thread=False,
                timeout=30.0,
            )
        except sqlite3.OperationalError as error:
            raise ConfigurationError(
                f"cannot open SQLite database {database!r}: {error}", code="database_unavailable"
            ) from None
        self.c.execute("PRAGMA journal_mode = WAL")
        self.c.execute("PRAGMA synchronous = FULL")
        self.c.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.c.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        self.c.execute(f"PRAGMA mmap_size = {MMAP_SIZE_BYTES}")
        self._migrate(url)
        self._checkpointer: _Checkpointer | None = None
        if not self.memory:
            self.c.execute("PRAGMA wal_autocheckpoint = 0")
            self.c.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES}")
            self._checkpointer = _Checkpointer(database)

    def _migrate(self, url: URL) -> None:
        try:
            row = self.c.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            row = None
        if row is not None and row[0] == SCHEMA_HEAD:
            return
        conn = self.c
        engine = sa.create_engine("sqlite://", creator=lambda: conn, poolclass=StaticPool)
        with engine.begin() as connection:
            migrate(connection)

    @contextmanager
    def write(self, events: int | None = None) -> Iterator[WriteTransaction]:
        if self._checkpointer is not None and self._checkpointer.restart_due.is_set():
            self._restart_wal(self._checkpointer)
        self.c.execute("BEGIN IMMEDIATE")
        try:
            yield _SqliteWrite(self.c)
        except BaseException:
            self.c.execute("ROLLBACK")
            raise
        self.c.execute("COMMIT")

    def _restart_wal(self, checkpointer: _Checkpointer) -> None:
        """Start the WAL over from its first page (see ``_Checkpointer``): copy what
        was committed since the background pass, so that the next commit overwrites
        the WAL instead of extending it. When another process's writer or reader keeps
        it from starting over within ``RESTART_WAIT_MS``, the next pass asks again."""
        checkpointer.restart_due.clear()
        self.c.execute(f"PRAGMA busy_timeout = {RESTART_WAIT_MS}")
        try:
            self.c.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
        finally:
            self.c.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def lookup_accounts(self, ids: Sequence[int]) -> dict[int, Account]:
        with self.snapshot():
            return _SqliteWrite(self.c).load_accounts(ids)

    def lookup_transfers(self, ids: Sequence[int]) -> dict[int, Transfer]:
        return _SqliteWrite(self.c).load_transfers(ids)

    def account_transfers(
        self,
        account_id: int,
        after: int,
        before: int,
        limit: int,
        descending: bool,
        debits: bool,
        credits: bool,
    ) -> list[Transfer]:
        order = "DESC" if descending else "ASC"
        parts, params = [], []
        for enabled, column in ((debits, "debit_account_id"), (credits, "credit_account_id")):
            if enabled:
                parts.append(
                    f"SELECT * FROM (SELECT {TRANSFER_COLUMNS} FROM transfers WHERE {column} = ? "
                    f"AND timestamp > ? AND timestamp < ? ORDER BY timestamp {order} LIMIT ?)"
                )
                params += [b(account_id), after, before, limit]
        if not parts:
            return []
        sql = " UNION ALL ".join(parts) + f" ORDER BY timestamp {order} LIMIT ?"
        return [transfer_from_row(r) for r in self.c.execute(sql, [*params, limit])]

    def account_balances(
        self, account_id: int, after: int, before: int, limit: int, descending: bool
    ) -> list[AccountBalance]:
        order = "DESC" if descending else "ASC"
        rows = self.c.execute(
            f"SELECT {BALANCE_COLUMNS} FROM account_balances WHERE account_id = ? AND timestamp > ? "
            f"AND timestamp < ? ORDER BY timestamp {order} LIMIT ?",
            (b(account_id), after, before, limit),
        )
        return [balance_from_row(r) for r in rows]

    def accounts_page(self, after: int, limit: int) -> list[Account]:
        with self.snapshot():
            rows = self.c.execute(
                f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE timestamp > ? ORDER BY timestamp LIMIT ?",
                (after, limit),
            )
            page = {a.id: a for a in map(account_from_row, rows)}
            _SqliteWrite(self.c).add_tails(page)
        return list(page.values())

    def transfers_page(self, after: int, limit: int) -> list[Transfer]:
        rows = self.c.execute(
            f"SELECT {TRANSFER_COLUMNS} FROM transfers WHERE timestamp > ? ORDER BY timestamp LIMIT ?",
            (after, limit),
        )
        return [transfer_from_row(r) for r in rows]

    def journal_entry(self, seq: int) -> JournalEntry | None:
        row = self.c.execute(f"SELECT {JOURNAL_COLUMNS} FROM journal WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else journal_from_row(row)

    def head(self) -> Head:
        return _SqliteWrite(self.c).head()

    def leaf_hashes(self, size: int) -> list[bytes]:
        rows = self.c.execute("SELECT leaf_hash FROM journal WHERE seq <= ? ORDER BY seq", (size,))
        return [bytes(r[0]) for r in rows]

    def checkpoints(self) -> list[Checkpoint]:
        rows = self.c.execute(f"SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY seq")
        return [checkpoint_from_row(r) for r in rows]

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read snapshot for several statements (``verify``'s scans, a row and its
        tail), or the transaction already open."""
        if self.c.in_transaction:
            yield
            return
        self.c.execute("BEGIN")
        try:
            yield
        finally:
            self.c.execute("COMMIT")

    def scan(self, table: str, order_by: str, columns: str, batch: int = 10_000) -> Iterator[tuple[Any, ...]]:
        if table not in _TABLES:
            raise ValueError(f"unknown table {table}")
        cursor = self.c.execute(f"SELECT {columns} FROM {table} ORDER BY {order_by}")
        while rows := cursor.fetchmany(batch):
            yield from rows

    def count(self, table: str) -> int:
        if table not in _TABLES:
            raise ValueError(f"unknown table {table}")
        return int(self.c.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.c.close()


class _Checkpointer:
    """Moves WAL pages into the database file from a thread of its own.

    Commits then only append to the WAL and fsync it; the copying and the
    database fsync happen beside them (PASSIVE checkpoints never block a
    writer). Without this, the commit that crosses SQLite's auto-checkpoint
    threshold pays for the whole checkpoint: the tail of the latency.

    A PASSIVE checkpoint alone does not let the WAL start over under a steady
    load. The WAL starts over by itself only when a write begins with every frame
    already copied, and frames committed while a pass copies are not. So the file
    grew for as long as the load lasted, each commit extending it: 85 MB in 3,000
    single transfers, with no end. When a pass leaves frames behind in a WAL of
    ``WAL_RESTART_BYTES`` or more, it sets ``restart_due``; the writer's next
    ``write()`` first runs a RESTART checkpoint, which copies only the frames
    committed since the pass, and the commits after it write the WAL from its
    start, over pages already there.
    """

    def __init__(self, database: str) -> None:
        self._wal = f"{database}-wal"
        self._stop = threading.Event()
        self.restart_due = threading.Event()
        self._conn = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout = 1000")
        self._frame_bytes = 24 + int(self._conn.execute("PRAGMA page_size").fetchone()[0])
        self._thread = threading.Thread(target=self._run, name="netfin-sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last_seen = 0
        while not self._stop.wait(CHECKPOINT_INTERVAL_SECONDS):
            try:
                modified = os.stat(self._wal).st_mtime_ns
                if modified != last_seen:  # new frames since the last checkpoint
                    self.copy()
                    last_seen = modified
            except (OSError, sqlite3.OperationalError):
                continue  # WAL absent or database busy: try again at the next tick

    def copy(self) -> None:
        """One PASSIVE checkpoint: copy the WAL into the database beside the writer.
        If the WAL has reached ``WAL_RESTART_BYTES`` and the pass left frames behind
        (those committed while it copied, which it does not count), ask the writer
        to start the WAL over."""
        before = os.stat(self._wal).st_mtime_ns
        busy, frames, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if busy or frames * self._frame_bytes < WAL_RESTART_BYTES:
            return
        if copied < frames or os.stat(self._wal).st_mtime_ns != before:
            self.restart_due.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._conn.close()
