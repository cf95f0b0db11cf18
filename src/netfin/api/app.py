"""The FastAPI application: guards, error mapping and one router per area."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from netfin.api import errors, oauth
from netfin.api.lanes import Lanes
from netfin.api.middleware import Guards
from netfin.api.v1 import aml, credit, customers, operators, payments, risk
from netfin.storage.engine import POOL_SIZE
from netfin.web.routes import ROUTERS as WEB_ROUTERS

if TYPE_CHECKING:
    from netfin.bank import Bank

API_TITLE = "netfin API"
# Request threads per process (FastAPI runs every sync route and dependency on anyio's thread
# pool, 40 threads by default). No more than the database pool keeps open: a request beyond
# it would open and close a PostgreSQL session of its own (docs/benchmarks.md, finding 2).
REQUEST_THREADS = POOL_SIZE
API_VERSION = "0.1.0"


def create_app(
    bank: Bank,
    *,
    close_bank: bool = False,
    background: tuple[list[threading.Thread], threading.Event] | None = None,
    lanes: bool = True,
) -> FastAPI:
    """Build the application around an open ``Bank``; close it with the app if asked.

    ``background`` threads start with the application and are told to stop
    (and joined) when it shuts down, before the bank closes. ``lanes`` serves the
    busiest routes without FastAPI's per-request machinery (``netfin.api.lanes``);
    off, every request goes through FastAPI (the tests compare the two).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        threads, stop = background or ([], threading.Event())
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=10)
            if close_bank:
                bank.close()

    app = FastAPI(
        title=API_TITLE,
        version=API_VERSION,
        description="netfin: open banking (UK Open Banking v4.0 shapes) and netfin's own /v1 API.",
        lifespan=lifespan,
    )
    app.state.bank = bank
    errors.install(app)
    if lanes:
        from netfin.api.openbanking import lanes as ob_lanes

        # Added before Guards, so Guards wraps it: its checks apply to the lanes too.
        app.add_middleware(Lanes, lanes=ob_lanes.lanes(), handlers=app.exception_handlers)
    app.add_middleware(Guards)
    # FastAPI tries the routers in the order they are included, and trying one
    # costs a few microseconds per route it holds (0.46 ms of the event loop's
    # 1.2 ms per balance read when the open-banking routers came last): the
    # machine-paced routes (token endpoint, open banking) go first, the
    # human-paced portal last. No two routers share a path, so order decides
    # nothing else.
    from netfin.api.openbanking import routes as ob_routes
    from netfin.api.openbanking import vrp as ob_vrp

    app.include_router(oauth.router)
    for router in [*ob_routes.routers(), *ob_vrp.routers()]:
        app.include_router(router)
    app.include_router(customers.router)
    app.include_router(operators.router)
    app.include_router(payments.router)
    app.include_router(payments.device_router)
    app.include_router(payments.staff_router)
    app.include_router(risk.router)
    app.include_router(aml.router)
    app.include_router(credit.router)
    for web_router in WEB_ROUTERS:
        app.include_router(web_router)
    _publish_problems(app)
    return app


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; under /open-banking also the OB v4.0 error members.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {"type": "string"},
        "interaction_id": {"type": "string"},
        "Id": {"type": "string"},
        "Code": {"type": "string"},
        "Message": {"type": "string"},
        "Errors": {"type": "array", "items": {"type": "object"}},
        "error": {"type": "string"},
        "error_description": {"type": "string"},
    },
}


def _publish_problems(app: FastAPI) -> None:
    """Declare every error response as RFC 9457 ``application/problem+json`` in /openapi.json.

    FastAPI would advertise 422 validation errors; netfin answers them (and
    every other refusal) with 4xx problem documents, so the schema says so.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        problem = {
            "description": "A refusal or error (RFC 9457 problem details)",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses["default"] = problem
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
