"""News early warning on every store: items stored once, warnings raised and acknowledged, audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from netfin.aml.news import Entity, EntityKind, NewsItem, NewsService, NewsStore, WarningStatus
from netfin.aml.news.early_warning import WarningConfig
from netfin.audit import AuditLog
from netfin.core.clock import ManualClock
from netfin.core.errors import Conflict, Forbidden, NotFound
from netfin.core.ids import SeededIds
from netfin.identity.model import Actor
from netfin.storage import open_engine

HOUR = 3_600 * 10**9
DAY = 24 * HOUR
ANALYST = Actor("risk_analyst", "analyst-1")
REGULATOR = Actor("regulator", "regulator-1")
CUSTOMER = Actor("customer", "c-1")
ENTITIES = [
    Entity("cust-1", EntityKind.CUSTOMER, ("平安银行股份有限公司",)),
    Entity("cp-1", EntityKind.COUNTERPARTY, ("Nokia Oyj",)),
]
CONFIG = WarningConfig(
    version="contract", recent_items_min=3, baseline_items_min=3, drop_min=0.4, recent_max=-0.2
)


@pytest.fixture
def engine(store_url: str) -> Iterator[sa.Engine]:
    opened = open_engine(store_url)
    yield opened
    opened.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def audit(engine: sa.Engine, clock: ManualClock) -> Iterator[AuditLog]:
    log = AuditLog(engine, clock=clock, ids=SeededIds(clock, seed=1))
    yield log
    log.close()


@pytest.fixture
def service(engine: sa.Engine, clock: ManualClock, audit: AuditLog) -> NewsService:
    news = NewsService(
        NewsStore(engine), clock=clock, ids=SeededIds(clock, seed=2), audit=audit, config=CONFIG
    )
    news.watch(ENTITIES, ANALYST)
    return news


def _item(n: int, at_ns: int, title: str, url: str | None = None) -> NewsItem:
    return NewsItem(f"i{n}", "wire", at_ns, title, url=url or f"https://wire.example/{n}")


def test_items_are_stored_once_by_id_and_by_content(service: NewsService, clock: ManualClock) -> None:
    now = clock.now_ns()
    first = service.ingest(
        [_item(1, now, "Nokia Oyj profit rose"), _item(2, now, "平安银行召开股东大会")], ANALYST
    )
    assert (first.stored, first.duplicates, first.mentions) == (2, 0, 2)
    again = service.ingest(
        [_item(1, now, "Nokia Oyj profit rose"), _item(3, now, "Nokia Oyj profit rose")], ANALYST
    )
    assert (again.stored, again.duplicates, again.mentions) == (0, 2, 0)
    stored = service.store.item("i1")
    assert stored is not None and stored["sentiment_label"] == "positive" and stored["scorer"] == "lm_en"
    assert [m.entity_id for m in service.store.mentions_of("i2")] == ["cust-1"]


def test_a_sharp_turn_raises_one_warning_that_staff_read_and_acknowledge(
    service: NewsService, clock: ManualClock, audit: AuditLog
) -> None:
    start = clock.now_ns()
    good = [_item(i, start + i * DAY, f"平安银行业绩大增，股价涨停 {i}") for i in range(4)]
    assert service.ingest(good, ANALYST).warnings == ()
    clock.advance(seconds=10 * 86_400 + 4 * 3_600)
    bad_at = start + 10 * DAY
    bad = [_item(10 + i, bad_at + i * HOUR, f"平安银行被立案调查，股价跌停 {i}") for i in range(4)]
    report = service.ingest(bad, ANALYST)
    assert len(report.warnings) == 1  # the fourth bad item finds the warning already open
    (warning,) = report.warnings
    assert (
        warning.entity_id == "cust-1" and warning.baseline > 0 > warning.recent and warning.recent_items == 3
    )
    assert warning.raised_ns == bad_at + 2 * HOUR and warning.config_version == "contract"

    assert [w.warning_id for w in service.warnings(REGULATOR)] == [warning.warning_id]
    with pytest.raises(Forbidden):
        service.warnings(CUSTOMER)
    with pytest.raises(Forbidden):
        service.acknowledge(warning.warning_id, REGULATOR)
    done = service.acknowledge(warning.warning_id, ANALYST, note="called the relationship manager")
    assert done.status is WarningStatus.ACKNOWLEDGED and done.acknowledged_by == "analyst-1"
    assert service.warnings(REGULATOR) == []
    assert [w.warning_id for w in service.warnings(REGULATOR, status=None)] == [warning.warning_id]
    with pytest.raises(Conflict):
        service.acknowledge(warning.warning_id, ANALYST)
    with pytest.raises(NotFound):
        service.acknowledge("0" * 32, ANALYST)
    subjects = {e.action: e.subject_id for e in audit.query(subject_id=warning.warning_id).entries}
    assert subjects == {
        "news.warning_raised": warning.warning_id,
        "news.warning_acknowledged": warning.warning_id,
    }


def test_ingest_needs_a_staff_role(service: NewsService, clock: ManualClock) -> None:
    with pytest.raises(Forbidden):
        service.ingest([_item(1, clock.now_ns(), "Nokia Oyj")], CUSTOMER)
