"""One Ledger shared by many threads (as the API's worker pool shares it)."""

from __future__ import annotations

import threading

from netfin.ledger import Account, AccountFlags, CreateTransferResult, Ledger, Transfer

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
