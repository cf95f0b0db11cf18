"""One dispatcher loop works per database at a time on PostgreSQL; on SQLite every loop works."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from netfin.core.clock import ManualClock
from netfin.core.ids import SeededIds
from netfin.notifications import RESOURCE_UPDATE, TABLES, Notifications, append_event, lease
from netfin.notifications.lease import DispatchLease
from netfin.storage import metadata, open_engine

WAIT_S_MAX = 30.0


@pytest.fixture
def url(empty_store_url: str) -> Iterator[str]:
    engine = open_engine(empty_store_url, run_migrations=False)
    metadata.create_all(engine, tables=list(TABLES))
    engine.dispose()
    yield empty_store_url


def _engines(url: str, count: int) -> list[sa.Engine]:
    return [open_engine(url, run_migrations=False) for _ in range(count)]


def _append(engine: sa.Engine, event_id: int, clock: ManualClock | None = None) -> None:
    with engine.begin() as connection:
        append_event(
            connection,
            event_id=event_id,
            event_type=RESOURCE_UPDATE,
            client_id="tpp-a",
            subject_kind="domestic-payment",
            subject_id=f"pmt-{event_id}",
            payload={"amount_minor": 100, "currency": "GBP"},
            created_ns=(clock or ManualClock()).now_ns(),
        )


def _undispatched(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.text("SELECT count(*) FROM outbox WHERE dispatched_ns IS NULL")
            ).scalar_one()
        )


def _wait_until_dispatched(engine: sa.Engine) -> None:
    deadline = time.monotonic() + WAIT_S_MAX
    while _undispatched(engine) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _undispatched(engine) == 0


def test_the_lease_is_taken_by_one_and_passed_on_when_given_back(url: str) -> None:
    first_engine, second_engine = _engines(url, 2)
    first, second = DispatchLease(first_engine), DispatchLease(second_engine)
    try:
        assert first.held()
        if first_engine.dialect.name != "postgresql":
            assert second.held()  # SQLite: nothing to take, every loop works
            return
        assert first.held()  # held again, by the same holder
        assert not second.held() and not second.holding
        first.release()
        assert not first.holding
        assert second.held()
        assert not first.held()
        second.release()
        second.release()  # harmless twice
    finally:
        first.release()
        second.release()
        first_engine.dispose()
        second_engine.dispose()


def test_a_lease_is_per_schema(pg_url: str, empty_pg_url: str) -> None:
    engines = [open_engine(pg_url, run_migrations=False), open_engine(empty_pg_url, run_migrations=False)]
    leases = [DispatchLease(engine) for engine in engines]
    try:
        assert all(each.held() for each in leases)
    finally:
        for each, engine in zip(leases, engines, strict=True):
            each.release()
            engine.dispose()


def test_a_holder_whose_session_ended_gives_way(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first_engine, second_engine = _engines(pg_url, 2)
    first, second = DispatchLease(first_engine), DispatchLease(second_engine)
    try:
        assert first.held()
        with first_engine.connect() as admin:
            holders = (
                admin.execute(
                    sa.text(
                        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = :class_id"
                        " AND objid = hashtext(current_schema())::oid AND granted"
                    ),
                    {"class_id": lease.DISPATCH_LOCK_CLASS},
                )
                .scalars()
                .all()
            )
            assert len(holders) == 1
            # with a timeout the call waits until the backend has exited (and its locks are gone)
            ended = admin.execute(
                sa.text("SELECT pg_terminate_backend(:pid, :timeout_ms)"),
                {"pid": holders[0], "timeout_ms": int(WAIT_S_MAX * 1000)},
            ).scalar_one()
            assert ended
        assert second.held()  # the server released the ended session's lock
        monkeypatch.setattr(lease, "CHECK_INTERVAL_S", 0.0)
        assert not first.held()  # the holder notices at its next check, and the lease is taken
    finally:
        first.release()
        second.release()
        first_engine.dispose()
        second_engine.dispose()


def test_two_running_dispatchers_one_works_the_other_takes_over(url: str) -> None:
    engines = _engines(url, 2)
    clock = ManualClock()
    key = Ed25519PrivateKey.generate()
    services = [
        Notifications(engine, clock=clock, ids=SeededIds(clock, seed=n), signing_key=key)
        for n, engine in enumerate(engines, 1)
    ]
    stops = [threading.Event(), threading.Event()]
    loops = [
        threading.Thread(target=service.run, args=(stop,), kwargs={"interval_s": 0.05})
        for service, stop in zip(services, stops, strict=True)
    ]
    try:
        for loop in loops:
            loop.start()
        for event_id in range(1, 21):
            _append(engines[0], event_id)
        _wait_until_dispatched(engines[0])
        working = [service.dispatching for service in services]
        if engines[0].dialect.name != "postgresql":
            assert working == [True, True]
            return
        assert sorted(working) == [False, True]
        holder = working.index(True)
        stops[holder].set()
        loops[holder].join(WAIT_S_MAX)
        assert not services[holder].dispatching  # a stopped loop gives the lease back
        for event_id in range(21, 31):
            _append(engines[0], event_id)
        _wait_until_dispatched(engines[0])  # the other loop took over
        assert services[1 - holder].dispatching
    finally:
        for stop in stops:
            stop.set()
        for loop in loops:
            loop.join(WAIT_S_MAX)
        for service, engine in zip(services, engines, strict=True):
            service.close()
            engine.dispose()


def test_the_loop_retries_a_failed_delivery_when_it_falls_due_without_new_events(url: str) -> None:
    answers: list[int] = []
    statuses = iter([500])

    def answer(request: httpx.Request) -> httpx.Response:
        status = next(statuses, 202)
        answers.append(status)
        return httpx.Response(status)

    engine = open_engine(url, run_migrations=False)
    clock = ManualClock()
    http = httpx.Client(transport=httpx.MockTransport(answer))
    service = Notifications(
        engine, clock=clock, ids=SeededIds(clock, seed=1), signing_key=Ed25519PrivateKey.generate(), http=http
    )
    stop = threading.Event()
    loop = threading.Thread(target=service.run, args=(stop,), kwargs={"interval_s": 0.05})
    try:
        service.subscribe("tpp-a", callback_url="https://tpp.example/callbacks", version="4.0")
        loop.start()
        _append(engine, 1, clock)
        _wait_for(lambda: answers == [500])  # fanned out and tried in the same round
        clock.advance(seconds=2 * 3600)  # past any backoff; no new event arrives
        _wait_for(lambda: answers == [500, 202])  # the periodic look for due deliveries finds it
    finally:
        stop.set()
        loop.join(WAIT_S_MAX)
        service.close()
        http.close()
        engine.dispose()


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S_MAX
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert condition()
