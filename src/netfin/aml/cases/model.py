"""Cases: alerts grouped per customer, worked by analysts, decided with four eyes.

The state machine (every change a compare-and-set on the case's version):

    open -> investigating -> (false_positive) closed
                          -> escalated -> investigating
                          -> pending_approval -> (approved) filed
                                              -> (returned) investigating

Alerts keep landing on a case until it is closed or filed; a new alert for
the same customer then opens a new case. A report is filed only after a
second compliance officer, not the one who proposed it, approves it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from netfin.aml.reports.model import FilingKind as FilingKind  # one enum for cases and reports
from netfin.identity.model import Role


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    ESCALATED = "escalated"
    PENDING_APPROVAL = "pending_approval"
    FILED = "filed"
    CLOSED = "closed"


ACTIVE = frozenset(
    {CaseStatus.OPEN, CaseStatus.INVESTIGATING, CaseStatus.ESCALATED, CaseStatus.PENDING_APPROVAL}
)


class Decision(enum.StrEnum):
    FALSE_POSITIVE = "false_positive"
    ESCALATE = "escalate"
    REPORT = "report"


# Who may do what. Regulators and auditors read (and their reads are audited).
WORKERS = frozenset({Role.COMPLIANCE.value, Role.RISK_ANALYST.value})
APPROVERS = frozenset({Role.COMPLIANCE.value})
READERS = frozenset(
    {Role.COMPLIANCE.value, Role.RISK_ANALYST.value, Role.AUDITOR.value, Role.REGULATOR.value}
)
AUDITED_READERS = frozenset({Role.AUDITOR.value, Role.REGULATOR.value})

NOTE_LENGTH_MAX = 4_000
ASSIGNEE_LENGTH_MAX = 80
EVIDENCE_BYTES_MAX = 512_000


@dataclass(frozen=True, slots=True)
class Case:
    case_id: str
    party: str
    status: CaseStatus
    severity: str
    opened_ns: int
    due_ns: int
    updated_ns: int
    version: int
    alert_count: int
    typologies: tuple[str, ...]
    assignee: str | None = None
    decision: str | None = None
    decision_reason: str | None = None
    proposed_by: str | None = None
    approved_by: str | None = None
    filing_id: str | None = None

    def overdue(self, now_ns: int) -> bool:
        return self.status in ACTIVE and now_ns > self.due_ns

    def as_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "party": self.party,
            "status": self.status.value,
            "severity": self.severity,
            "opened_ns": self.opened_ns,
            "due_ns": self.due_ns,
            "updated_ns": self.updated_ns,
            "version": self.version,
            "alert_count": self.alert_count,
            "typologies": list(self.typologies),
            "assignee": self.assignee,
            "decision": self.decision,
            "decision_reason": self.decision_reason,
            "proposed_by": self.proposed_by,
            "approved_by": self.approved_by,
            "filing_id": self.filing_id,
        }


@dataclass(frozen=True, slots=True)
class CaseEvent:
    seq: int
    case_id: str
    kind: str
    actor: str
    at_ns: int
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Ageing:
    """Active cases against their SLA: on time, due within a day, overdue; by status."""

    on_time: int
    due_soon: int
    overdue: int
    by_status: dict[str, int]
    oldest_overdue_hours: int
