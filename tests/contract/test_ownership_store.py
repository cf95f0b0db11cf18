"""The ownership register on both stores: exact shares, the rules at write time, roles, audit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from netfin.aml.ownership import (
    ClosedOwnershipLoop,
    EdgeDraft,
    HolderKind,
    OwnershipRejected,
    OwnershipService,
    OwnershipStore,
)
from netfin.audit import AuditLog
from netfin.core.clock import ManualClock
from netfin.core.errors import Forbidden, InvalidInput, NotFound
from netfin.core.ids import SeededIds
from netfin.identity.model import Actor
from netfin.storage import open_engine

COMPLIANCE = Actor("compliance", "officer-1")
REGULATOR = Actor("regulator", "pboc-inspector-7")
CUSTOMER = Actor("customer", "c-1")
START = date(2024, 1, 1)
P, E = HolderKind.PERSON, HolderKind.ENTERPRISE


@pytest.fixture
def engine(store_url: str) -> Iterator[sa.Engine]:
    opened = open_engine(store_url)
    yield opened
    opened.dispose()


@pytest.fixture
def service(engine: sa.Engine, clock: ManualClock) -> Iterator[OwnershipService]:
    audit = AuditLog(engine, clock=clock, ids=SeededIds(clock, seed=3))
    yield OwnershipService(OwnershipStore(engine), audit=audit, clock=clock, ids=SeededIds(clock, seed=4))
    audit.close()


def d(owner: str, owned: str, share: str, kind: HolderKind = E, **kw: object) -> EdgeDraft:
    return EdgeDraft(owner, kind, owned, Decimal(share), START, **kw)  # type: ignore[arg-type]


def test_shares_come_back_exactly_with_who_recorded_them(
    service: OwnershipService, clock: ManualClock
) -> None:
    recorded = service.record_edges(COMPLIANCE, [d("A", "B", "0.3333333333", P), d("B", "C", "0.5")])
    chain = service.chain("C", COMPLIANCE, as_of=date(2025, 1, 1))
    assert {(e.owner_id, e.owned_id, e.share) for e in chain.edges} == {
        ("A", "B", Decimal("0.3333333333")),
        ("B", "C", Decimal("0.5")),
    }
    assert {e.edge_id for e in chain.edges} == {e.edge_id for e in recorded}
    assert all(
        e.recorded_by == "compliance:officer-1" and e.recorded_ns == clock.now_ns() for e in chain.edges
    )


def test_ubo_through_a_chain_and_a_loop(service: OwnershipService) -> None:
    loop = [d("P", "C", "0.5", P), d("B", "C", "0.5"), d("C", "B", "0.5"), d("Q", "B", "0.5", P)]
    service.record_edges(COMPLIANCE, [*loop, d("A", "C2", "0.6", P), d("C", "C2", "0.4")])
    report = service.ubo("C", REGULATOR, as_of=date(2025, 1, 1))
    assert [(o.person_id, o.effective_share) for o in report.owners] == [
        ("P", Decimal("0.66666667")),
        ("Q", Decimal("0.33333333")),
    ]
    report = service.ubo("C2", REGULATOR, "0.3", as_of=date(2025, 1, 1))
    assert [(o.person_id, o.effective_share, o.majority_control) for o in report.owners] == [
        ("A", Decimal("0.60000000"), True),
    ]


def test_write_time_rules_hold_against_what_is_stored(service: OwnershipService) -> None:
    service.record_edge(COMPLIANCE, d("A", "C", "0.7", P))
    with pytest.raises(OwnershipRejected) as caught:
        service.record_edge(COMPLIANCE, d("B", "C", "0.4", P))
    assert caught.value.code == "ownership_shares_exceed_one"
    with pytest.raises(OwnershipRejected) as caught:
        service.record_edge(COMPLIANCE, d("X", "A", "0.4"))
    assert caught.value.code == "ownership_person_owned"
    service.record_edges(COMPLIANCE, [d("L1", "L2", "1"), d("L2", "L3", "0.5")])
    with pytest.raises(ClosedOwnershipLoop):
        service.record_edge(COMPLIANCE, d("L2", "L1", "1"))
    # A refused batch leaves nothing behind: L1 still has no recorded holder.
    with pytest.raises(NotFound):
        service.chain("L1", COMPLIANCE, as_of=START)


def test_ending_an_edge_changes_the_owners_from_that_day(service: OwnershipService) -> None:
    (edge,) = service.record_edges(COMPLIANCE, [d("A", "C", "0.6", P)])
    service.record_edge(COMPLIANCE, d("Z", "C", "0.3", P))
    ended = service.end_edge(COMPLIANCE, edge.edge_id, date(2024, 7, 1))
    assert ended.valid_to == date(2024, 7, 1) and ended.ended_by == "compliance:officer-1"
    assert [o.person_id for o in service.ubo("C", COMPLIANCE, as_of=date(2024, 6, 30)).owners] == ["A", "Z"]
    assert [o.person_id for o in service.ubo("C", COMPLIANCE, as_of=date(2024, 7, 1)).owners] == ["Z"]
    with pytest.raises(InvalidInput) as caught:
        service.end_edge(COMPLIANCE, edge.edge_id, date(2025, 1, 1))
    assert caught.value.code == "ownership_end_later"
    with pytest.raises(NotFound):
        service.end_edge(COMPLIANCE, "no-such-edge", date(2025, 1, 1))


def test_a_regulator_reads_audited_and_never_writes(service: OwnershipService) -> None:
    service.record_edge(COMPLIANCE, d("A", "C", "0.6", P))
    with pytest.raises(Forbidden) as caught:
        service.record_edge(REGULATOR, d("B", "C", "0.1", P))
    assert caught.value.code == "ownership_role_required"
    with pytest.raises(Forbidden):
        service.ubo("C", CUSTOMER)
    service.ubo("C", REGULATOR, as_of=date(2025, 1, 1))
    service.chain("C", REGULATOR, as_of=date(2025, 1, 1))
    page = service.audit.query(actor_id="pboc-inspector-7")
    seen = [(e.action, e.outcome, e.subject_id) for e in page.entries]
    assert seen == [
        ("aml.ownership.edges.record", "refused", ""),
        ("aml.ownership.ubo.read", "allowed", "C"),
        ("aml.ownership.chain.read", "allowed", "C"),
    ]
    assert [e.outcome for e in service.audit.query(actor_id="c-1").entries] == ["refused"]


def test_an_unknown_entity_is_not_found(service: OwnershipService) -> None:
    with pytest.raises(NotFound) as caught:
        service.ubo("NOBODY", COMPLIANCE)
    assert caught.value.code == "ownership_entity_unknown"
