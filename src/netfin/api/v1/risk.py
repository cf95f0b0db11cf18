"""``/v1/risk`` for risk analysts: the review queue, one decision with its reasons, labels, overrides.

Only staff with the risk analyst, operator or compliance role reach these
routes; every change (a label, an override) is audited by the risk service.
Labels feed the next training run (``netfin risk train`` reads them with
the decisions' stored features).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from netfin.api import deps
from netfin.api.deps import BankDep, Principal
from netfin.api.v1 import render
from netfin.core.errors import NotFound
from netfin.core.ids import format_id
from netfin.identity.model import Actor, Role
from netfin.risk.decisions import Decision
from netfin.risk.service import EXPIRES_AT_MS_MAX

router = APIRouter(prefix="/v1/risk", tags=["risk"])
Analyst = Annotated[Principal, Depends(deps.session(Role.RISK_ANALYST, Role.OPERATOR, Role.COMPLIANCE))]
DecisionPath = Annotated[str, PathParam(min_length=4, max_length=40, pattern=r"^rd-[0-9a-f]{32}$")]
PartyPath = Annotated[str, PathParam(min_length=1, max_length=64)]


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["confirmed_fraud", "false_positive", "legitimate", "missed_fraud"]
    note: str = Field("", max_length=500)


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["block", "allow"]
    reason: str = Field(..., min_length=3, max_length=200)
    expires_at_ms: int | None = Field(None, ge=0, le=EXPIRES_AT_MS_MAX)


def _actor(principal: Principal) -> Actor:
    return Actor(principal.kind, format_id(principal.party_id), None, principal.interaction_id)


def decision_json(d: Decision) -> dict[str, Any]:
    return {
        "decision_id": d.decision_id, "order_id": d.order_id, "payer": d.payer, "payee": d.payee,
        "amount_minor": d.amount_minor, "currency": d.currency, "segment": d.segment,
        "action": d.action.value,
        "score": d.score, "model_version": d.model_version, "challenger_score": d.challenger_score,
        "challenger_version": d.challenger_version, "ruleset_version": d.ruleset_version,
        "reasons": [{"code": r.code, "source": r.source, "detail": r.detail} for r in d.reasons],
        "features": d.features, "decided_ns": d.decided_ns, "latency_us": d.latency_us,
    }  # fmt: skip


@router.get("/review-queue")
def review_queue(
    principal: Analyst, bank: BankDep, limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_ns: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> Response:  # fmt: skip
    """Decisions that asked for more than approve and have no label yet, newest first."""
    decisions = bank.risk.review_queue(limit=limit, before_ns=before_ns)
    return render.json_response(200, {"decisions": [decision_json(d) for d in decisions]})


@router.get("/decisions/{decision_id}")
def get_decision(decision_id: DecisionPath, principal: Analyst, bank: BankDep) -> Response:
    if bank.risk.log is not None:
        bank.risk.log.flush()
    found = bank.risk.store.get(decision_id)
    if found is None:
        raise NotFound(f"no decision {decision_id}", code="decision_not_found")
    return render.json_response(200, decision_json(found))


@router.put("/decisions/{decision_id}/label")
def label_decision(decision_id: DecisionPath, body: LabelIn, principal: Analyst, bank: BankDep) -> Response:
    label = bank.risk.label(_actor(principal), decision_id, body.outcome, note=body.note)
    return render.json_response(
        200, {"decision_id": label.decision_id, "outcome": label.outcome.value, "analyst": label.analyst,
              "labelled_ns": label.labelled_ns},
    )  # fmt: skip


@router.put("/overrides/{party}")
def set_override(party: PartyPath, body: OverrideIn, principal: Analyst, bank: BankDep) -> Response:
    entry = bank.risk.set_override(
        _actor(principal), party, body.kind, reason=body.reason, expires_at_ms=body.expires_at_ms
    )
    return render.json_response(
        200, {"party": entry.party, "kind": entry.kind.value, "set_by": entry.set_by,
              "set_at_ms": entry.set_at_ms, "expires_at_ms": entry.expires_at_ms},
    )  # fmt: skip


@router.delete("/overrides/{party}", status_code=204)
def clear_override(party: PartyPath, principal: Analyst, bank: BankDep) -> Response:
    bank.risk.clear_override(_actor(principal), party)
    return Response(status_code=204)
