"""Lanes: the hottest routes served without FastAPI's per-request machinery.

A payment initiation spends about a sixth of its server process's
interpreter time in FastAPI's dependency solving, parameter and body
validation and routing (docs/benchmarks.md). A *lane* is a small async
function that serves one route directly: it reads the path parameters and
headers, decodes and validates the body with the route's own model, calls
the route's own authorisation dependency, and runs the route's own endpoint
function on the thread pool.

A lane handles only requests that FastAPI would accept as they are. When
anything is not in the plain shape (a path parameter or header outside the
route's constraints, a header repeated, a body that is empty, not JSON, or
not valid for the model) the lane returns ``None`` and the request
continues to the FastAPI route with its body replayed, so every refusal is
the one FastAPI and ``netfin.api.errors`` give, word for word. What the lane raises goes through
the application's own exception handlers. The route still declares the
operation, so ``/openapi.json`` is unchanged.

``Lanes`` sits inside ``Guards`` (interaction id, body limit, content types,
response signatures apply as to any route).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Lane = Callable[[Request], Awaitable[Response | None]]


@dataclass(frozen=True, slots=True)
class LaneSpec:
    """A lane for one method and path template: ``pattern`` matches the whole path, its
    named groups are the path parameters (as Starlette's ``[^/]+`` for ``{name}``)."""

    method: str
    pattern: re.Pattern[str]
    lane: Lane
    route: BaseRoute  # the FastAPI route the lane stands in for

    @classmethod
    def for_route(cls, route: BaseRoute, lane: Lane) -> LaneSpec:
        path: str = getattr(route, "path")  # noqa: B009 - every route with a template has one
        methods: set[str] = getattr(route, "methods", None) or set()
        if len(methods) != 1:
            raise ValueError(f"a lane stands in for a route with one method, not {sorted(methods)}")
        parts = re.split(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", path)
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
        return cls(next(iter(methods)), re.compile(regex), lane, route)


class Lanes:
    """ASGI middleware: a request that a lane's method and path match is offered to it first."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        lanes: Sequence[LaneSpec],
        handlers: Mapping[Any, Callable[..., Any]],
    ) -> None:
        self.app = app
        self._lanes = tuple(lanes)
        # The application's handlers, applied as its own ExceptionMiddleware applies them; a 500
        # handler belongs to the outermost middleware in Starlette, and stays there.
        own = {key: value for key, value in handlers.items() if key not in (500, Exception)}
        self._handled = ExceptionMiddleware(self._serve, handlers=own)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for spec in self._lanes:
                if spec.method == scope["method"]:
                    match = spec.pattern.fullmatch(scope["path"])
                    if match is not None:
                        scope[_LANE] = spec
                        scope["path_params"] = match.groupdict()
                        await self._handled(scope, receive, send)
                        return
        await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        spec: LaneSpec = scope.pop(_LANE)
        scope["route"] = spec.route  # audit entries name the route's template, as after routing
        request = Request(scope, receive)
        response = await spec.lane(request)
        if response is None:
            body = await request.body()  # read by the lane, or now: replayed either way
            del scope["path_params"]  # the router sets its own
            await self.app(scope, _replaying(body, receive), send)
            return
        await response(scope, receive, send)


_LANE = "netfin.lane"


def _replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` that first gives the body already read, then what the client sends next."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def single_header(request: Request, name: str) -> tuple[bool, str | None]:
    """(True, value or None) when ``name`` appears at most once; (False, None) when repeated."""
    values = request.headers.getlist(name)
    if len(values) > 1:
        return False, None
    return True, values[0] if values else None
