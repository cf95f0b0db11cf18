"""Screening results and list versions on both stores: screen, rescreen on a list update, resolve, audit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from netfin.aml.screening.index import ScreeningIndex
from netfin.aml.screening.lists import LoadedList
from netfin.aml.screening.model import (
    BirthDate,
    EntryKind,
    ListEntry,
    ScreeningReason,
    ScreeningStatus,
    ScreeningSubject,
    SubjectKind,
    load_config,
)
from netfin.aml.screening.service import Screener, ScreeningService, SubjectRecord
from netfin.aml.screening.store import ScreeningStore
from netfin.audit import AuditLog
from netfin.core.clock import ManualClock
from netfin.core.errors import Conflict, Forbidden, NotFound
from netfin.core.ids import SeededIds
from netfin.identity.model import Actor
from netfin.storage import open_engine

SYSTEM = Actor.system("onboarding")
COMPLIANCE = Actor("compliance", "officer-1")
OPERATOR = Actor("operator", "operator-1")
CUSTOMER = Actor("customer", "c-1")
FIRST = (ListEntry("test", "1", EntryKind.PERSON, "MORTEZAVI, Hasan", birth_dates=(BirthDate(1964, 8, 23),)),)
SECOND = (*FIRST, ListEntry("test", "2", EntryKind.PERSON, "OKAFOR, Chinedu Emeka"))


def _lists(entries: tuple[ListEntry, ...], version: str) -> list[LoadedList]:
    return [LoadedList("test", version, "test.csv", entries)]


@pytest.fixture
def service(store_url: str, clock: ManualClock) -> Iterator[ScreeningService]:
    engine = open_engine(store_url)
    ids = SeededIds(clock, seed=3)
    audit = AuditLog(engine, clock=clock, ids=ids)
    screener = Screener(ScreeningIndex(_lists(FIRST, "v1"), load_config()))
    try:
        yield ScreeningService(
            store=ScreeningStore(engine), screener=screener, clock=clock, ids=ids, audit=audit
        )
    finally:
        audit.close()
        engine.dispose()


def test_a_screening_is_stored_with_its_candidates_and_audited(service: ScreeningService) -> None:
    subject = ScreeningSubject("Hasan Mortezavi", birth_date=BirthDate(1964, 8, 23))
    result = service.screen(
        subject,
        subject_kind=SubjectKind.PARTY,
        subject_id="p-1",
        reason=ScreeningReason.ONBOARDING,
        actor=SYSTEM,
    )
    assert result.status == ScreeningStatus.POTENTIAL_MATCH and result.list_versions == {"test": "v1"}
    stored = service.get(result.result_id, OPERATOR)
    assert stored == result
    assert stored.candidates[0]["entry_id"] == "1"
    assert {e["code"] for e in stored.candidates[0]["evidence"]} >= {"name_similarity", "birth_date_exact"}
    clear = service.screen(
        ScreeningSubject("Gabriel Okonkwo"),
        subject_kind=SubjectKind.COUNTERPARTY,
        subject_id="cp-9",
        reason=ScreeningReason.COUNTERPARTY,
        actor=SYSTEM,
    )
    assert clear.status == ScreeningStatus.CLEAR and clear.candidates == []
    assert service.audit is not None
    page = service.audit.query(action="aml.screening.screened", limit=10)
    assert [(e.subject_id, e.detail["status"]) for e in page.entries] == [
        ("p-1", "potential_match"),
        ("cp-9", "clear"),
    ]


def test_only_compliance_resolves_and_only_once(service: ScreeningService) -> None:
    result = service.screen(
        ScreeningSubject("Hasan Mortezavi"),
        subject_kind=SubjectKind.PARTY,
        subject_id="p-1",
        reason=ScreeningReason.ONBOARDING,
        actor=SYSTEM,
    )
    with pytest.raises(Forbidden):
        service.resolve(result.result_id, ScreeningStatus.FALSE_POSITIVE, OPERATOR)
    with pytest.raises(Forbidden):
        service.get(result.result_id, CUSTOMER)
    assert [r.result_id for r in service.potential_matches(OPERATOR)] == [result.result_id]
    resolved = service.resolve(
        result.result_id, ScreeningStatus.FALSE_POSITIVE, COMPLIANCE, note="different DOB"
    )
    assert (resolved.status, resolved.decided_by, resolved.note) == (
        ScreeningStatus.FALSE_POSITIVE,
        "officer-1",
        "different DOB",
    )
    with pytest.raises(Conflict):
        service.resolve(result.result_id, ScreeningStatus.CONFIRMED, COMPLIANCE)
    with pytest.raises(NotFound):
        service.resolve("sr-missing", ScreeningStatus.CONFIRMED, COMPLIANCE)
    assert service.potential_matches(COMPLIANCE) == []


def test_a_new_list_version_rescreens_everyone(service: ScreeningService) -> None:
    subjects = [
        SubjectRecord(SubjectKind.PARTY, f"p-{i}", ScreeningSubject(name))
        for i, name in enumerate(["Chinedu Okafor", "Anna Nowak", "Hasan Mortezavi"])
    ]
    assert service.load_lists(_lists(FIRST, "v1"), SYSTEM) == ["test"]
    assert service.update_lists(_lists(FIRST, "v1"), subjects, SYSTEM) is None  # same version: nothing to do
    seen: list[int] = []
    summary = service.update_lists(_lists(SECOND, "v2"), subjects, SYSTEM, progress=seen.append)
    assert summary is not None and summary.screened == 3 and summary.potential_matches == 2
    assert summary.list_versions == {"test": "v2"} and seen[-1] == 3
    latest = service.store.latest_for(SubjectKind.PARTY, "p-0")
    assert latest is not None and latest.reason == ScreeningReason.RESCREEN
    assert latest.status == ScreeningStatus.POTENTIAL_MATCH and latest.list_versions == {"test": "v2"}
    versions = service.store.list_versions()
    assert [(v["list_id"], v["version"]) for v in versions] == [("test", "v1"), ("test", "v2")]
    with service.store.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT count(*) FROM aml_screening_results")).scalar_one()
    assert rows == 3
