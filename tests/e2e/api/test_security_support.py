"""Shared checks for the security suites of the HTTP API (this module holds no tests).

Every refusal the API gives is an RFC 9457 problem document, so the suites
check a refusal in one way everywhere: its status, its rule-like ``code``,
its media type and the interaction id that comes back with it.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jwt
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry

from netfin.identity.oauth import load_api_signing_key
from netfin.identity.oauth.keys import key_id
from netfin.sim import openbanking as ob

OB = "/open-banking/v4.0"
PROBLEM_JSON = "application/problem+json"
PROBLEM_MEMBERS = frozenset({"type", "title", "status", "detail", "code"})
# Members that name the request itself (its path, its interaction id), not the refusal.
REQUEST_MEMBERS = frozenset({"instance", "interaction_id", "Id"})
_PLATFORM_ALGORITHM = "Ed25519"
_PLATFORM_REGISTRY = JWSRegistry(algorithms=[_PLATFORM_ALGORITHM])


def assert_problem(response: Any, status: int, code: str, context: str = "") -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and code; returns its body."""
    assert response.status_code == status, f"{context}: {response.text}"
    assert response.headers["content-type"] == PROBLEM_JSON, f"{context}: {response.headers}"
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_MEMBERS, f"{context}: {body}"
    assert (body["status"], body["code"]) == (status, code), f"{context}: {body}"
    assert body["type"] == f"urn:netfin:problem:{code}"
    assert body["detail"]
    assert response.headers["x-fapi-interaction-id"]
    return body


def assert_client_error(response: Any, status: int, context: str = "") -> dict[str, Any]:
    """A problem document with this 4xx status, whatever rule-like code it names."""
    assert response.status_code == status, f"{context}: {response.text}"
    assert response.headers["content-type"] == PROBLEM_JSON, context
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_MEMBERS and body["status"] == status, f"{context}: {body}"
    return body


def refusal(response: Any) -> tuple[int, str, dict[str, Any]]:
    """What a refusal tells the caller, less the members that only echo the request."""
    body = response.json()
    return (
        response.status_code,
        response.headers["content-type"],
        {k: v for k, v in body.items() if k not in REQUEST_MEMBERS},
    )


def assert_same_refusal(forbidden: Any, missing: Any, status: int, code: str, context: str = "") -> None:
    """An id the caller has no right to and an id that does not exist are answered alike,
    so that the answer never tells whether the id exists."""
    assert_problem(forbidden, status, code, context)
    assert_problem(missing, status, code, context)
    assert refusal(forbidden) == refusal(missing), context


def random_hex() -> str:
    return uuid.uuid4().hex


def neighbour_id(id_hex: str, step: int = 1) -> str:
    """The id next to ``id_hex``: UUIDv7 ids are time-ordered, so neighbours are the first guesses."""
    return f"{int(id_hex, 16) + step:032x}"


def read(http: Any, path: str, token: str) -> Any:
    """GET ``path`` with a bearer token, expecting 200; returns the JSON body."""
    return ob.expect(http.get(path, headers=ob.bearer(token)), 200)


def idempotency(token: str, key: str | None = None) -> dict[str, str]:
    return ob.bearer(token, **{"x-idempotency-key": key or random_hex()})


def _segment(token: str, index: int) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(_b64url(token.split(".")[index]))
    return decoded


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a JWT, read without checking it (to copy it into a forged token)."""
    return _segment(token, 1)


def resign(token: str, *, key: Ed25519PrivateKey | None = None, **changes: Any) -> str:
    """A copy of a platform token with some claims changed, signed again.

    With no ``key`` it is signed with the platform's own key, so the only thing
    wrong with it is the changed claim; with another key it is a forgery.
    """
    signing_key = key or load_api_signing_key()
    header = {**_segment(token, 0), "kid": key_id(load_api_signing_key().public_key())}
    claims = {**claims_of(token), **changes}
    return jwt.encode(header, claims, OKPKey.import_key(signing_key), registry=_PLATFORM_REGISTRY)


def flip_char(segment: str, index: int) -> str:
    """``segment`` with the base64url character at ``index`` replaced by another one."""
    replacement = "B" if segment[index] == "A" else "A"
    return segment[:index] + replacement + segment[index + 1 :]


def challenge_of(credential: dict[str, Any]) -> bytes:
    """The challenge a WebAuthn response answered, from its clientDataJSON."""
    client_data = json.loads(_b64url(credential["response"]["clientDataJSON"]))
    return _b64url(client_data["challenge"])


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def audit_entries(http: Any, auditor: str, **filters: str) -> list[dict[str, Any]]:
    """Every audit entry that matches ``filters``, read as an auditor reads them."""
    entries: list[dict[str, Any]] = []
    params: dict[str, str] = {**filters, "limit": "500"}
    while True:
        page = ob.expect(http.get("/v1/audit", params=params, headers=ob.bearer(auditor)), 200)
        entries.extend(page["entries"])
        if not page["next_cursor"]:
            return entries
        params["cursor"] = page["next_cursor"]
