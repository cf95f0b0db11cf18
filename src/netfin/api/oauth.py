"""The OAuth 2.0 token endpoint and the platform's public keys (JWKS).

Errors here carry RFC 6749's ``error`` and ``error_description`` as members
of the RFC 9457 problem document, so both kinds of client can read them.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from netfin.api import deps
from netfin.api.deps import BankDep
from netfin.api.v1 import render
from netfin.core.errors import NetfinError
from netfin.identity.oauth.errors import InvalidRequest, OAuthError
from netfin.storage.idempotency import StoredResponse, fingerprint

router = APIRouter(tags=["oauth"])
FORM_FIELDS_MAX = 16


@router.post(
    "/oauth2/token",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "grant_type": {
                                "type": "string",
                                "enum": ["client_credentials", "authorization_code"],
                            },
                            "scope": {"type": "string"},
                            "code": {"type": "string"},
                            "redirect_uri": {"type": "string"},
                            "client_id": {"type": "string"},
                            "client_assertion_type": {"type": "string"},
                            "client_assertion": {"type": "string"},
                        },
                        "required": ["grant_type"],
                    }
                }
            },
        }
    },
)
async def token(
    request: Request,
    bank: BankDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=40)] = None,
) -> Response:
    """RFC 6749 token endpoint: client_credentials and authorization_code, with private_key_jwt."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, max_num_fields=FORM_FIELDS_MAX)
    except ValueError:
        raise _invalid_request(f"at most {FORM_FIELDS_MAX} form fields", "form_too_many_fields") from None
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)):
        raise _invalid_request("a form field is repeated (RFC 6749 §3.2)", "form_field_repeated")
    stored = await run_in_threadpool(_issue, request, bank, pairs, authorization, key)
    return render.stored(stored)


def _issue(
    request: Request, bank: BankDep, pairs: list[tuple[str, str]], authorization: str | None, key: str | None
) -> StoredResponse:
    """Issue (or, for a repeated Idempotency-Key, replay) a token; audit either way."""
    endpoint = bank.settings.issuer.rstrip("/") + "/oauth2/token"

    def run() -> StoredResponse:
        try:
            issued = bank.oauth.token(
                dict(pairs), token_endpoint=endpoint, authorization_header=authorization
            )
        except NetfinError as error:
            _audit(request, bank, "refused", error.code, pairs)
            if isinstance(error, OAuthError):
                error.problem_extra = {"error": error.error, "error_description": error.error_description}  # type: ignore[attr-defined]
            raise
        _audit(request, bank, "succeeded", None, pairs)
        return render.stored_json(200, issued.as_json())

    scope = "token:" + dict(pairs).get("client_id", "")[:64]
    return bank.idempotency.run(scope, key, fingerprint("POST", "/oauth2/token", sorted(pairs)), run)  # type: ignore[no-any-return]


def _invalid_request(message: str, code: str) -> InvalidRequest:
    error = InvalidRequest(message, code=code)
    error.problem_extra = {"error": error.error, "error_description": message}  # type: ignore[attr-defined]
    return error


def _audit(
    request: Request, bank: BankDep, outcome: str, reason: str | None, pairs: list[tuple[str, str]]
) -> None:
    """Who asked (the claimed client id, trusted only when the outcome is success) and for what."""
    form = dict(pairs)
    client_id = form.get("client_id", "")[:64]
    bank.audit.record(
        actor_kind="tpp" if client_id else "anonymous", actor_id=client_id, action="auth.token",
        outcome=outcome, interaction_id=deps.interaction_id(request), reason=reason,
        detail={"grant_type": form.get("grant_type", "")[:40], "scope": form.get("scope", "")[:200]},
    )  # fmt: skip


@router.get("/oauth2/jwks")
def jwks(bank: BankDep) -> dict[str, object]:
    """Public keys that verify netfin's tokens and event notifications."""
    return bank.oauth.jwks()  # type: ignore[no-any-return]
