"""The payment lane (``netfin.api.lanes``): it serves what FastAPI would accept, and everything
else reaches the FastAPI route with its body intact, so both answer every request alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import Response

from netfin.api.app import create_app
from netfin.api.openbanking import lanes as ob_lanes
from netfin.sim import openbanking as ob

from .conftest import BASE_URL, World
from .test_security_support import OB, audit_entries, random_hex, refusal

PAYMENTS = f"{OB}/pisp/domestic-payments"


class _Outcomes:
    def __init__(self) -> None:
        self.served: list[bool] = []  # the payment lane
        self.balances: list[bool] = []  # the balance lane


def _recording(lane: Any, seen: list[bool]) -> Any:
    async def recording(request: Request) -> Response | None:
        try:
            response: Response | None = await lane(request)
        except Exception:
            seen.append(True)  # a refusal raised by the lane is its answer
            raise
        seen.append(response is not None)
        return response

    return recording


@pytest.fixture
def outcomes(monkeypatch: pytest.MonkeyPatch) -> _Outcomes:
    """Records, per request, whether a lane answered (True) or passed it on (False)."""
    seen = _Outcomes()
    monkeypatch.setattr(ob_lanes, "_domestic_payment", _recording(ob_lanes._domestic_payment, seen.served))
    monkeypatch.setattr(ob_lanes, "_balances", _recording(ob_lanes._balances, seen.balances))
    return seen


@pytest.fixture
def both(world: World, outcomes: _Outcomes) -> Iterator[tuple[TestClient, TestClient]]:
    """Two applications on the world's bank: with the lanes (recorded), and without any."""
    with (
        TestClient(create_app(world.bank), base_url=BASE_URL) as laned,
        TestClient(create_app(world.bank, lanes=False), base_url=BASE_URL) as plain,
    ):
        yield laned, plain


def _consent_token(world: World, initiation: dict[str, Any]) -> tuple[str, str]:
    http, tpp = world.http, world.tpp_a
    grant = tpp.client_credentials(http, world.token_url, "payments")
    document = {"Data": {"Initiation": initiation}, "Risk": {}}
    headers = ob.bearer(grant, **{"x-idempotency-key": random_hex()})
    created = http.post(f"{OB}/pisp/domestic-payment-consents", **ob.signed(tpp, document, **headers))
    consent_id = ob.expect(created, 201)["Data"]["ConsentId"]
    approval = ob.authorise(http, world.alice, consent_id, [world.alice.account_ids[0]])
    token = tpp.exchange_code(http, world.token_url, approval["authorization_code"], approval["redirect_uri"])
    return consent_id, token


def _request(world: World, token: str, body: Any, **headers: str) -> dict[str, Any]:
    signed = ob.signed(world.tpp_a, body, **ob.bearer(token, **headers))
    return {"url": PAYMENTS, **signed}


def test_a_payment_is_served_by_the_lane_as_fastapi_serves_it(
    world: World, both: tuple[TestClient, TestClient], outcomes: _Outcomes
) -> None:
    laned, plain = both
    answers = []
    for http in (laned, plain):
        body, _, token = _bound_payment(world)
        answers.append(http.post(**_request(world, token, body, **{"x-idempotency-key": random_hex()})))
    assert outcomes.served == [True]
    first, second = answers
    assert first.status_code == second.status_code == 201, first.text
    for response in answers:
        assert response.headers["x-jws-signature"] and response.headers["x-fapi-interaction-id"]
        assert response.headers["location"].startswith(PAYMENTS + "/")
        document = response.json()
        assert document["Data"]["Status"] == "ACSC"
        assert document["Links"]["Self"].endswith(response.headers["location"])
    assert _shape(first.json()) == _shape(second.json())
    balances = ob.expect(world.http.get("/v1/me/accounts", headers=ob.bearer(world.alice.session)), 200)
    assert balances[0]["booked"]["amount"] == "98.00"


def _shape(document: Any) -> Any:
    if isinstance(document, dict):
        return {key: _shape(value) for key, value in document.items()}
    return type(document).__name__


def _refusals(world: World, consent_id: str, token: str, initiation: dict[str, Any]) -> list[dict[str, Any]]:
    """Requests that must be refused, each with what makes it so."""
    good = {"Data": {"ConsentId": consent_id, "Initiation": initiation}, "Risk": {}}
    key = {"x-idempotency-key": random_hex()}
    not_json = _request(world, token, good, **key)
    not_json["content"] = b"{not json"
    unsigned = _request(world, token, good, **key)
    del unsigned["headers"]["x-jws-signature"]
    return [
        _request(world, token, good, **{"x-idempotency-key": "k" * 41}),  # too long: FastAPI's
        _request(world, token, good, **{"Idempotency-Key": "k" * 41}),  # too long: FastAPI's
        not_json,  # FastAPI's
        _request(world, token, {"Data": {"ConsentId": consent_id}, "Risk": {}}, **key),  # FastAPI's
        _request(world, token, [good], **key),  # FastAPI's
        _request(world, token, good),  # no key: the lane's (the endpoint refuses)
        unsigned,  # the lane's (the endpoint refuses)
        _request(world, "not-a-token", good, **key),  # the lane's (the token dependency refuses)
        _request(world, token, {**good, "Data": {**good["Data"], "ConsentId": "other"}}, **key),  # the lane's
    ]


def _bound_payment(world: World) -> tuple[dict[str, Any], str, str]:
    """A payment document, its authorised consent's id and the token bound to that consent."""
    initiation = ob.initiation("1.00", "GBP", world.bob.ibans[0])
    consent_id, token = _consent_token(world, initiation)
    return {"Data": {"ConsentId": consent_id, "Initiation": initiation}, "Risk": {}}, consent_id, token


def test_every_refusal_is_the_same_with_and_without_the_lane(
    world: World, both: tuple[TestClient, TestClient], outcomes: _Outcomes
) -> None:
    laned, plain = both
    body, consent_id, token = _bound_payment(world)
    cases = _refusals(world, consent_id, token, body["Data"]["Initiation"])
    for number, case in enumerate(cases):
        by_lane, by_route = laned.post(**case), plain.post(**case)
        assert 400 <= by_lane.status_code < 500, (number, by_lane.text)
        assert refusal(by_lane) == refusal(by_route), number
        assert by_lane.headers["x-jws-signature"], number  # PIS answers are signed, refusals too
    assert outcomes.served == [False] * 5 + [True] * 4
    # The consent was never used: the payment it covers still goes through, once.
    paid = laned.post(**_request(world, token, body, **{"x-idempotency-key": random_hex()}))
    assert paid.status_code == 201, paid.text


def test_a_header_sent_twice_is_left_to_fastapi(
    world: World, both: tuple[TestClient, TestClient], outcomes: _Outcomes
) -> None:
    laned, plain = both
    body, _, token = _bound_payment(world)
    request = _request(world, token, body, **{"x-idempotency-key": random_hex()})
    request["headers"] = [*request["headers"].items(), ("x-idempotency-key", random_hex())]
    first, again = laned.post(**request), plain.post(**request)
    assert outcomes.served == [False]
    assert first.status_code == 201, first.text
    assert (again.status_code, again.content) == (201, first.content)  # the same key, replayed


def test_a_refusal_by_the_lane_is_audited_under_the_route(
    world: World, both: tuple[TestClient, TestClient], outcomes: _Outcomes
) -> None:
    laned, _ = both
    initiation = ob.initiation("1.00", "GBP", world.bob.ibans[0])
    body = {"Data": {"ConsentId": "c", "Initiation": initiation}, "Risk": {}}
    request = _request(world, "not-a-token", body, **{"x-idempotency-key": random_hex()})
    interaction = f"lane-{random_hex()[:12]}"
    request["headers"]["x-fapi-interaction-id"] = interaction
    answer = laned.post(**request)
    assert answer.status_code == 401 and outcomes.served == [True]
    entries = audit_entries(world.http, world.auditor, outcome="refused", action="auth.access_token")
    mine = [entry for entry in entries if entry["interaction_id"] == interaction]
    assert [(e["subject_id"], e["reason"]) for e in mine] == [(f"POST {PAYMENTS}", "token_invalid")]


def test_a_balance_read_is_served_by_the_lane_and_refused_alike(
    world: World, both: tuple[TestClient, TestClient], outcomes: _Outcomes
) -> None:
    laned, plain = both
    inside, outside = world.alice.account_ids
    _, token = ob.account_access(
        world.http,
        world.tpp_a,
        world.alice,
        world.token_url,
        account_ids=[inside],
        permissions=["ReadBalances"],
    )
    payments = world.tpp_a.client_credentials(world.http, world.token_url, "payments")
    good = laned.get(f"{OB}/aisp/accounts/{inside}/balances", headers=ob.bearer(token))
    same = plain.get(f"{OB}/aisp/accounts/{inside}/balances", headers=ob.bearer(token))
    assert good.status_code == 200 and good.json() == same.json(), good.text
    assert good.json()["Data"]["Balance"][0]["Amount"]["Amount"] == "100.00"
    cases = [
        (outside, token),  # outside the consent: the lane's (the service refuses)
        ("bad$id", token),  # outside the path's pattern: FastAPI's
        ("a" * 129, token),  # too long: FastAPI's
        (inside, "not-a-token"),  # the lane's (the token dependency refuses)
        (inside, payments),  # no accounts scope: the lane's
    ]
    for number, (account_id, bearer) in enumerate(cases):
        path = f"{OB}/aisp/accounts/{account_id}/balances"
        by_lane, by_route = (
            laned.get(path, headers=ob.bearer(bearer)),
            plain.get(path, headers=ob.bearer(bearer)),
        )
        assert 400 <= by_lane.status_code < 500, (number, by_lane.text)
        assert refusal(by_lane) == refusal(by_route), number
    assert outcomes.balances == [True, True, False, False, True, True]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def _mutated(draw: st.DrawFn, document: dict[str, Any]) -> Any:
    """``document`` with one member at any depth removed, replaced by any JSON, or joined by another."""
    paths: list[tuple[str, ...]] = []

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                paths.append((*path, key))
                walk(value, (*path, key))

    walk(document, ())
    path = draw(st.sampled_from(paths))
    copy = json.loads(json.dumps(document))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    action = draw(st.sampled_from(["drop", "replace", "add"]))
    if action == "drop":
        del parent[path[-1]]
    elif action == "replace":
        parent[path[-1]] = draw(_JSON)
    else:
        parent[draw(st.text(min_size=1, max_size=8))] = draw(_JSON)
    return copy


_HEADER_TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=48)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_mutated_payment_is_answered_alike_with_and_without_the_lane(
    world: World, both: tuple[TestClient, TestClient], data: st.DataObject
) -> None:
    """Whatever a request gets wrong, the lane and the FastAPI route answer it alike. The body
    names a consent the token is not bound to, so a request either side accepts as it is is
    still refused (404) and no example moves money."""
    laned, plain = both
    initiation = ob.initiation("1.00", "GBP", world.bob.ibans[0])
    document = {"Data": {"ConsentId": "pdc-elsewhere", "Initiation": initiation}, "Risk": {}}
    body = data.draw(st.one_of(st.just(document), _mutated(document)))
    headers: dict[str, str] = {}
    for name in ("x-idempotency-key", "Idempotency-Key"):
        value = data.draw(st.one_of(st.none(), st.just(random_hex()), _HEADER_TEXT))
        if value is not None:
            headers[name] = value
    token = world.tpp_a.client_credentials(world.http, world.token_url, "payments")
    request = _request(world, token, body, **headers)
    by_lane, by_route = laned.post(**request), plain.post(**request)
    assert 400 <= by_lane.status_code < 500, by_lane.text
    assert refusal(by_lane) == refusal(by_route)
