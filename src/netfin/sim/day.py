"""One simulated business day of a small bank, written through the ledger."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from netfin.core.clock import ManualClock
from netfin.core.ids import SeededIds
from netfin.core.money import currency_exponent
from netfin.ledger import AMOUNT_MAX, Account, AccountFlags, Ledger, Transfer, TransferFlags

# Account codes (chart of accounts) used by the simulation.
CODE_SETTLEMENT = 100  # the bank's settlement account at the central bank
CODE_CUSTOMER = 200  # customer current accounts (liabilities of the bank)
CODE_MERCHANT = 300  # merchant accounts
CODE_BILLER = 400  # public-service payees: utilities, hospitals, schools

# Transfer codes.
SALARY, PURCHASE, P2P, BILL, CARD_HOLD = 1, 2, 3, 4, 5

BATCH = 500


@dataclass
class DaySummary:
    currency: str
    customers: int
    merchants: int
    billers: int
    attempted: int = 0
    results: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    settlement_id: int = 0
    customer_ids: list[int] = field(default_factory=list)
    merchant_ids: list[int] = field(default_factory=list)
    biller_ids: list[int] = field(default_factory=list)


def simulate_day(
    ledger: Ledger,
    clock: ManualClock,
    *,
    customers: int = 200,
    merchants: int = 20,
    billers: int = 5,
    events: int = 5_000,
    currency: str = "CNY",
    seed: int = 7,
    progress: Callable[[int], None] | None = None,
) -> DaySummary:
    """Open accounts, then run ``events`` payments spread over 24 hours."""
    rng = random.Random(seed)
    ids = SeededIds(clock, seed)
    unit = 10 ** currency_exponent(currency)
    summary = DaySummary(currency, customers, merchants, billers)
    summary.settlement_id = ids.new_id()
    limited = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
    accounts = [Account(summary.settlement_id, currency, CODE_SETTLEMENT)]
    for count, code, bucket, flags in (
        (customers, CODE_CUSTOMER, summary.customer_ids, limited | AccountFlags.HISTORY),
        (merchants, CODE_MERCHANT, summary.merchant_ids, limited),
        (billers, CODE_BILLER, summary.biller_ids, limited),
    ):
        for _ in range(count):
            bucket.append(ids.new_id())
            accounts.append(Account(bucket[-1], currency, code, flags=flags))
    for start in range(0, len(accounts), 8190):
        results = ledger.create_accounts(accounts[start : start + 8190])
        bad = [r for r in results if r != "ok"]
        if bad:
            raise RuntimeError(f"could not open the day's accounts: {bad[:3]}")
    step_ns = 86_400 * 10**9 // max(events, 1)
    holds: list[Transfer] = []
    batch: list[Transfer] = []
    done = 0
    for n in range(events):
        clock.advance(ns=step_ns)
        batch.extend(_next_event(rng, ids, summary, unit, holds, n, events))
        if len(batch) >= BATCH or n == events - 1:
            _submit(ledger, batch, summary)
            done += len(batch)
            if progress:
                progress(n + 1)
            batch = []
    return summary


def _next_event(
    rng: random.Random,
    ids: SeededIds,
    s: DaySummary,
    unit: int,
    holds: list[Transfer],
    n: int,
    events: int,
) -> list[Transfer]:
    c = s.currency
    customer = rng.choice(s.customer_ids)
    if n < len(s.customer_ids):  # salaries arrive first thing in the morning
        s.kinds["salary"] += 1
        amount = rng.randint(3_000, 15_000) * unit
        return [Transfer(ids.new_id(), s.settlement_id, s.customer_ids[n], amount, c, SALARY)]
    roll = rng.random()
    if roll < 0.45:
        s.kinds["purchase"] += 1
        amount = rng.randint(5, 800) * unit + rng.randint(0, unit - 1)
        return [Transfer(ids.new_id(), customer, rng.choice(s.merchant_ids), amount, c, PURCHASE)]
    if roll < 0.65:
        s.kinds["card hold"] += 1
        amount = rng.randint(20, 2_000) * unit
        hold = Transfer(
            ids.new_id(),
            customer,
            rng.choice(s.merchant_ids),
            amount,
            c,
            CARD_HOLD,
            flags=TransferFlags.PENDING,
            timeout=rng.choice([3_600, 6 * 3_600]),
        )
        holds.append(hold)
        return [hold]
    if roll < 0.80 and holds:
        hold = holds.pop(rng.randrange(len(holds)))
        return [_settle_hold(rng, ids, s, hold)]
    if roll < 0.92:
        s.kinds["p2p (linked with fee)"] += 1
        payee = rng.choice(s.customer_ids)
        if payee == customer:
            payee = s.customer_ids[(s.customer_ids.index(customer) + 1) % len(s.customer_ids)]
        amount = rng.randint(10, 3_000) * unit
        fee = max(amount // 1000, 1)
        return [
            Transfer(ids.new_id(), customer, payee, amount, c, P2P, flags=TransferFlags.LINKED),
            Transfer(ids.new_id(), customer, s.settlement_id, fee, c, P2P),
        ]
    s.kinds["bill"] += 1
    amount = rng.randint(30, 600) * unit
    return [Transfer(ids.new_id(), customer, rng.choice(s.biller_ids), amount, c, BILL)]


def _settle_hold(rng: random.Random, ids: SeededIds, s: DaySummary, hold: Transfer) -> Transfer:
    if rng.random() < 0.8:
        s.kinds["capture"] += 1
        partial = rng.random() < 0.3
        amount = hold.amount * rng.randint(50, 99) // 100 if partial else AMOUNT_MAX
        return Transfer(ids.new_id(), amount=amount, flags=TransferFlags.POST_PENDING, pending_id=hold.id)
    s.kinds["void"] += 1
    return Transfer(ids.new_id(), flags=TransferFlags.VOID_PENDING, pending_id=hold.id)


def _submit(ledger: Ledger, batch: list[Transfer], s: DaySummary) -> None:
    results = ledger.create_transfers(batch)
    s.attempted += len(batch)
    s.results.update(str(r) for r in results)
