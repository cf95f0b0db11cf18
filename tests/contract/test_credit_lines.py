"""Revolving credit lines on the ledger, on SQLite and PostgreSQL: the ledger enforces the limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netfin.bank import Bank, BankSettings
from netfin.core.clock import ManualClock
from netfin.core.errors import Conflict
from netfin.core.money import Money
from netfin.credit.lines import CreditLine
from netfin.credit.origination import Application, Decision
from netfin.identity.model import Actor, PartyKind
from netfin.risk.limits import LimitPolicy
from netfin.risk.store import limit_changes, risk_decisions

OPERATOR = Actor("operator", "operator-1")


@pytest.fixture
def bank(store_url: str, clock: ManualClock) -> Iterator[Bank]:
    opened = Bank(BankSettings(database_url=store_url), clock=clock)
    try:
        yield opened
        assert opened.ledger.verify().ok
    finally:
        opened.close()


def _line(bank: Bank, phone: str) -> tuple[int, str, CreditLine]:
    party = bank.identity.register_party(
        OPERATOR, kind=PartyKind.ENTERPRISE, display_name="Tea Co", phone=phone
    )
    for evidence in ("remote_id_check", "bank_card"):
        bank.identity.raise_kyc(OPERATOR, party.party_id, evidence=evidence, reference="ref")
    account = bank.identity.open_account(OPERATOR, party.party_id, currency="CNY")
    outcome = bank.origination.apply(
        OPERATOR,
        Application(
            party.party_id, "sme_revolving_line", Money(2_000_000, "CNY"), 12, Money(5_000_000, "CNY")
        ),
    )
    assert outcome.decision is Decision.APPROVE and outcome.offer is not None
    line = bank.credit_lines.open(
        OPERATOR, outcome.application_id, party_id=party.party_id, settlement_account_id=account.account_id
    )
    return party.party_id, account.account_id, line


def _clean_history(bank: Bank, party_hex: str, clock: ManualClock) -> None:
    """Payments the risk engine approved with low scores over the last weeks (the policy's evidence)."""
    rows = [
        {
            "decision_id": f"d{k}",
            "order_id": None,
            "payer": party_hex,
            "payee": "someone",
            "amount_minor": 100,
            "currency": "CNY",
            "segment": "retail",
            "action": "approve",
            "score": 0.001,
            "model_version": "m",
            "challenger_score": None,
            "challenger_version": None,
            "ruleset_version": "r",
            "reasons": [],
            "features": {},
            "decided_ns": clock.now_ns() - k * 86_400 * 10**9,
            "latency_us": 100,
        }
        for k in range(40)
    ]
    with bank.engine.begin() as connection:
        connection.execute(risk_decisions.insert(), rows)


def _receivable(bank: Bank, line: CreditLine) -> int:
    [account] = bank.ledger.lookup_accounts([line.receivable])
    return account.debits_posted - account.credits_posted


def test_draws_up_to_the_limit_and_not_a_cent_more(bank: Bank) -> None:
    party, _, line = _line(bank, "+8613900000001")
    assert line.limit_minor == 2_000_000 and line.available_minor == 2_000_000
    drawn = bank.credit_lines.draw(OPERATOR, line.line_id, 1_500_000, party_id=party)
    assert drawn.available_minor == 500_000 and _receivable(bank, drawn) == 1_500_000
    with pytest.raises(Conflict, match="unused limit"):
        bank.credit_lines.draw(OPERATOR, line.line_id, 500_001, party_id=party)
    assert bank.credit_lines.get(line.line_id).drawn_minor == 1_500_000


def test_interest_is_charged_daily_and_repaid_before_principal(bank: Bank, clock: ManualClock) -> None:
    party, _, line = _line(bank, "+8613900000002")
    bank.credit_lines.draw(OPERATOR, line.line_id, 1_000_000, party_id=party)
    clock.advance(seconds=30 * 86_400)
    statement = bank.credit_lines.charge_interest(OPERATOR, line.line_id)
    # 30 days of 10,000.00 at the offered rate, ACT/365F, rounded once
    rate = bank.credit_lines.get(line.line_id).annual_rate
    assert statement.interest == round(1_000_000 * rate * 30 / 365)
    charged = bank.credit_lines.get(line.line_id)
    assert _receivable(bank, charged) == 1_000_000 + statement.interest
    repaid = bank.credit_lines.repay(OPERATOR, line.line_id, statement.interest + 400_000, party_id=party)
    assert repaid.interest_due_minor == 0 and repaid.drawn_minor == 600_000
    assert repaid.available_minor == 1_400_000 and _receivable(bank, repaid) == 600_000


def test_the_risk_engine_moves_the_limit_but_never_below_what_is_drawn(
    bank: Bank, clock: ManualClock
) -> None:
    party, _, line = _line(bank, "+8613900000003")
    _clean_history(bank, line.party_id, clock)
    bank.credit_lines.draw(OPERATOR, line.line_id, 1_800_000, party_id=party)
    with pytest.raises(Conflict, match="drawn"):
        bank.credit_lines.set_limit(OPERATOR, line.line_id, 1_000_000, reason="manual cut")
    changes = bank.credit_lines.review_limits(OPERATOR, policy=LimitPolicy())
    assert [c["to_minor"] for c in changes] == [2_200_000]  # +10 % of the limit
    assert bank.credit_lines.get(line.line_id).available_minor == 400_000
    assert limit_changes(bank.engine, line.party_id)[-1]["limit_name"] == "credit_line"
