"""Tables of AML work: alerts, cases, the case history, filed reports, consumers' cursors."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from netfin.aml.cases.model import Case, CaseEvent, CaseStatus
from netfin.storage import metadata

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

aml_alerts = sa.Table(
    "aml_alerts",
    metadata,
    sa.Column("alert_id", sa.String(40), primary_key=True),
    # scenario|account|ts_ms: a replayed event raises the same alert, stored once
    sa.Column("dedup_key", sa.String(200), nullable=False, unique=True),
    sa.Column("scenario", sa.String(40), nullable=False),
    sa.Column("scenario_version", sa.Integer, nullable=False),
    sa.Column("profile_version", sa.String(80), nullable=False),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("party", sa.String(64), nullable=False),
    sa.Column("ts_ms", sa.BigInteger, nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("typology", sa.String(40), nullable=False),
    sa.Column("reason_en", sa.String(1000), nullable=False),
    sa.Column("reason_zh", sa.String(1000), nullable=False),
    sa.Column("facts", sa.JSON, nullable=False),
    sa.Column("txn_ids", sa.JSON, nullable=False),
    sa.Column("subgraph", sa.JSON, nullable=False),
    sa.Column("case_id", sa.String(40), nullable=False, index=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Index("ix_aml_alerts_party_ts", "party", "ts_ms"),
)

aml_cases = sa.Table(
    "aml_cases",
    metadata,
    sa.Column("case_id", sa.String(40), primary_key=True),
    sa.Column("party", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("opened_ns", sa.BigInteger, nullable=False),
    sa.Column("due_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("alert_count", sa.Integer, nullable=False),
    sa.Column("typologies", sa.JSON, nullable=False),
    sa.Column("assignee", sa.String(80), nullable=True),
    sa.Column("decision", sa.String(20), nullable=True),
    sa.Column("decision_reason", sa.String(4000), nullable=True),
    sa.Column("proposed_by", sa.String(80), nullable=True),
    sa.Column("approved_by", sa.String(80), nullable=True),
    sa.Column("filing_id", sa.String(40), nullable=True),
    sa.Index("ix_aml_cases_party_status", "party", "status"),
    sa.Index("ix_aml_cases_status_due", "status", "due_ns"),
)

aml_case_events = sa.Table(
    "aml_case_events",
    metadata,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(40), nullable=False, index=True),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("actor", sa.String(120), nullable=False),
    sa.Column("at_ns", sa.BigInteger, nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
)

aml_filings = sa.Table(
    "aml_filings",
    metadata,
    sa.Column("filing_id", sa.String(40), primary_key=True),
    sa.Column("case_id", sa.String(40), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("layout", sa.String(20), nullable=False),
    sa.Column("document", sa.LargeBinary, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("proposed_by", sa.String(80), nullable=False),
    sa.Column("approved_by", sa.String(80), nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
)

# Where each in-process consumer of an outbox has read up to.
aml_cursors = sa.Table(
    "aml_cursors",
    metadata,
    sa.Column("consumer", sa.String(80), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
)

TABLES = (aml_alerts, aml_cases, aml_case_events, aml_filings, aml_cursors)


def case_from_row(r: Any) -> Case:
    return Case(
        case_id=r.case_id,
        party=r.party,
        status=CaseStatus(r.status),
        severity=r.severity,
        opened_ns=r.opened_ns,
        due_ns=r.due_ns,
        updated_ns=r.updated_ns,
        version=r.version,
        alert_count=r.alert_count,
        typologies=tuple(r.typologies),
        assignee=r.assignee,
        decision=r.decision,
        decision_reason=r.decision_reason,
        proposed_by=r.proposed_by,
        approved_by=r.approved_by,
        filing_id=r.filing_id,
    )


def event_from_row(r: Any) -> CaseEvent:
    return CaseEvent(r.seq, r.case_id, r.kind, r.actor, r.at_ns, dict(r.detail))
