"""AML as the payment outbox's consumer: settled payments in, alerts on the payee's case, a durable cursor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netfin.aml.monitoring.model import Txn
from netfin.aml.reports import FilingKind, schema_path, validate
from netfin.bank import Bank, BankSettings
from netfin.core.clock import ManualClock
from netfin.core.ids import format_id
from netfin.filings import CaseReports, reporting_entity_from_env
from netfin.identity.model import Actor, PartyKind
from netfin.payments.orders import Endpoint, EndpointKind, OrderKind, OrderRequest, OrderStatus
from netfin.payments.orders.aml import txn_from_event
from netfin.payments.orders.service import AllowAll

OPERATOR = Actor("operator", "operator-1")
OFFICER = Actor("compliance", "officer-1")
ANALYST = Actor("risk_analyst", "analyst-1")
YUAN = 100


@pytest.fixture
def bank(store_url: str, clock: ManualClock) -> Iterator[Bank]:
    opened = Bank(BankSettings(database_url=store_url), clock=clock)
    opened.orders.sca = type(opened.orders.sca)(
        threshold_minor={}, default_threshold_minor=10**12, new_payee=False
    )
    opened.orders.risk = AllowAll()
    try:
        yield opened
    finally:
        opened.close()


def _customer(bank: Bank, name: str, phone: str, funds: int) -> tuple[int, str]:
    party = bank.identity.register_party(OPERATOR, kind=PartyKind.PERSON, display_name=name, phone=phone)
    account = bank.identity.open_account(OPERATOR, party.party_id, currency="CNY")
    if funds:
        bank.identity.deposit_cash(OPERATOR, account.account_id, funds)
    return party.party_id, account.account_id


def test_a_fan_in_of_settled_payments_opens_a_case_for_the_payee(bank: Bank, clock: ManualClock) -> None:
    collector_party, collector = _customer(bank, "Collector", "+8613800000000", 0)
    for i in range(12):
        party, account = _customer(bank, f"Payer {i}", f"+86138000001{i:02d}", 5_000 * YUAN)
        request = OrderRequest(
            OrderKind.ACCOUNT_TO_ACCOUNT,
            Endpoint(EndpointKind.ACCOUNT, account),
            Endpoint(EndpointKind.ACCOUNT, collector),
            3_000 * YUAN,
            "CNY",
        )
        order = bank.orders.submit(OPERATOR, party, request, idempotency_key=f"fan-{i}")
        assert order.status is OrderStatus.SETTLED
        clock.advance(seconds=600)
    consumed = bank.monitor_aml()
    assert consumed.events == 12 and consumed.alerts_new >= 1 and consumed.cases_opened == 1
    (case,) = bank.aml.cases.cases(OFFICER, party=format_id(collector_party))
    assert "fan_in" in case.typologies
    again = bank.monitor_aml()  # nothing new after the cursor
    assert again.events == 0 and again.cursor == consumed.cursor

    # The analyst proposes a report, a second officer approves: a suspicious-transaction report is filed.
    proposed = bank.aml.cases.decide(ANALYST, case.case_id, "report", "twelve unrelated payers in two hours")
    _, alerts, _ = bank.aml.cases.case(OFFICER, case.case_id)
    goaml = CaseReports(
        bank.identity, bank.orders, reporting_entity_from_env({"NETFIN_AML_GOAML_RENTITY_ID": "4711"})
    )(proposed, alerts, "goaml", FilingKind.SUSPICIOUS, "officer-2")
    validate(goaml, schema_path("goaml", FilingKind.SUSPICIOUS))
    assert b"<rentity_id>4711</rentity_id>" in goaml and b"STR" in goaml
    filing = bank.aml.cases.approve(OFFICER, case.case_id, layout="pboc")
    assert filing.kind == "suspicious"
    document = filing.document.decode()
    assert "<" in document and "Collector" in document and "STR-FAN-IN" in document
    validate(filing.document, schema_path("pboc", FilingKind.SUSPICIOUS))
    assert document.count("300000") >= 12  # every payment, in minor units


def test_a_restarted_monitor_warms_up_its_windows(store_url: str, clock: ManualClock) -> None:
    """Six payers before a restart and six after are one fan-in of twelve: the windows survive."""
    first = _open(store_url, clock)
    collector_party, collector = _customer(first, "Collector", "+8613800000000", 0)
    for i in range(6):
        _pay(first, collector, i)
        clock.advance(seconds=600)
    assert first.monitor_aml().alerts_new == 0  # six payers: not yet a fan-in
    first.close()
    second = _open(store_url, clock)
    try:
        for i in range(6, 12):
            _pay(second, collector, i)
            clock.advance(seconds=600)
        consumed = second.monitor_aml()
        assert consumed.events == 6 and consumed.alerts_new >= 1
        (case,) = second.aml.cases.cases(OFFICER, party=format_id(collector_party))
        assert "fan_in" in case.typologies
    finally:
        second.close()


def _open(store_url: str, clock: ManualClock) -> Bank:
    opened = Bank(BankSettings(database_url=store_url), clock=clock)
    opened.orders.sca = type(opened.orders.sca)(
        threshold_minor={}, default_threshold_minor=10**12, new_payee=False
    )
    opened.orders.risk = AllowAll()
    return opened


def _pay(bank: Bank, collector: str, i: int) -> None:
    party, account = _customer(bank, f"Payer {i}", f"+86138000001{i:02d}", 5_000 * YUAN)
    request = OrderRequest(
        OrderKind.ACCOUNT_TO_ACCOUNT,
        Endpoint(EndpointKind.ACCOUNT, account),
        Endpoint(EndpointKind.ACCOUNT, collector),
        3_000 * YUAN,
        "CNY",
    )
    assert (
        bank.orders.submit(OPERATOR, party, request, idempotency_key=f"fan-{i}").status is OrderStatus.SETTLED
    )


def test_outbox_events_become_transactions() -> None:
    event = {
        "type": "payment.settled",
        "order_id": "o-1",
        "created_ns": 1_700_000_000_123_456_789,
        "payload": {
            "kind": "cross_border",
            "amount_minor": 12_345,
            "currency": "CNY",
            "payer": "account:a1",
            "payee": "external:DE89370400440532013000",
        },
    }
    txn = txn_from_event(event, home_country="CN")
    assert txn == Txn(
        "o-1", 1_700_000_000_123, "account:a1", "external:DE89370400440532013000", 12_345, "CNY",
        "cross_border", "person", "external", "CN", "DE",
    )  # fmt: skip
    assert txn_from_event({**event, "type": "payment.rejected"}, home_country="CN") is None
