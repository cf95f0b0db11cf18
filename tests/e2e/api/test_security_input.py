"""Input hardening: whatever a caller sends, the answer is a 4xx problem document, never a 5xx.

Bodies are bounded, JSON only (a form only at the token endpoint), with no unknown
members; page sizes, ids, headers, amounts and dates are checked at the door.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from netfin.api.middleware import BODY_BYTES_MAX
from netfin.sim import openbanking as ob

from .conftest import World
from .test_security_support import OB, assert_client_error, assert_problem, idempotency

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def _raw(
    http: TestClient, path: str, content: bytes | Iterator[bytes], content_type: str | None, **headers: str
) -> Any:
    wanted = dict(headers)
    if content_type is not None:
        wanted["content-type"] = content_type
    return http.post(path, content=content, headers=wanted)


def _padded(document: bytes, size: int) -> bytes:
    """Valid JSON of exactly ``size`` bytes: ``document`` followed by spaces."""
    return document + b" " * (size - len(document))


def test_oversized_bodies_are_refused_with_413(world: World) -> None:
    session = ob.bearer(world.alice.session)
    account = b'{"currency":"GBP"}'
    # The limit is inclusive: exactly BODY_BYTES_MAX bytes pass, one more does not.
    assert (
        _raw(world.http, "/v1/me/accounts", _padded(account, BODY_BYTES_MAX), JSON, **session).status_code
        == 201
    )
    grant = world.tpp_a.client_credentials(world.http, world.token_url, "accounts")
    oversized = [
        ("/v1/me/accounts", _padded(account, BODY_BYTES_MAX + 1), JSON, session),
        ("/v1/signup", _padded(b"{}", 10 * BODY_BYTES_MAX), JSON, {}),
        (f"{OB}/aisp/account-access-consents", _padded(b"{}", BODY_BYTES_MAX + 1), JSON, ob.bearer(grant)),
        (world.token_url, b"grant_type=" + b"x" * BODY_BYTES_MAX, FORM, {}),
    ]
    for path, content, content_type, headers in oversized:
        assert_problem(_raw(world.http, path, content, content_type, **headers), 413, "body_too_large", path)


def _sent_beyond_their_length(http: TestClient) -> tuple[Any, Any]:
    """Oversized sign-ups: one that declares a short Content-Length, one streamed in chunks."""
    signup = b'{"display_name":"Eve","phone":"+447700900666","password":"correct horse battery"}'
    big = _padded(signup, 2 * BODY_BYTES_MAX)
    lying = _raw(http, "/v1/signup", big, JSON, **{"content-length": str(len(signup))})
    streamed = _raw(http, "/v1/signup", iter([big[:BODY_BYTES_MAX], big[BODY_BYTES_MAX:]]), JSON)
    return lying, streamed


def test_bodies_larger_than_their_content_length_or_streamed_get_413(client: TestClient) -> None:
    for response in _sent_beyond_their_length(client):
        assert_problem(response, 413, "body_too_large")


def test_malformed_bodies_and_wrong_content_types_are_refused(world: World) -> None:
    session = ob.bearer(world.alice.session)
    grant = ob.bearer(world.tpp_a.client_credentials(world.http, world.token_url, "accounts"))
    consents = f"{OB}/aisp/account-access-consents"
    for path, headers in (("/v1/me/accounts", session), (consents, grant), ("/v1/signup", {})):
        for content in (b"{bad", b'{"currency": "GBP"', b"", b"null", b"[1, 2]", b'"text"'):
            response = _raw(world.http, path, content, JSON, **headers)
            assert_problem(response, 400, "request_invalid", f"{path} {content!r}")
        # Bytes that are not UTF-8, and nesting deeper than any parser should follow.
        for content in (b"\xff\xfe{}", b'{"a":' + b"[" * 10_000 + b"]" * 10_000 + b"}"):
            assert_client_error(
                _raw(world.http, path, content, JSON, **headers), 400, f"{path} {content[:8]!r}"
            )
        for content_type in (
            "text/plain",
            FORM,
            "multipart/form-data; boundary=x",
            "application/jsonx",
            None,
        ):
            response = _raw(world.http, path, b'{"currency":"GBP"}', content_type, **headers)
            assert_problem(response, 415, "content_type_unsupported", f"{path} {content_type}")
    as_json = world.http.post(world.token_url, json={"grant_type": "client_credentials"})
    assert_problem(as_json, 415, "content_type_unsupported")
    for value in ("abc", "-1", "1.5", "", "0x10"):
        response = _raw(world.http, "/v1/me/accounts", b"{}", JSON, **session, **{"content-length": value})
        assert_problem(response, 400, "content_length_invalid", value)


def test_unknown_members_are_refused_at_every_level(world: World) -> None:
    http = world.http
    grant = world.tpp_a.client_credentials(http, world.token_url, "accounts")
    pis = world.tpp_a.client_credentials(http, world.token_url, "payments")
    initiation = ob.initiation("1.00", "GBP", world.bob.ibans[0])
    aac, pdc = f"{OB}/aisp/account-access-consents", f"{OB}/pisp/domestic-payment-consents"
    balances = {"Permissions": ["ReadBalances"]}
    amount = {"Amount": "1.00", "Currency": "GBP", "Fee": "0"}
    signup = {
        "display_name": "Mallory",
        "phone": "+447700900999",
        "password": "p" * 16,
        "roles": ["operator"],
    }
    account = {"currency": "GBP", "owner": {"party_id": world.bob.party_id}}
    cases: list[tuple[str, dict[str, Any], dict[str, str], str]] = [
        (aac, {"Data": balances, "Risk": {}, "Admin": True}, ob.bearer(grant), "body.Admin"),
        (aac, {"Data": {**balances, "Status": "AUTH"}, "Risk": {}}, ob.bearer(grant), "body.Data.Status"),
        (aac, {"Data": balances, "Risk": {"Evil": 1}}, ob.bearer(grant), "body.Risk.Evil"),
        (
            pdc,
            {"Data": {"Initiation": {**initiation, "InstructedAmount": amount}}, "Risk": {}},
            idempotency(pis),
            "body.Data.Initiation.InstructedAmount.Fee",
        ),
        ("/v1/signup", signup, {}, "body.roles"),
        ("/v1/me/accounts", account, ob.bearer(world.alice.session), "body.owner"),
    ]
    for path, document, headers, location in cases:
        body = assert_problem(
            http.post(path, json=document, headers=headers), 400, "request_invalid", location
        )
        assert body["detail"].startswith(location), body


def test_page_sizes_cursors_limits_and_dates_are_checked(world: World) -> None:
    http, alice = world.http, world.alice
    account_id = alice.account_ids[0]
    _, token = ob.account_access(http, world.tpp_a, alice, world.token_url, account_ids=[account_id])
    transactions = f"{OB}/aisp/accounts/{account_id}/transactions"
    assert http.get(f"{transactions}?pageSize=500", headers=ob.bearer(token)).status_code == 200
    requests = [
        *((f"{transactions}?pageSize={size}", token) for size in (10**9, 501, 0, -1, "1.5", "1e3", "abc")),
        (f"{transactions}?cursor={'9' * 33}", token),
        (f"{transactions}?cursor=abc", token),
        *(("/v1/audit?limit=" + str(size), world.auditor) for size in (10**6, 501, 0)),
        (f"/v1/audit?cursor={'x' * 65}", world.auditor),
        *(
            (f"/v1/me/accounts/{account_id}/transfers?limit={size}", alice.session)
            for size in (10**6, 201, 0)
        ),
        (f"/v1/me/accounts/{account_id}/transfers?cursor=-5", alice.session),
    ]
    for path, bearer in requests:
        assert_problem(http.get(path, headers=ob.bearer(bearer)), 400, "request_invalid", path)
    assert_problem(
        http.get("/v1/audit?cursor=abc", headers=ob.bearer(world.auditor)), 400, "audit_cursor_invalid"
    )

    # Dates: in consents and in the transaction filters.
    grant = world.tpp_a.client_credentials(http, world.token_url, "accounts")

    def consent(**dates: str) -> Any:
        data = {"Permissions": ["ReadBalances"], **dates}
        return http.post(
            f"{OB}/aisp/account-access-consents", json={"Data": data, "Risk": {}}, headers=ob.bearer(grant)
        )

    malformed = (
        "2030-02-30T00:00:00Z",
        "not a date",
        "2030-01-01T00:00:00",
        "2030-01-01",
        "1e9",
        "99999-01-01T00:00:00Z",
    )
    for value in malformed:
        assert_problem(consent(ExpirationDateTime=value), 400, "request_invalid", value)
    assert_problem(consent(ExpirationDateTime="2000-01-01T00:00:00Z"), 400, "expiration_in_past")
    assert_problem(consent(ExpirationDateTime="9999-12-31T23:59:59Z"), 400, "expiration_too_far")
    window = {
        "TransactionFromDateTime": "2030-01-02T00:00:00Z",
        "TransactionToDateTime": "2030-01-01T00:00:00Z",
    }
    assert_problem(consent(**window), 400, "transaction_window_invalid")

    for value in ("yesterday", "2030-13-01T00:00:00", "99999-01-01T00:00:00", "2030-01-01T25:00:00"):
        response = http.get(transactions, params={"fromBookingDateTime": value}, headers=ob.bearer(token))
        assert_problem(response, 400, "booking_datetime_invalid", value)
    # The far ends of the calendar are valid filters and must not overflow a store's integers.
    for name, value in (("fromBookingDateTime", "0001-01-01"), ("toBookingDateTime", "9999-12-31T23:59:59")):
        response = http.get(transactions, params={name: value}, headers=ob.bearer(token))
        assert response.status_code == 200, f"{name}={value}: {response.text}"


def test_amounts_are_exact_positive_decimal_strings(world: World) -> None:
    http, bob = world.http, world.bob
    pis = world.tpp_a.client_credentials(http, world.token_url, "payments")

    def consent(amount: Any, currency: str = "GBP") -> Any:
        initiation = ob.initiation("1.00", "GBP", bob.ibans[0])
        initiation["InstructedAmount"] = {"Amount": amount, "Currency": currency}
        document = {"Data": {"Initiation": initiation}, "Risk": {}}
        return http.post(
            f"{OB}/pisp/domestic-payment-consents", **ob.signed(world.tpp_a, document, **idempotency(pis))
        )

    def deposit(amount: Any, currency: str = "GBP") -> Any:
        body = {"amount": amount, "currency": currency}
        path = f"/v1/accounts/{world.alice.account_ids[0]}/deposits"
        return http.post(path, json=body, headers=ob.bearer(world.operator))

    for amount in (
        "1e3",
        "-1",
        "+1",
        "1.",
        ".5",
        " 1.00",
        "1,00",
        "NaN",
        "Infinity",
        "",
        "١٠",
        "99999999999999",
    ):
        assert_problem(consent(amount), 400, "request_invalid", repr(amount))
    not_strings: tuple[Any, ...] = (12.5, 12, True, [], {})
    for value in not_strings:
        assert_problem(consent(value), 400, "request_invalid", repr(value))
        assert_problem(deposit(value), 400, "request_invalid", repr(value))
    for amount in ("1e3", "-1", "12.5.0"):
        assert_problem(deposit(amount), 400, "request_invalid", repr(amount))
    for amount in ("10.001", "0.001", "1.23456"):
        assert_problem(consent(amount), 400, "amount_precision_invalid", amount)
        assert_problem(deposit(amount), 400, "amount_precision_invalid", amount)
    assert_problem(consent("1.5", "JPY"), 400, "amount_precision_invalid")
    for amount in ("0", "0.00"):
        assert_problem(consent(amount), 400, "amount_invalid", amount)
    assert_problem(consent("1.00", "XXX"), 400, "currency_invalid")
    assert_problem(consent("1.00", "gbp"), 400, "request_invalid")
    assert ob.expect(http.get("/v1/me/accounts", headers=ob.bearer(world.alice.session)), 200)[0][
        "booked"
    ] == {
        "amount": "100.00",
        "currency": "GBP",
    }


def test_overlong_ids_and_headers_are_refused(world: World) -> None:
    http, alice = world.http, world.alice
    _, token = ob.account_access(
        http, world.tpp_a, alice, world.token_url, account_ids=[alice.account_ids[0]]
    )
    for path, bearer in (
        (f"{OB}/aisp/accounts/{'a' * 129}", token),
        (f"{OB}/aisp/accounts/{'a' * 129}/balances", token),
        (f"/v1/me/consents/{'a' * 129}", alice.session),
        (f"/v1/me/accounts/{'a' * 41}/transfers", alice.session),
        (f"/v1/parties/{'a' * 33}", world.operator),
    ):
        assert_problem(http.get(path, headers=ob.bearer(bearer)), 400, "request_invalid", path)
    assert_problem(http.get(f"{OB}/aisp/accounts", headers=ob.bearer("x" * 9000)), 401, "token_invalid")
    document = {"currency": "GBP"}
    for header, value, code in (
        ("Idempotency-Key", "k" * 41, "request_invalid"),
        ("Idempotency-Key", " padded", "idempotency_key_invalid"),
        ("Idempotency-Key", "tab\tinside", "idempotency_key_invalid"),
    ):
        response = http.post(
            "/v1/me/accounts", json=document, headers=ob.bearer(alice.session, **{header: value})
        )
        assert_problem(response, 400, code, f"{header}={value!r}")
    consents = f"{OB}/aisp/account-access-consents"
    grant = world.tpp_a.client_credentials(http, world.token_url, "accounts")
    body = {"Data": {"Permissions": ["ReadBalances"]}, "Risk": {}}
    long_key = http.post(consents, json=body, headers=idempotency(grant, "k" * 41))
    assert_problem(long_key, 400, "request_invalid")
    # An interaction id that is too long or malformed is replaced, not echoed.
    for sent in (b"i" * 65, b"has spaces", b"caf\xe9", b"semi;colon"):
        headers = [(k.encode(), v.encode()) for k, v in ob.bearer(alice.session).items()]
        response = http.get("/v1/me", headers=[*headers, (b"x-fapi-interaction-id", sent)])
        assert response.status_code == 200
        replaced = response.headers["x-fapi-interaction-id"]
        assert str(uuid.UUID(replaced)) == replaced, sent


def test_every_error_is_a_problem_that_carries_the_interaction_id(world: World) -> None:
    http = world.http
    grant = world.tpp_a.client_credentials(http, world.token_url, "accounts")
    unknown_consent = f"{OB}/aisp/account-access-consents/aac-{uuid.uuid4().hex}"
    consents = f"{OB}/aisp/account-access-consents"
    oversized = b"x" * (BODY_BYTES_MAX + 1)
    refusals = [
        ("GET", "/no/such/route", {}, None, 404, "not_found"),
        ("PATCH", f"{OB}/aisp/accounts", ob.bearer(grant), None, 405, "method_not_allowed"),
        ("GET", f"{OB}/aisp/accounts", {}, None, 401, "token_missing"),
        ("GET", f"{OB}/aisp/accounts", ob.bearer(grant), None, 403, "consent_required"),
        ("GET", unknown_consent, ob.bearer(grant), None, 404, "consent_not_found"),
        ("POST", consents, ob.bearer(grant), b"{", 400, "request_invalid"),
        ("POST", consents, ob.bearer(grant), oversized, 413, "body_too_large"),
        ("POST", "/v1/signup", {"content-type": "text/plain"}, b"{}", 415, "content_type_unsupported"),
        ("GET", "/v1/audit", ob.bearer(world.alice.session), None, 403, "role_missing"),
    ]
    for method, path, headers, content, status, code in refusals:
        sent = f"probe-{code}"
        content_type = {} if content is None or "content-type" in headers else {"content-type": JSON}
        wanted = {**headers, **content_type, "x-fapi-interaction-id": sent}
        echoed = http.request(method, path, content=content, headers=wanted)
        body = assert_problem(echoed, status, code, path)
        assert echoed.headers["x-fapi-interaction-id"] == sent
        assert body["interaction_id"] == sent
        assert body["title"] and body["instance"] == path.split("?")[0]
        if path.startswith(OB):
            assert body["Id"] == sent and body["Errors"][0]["Message"].startswith(code), body
        generated = http.request(method, path, content=content, headers={**headers, **content_type})
        assert_problem(generated, status, code, path)
        assert generated.headers["x-fapi-interaction-id"] == generated.json()["interaction_id"]
