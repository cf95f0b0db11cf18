"""Open-banking journeys over the HTTP API, as customers, staff and TPPs make them.

The demo, the end-to-end tests and the benchmarks drive the API through
these steps (any client with httpx's ``get``/``post`` interface works:
``fastapi.testclient.TestClient`` in-process, or ``httpx.Client`` over a
socket). A TPP's request bodies go out signed (``x-jws-signature``, see
``signed``), as the payment and event-subscription POSTs require.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from netfin.core.ids import format_id
from netfin.identity.model import Actor, PartyKind, Role
from netfin.sim.authenticator import SoftwareAuthenticator
from netfin.sim.tpp import SoftwareTpp

OB = "/open-banking/v4.0"
AIS_PERMISSIONS = [
    "ReadAccountsDetail",
    "ReadBalances",
    "ReadTransactionsDetail",
    "ReadTransactionsCredits",
    "ReadTransactionsDebits",
]


# Any client with httpx's get/post/delete: fastapi.testclient.TestClient, httpx.Client.
Http = Any


class StepFailed(Exception):
    """A journey step got an unexpected answer; the message holds the problem document."""


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def signed(tpp: SoftwareTpp, document: Any, **headers: str) -> dict[str, Any]:
    """Keyword arguments for ``http.post``/``http.put``: the JSON body as exact bytes, signed.

    The ``x-jws-signature`` covers the very bytes sent, so the body is
    serialised here rather than by the HTTP client:
    ``http.post(url, **signed(tpp, body, **bearer(token)))``.
    """
    content = json.dumps(document, separators=(",", ":")).encode("utf-8")
    signature = {"Content-Type": "application/json", "x-jws-signature": tpp.sign_body(content)}
    return {"content": content, "headers": {**headers, **signature}}


def expect(response: Any, status: int) -> Any:
    if response.status_code != status:
        raise StepFailed(
            f"{response.request.method} {response.request.url} -> {response.status_code}: {response.text}"
        )
    return response.json() if response.content else None


def staff_session(bank: Any, *, roles: tuple[Role, ...] = (Role.OPERATOR,), name: str = "Operations") -> str:
    """Bootstrap a member of staff directly through the services (as ``netfin admin`` does)."""
    party = bank.identity.register_party(
        Actor.system("bootstrap"),
        kind=PartyKind.PERSON,
        display_name=name,
        phone="+447700900001",
        roles=roles,
    )
    session = bank.oauth.issue_session(
        party_id=party.party_id, roles=[r.value for r in roles], amr=["pwd"], auth_time_ns=bank.clock.now_ns()
    )
    return str(session.token)


@dataclass
class Customer:
    party_id: str
    session: str
    authenticator: SoftwareAuthenticator
    account_ids: list[str] = field(default_factory=list)
    ibans: list[str] = field(default_factory=list)


def sign_up(
    http: Http, authenticator: SoftwareAuthenticator, *, name: str, phone: str, password: str | None = None
) -> Customer:
    """Sign up with a password, enrol a passkey, then sign in with the passkey."""
    body = {"display_name": name, "phone": phone, "password": password or uuid.uuid4().hex}
    enrol = expect(http.post("/v1/signup", json=body), 201)
    options = expect(http.post("/v1/me/passkeys/options", headers=bearer(enrol["session_token"])), 200)
    credential = authenticator.create(options)
    expect(
        http.post("/v1/me/passkeys", json={"credential": credential}, headers=bearer(enrol["session_token"])),
        201,
    )
    return Customer(enrol["party_id"], passkey_login(http, authenticator, enrol["party_id"]), authenticator)


def passkey_login(http: Http, authenticator: SoftwareAuthenticator, party_id: str) -> str:
    options = expect(http.post("/v1/auth/passkey/options", json={"party_id": party_id}), 200)
    session = expect(http.post("/v1/auth/passkey", json={"credential": authenticator.get(options)}), 200)
    return str(session["session_token"])


def open_funded_account(http: Http, customer: Customer, operator: str, currency: str, amount: str) -> str:
    account = expect(
        http.post("/v1/me/accounts", json={"currency": currency}, headers=bearer(customer.session)), 201
    )
    if amount != "0":
        body = {"amount": amount, "currency": currency}
        expect(
            http.post(f"/v1/accounts/{account['account_id']}/deposits", json=body, headers=bearer(operator)),
            201,
        )
    customer.account_ids.append(account["account_id"])
    customer.ibans.append(account["iban"])
    return str(account["account_id"])


def register_tpp(http: Http, operator: str, name: str, scopes: list[str], redirect_uri: str) -> SoftwareTpp:
    tpp = SoftwareTpp(name)
    body = {"name": name, "jwks": tpp.public_jwks, "scopes": scopes, "redirect_uris": [redirect_uri]}
    registered = expect(http.post("/v1/tpps", json=body, headers=bearer(operator)), 201)
    tpp.client_id = registered["client_id"]
    return tpp


def authorise(http: Http, customer: Customer, consent_id: str, account_ids: list[str]) -> dict[str, Any]:
    """The customer approves a consent with a fresh passkey assertion."""
    headers = bearer(customer.session)
    options = expect(http.post(f"/v1/me/consents/{consent_id}/authorise/options", headers=headers), 200)
    body = {"account_ids": account_ids, "credential": customer.authenticator.get(options)}
    return expect(http.post(f"/v1/me/consents/{consent_id}/authorise", json=body, headers=headers), 200)  # type: ignore[no-any-return]


def account_access(
    http: Http, tpp: SoftwareTpp, customer: Customer, token_url: str, *, account_ids: list[str],
    permissions: list[str] | None = None, expiration: str | None = None,
) -> tuple[str, str]:  # fmt: skip
    """The whole AIS dance: consent, customer authorisation, code exchange. Returns (consent id, token)."""
    grant = tpp.client_credentials(http, token_url, "accounts")
    data: dict[str, Any] = {"Permissions": permissions or AIS_PERMISSIONS}
    if expiration:
        data["ExpirationDateTime"] = expiration
    document = {"Data": data, "Risk": {}}
    consent = expect(
        http.post(f"{OB}/aisp/account-access-consents", **signed(tpp, document, **bearer(grant))), 201
    )
    consent_id = consent["Data"]["ConsentId"]
    approval = authorise(http, customer, consent_id, account_ids)
    token = tpp.exchange_code(http, token_url, approval["authorization_code"], approval["redirect_uri"])
    return consent_id, token


def initiation(
    amount: str, currency: str, creditor_iban: str, *, reference: str = "netfin demo"
) -> dict[str, Any]:
    return {
        "InstructionIdentification": uuid.uuid4().hex[:35],
        "EndToEndIdentification": uuid.uuid4().hex[:35],
        "InstructedAmount": {"Amount": amount, "Currency": currency},
        "CreditorAccount": {"SchemeName": "UK.OBIE.IBAN", "Identification": creditor_iban, "Name": "Payee"},
        "RemittanceInformation": {"Unstructured": [reference]},
    }


def domestic_payment(
    http: Http, tpp: SoftwareTpp, customer: Customer, token_url: str, *, debtor_account_id: str,
    payment: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """PIS end to end: consent, authorisation, token, then the payment itself."""
    grant = tpp.client_credentials(http, token_url, "payments")
    document = {"Data": {"Initiation": payment}, "Risk": {}}
    headers = bearer(grant, **{"x-idempotency-key": uuid.uuid4().hex})
    consent = expect(
        http.post(f"{OB}/pisp/domestic-payment-consents", **signed(tpp, document, **headers)), 201
    )
    consent_id = consent["Data"]["ConsentId"]
    approval = authorise(http, customer, consent_id, [debtor_account_id])
    token = tpp.exchange_code(http, token_url, approval["authorization_code"], approval["redirect_uri"])
    body = {"Data": {"ConsentId": consent_id, "Initiation": payment}, "Risk": {}}
    headers = bearer(token, **{"x-idempotency-key": uuid.uuid4().hex})
    return expect(http.post(f"{OB}/pisp/domestic-payments", **signed(tpp, body, **headers)), 201)  # type: ignore[no-any-return]


def party_hex(party_id: int) -> str:
    return format_id(party_id)
