"""50 payments race against one wallet's limits from several processes (PostgreSQL).

Each worker process opens its own ``Bank`` on the same database and submits
its share of the 50 payments at once. The limits live in the ledger, so
however the payments interleave, the wallet's spend within the day never
passes the daily limit and the payee's wallet never passes its balance limit.
"""

from __future__ import annotations

import multiprocessing

import pytest

from netfin.bank import Bank, BankSettings
from netfin.identity.model import Actor, PartyKind
from netfin.payments.orders import Endpoint, EndpointKind, OrderKind, OrderRequest, OrderStatus, ScaPolicy

OPERATOR = Actor("operator", "operator-1")
YUAN = 100
PAYMENTS = 50
WORKERS = 5
AMOUNT = 300 * YUAN  # 50 x 300 = 15,000 yuan wanted; the class-4 day allows 5,000


def _no_sca(bank: Bank) -> None:
    bank.orders.sca = ScaPolicy(threshold_minor={}, default_threshold_minor=10**12, new_payee=False)


def _worker(
    url: str, worker: int, party_id: int, payer: str, payee: str, queue: multiprocessing.Queue
) -> None:  # type: ignore[type-arg]
    outcome: dict[str, object] = {"settled": 0, "reasons": [], "error": None}
    try:
        with Bank(BankSettings(database_url=url)) as bank:
            _no_sca(bank)
            for n in range(worker, PAYMENTS, WORKERS):
                request = OrderRequest(
                    OrderKind.WALLET_TO_WALLET,
                    Endpoint(EndpointKind.WALLET, payer),
                    Endpoint(EndpointKind.WALLET, payee),
                    AMOUNT,
                    "CNY",
                )
                order = bank.orders.submit(OPERATOR, party_id, request, idempotency_key=f"race-{n}")
                if order.status is OrderStatus.SETTLED:
                    outcome["settled"] = int(outcome["settled"]) + 1  # type: ignore[call-overload]
                else:
                    outcome["reasons"].append(order.status_reason)  # type: ignore[attr-defined]
    except Exception as error:  # reported to the parent, which fails the test
        outcome["error"] = repr(error)
    queue.put(outcome)


@pytest.mark.slow
@pytest.mark.parametrize("binding", ["daily", "balance"])
def test_parallel_payments_never_pass_the_daily_or_balance_limit(pg_url: str, binding: str) -> None:
    with Bank(BankSettings(database_url=pg_url)) as bank:
        _no_sca(bank)
        payer = bank.identity.register_party(
            OPERATOR, kind=PartyKind.PERSON, display_name="An", phone="+8613800000001"
        )
        payee = bank.identity.register_party(
            OPERATOR, kind=PartyKind.PERSON, display_name="Bai", phone="+8613800000002"
        )
        if binding == "daily":  # a fully verified payee: no balance limit, so the payer's day binds
            for step in ("remote_id_check", "bank_card", "in_person_check"):
                bank.identity.raise_kyc(OPERATOR, payee.party_id, evidence=step, reference=step)
        account = bank.identity.open_account(OPERATOR, payer.party_id, currency="CNY")
        bank.identity.deposit_cash(OPERATOR, account.account_id, 20_000 * YUAN)
        payer_wallet = bank.wallets.open(OPERATOR, payer.party_id)  # class 4: daily 5,000
        payee_wallet = bank.wallets.open(OPERATOR, payee.party_id)  # class 4: balance 10,000, or class 1
        top_up = OrderRequest(
            OrderKind.ACCOUNT_TO_ACCOUNT,
            Endpoint(EndpointKind.ACCOUNT, account.account_id),
            Endpoint(EndpointKind.WALLET, payer_wallet.wallet_id),
            10_000 * YUAN,
            "CNY",
        )
        assert (
            bank.orders.submit(OPERATOR, payer.party_id, top_up, idempotency_key="top").status
            is OrderStatus.SETTLED
        )
        # The payee already holds 6,000, so a class-4 payee's 10,000 binds before the payer's daily 5,000.
        payee_account = bank.identity.open_account(OPERATOR, payee.party_id, currency="CNY")
        bank.identity.deposit_cash(OPERATOR, payee_account.account_id, 6_000 * YUAN)
        seed = OrderRequest(
            OrderKind.ACCOUNT_TO_ACCOUNT,
            Endpoint(EndpointKind.ACCOUNT, payee_account.account_id),
            Endpoint(EndpointKind.WALLET, payee_wallet.wallet_id),
            6_000 * YUAN,
            "CNY",
        )
        assert (
            bank.orders.submit(OPERATOR, payee.party_id, seed, idempotency_key="seed").status
            is OrderStatus.SETTLED
        )

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(
            target=_worker,
            args=(pg_url, w, payer.party_id, payer_wallet.wallet_id, payee_wallet.wallet_id, queue),
        )
        for w in range(WORKERS)
    ]
    for p in workers:
        p.start()
    outcomes = [queue.get(timeout=300) for _ in workers]
    for p in workers:
        p.join(timeout=60)
    assert [o["error"] for o in outcomes] == [None] * WORKERS
    settled = sum(int(o["settled"]) for o in outcomes)  # type: ignore[call-overload]
    reasons = {r for o in outcomes for r in o["reasons"]}  # type: ignore[attr-defined]

    with Bank(BankSettings(database_url=pg_url)) as bank:
        payer_balance = bank.wallets.balance(bank.wallets.get(payer_wallet.wallet_id))
        payee_balance = bank.wallets.balance(bank.wallets.get(payee_wallet.wallet_id))
        room = 5_000 * YUAN if binding == "daily" else 4_000 * YUAN
        assert settled * AMOUNT <= room
        assert settled == room // AMOUNT  # every payment that fits got in, and no more
        assert payee_balance.balance == 6_000 * YUAN + settled * AMOUNT
        assert payer_balance.balance == 10_000 * YUAN - settled * AMOUNT
        assert payer_balance.daily_room == 5_000 * YUAN - settled * AMOUNT >= 0
        if binding == "balance":
            assert payee_balance.balance <= 10_000 * YUAN
        expected = (
            "wallet_daily_limit_exceeded" if binding == "daily" else "payee_wallet_balance_limit_exceeded"
        )
        assert reasons == {expected}
        assert bank.ledger.verify().ok
