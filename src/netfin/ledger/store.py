"""Persistence of the ledger: one interface, two stores (SQLite, PostgreSQL).

The hot path talks to the drivers directly (sqlite3, psycopg 3); the schema
is versioned with Alembic (``ledger/migrations``) and applied on open.
Every write happens inside ``write()``, which first locks the single
``ledger_head`` row: writers are serialised, the journal's hash chain stays
linear, and two batches can never deadlock on each other.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from netfin.core.errors import ConfigurationError, InvariantViolation
from netfin.ledger.model import (
    Account,
    AccountBalance,
    AccountFlags,
    Checkpoint,
    JournalEntry,
    JournalKind,
    PendingState,
    PendingStatus,
    Transfer,
    TransferFlags,
)

SCHEMA_HEAD = "0003"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"

_CLOSED = int(AccountFlags.CLOSED)
ZERO_ID = bytes(16)

ACCOUNT_COLUMNS = (
    "id, currency, code, flags, user_data_128, user_data_64, user_data_32, "
    "debits_pending, debits_posted, credits_pending, credits_posted, closed, timestamp"
)
TRANSFER_COLUMNS = (
    "id, debit_account_id, credit_account_id, amount, currency, code, flags, "
    "pending_id, timeout, user_data_128, user_data_64, user_data_32, timestamp"
)
# An account row holds its balances as of its ``as_of`` time. The transfers after that
# time that name the account are its *tail*; every read adds them to the row. A batch
# rewrites a row only once its tail reaches ``TAIL_MAX`` transfers, or at once when a
# transfer posts, voids, closes or expires a hold on it (what those change is more than
# their own row tells), so a tail only ever holds plain and pending transfers. Most
# accounts a large batch touches are then not written at all: their balances reach the
# database in the batch's transfer rows, which it writes anyway.
TAIL_MAX = 16
TAIL_BARRED_FLAGS = int(
    TransferFlags.POST_PENDING
    | TransferFlags.VOID_PENDING
    | TransferFlags.CLOSING_DEBIT
    | TransferFlags.CLOSING_CREDIT
)
_PENDING = int(TransferFlags.PENDING)
ACCOUNT_INSERT_COLUMNS = f"{ACCOUNT_COLUMNS}, as_of"
JOURNAL_COLUMNS = "seq, kind, ref_id, timestamp, leaf_hash, chain_hash"
CHECKPOINT_COLUMNS = "seq, tree_size, root, chain_hash, timestamp, public_key, signature"
BALANCE_COLUMNS = "account_id, timestamp, debits_pending, debits_posted, credits_pending, credits_posted"


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    chain_hash: bytes
    timestamp: int


def b(value: int) -> bytes:
    return value.to_bytes(16, "big")


def i(value: bytes) -> int:
    return int.from_bytes(value, "big")


def account_row(a: Account) -> tuple[Any, ...]:
    return (
        b(a.id),
        a.currency,
        a.code,
        a.flags & ~_CLOSED,
        b(a.user_data_128),
        a.user_data_64,
        a.user_data_32,
        a.debits_pending,
        a.debits_posted,
        a.credits_pending,
        a.credits_posted,
        1 if a.flags & _CLOSED else 0,
        a.timestamp,
    )


def account_insert_row(a: Account) -> tuple[Any, ...]:
    """``account_row`` and the new row's ``as_of``: its own timestamp (no tail yet)."""
    return (*account_row(a), a.timestamp)


def add_tail(
    accounts: dict[int, Account], tails: dict[int, int] | None, rows: Iterable[Sequence[Any]]
) -> None:
    """Add tail transfers to the accounts read from their rows: ``rows`` are (account id,
    side: 0 debit or 1 credit, amount, flags); ``tails`` (when given) counts them."""
    for key, side, amount, flags in rows:
        account_id = i(key)
        account = accounts[account_id]
        if flags & TAIL_BARRED_FLAGS:
            raise stale_row(account_id)
        if side == 0:
            if flags & _PENDING:
                account.debits_pending += amount
            else:
                account.debits_posted += amount
        elif flags & _PENDING:
            account.credits_pending += amount
        else:
            account.credits_posted += amount
        if tails is not None:
            tails[account_id] = tails.get(account_id, 0) + 1


def stale_row(account_id: int) -> InvariantViolation:
    return InvariantViolation(
        f"account {account_id:032x}: its row was not rewritten after a transfer that posts, voids "
        "or closes (the ledger was altered behind its back; run netfin ledger verify)"
    )


def account_from_row(r: Sequence[Any]) -> Account:
    return Account(
        i(r[0]),
        r[1],
        r[2],
        r[3] | (_CLOSED if r[11] else 0),
        i(r[4]),
        r[5],
        r[6],
        r[7],
        r[8],
        r[9],
        r[10],
        r[12],
    )


def transfer_row(t: Transfer) -> tuple[Any, ...]:
    return (
        b(t.id),
        b(t.debit_account_id),
        b(t.credit_account_id),
        t.amount,
        t.currency,
        t.code,
        t.flags,
        b(t.pending_id),
        t.timeout,
        b(t.user_data_128),
        t.user_data_64,
        t.user_data_32,
        t.timestamp,
    )


def transfer_from_row(r: Sequence[Any]) -> Transfer:
    return Transfer(
        i(r[0]),
        i(r[1]),
        i(r[2]),
        r[3],
        r[4],
        r[5],
        r[6],
        i(r[7]),
        r[8],
        i(r[9]),
        r[10],
        r[11],
        r[12],
    )


def journal_from_row(r: Sequence[Any]) -> JournalEntry:
    return JournalEntry(r[0], JournalKind(r[1]), i(r[2]), r[3], bytes(r[4]), bytes(r[5]))


def checkpoint_from_row(r: Sequence[Any]) -> Checkpoint:
    return Checkpoint(r[0], r[1], bytes(r[2]), bytes(r[3]), r[4], bytes(r[5]), bytes(r[6]))


def balance_from_row(r: Sequence[Any]) -> AccountBalance:
    return AccountBalance(i(r[0]), r[1], r[2], r[3], r[4], r[5])


@dataclass(frozen=True, slots=True)
class BatchReads:
    """What a transfer batch will read once it holds the head (``WriteTransaction.begin_batch``):
    its accounts, its own transfer ids (the idempotency check), the pending transfers that
    it posts or voids, and the pending transfers due to expire at ``max(clock_ns, head
    timestamp + 1)``, at most ``due_max`` of them."""

    clock_ns: int
    due_max: int
    account_ids: frozenset[int]
    transfer_ids: frozenset[int]
    pending_ids: frozenset[int]


class WriteTransaction(abc.ABC):
    """Everything a batch may do while it holds the head lock."""

    @abc.abstractmethod
    def head(self) -> Head: ...

    def begin_batch(self, reads: BatchReads) -> Head:
        """Lock the head and return it, as ``head()`` does. A store may also read ahead what
        ``reads`` names in the same round trip; ``due_pending``, ``load_accounts``,
        ``load_transfers`` and ``load_pending`` then answer from that when they ask for no
        more than it covers (each read runs after the head is locked, so it sees what
        the previous holder committed)."""
        del reads
        return self.head()

    @abc.abstractmethod
    def load_accounts(self, ids: Iterable[int], tails: dict[int, int] | None = None) -> dict[int, Account]:
        """Accounts by id, with their current balances (row and tail); ``tails``, when
        given, gets the length of each loaded account's tail (absent: none)."""

    @abc.abstractmethod
    def load_transfers(self, ids: Iterable[int]) -> dict[int, Transfer]: ...

    @abc.abstractmethod
    def load_pending(self, ids: Iterable[int]) -> dict[int, tuple[PendingStatus, int]]: ...

    @abc.abstractmethod
    def due_pending(self, now: int, limit: int) -> list[int]: ...

    @abc.abstractmethod
    def insert_accounts(self, accounts: Sequence[Account]) -> None: ...

    @abc.abstractmethod
    def update_accounts(self, accounts: Iterable[Account], as_of: int) -> None:
        """Rewrite the rows of ``accounts`` with their balances as of ``as_of`` (the batch's
        last timestamp): their tails are empty again."""

    @abc.abstractmethod
    def insert_transfers(self, transfers: Sequence[Transfer]) -> None: ...

    @abc.abstractmethod
    def write_pending(self, new: Sequence[PendingState], changed: Sequence[PendingState]) -> None: ...

    @abc.abstractmethod
    def insert_history(self, rows: Sequence[AccountBalance]) -> None: ...

    @abc.abstractmethod
    def insert_journal(self, rows: Sequence[tuple[int, int, bytes, int, bytes, bytes]]) -> None: ...

    @abc.abstractmethod
    def insert_checkpoint(self, checkpoint: Checkpoint) -> None: ...

    @abc.abstractmethod
    def set_head(self, head: Head) -> None: ...


class LedgerStore(abc.ABC):
    """A store: connections, migrations, reads, and the write transaction."""

    dialect: str
    url: str
    # True when the point reads (lookups, account history, pages) may run on
    # several threads at once beside a write: the store gives each its own
    # connection, so the Ledger need not serialise them behind its lock.
    concurrent_reads: bool = False

    @abc.abstractmethod
    def write(self, events: int | None = None) -> AbstractContextManager[WriteTransaction]:
        """The write transaction; ``events``, when given, is the size of the batch it will
        write (a store may pick a cheaper way to talk to its database for small batches)."""

    @abc.abstractmethod
    def lookup_accounts(self, ids: Sequence[int]) -> dict[int, Account]: ...

    @abc.abstractmethod
    def lookup_transfers(self, ids: Sequence[int]) -> dict[int, Transfer]: ...

    @abc.abstractmethod
    def account_transfers(
        self,
        account_id: int,
        after: int,
        before: int,
        limit: int,
        descending: bool,
        debits: bool,
        credits: bool,
    ) -> list[Transfer]: ...

    @abc.abstractmethod
    def account_balances(
        self, account_id: int, after: int, before: int, limit: int, descending: bool
    ) -> list[AccountBalance]: ...

    @abc.abstractmethod
    def accounts_page(self, after: int, limit: int) -> list[Account]:
        """Accounts in creation order with timestamp > ``after``."""

    @abc.abstractmethod
    def transfers_page(self, after: int, limit: int) -> list[Transfer]:
        """Transfers in commit order with timestamp > ``after``."""

    @abc.abstractmethod
    def journal_entry(self, seq: int) -> JournalEntry | None: ...

    @abc.abstractmethod
    def head(self) -> Head: ...

    @abc.abstractmethod
    def leaf_hashes(self, size: int) -> list[bytes]: ...

    @abc.abstractmethod
    def checkpoints(self) -> list[Checkpoint]: ...

    @abc.abstractmethod
    def snapshot(self) -> AbstractContextManager[None]:
        """A consistent read-only view for several interleaved ``scan`` calls."""

    @abc.abstractmethod
    def scan(self, table: str, order_by: str, columns: str, batch: int = 10_000) -> Iterator[tuple[Any, ...]]:
        """Every row of a table in order, streamed (for ``verify``)."""

    @abc.abstractmethod
    def count(self, table: str) -> int: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> LedgerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_database_url(url: str) -> URL:
    """Accept ``sqlite:///path``, ``sqlite:///:memory:``, ``postgresql://...``."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError("database URL is empty", code="database_url_invalid")
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        raise ConfigurationError(
            f"malformed database URL {url!r}; expected sqlite:///path.db or "
            "postgresql://user@host:port/database",
            code="database_url_invalid",
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.host or parsed.database is None:
            raise ConfigurationError(
                f"malformed SQLite URL {url!r}; use sqlite:///relative.db or sqlite:////absolute.db",
                code="database_url_invalid",
            )
        return parsed
    if backend in ("postgresql", "postgres"):
        if not parsed.database:
            raise ConfigurationError(f"PostgreSQL URL {url!r} names no database", code="database_url_invalid")
        return parsed.set(drivername="postgresql+psycopg")
    raise ConfigurationError(
        f"unsupported database {backend!r} in {url!r}; netfin supports sqlite and postgresql",
        code="database_url_invalid",
    )


def migrate(connection: sa.Connection) -> None:
    """Bring the schema to ``SCHEMA_HEAD`` with Alembic."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def open_store(url: str) -> LedgerStore:
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        from netfin.ledger.stores.sqlite import SqliteStore

        return SqliteStore(parsed)
    from netfin.ledger.stores.postgres import PostgresStore

    return PostgresStore(parsed)
