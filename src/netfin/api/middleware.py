"""Request guards that apply to every route, as one pure ASGI middleware.

- ``x-fapi-interaction-id``: echoed when the client sends a valid one,
  generated (a UUID) otherwise, and returned on every response.
- Bodies: at most ``BODY_BYTES_MAX`` (413 otherwise), counted as they stream,
  so a lying ``Content-Length`` does not help.
- Content types: a request with a body must be JSON, or a form for the OAuth
  token endpoint (415 otherwise).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from netfin.api.errors import problem

BODY_BYTES_MAX = 64 * 1024
INTERACTION_ID_LENGTH_MAX = 64
_INTERACTION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_FORM_PATHS = ("/oauth2/token",)
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]


class _TooLarge(Exception):
    pass


class Guards:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        sent = headers.get("x-fapi-interaction-id", "")
        interaction = sent if _INTERACTION_ID.match(sent) else str(uuid.uuid4())
        scope.setdefault("state", {})["interaction_id"] = interaction
        raw_id = interaction.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-fapi-interaction-id", raw_id),
                    *_SECURITY_HEADERS,
                ]
            await send(message)

        refusal = _refuse(scope, headers)
        if refusal is not None:
            status, code, detail = refusal
            await problem(Request(scope), status, code, detail)(scope, receive, send_with_id)
            return
        try:
            await self.app(scope, _counting(receive), send_with_id)
        except _TooLarge:
            detail = f"the request body exceeds {BODY_BYTES_MAX} bytes"
            await problem(Request(scope), 413, "body_too_large", detail)(scope, receive, send_with_id)


def _refuse(scope: Scope, headers: dict[str, str]) -> tuple[int, str, str] | None:
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            return 400, "content_length_invalid", "Content-Length must be a non-negative integer"
        if int(length) > BODY_BYTES_MAX:
            return 413, "body_too_large", f"the request body exceeds {BODY_BYTES_MAX} bytes"
    has_body = (length is not None and length != "0") or "transfer-encoding" in headers
    if scope["method"] in ("POST", "PUT", "PATCH") and has_body:
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        allowed = (
            ("application/x-www-form-urlencoded",) if scope["path"] in _FORM_PATHS else ("application/json",)
        )
        if media not in allowed:
            return 415, "content_type_unsupported", f"Content-Type must be {allowed[0]}"
    return None


def _counting(receive: Receive) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message: dict[str, Any] = dict(await receive())
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > BODY_BYTES_MAX:
                raise _TooLarge
        return message

    return wrapped
