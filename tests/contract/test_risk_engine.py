"""The risk engine on the payment path, on both stores: decisions stored, actions obeyed, labels kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from netfin.bank import Bank, BankSettings
from netfin.core.clock import ManualClock
from netfin.core.errors import Forbidden, InvalidInput, NotFound
from netfin.identity.model import Actor, PartyKind
from netfin.payments.orders.model import Endpoint, EndpointKind, OrderKind, OrderRequest, OrderStatus
from netfin.risk.decisions import Action
from netfin.risk.store import risk_decisions

OPERATOR = Actor("operator", "operator-1")
ANALYST = Actor("risk_analyst", "analyst-1")
YUAN = 100

RULES = """
name: test
version: "{version}"
rules:
  - code: odd_amount
    description: An amount the test declines.
    description_zh: 测试拒绝的金额。
    when: amount_minor == {amount}
    action: decline
  - code: review_amount
    description: An amount the test reviews.
    description_zh: 测试复核的金额。
    when: amount_minor == 4242
    action: review
"""


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.format(version="1", amount=777))
    return path


@pytest.fixture
def bank(store_url: str, clock: ManualClock, rules_file: Path) -> Iterator[Bank]:
    opened = Bank(
        BankSettings(database_url=store_url), clock=clock, environ={"NETFIN_RISK_RULES": str(rules_file)}
    )
    opened.orders.sca = type(opened.orders.sca)(
        threshold_minor={}, default_threshold_minor=10**12, new_payee=False
    )
    try:
        yield opened
    finally:
        opened.close()


def _pair(bank: Bank) -> tuple[int, str, str]:
    ids = []
    for name, phone in (("Li Na", "+8613800000101"), ("Wu Gang", "+8613800000102")):
        party = bank.identity.register_party(OPERATOR, kind=PartyKind.PERSON, display_name=name, phone=phone)
        for step in ("remote_id_check", "bank_card"):
            bank.identity.raise_kyc(OPERATOR, party.party_id, evidence=step, reference=f"ref-{step}")
        account = bank.identity.open_account(OPERATOR, party.party_id, currency="CNY")
        bank.identity.deposit_cash(OPERATOR, account.account_id, 10_000 * YUAN)
        ids.append((party.party_id, account.account_id))
    return ids[0][0], ids[0][1], ids[1][1]


def _pay(bank: Bank, payer: int, source: str, target: str, amount: int, key: str) -> object:
    request = OrderRequest(
        OrderKind.ACCOUNT_TO_ACCOUNT,
        Endpoint(EndpointKind.ACCOUNT, source),
        Endpoint(EndpointKind.ACCOUNT, target),
        amount,
        "CNY",
    )
    return bank.orders.submit(OPERATOR, payer, request, idempotency_key=key)


def test_every_payment_gets_a_stored_decision_with_features(bank: Bank) -> None:
    payer, source, target = _pair(bank)
    order = _pay(bank, payer, source, target, 12 * YUAN, "k1")
    assert order.status is OrderStatus.SETTLED  # type: ignore[attr-defined]
    bank.risk.log.flush()  # type: ignore[union-attr]
    with bank.engine.connect() as c:
        rows = c.execute(sa.select(risk_decisions)).all()
    assert len(rows) == 1
    row = rows[0]
    assert row.order_id == order.order_id and row.action == "approve"  # type: ignore[attr-defined]
    assert row.features["payer_count_1h"] == 1 and row.features["first_time_payee"] is True
    assert row.ruleset_version.startswith("1+")


def test_a_declining_rule_rejects_the_payment_and_a_review_asks_for_a_passkey(bank: Bank) -> None:
    payer, source, target = _pair(bank)
    declined = _pay(bank, payer, source, target, 777, "k1")
    assert declined.status is OrderStatus.REJECTED and declined.status_reason == "risk_rejected"  # type: ignore[attr-defined]
    reviewed = _pay(bank, payer, source, target, 4242, "k2")
    assert reviewed.status is OrderStatus.STEP_UP and "risk_step_up" in reviewed.sca_reasons  # type: ignore[attr-defined]
    queue = bank.risk.review_queue(limit=10)
    assert [d.action for d in queue] == [Action.REVIEW, Action.DECLINE]
    assert queue[0].reason_codes()[0] == "review_amount"


def test_the_rule_file_reloads_and_a_broken_one_is_refused(
    bank: Bank, rules_file: Path, clock: ManualClock
) -> None:
    payer, source, target = _pair(bank)
    rules_file.write_text(RULES.format(version="2", amount=888))
    bank.risk.rules.reload()  # type: ignore[union-attr]
    assert _pay(bank, payer, source, target, 777, "k1").status is OrderStatus.SETTLED  # type: ignore[attr-defined]
    assert _pay(bank, payer, source, target, 888, "k2").status is OrderStatus.REJECTED  # type: ignore[attr-defined]
    rules_file.write_text("name: broken\nversion: '3'\nrules:\n  - code: x\n    when: nope(\n")
    bank.risk.rules.reload()  # type: ignore[union-attr]
    assert bank.risk.rules.current().version == "2"
    assert _pay(bank, payer, source, target, 888, "k3").status is OrderStatus.REJECTED  # type: ignore[attr-defined]


def test_an_operator_block_declines_and_is_audited(bank: Bank) -> None:
    payer, source, target = _pair(bank)
    bank.risk.set_override(ANALYST, f"account:{target}", "block", reason="mule report 17")
    order = _pay(bank, payer, source, target, 5 * YUAN, "k1")
    assert order.status is OrderStatus.REJECTED  # type: ignore[attr-defined]
    bank.risk.clear_override(ANALYST, f"account:{target}")
    assert _pay(bank, payer, source, target, 5 * YUAN, "k2").status is OrderStatus.SETTLED  # type: ignore[attr-defined]
    actions = [e.action for e in bank.audit.query(subject_id=f"account:{target}").entries]
    assert "risk.override.set" in actions and "risk.override.clear" in actions


def test_analysts_label_decisions(bank: Bank) -> None:
    payer, source, target = _pair(bank)
    _pay(bank, payer, source, target, 777, "k1")
    decision = bank.risk.review_queue(limit=1)[0]
    label = bank.risk.label(ANALYST, decision.decision_id, "false_positive", note="known payee")
    assert label.outcome.value == "false_positive"
    assert bank.risk.review_queue(limit=5) == []  # labelled decisions leave the queue
    pairs = bank.risk.store.training_pairs(limit=10)  # type: ignore[union-attr]
    assert [(d.decision_id, outcome and outcome.value) for d, outcome in pairs] == [
        (decision.decision_id, "false_positive")
    ]
    with pytest.raises(InvalidInput):
        bank.risk.label(ANALYST, decision.decision_id, "maybe")
    with pytest.raises(NotFound):
        bank.risk.label(ANALYST, "rd-missing", "confirmed_fraud")
    with pytest.raises(Forbidden):
        bank.risk.label(Actor("customer", "c1"), decision.decision_id, "confirmed_fraud")


def test_overrides_are_shared_by_every_worker_and_survive_a_restart(
    bank: Bank, store_url: str, clock: ManualClock, rules_file: Path
) -> None:
    payer, source, target = _pair(bank)
    bank.risk.set_override(ANALYST, f"account:{target}", "block", reason="mule report 18")
    other = Bank(
        BankSettings(database_url=store_url), clock=clock, environ={"NETFIN_RISK_RULES": str(rules_file)}
    )
    try:
        other.orders.sca = bank.orders.sca
        assert _pay(other, payer, source, target, 5 * YUAN, "k1").status is OrderStatus.REJECTED  # type: ignore[attr-defined]
        bank.risk.clear_override(ANALYST, f"account:{target}")
        other.risk.overrides_refresh_ns = 0  # reread at once instead of within five seconds
        assert _pay(other, payer, source, target, 5 * YUAN, "k2").status is OrderStatus.SETTLED  # type: ignore[attr-defined]
    finally:
        other.close()
