"""Domain objects to the JSON of the ``/v1`` API (money as strings, times as ISO 8601)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from starlette.responses import Response

from netfin.core.clock import iso_from_ns
from netfin.core.ids import format_id
from netfin.identity.consents import Consent, ConsentKind
from netfin.identity.model import CustomerAccount, Party
from netfin.identity.oauth.model import SessionToken
from netfin.ledger import Transfer, TransferFlags
from netfin.openbanking.service import Balance
from netfin.payments import format_amount
from netfin.storage.idempotency import StoredResponse

JSON = "application/json"
SCOPE_OF_KIND = {
    ConsentKind.ACCOUNT_ACCESS: "accounts",
    ConsentKind.DOMESTIC_PAYMENT: "payments",
    ConsentKind.FUNDS_CONFIRMATION: "fundsconfirmations",
}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=headers)


def stored_json(status: int, body: Any, location: str | None = None) -> StoredResponse:
    return StoredResponse(status, orjson.dumps(body), location)


def stored(response: StoredResponse) -> Response:
    headers = {}
    if response.location:
        headers["Location"] = response.location
    if response.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(response.body, status_code=response.status, media_type=JSON, headers=headers)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def money(minor: int, currency: str) -> dict[str, str]:
    return {"amount": format_amount(minor, currency), "currency": currency}


def session(token: SessionToken, party_id: int) -> dict[str, Any]:
    return {
        "session_token": token.token,
        "token_type": "Bearer",
        "expires_in": token.expires_in,
        "party_id": format_id(party_id),
    }


def party(p: Party) -> dict[str, Any]:
    return {
        "party_id": format_id(p.party_id),
        "kind": p.kind.value,
        "display_name": p.display_name,
        "kyc_level": int(p.kyc_level),
        "roles": sorted(r.value for r in p.roles),
        "status": p.status.value,
    }


def account(a: CustomerAccount, balance: Balance | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "account_id": a.account_id,
        "currency": a.currency,
        "nickname": a.nickname,
        "iban": a.iban,
        "status": a.status.value,
    }
    if balance is not None:
        body["booked"] = money(balance.booked_minor, a.currency)
        body["available"] = money(balance.available_minor, a.currency)
    return body


def transfer(t: Transfer, ledger_account_id: int) -> dict[str, Any]:
    return {
        "transfer_id": format_id(t.id),
        "direction": "debit" if t.debit_account_id == ledger_account_id else "credit",
        "amount": money(t.amount, t.currency),
        "booked_at": iso_from_ns(t.timestamp),
        "status": "pending" if t.flags & TransferFlags.PENDING else "booked",
    }


def consent(c: Consent) -> dict[str, Any]:
    return {
        "consent_id": c.consent_id,
        "kind": c.kind.value,
        "client_id": c.client_id,
        "status": c.status.value,
        "permissions": sorted(p.value for p in c.permissions),
        "account_ids": list(c.account_ids),
        "expires_at": None if c.expiration_ns is None else iso_from_ns(c.expiration_ns),
        "created_at": iso_from_ns(c.created_ns),
    }
