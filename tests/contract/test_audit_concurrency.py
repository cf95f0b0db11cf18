"""Contract tests of the audit log under concurrency, on both stores.

Many threads recording through one log, and two logs with engines of their
own (as two processes would have) writing to one database: the sequence
numbers stay contiguous, every caller gets back exactly the entry that was
stored, and the chain verifies.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from netfin.audit import AUDIT_TABLES, AuditEntry, AuditLog, append_only_guards, audit_log
from netfin.audit.store import entry_from_row
from netfin.core.clock import ManualClock, SystemClock
from netfin.core.ids import SeededIds, Uuid7Ids
from netfin.storage import metadata, open_engine

THREADS = 8
RECORDS_PER_THREAD = 200


def _open(url: str) -> sa.Engine:
    return open_engine(url, run_migrations=False)


@pytest.fixture
def engine(empty_store_url: str) -> Iterator[sa.Engine]:
    opened = _open(empty_store_url)
    metadata.create_all(opened, tables=list(AUDIT_TABLES))
    with opened.begin() as connection:
        for ddl in append_only_guards(opened.dialect.name):
            connection.exec_driver_sql(ddl)
    yield opened
    opened.dispose()


def stored(engine: sa.Engine) -> list[AuditEntry]:
    with engine.connect() as connection:
        return [entry_from_row(row) for row in connection.execute(sa.select(audit_log).order_by("seq"))]


def record_many(log: AuditLog, worker: int, count: int) -> list[AuditEntry]:
    return [
        log.record(
            actor_kind="tpp",
            actor_id=f"tpp-{worker}",
            action="ais.balances.read",
            outcome="allowed",
            subject_kind="account",
            subject_id=f"acc-{n}",
            detail={"worker": worker, "n": n},
        )
        for n in range(count)
    ]


def check_linear(entries: list[AuditEntry], returned: list[AuditEntry], total: int) -> None:
    assert [e.seq for e in entries] == list(range(1, total + 1))
    assert all(b.prev_hash == a.entry_hash for a, b in itertools.pairwise(entries))
    assert all(a.at_ns <= b.at_ns for a, b in itertools.pairwise(entries))
    assert sorted(returned, key=lambda e: e.seq) == entries
    assert len({e.entry_id for e in entries}) == total


def test_many_threads_get_contiguous_seqs_and_a_valid_chain(engine: sa.Engine) -> None:
    clock = ManualClock()
    with AuditLog(engine, clock=clock, ids=SeededIds(clock, seed=3)) as log:
        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(lambda w: record_many(log, w, RECORDS_PER_THREAD), range(THREADS)))
        report = log.verify()
    total = THREADS * RECORDS_PER_THREAD
    assert (report.ok, report.entries) == (True, total)
    returned = [entry for result in results for entry in result]
    check_linear(stored(engine), returned, total)
    for worker, result in enumerate(results):
        # Each caller's own entries keep the order in which it recorded them.
        assert [e.detail["n"] for e in result] == list(range(RECORDS_PER_THREAD))
        assert {e.actor_id for e in result} == {f"tpp-{worker}"}
        assert [e.seq for e in result] == sorted(e.seq for e in result)


@pytest.mark.parametrize("batch_max", [1, 3])
def test_small_batches_keep_the_chain_linear(batch_max: int, engine: sa.Engine) -> None:
    clock = ManualClock()
    with AuditLog(engine, clock=clock, ids=SeededIds(clock), batch_max=batch_max) as log:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda w: record_many(log, w, 25), range(4)))
        assert log.verify().entries == 100
    check_linear(stored(engine), [e for result in results for e in result], 100)


def test_two_logs_on_one_database_stay_linear(empty_store_url: str, engine: sa.Engine) -> None:
    """Two instances with engines of their own interleave as two processes would:
    first strictly in turn, then at once from several threads each."""
    second_engine = _open(empty_store_url)
    try:
        logs = [
            AuditLog(engine, clock=SystemClock(), ids=Uuid7Ids()),
            AuditLog(second_engine, clock=SystemClock(), ids=Uuid7Ids()),
        ]
        in_turn = [record_many(logs[n % 2], n % 2, 1)[0] for n in range(40)]
        jobs: list[tuple[AuditLog, int]] = [(logs[w % 2], w) for w in range(6)]

        def run(job: tuple[AuditLog, int]) -> list[AuditEntry]:
            return record_many(job[0], job[1], 100)

        with ThreadPoolExecutor(len(jobs)) as pool:
            results: list[list[Any]] = list(pool.map(run, jobs))
        for log in logs:
            log.close()
        reports = [log.verify() for log in logs]
    finally:
        second_engine.dispose()
    assert [(r.ok, r.entries) for r in reports] == [(True, 640), (True, 640)]
    entries = stored(engine)
    check_linear(entries, in_turn + [e for result in results for e in result], 640)
    assert [e.seq for e in in_turn] == list(range(1, 41))
    assert [e.actor_id for e in entries[:40]] == ["tpp-0", "tpp-1"] * 20


def test_a_writer_that_lost_the_race_appends_after_the_head_it_found(empty_pg_url: str) -> None:
    """PostgreSQL only (SQLite always appends under its write lock): two logs appending strictly
    in turn each find the head moved every time; the one-statement append answers with the head
    it found, and the retry sealed after it succeeds, so only each log's first append (which
    knows no head yet) takes the locked transaction."""
    engine = _open(empty_pg_url)
    metadata.create_all(engine, tables=list(AUDIT_TABLES))
    second_engine = _open(empty_pg_url)
    try:
        logs = [
            AuditLog(engine, clock=SystemClock(), ids=Uuid7Ids()),
            AuditLog(second_engine, clock=SystemClock(), ids=Uuid7Ids()),
        ]
        locked = [0, 0]
        for n, log in enumerate(logs):
            original = log._append_locked

            def counted(drafts: Any, n: int = n, original: Any = original) -> Any:
                locked[n] += 1
                return original(drafts)

            log._append_locked = counted  # type: ignore[method-assign]
        in_turn = [record_many(logs[n % 2], n % 2, 1)[0] for n in range(40)]
        for log in logs:
            log.close()
        assert logs[0].verify().ok
        entries = stored(engine)
    finally:
        second_engine.dispose()
        engine.dispose()
    assert locked == [1, 1]
    check_linear(entries, in_turn, 40)


def test_a_race_lost_while_waiting_for_the_head_answers_with_the_head_that_won(empty_pg_url: str) -> None:
    """PostgreSQL only: a one-statement append that waits for another writer's in-flight append
    answers, once that commits, with the head the other writer left (the row as committed, not
    as the statement's snapshot saw it), so the retry sealed after it can win."""
    import threading
    import time

    from netfin.audit.model import draft_entry
    from netfin.audit.store import Appended, AuditStore, Head

    engine = _open(empty_pg_url)
    metadata.create_all(engine, tables=list(AUDIT_TABLES))
    second_engine = _open(empty_pg_url)
    log = AuditLog(engine, clock=SystemClock(), ids=Uuid7Ids())
    try:
        record_many(log, 0, 1)
        store, other = AuditStore(engine), AuditStore(second_engine)
        head = store.read_head()
        assert head is not None and head.seq == 1
        draft = draft_entry(actor_kind="tpp", actor_id="tpp-9", action="ais.balances.read", outcome="allowed")
        mine = log._seal([draft], head)
        answer: list[Appended] = []
        racer = threading.Thread(target=lambda: answer.append(store.append_if_head(head, mine, ["{}"])))
        with other.append_transaction() as transaction:  # the other writer, in flight
            locked = transaction.lock_head()
            assert locked == head
            theirs = log._seal([draft, draft], locked)
            transaction.append(theirs, ["{}", "{}"])
            racer.start()
            deadline = time.monotonic() + 30
            while not _waits_for_a_lock(engine) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert _waits_for_a_lock(engine), "the racing append never waited for the head"
        racer.join(30)
        last = theirs[-1]
        assert answer == [Appended(False, Head(last.seq, last.entry_hash, last.at_ns))]
        store.close()
        assert [e.seq for e in stored(engine)] == [1, 2, 3]
    finally:
        log.close()
        second_engine.dispose()
        engine.dispose()


def _waits_for_a_lock(engine: sa.Engine) -> bool:
    with engine.connect() as connection:
        waiting = connection.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%INSERT INTO audit_log%'"
            )
        ).scalar()
    return bool(waiting)
