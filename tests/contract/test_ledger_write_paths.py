"""The store's two ways of writing a batch: small batches in one pipeline (PostgreSQL),
large ones with COPY. Both must give the same ledger, and a pipelined batch that fails
anywhere must write nothing and leave the connection usable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from netfin.core.clock import ManualClock
from netfin.ledger import Account, AccountFlags, CreateTransferResult, Ledger, Transfer, TransferFlags
from netfin.ledger.model import PendingState, PendingStatus
from netfin.ledger.stores import postgres

R = CreateTransferResult


def _accounts(ledger: Ledger) -> None:
    ledger.create_accounts(
        [Account(1, "GBP", 1, flags=AccountFlags.HISTORY), Account(2, "GBP", 1, flags=AccountFlags.HISTORY)]
    )


def _batch(first_id: int, size: int) -> list[Transfer]:
    """``size`` transfers from 1 to 2; every tenth is pending, and the one after it posts it."""
    batch = []
    for k in range(size):
        transfer_id = first_id + k
        if k % 10 == 9:
            batch.append(Transfer(transfer_id, 1, 2, 3, "GBP", 1, TransferFlags.PENDING, timeout=3600))
        elif k % 10 == 0 and k:
            batch.append(
                Transfer(
                    transfer_id, 0, 0, 2, "GBP", 1, TransferFlags.POST_PENDING, pending_id=transfer_id - 1
                )
            )
        else:
            batch.append(Transfer(transfer_id, 1, 2, 1, "GBP", 1))
    return batch


@pytest.mark.parametrize("size", [1, postgres.PIPELINE_EVENTS_MAX, postgres.PIPELINE_EVENTS_MAX + 1])
def test_small_and_large_batches_book_the_same_ledger(ledger: Ledger, size: int) -> None:
    _accounts(ledger)
    batch = _batch(1000, size)
    assert ledger.create_transfers(batch) == [R.OK] * size
    # Replayed: every id exists, nothing moves twice (the idempotency read in the same path).
    assert ledger.create_transfers(batch) == [R.EXISTS] * size
    posted = sum(t.amount for t in batch if not t.flags & TransferFlags.PENDING)
    pending = sum(3 for k in range(size) if k % 10 == 9 and k + 1 >= size)
    [one, two] = ledger.lookup_accounts([1, 2])
    assert (one.debits_posted, one.debits_pending) == (posted, pending)
    assert (two.credits_posted, two.credits_pending) == (posted, pending)
    history = ledger.account_balances(1, limit=size)
    assert len(history.balances) == size
    assert [t.id for t in ledger.lookup_transfers([t.id for t in batch])] == [t.id for t in batch]
    report = ledger.verify()
    assert report.ok and report.transfers == size


@pytest.fixture
def pg_ledger(pg_url: str, clock: ManualClock) -> Iterator[Ledger]:
    """Pipeline mode is PostgreSQL's: these tests need no SQLite run."""
    with Ledger.open(pg_url, clock=clock) as opened:
        yield opened


def _fail_in_journal(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """Make the next pipelined batch fail after its transfer, account and history writes were queued."""
    original = postgres._PostgresWrite.insert_journal

    def failing(self: Any, rows: Any) -> None:
        monkeypatch.setattr(postgres._PostgresWrite, "insert_journal", original)
        if how == "python":
            raise RuntimeError("injected before the journal rows")
        self.c.execute("SELECT 1 / 0")  # queued: the database refuses it when the pipeline syncs

    monkeypatch.setattr(postgres._PostgresWrite, "insert_journal", failing)


@pytest.mark.parametrize("how", ["python", "database"])
def test_a_pipelined_batch_that_fails_writes_nothing(
    pg_ledger: Ledger, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    _accounts(pg_ledger)
    assert pg_ledger.create_transfers(_batch(10, 3)) == [R.OK] * 3
    head = pg_ledger.store.head()
    _fail_in_journal(monkeypatch, how)
    with pytest.raises(Exception, match=r"injected|division by zero"):
        pg_ledger.create_transfers(_batch(20, 3))
    assert pg_ledger.store.head() == head
    assert pg_ledger.lookup_transfers([20, 21, 22]) == []
    assert pg_ledger.account_balances(1, limit=10).balances[-1].debits_posted == 3
    # The connection is usable and the ledger goes on where it stood.
    assert pg_ledger.create_transfers(_batch(20, 3)) == [R.OK] * 3
    [one] = pg_ledger.lookup_accounts([1])
    assert one.debits_posted == 6
    assert pg_ledger.verify().ok


def test_small_batches_post_void_and_expire_pending_transfers(ledger: Ledger, clock: ManualClock) -> None:
    """The pending transfers a small batch posts, voids or expires are read with its head lock."""
    _accounts(ledger)
    pending = TransferFlags.PENDING
    assert (
        ledger.create_transfers([Transfer(k, 1, 2, 5, "GBP", 1, pending, timeout=60) for k in (1, 2, 3)])
        == [R.OK] * 3
    )
    assert ledger.create_transfers(
        [Transfer(4, 0, 0, 5, "GBP", 1, TransferFlags.POST_PENDING, pending_id=1)]
    ) == [R.OK]
    assert ledger.create_transfers(
        [Transfer(5, 0, 0, 0, "GBP", 1, TransferFlags.VOID_PENDING, pending_id=2)]
    ) == [R.OK]
    assert ledger.create_transfers(
        [Transfer(6, 0, 0, 5, "GBP", 1, TransferFlags.POST_PENDING, pending_id=2)]
    ) == [R.PENDING_TRANSFER_ALREADY_VOIDED]
    clock.advance(seconds=61)
    # The next batch expires transfer 3 first (its due list), then refuses to post it.
    assert ledger.create_transfers(
        [Transfer(7, 0, 0, 5, "GBP", 1, TransferFlags.POST_PENDING, pending_id=3)]
    ) == [R.PENDING_TRANSFER_EXPIRED]
    [one, two] = ledger.lookup_accounts([1, 2])
    assert (one.debits_posted, one.debits_pending, two.credits_posted, two.credits_pending) == (5, 0, 5, 0)
    assert ledger.verify().ok


def test_two_writers_see_each_others_commits(pg_url: str, clock: ManualClock) -> None:
    """Two ledgers on one database (as two API processes): each small batch's read-ahead, taken
    after the head lock, sees what the other committed, so a balance limit holds across them."""
    with Ledger.open(pg_url, clock=clock) as first, Ledger.open(pg_url, clock=clock) as second:
        limited = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
        first.create_accounts([Account(1, "GBP", 1), Account(2, "GBP", 1, flags=limited)])
        assert first.create_transfers([Transfer(10, 1, 2, 10, "GBP", 1)]) == [R.OK]  # 2 holds 10
        outcomes = []
        for k in range(12):  # 12 spends of 1 from alternating writers: the last two must fail
            writer = first if k % 2 else second
            outcomes += writer.create_transfers([Transfer(100 + k, 2, 1, 1, "GBP", 1)])
        assert outcomes == [R.OK] * 10 + [R.EXCEEDS_CREDITS] * 2
        [two] = second.lookup_accounts([2])
        assert (two.debits_posted, two.credits_posted) == (10, 10)
        assert second.verify().ok


def test_without_pipeline_mode_a_small_batch_takes_the_copy_path(
    pg_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A libpq older than 14 has no pipeline mode: small batches are then written as large ones."""
    monkeypatch.setattr(postgres, "_PIPELINE_SUPPORTED", False)
    monkeypatch.setattr(postgres.PostgresStore, "_pipelined_write", None)  # would fail if called
    _accounts(pg_ledger)
    assert pg_ledger.create_transfers(_batch(10, 12)) == [R.OK] * 12
    assert pg_ledger.create_transfers(_batch(10, 12)) == [R.EXISTS] * 12
    assert pg_ledger.verify().ok


def _recording(monkeypatch: pytest.MonkeyPatch, connection: Any) -> list[str]:
    """The statements sent on ``connection`` from now on, in order."""
    sent: list[str] = []
    original = psycopg.Cursor.execute

    def recording(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if self.connection is connection:  # Connection.execute runs a cursor's too
            sent.append(str(query))
        return original(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", recording)
    return sent


def test_a_small_batch_sends_its_writes_as_one_statement(
    pg_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BEGIN, the head lock (with the planner settings), three reads, one statement for every
    write (data-modifying WITH parts) and COMMIT: seven statements for a plain transfer."""
    _accounts(pg_ledger)
    sent = _recording(monkeypatch, pg_ledger.store.c)  # type: ignore[attr-defined]
    assert pg_ledger.create_transfers([Transfer(50, 1, 2, 7, "GBP", 1)]) == [R.OK]
    assert sent[0] == "BEGIN" and sent[-1] == "COMMIT"
    assert "FOR UPDATE" in sent[1] and "set_config('enable_hashjoin'" in sent[1]
    assert "set_config('plan_cache_mode', 'force_generic_plan', true)" in sent[1]
    [writes] = [q for q in sent if q.startswith(("WITH", "INSERT", "UPDATE"))]
    tables = ("INSERT INTO transfers", "INSERT INTO account_balances", "INSERT INTO journal")
    tables += ("UPDATE ledger_head",)
    assert [table for table in tables if table not in writes] == []
    assert "UPDATE accounts" not in writes  # the transfer is in both accounts' tails (store.TAIL_MAX)
    assert len(sent) == 7, sent  # and the due, accounts and transfers reads that travel with the lock
    assert pg_ledger.verify().ok


def test_writes_in_one_pipelined_transaction_apply_in_the_order_given(pg_ledger: Ledger) -> None:
    """The parts of one statement all see the rows as they stood before it: a second write
    to a table already queued must go in a statement of its own, after the first."""
    pending = Transfer(9, 1, 2, 5, "GBP", 1, TransferFlags.PENDING, timeout=60)
    store = pg_ledger.store
    with store.write(1) as tx:
        tx.head()
        tx.write_pending([PendingState(pending, PendingStatus.PENDING, 10)], [])
        tx.write_pending([], [PendingState(pending, PendingStatus.POSTED, 10)])
    with store.write(1) as tx:
        tx.head()
        assert tx.load_pending([9]) == {9: (PendingStatus.POSTED, 10)}


def test_lookups_and_history_pages_are_planned_once_per_connection(pg_ledger: Ledger) -> None:
    """The read pool's statements probe an index by key: generic plans, made once per
    connection; the writer's connection keeps the server's choice outside a small batch."""
    store: Any = pg_ledger.store
    _accounts(pg_ledger)
    assert store._reads.run(lambda c: c.execute("SHOW plan_cache_mode").fetchone()[0]) == "force_generic_plan"
    assert store.c.execute("SHOW plan_cache_mode").fetchone()[0] == "auto"
    assert pg_ledger.create_transfers(_batch(30, 3)) == [R.OK] * 3
    for _ in range(7):  # prepared after five runs, then run on the generic plan
        assert [a.id for a in pg_ledger.lookup_accounts([1, 2, 99])] == [1, 2]
        assert [t.id for t in pg_ledger.lookup_transfers([30, 31, 32, 99])] == [30, 31, 32]
        assert len(pg_ledger.account_balances(1, limit=10).balances) == 3


def test_a_large_batch_updates_the_accounts_it_read_by_their_address(
    pg_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Accounts a large batch reads (not cached) are updated through their ``ctid``, in one
    statement that also matches the id; cached ones by id; the ledger is the same. (Each
    account takes part in about 25 transfers: more than a tail holds, so every row is
    rewritten.)"""
    with Ledger.open(pg_url, clock=clock, account_cache_max=0) as ledger:
        ledger.create_accounts([Account(k, "GBP", 1) for k in range(1, 21)])
        size = postgres.PIPELINE_EVENTS_MAX + 1
        batch = [Transfer(1000 + k, 1 + k % 20, 1 + (k + 7) % 20, 1 + k, "GBP", 1) for k in range(size)]
        sent = _recording(monkeypatch, ledger.store.c)  # type: ignore[attr-defined]
        assert ledger.create_transfers(batch) == [R.OK] * size
        updates = [q for q in sent if q.startswith("UPDATE accounts")]
        assert len(updates) == 1 and "a.ctid = v.t AND a.id = v.id" in updates[0]
        monkeypatch.undo()
        for account in ledger.lookup_accounts(list(range(1, 21))):
            assert account.debits_posted == sum(t.amount for t in batch if t.debit_account_id == account.id)
            assert account.credits_posted == sum(t.amount for t in batch if t.credit_account_id == account.id)
        assert ledger.create_transfers(batch) == [R.EXISTS] * size
        assert ledger.verify().ok


class _RolledBack(Exception):
    """Raised inside a write transaction to end it without committing."""


def test_an_account_moved_after_it_was_read_is_updated_again_by_id(
    pg_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were a row not where the batch read it (nothing moves it under the head lock, but the
    store does not rely on that), the update is made again by id: no balance is lost."""
    from dataclasses import replace

    from netfin.ledger.store import b

    _accounts(pg_ledger)
    store: Any = pg_ledger.store
    sent = _recording(monkeypatch, store.c)
    with pytest.raises(_RolledBack), store.write(None) as tx:
        as_of = tx.head().timestamp
        one, two = (tx.load_accounts([1, 2])[k] for k in (1, 2))
        tx.c.execute("UPDATE accounts SET code = code WHERE id = %b", (b(1),))  # account 1 moves
        tx.update_accounts([replace(one, debits_posted=5), replace(two, credits_posted=5)], as_of)
        assert {a.id: (a.debits_posted, a.credits_posted) for a in tx.load_accounts([1, 2]).values()} == {
            1: (5, 0),
            2: (0, 5),
        }
        raise _RolledBack
    updates = [q for q in sent if q.startswith("UPDATE accounts AS a")]
    assert len(updates) == 2
    assert "a.ctid = v.t" in updates[0] and "a.ctid" not in updates[1]
    monkeypatch.undo()
    balances = [(a.debits_posted, a.credits_posted) for a in pg_ledger.lookup_accounts([1, 2])]
    assert balances == [(0, 0), (0, 0)]  # rolled back
