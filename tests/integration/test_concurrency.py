"""Several processes write to one ledger at once (both stores).

Four worker processes run a mixed workload — plain transfers between hot
accounts with limits, pending transfers posted or voided by *other* workers,
linked chains (some of which must fail), and batches that two workers submit
with the same ids at the same time. Afterwards: no batch failed with an
error, every transfer id was created exactly once, money is conserved per
currency, and ``verify`` replays one linear hash chain to the stored balances.
"""

from __future__ import annotations

import multiprocessing
import random
from collections import Counter

import pytest

from netfin.ledger import Account, AccountFlags, Ledger, Transfer, TransferFlags

WORKERS = 4
ROUNDS = 40
ACCOUNTS = 12
FUNDING = 1  # account 1 funds the others and may go negative


def _id(worker: int, round_: int, slot: int) -> int:
    return (worker << 40) | (round_ << 16) | slot


def _worker(url: str, worker: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    rng = random.Random(worker)
    created: list[int] = []
    outcome: dict[str, object] = {"worker": worker, "error": None}
    try:
        with Ledger.open(url) as ledger:
            for round_ in range(ROUNDS):
                batch = _batch(rng, worker, round_)
                results = ledger.create_transfers(batch)
                created += [t.id for t, r in zip(batch, results, strict=True) if r == "ok"]
                shared = _shared_batch(round_)  # every worker submits these same ids
                results = ledger.create_transfers(shared)
                created += [t.id for t, r in zip(shared, results, strict=True) if r == "ok"]
                bad = [r for r in results if r not in ("ok", "exists")]
                if bad:
                    raise RuntimeError(f"shared batch got {bad}")
    except Exception as error:  # reported to the parent, which fails the test
        outcome["error"] = repr(error)
    outcome["created"] = created
    queue.put(outcome)


def _batch(rng: random.Random, worker: int, round_: int) -> list[Transfer]:
    batch: list[Transfer] = []
    slot = 0
    for _ in range(rng.randint(5, 25)):
        slot += 1
        debit = rng.randint(2, ACCOUNTS)
        credit = rng.choice([x for x in range(2, ACCOUNTS + 1) if x != debit])
        kind = rng.random()
        if kind < 0.5:
            batch.append(Transfer(_id(worker, round_, slot), debit, credit, rng.randint(1, 400), "CNY", 1))
        elif kind < 0.7:
            batch.append(
                Transfer(
                    _id(worker, round_, slot),
                    debit,
                    credit,
                    rng.randint(1, 300),
                    "CNY",
                    2,
                    flags=TransferFlags.PENDING,
                    timeout=3600,
                )
            )
        elif kind < 0.85 and round_ > 0:
            # resolve a pending transfer that any worker may have created last round
            other = rng.randrange(WORKERS)
            flags = TransferFlags.POST_PENDING if rng.random() < 0.6 else TransferFlags.VOID_PENDING
            amount = 2**63 - 1 if flags == TransferFlags.POST_PENDING else 0
            batch.append(
                Transfer(
                    _id(worker, round_, slot),
                    amount=amount,
                    flags=flags,
                    pending_id=_id(other, round_ - 1, rng.randint(1, 25)),
                )
            )
        else:
            for hop in range(3):  # a linked chain, sometimes doomed by a huge amount
                amount = 10**12 if hop == 2 and rng.random() < 0.3 else rng.randint(1, 50)
                flags = TransferFlags.LINKED if hop < 2 else TransferFlags.NONE
                batch.append(
                    Transfer(_id(worker, round_, slot), debit, credit, amount, "CNY", 3, flags=flags)
                )
                slot += 1
    return batch


def _shared_batch(round_: int) -> list[Transfer]:
    return [Transfer(_id(200, round_, k), FUNDING, 2 + k, 5, "CNY", 4) for k in range(3)]


@pytest.mark.slow
def test_four_processes_conserve_money_and_keep_one_chain(store_url: str) -> None:
    with Ledger.open(store_url) as ledger:
        accounts = [Account(FUNDING, "CNY", 1)]
        accounts += [
            Account(x, "CNY", 2, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
            for x in range(2, ACCOUNTS + 1)
        ]
        assert set(ledger.create_accounts(accounts)) == {"ok"}
        funding = [Transfer(10**30 + x, FUNDING, x, 2_000, "CNY", 9) for x in range(2, ACCOUNTS + 1)]
        assert set(ledger.create_transfers(funding)) == {"ok"}

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    processes = [context.Process(target=_worker, args=(store_url, w, queue)) for w in range(WORKERS)]
    for process in processes:
        process.start()
    outcomes = [queue.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0

    assert [o["error"] for o in outcomes] == [None] * WORKERS
    created = [i for o in outcomes for i in o["created"]]  # type: ignore[attr-defined]
    counts = Counter(created)
    assert max(counts.values()) == 1, "a transfer id was created twice"
    shared = {t.id for r in range(ROUNDS) for t in _shared_batch(r)}
    assert shared <= set(counts), "every shared transfer was created by exactly one worker"

    with Ledger.open(store_url) as ledger:
        report = ledger.verify()
        assert report.ok, report.first_error
        assert report.transfers == len(created) + len(funding)
        found = ledger.lookup_accounts(list(range(1, ACCOUNTS + 1)))
        debits = sum(a.debits_pending + a.debits_posted for a in found)
        credits = sum(a.credits_pending + a.credits_posted for a in found)
        assert debits == credits
        for a in found[1:]:
            assert a.debits_pending + a.debits_posted <= a.credits_posted
        assert sum(a.credits_posted for a in found[1:]) >= 2_000 * (ACCOUNTS - 1)
        flags: Counter[int] = Counter()
        cursor = None
        while True:
            page = ledger.list_transfers(cursor=cursor, limit=1000)
            flags.update(t.flags & 0xF for t in page.transfers)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    # the workload really mixed every kind of event across processes
    for kind in (
        TransferFlags.PENDING,
        TransferFlags.POST_PENDING,
        TransferFlags.VOID_PENDING,
        TransferFlags.LINKED,
    ):
        assert flags[int(kind)] > 0, kind
