"""Use cases of AML case work: alerts in, cases worked, decided and filed with four eyes.

Every change is one transaction that compare-and-sets the case's version,
appends to the case's history (``aml_case_events``) and is recorded in the
audit log. Reads by a regulator or an auditor are audited too.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from netfin.aml.cases import store
from netfin.aml.cases.model import (
    ACTIVE,
    APPROVERS,
    ASSIGNEE_LENGTH_MAX,
    AUDITED_READERS,
    EVIDENCE_BYTES_MAX,
    NOTE_LENGTH_MAX,
    READERS,
    WORKERS,
    Ageing,
    Case,
    CaseEvent,
    CaseStatus,
    Decision,
    FilingKind,
)
from netfin.aml.monitoring.model import Alert, Severity
from netfin.audit import AuditLog
from netfin.core.clock import Clock
from netfin.core.errors import ConfigurationError, Conflict, Forbidden, InvalidInput, NotFound
from netfin.core.ids import IdSource, format_id
from netfin.identity.model import Actor
from netfin.storage.bulk import insert_rows

_HOUR_NS = 3_600 * 10**9
DEFAULT_SLA_HOURS = {Severity.HIGH.value: 72, Severity.MEDIUM.value: 120, Severity.LOW.value: 240}
_RANK = {Severity.LOW.value: 0, Severity.MEDIUM.value: 1, Severity.HIGH.value: 2}
ALERTS_PER_CALL_MAX = 50_000
LIST_LIMIT_MAX = 500

# (case, its alerts, layout, kind, approver) -> the report document, validated by the renderer.
Renderer = Callable[[Case, Sequence[Mapping[str, Any]], str, FilingKind, str], bytes]


@dataclass(frozen=True, slots=True)
class Ingested:
    alerts_new: int
    alerts_duplicate: int
    cases_opened: int
    case_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Filing:
    filing_id: str
    case_id: str
    kind: str
    layout: str
    sha256: str
    document: bytes


def _require(actor: Actor, kinds: frozenset[str], what: str) -> None:
    if actor.kind not in kinds:
        raise Forbidden(f"a {actor.kind} may not {what}", code="aml_role_required")


class CaseService:
    """Alerts to cases, and everything an analyst, an approver or a regulator does with them."""

    def __init__(
        self,
        engine: sa.Engine,
        audit: AuditLog,
        *,
        clock: Clock,
        ids: IdSource,
        sla_hours: Mapping[str, int] | None = None,
        renderer: Renderer | None = None,
    ) -> None:
        self.engine = engine
        self.audit = audit
        self.clock = clock
        self.ids = ids
        self.sla_hours = dict(DEFAULT_SLA_HOURS | dict(sla_hours or {}))
        self.renderer = renderer

    # -- alerts in ----------------------------------------------------------------------

    def ingest(self, alerts: Sequence[Alert], *, party_of: Mapping[str, str] | None = None) -> Ingested:
        """Store new alerts (a replayed one is recognised and skipped) and put each on its customer's case.

        ``party_of`` maps an account to its customer; an account absent from it
        is its own customer. One active case per customer collects its alerts.
        """
        if len(alerts) > ALERTS_PER_CALL_MAX:
            raise InvalidInput(f"at most {ALERTS_PER_CALL_MAX} alerts per call", code="too_many_alerts")
        now = self.clock.now_ns()
        keyed = {f"{a.scenario}|{a.account}|{a.ts_ms}": a for a in alerts}
        with self.engine.begin() as connection:
            known = self._known_keys(connection, list(keyed))
            fresh = {k: a for k, a in keyed.items() if k not in known}
            by_party: dict[str, list[tuple[str, Alert]]] = defaultdict(list)
            for key, alert in fresh.items():
                by_party[(party_of or {}).get(alert.account, alert.account)].append((key, alert))
            cases = self._active_cases(connection, list(by_party))
            opened = [p for p in by_party if p not in cases]
            for party in opened:
                cases[party] = self._open(connection, party, now)
            rows = []
            for party, items in by_party.items():
                case = cases[party]
                rows += [self._alert_row(key, alert, party, case.case_id, now) for key, alert in items]
                self._add_alerts(connection, case, [a for _, a in items], now)
            insert_rows(connection, store.aml_alerts, rows)
        self.audit.record_many(
            [
                self._audit(
                    Actor.system("aml"), "aml.case.alerts_added", cases[p].case_id, {"alerts": len(items)}
                )
                for p, items in by_party.items()
            ]
        )
        return Ingested(
            alerts_new=len(fresh),
            alerts_duplicate=len(keyed) - len(fresh) + (len(alerts) - len(keyed)),
            cases_opened=len(opened),
            case_ids=tuple(sorted({cases[p].case_id for p in by_party})),
        )

    def _known_keys(self, connection: sa.Connection, keys: list[str]) -> set[str]:
        t = store.aml_alerts
        known: set[str] = set()
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            known |= set(
                connection.execute(sa.select(t.c.dedup_key).where(t.c.dedup_key.in_(part))).scalars()
            )
        return known

    def _active_cases(self, connection: sa.Connection, parties: list[str]) -> dict[str, Case]:
        t = store.aml_cases
        found: dict[str, Case] = {}
        for start in range(0, len(parties), 500):
            part = parties[start : start + 500]
            rows = connection.execute(
                sa.select(t).where(t.c.party.in_(part), t.c.status.in_([s.value for s in ACTIVE]))
            ).all()
            found |= {r.party: store.case_from_row(r) for r in rows}
        return found

    def _open(self, connection: sa.Connection, party: str, now: int) -> Case:
        case = Case(
            case_id=format_id(self.ids.new_id()),
            party=party,
            status=CaseStatus.OPEN,
            severity=Severity.LOW.value,
            opened_ns=now,
            due_ns=now + self.sla_hours[Severity.LOW.value] * _HOUR_NS,
            updated_ns=now,
            version=0,
            alert_count=0,
            typologies=(),
        )
        connection.execute(sa.insert(store.aml_cases).values(**_case_values(case)))
        self._event(connection, case.case_id, "opened", "system:aml", now, {"party": party})
        return case

    def _add_alerts(self, connection: sa.Connection, case: Case, alerts: list[Alert], now: int) -> None:
        severity = max([case.severity, *(a.severity for a in alerts)], key=_RANK.__getitem__)
        # A more severe alert brings the due date forward, never back.
        due = min(case.due_ns, case.opened_ns + self.sla_hours[severity] * _HOUR_NS)
        typologies = sorted(set(case.typologies) | {a.typology for a in alerts})
        t = store.aml_cases
        connection.execute(
            sa.update(t)
            .where(t.c.case_id == case.case_id)
            .values(
                alert_count=t.c.alert_count + len(alerts),
                severity=severity,
                due_ns=due,
                typologies=typologies,
                updated_ns=now,
                version=t.c.version + 1,
            )
        )
        self._event(
            connection,
            case.case_id,
            "alerts_added",
            "system:aml",
            now,
            {"scenarios": sorted({a.scenario for a in alerts})},
        )

    def _alert_row(self, key: str, a: Alert, party: str, case_id: str, now: int) -> dict[str, Any]:
        return {
            "alert_id": format_id(self.ids.new_id()),
            "dedup_key": key[:200],
            "scenario": a.scenario,
            "scenario_version": a.scenario_version,
            "profile_version": a.profile_version,
            "account": a.account,
            "party": party,
            "ts_ms": a.ts_ms,
            "severity": a.severity,
            "typology": a.typology,
            "reason_en": a.reason_en[:1000],
            "reason_zh": a.reason_zh[:1000],
            "facts": a.facts,
            "txn_ids": list(a.txn_ids),
            "subgraph": a.subgraph,
            "case_id": case_id,
            "created_ns": now,
        }

    # -- reads --------------------------------------------------------------------------

    def cases(
        self, actor: Actor, *, status: str | None = None, party: str | None = None, limit: int = 50
    ) -> list[Case]:
        _require(actor, READERS, "read AML cases")
        if not 1 <= limit <= LIST_LIMIT_MAX:
            raise InvalidInput(f"limit is 1..{LIST_LIMIT_MAX}", code="limit_invalid")
        t = store.aml_cases
        query = sa.select(t).order_by(t.c.due_ns, t.c.case_id).limit(limit)
        if status is not None:
            query = query.where(t.c.status == CaseStatus(status).value)
        if party is not None:
            query = query.where(t.c.party == party)
        with self.engine.connect() as connection:
            found = [store.case_from_row(r) for r in connection.execute(query)]
        self._audit_read(actor, "aml.cases.listed", "", {"count": len(found)})
        return found

    def case(self, actor: Actor, case_id: str) -> tuple[Case, list[dict[str, Any]], list[CaseEvent]]:
        """A case with its alerts (evidence included) and its history."""
        _require(actor, READERS, "read AML cases")
        with self.engine.connect() as connection:
            case = self._load(connection, case_id)
            alerts = _alerts_of(connection, case_id)
            e = store.aml_case_events
            events = [
                store.event_from_row(r)
                for r in connection.execute(sa.select(e).where(e.c.case_id == case_id).order_by(e.c.seq))
            ]
        self._audit_read(actor, "aml.case.read", case_id, {})
        return case, alerts, events

    def ageing(self, actor: Actor) -> Ageing:
        """Active cases against their SLA."""
        _require(actor, READERS, "read AML cases")
        now = self.clock.now_ns()
        t = store.aml_cases
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(t.c.status, t.c.due_ns).where(t.c.status.in_([s.value for s in ACTIVE]))
            ).all()
        by_status: dict[str, int] = defaultdict(int)
        on_time = due_soon = overdue = 0
        oldest = 0
        for status, due in rows:
            by_status[status] += 1
            if now > due:
                overdue += 1
                oldest = max(oldest, (now - due) // _HOUR_NS)
            elif due - now <= 24 * _HOUR_NS:
                due_soon += 1
            else:
                on_time += 1
        self._audit_read(actor, "aml.cases.ageing", "", {"active": len(rows)})
        return Ageing(on_time, due_soon, overdue, dict(by_status), int(oldest))

    def dashboard(self, actor: Actor, *, since_ms: int = 0) -> dict[str, Any]:
        """Aggregates, no customer's data: cases by status, alerts by scenario, filings by kind, ageing."""
        _require(actor, READERS, "read the AML dashboard")
        c, a, f = store.aml_cases, store.aml_alerts, store.aml_filings
        with self.engine.connect() as connection:
            cases = _counts(connection, c.c.status)
            alerts = _counts(connection, a.c.scenario, a.c.ts_ms >= since_ms)
            filings = _counts(connection, f.c.kind)
        ageing = self.ageing(actor)
        self._audit_read(actor, "aml.dashboard.read", "", {"since_ms": since_ms})
        return {
            "cases_by_status": {str(k): int(v) for k, v in sorted(cases.items())},
            "alerts_by_scenario": {str(k): int(v) for k, v in sorted(alerts.items())},
            "filings_by_kind": {str(k): int(v) for k, v in sorted(filings.items())},
            "ageing": {
                "on_time": ageing.on_time,
                "due_soon": ageing.due_soon,
                "overdue": ageing.overdue,
                "oldest_overdue_hours": ageing.oldest_overdue_hours,
            },
        }

    def filing(self, actor: Actor, filing_id: str) -> Filing:
        _require(actor, READERS, "read AML filings")
        t = store.aml_filings
        with self.engine.connect() as connection:
            r = connection.execute(sa.select(t).where(t.c.filing_id == filing_id)).first()
        if r is None:
            raise NotFound(f"no filing {filing_id}", code="filing_not_found")
        self._audit_read(actor, "aml.filing.read", r.case_id, {"filing_id": filing_id})
        return Filing(r.filing_id, r.case_id, r.kind, r.layout, r.sha256, bytes(r.document))

    # -- work on a case -------------------------------------------------------------------

    def assign(self, actor: Actor, case_id: str, assignee: str) -> Case:
        _require(actor, WORKERS, "assign AML cases")
        if not isinstance(assignee, str) or not 1 <= len(assignee) <= ASSIGNEE_LENGTH_MAX:
            raise InvalidInput(f"assignee is 1..{ASSIGNEE_LENGTH_MAX} characters", code="assignee_invalid")
        return self._change(
            actor,
            case_id,
            allowed={CaseStatus.OPEN, CaseStatus.INVESTIGATING, CaseStatus.ESCALATED},
            values={"assignee": assignee},
            to=None,
            kind="assigned",
            detail={"assignee": assignee},
            move_open=True,
        )

    def note(self, actor: Actor, case_id: str, text: str) -> Case:
        _require(actor, WORKERS, "write notes on AML cases")
        if not isinstance(text, str) or not 1 <= len(text.strip()) <= NOTE_LENGTH_MAX:
            raise InvalidInput(f"a note is 1..{NOTE_LENGTH_MAX} characters", code="note_invalid")
        return self._change(
            actor,
            case_id,
            allowed=ACTIVE,
            values={},
            to=None,
            kind="note",
            detail={"text": text},
            move_open=True,
            audit_detail={"chars": len(text)},
        )

    def add_evidence(self, actor: Actor, case_id: str, evidence: Mapping[str, Any]) -> Case:
        """Attach evidence (a subgraph, transactions, documents' references) as JSON."""
        _require(actor, WORKERS, "add evidence to AML cases")
        try:
            size = len(orjson.dumps(evidence))
        except TypeError as error:
            raise InvalidInput(f"evidence is JSON: {error}", code="evidence_invalid") from error
        if size > EVIDENCE_BYTES_MAX:
            raise InvalidInput(f"evidence is at most {EVIDENCE_BYTES_MAX} bytes", code="evidence_too_large")
        return self._change(
            actor,
            case_id,
            allowed=ACTIVE,
            values={},
            to=None,
            kind="evidence",
            detail=dict(evidence),
            move_open=True,
            audit_detail={"keys": ",".join(sorted(map(str, evidence)))[:200], "bytes": size},
        )

    def decide(self, actor: Actor, case_id: str, decision: str, reason: str) -> Case:
        """false_positive closes the case; escalate hands it up; report waits for a second officer."""
        _require(actor, WORKERS, "decide AML cases")
        try:
            chosen = Decision(decision)
        except ValueError:
            raise InvalidInput(
                f"decision is one of {[d.value for d in Decision]}", code="decision_invalid"
            ) from None
        if not isinstance(reason, str) or not 1 <= len(reason.strip()) <= NOTE_LENGTH_MAX:
            raise InvalidInput("a decision needs a reason", code="reason_invalid")
        to = {
            Decision.FALSE_POSITIVE: CaseStatus.CLOSED,
            Decision.ESCALATE: CaseStatus.ESCALATED,
            Decision.REPORT: CaseStatus.PENDING_APPROVAL,
        }[chosen]
        values: dict[str, Any] = {"decision": chosen.value, "decision_reason": reason}
        if chosen is Decision.REPORT:
            values["proposed_by"] = actor.id
        allowed = {CaseStatus.OPEN, CaseStatus.INVESTIGATING}
        if chosen is not Decision.ESCALATE:
            allowed.add(CaseStatus.ESCALATED)
        return self._change(
            actor,
            case_id,
            allowed=allowed,
            values=values,
            to=to,
            kind="decided",
            detail={"decision": chosen.value, "reason": reason},
        )

    def return_case(self, actor: Actor, case_id: str, reason: str) -> Case:
        """The approver sends a proposed report back for more work."""
        _require(actor, APPROVERS, "return AML cases")
        case = self._peek(case_id)
        if case.proposed_by == actor.id:
            raise Forbidden("the proposer may not review their own proposal", code="four_eyes_required")
        return self._change(
            actor,
            case_id,
            allowed={CaseStatus.PENDING_APPROVAL},
            values={"decision": None, "proposed_by": None},
            to=CaseStatus.INVESTIGATING,
            kind="returned",
            detail={"reason": reason[:NOTE_LENGTH_MAX]},
        )

    def approve(self, actor: Actor, case_id: str, *, layout: str = "pboc") -> Filing:
        """A second compliance officer approves the proposed report: it is rendered, validated and filed."""
        _require(actor, APPROVERS, "approve AML reports")
        if self.renderer is None:
            raise ConfigurationError("no report renderer is configured", code="renderer_missing")
        case, alerts = self._snapshot(case_id)
        if case.status is not CaseStatus.PENDING_APPROVAL:
            raise Conflict(
                f"case {case_id} is {case.status.value}, not pending approval", code="case_state_invalid"
            )
        if case.proposed_by == actor.id:
            raise Forbidden("a report needs a second officer's approval", code="four_eyes_required")
        kind = FilingKind.SUSPICIOUS if set(case.typologies) - {"large_value"} else FilingKind.LARGE_VALUE
        document = self.renderer(case, alerts, layout, kind, actor.id)
        filing = Filing(
            format_id(self.ids.new_id()),
            case_id,
            kind.value,
            layout,
            hashlib.sha256(document).hexdigest(),
            document,
        )
        now = self.clock.now_ns()
        with self.engine.begin() as connection:
            self._cas(
                connection,
                case,
                {"status": CaseStatus.FILED.value, "approved_by": actor.id, "filing_id": filing.filing_id},
                now,
            )
            connection.execute(
                sa.insert(store.aml_filings).values(
                    filing_id=filing.filing_id,
                    case_id=case_id,
                    kind=filing.kind,
                    layout=layout,
                    document=document,
                    sha256=filing.sha256,
                    proposed_by=case.proposed_by or "",
                    approved_by=actor.id,
                    created_ns=now,
                )
            )
            detail = {
                "filing_id": filing.filing_id,
                "kind": filing.kind,
                "layout": layout,
                "sha256": filing.sha256,
            }
            self._event(connection, case_id, "filed", _who(actor), now, detail)
        self.audit.record(**self._audit(actor, "aml.case.filed", case_id, detail))
        return filing

    # -- plumbing ---------------------------------------------------------------------------

    def _change(
        self,
        actor: Actor,
        case_id: str,
        *,
        allowed: frozenset[CaseStatus] | set[CaseStatus],
        values: dict[str, Any],
        to: CaseStatus | None,
        kind: str,
        detail: dict[str, Any],
        move_open: bool = False,
        audit_detail: dict[str, Any] | None = None,
    ) -> Case:
        now = self.clock.now_ns()
        with self.engine.begin() as connection:
            case = self._load(connection, case_id)
            if case.status not in allowed:
                raise Conflict(f"case {case_id} is {case.status.value}", code="case_state_invalid")
            changes = dict(values)
            if to is not None:
                changes["status"] = to.value
            elif move_open and case.status is CaseStatus.OPEN:
                changes["status"] = CaseStatus.INVESTIGATING.value
            updated = self._cas(connection, case, changes, now)
            self._event(connection, case_id, kind, _who(actor), now, detail)
        summary = detail if audit_detail is None else audit_detail
        self.audit.record(**self._audit(actor, f"aml.case.{kind}", case_id, summary))
        return updated

    def _cas(self, connection: sa.Connection, case: Case, changes: dict[str, Any], now: int) -> Case:
        t = store.aml_cases
        result = connection.execute(
            sa.update(t)
            .where(t.c.case_id == case.case_id, t.c.version == case.version)
            .values(**changes, updated_ns=now, version=case.version + 1)
        )
        if result.rowcount != 1:
            raise Conflict(f"case {case.case_id} changed meanwhile; reload and retry", code="case_changed")
        return self._load(connection, case.case_id)

    def _load(self, connection: sa.Connection, case_id: str) -> Case:
        t = store.aml_cases
        row = connection.execute(sa.select(t).where(t.c.case_id == case_id)).first()
        if row is None:
            raise NotFound(f"no AML case {case_id}", code="case_not_found")
        return store.case_from_row(row)

    def _peek(self, case_id: str) -> Case:
        with self.engine.connect() as connection:
            return self._load(connection, case_id)

    def _snapshot(self, case_id: str) -> tuple[Case, list[dict[str, Any]]]:
        with self.engine.connect() as connection:
            return self._load(connection, case_id), _alerts_of(connection, case_id)

    def _event(
        self, connection: sa.Connection, case_id: str, kind: str, actor: str, at: int, detail: dict[str, Any]
    ) -> None:
        connection.execute(
            sa.insert(store.aml_case_events).values(
                case_id=case_id, kind=kind, actor=actor, at_ns=at, detail=detail
            )
        )

    def _audit_read(self, actor: Actor, action: str, case_id: str, detail: dict[str, Any]) -> None:
        if actor.kind in AUDITED_READERS:
            self.audit.record(**self._audit(actor, action, case_id, detail))

    @staticmethod
    def _audit(actor: Actor, action: str, case_id: str, detail: dict[str, Any]) -> dict[str, Any]:
        return {
            "actor_kind": actor.kind,
            "actor_id": actor.id,
            "action": action,
            "outcome": "succeeded",
            "subject_kind": "aml_case",
            "subject_id": case_id,
            "interaction_id": actor.interaction_id,
            "detail": _flat(detail),
        }


def _alerts_of(connection: sa.Connection, case_id: str) -> list[dict[str, Any]]:
    """A case's alerts, oldest first, as plain dicts (reasons, facts, transactions, subgraph)."""
    a = store.aml_alerts
    rows = connection.execute(sa.select(a).where(a.c.case_id == case_id).order_by(a.c.ts_ms))
    return [{str(k): v for k, v in r._mapping.items()} for r in rows]


def _counts(
    connection: sa.Connection, column: sa.ColumnElement[Any], where: sa.ColumnElement[bool] | None = None
) -> dict[str, int]:
    query = sa.select(column, sa.func.count()).group_by(column)
    if where is not None:
        query = query.where(where)
    return {str(key): int(count) for key, count in connection.execute(query)}


def _who(actor: Actor) -> str:
    return f"{actor.kind}:{actor.id}"[:120]


def _flat(detail: Mapping[str, Any]) -> dict[str, Any]:
    """Audit details are a few flat scalars; anything else is kept as its JSON text, all bounded."""
    out: dict[str, Any] = {}
    for key, value in list(detail.items())[:16]:
        if value is None or isinstance(value, bool | int):
            out[str(key)[:64]] = value
        elif isinstance(value, str):
            out[str(key)[:64]] = value[:200]
        else:
            out[str(key)[:64]] = orjson.dumps(value, default=str).decode()[:200]
    return out


def _case_values(case: Case) -> dict[str, Any]:
    values = case.as_dict()
    values["status"] = case.status.value
    return values
