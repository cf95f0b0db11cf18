"""One Ledger shared by many threads (as the API's worker pool shares it)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from netfin.ledger import Account, AccountFlags, CreateTransferResult, Ledger, Transfer, TransferFlags

THREADS = 8
TRANSFERS_PER_THREAD = 40


def test_threads_share_a_ledger_without_mixing_transactions(ledger: Ledger) -> None:
    ledger.create_accounts(
        [
            Account(1, "GBP", 1),
            *(Account(100 + n, "GBP", 2, flags=AccountFlags.HISTORY) for n in range(THREADS)),
        ]
    )
    failures: list[BaseException] = []
    seen_balances: list[int] = []

    def work(n: int) -> None:
        try:
            for k in range(TRANSFERS_PER_THREAD):
                transfer = Transfer(10_000 * (n + 1) + k, 1, 100 + n, 1, "GBP", 1)
                assert ledger.create_transfers([transfer]) == [CreateTransferResult.OK]
                [account] = ledger.lookup_accounts([100 + n])
                seen_balances.append(account.credits_posted)
                assert account.credits_posted == k + 1  # never a read of another thread's open write
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(seen_balances) == THREADS * TRANSFERS_PER_THREAD
    [source] = ledger.lookup_accounts([1])
    assert source.debits_posted == THREADS * TRANSFERS_PER_THREAD
    assert ledger.verify().ok


def test_reads_wait_for_a_writer_only_where_the_store_has_one_connection(ledger: Ledger) -> None:
    """PostgreSQL reads run on the read pool beside a writer; SQLite's share its one connection."""
    ledger.create_accounts([Account(1, "GBP", 1)])
    done = threading.Event()

    def read() -> None:
        assert [a.id for a in ledger.lookup_accounts([1])] == [1]
        assert ledger.account_transfers(1).transfers == []
        done.set()

    with ledger._lock:  # what a writer holds for the length of its batch
        reader = threading.Thread(target=read)
        reader.start()
        finished_beside_the_writer = done.wait(timeout=5 if ledger.store.concurrent_reads else 0.3)
    reader.join(timeout=10)
    assert done.is_set()
    assert finished_beside_the_writer is (ledger.store.dialect == "postgresql")


# -- group commit ------------------------------------------------------------------


def _count_writes(ledger: Ledger) -> list[int]:
    """Count the store's write transactions (each batch booked is one)."""
    calls = [0]
    write = ledger.store.write

    def counted(events: int | None = None) -> Any:
        calls[0] += 1
        return write(events)

    ledger.store.write = counted  # type: ignore[method-assign]
    return calls


def _submit_while_locked(
    ledger: Ledger, batches: list[list[Transfer]], queued: int | None = None
) -> list[Any]:
    """Submit each batch from its own thread while the ledger lock is held (as by a batch
    being booked), let them queue (``queued`` of them; a batch ending in an open chain waits
    for the lock instead), then release: returns each thread's results or error."""
    queued = len(batches) if queued is None else queued
    outcomes: list[Any] = [None] * len(batches)

    def submit(n: int) -> None:
        try:
            outcomes[n] = ledger.create_transfers(batches[n])
        except BaseException as error:
            outcomes[n] = error

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(len(batches))]
    with ledger._lock:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(ledger._submissions) < queued and time.monotonic() < deadline:
            time.sleep(0.001)
        assert len(ledger._submissions) == queued
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_batches_submitted_meanwhile_share_one_commit_and_keep_their_own_results(ledger: Ledger) -> None:
    ledger.create_accounts(
        [Account(1, "GBP", 1), Account(2, "GBP", 1),
         Account(3, "GBP", 1, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)]
    )  # fmt: skip
    batches = [
        [Transfer(10 + n, 1, 2, 1 + n, "GBP", 1), Transfer(20 + n, 3, 2, 5, "GBP", 1)] for n in range(6)
    ]
    writes = _count_writes(ledger)
    outcomes = _submit_while_locked(ledger, batches)
    R = CreateTransferResult
    assert outcomes == [[R.OK, R.EXCEEDS_CREDITS]] * 6
    assert writes == [1]  # one transaction for all six callers
    [one, two] = ledger.lookup_accounts([1, 2])
    assert one.debits_posted == two.credits_posted == sum(range(1, 7))
    # The same ids again, alone: money never moves twice.
    assert ledger.create_transfers(batches[0]) == [R.EXISTS, R.EXCEEDS_CREDITS]
    assert ledger.verify().ok


def test_an_open_linked_chain_never_joins_another_callers_batch(ledger: Ledger) -> None:
    ledger.create_accounts([Account(1, "GBP", 1), Account(2, "GBP", 1)])
    linked = TransferFlags.LINKED
    batches = [
        [Transfer(10, 1, 2, 1, "GBP", 1)],
        [Transfer(11, 1, 2, 1, "GBP", 1, linked)],  # open at the end: refused on its own
        [Transfer(12, 1, 2, 1, "GBP", 1)],
        [Transfer(13, 1, 2, 1, "GBP", 1, linked), Transfer(14, 1, 2, 1, "GBP", 1)],  # a closed chain
    ]
    writes = _count_writes(ledger)
    outcomes = _submit_while_locked(ledger, batches, queued=3)
    R = CreateTransferResult
    by_first_id = {batch[0].id: outcome for batch, outcome in zip(batches, outcomes, strict=True)}
    assert by_first_id == {
        10: [R.OK], 11: [R.LINKED_EVENT_CHAIN_OPEN], 12: [R.OK], 13: [R.OK, R.OK],
    }  # fmt: skip
    assert writes[0] <= 3  # the open chain alone; the others in at most two groups around it
    assert [a.debits_posted for a in ledger.lookup_accounts([1])] == [4]


def test_a_group_that_fails_is_booked_again_one_batch_at_a_time(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One caller's error is not another's: the failed group wrote nothing, and each batch
    is booked again on its own."""
    ledger.create_accounts([Account(1, "GBP", 1), Account(2, "GBP", 1)])
    book = ledger._create_transfers

    def poisoned(transfers: Any) -> Any:
        if any(t.id == 666 for t in transfers):
            raise RuntimeError("the store refused the batch")
        return book(transfers)

    monkeypatch.setattr(ledger, "_create_transfers", poisoned)
    batches = [[Transfer(n, 1, 2, 1, "GBP", 1)] for n in (10, 666, 12)]
    outcomes = _submit_while_locked(ledger, batches)
    R = CreateTransferResult
    assert outcomes[0] == [R.OK] and outcomes[2] == [R.OK]
    assert isinstance(outcomes[1], RuntimeError)
    assert [t.id for t in ledger.lookup_transfers([10, 666, 12])] == [10, 12]
    assert ledger.lookup_accounts([2])[0].credits_posted == 2
