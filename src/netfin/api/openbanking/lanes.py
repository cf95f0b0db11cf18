"""The open-banking routes served by lanes (see ``netfin.api.lanes``).

``POST /open-banking/v4.0/pisp/domestic-payments`` is the busiest write a TPP
makes, ``GET /open-banking/v4.0/aisp/accounts/{AccountId}/balances`` its
busiest read. Each lane checks what FastAPI would check (the path parameter
and each header at most once and within the route's constraints, a JSON
body valid for ``OBWriteDomestic2``), then calls the route's own token
dependency and endpoint, so a request served by a lane and one served by
FastAPI run the same code after the checks. Anything a lane does not accept
goes to the FastAPI route.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter
from pydantic import StringConstraints, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from netfin.api.deps import ais_access, bank_of, pis_access
from netfin.api.lanes import LaneSpec, single_header
from netfin.api.openbanking import jws, schemas
from netfin.api.openbanking.routes import (
    BASE,
    ID_LENGTH_MAX,
    ID_PATTERN,
    IDEMPOTENCY_KEY_LENGTH_MAX,
    IDEMPOTENCY_KEY_PATTERN,
    ais,
    create_domestic_payment,
    get_balances,
    pis,
)

PAYMENTS_PATH = BASE + "/pisp/domestic-payments"
BALANCES_PATH = BASE + "/aisp/accounts/{AccountId}/balances"
# The routes' header and path constraints, checked by pydantic as FastAPI checks them.
_OB_KEY = TypeAdapter(
    Annotated[str, StringConstraints(max_length=IDEMPOTENCY_KEY_LENGTH_MAX, pattern=IDEMPOTENCY_KEY_PATTERN)]
)
_PLAIN_KEY = TypeAdapter(Annotated[str, StringConstraints(max_length=IDEMPOTENCY_KEY_LENGTH_MAX)])
_ID = TypeAdapter(
    Annotated[str, StringConstraints(min_length=1, max_length=ID_LENGTH_MAX, pattern=ID_PATTERN)]
)
PAYMENT_HEADERS = ("authorization", "x-idempotency-key", "idempotency-key", jws.SIGNATURE_HEADER)


async def _domestic_payment(request: Request) -> Response | None:
    found: dict[str, str | None] = {}
    for name in PAYMENT_HEADERS:
        once, value = single_header(request, name)
        if not once:
            return None
        found[name] = value
    ob_key, key = found["x-idempotency-key"], found["idempotency-key"]
    try:
        if ob_key is not None:
            _OB_KEY.validate_python(ob_key)
        if key is not None:
            _PLAIN_KEY.validate_python(key)
    except ValidationError:
        return None
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return None
    raw = await request.body()
    try:
        body = schemas.OBWriteDomestic2.model_validate(json.loads(raw), from_attributes=True)
    except (ValueError, ValidationError):  # not JSON (json.JSONDecodeError is a ValueError), or invalid
        return None
    # Everything FastAPI validates holds: from here on, the route's own dependency and endpoint.
    access = await pis_access(request, found["authorization"])
    bank = bank_of(request)
    signature = found[jws.SIGNATURE_HEADER]
    response: Response = await run_in_threadpool(
        create_domestic_payment, request, body, access, bank, ob_key, key, signature
    )
    return response


async def _balances(request: Request) -> Response | None:
    account_id = request.path_params["AccountId"]
    once, authorization = single_header(request, "authorization")
    try:
        _ID.validate_python(account_id)
    except ValidationError:
        return None
    if not once:
        return None
    access = await ais_access(request, authorization)
    response: Response = await run_in_threadpool(get_balances, account_id, request, access, bank_of(request))
    return response


def _route(router: APIRouter, path: str, method: str) -> BaseRoute:
    for route in router.routes:
        if getattr(route, "path", None) == path and method in (getattr(route, "methods", None) or ()):
            return route
    raise LookupError(f"no {method} {path} route to serve a lane for")


def lanes() -> list[LaneSpec]:
    """The open-banking lanes, each with the FastAPI route it stands in for."""
    return [
        LaneSpec.for_route(_route(pis, PAYMENTS_PATH, "POST"), _domestic_payment),
        LaneSpec.for_route(_route(ais, BALANCES_PATH, "GET"), _balances),
    ]
