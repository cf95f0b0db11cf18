"""Bearer tokens and the token endpoint: only genuine, current tokens of this issuer, for
this audience and of the right kind, get in; client assertions and codes are used once."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from netfin.identity.oauth import OAuth, load_api_signing_key
from netfin.identity.oauth.model import TOKEN_LEEWAY_S
from netfin.sim import openbanking as ob
from netfin.sim.tpp import ASSERTION_TYPE, SoftwareTpp

from .conftest import TOKEN_URL, World
from .test_security_support import (
    OB,
    assert_problem,
    audit_entries,
    claims_of,
    flip_char,
    idempotency,
    resign,
)

ACCESS_TTL_S = 300
SESSION_TTL_S = 900
# The lifetimes the bank's OAuth service is built with (its defaults).
CODE_TTL_S = 60
OTHER_ISSUER = "https://other-bank.example"


def _accounts(world: World, token: str) -> Any:
    return world.http.get(f"{OB}/aisp/accounts", headers=ob.bearer(token))


def _me(world: World, token: str) -> Any:
    return world.http.get("/v1/me", headers=ob.bearer(token))


def _ais_token(world: World) -> str:
    alice = world.alice
    return ob.account_access(
        world.http, world.tpp_a, alice, world.token_url, account_ids=[alice.account_ids[0]]
    )[1]


def test_tampered_tokens_are_refused(world: World) -> None:
    access, session = _ais_token(world), world.alice.session
    assert _accounts(world, access).status_code == 200
    assert _me(world, session).status_code == 200
    for token, call in ((access, _accounts), (session, _me)):
        header, payload, signature = token.split(".")
        for forged in (
            f"{header}.{flip_char(payload, len(payload) // 2)}.{signature}",
            f"{header}.{payload}.{flip_char(signature, 10)}",
            f"{header}.{payload}.",
            f"{header}.{payload}",
        ):
            assert_problem(call(world, forged), 401, "token_invalid", forged)
    # The same claims with "alg": "none" and no signature.
    unsigned = "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + access.split(".")[1] + "."
    assert_problem(_accounts(world, unsigned), 401, "token_invalid")


def test_expired_tokens_are_refused(world: World) -> None:
    access = _ais_token(world)
    world.advance(ACCESS_TTL_S - 1)
    assert _accounts(world, access).status_code == 200
    world.advance(TOKEN_LEEWAY_S + 2)
    assert_problem(_accounts(world, access), 401, "token_expired")
    assert _me(world, world.alice.session).status_code == 200
    world.advance(SESSION_TTL_S - ACCESS_TTL_S + TOKEN_LEEWAY_S)
    assert_problem(_me(world, world.alice.session), 401, "token_expired")


def test_tokens_for_another_audience_or_issuer_or_key_are_refused(world: World) -> None:
    access, session = _ais_token(world), world.alice.session
    # Re-signing an unchanged token with the platform key keeps it valid, so each
    # refusal below is for the one claim or key that was changed.
    assert _accounts(world, resign(access)).status_code == 200
    assert _me(world, resign(session)).status_code == 200
    for token, call in ((access, _accounts), (session, _me)):
        elsewhere = resign(token, aud="https://other-bank.example/api")
        assert_problem(call(world, elsewhere), 401, "token_audience_invalid")
        assert_problem(call(world, resign(token, iss=OTHER_ISSUER)), 401, "token_issuer_invalid")
        assert_problem(call(world, resign(token, key=Ed25519PrivateKey.generate())), 401, "token_invalid")
        assert_problem(call(world, resign(token, exp=claims_of(token)["iat"] - 60)), 401, "token_expired")

    # Tokens minted by another issuer that shares the platform's signing key.
    bank = world.bank
    other = OAuth(
        bank.engine, clock=bank.clock, ids=bank.ids, issuer=OTHER_ISSUER, signing_key=load_api_signing_key()
    )
    party_id = int(world.alice.party_id, 16)
    foreign_session = other.issue_session(
        party_id=party_id, roles=["customer"], amr=["hwk"], auth_time_ns=bank.clock.now_ns()
    )
    assert_problem(_me(world, foreign_session.token), 401, "token_issuer_invalid")
    endpoint = OTHER_ISSUER + "/oauth2/token"
    form = world.tpp_a.token_form(endpoint, grant_type="client_credentials", scope="accounts")
    issued = other.token(form, token_endpoint=endpoint, authorization_header=None)
    grant = world.http.get(f"{OB}/event-subscriptions", headers=ob.bearer(issued.access_token))
    assert_problem(grant, 401, "token_issuer_invalid")


def test_tokens_of_the_wrong_kind_scope_or_client_are_refused(world: World) -> None:
    http = world.http
    # Session and access tokens never pass for each other.
    grant = world.tpp_a.client_credentials(http, world.token_url, "accounts")
    assert_problem(_accounts(world, world.alice.session), 401, "token_type_invalid")
    assert_problem(_accounts(world, world.operator), 401, "token_type_invalid")
    assert_problem(_me(world, grant), 401, "token_type_invalid")
    assert_problem(_me(world, _ais_token(world)), 401, "token_type_invalid")
    assert_problem(http.get("/v1/audit", headers=ob.bearer(grant)), 401, "token_type_invalid")

    # A client credentials token reaches only the areas of its scope.
    payment = {"Data": {"Initiation": ob.initiation("1.00", "GBP", world.bob.ibans[0])}, "Risk": {}}
    signed = ob.signed(world.tpp_a, payment, **idempotency(grant))
    refused = http.post(f"{OB}/pisp/domestic-payment-consents", **signed)
    assert_problem(refused, 403, "scope_missing")
    debtor = {"SchemeName": "UK.OBIE.IBAN", "Identification": world.alice.ibans[0]}
    refused = http.post(
        f"{OB}/cbpii/funds-confirmation-consents",
        json={"Data": {"DebtorAccount": debtor}},
        headers=ob.bearer(grant),
    )
    assert_problem(refused, 403, "scope_missing")
    payments_only = world.tpp_a.client_credentials(http, world.token_url, "payments")
    assert_problem(
        http.post(
            f"{OB}/aisp/account-access-consents",
            json={"Data": {"Permissions": ["ReadBalances"]}, "Risk": {}},
            headers=ob.bearer(payments_only),
        ),
        403,
        "scope_missing",
    )

    # A suspended client's tokens stop working at once.
    token = _ais_token(world)
    assert _accounts(world, token).status_code == 200
    world.bank.oauth.suspend_client(world.tpp_a.client_id)
    assert_problem(_accounts(world, token), 401, "client_suspended")


def test_missing_or_malformed_authorization_is_refused(world: World) -> None:
    for path, valid in ((f"{OB}/aisp/accounts", _ais_token(world)), ("/v1/me", world.alice.session)):
        _assert_authorization_checked(world, path, valid)


def _assert_authorization_checked(world: World, path: str, valid: str) -> None:
    assert world.http.get(path, headers={"Authorization": f"bearer {valid}"}).status_code == 200
    cases: list[tuple[dict[str, str], str]] = [
        ({}, "token_missing"),
        ({"Authorization": ""}, "token_missing"),
        ({"Authorization": "Bearer"}, "token_invalid"),
        ({"Authorization": "Bearer    "}, "token_invalid"),
        ({"Authorization": f"Basic {valid}"}, "token_invalid"),
        ({"Authorization": f"Token {valid}"}, "token_invalid"),
        ({"Authorization": "Bearer not-a-jwt"}, "token_invalid"),
        ({"Authorization": "Bearer a.b.c"}, "token_invalid"),
        ({"Authorization": "Bearer " + "A" * 9000}, "token_invalid"),
    ]
    for headers, code in cases:
        response = world.http.get(path, headers=headers)
        assert_problem(response, 401, code, str(headers)[:60])
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


# --- the token endpoint ------------------------------------------------------------------


def _form(world: World, tpp: SoftwareTpp, *, jti: str | None = None, **fields: str) -> dict[str, str]:
    """A private_key_jwt token request whose assertion is dated by the bank's clock."""
    return {
        "grant_type": "client_credentials",
        **fields,
        "client_id": tpp.client_id,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": tpp.assertion(world.token_url, now_s=world.now_s(), jti=jti),
    }


def _oauth_problem(response: Any, status: int, code: str, error: str) -> None:
    """An RFC 9457 problem that an RFC 6749 client also understands."""
    body = assert_problem(response, status, code)
    assert body["error"] == error, body
    assert body["error_description"] == body["detail"]


def test_client_assertions_are_verified_and_used_once(world: World) -> None:
    http, url = world.http, world.token_url
    form = _form(world, world.tpp_a, scope="accounts")
    assert http.post(url, data=form).status_code == 200
    _oauth_problem(http.post(url, data=form), 401, "client_assertion_replayed", "invalid_client")
    # A freshly signed assertion that reuses the jti is the same replay.
    jti = claims_of(form["client_assertion"])["jti"]
    again = _form(world, world.tpp_a, scope="accounts", jti=jti)
    assert again["client_assertion"] != form["client_assertion"]
    _oauth_problem(http.post(url, data=again), 401, "client_assertion_replayed", "invalid_client")

    # Assertions that do not verify.
    tpp = world.tpp_a
    impostor = SoftwareTpp("impostor")
    impostor.client_id = tpp.client_id
    _oauth_problem(
        http.post(url, data=_form(world, impostor)), 401, "client_assertion_invalid", "invalid_client"
    )
    stale = {**_form(world, tpp), "client_assertion": tpp.assertion(url, now_s=world.now_s() - 600)}
    _oauth_problem(http.post(url, data=stale), 401, "client_assertion_expired", "invalid_client")
    elsewhere = {
        **_form(world, tpp),
        "client_assertion": tpp.assertion(OTHER_ISSUER + "/token", now_s=world.now_s()),
    }
    _oauth_problem(http.post(url, data=elsewhere), 401, "client_assertion_invalid", "invalid_client")
    # B's assertion presented under A's client id.
    borrowed = {**_form(world, world.tpp_b), "client_id": tpp.client_id}
    _oauth_problem(http.post(url, data=borrowed), 401, "client_assertion_invalid", "invalid_client")
    missing = {"grant_type": "client_credentials", "client_id": tpp.client_id}
    _oauth_problem(http.post(url, data=missing), 401, "client_authentication_missing", "invalid_client")


def test_grant_types_and_scopes_are_checked(world: World) -> None:
    http, url = world.http, world.token_url
    password = http.post(url, data=_form(world, world.tpp_a, grant_type="password"))
    _oauth_problem(password, 400, "grant_type_unsupported", "unsupported_grant_type")
    no_grant = {k: v for k, v in _form(world, world.tpp_a).items() if k != "grant_type"}
    _oauth_problem(http.post(url, data=no_grant), 400, "grant_type_missing", "invalid_request")
    _oauth_problem(
        http.post(url, data=_form(world, world.tpp_a, scope="accounts admin")),
        400,
        "scope_unknown",
        "invalid_scope",
    )
    narrow = ob.register_tpp(http, world.operator, "Narrow app", ["accounts"], "https://narrow.example/cb")
    _oauth_problem(
        http.post(url, data=_form(world, narrow, scope="payments")), 400, "scope_not_allowed", "invalid_scope"
    )


def test_authorization_code_is_redeemed_once_by_its_own_client(world: World) -> None:
    http, url, alice = world.http, world.token_url, world.alice
    grant = world.tpp_a.client_credentials(http, url, "accounts")

    def approved_code() -> dict[str, Any]:
        consent = http.post(
            f"{OB}/aisp/account-access-consents",
            json={"Data": {"Permissions": ["ReadBalances"]}, "Risk": {}},
            headers=ob.bearer(grant),
        )
        return ob.authorise(http, alice, ob.expect(consent, 201)["Data"]["ConsentId"], [alice.account_ids[0]])

    def redeem(tpp: SoftwareTpp, code: str, redirect_uri: str) -> Any:
        form = _form(world, tpp, grant_type="authorization_code", code=code, redirect_uri=redirect_uri)
        return http.post(url, data=form)

    approval = approved_code()
    code, redirect = approval["authorization_code"], approval["redirect_uri"]
    _oauth_problem(redeem(world.tpp_b, code, redirect), 400, "code_client_mismatch", "invalid_grant")
    _oauth_problem(
        redeem(world.tpp_a, code, redirect + "/other"), 400, "code_redirect_uri_mismatch", "invalid_grant"
    )
    _oauth_problem(redeem(world.tpp_a, code + "x", redirect), 400, "code_invalid", "invalid_grant")
    assert redeem(world.tpp_a, code, redirect).status_code == 200
    _oauth_problem(redeem(world.tpp_a, code, redirect), 400, "code_used", "invalid_grant")

    late = approved_code()
    world.advance(CODE_TTL_S)
    _oauth_problem(
        redeem(world.tpp_a, late["authorization_code"], late["redirect_uri"]),
        400,
        "code_expired",
        "invalid_grant",
    )


def test_repeated_form_field_is_an_oauth_invalid_request(client: TestClient) -> None:
    # RFC 6749 §3.2 forbids repeating a parameter; the refusal comes before client authentication.
    form = [("grant_type", "client_credentials"), ("scope", "accounts"), ("scope", "payments")]
    response = client.post(
        TOKEN_URL, content=urlencode(form), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    _oauth_problem(response, 400, "form_field_repeated", "invalid_request")


# --- request signatures --------------------------------------------------------------------


def test_request_signatures_must_verify_against_the_callers_keys(world: World) -> None:
    http, tpp = world.http, world.tpp_a
    grant = tpp.client_credentials(http, world.token_url, "payments")
    headers = idempotency(grant)
    document = {"Data": {"Initiation": ob.initiation("1.00", "GBP", world.bob.ibans[0])}, "Risk": {}}
    path = f"{OB}/pisp/domestic-payment-consents"
    genuine = ob.signed(tpp, document, **headers)
    impostor = SoftwareTpp("impostor", client_id=tpp.client_id)
    tampered = genuine["content"].replace(b'"1.00"', b'"9.00"')
    assert tampered != genuine["content"]
    garbled = {**genuine["headers"], "x-jws-signature": "a..b"}
    refused = [
        (http.post(path, json=document, headers=headers), "jws_signature_missing"),
        (http.post(path, **ob.signed(impostor, document, **headers)), "jws_signature_invalid"),
        (http.post(path, **ob.signed(world.tpp_b, document, **headers)), "jws_signature_invalid"),
        (http.post(path, content=tampered, headers=genuine["headers"]), "jws_signature_invalid"),
        (http.post(path, content=genuine["content"], headers=garbled), "jws_signature_invalid"),
    ]
    for response, code in refused:
        assert_problem(response, 400, code)
    assert http.post(path, **genuine).status_code == 201
    entries = audit_entries(http, world.auditor, actor_id=tpp.client_id, action="auth.jws_signature")
    assert [e["reason"] for e in entries] == [code for _, code in refused]
