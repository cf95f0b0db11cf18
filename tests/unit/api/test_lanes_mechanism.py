"""The lanes mechanism on its own: path templates, hand-over with the body replayed, handlers."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from netfin.api.lanes import Lane, Lanes, LaneSpec, single_header

router = APIRouter()


@router.get("/v4.0/accounts/{AccountId}/parts/{PartId}")
def _parts() -> None:
    """A template with two parameters and a dot that must match only a dot."""


@router.api_route("/both", methods=["GET", "POST"])
def _both() -> None:
    """A route with two methods."""


async def _none(request: Request) -> Response | None:
    return None


def test_a_template_becomes_a_whole_path_pattern() -> None:
    spec = LaneSpec.for_route(router.routes[0], _none)
    assert spec.method == "GET"
    match = spec.pattern.fullmatch("/v4.0/accounts/acc-1/parts/p.2")
    assert match is not None and match.groupdict() == {"AccountId": "acc-1", "PartId": "p.2"}
    for other in ("/v4x0/accounts/a/parts/b", "/v4.0/accounts//parts/b", "/v4.0/accounts/a/b/parts/c",
                  "/v4.0/accounts/a/parts/b/", "/prefix/v4.0/accounts/a/parts/b"):  # fmt: skip
        assert spec.pattern.fullmatch(other) is None, other


def test_a_lane_stands_in_for_one_method_only() -> None:
    with pytest.raises(ValueError, match="one method"):
        LaneSpec.for_route(router.routes[1], _none)


class _Refused(Exception):
    """A refusal a lane raises, answered by the handler registered for it."""


async def _echo(request: Request) -> Response:
    return PlainTextResponse(b"inner:" + await request.body())


async def _refused(request: Request, error: Exception) -> Response:
    return JSONResponse({"refused": str(error)}, status_code=418)


def _client(lane: Lane) -> TestClient:
    route = Route("/pay/{Id}", _echo, methods=["POST"])
    app = Starlette(routes=[route])
    spec = LaneSpec.for_route(route, lane)
    return TestClient(Lanes(app, lanes=[spec], handlers={_Refused: _refused, Exception: _refused}))


def test_a_lane_that_declines_hands_on_the_body_it_read() -> None:
    seen: list[tuple[str, bytes]] = []

    async def declining(request: Request) -> Response | None:
        seen.append((request.path_params["Id"], await request.body()))
        return None

    answer = _client(declining).post("/pay/7", content=b'{"a": 1}')
    assert (answer.status_code, answer.content) == (200, b'inner:{"a": 1}')
    assert seen == [("7", b'{"a": 1}')]


def test_a_lane_answers_and_its_refusals_go_through_the_handlers() -> None:
    async def answering(request: Request) -> Response | None:
        if request.path_params["Id"] == "no":
            raise _Refused("not this one")
        return PlainTextResponse("lane")

    client = _client(answering)
    assert client.post("/pay/1", content=b"x").text == "lane"
    refused = client.post("/pay/no", content=b"x")
    assert (refused.status_code, refused.json()) == (418, {"refused": "not this one"})
    assert client.post("/other", content=b"x").status_code == 404  # no lane: the app answers
    assert client.get("/pay/1").status_code == 405  # another method: the app answers


def test_an_error_without_a_handler_of_its_own_is_left_to_the_outermost_middleware() -> None:
    async def failing(request: Request) -> Response | None:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        _client(failing).post("/pay/1", content=b"x")


def test_a_header_sent_twice_is_told_apart_from_one_sent_once() -> None:
    seen: list[tuple[bool, str | None]] = []

    async def looking(request: Request) -> Response | None:
        seen.extend(single_header(request, name) for name in ("x-one", "x-two", "x-none"))
        return PlainTextResponse("ok")

    _client(looking).post("/pay/1", content=b"", headers=[("x-one", "a"), ("x-two", "b"), ("x-two", "c")])
    assert seen == [(True, "a"), (False, None), (True, None)]


def _declared(dependant: Any, found: dict[str, set[str]]) -> dict[str, set[str]]:
    for kind in ("path_params", "query_params", "header_params", "cookie_params", "body_params"):
        for field in getattr(dependant, kind):
            found.setdefault(kind, set()).add(field.alias.lower() if kind == "header_params" else field.alias)
    for sub in dependant.dependencies:
        _declared(sub, found)
    return found


def test_each_open_banking_lane_knows_every_parameter_its_route_declares() -> None:
    """A parameter added to a route must be added to its lane too (the lane checks what FastAPI
    would): this fails until it is."""
    from netfin.api.openbanking import lanes as ob_lanes

    expected = {
        ("POST", ob_lanes.PAYMENTS_PATH): {
            "header_params": set(ob_lanes.PAYMENT_HEADERS),
            "body_params": {"body"},
        },
        ("GET", ob_lanes.BALANCES_PATH): {"path_params": {"AccountId"}, "header_params": {"authorization"}},
    }
    specs = ob_lanes.lanes()
    assert {(spec.method, getattr(spec.route, "path")) for spec in specs} == set(expected)  # noqa: B009
    for spec in specs:
        route = spec.route
        assert isinstance(route, APIRoute)
        assert _declared(route.dependant, {}) == expected[(spec.method, route.path)], route.path
