"""``/v1/credit`` on both stores: a customer borrows and repays; a partner's checkout offers BNPL."""

from __future__ import annotations

from netfin.core.ids import parse_id
from netfin.identity.model import Actor, Role
from netfin.sim import openbanking as ob
from netfin.sim.openbanking import bearer

from .conftest import World

OPERATOR = Actor("operator", "operator-1")


def _cny(world: World, customer: ob.Customer, amount: str) -> str:
    world.bank.identity.raise_kyc(
        OPERATOR, parse_id(customer.party_id), evidence="remote_id_check", reference="r"
    )
    return ob.open_funded_account(world.http, customer, world.operator, "CNY", amount)


def test_a_customer_applies_accepts_sees_and_repays_a_loan(world: World) -> None:
    alice, http = world.alice, world.http
    account = _cny(world, alice, "100.00")
    body = {
        "product": "personal_instalment",
        "amount": "3000.00",
        "currency": "CNY",
        "term": 6,
        "monthly_income": "15000.00",
        "method": "equal_principal",
    }
    decided = http.post("/v1/credit/applications", json=body, headers=bearer(alice.session))
    assert decided.status_code == 201 and decided.json()["decision"] == "approve", decided.text
    offer = decided.json()
    assert offer["offer"]["instalments"] == 6 and offer["price"]["reasons"][0]["code"] == "base_rate"
    path = f"/v1/credit/applications/{offer['application_id']}"
    assert http.get(path, headers=bearer(world.bob.session)).status_code == 404
    loan = http.post(path + "/accept", json={"settlement_account_id": account}, headers=bearer(alice.session))
    assert loan.status_code == 201 and loan.json()["owed_minor"] == 300_000, loan.text
    loan_path = f"/v1/credit/loans/{loan.json()['loan_id']}"
    assert len(http.get(loan_path, headers=bearer(alice.session)).json()["schedule"]) == 6
    assert http.get(loan_path, headers=bearer(world.bob.session)).status_code == 404
    paid = http.post(
        loan_path + "/repayments",
        json={"amount": "3050.00", "currency": "CNY"},
        headers=bearer(alice.session),
    )
    assert paid.status_code == 201 and paid.json()["loan"]["status"] == "closed", paid.text
    assert (
        http.post(
            loan_path + "/repayments",
            json={"amount": "1.005", "currency": "CNY"},
            headers=bearer(alice.session),
        ).status_code
        == 400
    )


def test_a_partner_checkout_offers_bnpl_under_the_customers_consent(world: World) -> None:
    alice, http = world.alice, world.http
    account = _cny(world, alice, "2000.00")
    shop = _cny(world, world.bob, "0")
    consent_id, _ = ob.account_access(http, world.tpp_a, alice, world.token_url, account_ids=[account])
    grant = world.tpp_a.client_credentials(http, world.token_url, "payments")
    body = {
        "consent_id": consent_id,
        "price": "1200.00",
        "currency": "CNY",
        "instalments": 3,
        "merchant_account_id": shop,
        "down_payment": "200.00",
    }
    offered = http.post("/v1/credit/bnpl/offers", json=body, headers=bearer(grant))
    assert offered.status_code == 201 and offered.json()["decision"] == "approve", offered.text
    assert "points" not in offered.json() and "reasons" not in offered.json()
    other = world.tpp_b.client_credentials(http, world.token_url, "payments")
    assert http.post("/v1/credit/bnpl/offers", json=body, headers=bearer(other)).status_code == 404
    application = offered.json()["application_id"]
    accepted = http.post(
        f"/v1/credit/applications/{application}/accept",
        json={"settlement_account_id": account},
        headers=bearer(alice.session),
    )
    assert accepted.status_code == 201 and accepted.json()["owed_minor"] == 100_000, accepted.text
    shop_ledger = world.bank.identity.get_account(shop).ledger_account_id
    [merchant] = world.bank.ledger.lookup_accounts([shop_ledger])
    assert merchant.credits_posted == 120_000 - 3_000  # paid at once, less the 2.5 % merchant fee


def test_staff_read_the_book_and_only_an_analyst_writes_off(world: World) -> None:
    analyst = ob.staff_session(world.bank, roles=(Role.RISK_ANALYST,), name="Risk")
    assert world.http.get("/v1/credit/book", headers=bearer(world.auditor)).status_code == 200
    assert world.http.get("/v1/credit/book", headers=bearer(world.alice.session)).status_code == 403
    missing = "/v1/credit/loans/" + "0" * 32 + "/write-off"
    assert (
        world.http.post(missing, json={"reason": "gone"}, headers=bearer(world.operator)).status_code == 403
    )
    assert world.http.post(missing, json={"reason": "gone"}, headers=bearer(analyst)).status_code == 404
