"""The operations console at ``/console``: ledger, risk review, AML, TPPs and the audit log, for staff.

Server-rendered and usable without JavaScript, like the portal. Each page opens only
for the roles that :data:`SECTIONS` names (the same rules as the JSON API in
``netfin.api.v1``); a signed-in party without one gets 403, an anonymous visitor is
sent to sign in. Every form carries the session's CSRF token, every read of
customer data and every change is recorded in the audit log, and every list is
limited. Regulators read but never act: no form is rendered for them and every
POST refuses them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from markupsafe import Markup
from starlette.responses import Response

from netfin.aml.cases import Case
from netfin.audit.model import AuditEntry
from netfin.audit.store import audit_log, entry_from_row
from netfin.core.clock import NS_PER_SECOND, iso_from_ns
from netfin.core.errors import NetfinError
from netfin.core.ids import format_id
from netfin.identity.consents.model import Consent
from netfin.identity.model import STAFF_ROLES, Role
from netfin.identity.oauth.model import OAuthClient
from netfin.risk.decisions import Decision
from netfin.web import charts
from netfin.web.common import Visit, bank_of, redirect, session_csrf_ok, visit_of, visit_page
from netfin.web.i18n import format_money, translator

if TYPE_CHECKING:
    from netfin.bank import Bank

router = APIRouter(include_in_schema=False)

STAFF = frozenset(role.value for role in STAFF_ROLES)
SIGNED_IN = frozenset(role.value for role in Role)
# The order in which a member of staff's roles name them in the audit log.
ROLE_ORDER = (Role.OPERATOR, Role.COMPLIANCE, Role.RISK_ANALYST, Role.AUDITOR, Role.REGULATOR)
OPERATOR, RISK, COMPLIANCE = Role.OPERATOR.value, Role.RISK_ANALYST.value, Role.COMPLIANCE.value
AUDITOR, REGULATOR = Role.AUDITOR.value, Role.REGULATOR.value


@dataclass(frozen=True, slots=True)
class Section:
    key: str
    path: str
    title: str
    readers: frozenset[str]


SECTIONS = (
    Section("risk", "/console/risk", "Risk review queue", frozenset({RISK})),
    Section("aml", "/console/aml", "AML alerts and cases", frozenset({COMPLIANCE, REGULATOR})),
    Section("tpps", "/console/tpps", "Third parties", frozenset({OPERATOR, COMPLIANCE, AUDITOR, REGULATOR})),
    Section("audit", "/console/audit", "Audit log", frozenset({AUDITOR, REGULATOR, COMPLIANCE})),
)
SECTION = {section.key: section for section in SECTIONS}
LEDGER_VERIFIERS = frozenset({OPERATOR, AUDITOR})
RISK_LABELLERS = frozenset({RISK})
AML_WORKERS = frozenset({COMPLIANCE})
AUDIT_VERIFIERS = frozenset({AUDITOR, COMPLIANCE})  # regulators never POST

CHECKPOINTS_SHOWN = 20
RISK_PAGE = 100
AML_PAGE = 100
TPP_PAGE = 100
CONSENT_PAGE = 100
AUDIT_PAGE_MAX = 100
AUDIT_PAGE_DEFAULT = 50
ROOT_HEX_SHOWN = 16
SCORE_BUCKETS = 10
LABEL_BUTTONS = ("confirmed_fraud", "false_positive")
LEDGER_VERIFY_STATE = "console_ledger_verify"
AUDIT_VERIFY_STATE = "console_audit_verify"
DAY_NS = 86_400 * NS_PER_SECOND
# Ageing buckets: (upper bound in days, exclusive; label). The last one is open-ended.
AGE_BUCKETS = ((1, "< 1 d"), (3, "1–3 d"), (7, "3–7 d"), (30, "7–30 d"), (None, "> 30 d"))

CsrfField = Annotated[str, Form(max_length=128)]
DecisionPath = Annotated[str, PathParam(min_length=4, max_length=40, pattern=r"^rd-[0-9a-f]{32}$")]
CasePath = Annotated[str, PathParam(min_length=8, max_length=40, pattern=r"^[0-9a-f-]+$")]
Outcome = Literal["confirmed_fraud", "false_positive", "legitimate", "missed_fraud"]


# Access --------------------------------------------------------------------------


def _kind(visit: Visit, roles: Iterable[str] = STAFF) -> str:
    """The role a member of staff acts in here: the first of theirs that the page accepts."""
    wanted = frozenset(roles)
    for role in ROLE_ORDER:
        if role.value in visit.roles and role.value in wanted:
            return role.value
    found = next((r.value for r in ROLE_ORDER if r.value in visit.roles), None)
    return found or (sorted(visit.roles & SIGNED_IN)[0] if visit.roles & SIGNED_IN else "anonymous")


def _sections(visit: Visit) -> list[Section]:
    return [s for s in SECTIONS if visit.roles & s.readers]


def _record(
    request: Request, visit: Visit, action: str, roles: Iterable[str], *, outcome: str = "allowed",
    subject: tuple[str, str] = ("", ""), reason: str | None = None, detail: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    bank_of(request).audit.record(
        actor_kind=_kind(visit, roles), actor_id=format_id(visit.party_id), action=action, outcome=outcome,
        subject_kind=subject[0], subject_id=subject[1][:128], interaction_id=visit.interaction_id,
        reason=reason, detail=detail,
    )  # fmt: skip


def _render(visit: Visit, template: str, path: str, status: int = 200, **context: Any) -> Response:
    return visit_page(
        visit, template, path, status, area="console", sections=_sections(visit), roles=sorted(visit.roles),
        **context,
    )  # fmt: skip


def _refuse(request: Request, visit: Visit, what: str) -> Response:
    """403 with a page of the console's own, and the refusal in the audit log."""
    _record(request, visit, "console.access", STAFF, outcome="refused", subject=("page", what),
            reason="role_missing")  # fmt: skip
    back = "/console" if visit.roles & STAFF else "/"
    return _render(visit, "console_base.html", "/console", 403, refusal="role", back=back)


def _enter(request: Request, roles: frozenset[str], what: str) -> Visit | Response:
    """The signed-in member of staff holding one of ``roles``, or the response that turns them away."""
    visit = visit_of(request, SIGNED_IN)  # a customer too, so that they are refused rather than sent round
    if visit is None:
        return redirect("/")
    if not visit.roles & roles:
        return _refuse(request, visit, what)
    return visit


def _enter_form(request: Request, roles: frozenset[str], what: str, csrf: str) -> Visit | Response:
    """As :func:`_enter`, for a POST: the form's CSRF token must match the session too."""
    entered = _enter(request, roles, what)
    if isinstance(entered, Visit) and not session_csrf_ok(request, csrf):
        _record(request, entered, "console.csrf", roles, outcome="refused", subject=("page", what),
                reason="csrf_mismatch")  # fmt: skip
        return _render(entered, "console_base.html", "/console", 403, refusal="csrf", back="/console")
    return entered


def _when(ns: int | None) -> str:
    return "" if ns is None else iso_from_ns(ns)[:19].replace("T", " ")


def _state(request: Request) -> dict[str, Any]:
    """The last verifications, kept in this process's memory (a small dict on the app's state)."""
    found = getattr(request.app.state, "console", None)
    if not isinstance(found, dict):
        found = {}
        request.app.state.console = found
    return found


# Overview and the ledger -----------------------------------------------------------


@router.get("/console")
def overview(request: Request) -> Response:
    entered = _enter(request, STAFF, "overview")
    if not isinstance(entered, Visit):
        return entered
    visit = entered
    checkpoints = [
        {
            "seq": c.seq, "tree_size": c.tree_size, "at": _when(c.timestamp),
            "root": c.root.hex()[:ROOT_HEX_SHOWN], "root_full": c.root.hex(),
        }
        for c in list(reversed(visit.bank.ledger.checkpoints()))[:CHECKPOINTS_SHOWN]
    ]  # fmt: skip
    return _render(
        visit, "console_home.html", "/console", checkpoints=checkpoints,
        verification=_state(request).get(LEDGER_VERIFY_STATE),
        can_verify=bool(visit.roles & LEDGER_VERIFIERS),
    )  # fmt: skip


@router.post("/console/ledger/verify")
def verify_ledger(request: Request, csrf: CsrfField = "") -> Response:
    entered = _enter_form(request, LEDGER_VERIFIERS, "ledger.verify", csrf)
    if not isinstance(entered, Visit):
        return entered
    visit = entered
    report = visit.bank.ledger.verify()
    issue = report.first_error
    result = {
        "ok": report.ok, "at": _when(visit.bank.clock.now_ns()), "entries": report.journal_entries,
        "accounts": report.accounts, "transfers": report.transfers, "checkpoints": report.checkpoints,
        "table": None if issue is None else issue.table, "seq": None if issue is None else issue.seq,
        "ref": None if issue is None else issue.ref, "reason": None if issue is None else issue.reason,
    }  # fmt: skip
    _state(request)[LEDGER_VERIFY_STATE] = result
    _record(
        request, visit, "console.ledger.verify", LEDGER_VERIFIERS,
        outcome="succeeded" if report.ok else "failed", subject=("ledger", "journal"),
        reason=None if issue is None else "ledger_tampered",
        detail={"entries": report.journal_entries, "first_bad_seq": result["seq"], "table": result["table"]},
    )  # fmt: skip
    return redirect("/console#verification")


# Risk review ---------------------------------------------------------------------------


def _score_bucket(score: Any) -> int | None:
    """0..9 for a score in [0, 1] (a float or Decimal in the risk layer, never money)."""
    if score is None:
        return None
    return min(SCORE_BUCKETS - 1, max(0, int(score * SCORE_BUCKETS)))


def _score_chart(decisions: Sequence[Decision], title: str) -> tuple[Markup, int]:
    """The histogram of the decisions' scores, and how many decisions had no model score."""
    counts = [0] * SCORE_BUCKETS
    unscored = 0
    for decision in decisions:
        bucket = _score_bucket(decision.score)
        if bucket is None:
            unscored += 1
        else:
            counts[bucket] += 1
    labels = [f"{i // 10}.{i % 10}–{(i + 1) // 10}.{(i + 1) % 10}" for i in range(SCORE_BUCKETS)]
    return charts.histogram(title, labels, counts), unscored


def _decision_row(d: Decision, lang: str) -> dict[str, Any]:
    return {
        "id": d.decision_id, "action": d.action.value,
        "score": "" if d.score is None else f"{d.score:.3f}",
        "reasons": [{"code": r.code, "source": r.source, "detail": r.detail} for r in d.reasons],
        "model": d.model_version or "", "ruleset": d.ruleset_version,
        "amount": format_money(d.amount_minor, d.currency, lang), "at": _when(d.decided_ns),
        "payer": d.payer, "payee": d.payee,
    }  # fmt: skip


def _risk_page(
    request: Request, visit: Visit, before: int | None, status: int = 200, error: str = ""
) -> Response:
    decisions = visit.bank.risk.review_queue(limit=RISK_PAGE, before_ns=before)
    _record(request, visit, "console.read.risk_queue", SECTION["risk"].readers,
            detail={"decisions": len(decisions)})  # fmt: skip
    _ = translator(visit.lang)
    older = decisions[-1].decided_ns if len(decisions) == RISK_PAGE else None
    chart, unscored = _score_chart(decisions, _("Scores of the decisions listed"))
    return _render(
        visit, "console_risk.html", "/console/risk", status,
        decisions=[_decision_row(d, visit.lang) for d in decisions], older=older, error=error,
        chart=chart, unscored=unscored, labels=LABEL_BUTTONS,
        can_label=bool(visit.roles & RISK_LABELLERS),
    )  # fmt: skip


@router.get("/console/risk")
def risk_queue(request: Request, before: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None) -> Response:
    entered = _enter(request, SECTION["risk"].readers, "risk")
    if not isinstance(entered, Visit):
        return entered
    return _risk_page(request, entered, before)


@router.post("/console/risk/{decision_id}/label")
def label_decision(
    request: Request,
    decision_id: DecisionPath,
    csrf: CsrfField = "",
    label: Annotated[Outcome | None, Form()] = None,
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    entered = _enter_form(request, RISK_LABELLERS, "risk.label", csrf)
    if not isinstance(entered, Visit):
        return entered
    visit = entered
    if label is None:
        return _risk_page(request, visit, None, 400, "label_missing")
    try:
        visit.bank.risk.label(visit.actor(_kind(visit, RISK_LABELLERS)), decision_id, label, note=note)
    except NetfinError as error:
        _record(request, visit, "console.risk.label", RISK_LABELLERS, outcome="refused",
                subject=("decision", decision_id), reason=error.code)  # fmt: skip
        return _risk_page(request, visit, None, 409, "label_failed")
    _record(request, visit, "console.risk.label", RISK_LABELLERS, outcome="succeeded",
            subject=("decision", decision_id), detail={"outcome": label})  # fmt: skip
    return redirect("/console/risk")


# AML -------------------------------------------------------------------------------------


def _age_bucket(age_ns: int) -> int:
    days = max(0, age_ns) // DAY_NS
    for index, (bound, _label) in enumerate(AGE_BUCKETS):
        if bound is not None and days < bound:
            return index
    return len(AGE_BUCKETS) - 1


def _case_row(case: Case, now_ns: int) -> dict[str, Any]:
    age_ns = max(0, now_ns - case.opened_ns)
    return {
        "id": case.case_id, "party": case.party, "status": case.status.value, "severity": case.severity,
        "alerts": case.alert_count, "typologies": ", ".join(case.typologies),
        "age_days": age_ns // DAY_NS, "age_hours": age_ns % DAY_NS // (3_600 * NS_PER_SECOND),
        "opened": _when(case.opened_ns), "due": _when(case.due_ns), "breached": case.overdue(now_ns),
        "assignee": case.assignee or "", "active": case.status.value in _ACTIVE_STATUSES,
    }  # fmt: skip


_ACTIVE_STATUSES = frozenset({"open", "investigating", "escalated", "pending_approval"})


def _aml_page(request: Request, visit: Visit, status: int = 200, error: str = "") -> Response:
    readers = SECTION["aml"].readers
    actor = visit.actor(_kind(visit, readers))
    now = visit.bank.clock.now_ns()
    found = visit.bank.aml.cases.cases(actor, limit=AML_PAGE)
    dashboard = visit.bank.aml.cases.dashboard(actor)
    _record(request, visit, "console.read.aml_cases", readers, detail={"cases": len(found)})
    rows = [_case_row(c, now) for c in found]
    counts = [0] * len(AGE_BUCKETS)
    for row, case in zip(rows, found, strict=True):
        if row["active"]:
            counts[_age_bucket(now - case.opened_ns)] += 1
    _ = translator(visit.lang)
    chart = charts.bar_chart(_("Age of the open cases listed"), [_(b[1]) for b in AGE_BUCKETS], counts)
    return _render(
        visit, "console_aml.html", "/console/aml", status, cases=rows, chart=chart, error=error,
        scenarios=sorted(dashboard["alerts_by_scenario"].items()), ageing=dashboard["ageing"],
        can_act=bool(visit.roles & AML_WORKERS), limit=AML_PAGE,
    )  # fmt: skip


@router.get("/console/aml")
def aml_cases(request: Request) -> Response:
    entered = _enter(request, SECTION["aml"].readers, "aml")
    if not isinstance(entered, Visit):
        return entered
    return _aml_page(request, entered)


@router.post("/console/aml/{case_id}/assign")
def take_case(request: Request, case_id: CasePath, csrf: CsrfField = "") -> Response:
    """A compliance officer takes a case (assigns it to themselves)."""
    entered = _enter_form(request, AML_WORKERS, "aml.assign", csrf)
    if not isinstance(entered, Visit):
        return entered
    visit = entered
    me = format_id(visit.party_id)
    try:
        visit.bank.aml.cases.assign(visit.actor(_kind(visit, AML_WORKERS)), case_id, me)
    except NetfinError as error:
        _record(request, visit, "console.aml.assign", AML_WORKERS, outcome="refused",
                subject=("aml_case", case_id), reason=error.code)  # fmt: skip
        return _aml_page(request, visit, 409, "assign_failed")
    _record(request, visit, "console.aml.assign", AML_WORKERS, outcome="succeeded",
            subject=("aml_case", case_id))  # fmt: skip
    return redirect("/console/aml")


# Third parties -----------------------------------------------------------------------------


def _client_row(client: OAuthClient) -> dict[str, Any]:
    return {
        "id": client.client_id, "name": client.name, "status": client.status.value,
        "auth": client.auth_method.value, "scopes": ", ".join(sorted(client.scopes)),
        "created": _when(client.created_ns),
    }  # fmt: skip


def _consent_row(consent: Consent, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": consent.consent_id, "client": names.get(consent.client_id, consent.client_id),
        "kind": consent.kind.value, "status": consent.status.value,
        "permissions": ", ".join(sorted(p.value for p in consent.permissions)),
        "expires": _when(consent.expiration_ns), "created": _when(consent.created_ns),
    }  # fmt: skip


@router.get("/console/tpps")
def tpps(request: Request) -> Response:
    readers = SECTION["tpps"].readers
    entered = _enter(request, readers, "tpps")
    if not isinstance(entered, Visit):
        return entered
    visit = entered
    clients = visit.bank.oauth.list_clients(limit=TPP_PAGE)
    consents = visit.bank.consents.list_recent(limit=CONSENT_PAGE)
    _record(request, visit, "console.read.tpps", readers,
            detail={"clients": len(clients), "consents": len(consents)})  # fmt: skip
    names = {c.client_id: c.name for c in clients}
    return _render(
        visit, "console_tpps.html", "/console/tpps", clients=[_client_row(c) for c in clients],
        consents=[_consent_row(c, names) for c in consents], client_limit=TPP_PAGE,
        consent_limit=CONSENT_PAGE,
    )  # fmt: skip


# The audit log ----------------------------------------------------------------------------


def _audit_entries(bank: Bank, action: str, actor: str, before: int | None, limit: int) -> list[AuditEntry]:
    """Newest first, read-only: ``action`` is a prefix, ``actor`` an exact actor id."""
    where: list[sa.ColumnElement[bool]] = []
    if action:
        where.append(audit_log.c.action.startswith(action, autoescape=True))
    if actor:
        where.append(audit_log.c.actor_id == actor)
    if before is not None:
        where.append(audit_log.c.seq < before)
    statement = sa.select(audit_log).where(*where).order_by(audit_log.c.seq.desc()).limit(limit)
    with bank.engine.connect() as connection:
        return [entry_from_row(row) for row in connection.execute(statement)]


def _entry_row(e: AuditEntry) -> dict[str, Any]:
    return {
        "seq": e.seq, "at": _when(e.at_ns), "actor_kind": e.actor_kind, "actor_id": e.actor_id,
        "action": e.action, "outcome": e.outcome, "subject": f"{e.subject_kind} {e.subject_id}".strip(),
        "reason": e.reason or "",
    }  # fmt: skip


@router.get("/console/audit")
def audit_page(
    request: Request,
    action: Annotated[str, Query(max_length=64)] = "",
    actor: Annotated[str, Query(max_length=64)] = "",
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=AUDIT_PAGE_MAX)] = AUDIT_PAGE_DEFAULT,
) -> Response:
    readers = SECTION["audit"].readers
    entered = _enter(request, readers, "audit")
    if not isinstance(entered, Visit):
        return entered
    visit = entered
    action, actor = action.strip(), actor.strip()
    entries = _audit_entries(visit.bank, action, actor, before, limit + 1)
    more = len(entries) > limit
    entries = entries[:limit]
    _record(request, visit, "console.read.audit_log", readers,
            detail={"entries": len(entries), "action": action[:64], "actor": actor[:64]})  # fmt: skip
    return _render(
        visit, "console_audit.html", "/console/audit", entries=[_entry_row(e) for e in entries],
        action=action, actor=actor, limit=limit, limit_max=AUDIT_PAGE_MAX,
        next_before=entries[-1].seq if more and entries else None,
        verification=_state(request).get(AUDIT_VERIFY_STATE), can_verify=bool(visit.roles & AUDIT_VERIFIERS),
    )  # fmt: skip


@router.post("/console/audit/verify")
def verify_audit(request: Request, csrf: CsrfField = "") -> Response:
    entered = _enter_form(request, AUDIT_VERIFIERS, "audit.verify", csrf)
    if not isinstance(entered, Visit):
        return entered
    visit = entered
    report = visit.bank.audit.verify()
    _state(request)[AUDIT_VERIFY_STATE] = {
        "ok": report.ok, "at": _when(visit.bank.clock.now_ns()), "entries": report.entries,
        "seq": report.first_bad_seq, "problem": report.problem,
    }  # fmt: skip
    _record(request, visit, "console.audit.verify", AUDIT_VERIFIERS,
            outcome="succeeded" if report.ok else "failed", subject=("audit", "chain"),
            detail={"entries": report.entries, "first_bad_seq": report.first_bad_seq})  # fmt: skip
    return redirect("/console/audit")


__all__ = ["SECTIONS", "router"]
