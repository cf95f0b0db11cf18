"""Request guards that apply to every route, as one pure ASGI middleware.

- ``x-fapi-interaction-id``: echoed when the client sends a valid one,
  generated (a UUID) otherwise, and returned on every response.
- Bodies: at most ``BODY_BYTES_MAX`` (413 otherwise), counted as they stream,
  so a lying ``Content-Length`` does not help. The bytes are kept as they
  arrive, so that ``raw_body(request)`` gives a route the exact body a
  signature covers.
- Content types: a request with a body to the APIs (``/v1/``, ``/open-banking/``,
  ``/oauth2/``) must be JSON, except the OAuth token endpoint's form; the web
  portal, everywhere else, takes forms (or JSON); 415 otherwise.
- Signed responses: every response with a body under ``SIGNED_PATH_PREFIXES``
  (UK Open Banking payment initiation and event subscriptions, errors
  included) carries ``x-jws-signature``, a detached JWS over the exact body
  bytes made with the platform key (see ``netfin.api.openbanking.jws``). The
  body is held until it is complete, which is at most
  ``SIGNED_RESPONSE_BYTES_MAX`` bytes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from netfin.api.errors import problem
from netfin.api.openbanking import jws
from netfin.core.errors import invariant

BODY_BYTES_MAX = 64 * 1024
INTERACTION_ID_LENGTH_MAX = 64
_INTERACTION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_FORM_PATHS = ("/oauth2/token",)
# The APIs speak JSON; the web portal, everywhere else, posts HTML forms.
_JSON_PREFIXES = ("/v1/", "/open-banking/", "/oauth2/")
_BODY_CHUNKS = "netfin.body_chunks"
SIGNED_PATH_PREFIXES = ("/open-banking/v4.0/pisp/", "/open-banking/v4.0/event-subscriptions")
# Signed responses are small documents built by the API itself; one this
# large would be a bug, not a request to serve.
SIGNED_RESPONSE_BYTES_MAX = 1024 * 1024
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]


class _TooLarge(HTTPException):
    """The body grew past ``BODY_BYTES_MAX`` while it streamed in.

    An ``HTTPException``, because FastAPI turns any other exception raised
    while it reads a body into a 400; this one reaches the application's
    handler (``api.errors``), which answers 413 ``body_too_large``. Where no
    handler is on the way (a body read outside a route), ``Guards`` answers.
    """

    def __init__(self) -> None:
        super().__init__(413, f"the request body exceeds {BODY_BYTES_MAX} bytes")


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

        respond: Send = send_with_id
        if scope["path"].startswith(SIGNED_PATH_PREFIXES):
            respond = _signing(send_with_id, response_signer(scope["app"]).sign)
        refusal = _refuse(scope, headers)
        if refusal is not None:
            status, code, detail = refusal
            await problem(Request(scope), status, code, detail)(scope, receive, respond)
            return
        try:
            await self.app(scope, _counting(receive, scope["state"]), respond)
        except _TooLarge as error:
            await problem(Request(scope), 413, "body_too_large", error.detail)(scope, receive, respond)


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
        allowed = _media_allowed(scope["path"])
        if media not in allowed:
            return 415, "content_type_unsupported", f"Content-Type must be {allowed[0]}"
    return None


def _media_allowed(path: str) -> tuple[str, ...]:
    """The APIs take JSON (the OAuth token endpoint a form); elsewhere, the portal's forms or JSON."""
    if path in _FORM_PATHS:
        return ("application/x-www-form-urlencoded",)
    if path.startswith(_JSON_PREFIXES):
        return ("application/json",)
    return ("application/x-www-form-urlencoded", "application/json")


def _counting(receive: Receive, state: dict[str, Any]) -> Receive:
    """Count the body as it streams, and keep its chunks for ``raw_body``."""
    seen = 0
    chunks: list[bytes] = []
    state[_BODY_CHUNKS] = chunks

    async def wrapped() -> Message:
        nonlocal seen
        message: dict[str, Any] = dict(await receive())
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > BODY_BYTES_MAX:
                raise _TooLarge
            chunks.append(chunk)
        return message

    return wrapped


def raw_body(request: Request) -> bytes:
    """The exact bytes of the request body as they arrived (for signature checks).

    Complete once the application has read the body, as FastAPI does before
    it calls a route with a body parameter.
    """
    chunks: list[bytes] = request.scope.get("state", {}).get(_BODY_CHUNKS, [])
    return b"".join(chunks)


def response_signer(app: Any) -> jws.ResponseSigner:
    """The application's response signer, made on first use and kept in ``app.state``."""
    signer = getattr(app.state, "ob_response_signer", None)
    if not isinstance(signer, jws.ResponseSigner):
        signer = jws.platform_signer(app.state.bank)
        app.state.ob_response_signer = signer
    return signer


def _signing(send: Send, sign: Callable[[bytes], str]) -> Send:
    """Hold the response start until the body is complete, then add its signature."""
    start: Message | None = None
    chunks: list[bytes] = []
    held = 0

    async def wrapped(message: Message) -> None:
        nonlocal start, held
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        chunk = message.get("body", b"")
        held += len(chunk)
        invariant(held <= SIGNED_RESPONSE_BYTES_MAX, "a signed response outgrew SIGNED_RESPONSE_BYTES_MAX")
        chunks.append(chunk)
        if message.get("more_body", False):
            return
        body = b"".join(chunks)
        if body:
            start = {
                **start,
                "headers": [*start.get("headers", []), (b"x-jws-signature", sign(body).encode())],
            }
        await send(start)
        start = None
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return wrapped
