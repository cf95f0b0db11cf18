"""The one place where rejections become HTTP: RFC 9457 problem details.

Every error response is ``application/problem+json`` with the RFC 9457
members (type, title, status, detail, instance) plus netfin's ``code`` (the
rejection's rule-like name) and ``interaction_id``. Under
``/open-banking/`` the document also carries the UK Open Banking v4.0 error
members (Id, Code, Message, Errors[{ErrorCode, Message, Path}]) as extension
members, so an OB client can read it as an ``OBErrorResponse1``.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from netfin.core.errors import (
    ConfigurationError,
    Conflict,
    Forbidden,
    InvalidInput,
    LimitExceeded,
    NetfinError,
    NotFound,
    Unauthenticated,
)
from netfin.ratelimit.model import RateLimited

PROBLEM_JSON = "application/problem+json"
TOKEN_PATH = "/oauth2/token"  # noqa: S105 (a path, not a secret)
DETAIL_LENGTH_MAX = 500
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
# ISO 20022 ExternalStatusReason1Code values for the OB ``ErrorCode`` member.
_ISO_REASON = {
    "exceeds_credits": "AM04",
    "insufficient_funds": "AM04",
    "amount_invalid": "AM02",
    "amount_precision_invalid": "AM02",
    "account_not_found": "AC01",
    "consent_mismatch": "AG01",
    "permission_missing": "AG01",
    "consent_revoked": "AG01",
    "consent_expired": "AG01",
    "consent_rejected": "AG01",
    "consent_consumed": "AG01",
    "consent_awaiting_authorisation": "AG01",
    "expiration_in_past": "DT01",
    "transaction_window_invalid": "DT01",
}


class PayloadTooLarge(NetfinError):
    code = "body_too_large"


class UnsupportedMediaType(NetfinError):
    code = "content_type_unsupported"


def status_for(error: NetfinError) -> int:
    for kind, status in (
        (RateLimited, 429),
        (PayloadTooLarge, 413),
        (UnsupportedMediaType, 415),
        (Unauthenticated, 401),
        (Forbidden, 403),
        (NotFound, 404),
        (Conflict, 409),
        (LimitExceeded, 400),
        (InvalidInput, 400),
        (ConfigurationError, 503),
    ):
        if isinstance(error, kind):
            return status
    return 400


def problem(
    request: Request | None,
    status: int,
    code: str,
    detail: str,
    *,
    path: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    url_path = request.url.path if request is not None else ""
    interaction = getattr(request.state, "interaction_id", None) if request is not None else None
    body: dict[str, Any] = {
        "type": f"urn:netfin:problem:{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail[:DETAIL_LENGTH_MAX],
        "instance": url_path,
        "code": code,
    }
    if interaction:
        body["interaction_id"] = interaction
    if url_path.startswith("/open-banking/"):
        body.update(_ob_members(status, code, detail, interaction, path))
    if url_path == TOKEN_PATH:
        # RFC 6749 §5.2 clients read "error"; every refusal at the token endpoint carries it.
        body.update({"error": "invalid_request", "error_description": detail[:DETAIL_LENGTH_MAX]})
    if extra:
        body.update(extra)
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _ob_members(
    status: int, code: str, detail: str, interaction: str | None, path: str | None
) -> dict[str, Any]:
    error: dict[str, Any] = {"ErrorCode": _ISO_REASON.get(code, "NARR"), "Message": f"{code}: {detail}"[:500]}
    if path:
        error["Path"] = path[:500]
    members: dict[str, Any] = {
        "Code": f"{status} {_TITLES.get(status, 'Error').replace(' ', '')}"[:40],
        "Message": detail[:500] or code,
        "Errors": [error],
    }
    if interaction:
        members["Id"] = interaction[:40]
    return members


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into a problem document."""

    @app.exception_handler(NetfinError)
    async def _netfin(request: Request, error: NetfinError) -> Response:
        headers: dict[str, str] = {}
        status = status_for(error)
        if isinstance(error, RateLimited):
            headers["Retry-After"] = str(error.decision.retry_after_s)
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        extra = getattr(error, "problem_extra", None)
        return problem(request, status, error.code, error.message, headers=headers, extra=extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> Response:
        errors = error.errors()
        first = errors[0] if errors else {}
        location = ".".join(str(p) for p in first.get("loc", ()))
        message = str(first.get("msg", "invalid request"))
        detail = f"{location}: {message}" if location else message
        return problem(request, 400, "request_invalid", detail, path=location or None)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            error.status_code, "http_error"
        )
        return problem(request, error.status_code, code, str(error.detail), headers=dict(error.headers or {}))

    @app.exception_handler(orjson.JSONDecodeError)
    async def _json(request: Request, error: orjson.JSONDecodeError) -> Response:
        return problem(request, 400, "json_malformed", "the request body is not valid JSON")
