"""``/v1/aml`` for compliance, risk analysts, auditors and regulators: cases, decisions, filings, dashboard.

Compliance officers and risk analysts work cases (assign, note, add
evidence, decide); a second compliance officer approves a proposed report,
which is then rendered, validated against its schema and filed. Auditors
and regulators only read; every one of their reads is audited. The
dashboard carries aggregates only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from netfin.aml.cases import Case
from netfin.aml.cases.model import NOTE_LENGTH_MAX, CaseEvent
from netfin.api import deps
from netfin.api.deps import BankDep, Principal
from netfin.api.v1 import render
from netfin.core.ids import format_id
from netfin.identity.model import Actor, Role

router = APIRouter(prefix="/v1/aml", tags=["aml"])
Reader = Annotated[
    Principal, Depends(deps.session(Role.COMPLIANCE, Role.RISK_ANALYST, Role.AUDITOR, Role.REGULATOR))
]
Worker = Annotated[Principal, Depends(deps.session(Role.COMPLIANCE, Role.RISK_ANALYST))]
Officer = Annotated[Principal, Depends(deps.session(Role.COMPLIANCE))]
IdPath = Annotated[str, PathParam(min_length=8, max_length=40, pattern=r"^[0-9a-f-]+$")]


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: str = Field(..., min_length=1, max_length=80)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(..., min_length=1, max_length=NOTE_LENGTH_MAX)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["false_positive", "escalate", "report"]
    reason: str = Field(..., min_length=3, max_length=NOTE_LENGTH_MAX)


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    layout: Literal["pboc", "goaml"] = "pboc"


def _actor(principal: Principal) -> Actor:
    return Actor(principal.kind, format_id(principal.party_id), None, principal.interaction_id)


def _event(e: CaseEvent) -> dict[str, Any]:
    return {"seq": e.seq, "kind": e.kind, "actor": e.actor, "at_ns": e.at_ns, "detail": e.detail}


def _case(case: Case) -> dict[str, Any]:
    return case.as_dict()


@router.get("/cases")
def list_cases(
    principal: Reader,
    bank: BankDep,
    status: Annotated[
        Literal["open", "investigating", "escalated", "pending_approval", "filed", "closed"] | None, Query()
    ] = None,
    party: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """Cases by due date (the most urgent first)."""
    found = bank.aml.cases.cases(_actor(principal), status=status, party=party, limit=limit)
    return render.json_response(200, {"cases": [_case(c) for c in found]})


@router.get("/cases/{case_id}")
def get_case(case_id: IdPath, principal: Reader, bank: BankDep) -> Response:
    """One case with its alerts (reasons, facts, transactions, subgraph) and its history."""
    case, alerts, events = bank.aml.cases.case(_actor(principal), case_id)
    body = {"case": _case(case), "alerts": alerts, "events": [_event(e) for e in events]}
    return render.json_response(200, body)


@router.post("/cases/{case_id}/assignee")
def assign(case_id: IdPath, body: AssignIn, principal: Worker, bank: BankDep) -> Response:
    return render.json_response(200, _case(bank.aml.cases.assign(_actor(principal), case_id, body.assignee)))


@router.post("/cases/{case_id}/notes")
def note(case_id: IdPath, body: NoteIn, principal: Worker, bank: BankDep) -> Response:
    return render.json_response(200, _case(bank.aml.cases.note(_actor(principal), case_id, body.text)))


@router.post("/cases/{case_id}/evidence")
def evidence(
    case_id: IdPath, principal: Worker, bank: BankDep, body: Annotated[dict[str, Any], Body()]
) -> Response:
    """Attach evidence as JSON (a subgraph, transactions, references to documents)."""
    return render.json_response(200, _case(bank.aml.cases.add_evidence(_actor(principal), case_id, body)))


@router.post("/cases/{case_id}/decision")
def decide(case_id: IdPath, body: DecisionIn, principal: Worker, bank: BankDep) -> Response:
    """false_positive closes; escalate hands up; report waits for a second compliance officer."""
    case = bank.aml.cases.decide(_actor(principal), case_id, body.decision, body.reason)
    return render.json_response(200, _case(case))


@router.post("/cases/{case_id}/return")
def return_case(case_id: IdPath, body: NoteIn, principal: Officer, bank: BankDep) -> Response:
    return render.json_response(200, _case(bank.aml.cases.return_case(_actor(principal), case_id, body.text)))


@router.post("/cases/{case_id}/approval")
def approve(case_id: IdPath, body: ApprovalIn, principal: Officer, bank: BankDep) -> Response:
    """The second officer's approval: the report is rendered, validated against its schema and filed."""
    filing = bank.aml.cases.approve(_actor(principal), case_id, layout=body.layout)
    return render.json_response(
        201,
        {"filing_id": filing.filing_id, "case_id": filing.case_id, "kind": filing.kind,
         "layout": filing.layout, "sha256": filing.sha256},
    )  # fmt: skip


@router.get("/filings/{filing_id}")
def get_filing(filing_id: IdPath, principal: Reader, bank: BankDep) -> Response:
    """The filed XML document, as filed."""
    filing = bank.aml.cases.filing(_actor(principal), filing_id)
    return Response(
        filing.document,
        media_type="application/xml",
        headers={"X-Netfin-Sha256": filing.sha256, "Cache-Control": "no-store"},
    )


@router.get("/dashboard")
def dashboard(
    principal: Reader, bank: BankDep, since_ms: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0
) -> Response:
    """Aggregates for supervision: cases by status, alerts by scenario, filings by kind, SLA ageing."""
    return render.json_response(200, bank.aml.cases.dashboard(_actor(principal), since_ms=since_ms))
