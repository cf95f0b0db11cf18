"""The home page's figures: end-of-day balances walked back from the ledger, spending by category."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from netfin.bank import Bank, BankSettings
from netfin.core.clock import ManualClock, utc_date
from netfin.identity.model import Actor, PartyKind
from netfin.payments.orders import Endpoint, EndpointKind, OrderKind, OrderStatus
from netfin.payments.orders.model import PaymentOrder
from netfin.web.insights import DAYS, balance_series, spending_by_category

OPERATOR = Actor("operator", "operator-1")
DAY_S = 86_400


@pytest.fixture
def bank(store_url: str, clock: ManualClock) -> Iterator[Bank]:
    opened = Bank(BankSettings(database_url=store_url), clock=clock)
    yield opened
    opened.close()


def _customer(bank: Bank, phone: str) -> tuple[int, str]:
    party = bank.identity.register_party(OPERATOR, kind=PartyKind.PERSON, display_name="C", phone=phone)
    return party.party_id, bank.identity.open_account(OPERATOR, party.party_id, currency="CNY").account_id


def test_balance_series_ends_at_todays_balance_and_steps_on_the_right_days(
    bank: Bank, clock: ManualClock
) -> None:
    _, account_id = _customer(bank, "+8613800000301")
    clock.advance(seconds=DAY_S * 3)
    bank.identity.deposit_cash(OPERATOR, account_id, 10_000)  # 5 days before the end
    clock.advance(seconds=DAY_S * 2)
    bank.identity.deposit_cash(OPERATOR, account_id, 2_500)  # 3 days before the end
    clock.advance(seconds=DAY_S * 3)
    ledger_id = bank.identity.get_account(account_id).ledger_account_id
    series = balance_series(bank.ledger, ledger_id, 12_500, utc_date(clock.now_ns()))
    assert len(series.days) == DAYS and series.complete
    assert series.days[-1] == utc_date(clock.now_ns())
    assert series.balances_minor[-1] == 12_500
    assert series.balances_minor[-4] == 12_500 and series.balances_minor[-5] == 10_000
    assert series.balances_minor[-6] == 10_000 and series.balances_minor[-7] == 0
    assert series.balances_minor[0] == 0


def test_spending_groups_settled_outgoing_orders_by_category(bank: Bank) -> None:
    party, account_id = _customer(bank, "+8613800000303")
    template = PaymentOrder(
        order_id="o", kind=OrderKind.ACCOUNT_TO_ACCOUNT, status=OrderStatus.SETTLED, payer_party_id=party,
        payer=Endpoint(EndpointKind.ACCOUNT, account_id), payee=Endpoint(EndpointKind.ACCOUNT, "a-1"),
        amount_minor=100, currency="CNY", reference="", payee_reference="", original_order_id=None,
        refunded_minor=0, idempotency_key="k", fingerprint="f", first_transfer_id=1, chain_length=1,
        sca_required=False, sca_reasons=(), risk_action="approve", status_reason=None, created_ns=1,
        updated_ns=1, expires_ns=2,
    )  # fmt: skip
    orders = [
        template,
        replace(template, amount_minor=300, kind=OrderKind.MERCHANT_QR),
        replace(template, amount_minor=50, kind=OrderKind.BILL, payee=Endpoint(EndpointKind.BILLER, "b-1")),
        replace(template, amount_minor=999, status=OrderStatus.REJECTED),
        replace(template, amount_minor=999, payer_party_id=party + 1),
        replace(template, amount_minor=999, currency="EUR"),
        replace(template, amount_minor=999, kind=OrderKind.REFUND),
    ]
    assert spending_by_category(orders, party, "CNY", {"b-1": "utility"}) == {
        "shops": 300, "people": 100, "utility": 50,
    }  # fmt: skip
