"""PostgreSQL store through psycopg 3, ``synchronous_commit = on``.

Writers lock the ``ledger_head`` row (``SELECT ... FOR UPDATE``) before
anything else, so concurrent processes serialise on one row: the hash chain
stays linear and no lock cycle (deadlock) can form. Bulk rows go in with
``COPY``; account updates with one ``UPDATE ... FROM unnest(...)``.

A small batch (``write(events)`` with at most ``PIPELINE_EVENTS_MAX`` events)
runs in psycopg's pipeline mode instead: the head lock and the reads ahead of it
(``begin_batch``) travel in one round trip, its rows go in with
``INSERT ... SELECT FROM unnest(...)`` (COPY has no place in a pipeline), and
every write and the COMMIT travel together in a second: two round trips in all,
plus one for each read the read-ahead did not cover, against about fifteen. The
head's row lock is held for those round trips only, which is what the other
writers wait for. The writes of the second go as one statement (each a
data-modifying ``WITH`` part of it), and the planner settings ride on the head
lock's statement: seven statements for a plain batch where there were twelve,
each of which costs the client and the server more than its rows do.

A large batch updates the accounts it read in its own transaction by their row's
physical address (``ctid``, read with them under the head lock, when no other
writer can move the row): a TID scan instead of a primary-key probe per account
(211 -> 149 ms for a batch of 8,190 uniform transfers over a million accounts,
on a server whose buffers are smaller than the table). The update also matches
the id, and where any row was not where it was read, the whole update is made
again by id (the values are absolute, so a second write of them is harmless).

A ``?schema=name`` query parameter puts the ledger in its own schema (tests
use one schema per test; deployments may host several ledgers in one database).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import URL

from netfin.core.errors import ConfigurationError, InvariantViolation
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
    ACCOUNT_INSERT_COLUMNS,
    BALANCE_COLUMNS,
    CHECKPOINT_COLUMNS,
    JOURNAL_COLUMNS,
    SCHEMA_HEAD,
    TAIL_BARRED_FLAGS,
    TRANSFER_COLUMNS,
    BatchReads,
    Head,
    LedgerStore,
    WriteTransaction,
    account_from_row,
    account_insert_row,
    b,
    balance_from_row,
    checkpoint_from_row,
    i,
    journal_from_row,
    migrate,
    stale_row,
    transfer_from_row,
    transfer_row,
)
from netfin.ledger.stores.reads import PointReads

_TABLES = {"accounts", "transfers", "journal", "pending_transfers", "account_balances", "checkpoints"}
_MIGRATION_LOCK = 0x6E657466696E  # "netfin"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
R = TypeVar("R")


# A batch's statements take arrays of ids (``= ANY``, ``unnest``); with long arrays the
# planner picks hash or merge joins over sequential scans of tables that grow with the
# ledger, where probing the primary key per id stays flat. Set for the write transaction
# as a whole, in one statement (it also runs in a pipeline, which takes one command per
# statement).
_PLANNER_SETTINGS = (
    "set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true), "
    "set_config('enable_seqscan', 'off', true)"
)
_BATCH_PLANNER_SETTINGS = f"SELECT {_PLANNER_SETTINGS}"
# Batches of at most this many events are written in pipeline mode (see the module's text),
# where the libpq that psycopg runs on has it (14 or later; the binary wheel's has).
PIPELINE_EVENTS_MAX = 256
_PIPELINE_SUPPORTED = psycopg.Pipeline.is_supported()

# Each table's columns with their types, for ``INSERT ... SELECT * FROM unnest(...)``.
_TRANSFER_TYPES = (
    "bytea", "bytea", "bytea", "bigint", "text", "integer", "integer",
    "bytea", "bigint", "bytea", "bigint", "bigint", "bigint",
)  # fmt: skip
_ACCOUNT_TYPES = (
    "bytea", "text", "integer", "integer", "bytea", "bigint", "bigint",
    "bigint", "bigint", "bigint", "bigint", "smallint", "bigint", "bigint",
)  # fmt: skip
_BALANCE_TYPES = ("bytea", "bigint", "bigint", "bigint", "bigint", "bigint")
_JOURNAL_TYPES = ("bigint", "smallint", "bytea", "bigint", "bytea", "bytea")
_PENDING_COLUMNS = "id, status, expires_at"
_PENDING_TYPES = ("bytea", "smallint", "bigint")


def _unnest_insert(table: str, columns: str, types: Sequence[str]) -> str:
    arrays = ", ".join(f"%b::{kind}[]" for kind in types)
    return f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays})"


_UNNEST_INSERTS = {
    table: _unnest_insert(table, columns, types)
    for table, columns, types in (
        ("transfers", TRANSFER_COLUMNS, _TRANSFER_TYPES),
        ("accounts", ACCOUNT_INSERT_COLUMNS, _ACCOUNT_TYPES),
        ("account_balances", BALANCE_COLUMNS, _BALANCE_TYPES),
        ("journal", JOURNAL_COLUMNS, _JOURNAL_TYPES),
        ("pending_transfers", _PENDING_COLUMNS, _PENDING_TYPES),
    )
}


_HEAD_FOR_UPDATE = "SELECT seq, chain_hash, timestamp FROM ledger_head WHERE id = 1 FOR UPDATE"
# In a pipeline: the same, setting the transaction's planner settings for the statements
# after it (they are set once the row is locked; this statement's own plan needs none).
# A small batch's statements are prepared (psycopg prepares what it has run five times)
# and their best plan does not depend on the few ids they carry: planning each again
# (PostgreSQL's custom plans, which it kept choosing for the reads by id and the writes)
# cost more server time than running them.
_HEAD_FOR_UPDATE_PLANNED = (
    f"SELECT seq, chain_hash, timestamp, {_PLANNER_SETTINGS}, "
    "set_config('plan_cache_mode', 'force_generic_plan', true) FROM ledger_head WHERE id = 1 FOR UPDATE"
)


def _tail(side: str, alias: str) -> str:
    """One side of each account's tail (``store.TAIL_MAX``), summed: the transfers after the
    row's ``as_of`` that name it, through the transfers' (account, timestamp) index."""
    return (
        "CROSS JOIN LATERAL (SELECT "
        "coalesce(sum(t.amount) FILTER (WHERE t.flags & 2 <> 0), 0)::bigint AS pending, "
        "coalesce(sum(t.amount) FILTER (WHERE t.flags & 2 = 0), 0)::bigint AS posted, count(*) AS n, "
        f"count(*) FILTER (WHERE t.flags & {TAIL_BARRED_FLAGS} <> 0) AS barred FROM transfers AS t "
        f"WHERE t.{side}_account_id = a.id AND t.timestamp > a.as_of) AS {alias}"
    )


# An account as it stands (its row and its tail, in one statement: one snapshot), in
# ``ACCOUNT_COLUMNS``' order, then the tail's length and its barred transfers (none, or the
# row is stale: ``_account_now``).
_ACCOUNTS_NOW = (
    "SELECT a.id, a.currency, a.code, a.flags, a.user_data_128, a.user_data_64, a.user_data_32, "
    "a.debits_pending + d.pending, a.debits_posted + d.posted, a.credits_pending + c.pending, "
    "a.credits_posted + c.posted, a.closed, a.timestamp, d.n + c.n, d.barred + c.barred{extra} "
    f"FROM accounts AS a {_tail('debit', 'd')} {_tail('credit', 'c')} "
)
_SELECT_ACCOUNTS = _ACCOUNTS_NOW.format(extra="") + "WHERE a.id = ANY(%b)"
# The same with each row's address last.
_SELECT_ACCOUNTS_LOCATED = _ACCOUNTS_NOW.format(extra=", a.ctid") + "WHERE a.id = ANY(%b)"
_SELECT_ACCOUNTS_PAGE = (
    _ACCOUNTS_NOW.format(extra="") + "WHERE a.timestamp > %s ORDER BY a.timestamp LIMIT %s"
)
_SET_BALANCES = (
    "UPDATE accounts AS a SET as_of = %s::bigint, debits_pending = v.dp, debits_posted = v.dpo, "
    "credits_pending = v.cp, credits_posted = v.cpo, closed = v.closed "
)
_BALANCE_ARRAYS = "%b::bytea[], %b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[], %b::smallint[]"
_UPDATE_BY_ID = (
    f"{_SET_BALANCES}FROM unnest({_BALANCE_ARRAYS}) AS v(id, dp, dpo, cp, cpo, closed) WHERE a.id = v.id"
)
_UPDATE_BY_LOCATION = (
    f"{_SET_BALANCES}FROM unnest(%s::tid[], {_BALANCE_ARRAYS}) AS v(t, id, dp, dpo, cp, cpo, closed) "
    "WHERE a.ctid = v.t AND a.id = v.id"
)
# Almost every id of a new batch is absent. With a long array the planner scans the whole
# table (hash join or seq scan), which grows with the ledger; probing the primary key once
# per id stays flat (a batch's planner settings, _PLANNER_SETTINGS; the read pool's
# generic plans for lookups).
_SELECT_TRANSFERS = f"SELECT {TRANSFER_COLUMNS} FROM transfers WHERE id IN (SELECT unnest(%b::bytea[]))"
_SELECT_PENDING = "SELECT id, status, expires_at FROM pending_transfers WHERE id = ANY(%b)"
_SELECT_DUE = (
    "SELECT id FROM pending_transfers WHERE status = 1 AND expires_at > 0 "
    "AND expires_at <= %s ORDER BY expires_at, id LIMIT %s"
)
# The same, at the batch's time computed from the head it has just locked (a read ahead).
_SELECT_DUE_AT_BATCH_TIME = (
    "SELECT id FROM pending_transfers WHERE status = 1 AND expires_at > 0 "
    "AND expires_at <= greatest(%s, (SELECT timestamp FROM ledger_head WHERE id = 1) + 1) "
    "ORDER BY expires_at, id LIMIT %s"
)


class _ReadAhead:
    """A pipelined batch's reads, sent with its head lock (``begin_batch``): each answers a
    later ``load_*`` or ``due_pending`` call that asks for no more than it covered."""

    def __init__(self, reads: BatchReads, cursors: dict[str, psycopg.Cursor[Any]]) -> None:
        self.reads = reads
        self._cursors = cursors
        self.due_key: tuple[int, int] | None = None
        self.due: list[int] = []
        self.accounts: dict[int, Account] = {}
        self.tails: dict[int, int] = {}
        self.transfers: dict[int, Transfer] = {}
        self.pending: dict[int, tuple[PendingStatus, int]] = {}

    def collect(self, head: Head) -> None:
        """Read every answer (the first fetch flushed the pipeline: they have all arrived)."""
        cursors = self._cursors
        self.due_key = (max(self.reads.clock_ns, head.timestamp + 1), self.reads.due_max)
        self.due = [i(r[0]) for r in cursors["due"]]
        if "accounts" in cursors:
            self.accounts = _accounts_now(cursors["accounts"], self.tails)
        if "transfers" in cursors:
            self.transfers = {t.id: t for t in map(transfer_from_row, cursors["transfers"])}
        if "pending" in cursors:
            self.pending = {i(r[0]): (PendingStatus(r[1]), r[2]) for r in cursors["pending"]}


class _PostgresWrite(WriteTransaction):
    def __init__(self, conn: psycopg.Connection[Any], *, pipelined: bool = False) -> None:
        self.c = conn
        # In pipeline mode: rows go in as unnest() inserts, and the writes wait in
        # ``_queued`` (table, statement, parameters) to go as one statement (``flush``).
        self._pipelined = pipelined
        self._ahead: _ReadAhead | None = None
        self._queued: list[tuple[str, str, list[Any]]] = []
        # Where each account read in this transaction lies (``ctid``), while the head's lock
        # keeps every other writer away from it; outside a pipeline only.
        self._locations: dict[int, str] = {}

    def _write(self, table: str, sql: str, params: Sequence[Any]) -> None:
        """Run one write; in a pipeline, queue it to go with the others as one statement.
        The parts of one statement all see the rows as they stood before it, so a second
        write to a table already queued goes in the next statement."""
        if not self._pipelined:
            self.c.execute(sql, params)
            return
        if any(queued == table for queued, _, _ in self._queued):
            self.flush()
        self._queued.append((table, sql, list(params)))

    def flush(self) -> None:
        """Send the queued writes: ``WITH w0 AS (first), ... last``, in the order queued."""
        queued, self._queued = self._queued, []
        if not queued:
            return
        *parts, (_, last, params) = queued
        if parts:
            ahead = ", ".join(f"w{k} AS ({sql})" for k, (_, sql, _) in enumerate(parts))
            last = f"WITH {ahead} {last}"
            params = [p for _, _, part in parts for p in part] + params
        self.c.execute(last, params)

    def _query(self, sql: str, params: Sequence[Any] | None = None) -> psycopg.Cursor[Any]:
        self.flush()  # a read sees the transaction's writes
        return self.c.execute(sql, params)

    def head(self) -> Head:
        sql = _HEAD_FOR_UPDATE_PLANNED if self._pipelined else _HEAD_FOR_UPDATE
        return _head(self._query(sql).fetchone())

    def begin_batch(self, reads: BatchReads) -> Head:
        if not self._pipelined:
            return self.head()
        c = self.c
        head_cursor = self._query(_HEAD_FOR_UPDATE_PLANNED)
        cursors = {"due": c.cursor().execute(_SELECT_DUE_AT_BATCH_TIME, (reads.clock_ns, reads.due_max))}
        if reads.account_ids:
            cursors["accounts"] = c.cursor().execute(_SELECT_ACCOUNTS, ([b(x) for x in reads.account_ids],))
        wanted = reads.transfer_ids | reads.pending_ids
        if wanted:
            cursors["transfers"] = c.cursor().execute(_SELECT_TRANSFERS, ([b(x) for x in wanted],))
        if reads.pending_ids:
            cursors["pending"] = c.cursor().execute(_SELECT_PENDING, ([b(x) for x in reads.pending_ids],))
        head = _head(head_cursor.fetchone())  # one round trip: the lock and every read
        ahead = _ReadAhead(reads, cursors)
        ahead.collect(head)
        self._ahead = ahead
        return head

    def load_accounts(self, ids: Iterable[int], tails: dict[int, int] | None = None) -> dict[int, Account]:
        wanted = set(ids)
        ahead = self._ahead
        if ahead is not None and wanted <= ahead.reads.account_ids:
            if tails is not None:
                tails.update((x, n) for x, n in ahead.tails.items() if x in wanted)
            return {x: a for x, a in ahead.accounts.items() if x in wanted}
        keys = [b(x) for x in wanted]
        if not keys:
            return {}
        if self._pipelined:
            return _accounts_now(self._query(_SELECT_ACCOUNTS, (keys,)), tails)
        found: dict[int, Account] = {}
        locations = self._locations
        for row in self._query(_SELECT_ACCOUNTS_LOCATED, (keys,)):
            account = _account_now(row, tails)
            found[account.id] = account
            locations[account.id] = row[-1]
        return found

    def load_transfers(self, ids: Iterable[int]) -> dict[int, Transfer]:
        wanted = set(ids)
        ahead = self._ahead
        if ahead is not None and wanted <= ahead.reads.transfer_ids | ahead.reads.pending_ids:
            return {x: t for x, t in ahead.transfers.items() if x in wanted}
        keys = [b(x) for x in wanted]
        if not keys:
            return {}
        rows = self._query(_SELECT_TRANSFERS, (keys,))
        return {t.id: t for t in map(transfer_from_row, rows)}

    def load_pending(self, ids: Iterable[int]) -> dict[int, tuple[PendingStatus, int]]:
        wanted = set(ids)
        ahead = self._ahead
        if ahead is not None and wanted <= ahead.reads.pending_ids:
            return {x: p for x, p in ahead.pending.items() if x in wanted}
        keys = [b(x) for x in wanted]
        if not keys:
            return {}
        rows = self._query(_SELECT_PENDING, (keys,))
        return {i(r[0]): (PendingStatus(r[1]), r[2]) for r in rows}

    def due_pending(self, now: int, limit: int) -> list[int]:
        ahead = self._ahead
        if ahead is not None and ahead.due_key == (now, limit):
            return list(ahead.due)
        rows = self._query(_SELECT_DUE, (now, limit))
        return [i(r[0]) for r in rows]

    def _copy(self, table: str, columns: str, rows: Iterable[Sequence[Any]]) -> None:
        if self._pipelined:
            listed = list(rows)
            if listed:
                columns_of = [list(column) for column in zip(*listed, strict=True)]
                self._write(table, _UNNEST_INSERTS[table], columns_of)
            return
        with self.c.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def insert_accounts(self, accounts: Sequence[Account]) -> None:
        self._copy("accounts", ACCOUNT_INSERT_COLUMNS, map(account_insert_row, accounts))

    def update_accounts(self, accounts: Iterable[Account], as_of: int) -> None:
        rows = list(accounts)
        if not rows:
            return
        locations, self._locations = self._locations, {}  # an update moves the rows it updates
        located = [a for a in rows if a.id in locations] if locations else []
        if located:
            addresses = '{"' + '","'.join([locations[a.id] for a in located]) + '"}'
            updated = self.c.execute(
                _UPDATE_BY_LOCATION, (as_of, addresses, *_balance_arrays(located))
            ).rowcount
            # Every row stays where it was read while the head is locked; were one not found
            # there, the same absolute values go in again by id, for every row.
            rows = [a for a in rows if a.id not in locations] if updated == len(located) else rows
        if rows:
            # With many rows the planner picks a hash join over a sequential scan of
            # every account (4x slower at 1M accounts than probing the primary key);
            # the transaction's planner settings keep it on the key.
            self._write("accounts", _UPDATE_BY_ID, (as_of, *_balance_arrays(rows)))

    def insert_transfers(self, transfers: Sequence[Transfer]) -> None:
        if transfers:
            self._copy("transfers", TRANSFER_COLUMNS, map(transfer_row, transfers))

    def write_pending(self, new: Sequence[PendingState], changed: Sequence[PendingState]) -> None:
        if new:
            self._copy(
                "pending_transfers",
                _PENDING_COLUMNS,
                [(b(s.transfer.id), int(s.status), s.expires_at) for s in new],
            )
        if changed:
            self._write(
                "pending_transfers",
                "UPDATE pending_transfers AS p SET status = v.status "
                "FROM unnest(%b::bytea[], %b::smallint[]) AS v(id, status) WHERE p.id = v.id",
                ([b(s.transfer.id) for s in changed], [int(s.status) for s in changed]),
            )

    def insert_history(self, rows: Sequence[AccountBalance]) -> None:
        self._copy(
            "account_balances",
            BALANCE_COLUMNS,
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
        self._copy("journal", JOURNAL_COLUMNS, rows)

    def insert_checkpoint(self, c: Checkpoint) -> None:
        self._write(
            "checkpoints",
            f"INSERT INTO checkpoints ({CHECKPOINT_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s)",
            (c.seq, c.tree_size, c.root, c.chain_hash, c.timestamp, c.public_key, c.signature),
        )

    def set_head(self, head: Head) -> None:
        self._write(
            "ledger_head",
            "UPDATE ledger_head SET seq = %s, chain_hash = %s, timestamp = %s WHERE id = 1",
            (head.seq, head.chain_hash, head.timestamp),
        )


def _account_now(row: Sequence[Any], tails: dict[int, int] | None) -> Account:
    """An account from a row of ``_ACCOUNTS_NOW``; its tail's length goes in ``tails``."""
    account = account_from_row(row)
    if row[14]:
        raise stale_row(account.id)
    if tails is not None and row[13]:
        tails[account.id] = row[13]
    return account


def _accounts_now(rows: Iterable[Sequence[Any]], tails: dict[int, int] | None = None) -> dict[int, Account]:
    return {a.id: a for a in (_account_now(row, tails) for row in rows)}


def _balance_arrays(rows: Sequence[Account]) -> tuple[list[Any], ...]:
    return (
        [b(a.id) for a in rows],
        [a.debits_pending for a in rows],
        [a.debits_posted for a in rows],
        [a.credits_pending for a in rows],
        [a.credits_posted for a in rows],
        [1 if a.closed else 0 for a in rows],
    )


def _head(row: tuple[Any, ...] | None) -> Head:
    if row is None:
        raise InvariantViolation("ledger_head row missing: the schema was not migrated")
    return Head(row[0], bytes(row[1]), row[2])


class PostgresStore(LedgerStore):
    dialect = "postgresql"
    concurrent_reads = True

    def __init__(self, url: URL) -> None:
        self.url = url.render_as_string(hide_password=True)
        query = dict(url.query)
        schema = str(query.pop("schema", "public"))
        if not _SCHEMA_NAME.match(schema):
            raise ConfigurationError(f"invalid schema name {schema!r}", code="database_url_invalid")
        self.schema = schema
        url = url.set(query=query)
        self._migrate(url)
        self._connect_args: dict[str, Any] = {
            "host": url.host or "127.0.0.1",
            "port": url.port or 5432,
            "dbname": url.database,
            "user": url.username or None,
            "password": url.password or None,
            "options": f"-c search_path={schema} -c synchronous_commit=on",
            "connect_timeout": 10,
        }
        try:
            # Autocommit: every transaction on it is an explicit one (``transaction()``, or
            # BEGIN ... COMMIT in a pipeline), never one that a lone statement opened.
            self.c: psycopg.Connection[Any] = psycopg.connect(**self._connect_args, autocommit=True)
        except psycopg.OperationalError as error:
            raise ConfigurationError(
                f"cannot connect to PostgreSQL at {self.url}: {error}", code="database_unavailable"
            ) from None
        # Lookups and history pages run on pooled autocommit connections of their own,
        # so readers on several threads neither wait for the ledger's write lock nor
        # read inside another thread's transaction. Their statements are probes of an
        # index by key (ids, or an account and a time range), whose plan does not depend
        # on the values: planned once per connection, not on every call (PostgreSQL kept
        # a custom plan for the lookup by ids, and planning it took four times as long as
        # running it).
        reads_args = {**self._connect_args}
        reads_args["options"] += " -c plan_cache_mode=force_generic_plan"
        self._reads = PointReads(reads_args, self.url, name="netfin-ledger-reads")

    def _migrate(self, url: URL) -> None:
        try:
            engine = sa.create_engine(url, connect_args={"connect_timeout": 10})
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
                try:
                    connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
                    connection.execute(sa.text(f'SET search_path TO "{self.schema}"'))
                    connection.commit()
                    version = connection.execute(
                        sa.text("SELECT to_regclass('alembic_version') IS NOT NULL")
                    ).scalar()
                    if (
                        not version
                        or connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
                        != SCHEMA_HEAD
                    ):
                        migrate(connection)
                        connection.commit()
                finally:
                    connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
                    connection.commit()
            engine.dispose()
        except sa.exc.OperationalError as error:
            raise ConfigurationError(
                f"cannot connect to PostgreSQL at {self.url}: {error.orig}", code="database_unavailable"
            ) from None

    @contextmanager
    def write(self, events: int | None = None) -> Iterator[WriteTransaction]:
        if events is not None and events <= PIPELINE_EVENTS_MAX and _PIPELINE_SUPPORTED:
            with self._pipelined_write() as tx:
                yield tx
            return
        with self.c.transaction():
            self.c.execute(_BATCH_PLANNER_SETTINGS)
            yield _PostgresWrite(self.c)

    @contextmanager
    def _pipelined_write(self) -> Iterator[WriteTransaction]:
        """One transaction in pipeline mode: BEGIN, the planner settings and the first read
        travel together, each later read flushes what is queued, and the writes and the
        COMMIT travel together when the pipeline ends (which raises any error they met)."""
        c = self.c  # autocommit: the transaction is the explicit BEGIN ... COMMIT below
        try:
            with c.pipeline():
                c.execute("BEGIN")  # the planner settings come with the head lock
                tx = _PostgresWrite(c, pipelined=True)
                yield tx
                tx.flush()
                c.execute("COMMIT")
        finally:
            # After an error (in the block, or one the pipeline's sync raised) the
            # transaction may still be open or aborted: end it, writing nothing.
            if c.info.transaction_status != psycopg.pq.TransactionStatus.IDLE and not c.closed:
                c.rollback()

    @contextmanager
    def _read(self) -> Iterator[psycopg.Connection[Any]]:
        with self.c.transaction():
            yield self.c

    def _rows(self, sql: str, params: tuple[Any, ...], decode: Callable[[Any], R]) -> list[R]:
        return self._reads.run(lambda c: [decode(r) for r in c.execute(sql, params)])

    def lookup_accounts(self, ids: Sequence[int]) -> dict[int, Account]:
        return self._reads.run(lambda c: _PostgresWrite(c).load_accounts(ids))

    def lookup_transfers(self, ids: Sequence[int]) -> dict[int, Transfer]:
        # One statement, on the pool's generic plan (index probes whatever the ids' count).
        return self._reads.run(lambda c: _PostgresWrite(c).load_transfers(ids))

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
                    f"(SELECT {TRANSFER_COLUMNS} FROM transfers WHERE {column} = %s "
                    f"AND timestamp > %s AND timestamp < %s ORDER BY timestamp {order} LIMIT %s)"
                )
                params += [b(account_id), after, before, limit]
        if not parts:
            return []
        sql = "SELECT * FROM (" + " UNION ALL ".join(parts) + f") AS u ORDER BY timestamp {order} LIMIT %s"
        return self._rows(sql, (*params, limit), transfer_from_row)

    def account_balances(
        self, account_id: int, after: int, before: int, limit: int, descending: bool
    ) -> list[AccountBalance]:
        order = "DESC" if descending else "ASC"
        return self._rows(
            f"SELECT {BALANCE_COLUMNS} FROM account_balances WHERE account_id = %s "
            f"AND timestamp > %s AND timestamp < %s ORDER BY timestamp {order} LIMIT %s",
            (b(account_id), after, before, limit),
            balance_from_row,
        )

    def accounts_page(self, after: int, limit: int) -> list[Account]:
        return self._rows(_SELECT_ACCOUNTS_PAGE, (after, limit), lambda row: _account_now(row, None))

    def transfers_page(self, after: int, limit: int) -> list[Transfer]:
        return self._rows(
            f"SELECT {TRANSFER_COLUMNS} FROM transfers WHERE timestamp > %s ORDER BY timestamp LIMIT %s",
            (after, limit),
            transfer_from_row,
        )

    def journal_entry(self, seq: int) -> JournalEntry | None:
        with self._read() as c:
            row = c.execute(f"SELECT {JOURNAL_COLUMNS} FROM journal WHERE seq = %s", (seq,)).fetchone()
        return None if row is None else journal_from_row(row)

    def head(self) -> Head:
        with self._read() as c:
            row = c.execute("SELECT seq, chain_hash, timestamp FROM ledger_head WHERE id = 1").fetchone()
        return _head(row)

    def leaf_hashes(self, size: int) -> list[bytes]:
        with self._read() as c:
            rows = c.execute("SELECT leaf_hash FROM journal WHERE seq <= %s ORDER BY seq", (size,))
            return [bytes(r[0]) for r in rows]

    def checkpoints(self) -> list[Checkpoint]:
        with self._read() as c:
            rows = c.execute(f"SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY seq")
            return [checkpoint_from_row(r) for r in rows]

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        with self.c.transaction():
            self.c.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def scan(self, table: str, order_by: str, columns: str, batch: int = 10_000) -> Iterator[tuple[Any, ...]]:
        """Call inside ``snapshot()``: the named cursor lives in its transaction."""
        if table not in _TABLES:
            raise ValueError(f"unknown table {table}")
        with self.c.cursor(name=f"scan_{table}") as cursor:
            cursor.execute(f"SELECT {columns} FROM {table} ORDER BY {order_by}")
            while rows := cursor.fetchmany(batch):
                yield from rows

    def count(self, table: str) -> int:
        if table not in _TABLES:
            raise ValueError(f"unknown table {table}")
        with self._read() as c:
            row = c.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._reads.close()
        self.c.close()
