"""The portal's customer journeys over HTTP: open an account, passkeys, pay with step-up,
history search, the wallet page and elder-mode speech, with a software authenticator."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from stdnum.cn import ric

from netfin.api.app import create_app
from netfin.bank import Bank, BankSettings
from netfin.core.clock import ManualClock
from netfin.core.ids import format_id
from netfin.identity.model import Actor, PartyKind
from netfin.payments.orders import OrderStatus
from netfin.payments.orders.history import HistoryQuery
from netfin.sim.authenticator import SoftwareAuthenticator

OPERATOR = Actor("operator", "operator-1")
ORIGIN = "http://localhost:8000"
PAGE_BYTES_MAX = 100 * 1024
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
_DATA_CSRF = re.compile(r'data-csrf="([0-9a-f]{64})"')
_NONCE = re.compile(r'name="nonce" value="([A-Za-z0-9_-]+)"')
_ORDER = re.compile(r"^/pay/([A-Za-z0-9_-]+)$")


def identity_number(birth: str = "19491231", serial: str = "002") -> str:
    base = "110105" + birth + serial
    return base + ric.calc_check_digit(base + "0")


@pytest.fixture
def bank(store_url: str, clock: ManualClock) -> Iterator[Bank]:
    opened = Bank(BankSettings(database_url=store_url), clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def http(bank: Bank) -> TestClient:
    return _client(bank)


def _client(bank: Bank) -> TestClient:
    return TestClient(
        create_app(bank),
        base_url="https://testserver",
        follow_redirects=False,
        headers={"Accept-Language": "en"},
    )


def _csrf(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


def _open(http: TestClient, **fields: str) -> TestClient:
    token = _csrf(http.get("/open").text)
    form = {"csrf": token, "display_name": "王小明", "phone": "+8613800000201",
            "id_number": identity_number(), "password": "a long enough password"} | fields  # fmt: skip
    response = http.post("/open", data=form)
    assert response.status_code == 303 and response.headers["location"] == "/passkey", response.text
    return http


def _register_passkey(http: TestClient, authenticator: SoftwareAuthenticator) -> None:
    page = http.get("/passkey").text
    found = _DATA_CSRF.search(page)
    assert found is not None and 'id="passkey-create"' in page
    headers = {"X-CSRF-Token": found.group(1)}
    options = http.post("/webauthn/register/options", headers=headers, json={})
    assert options.status_code == 200, options.text
    credential = authenticator.create(options.json())
    done = http.post("/webauthn/register", headers=headers, json={"credential": credential})
    assert done.status_code == 201, done.text
    assert 'id="passkey-done"' in http.get(done.json()["next"]).text


def _party_of(http: TestClient) -> str:
    found = re.search(r'id="customer-number"[^>]*>([0-9a-f]{32})<', http.get("/passkey").text)
    assert found is not None
    return found.group(1)


def _funded_payee(bank: Bank, name: str = "Bob") -> str:
    party = bank.identity.register_party(OPERATOR, kind=PartyKind.PERSON, display_name=name,
                                         phone="+8613800000299")  # fmt: skip
    return bank.identity.open_account(OPERATOR, party.party_id, currency="CNY").account_id


def _fund(bank: Bank, party_hex: str, amount_minor: int) -> str:
    account = bank.identity.accounts_of(int(party_hex, 16))[0]
    bank.identity.deposit_cash(OPERATOR, account.account_id, amount_minor)
    return account.account_id


def _pay(http: TestClient, payer: str, payee: str, amount: str, reference: str) -> str:
    page = http.get("/pay").text
    nonce = _NONCE.search(page)
    assert nonce is not None
    form = {"csrf": _csrf(page), "nonce": nonce.group(1), "mode": "person", "payer": f"account:{payer}",
            "payee": payee, "amount": amount, "reference": reference}  # fmt: skip
    response = http.post("/pay", data=form)
    assert response.status_code == 303, response.text
    found = _ORDER.match(response.headers["location"])
    assert found is not None
    return found.group(1)


def _confirm(http: TestClient, order_id: str, authenticator: SoftwareAuthenticator) -> None:
    page = http.get(f"/pay/{order_id}").text
    assert 'data-status="step_up"' in page and 'id="confirm-passkey"' in page
    found = _DATA_CSRF.search(page)
    assert found is not None
    headers = {"X-CSRF-Token": found.group(1)}
    options = http.post(f"/webauthn/orders/{order_id}/options", headers=headers, json={})
    assert options.status_code == 200, options.text
    assertion = authenticator.get(options.json())
    done = http.post(f"/webauthn/orders/{order_id}/confirm", headers=headers, json={"credential": assertion})
    assert done.status_code == 200, done.text


def test_open_an_account_create_a_passkey_and_sign_in_with_it(http: TestClient, bank: Bank) -> None:
    authenticator = SoftwareAuthenticator("localhost", ORIGIN)
    _open(http)
    party = _party_of(http)
    stored = bank.identity.get_party(int(party, 16))
    assert stored.display_name == "王小明" and int(stored.kyc_level) == 1
    assert [i.scheme for i in bank.identity.identifiers(stored.party_id)] == ["cn.ric"]
    assert len(bank.identity.accounts_of(stored.party_id)) == 1
    assert len(bank.wallets.of_party(stored.party_id)) == 1
    _register_passkey(http, authenticator)
    http.post("/sign-out", data={"csrf": _csrf(http.get("/home").text)})
    assert http.get("/home").status_code == 303
    sign_in = http.get("/").text
    headers = {"X-CSRF-Token": _DATA_CSRF.findall(sign_in)[0]}
    options = http.post("/webauthn/login/options", headers=headers, json={})
    assert options.status_code == 200
    assertion = authenticator.get(options.json())
    signed = http.post("/webauthn/login", headers=headers, json={"credential": assertion})
    assert signed.status_code == 200 and signed.json() == {"next": "/home"}, signed.text
    assert http.get("/home").status_code == 200
    assert {"web.account.open", "auth.passkey.register", "web.passkey.login"} <= _audited_actions(bank, party)


def _audited_actions(bank: Bank, party_hex: str) -> set[str]:
    deadline = time.monotonic() + 10
    while (bank.audit.queue_depth or bank.audit.in_flight) and time.monotonic() < deadline:
        time.sleep(0.01)
    return {entry.action for entry in bank.audit.query(actor_id=party_hex, limit=100).entries}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("id_number", "110105194912310021", "identity card number is not valid"),
        ("phone", "not a phone", "country code"),
        ("password", "short", "8 to 128 characters"),
    ],
)
def test_opening_refuses_bad_details_and_writes_nothing(
    http: TestClient, bank: Bank, field: str, value: str, message: str
) -> None:
    before = sum(1 for _ in bank.identity.iter_parties())
    token = _csrf(http.get("/open").text)
    form = {"csrf": token, "display_name": "李四", "phone": "+8613800000202", "id_number": identity_number(),
            "password": "a long enough password", field: value}  # fmt: skip
    response = http.post("/open", data=form)
    assert response.status_code == 422 and message in response.text
    assert 'aria-invalid="true"' in response.text
    assert sum(1 for _ in bank.identity.iter_parties()) == before
    assert "netfin_session" not in response.cookies


def test_opening_needs_the_form_token(http: TestClient, bank: Bank) -> None:
    http.get("/open")
    form = {"csrf": "0" * 64, "display_name": "x", "phone": "+8613800000203",
            "id_number": identity_number(), "password": "long password 1"}  # fmt: skip
    response = http.post("/open", data=form)
    assert response.status_code == 403


def test_pay_a_new_payee_with_step_up_then_again_in_elder_mode(http: TestClient, bank: Bank) -> None:
    authenticator = SoftwareAuthenticator("localhost", ORIGIN)
    _open(http)
    _register_passkey(http, authenticator)
    payer = _fund(bank, _party_of(http), 50_000)
    payee = _funded_payee(bank)
    order_id = _pay(http, payer, payee, "12.34", "rent for May")
    assert bank.orders.get(order_id).status is OrderStatus.STEP_UP
    _confirm(http, order_id, authenticator)
    assert 'data-status="settled"' in http.get(f"/pay/{order_id}").text
    assert bank.orders.get(order_id).status is OrderStatus.SETTLED
    http.post("/settings/elder", data={"csrf": _csrf(http.get("/home").text), "next": "/pay"})
    pay_page = http.get("/pay").text
    assert 'class="elder"' in pay_page and f'value="{payee}"' in pay_page, "the payee is saved"
    assert "B*b" in pay_page and "B*b" in http.get(f"/pay/{order_id}").text, "confirmation of payee, masked"
    for path in ("/open", "/passkey", "/home", "/pay", f"/pay/{order_id}", "/history", "/wallet"):
        page = http.get(path)
        assert page.status_code == 200 and len(page.content) <= PAGE_BYTES_MAX, path
        assert page.headers["content-security-policy"].startswith("default-src 'self'"), path
    second = _pay(http, payer, payee, "1.00", "tea")
    assert bank.orders.get(second).status is OrderStatus.SETTLED, "a known payee, a small amount: no step-up"
    assert "data-speak" in http.get(f"/pay/{second}").text


def test_history_searches_and_pages(http: TestClient, bank: Bank) -> None:
    _open(http)
    payer = _fund(bank, _party_of(http), 90_000)
    payee = _funded_payee(bank)
    for n in range(3):
        _pay(http, payer, payee, f"{n + 1}.00", f"groceries {n}")
    found = http.get("/history", params={"q": "GROCERIES 1"})
    assert found.status_code == 200 and "groceries 1" in found.text and "groceries 2" not in found.text
    assert "groceries 0" in http.get("/history").text
    assert "No payments found" in http.get("/history", params={"q": "100%_"}).text, "a literal, not a pattern"
    assert http.get("/history", params={"from": "not a date"}).status_code == 422
    assert len(http.get("/history").content) <= PAGE_BYTES_MAX


def test_someone_elses_order_is_not_found(http: TestClient, bank: Bank) -> None:
    _open(http)
    payer = _fund(bank, _party_of(http), 10_000)
    order_id = _pay(http, payer, _funded_payee(bank), "2.00", "x")
    other = _client(bank)
    _open(other, phone="+8613800000209", id_number=identity_number(serial="013"))
    assert other.get(f"/pay/{order_id}").status_code == 404
    assert other.post(f"/webauthn/orders/{order_id}/options", json={}).status_code == 403, "no form token"
    headers = {"X-CSRF-Token": _DATA_CSRF.findall(other.get("/passkey").text)[0]}
    assert other.post(f"/webauthn/orders/{order_id}/options", headers=headers, json={}).status_code == 404
    assert bank.orders.get(order_id).status is OrderStatus.STEP_UP, "untouched"


def test_wallet_page_shows_classes_and_upgrades_when_kyc_allows(http: TestClient, bank: Bank) -> None:
    _open(http)
    party = int(_party_of(http), 16)
    page = http.get("/wallet")
    assert page.status_code == 200 and "Wallet classes" in page.text
    http.get("/lang/zh", params={"next": "/wallet"})
    assert "钱包等级" in http.get("/wallet").text
    wallet = bank.wallets.of_party(party)[0]
    assert 'id="upgrade-' not in page.text
    bank.identity.raise_kyc(OPERATOR, party, evidence="remote_id_check", reference="check-1")
    token = _csrf(http.get("/wallet").text)
    upgraded = http.post(f"/wallet/{wallet.wallet_id}/upgrade", data={"csrf": token})
    assert upgraded.status_code == 303
    assert bank.wallets.get(wallet.wallet_id).class_no < wallet.class_no


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None and os.environ.get("CI") != "true",
    reason="espeak-ng is not installed (make e2e-deps installs it; under CI=true this test never skips)",
)
def test_speech_fallback_reads_with_espeak(http: TestClient) -> None:
    _open(http)
    token = _DATA_CSRF.findall(http.get("/passkey").text)[0]
    spoken = http.post("/speech?lang=zh", headers={"X-CSRF-Token": token}, json={"text": "已付款 12.34 元"})
    assert spoken.status_code == 200 and spoken.headers["content-type"] == "audio/wav"
    assert spoken.content[:4] == b"RIFF"
    assert http.post("/speech", json={"text": "x"}).status_code == 403, "the form token is required"
    too_long = http.post("/speech", headers={"X-CSRF-Token": token}, json={"text": "x" * 301})
    assert too_long.status_code == 400


def test_customer_number_is_shown_and_party_ids_are_hex(http: TestClient) -> None:
    _open(http)
    assert re.fullmatch(r"[0-9a-f]{32}", _party_of(http))
    assert format_id(int(_party_of(http), 16)) == _party_of(http)


def test_a_signed_out_session_is_refused_even_when_copied(http: TestClient, bank: Bank) -> None:
    _open(http)
    copied = http.cookies.get("netfin_session")
    assert copied and http.get("/home").status_code == 200
    out = http.post("/sign-out", data={"csrf": _csrf(http.get("/home").text)})
    assert out.status_code == 303
    thief = _client(bank)
    thief.cookies.set("netfin_session", copied)
    assert thief.get("/home").status_code == 303, "the copied token no longer opens a page"
    assert thief.post("/webauthn/register/options", json={}).status_code == 403


@pytest.mark.parametrize("payee", ["nobody", "GB00NOTANIBAN", "0" * 31, "w-123"])
def test_an_unknown_payee_is_refused_and_nothing_is_paid(http: TestClient, bank: Bank, payee: str) -> None:
    _open(http)
    party = _party_of(http)
    payer = _fund(bank, party, 10_000)
    page = http.get("/pay").text
    nonce = _NONCE.search(page)
    assert nonce is not None
    form = {"csrf": _csrf(page), "nonce": nonce.group(1), "mode": "person", "payer": f"account:{payer}",
            "payee": payee, "amount": "1.00", "reference": "x"}  # fmt: skip
    response = http.post("/pay", data=form)
    assert response.status_code == 422 and 'id="pay-error"' in response.text
    assert bank.orders.history(int(party, 16), HistoryQuery()) == []


def test_a_payee_by_iban_is_found(http: TestClient, bank: Bank) -> None:
    _open(http)
    payer = _fund(bank, _party_of(http), 10_000)
    iban = bank.identity.get_account(_funded_payee(bank)).iban
    order_id = _pay(http, payer, iban.lower(), "1.50", "by iban")
    assert bank.orders.get(order_id).payee.id == bank.identity.find_account_by_iban(iban).account_id


def test_one_connection_cannot_open_accounts_or_try_passwords_without_limit(
    http: TestClient, bank: Bank
) -> None:
    """The anonymous policy: a burst of 20 per client address, then 429 with Retry-After."""
    token = _csrf(http.get("/").text)
    form = {"csrf": token, "party_id": "0" * 32, "password": "wrong password"}
    statuses = [http.post("/sign-in", data=form).status_code for _ in range(20)]
    assert set(statuses) == {401}
    refused = http.post("/sign-in", data=form)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    before = sum(1 for _ in bank.identity.iter_parties())
    opening = http.post("/open", data={"csrf": _csrf(http.get("/open").text), "display_name": "x",
                                       "phone": "+8613800000299", "id_number": identity_number(),
                                       "password": "long enough password"})  # fmt: skip
    assert opening.status_code == 429
    assert sum(1 for _ in bank.identity.iter_parties()) == before
    assert http.post("/webauthn/login/options", json={}).status_code == 403
