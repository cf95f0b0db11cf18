"""Whole journeys in real Chromium with a virtual passkey authenticator.

Opening an account and creating a passkey, signing in with the passkey alone, paying a
new payee with a passkey step-up (then again in elder mode), finding the payment in the
history, and a risk analyst labelling a decision in the console. Every step is scanned
with axe-core and photographed (test-artefacts/e2e/).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

from netfin.identity.model import Actor, Role
from netfin.payments.orders.model import Endpoint, EndpointKind, OrderKind, OrderRequest, OrderStatus

from .conftest import (
    Person,
    Portal,
    axe_scan,
    elder_mode,
    resident_id,
    set_elder_mode,
    shot,
    sign_in,
    sign_out,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSKEY_TIMEOUT_MS = 20_000


def _create_passkey(page: Page) -> None:
    """On /passkey: press Create, let the virtual authenticator answer, see the confirmation."""
    with page.expect_navigation(url="**/passkey?done=1", timeout=PASSKEY_TIMEOUT_MS):
        page.click("#passkey-create")
    page.wait_for_selector("#passkey-done", state="visible")


def _pay(page: Page, person: Person, payee: str, amount: str, reference: str) -> str:
    """Fill the pay-a-person form and submit it; the order's status on its result page."""
    page.goto("/pay")
    form = page.locator("#pay-form")
    form.locator("select[name=payer]").select_option(f"account:{person.account_id}")
    form.locator("input#payee").fill(payee)
    form.locator("input[name=amount]").fill(amount)
    form.locator("input[name=reference]").fill(reference)
    with page.expect_navigation():
        page.click("#pay-submit")
    assert "/pay/" in page.url, f"the payment was not submitted: {page.url}"
    return str(page.get_attribute("#pay-result", "data-status"))


def _confirm_with_passkey(page: Page) -> None:
    with page.expect_navigation(timeout=PASSKEY_TIMEOUT_MS):
        page.click("#confirm-passkey")
    page.wait_for_selector("#pay-result[data-status=settled]")


def test_open_an_account_create_a_passkey_and_sign_in_with_it(portal: Portal, passkey_page: Page) -> None:
    page = passkey_page
    page.goto("/open")
    axe_scan(page, "01-open-account")
    page.fill("#display_name", "王小明")
    page.fill("#phone", portal.phone())
    page.fill("#id_number", resident_id())
    page.fill("#password", "a long enough password")
    shot(page, "01-open-account")
    with page.expect_navigation():
        page.click("#open-submit")
    assert page.url.endswith("/passkey"), f"account opening landed on {page.url}"
    number = page.inner_text("#customer-number").strip()
    assert number
    axe_scan(page, "02-passkey")
    _create_passkey(page)
    axe_scan(page, "02-passkey-done")
    shot(page, "02-passkey")
    page.goto("/home")
    sign_out(page)
    assert page.url.endswith("/")
    with page.expect_navigation(url="**/home", timeout=PASSKEY_TIMEOUT_MS):
        page.click("#passkey-sign-in")
    page.goto("/passkey")
    assert page.inner_text("#customer-number").strip() == number  # the passkey named the same customer


def test_pay_a_new_payee_with_a_step_up_then_again_in_elder_mode(portal: Portal, passkey_page: Page) -> None:
    page = passkey_page
    payer, payee = portal.customer("Zhang", 500_000), portal.customer("Li", 0)
    reference = f"e2e-rent-{secrets.token_hex(3)}"
    sign_in(page, payer)
    page.goto("/passkey")
    _create_passkey(page)
    assert _pay(page, payer, payee.account_id, "12.34", reference) == OrderStatus.STEP_UP.value
    assert page.locator("#confirm-passkey").is_visible()
    axe_scan(page, "03-pay-step-up")
    shot(page, "03-pay-step-up", readme=True)
    _confirm_with_passkey(page)
    assert "12.34" in page.inner_text("#pay-result")
    axe_scan(page, "03-pay-settled")

    page.goto("/pay")
    set_elder_mode(page, True)
    axe_scan(page, "04-elder-pay-form")
    status = _pay(page, payer, payee.account_id, "1.00", reference + "-again")
    assert elder_mode(page)
    if status == OrderStatus.STEP_UP.value:
        _confirm_with_passkey(page)
    assert page.get_attribute("#pay-result", "data-status") == OrderStatus.SETTLED.value
    shot(page, "04-elder-pay", readme=True)
    settled_url = page.url

    page.goto(f"/history?q={quote(reference)}")
    rows = page.locator("#history-results tbody tr", has_text=reference)
    assert rows.count() == 2, page.inner_text("#history-results")  # both payments carry the reference
    shot(page, "04-history")
    axe_scan(page, "04-history")
    page.goto(settled_url)  # scanned last, so a finding there does not hide the history's outcome
    axe_scan(page, "04-elder-pay")


def _declined_decision(portal: Portal, analyst: Person) -> str:
    """A payment to a blocked payee: the risk engine declines it and queues the decision for review."""
    payer, payee = portal.customer("Mule payer", 50_000), portal.customer("Mule", 0)
    actor, party = Actor("risk_analyst", analyst.number), f"account:{payee.account_id}"
    portal.bank.risk.set_override(actor, party, "block", reason="reported mule account (e2e)")
    try:
        request = OrderRequest(
            OrderKind.ACCOUNT_TO_ACCOUNT, Endpoint(EndpointKind.ACCOUNT, payer.account_id),
            Endpoint(EndpointKind.ACCOUNT, payee.account_id), 150, "CNY",
        )  # fmt: skip
        order = portal.bank.orders.submit(
            Actor("customer", payer.number), payer.party_id, request, idempotency_key=secrets.token_hex(8)
        )
    finally:
        portal.bank.risk.clear_override(actor, party)
    assert order.status is OrderStatus.REJECTED
    found = [d for d in portal.bank.risk.review_queue(limit=100) if d.order_id == order.order_id]
    assert len(found) == 1
    return found[0].decision_id


def test_a_risk_analyst_labels_a_decision_in_the_console(portal: Portal, page: Page) -> None:
    analyst = portal.staff("Risk analyst", (Role.RISK_ANALYST,))
    decision_id = _declined_decision(portal, analyst)
    page.set_viewport_size({"width": 1280, "height": 800})  # staff work at a desk
    sign_in(page, analyst, landing="/console")
    axe_scan(page, "console-home")
    shot(page, "console-home", readme=True)
    page.click("a[href='/console/risk']")
    row = page.locator(f"[id='decision-{decision_id}']")
    assert row.count() == 1 and "override_block" in row.inner_text()
    axe_scan(page, "06-console-risk")
    shot(page, "06-console-risk", readme=True)
    with page.expect_navigation():
        row.locator("button[name=label][value=confirmed_fraud]").click()
    assert page.url.endswith("/console/risk")
    row = page.locator(f"[id='decision-{decision_id}']")
    assert row.count() == 0 or "confirmed" in row.inner_text().lower()
    assert decision_id not in {d.decision_id for d in portal.bank.risk.review_queue(limit=100)}
    shot(page, "06-console-risk-labelled")
