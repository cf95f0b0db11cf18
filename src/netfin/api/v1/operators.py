"""``/v1`` for staff: onboard parties and TPPs, raise KYC, book deposits, read the
audit log, and replay dead notifications."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request
from starlette.responses import Response

from netfin.api.deps import AuditReader, BankDep, Principal, Staff
from netfin.api.v1 import render
from netfin.api.v1.customers import parse_party_id
from netfin.api.v1.schemas import (
    AccountIn,
    AccountOut,
    AuditPageOut,
    AuditVerifyOut,
    ClientIn,
    ClientOut,
    DeadLettersOut,
    DepositIn,
    KycIn,
    PartyIn,
    PartyOut,
)
from netfin.core.clock import iso_from_ns
from netfin.core.errors import InvalidInput
from netfin.core.ids import format_id
from netfin.identity.model import Actor
from netfin.payments import parse_amount
from netfin.storage.idempotency import StoredResponse, fingerprint

router = APIRouter(prefix="/v1", tags=["operators"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=40)]
PartyIdPath = Annotated[str, Path(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")]
AUDIT_PAGE_MAX = 500


def _actor(principal: Principal) -> Actor:
    return Actor(principal.kind, format_id(principal.party_id), None, principal.interaction_id)


def _run(
    request: Request, bank: BankDep, principal: Principal, key: str | None, payload: object, run: object
) -> Response:
    scope = "staff:" + format_id(principal.party_id)
    print_ = fingerprint(request.method, request.url.path, payload)
    return render.stored(bank.idempotency.run(scope, key, print_, run))


@router.post("/parties", status_code=201, response_model=PartyOut)
def create_party(
    request: Request, body: PartyIn, principal: Staff, bank: BankDep, key: IdempotencyKey = None
) -> Response:
    def run() -> StoredResponse:
        party = bank.identity.register_party(
            _actor(principal), kind=body.kind, display_name=body.display_name, phone=body.phone,
            roles=body.roles, identifiers=[(i.scheme, i.value) for i in body.identifiers],
        )  # fmt: skip
        return render.stored_json(201, render.party(party))

    return _run(request, bank, principal, key, body.model_dump(mode="json"), run)


@router.get("/parties/{party_id}", response_model=PartyOut)
def get_party(party_id: PartyIdPath, principal: Staff, bank: BankDep) -> Response:
    return render.json_response(200, render.party(bank.identity.get_party(parse_party_id(party_id))))


@router.post("/parties/{party_id}/kyc", response_model=PartyOut)
def raise_kyc(
    request: Request, party_id: PartyIdPath, body: KycIn, principal: Staff, bank: BankDep,
    key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    def run() -> StoredResponse:
        party = bank.identity.raise_kyc(
            _actor(principal), parse_party_id(party_id), evidence=body.evidence, reference=body.reference
        )
        return render.stored_json(200, render.party(party))

    return _run(request, bank, principal, key, body.model_dump(mode="json"), run)


@router.post("/parties/{party_id}/accounts", status_code=201, response_model=AccountOut)
def open_account(
    request: Request, party_id: PartyIdPath, body: AccountIn, principal: Staff, bank: BankDep,
    key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    def run() -> StoredResponse:
        account = bank.identity.open_account(
            _actor(principal), parse_party_id(party_id), currency=body.currency, nickname=body.nickname
        )
        return render.stored_json(201, render.account(account, None))

    return _run(request, bank, principal, key, body.model_dump(mode="json"), run)


@router.post("/accounts/{account_id}/deposits", status_code=201)
def deposit(
    request: Request, account_id: Annotated[str, Path(max_length=40)], body: DepositIn, principal: Staff,
    bank: BankDep, key: IdempotencyKey = None,
) -> Response:  # fmt: skip
    """Cash paid in at a branch: the bank's funding account pays the customer's."""

    def run() -> StoredResponse:
        account = bank.identity.get_account(account_id)
        if account.currency != body.currency:
            raise InvalidInput("the account holds another currency", code="currency_mismatch")
        minor = parse_amount(body.amount, body.currency)
        transfer_id = bank.identity.deposit_cash(_actor(principal), account_id, minor)
        return render.stored_json(
            201, {"transfer_id": format_id(transfer_id), "amount": render.money(minor, body.currency)}
        )

    return _run(request, bank, principal, key, body.model_dump(mode="json"), run)


@router.post("/tpps", status_code=201, response_model=ClientOut)
def register_tpp(
    request: Request, body: ClientIn, principal: Staff, bank: BankDep, key: IdempotencyKey = None
) -> Response:
    def run() -> StoredResponse:
        registration = bank.oauth.register_client(
            body.name, auth_method=body.auth_method, jwks=body.jwks, scopes=body.scopes,
            redirect_uris=body.redirect_uris,
        )  # fmt: skip
        bank.audit.record(
            actor_kind=principal.kind, actor_id=format_id(principal.party_id), action="tpp.register",
            outcome="succeeded", subject_kind="client", subject_id=registration.client_id,
            interaction_id=principal.interaction_id,
        )  # fmt: skip
        return render.stored_json(
            201, {"client_id": registration.client_id, "client_secret": registration.client_secret}
        )

    return _run(request, bank, principal, key, body.model_dump(mode="json"), run)


@router.get("/audit", response_model=AuditPageOut)
def audit_log(
    principal: AuditReader,
    bank: BankDep,
    actor_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    consent_id: Annotated[str | None, Query(max_length=128)] = None,
    subject_id: Annotated[str | None, Query(max_length=128)] = None,
    outcome: Annotated[str | None, Query(pattern="^(allowed|refused|succeeded|failed)$")] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=AUDIT_PAGE_MAX)] = 100,
) -> Response:
    """Auditors, regulators and compliance read the log (and reading it is itself logged)."""
    page = bank.audit.query(
        actor_id=actor_id, action=action, consent_id=consent_id, subject_id=subject_id, outcome=outcome,
        cursor=cursor, limit=limit,
    )  # fmt: skip
    bank.audit.record(
        actor_kind=principal.kind, actor_id=format_id(principal.party_id), action="audit.read",
        outcome="allowed", interaction_id=principal.interaction_id,
        detail={"entries": len(page.entries)},
    )  # fmt: skip
    entries = [
        {
            "seq": e.seq, "at": iso_from_ns(e.at_ns), "actor_kind": e.actor_kind, "actor_id": e.actor_id,
            "action": e.action, "outcome": e.outcome, "subject_kind": e.subject_kind,
            "subject_id": e.subject_id,
            "consent_id": e.consent_id, "interaction_id": e.interaction_id, "reason": e.reason,
            "detail": dict(e.detail), "entry_hash": e.entry_hash.hex(),
        }
        for e in page.entries
    ]  # fmt: skip
    return render.json_response(200, {"entries": entries, "next_cursor": page.next_cursor})


@router.get("/audit/verify", response_model=AuditVerifyOut)
def audit_verify(principal: AuditReader, bank: BankDep) -> Response:
    report = bank.audit.verify()
    return render.json_response(
        200,
        {
            "ok": report.ok, "entries": report.entries, "first_bad_seq": report.first_bad_seq,
            "problem": report.problem, "message": report.message,
        },
    )  # fmt: skip


@router.get("/notifications/dead-letters", response_model=DeadLettersOut)
def dead_letters(
    principal: Staff,
    bank: BankDep,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> Response:
    page = bank.notifications.dead_letters(cursor=cursor, limit=limit)
    items = [
        {"delivery_id": format_id(d.delivery_id), "client_id": d.client_id, "status": str(d.status),
         "attempts": d.attempts, "last_error": d.last_error}
        for d in page.deliveries
    ]  # fmt: skip
    return render.json_response(200, {"deliveries": items, "next_cursor": page.next_cursor})


@router.post("/notifications/dead-letters/{delivery_id}/replay", status_code=202)
def replay(
    request: Request,
    delivery_id: Annotated[str, Path(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")],
    principal: Staff,
    bank: BankDep,
    key: IdempotencyKey = None,
) -> Response:
    def run() -> StoredResponse:
        _replay(int(delivery_id, 16), principal, bank)
        return render.stored_json(202, {"delivery_id": delivery_id, "status": "pending"})

    return _run(request, bank, principal, key, None, run)


def _replay(delivery_id: int, principal: Principal, bank: BankDep) -> None:
    bank.notifications.replay(delivery_id, actor=format_id(principal.party_id))
    bank.audit.record(
        actor_kind=principal.kind, actor_id=format_id(principal.party_id), action="notification.replay",
        outcome="succeeded", subject_kind="delivery", subject_id=format_id(delivery_id),
        interaction_id=principal.interaction_id,
    )  # fmt: skip
