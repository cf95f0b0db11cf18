"""The customer portal: sign-in, pages, consents, elder mode, languages and security headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from netfin.api.app import create_app
from netfin.bank import Bank, BankSettings
from netfin.core.clock import ManualClock
from netfin.core.ids import format_id
from netfin.core.money import Money
from netfin.credit.origination import Application, Decision
from netfin.identity.consents.model import ConsentStatus
from netfin.identity.model import Actor, PartyKind

OPERATOR = Actor("operator", "operator-1")
BASE_URL = "https://testserver"
PAGE_BYTES_MAX = 100 * 1024
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


@dataclass
class Person:
    party_id: int
    account_id: str
    password: str


@pytest.fixture
def bank(store_url: str, clock: ManualClock) -> Iterator[Bank]:
    opened = Bank(BankSettings(database_url=store_url), clock=clock)
    yield opened
    opened.close()


def _portal(bank: Bank) -> TestClient:
    """The whole application, as ``netfin serve`` runs it (guards, API and portal together)."""
    return TestClient(create_app(bank), base_url=BASE_URL, follow_redirects=False)


def _person(bank: Bank, name: str, phone: str, funds_minor: int) -> Person:
    party = bank.identity.register_party(OPERATOR, kind=PartyKind.PERSON, display_name=name, phone=phone)
    bank.identity.raise_kyc(OPERATOR, party.party_id, evidence="remote_id_check", reference="ref-1")
    password = f"correct horse {name} battery"
    bank.credentials.set_password(party.party_id, password)
    account = bank.identity.open_account(OPERATOR, party.party_id, currency="CNY", nickname=f"{name} pay")
    if funds_minor:
        bank.identity.deposit_cash(OPERATOR, account.account_id, funds_minor)
    return Person(party.party_id, account.account_id, password)


@pytest.fixture
def alice(bank: Bank) -> Person:
    return _person(bank, "Alice", "+8613800000101", 123_456)


@pytest.fixture
def bob(bank: Bank) -> Person:
    return _person(bank, "Bob", "+8613800000102", 987_654)


def _csrf(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


def _sign_in(http: TestClient, person: Person, password: str | None = None) -> TestClient:
    token = _csrf(http.get("/").text)
    response = http.post(
        "/sign-in",
        data={"csrf": token, "party_id": format_id(person.party_id), "password": password or person.password},
    )
    assert response.status_code == 303 and response.headers["location"] == "/home", response.text
    return http


def _authorised_consent(bank: Bank, person: Person, client_id: str) -> str:
    consent = bank.consents.create_account_access(
        Actor("tpp", client_id), client_id, permissions=["ReadAccountsBasic", "ReadBalances"],
        expiration_ns=None, transaction_from_ns=None, transaction_to_ns=None,
    )  # fmt: skip
    customer = Actor("customer", format_id(person.party_id))
    bank.consents.authorise(
        customer, consent.consent_id, party_id=person.party_id, account_ids=[person.account_id]
    )
    return consent.consent_id


def test_sign_in_refuses_a_bad_csrf_token_and_a_wrong_password(bank: Bank, alice: Person) -> None:
    http = _portal(bank)
    first = http.get("/")
    assert first.status_code == 200 and "登录" in first.text
    token = _csrf(first.text)
    form = {"party_id": format_id(alice.party_id), "password": alice.password}
    forged = http.post("/sign-in", data={**form, "csrf": "0" * 64})
    assert forged.status_code == 403 and "netfin_session" not in forged.cookies
    http.cookies.clear()
    token = _csrf(http.get("/").text)
    wrong = http.post("/sign-in", data={**form, "password": "not the password at all", "csrf": token})
    assert wrong.status_code == 401 and "客户号或密码不正确" in wrong.text
    assert "netfin_session" not in wrong.cookies
    assert http.get("/home").headers["location"] == "/"


def test_sign_in_sets_a_strict_http_only_session_cookie(bank: Bank, alice: Person) -> None:
    http = _portal(bank)
    token = _csrf(http.get("/").text)
    response = http.post(
        "/sign-in", data={"csrf": token, "party_id": format_id(alice.party_id), "password": alice.password}
    )
    assert response.status_code == 303 and response.headers["location"] == "/home"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("netfin_session="))
    attributes = cookie.lower()
    assert "httponly" in attributes and "samesite=strict" in attributes and "secure" in attributes
    assert alice.password not in cookie
    assert http.get("/").headers["location"] == "/home"
    out = http.post("/sign-out", data={"csrf": _csrf(http.get("/home").text)})
    assert out.status_code == 303 and http.get("/home").headers["location"] == "/"


def test_home_shows_own_balances_and_never_another_customers(bank: Bank, alice: Person, bob: Person) -> None:
    bob_consent = _authorised_consent(bank, bob, "tpp-of-bob")
    http = _sign_in(_portal(bank), alice)
    home = http.get("/home")
    assert home.status_code == 200
    assert "1,234.56" in home.text and "Alice pay" in home.text
    pages = "".join(http.get(path).text for path in ("/home", "/loans", "/consents"))
    assert "9,876.54" not in pages and "Bob pay" not in pages
    assert bob_consent not in pages and "tpp-of-bob" not in pages
    assert bank.identity.get_account(bob.account_id).iban not in pages


def test_loans_page_shows_the_repayment_schedule(bank: Bank, alice: Person) -> None:
    application = Application(
        party_id=alice.party_id, product="personal_instalment", amount=Money(1_200_000, "CNY"), term=12,
        monthly_income=Money(1_500_000, "CNY"),
    )  # fmt: skip
    outcome = bank.origination.apply(Actor("customer", format_id(alice.party_id)), application)
    assert outcome.decision is Decision.APPROVE
    loan = bank.loans.accept(
        OPERATOR, outcome.application_id, party_id=alice.party_id, settlement_account_id=alice.account_id
    )
    http = _sign_in(_portal(bank), alice)
    page = http.get("/loans", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "Repayment schedule" in page.text and "12,000.00" in page.text
    for item in loan.position.instalments:
        assert item.due.isoformat() in page.text
    first = loan.position.instalments[0]
    first_minor = first.principal + first.interest + first.fee
    assert f"{first_minor // 100:,}.{first_minor % 100:02d}" in page.text


def test_a_customer_revokes_a_consent_with_a_valid_form_only(bank: Bank, alice: Person, bob: Person) -> None:
    consent_id = _authorised_consent(bank, alice, "budget-app")
    http = _sign_in(_portal(bank), alice)
    page = http.get("/consents")
    assert "budget-app" in page.text and f"/consents/{consent_id}/revoke" in page.text
    forged = http.post(f"/consents/{consent_id}/revoke", data={"csrf": "f" * 64})
    assert forged.status_code == 403
    assert bank.consents.get(consent_id).status is ConsentStatus.AUTHORISED
    intruder = _sign_in(_portal(bank), bob)
    refused = intruder.post(
        f"/consents/{consent_id}/revoke", data={"csrf": _csrf(intruder.get("/consents").text)}
    )
    assert refused.status_code == 409
    assert bank.consents.get(consent_id).status is ConsentStatus.AUTHORISED
    done = http.post(f"/consents/{consent_id}/revoke", data={"csrf": _csrf(page.text)})
    assert done.status_code == 303 and done.headers["location"] == "/consents"
    assert bank.consents.get(consent_id).status is ConsentStatus.REVOKED
    assert "已撤销" in http.get("/consents").text


def test_elder_mode_persists_across_sign_in_and_enlarges_the_page(bank: Bank, alice: Person) -> None:
    http = _sign_in(_portal(bank), alice)
    standard = http.get("/home")
    assert '<body class="standard">' in standard.text and "read-aloud" not in standard.text
    forged = http.post("/settings/elder", data={"csrf": "0" * 64, "next": "/home"})
    assert forged.status_code == 403 and '<body class="standard">' in http.get("/home").text
    turned = http.post("/settings/elder", data={"csrf": _csrf(standard.text), "next": "/loans"})
    assert turned.status_code == 303 and turned.headers["location"] == "/loans"
    http.post("/sign-out", data={"csrf": _csrf(http.get("/home").text)})
    http.cookies.clear()
    again = _sign_in(http, alice).get("/home")
    assert '<body class="elder">' in again.text
    assert 'id="read-aloud"' in again.text and '<script src="/assets/elder.js" defer>' in again.text
    css = http.get("/assets/portal.css").text
    assert re.search(r"body\.elder \{[^}]*font-size: 22px", css)
    assert re.search(r"body\.elder button[^{]*\{[^}]*min-height: 56px", css)
    script = http.get("/assets/elder.js")
    assert script.status_code == 200 and "speechSynthesis" in script.text and "http" not in script.text


def test_chinese_and_english_render(bank: Bank, alice: Person) -> None:
    http = _portal(bank)
    assert 'lang="zh-CN"' in http.get("/").text and "客户号" in http.get("/").text
    english = http.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert 'lang="en"' in english.text and "Customer number" in english.text
    switched = http.get("/lang/en?next=/home")
    assert switched.status_code == 303 and switched.headers["location"] == "/home"
    assert "My accounts" in _sign_in(http, alice).get("/home").text
    http.get("/lang/zh?next=/loans")
    assert "我的账户" in http.get("/home", headers={"Accept-Language": "en"}).text
    assert http.get("/lang/xx?next=https://elsewhere.example").headers["location"] == "/"


def test_every_page_is_small_and_carries_the_security_headers(bank: Bank, alice: Person) -> None:
    _authorised_consent(bank, alice, "budget-app")
    http = _portal(bank)
    css_bytes = len(http.get("/assets/portal.css").content)
    sign_in = http.get("/")
    _sign_in(http, alice)
    responses = [sign_in, *(http.get(path) for path in ("/home", "/loans", "/consents"))]
    for response in responses:
        assert response.status_code == 200
        assert len(response.content) + css_bytes <= PAGE_BYTES_MAX
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        external = response.text.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "<script>" not in response.text and "http://" not in external
        assert alice.password not in response.text
    assert http.get("/assets/../portal.py").status_code == 404
