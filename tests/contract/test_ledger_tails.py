"""Account rows and their tails (``store.TAIL_MAX``), on both stores.

An account's row holds its balances as of its ``as_of`` time; the transfers after
it that name the account are its tail, which every read adds. These tests look at
the tables behind the ledger's back: a tail stays shorter than ``TAIL_MAX``, holds
only plain and pending transfers, and every reader (another writer, a reader with
no cache, ``verify``) sees the same balances as the writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netfin.core.clock import ManualClock
from netfin.core.errors import InvariantViolation
from netfin.ledger import Account, Ledger, Transfer, TransferFlags
from netfin.ledger.store import MIGRATIONS_DIR, TAIL_BARRED_FLAGS, TAIL_MAX, b, i

F = TransferFlags


def sql(ledger: Ledger, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Raw SQL on the ledger's own connection (``?`` placeholders on both stores)."""
    c: Any = ledger.store.c  # type: ignore[attr-defined]
    if ledger.store.dialect == "postgresql":
        with c.transaction():
            cursor = c.execute(text.replace("?", "%s"), tuple(params))
            return list(cursor.fetchall()) if cursor.description else []
    return list(c.execute(text, tuple(params)).fetchall())


def row(ledger: Ledger, account_id: int) -> tuple[int, int, int, int, int]:
    """(as_of, debits_pending, debits_posted, credits_pending, credits_posted) as stored."""
    [found] = sql(
        ledger,
        "SELECT as_of, debits_pending, debits_posted, credits_pending, credits_posted FROM accounts "
        "WHERE id = ?",
        (b(account_id),),
    )
    return (found[0], found[1], found[2], found[3], found[4])


def tails(ledger: Ledger) -> dict[int, list[int]]:
    """Each account's tail as stored: the flags of the transfers after its row's as_of."""
    found: dict[int, list[int]] = {}
    for side in ("debit", "credit"):
        for account_id, flags in sql(
            ledger,
            f"SELECT a.id, t.flags FROM accounts AS a JOIN transfers AS t ON t.{side}_account_id = a.id "
            "AND t.timestamp > a.as_of",
        ):
            found.setdefault(i(bytes(account_id)), []).append(flags)
    return found


def balances(accounts: Sequence[Account]) -> dict[int, tuple[int, int, int, int, int]]:
    return {
        a.id: (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, a.flags)
        for a in accounts
    }


def test_a_row_is_rewritten_when_its_tail_is_full(ledger: Ledger) -> None:
    assert ledger.create_accounts([Account(1, "EUR", 1), Account(2, "EUR", 1)]) == ["ok", "ok"]
    created = row(ledger, 1)
    for k in range(TAIL_MAX - 1):
        assert ledger.create_transfers([Transfer(100 + k, 1, 2, 5, "EUR", 1)]) == ["ok"]
    assert row(ledger, 1) == created  # every transfer so far is in the tail
    assert len(tails(ledger)[1]) == TAIL_MAX - 1
    [one] = ledger.lookup_accounts([1])
    assert one.debits_posted == 5 * (TAIL_MAX - 1)
    assert ledger.create_transfers([Transfer(999, 1, 2, 5, "EUR", 1)]) == ["ok"]
    [last] = ledger.lookup_transfers([999])
    assert row(ledger, 1) == (last.timestamp, 0, 5 * TAIL_MAX, 0, 0)
    assert row(ledger, 2) == (last.timestamp, 0, 0, 0, 5 * TAIL_MAX)
    assert not {1, 2} & tails(ledger).keys()  # both tails are empty again
    assert ledger.verify().ok


@pytest.mark.parametrize("resolve", [F.POST_PENDING, F.VOID_PENDING])
def test_posting_or_voiding_rewrites_the_rows_at_once(ledger: Ledger, resolve: F) -> None:
    assert ledger.create_accounts([Account(1, "EUR", 1), Account(2, "EUR", 1)]) == ["ok", "ok"]
    assert ledger.create_transfers([Transfer(10, 1, 2, 70, "EUR", 1, F.PENDING)]) == ["ok"]
    assert tails(ledger) == {1: [int(F.PENDING)], 2: [int(F.PENDING)]}  # a hold may wait in a tail
    amount = 30 if resolve is F.POST_PENDING else 0
    assert ledger.create_transfers([Transfer(11, 0, 0, amount, "", 0, resolve, pending_id=10)]) == ["ok"]
    [done] = ledger.lookup_transfers([11])
    assert tails(ledger) == {}
    assert row(ledger, 1)[0] == done.timestamp
    assert row(ledger, 1)[1:3] == (0, amount) and row(ledger, 2)[3:] == (0, amount)
    assert ledger.verify().ok


def test_a_closing_transfer_and_an_expiry_rewrite_the_rows(ledger: Ledger, clock: ManualClock) -> None:
    assert ledger.create_accounts([Account(k, "EUR", 1) for k in (1, 2, 3)]) == ["ok"] * 3
    closing = Transfer(10, 1, 2, 1, "EUR", 1, F.PENDING | F.CLOSING_DEBIT)
    hold = Transfer(11, 3, 2, 9, "EUR", 1, F.PENDING, timeout=1)
    assert ledger.create_transfers([closing, hold]) == ["ok", "ok"]
    assert set(tails(ledger)) == {3}  # the closing transfer's accounts were written at once
    assert ledger.lookup_accounts([1])[0].closed
    clock.advance(seconds=2)
    assert ledger.expire_pending() == 1
    assert tails(ledger) == {}
    assert row(ledger, 3)[1] == 0 and row(ledger, 2)[3] == 1  # the closing hold is still pending
    assert ledger.verify().ok


# -- two writers, a cold reader, and the tables behind them -----------------------------------

_KINDS = st.sampled_from(["plain", "pending", "post", "void", "close", "hold"])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batches=st.lists(
        st.lists(st.tuples(_KINDS, st.integers(0, 5), st.integers(0, 5), st.integers(1, 50)), max_size=40),
        min_size=1,
        max_size=6,
    ),
    writers=st.lists(st.sampled_from([0, 1]), min_size=6, max_size=6),
)
def test_tails_stay_short_and_every_reader_agrees(
    store_url: str, batches: list[list[tuple[str, int, int, int]]], writers: list[int]
) -> None:
    """Random batches from two ledgers over one store (one caches, one does not), with
    holds posted, voided, expired and closing transfers; after each batch: no tail reaches
    ``TAIL_MAX`` or holds a barred transfer, and both ledgers and a third with no cache
    read the same balances. ``verify`` replays it all at the end."""
    with Ledger.open(store_url) as first:
        clock = ManualClock(first.store.head().timestamp + 1_000_000_000)
    ledgers = [
        Ledger.open(store_url, clock=clock),
        Ledger.open(store_url, clock=clock, account_cache_max=0),
        Ledger.open(store_url, clock=clock, account_cache_max=0),  # reads only
    ]
    try:
        _run_random_batches(ledgers, clock, batches, writers)
        report = ledgers[0].verify()
        assert report.ok, report.first_error
    finally:
        for ledger in ledgers:
            ledger.close()


def _run_random_batches(
    ledgers: list[Ledger],
    clock: ManualClock,
    batches: list[list[tuple[str, int, int, int]]],
    writers: list[int],
) -> None:
    base = ledgers[0].store.head().seq * 1000 + 1_000_000  # ids of this example only
    accounts = [base + k for k in range(6)]
    assert ledgers[0].create_accounts([Account(x, "EUR", 1) for x in accounts]) == ["ok"] * 6
    holds: list[int] = []
    next_id = base + 100
    for batch, writer in zip(batches, writers, strict=False):
        events = []
        for kind, dr, cr, amount in batch:
            next_id += 1
            if kind in ("post", "void"):
                if not holds:
                    continue
                flags = F.POST_PENDING if kind == "post" else F.VOID_PENDING
                pending_id = holds.pop(0)
                events.append(
                    Transfer(next_id, 0, 0, 0 if kind == "void" else amount, "", 0, flags, pending_id)
                )
                continue
            if dr == cr:
                cr = (cr + 1) % 6
            flags = {"plain": F.NONE, "pending": F.PENDING, "close": F.PENDING | F.CLOSING_CREDIT}.get(
                kind, F.PENDING
            )
            timeout = 1 if kind == "hold" else 0
            events.append(
                Transfer(next_id, accounts[dr], accounts[cr], amount, "EUR", 1, flags, timeout=timeout)
            )
            if kind in ("pending", "close"):
                holds.append(next_id)
        ledgers[writer].create_transfers(events)
        clock.advance(ns=600_000_000)  # holds with a one-second timeout expire two batches later
        _check_tables(ledgers, accounts)


def _check_tables(ledgers: list[Ledger], accounts: list[int]) -> None:
    for account_id, flags in tails(ledgers[0]).items():
        if account_id in accounts:
            assert len(flags) < TAIL_MAX
            assert not [f for f in flags if f & TAIL_BARRED_FLAGS]
    seen = [balances(reader.lookup_accounts(accounts)) for reader in ledgers]
    assert seen[0] == seen[1] == seen[2]


# -- tampering with as_of ---------------------------------------------------------------------


def _books(ledger: Ledger) -> None:
    assert ledger.create_accounts([Account(1, "EUR", 1), Account(2, "EUR", 1)]) == ["ok", "ok"]
    assert ledger.create_transfers([Transfer(10, 1, 2, 70, "EUR", 1, F.PENDING)]) == ["ok"]
    assert ledger.create_transfers([Transfer(11, 0, 0, 30, "", 0, F.POST_PENDING, pending_id=10)]) == ["ok"]
    assert ledger.create_transfers([Transfer(12, 1, 2, 5, "EUR", 1)]) == ["ok"]
    assert ledger.verify().ok


def test_as_of_moved_back_past_a_post_is_caught(ledger: Ledger) -> None:
    _books(ledger)
    [pending] = ledger.lookup_transfers([10])
    sql(ledger, "UPDATE accounts SET as_of = ? WHERE id = ?", (pending.timestamp - 1, b(1)))
    report = ledger.verify()
    assert not report.ok and report.first_error is not None
    assert (report.first_error.table, report.first_error.ref) == ("accounts", f"{1:032x}")
    assert "not rewritten" in report.first_error.reason
    with pytest.raises(InvariantViolation, match="not rewritten"):
        ledger.lookup_accounts([1])


def test_as_of_moved_over_a_tail_is_caught(ledger: Ledger) -> None:
    _books(ledger)
    head = ledger.store.head()
    sql(ledger, "UPDATE accounts SET as_of = ? WHERE id = ?", (head.timestamp, b(2)))  # drops transfer 12
    report = ledger.verify()
    assert not report.ok and report.first_error is not None
    assert report.first_error.reason == "stored balances differ from the journal's replay"


def test_as_of_past_the_head_is_caught(ledger: Ledger) -> None:
    _books(ledger)
    sql(ledger, "UPDATE accounts SET as_of = ? WHERE id = ?", (ledger.store.head().timestamp + 1, b(1)))
    report = ledger.verify()
    assert not report.ok and report.first_error is not None
    assert report.first_error.reason == "row's as_of is outside the ledger's time"


# -- the migration that brought as_of ----------------------------------------------------------


def _alembic(ledger: Ledger, revision: str) -> None:
    """Move the ledger's schema to ``revision`` with its own migrations (up or down)."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy.pool import StaticPool

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    store: Any = ledger.store
    if store.dialect == "sqlite":
        engine = sa.create_engine("sqlite://", creator=lambda: store.c, poolclass=StaticPool)
    else:
        url = sa.make_url(store.url)
        url = url.set(drivername="postgresql+psycopg", query={})
        engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            if store.dialect == "postgresql":
                connection.execute(sa.text(f'SET search_path TO "{store.schema}"'))
            config.attributes["connection"] = connection
            move = command.upgrade if revision == "head" else command.downgrade
            move(config, revision)
    finally:
        if store.dialect == "postgresql":  # (on SQLite the engine holds the ledger's own connection)
            engine.dispose()


def test_the_migration_folds_tails_down_and_starts_rows_complete_up(ledger: Ledger) -> None:
    assert ledger.create_accounts([Account(k, "EUR", 1) for k in (1, 2, 3)]) == ["ok"] * 3
    transfers = [Transfer(10 + k, 1 + k % 3, 1 + (k + 1) % 3, 1 + k, "EUR", 1) for k in range(9)]
    transfers.append(Transfer(30, 1, 3, 4, "EUR", 1, F.PENDING))
    assert ledger.create_transfers(transfers) == ["ok"] * 10
    before = balances(ledger.lookup_accounts([1, 2, 3]))
    assert tails(ledger)  # the rows lag their accounts
    _alembic(ledger, "0002")
    rows = sql(
        ledger, "SELECT id, debits_pending, debits_posted, credits_pending, credits_posted FROM accounts"
    )
    assert {i(bytes(r[0])): tuple(r[1:]) for r in rows} == {k: v[:4] for k, v in before.items()}
    _alembic(ledger, "head")
    head = ledger.store.head()
    assert {row(ledger, k)[0] for k in (1, 2, 3)} == {head.timestamp}
    assert tails(ledger) == {}
    assert balances(ledger.lookup_accounts([1, 2, 3])) == before
    assert ledger.verify().ok
