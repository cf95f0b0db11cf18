"""Dynamic limits on both stores: risk signals move a wallet's daily limit inside its band, recorded."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from netfin.bank import Bank, BankSettings
from netfin.core.clock import ManualClock
from netfin.identity.model import Actor, PartyKind
from netfin.payments.orders.model import Endpoint, EndpointKind, OrderKind, OrderRequest, OrderStatus
from netfin.payments.wallets.dynamic import LimitReview
from netfin.risk.store import limit_changes

OPERATOR = Actor("operator", "operator-1")
ANALYST = Actor("risk_analyst", "analyst-1")
RULES = """
name: test
version: "1"
rules:
  - code: odd_amount
    description: An amount the test declines.
    description_zh: 测试拒绝的金额。
    when: amount_minor == 777
    action: decline
"""


class QuietModel:
    """A scorer that finds every payment clean (the policy reads its scores)."""

    version = "quiet-1"

    def score(self, row: Mapping[str, Any]) -> float:
        return 0.01

    def reasons(self, row: Mapping[str, Any], top: int = 3) -> list[tuple[str, float]]:
        return []


@pytest.fixture
def bank(store_url: str, clock: ManualClock, tmp_path: Path) -> Iterator[Bank]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    opened = Bank(
        BankSettings(database_url=store_url), clock=clock, environ={"NETFIN_RISK_RULES": str(rules)}
    )
    opened.orders.sca = type(opened.orders.sca)(
        threshold_minor={}, default_threshold_minor=10**12, new_payee=False
    )
    opened.risk.champion = QuietModel()
    try:
        yield opened
    finally:
        opened.close()


def _holder(bank: Bank, name: str, phone: str) -> tuple[int, str]:
    party = bank.identity.register_party(OPERATOR, kind=PartyKind.PERSON, display_name=name, phone=phone)
    for step in ("remote_id_check", "bank_card"):
        bank.identity.raise_kyc(OPERATOR, party.party_id, evidence=step, reference=f"ref-{step}")
    account = bank.identity.open_account(OPERATOR, party.party_id, currency="CNY")
    bank.identity.deposit_cash(OPERATOR, account.account_id, 100_000)
    wallet = bank.wallets.open(OPERATOR, party.party_id)
    top_up = OrderRequest(OrderKind.ACCOUNT_TO_ACCOUNT, Endpoint(EndpointKind.ACCOUNT, account.account_id),
                          Endpoint(EndpointKind.WALLET, wallet.wallet_id), 50_000, "CNY")  # fmt: skip
    assert (
        bank.orders.submit(OPERATOR, party.party_id, top_up, idempotency_key="top").status
        is OrderStatus.SETTLED
    )
    return party.party_id, wallet.wallet_id


def _pay(bank: Bank, payer: tuple[int, str], payee: tuple[int, str], amount: int, key: str) -> OrderStatus:
    request = OrderRequest(OrderKind.WALLET_TO_WALLET, Endpoint(EndpointKind.WALLET, payer[1]),
                           Endpoint(EndpointKind.WALLET, payee[1]), amount, "CNY")  # fmt: skip
    return bank.orders.submit(OPERATOR, payer[0], request, idempotency_key=key).status


def test_confirmed_fraud_drops_the_limit_to_the_floor(bank: Bank) -> None:
    payer, payee = _holder(bank, "Li Na", "+8613800000201"), _holder(bank, "Wu Gang", "+8613800000202")
    ceiling = bank.wallets.get(payer[1]).daily_limit
    assert _pay(bank, payer, payee, 777, "k1") is OrderStatus.REJECTED
    decision = bank.risk.review_queue(limit=1)[0]
    bank.risk.label(ANALYST, decision.decision_id, "confirmed_fraud")
    changes = bank.review_limits(OPERATOR)
    floor = ceiling * 2_000 // 10_000
    assert [(c["wallet_id"], c["to_minor"], c["reasons"]) for c in changes] == [
        (payer[1], floor, ["confirmed_fraud"])
    ]
    assert bank.wallets.get(payer[1]).daily_limit == floor
    assert bank.ledger.verify().ok
    assert _pay(bank, payer, payee, floor + 1, "k2") is OrderStatus.REJECTED  # the ledger holds the new limit
    recorded = limit_changes(bank.engine, f"{payer[0]:032x}")
    assert [(r["from_minor"], r["to_minor"]) for r in recorded] == [(ceiling, floor)]
    assert bank.review_limits(OPERATOR) == []  # nothing new: no further change


def test_a_decline_lowers_and_a_clean_month_raises_within_the_band(bank: Bank, clock: ManualClock) -> None:
    payer, payee = _holder(bank, "Li Na", "+8613800000201"), _holder(bank, "Wu Gang", "+8613800000202")
    ceiling = bank.wallets.get(payer[1]).daily_limit
    assert _pay(bank, payer, payee, 777, "k0") is OrderStatus.REJECTED
    lowered = ceiling * 7_500 // 10_000
    assert [c["to_minor"] for c in bank.review_limits(OPERATOR)] == [lowered]
    clock.advance(seconds=40 * 86_400)
    for n in range(21):
        assert _pay(bank, payer, payee, 100, f"k{n + 1}") is OrderStatus.SETTLED
        clock.advance(seconds=36 * 3_600)
    changes = bank.review_limits(OPERATOR, LimitReview(window_days=35))
    assert [(c["to_minor"], c["reasons"]) for c in changes] == [
        (min(ceiling, lowered * 11_000 // 10_000), ["clean_history"])
    ]
