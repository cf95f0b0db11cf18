"""AML case work on both stores: alerts grouped per customer, four eyes to file, SLA ageing, audit."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from netfin.aml.cases import Case, CaseService, CaseStatus, FilingKind
from netfin.aml.monitoring.config import load_profile
from netfin.aml.monitoring.model import Alert, Txn
from netfin.aml.monitoring.stream import StreamMonitor
from netfin.audit import AuditLog
from netfin.core.clock import ManualClock
from netfin.core.errors import Conflict, Forbidden, InvalidInput
from netfin.core.ids import SeededIds
from netfin.identity.model import Actor
from netfin.storage import open_engine

OFFICER = Actor("compliance", "officer-1")
SECOND = Actor("compliance", "officer-2")
ANALYST = Actor("risk_analyst", "analyst-1")
REGULATOR = Actor("regulator", "pboc-1")
CUSTOMER = Actor("customer", "c-1")
H = 3_600_000


def render(
    case: Case, alerts: Sequence[Mapping[str, Any]], layout: str, kind: FilingKind, approver: str
) -> bytes:
    body = f"case='{case.case_id}' kind='{kind.value}' layout='{layout}' alerts='{len(alerts)}'"
    return f"<report {body} approver='{approver}'/>".encode()


@pytest.fixture
def world(store_url: str) -> Iterator[tuple[CaseService, AuditLog, ManualClock]]:
    engine = open_engine(store_url)
    clock = ManualClock()
    with AuditLog(engine, clock=clock, ids=SeededIds(clock, seed=9)) as audit:
        yield (
            CaseService(engine, audit, clock=clock, ids=SeededIds(clock, seed=4), renderer=render),
            audit,
            clock,
        )
    engine.dispose()


def alerts_for_mule(t0: int) -> list[Alert]:
    txns = [Txn(f"in{i}", t0 + i * H, f"payer{i}", "mule", 3_000_000, "CNY") for i in range(10)]
    txns.append(Txn("out", t0 + 11 * H, "mule", "boss", 29_000_000, "CNY"))
    return StreamMonitor(load_profile()).observe_many(txns)


def test_alerts_group_per_customer_and_replays_are_stored_once(
    world: tuple[CaseService, AuditLog, ManualClock],
) -> None:
    cases, _, clock = world
    alerts = alerts_for_mule(clock.now_ns() // 1_000_000)
    assert {a.scenario for a in alerts} >= {"STR-FAN-IN", "STR-PASS-THROUGH"}
    first = cases.ingest(alerts, party_of={"mule": "party-mule"})
    assert first.cases_opened == 1 and first.alerts_new == len(alerts)
    again = cases.ingest(alerts, party_of={"mule": "party-mule"})
    assert again.alerts_new == 0 and again.alerts_duplicate == len(alerts) and again.cases_opened == 0
    (case,) = cases.cases(OFFICER, party="party-mule")
    assert {a.account for a in alerts} == {"mule"}
    assert case.alert_count == len(alerts)
    assert case.severity == "high" and "pass_through" in case.typologies
    assert case.status is CaseStatus.OPEN


def test_four_eyes_to_file_and_every_step_in_the_history(
    world: tuple[CaseService, AuditLog, ManualClock],
) -> None:
    cases, audit, clock = world
    (case_id,) = cases.ingest(alerts_for_mule(clock.now_ns() // 1_000_000)).case_ids
    cases.assign(OFFICER, case_id, "analyst-1")
    cases.note(ANALYST, case_id, "payers are unrelated students; funds left for a card shop")
    cases.add_evidence(
        ANALYST, case_id, {"subgraph": {"nodes": ["mule", "boss"], "edges": [["mule", "boss"]]}}
    )
    proposed = cases.decide(ANALYST, case_id, "report", "classic mule: fan-in then pass-through")
    assert proposed.status is CaseStatus.PENDING_APPROVAL and proposed.proposed_by == "analyst-1"
    with pytest.raises(Forbidden):
        cases.approve(ANALYST, case_id)  # an analyst may propose, not approve
    filing = cases.approve(OFFICER, case_id)
    assert filing.kind == "suspicious" and b"layout='pboc'" in filing.document
    case, _, events = cases.case(OFFICER, case_id)
    assert (
        case.status is CaseStatus.FILED
        and case.approved_by == "officer-1"
        and case.filing_id == filing.filing_id
    )
    assert [e.kind for e in events] == [
        "opened",
        "alerts_added",
        "assigned",
        "note",
        "evidence",
        "decided",
        "filed",
    ]
    assert cases.filing(REGULATOR, filing.filing_id).sha256 == filing.sha256
    actions = [e.action for e in audit.query(subject_id=case_id).entries]
    assert {"aml.case.assigned", "aml.case.note", "aml.case.decided", "aml.case.filed"} <= set(actions)


def test_the_proposer_cannot_approve_their_own_report(
    world: tuple[CaseService, AuditLog, ManualClock],
) -> None:
    cases, _, clock = world
    (case_id,) = cases.ingest(alerts_for_mule(clock.now_ns() // 1_000_000)).case_ids
    cases.decide(OFFICER, case_id, "report", "looks like layering")
    with pytest.raises(Forbidden) as refused:
        cases.approve(OFFICER, case_id)
    assert refused.value.code == "four_eyes_required"
    returned = cases.return_case(SECOND, case_id, "add the counterparties' KYC")
    assert returned.status is CaseStatus.INVESTIGATING and returned.proposed_by is None
    cases.decide(SECOND, case_id, "report", "KYC added")
    assert cases.approve(OFFICER, case_id).case_id == case_id


def test_false_positive_closes_and_the_next_alert_opens_a_new_case(
    world: tuple[CaseService, AuditLog, ManualClock],
) -> None:
    cases, _, clock = world
    t0 = clock.now_ns() // 1_000_000
    (first,) = cases.ingest(alerts_for_mule(t0)).case_ids
    closed = cases.decide(ANALYST, first, "false_positive", "payroll agent, documented")
    assert closed.status is CaseStatus.CLOSED
    with pytest.raises(Conflict):
        cases.note(ANALYST, first, "too late")
    (second,) = cases.ingest(alerts_for_mule(t0 + 10 * 24 * H)).case_ids
    assert second != first


def test_roles_and_audited_reads(world: tuple[CaseService, AuditLog, ManualClock]) -> None:
    cases, audit, clock = world
    (case_id,) = cases.ingest(alerts_for_mule(clock.now_ns() // 1_000_000)).case_ids
    with pytest.raises(Forbidden):
        cases.cases(CUSTOMER)
    with pytest.raises(Forbidden):
        cases.note(REGULATOR, case_id, "a regulator only reads")
    before = len(audit.query(actor_id="pboc-1").entries)
    cases.case(REGULATOR, case_id)
    cases.ageing(REGULATOR)
    assert len(audit.query(actor_id="pboc-1").entries) == before + 2
    with pytest.raises(InvalidInput):
        cases.decide(ANALYST, case_id, "shrug", "no")


def test_ageing_against_the_sla(world: tuple[CaseService, AuditLog, ManualClock]) -> None:
    cases, _, clock = world
    cases.ingest(alerts_for_mule(clock.now_ns() // 1_000_000))
    fresh = cases.ageing(OFFICER)
    assert (fresh.on_time, fresh.overdue) == (1, 0)
    clock.advance(seconds=50 * 3600)  # high severity: 72 h
    assert cases.ageing(OFFICER).due_soon == 1
    clock.advance(seconds=30 * 3600)
    late = cases.ageing(OFFICER)
    assert late.overdue == 1 and late.oldest_overdue_hours >= 8


def test_a_stale_version_is_refused(world: tuple[CaseService, AuditLog, ManualClock]) -> None:
    cases, _, clock = world
    (case_id,) = cases.ingest(alerts_for_mule(clock.now_ns() // 1_000_000)).case_ids
    case = cases.cases(OFFICER)[0]
    cases.note(ANALYST, case_id, "first")
    with cases.engine.begin() as connection, pytest.raises(Conflict):
        cases._cas(connection, case, {"assignee": "x"}, clock.now_ns())
