"""Contract tests of the audit log on both stores (SQLite and PostgreSQL).

Recording, the hash chain and its verification, the append-only guards,
tampering behind the log's back (with the guards dropped, as an attacker with
database owner rights could), queries with their filters and cursors, the
limits, and the all-or-nothing group commit when a batch fails.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from netfin.audit import (
    AUDIT_TABLES,
    GENESIS_HASH,
    QUERY_LIMIT_MAX,
    ActorKind,
    AuditEntry,
    AuditLog,
    AuditLogClosed,
    AuditWriteFailed,
    Outcome,
    append_only_guards,
    append_only_guards_removal,
    audit_head,
    audit_log,
    seed_head,
)
from netfin.audit.model import entry_hash_of
from netfin.audit.store import entry_from_row
from netfin.core.clock import ManualClock
from netfin.core.errors import ConfigurationError, InvalidInput, InvariantViolation, LimitExceeded
from netfin.core.ids import SeededIds
from netfin.storage import metadata, open_engine

WAIT_SECONDS = 20


@pytest.fixture
def engine(empty_store_url: str) -> Iterator[sa.Engine]:
    opened = open_engine(empty_store_url, run_migrations=False)
    metadata.create_all(opened, tables=list(AUDIT_TABLES))
    with opened.begin() as connection:
        for ddl in append_only_guards(opened.dialect.name):
            connection.exec_driver_sql(ddl)
    yield opened
    opened.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def audit(engine: sa.Engine, clock: ManualClock) -> Iterator[AuditLog]:
    with AuditLog(engine, clock=clock, ids=SeededIds(clock, seed=7)) as log:
        yield log


def record(log: AuditLog, n: int = 0, **fields: Any) -> AuditEntry:
    values: dict[str, Any] = {
        "actor_kind": "tpp",
        "actor_id": f"tpp-{n % 3}",
        "action": "ais.balances.read",
        "outcome": "allowed",
        "subject_kind": "account",
        "subject_id": f"acc-{n % 5}",
        "consent_id": f"consent-{n % 4}",
        "interaction_id": f"ia-{n}",
        "detail": {"n": n},
    }
    values.update(fields)
    return log.record(**values)


def rows(engine: sa.Engine) -> list[sa.Row[Any]]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(audit_log).order_by(audit_log.c.seq)))


def head_of(engine: sa.Engine) -> sa.Row[Any]:
    with engine.connect() as connection:
        return connection.execute(sa.select(audit_head)).one()


def run_sql(engine: sa.Engine, statement: sa.Executable | str) -> None:
    with engine.begin() as connection:
        if isinstance(statement, str):
            connection.exec_driver_sql(statement)
        else:
            connection.execute(statement)


def drop_guards(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        for ddl in append_only_guards_removal(engine.dialect.name):
            connection.exec_driver_sql(ddl)


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.005)


@contextmanager
def head_locked(engine: sa.Engine) -> Iterator[None]:
    """Hold the lock that every append takes first, so that the writer blocks."""
    with engine.connect() as connection:
        # On SQLite the engine begins every transaction with BEGIN IMMEDIATE.
        connection.execute(sa.select(audit_head.c.seq).with_for_update())
        try:
            yield
        finally:
            connection.rollback()


class Caller(threading.Thread):
    """Records one entry in a thread of its own and keeps the result or the error."""

    def __init__(self, log: AuditLog, n: int, **fields: Any) -> None:
        super().__init__(daemon=True)
        self.log, self.n, self.fields = log, n, fields
        self.entry: AuditEntry | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.entry = record(self.log, self.n, **self.fields)
        except BaseException as error:
            self.error = error


# --- recording and the chain ----------------------------------------------


def test_record_returns_the_committed_entry(audit: AuditLog, engine: sa.Engine, clock: ManualClock) -> None:
    entry = audit.record(
        actor_kind=ActorKind.CUSTOMER,
        actor_id="cust-1",
        action="consent.authorise",
        outcome=Outcome.SUCCEEDED,
        subject_kind="consent",
        subject_id="aac-1",
        consent_id="aac-1",
        interaction_id="93bac548-d2de-4546-b106-880a5018460d",
        detail={"permissions": "ReadBalances", "accounts": 2, "passkey": True, "note": None},
    )
    assert (entry.seq, entry.at_ns, entry.prev_hash) == (1, clock.now_ns(), GENESIS_HASH)
    assert type(entry.actor_kind) is str and entry.actor_kind == "customer"
    assert entry.outcome == "succeeded" and entry.reason is None
    assert entry.entry_hash == entry_hash_of(entry, GENESIS_HASH)
    [row] = rows(engine)
    assert (row.seq, row.action, row.actor_id, row.consent_id) == (1, "consent.authorise", "cust-1", "aac-1")
    assert bytes(row.entry_hash) == entry.entry_hash
    head = head_of(engine)
    assert (head.seq, bytes(head.chain_hash), head.at_ns) == (1, entry.entry_hash, entry.at_ns)
    assert audit.query().entries == (entry,)


def test_chain_verifies_after_many_records(audit: AuditLog, clock: ManualClock) -> None:
    entries = []
    for n in range(250):
        clock.advance(ns=1000)
        entries.append(record(audit, n, outcome="refused" if n % 9 == 0 else "allowed"))
    assert [e.seq for e in entries] == list(range(1, 251))
    assert all(later.prev_hash == earlier.entry_hash for earlier, later in itertools.pairwise(entries))
    seen: list[int] = []
    report = audit.verify(progress=seen.append)
    assert (report.ok, report.entries, report.first_bad_seq, report.problem) == (True, 250, None, None)
    assert seen[-1] == 250


def test_an_empty_log_verifies(audit: AuditLog) -> None:
    report = audit.verify()
    assert (report.ok, report.entries) == (True, 0)


def test_two_logs_on_one_database_share_one_seeded_head(engine: sa.Engine, clock: ManualClock) -> None:
    with engine.begin() as connection:
        seed_head(connection)
        seed_head(connection)
    with (
        AuditLog(engine, clock=clock, ids=SeededIds(clock, 1)) as first,
        AuditLog(engine, clock=clock, ids=SeededIds(clock, 2)) as second,
    ):
        assert record(first, 1).seq == 1
        assert record(second, 2).seq == 2
        third = record(first, 3)
        assert record(second, 4).prev_hash == third.entry_hash
        assert second.verify().entries == 4
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(audit_head)).scalar() == 1


def test_time_never_goes_back_along_the_chain(audit: AuditLog, clock: ManualClock) -> None:
    late = record(audit, 1)
    clock.advance(seconds=-60)
    assert record(audit, 2).at_ns == late.at_ns
    assert audit.verify().ok


# --- the append-only guards -----------------------------------------------


def test_guards_refuse_update_and_delete(audit: AuditLog, engine: sa.Engine) -> None:
    for n in range(3):
        record(audit, n)
    before = rows(engine)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        run_sql(engine, sa.update(audit_log).where(audit_log.c.seq == 2).values(actor_id="someone-else"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        run_sql(engine, sa.delete(audit_log).where(audit_log.c.seq == 3))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        run_sql(engine, sa.delete(audit_log))
    if engine.dialect.name == "postgresql":
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            run_sql(engine, "TRUNCATE audit_log")
    assert rows(engine) == before
    assert audit.verify().ok


def test_guards_refuse_a_rewound_or_deleted_head(audit: AuditLog, engine: sa.Engine) -> None:
    for n in range(3):
        record(audit, n)
    with pytest.raises(sa.exc.DBAPIError, match="audit_head"):
        run_sql(engine, sa.update(audit_head).values(seq=1))
    with pytest.raises(sa.exc.DBAPIError, match="audit_head"):
        run_sql(engine, sa.delete(audit_head))
    assert head_of(engine).seq == 3
    assert record(audit, 4).seq == 4


def test_guards_on_an_unknown_dialect_are_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        append_only_guards("mysql")
    assert caught.value.code == "audit_dialect_unsupported"


# --- tampering is named ---------------------------------------------------


def _swap(engine: sa.Engine, first: int, second: int) -> None:
    """Exchange the contents of two rows while their seqs stay: a reordering."""
    by_seq = {row.seq: row._asdict() for row in rows(engine)}
    for target, source in ((first, second), (second, first)):
        values = {k: v for k, v in by_seq[source].items() if k != "seq"}
        run_sql(engine, sa.update(audit_log).where(audit_log.c.seq == target).values(**values))


def _rehash(engine: sa.Engine, seq: int) -> None:
    """Alter a row and recompute its own hashes, as a careful attacker would."""
    run_sql(engine, sa.update(audit_log).where(audit_log.c.seq == seq).values(outcome="refused"))
    with engine.connect() as connection:
        row = connection.execute(sa.select(audit_log).where(audit_log.c.seq == seq)).one()
    entry = entry_from_row(row)
    new_hash = entry_hash_of(entry, entry.prev_hash)
    run_sql(engine, sa.update(audit_log).where(audit_log.c.seq == seq).values(entry_hash=new_hash))


TAMPERING: dict[str, tuple[Callable[[sa.Engine], None], int, str]] = {
    "altered actor": (
        lambda e: run_sql(e, sa.update(audit_log).where(audit_log.c.seq == 7).values(actor_id="tpp-9")),
        7,
        "entry_hash_mismatch",
    ),
    "altered time": (
        lambda e: run_sql(
            e, sa.update(audit_log).where(audit_log.c.seq == 4).values(at_ns=audit_log.c.at_ns + 1)
        ),
        4,
        "entry_hash_mismatch",
    ),
    "altered detail": (
        lambda e: run_sql(e, sa.update(audit_log).where(audit_log.c.seq == 9).values(detail='{"n":99}')),
        9,
        "entry_hash_mismatch",
    ),
    "cleared consent": (
        lambda e: run_sql(e, sa.update(audit_log).where(audit_log.c.seq == 1).values(consent_id=None)),
        1,
        "entry_hash_mismatch",
    ),
    "malformed detail": (
        lambda e: run_sql(e, sa.update(audit_log).where(audit_log.c.seq == 5).values(detail="not json")),
        5,
        "row_malformed",
    ),
    "deleted middle row": (
        lambda e: run_sql(e, sa.delete(audit_log).where(audit_log.c.seq == 6)),
        6,
        "seq_not_contiguous",
    ),
    "deleted first row": (
        lambda e: run_sql(e, sa.delete(audit_log).where(audit_log.c.seq == 1)),
        1,
        "seq_not_contiguous",
    ),
    "deleted last row": (
        lambda e: run_sql(e, sa.delete(audit_log).where(audit_log.c.seq == 12)),
        12,
        "entry_missing",
    ),
    "reordered rows": (lambda e: _swap(e, 8, 9), 8, "prev_hash_mismatch"),
    "rehashed row": (lambda e: _rehash(e, 3), 4, "prev_hash_mismatch"),
    "rewound head": (lambda e: run_sql(e, sa.update(audit_head).values(seq=11)), 12, "entry_beyond_head"),
    "forged head hash": (
        lambda e: run_sql(e, sa.update(audit_head).values(chain_hash=bytes(32))),
        12,
        "head_mismatch",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_verify_names_the_first_tampered_entry(
    case: str, audit: AuditLog, engine: sa.Engine, clock: ManualClock
) -> None:
    for n in range(12):
        clock.advance(ns=10)
        record(audit, n)
    assert audit.verify().ok
    tamper, bad_seq, problem = TAMPERING[case]
    drop_guards(engine)
    tamper(engine)
    report = audit.verify()
    assert (report.ok, report.first_bad_seq, report.problem) == (False, bad_seq, problem)
    # Every entry before the bad one checked out; a bad head follows 12 good entries.
    assert report.entries == (12 if problem == "head_mismatch" else bad_seq - 1) and report.message


def test_a_row_appended_behind_the_logs_back_is_named(audit: AuditLog, engine: sa.Engine) -> None:
    for n in range(3):
        record(audit, n)
    forged = {k: v for k, v in rows(engine)[-1]._asdict().items()}
    forged["seq"] = 4
    run_sql(engine, sa.insert(audit_log).values(**forged))
    report = audit.verify()
    assert (report.ok, report.first_bad_seq, report.problem) == (False, 4, "entry_beyond_head")


# --- queries ----------------------------------------------------------------


@pytest.fixture
def history(audit: AuditLog, clock: ManualClock) -> list[AuditEntry]:
    entries = []
    for n in range(30):
        clock.advance(seconds=1)
        outcome = "refused" if n % 4 == 0 else "allowed"
        reason = "consent_expired" if outcome == "refused" else None
        kind = "customer" if n % 6 == 5 else "tpp"
        action = "auth.passkey.login" if kind == "customer" else "ais.balances.read"
        entries.append(record(audit, n, outcome=outcome, reason=reason, actor_kind=kind, action=action))
    return entries


QUERIES: dict[str, tuple[dict[str, Any], Callable[[AuditEntry], bool]]] = {
    "everything": ({}, lambda e: True),
    "actor_id": ({"actor_id": "tpp-1"}, lambda e: e.actor_id == "tpp-1"),
    "actor_kind": ({"actor_kind": "customer"}, lambda e: e.actor_kind == "customer"),
    "action": ({"action": "auth.passkey.login"}, lambda e: e.action == "auth.passkey.login"),
    "subject_id": ({"subject_id": "acc-2"}, lambda e: e.subject_id == "acc-2"),
    "consent_id": ({"consent_id": "consent-3"}, lambda e: e.consent_id == "consent-3"),
    "outcome": ({"outcome": "refused"}, lambda e: e.outcome == "refused"),
    "combined": (
        {"actor_id": "tpp-2", "outcome": "allowed", "consent_id": "consent-1"},
        lambda e: (e.actor_id, e.outcome, e.consent_id) == ("tpp-2", "allowed", "consent-1"),
    ),
    "nothing": ({"actor_id": "nobody"}, lambda e: False),
}


@pytest.mark.parametrize("case", sorted(QUERIES))
def test_query_returns_exactly_the_matching_entries(
    case: str, audit: AuditLog, history: list[AuditEntry]
) -> None:
    conditions, matches = QUERIES[case]
    expected = [e for e in history if matches(e)]
    page = audit.query(**conditions, limit=QUERY_LIMIT_MAX)
    assert list(page.entries) == expected and page.next_cursor is None


def test_query_by_time_is_half_open(audit: AuditLog, history: list[AuditEntry]) -> None:
    since, until = history[5].at_ns, history[12].at_ns
    page = audit.query(since_ns=since, until_ns=until)
    assert list(page.entries) == history[5:12]
    assert list(audit.query(since_ns=history[-1].at_ns + 1).entries) == []


@pytest.mark.parametrize("limit", [1, 4, 5, 7, 25, 29])
def test_cursor_pages_cover_every_match_once_in_order(
    limit: int, audit: AuditLog, history: list[AuditEntry]
) -> None:
    expected = [e for e in history if e.actor_kind == "tpp"]
    collected: list[AuditEntry] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = audit.query(actor_kind="tpp", cursor=cursor, limit=limit)
        assert 0 < len(page.entries) <= limit
        collected.extend(page.entries)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert collected == expected
    assert pages == -(-len(expected) // limit)


def test_a_cursor_sees_entries_recorded_after_it(audit: AuditLog, history: list[AuditEntry]) -> None:
    page = audit.query(limit=30)
    assert page.next_cursor is None
    last = audit.query(limit=29)
    assert last.next_cursor is not None
    late = record(audit, 99)
    assert list(audit.query(cursor=last.next_cursor).entries) == [history[-1], late]


# --- limits and rejections --------------------------------------------------


def _code(error: pytest.ExceptionInfo[Any]) -> str:
    return str(error.value.code)


def test_an_oversized_detail_is_refused_and_nothing_is_written(audit: AuditLog, engine: sa.Engine) -> None:
    with pytest.raises(LimitExceeded) as too_big:
        record(audit, 1, detail={"blob": "x" * 5000})
    assert _code(too_big) == "audit_detail_too_large"
    with pytest.raises(LimitExceeded) as too_many:
        record(audit, 1, detail={f"k{i}": i for i in range(33)})
    assert _code(too_many) == "audit_detail_too_many_keys"
    with pytest.raises(InvalidInput) as malformed:
        record(audit, 1, detail={"amount": 1.5})
    assert _code(malformed) == "audit_detail_malformed"
    assert rows(engine) == [] and head_of(engine).seq == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "code"),
    [
        ({"limit": QUERY_LIMIT_MAX + 1}, LimitExceeded, "audit_page_limit_exceeded"),
        ({"limit": 0}, InvalidInput, "audit_page_limit_invalid"),
        ({"cursor": "not-a-cursor"}, InvalidInput, "audit_cursor_invalid"),
        ({"cursor": ""}, InvalidInput, "audit_cursor_invalid"),
        ({"actor_kind": "robot"}, InvalidInput, "audit_actor_kind_unknown"),
        ({"outcome": "maybe"}, InvalidInput, "audit_outcome_unknown"),
        ({"actor_id": "x" * 500}, LimitExceeded, "audit_field_too_long"),
        ({"since_ns": -1}, InvalidInput, "audit_time_invalid"),
    ],
)
def test_query_rejections(kwargs: dict[str, Any], error: type[Exception], code: str, audit: AuditLog) -> None:
    with pytest.raises(error) as caught:
        audit.query(**kwargs)
    assert _code(caught) == code


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [({"batch_max": 0}, "audit_batch_max_invalid"), ({"queue_max": 10**9}, "audit_queue_max_invalid")],
)
def test_settings_out_of_range(
    kwargs: dict[str, Any], code: str, engine: sa.Engine, clock: ManualClock
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        AuditLog(engine, clock=clock, ids=SeededIds(clock), **kwargs)
    assert _code(caught) == code


def test_missing_tables_are_a_configuration_error(empty_store_url: str, clock: ManualClock) -> None:
    bare = open_engine(empty_store_url, run_migrations=False)
    try:
        with pytest.raises(ConfigurationError) as caught:
            AuditLog(bare, clock=clock, ids=SeededIds(clock))
    finally:
        bare.dispose()
    assert _code(caught) == "audit_store_unavailable"


def test_record_after_close_is_refused(engine: sa.Engine, clock: ManualClock) -> None:
    log = AuditLog(engine, clock=clock, ids=SeededIds(clock))
    record(log, 1)
    log.close()
    log.close()
    with pytest.raises(AuditLogClosed) as caught:
        record(log, 2)
    assert _code(caught) == "audit_log_closed"
    assert [row.seq for row in rows(engine)] == [1]


def test_close_writes_what_is_already_queued(engine: sa.Engine, clock: ManualClock) -> None:
    log = AuditLog(engine, clock=clock, ids=SeededIds(clock))
    with head_locked(engine):
        callers = [Caller(log, n) for n in range(5)]
        for caller in callers:
            caller.start()
        wait_until(lambda: log.in_flight + log.queue_depth == 5, "all five are queued")
        closer = threading.Thread(target=log.close, daemon=True)
        closer.start()
    closer.join(WAIT_SECONDS)
    for caller in callers:
        caller.join(WAIT_SECONDS)
    assert not closer.is_alive()
    assert sorted(c.entry.seq for c in callers if c.entry) == [1, 2, 3, 4, 5]


def test_a_full_queue_is_refused(engine: sa.Engine, clock: ManualClock) -> None:
    with AuditLog(engine, clock=clock, ids=SeededIds(clock), queue_max=2) as log:
        with head_locked(engine):
            callers = [Caller(log, 0)]
            callers[0].start()
            wait_until(lambda: log.in_flight == 1, "the writer holds the first entry")
            callers += [Caller(log, 1), Caller(log, 2)]
            for caller in callers[1:]:
                caller.start()
            wait_until(lambda: log.queue_depth == 2, "two entries wait")
            with pytest.raises(LimitExceeded) as caught:
                record(log, 3)
            assert _code(caught) == "audit_queue_full"
        for caller in callers:
            caller.join(WAIT_SECONDS)
        assert sorted(c.entry.seq for c in callers if c.entry) == [1, 2, 3]
        assert log.verify().entries == 3


# --- a failed batch -------------------------------------------------------------


def _install_poison(engine: sa.Engine) -> None:
    """Make any batch that holds a 'test.poison' entry fail at COMMIT: a deferred
    foreign key on SQLite, a deferred constraint trigger on PostgreSQL."""
    if engine.dialect.name == "sqlite":
        run_sql(engine, "CREATE TABLE audit_test_parent (id INTEGER PRIMARY KEY)")
        run_sql(
            engine,
            "CREATE TABLE audit_test_child (parent_id INTEGER "
            "REFERENCES audit_test_parent (id) DEFERRABLE INITIALLY DEFERRED)",
        )
        run_sql(
            engine,
            "CREATE TRIGGER audit_test_poison AFTER INSERT ON audit_log WHEN NEW.action = 'test.poison' "
            "BEGIN INSERT INTO audit_test_child VALUES (1); END",
        )
        return
    run_sql(
        engine,
        "CREATE FUNCTION audit_test_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.action = 'test.poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$",
    )
    run_sql(
        engine,
        "CREATE CONSTRAINT TRIGGER audit_test_poison AFTER INSERT ON audit_log "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_test_poison()",
    )


def test_a_failed_batch_wakes_every_caller_and_writes_nothing(audit: AuditLog, engine: sa.Engine) -> None:
    _install_poison(engine)
    with head_locked(engine):
        first = Caller(audit, 0)
        first.start()
        wait_until(lambda: audit.in_flight == 1, "the writer holds the first entry")
        doomed = [Caller(audit, 1), Caller(audit, 2, action="test.poison"), Caller(audit, 3)]
        for caller in doomed:
            caller.start()
        wait_until(lambda: audit.queue_depth == 3, "the next batch is queued")
    for caller in [first, *doomed]:
        caller.join(WAIT_SECONDS)
        assert not caller.is_alive()
    assert first.entry is not None and first.entry.seq == 1
    for caller in doomed:
        assert caller.entry is None
        assert isinstance(caller.error, AuditWriteFailed) and caller.error.code == "audit_write_failed"
        assert isinstance(caller.error.__cause__, sa.exc.DBAPIError)
        assert "FOREIGN KEY" in str(caller.error.__cause__) or "poisoned" in str(caller.error.__cause__)
    assert [row.seq for row in rows(engine)] == [1]
    assert head_of(engine).seq == 1
    assert record(audit, 4).seq == 2
    assert audit.verify().entries == 2


class BrokenIds:
    """An id source with a bug: it fails after its first id."""

    def __init__(self) -> None:
        self.calls = 0

    def new_id(self) -> int:
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("id source broke")
        return 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_bug_in_the_writer_stops_the_log_loudly(engine: sa.Engine, clock: ManualClock) -> None:
    log = AuditLog(engine, clock=clock, ids=BrokenIds())
    assert record(log, 0).seq == 1
    with pytest.raises(InvariantViolation, match="id source broke"):
        record(log, 1)
    with pytest.raises(AuditLogClosed):
        record(log, 2)
    log.close()
    assert [row.seq for row in rows(engine)] == [1] and head_of(engine).seq == 1


def test_submit_returns_before_the_commit_and_its_receipt_waits_for_it(
    audit: AuditLog, engine: sa.Engine
) -> None:
    fields: dict[str, Any] = {"actor_kind": "tpp", "actor_id": "tpp-1", "action": "payment.create",
                              "outcome": "succeeded"}  # fmt: skip
    with head_locked(engine):  # the writer cannot commit while the head is held
        receipt = audit.submit(**fields)
        wait_until(lambda: audit.in_flight == 1, "the writer holds the submitted entry")
        assert audit.in_flight == 1  # still not committed: submit did not wait for it
    entry = receipt.wait()
    assert entry.seq == 1 and entry.action == "payment.create"
    assert [row.seq for row in rows(engine)] == [1]
    assert receipt.wait() == entry  # a receipt can be asked again


def test_a_submitted_entry_whose_batch_failed_raises_at_the_wait(audit: AuditLog, engine: sa.Engine) -> None:
    _install_poison(engine)
    receipt = audit.submit(actor_kind="tpp", actor_id="tpp-1", action="test.poison", outcome="succeeded")
    with pytest.raises(AuditWriteFailed):
        receipt.wait()
    assert rows(engine) == []


# --- entries submitted together -------------------------------------------------


def _fields(action: str) -> dict[str, Any]:
    return {"actor_kind": "tpp", "actor_id": "tpp-1", "action": action, "outcome": "succeeded"}


def _appends_of(audit: AuditLog, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The actions of each batch the writer appends, from now on."""
    batches: list[list[str]] = []
    original = audit._append

    def counting(batch: Any) -> Any:
        entries = original(batch)
        batches.append([pending.draft.action for pending in batch])  # as written: it may grow
        return entries

    monkeypatch.setattr(audit, "_append", counting)
    return batches


def test_entries_submitted_together_reach_the_writer_as_one_append(
    audit: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = _appends_of(audit, monkeypatch)
    with audit.together():
        first = audit.submit(**_fields("payment.create"))
        with audit.together():  # an inner block is part of the outer one
            second = audit.submit(**_fields("pis.payment.create"))
        assert audit.queue_depth == 0 and audit.in_flight == 0  # held by this thread
    assert (first.wait().seq, second.wait().seq) == (1, 2)
    assert batches == [["payment.create", "pis.payment.create"]]
    assert audit.verify().ok


def test_waiting_inside_the_block_hands_the_held_entries_over_first(
    audit: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = _appends_of(audit, monkeypatch)
    with audit.together():
        first = audit.submit(**_fields("test.a"))
        second = audit.submit(**_fields("test.b"))
        assert second.wait().seq == 2  # no deadlock on its own hold
        third = audit.submit(**_fields("test.c"))  # the hold has ended: it goes at once
        assert third.wait().seq == 3
        assert audit.record_many([_fields("test.d")])[0].seq == 4
    assert first.wait().seq == 1
    assert batches == [["test.a", "test.b"], ["test.c"], ["test.d"]]


def test_entries_held_by_a_block_that_raised_are_still_written(audit: AuditLog) -> None:
    with pytest.raises(RuntimeError, match="after the entry"), audit.together():
        receipt = audit.submit(**_fields("payment.create"))
        raise RuntimeError("after the entry")
    assert receipt.wait().action == "payment.create"


def test_a_block_holds_only_its_own_threads_entries(audit: AuditLog) -> None:
    with audit.together():
        held = audit.submit(**_fields("test.held"))
        other = Caller(audit, 1)
        other.start()
        other.join(WAIT_SECONDS)
        assert other.entry is not None and other.entry.seq == 1
        assert audit.record_many([_fields("test.after")])[0].seq == 3
    assert held.wait().seq == 2


def test_held_entries_of_a_log_closed_meanwhile_fail_at_their_wait(
    engine: sa.Engine, clock: ManualClock
) -> None:
    log = AuditLog(engine, clock=clock, ids=SeededIds(clock))
    with log.together():
        receipt = log.submit(**_fields("payment.create"))
        log.close()
    with pytest.raises(AuditWriteFailed, match="AuditLogClosed"):
        receipt.wait()
    assert rows(engine) == []


def test_a_retry_after_another_process_appended_takes_along_what_queued_meanwhile(
    empty_pg_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's one-statement append: when another log moved the head first, the batch
    is sealed again after it, and the entries queued while it waited go with it."""
    engine = open_engine(empty_pg_url, run_migrations=False)
    metadata.create_all(engine, tables=list(AUDIT_TABLES))
    try:
        with (
            AuditLog(engine, clock=clock, ids=SeededIds(clock, seed=1)) as first,
            AuditLog(engine, clock=clock, ids=SeededIds(clock, seed=2)) as second,
        ):
            first.record(**_fields("test.first"))  # the head as the first log last saw it
            second.record(**_fields("test.second"))  # moved behind its back
            batches = _appends_of(first, monkeypatch)
            original = first._store.append_if_head
            late: list[Any] = []

            def racing(head: Any, entries: Any, details: Any) -> Any:
                appended = original(head, entries, details)
                if not appended.ok and not late:  # queued while the refused statement ran
                    late.append(first.submit(**_fields("test.late")))
                return appended

            monkeypatch.setattr(first._store, "append_if_head", racing)
            early = first.record(**_fields("test.early"))
            assert (early.seq, late[0].wait().seq) == (3, 4)
            assert batches == [["test.early", "test.late"]]
            assert first.verify().ok
    finally:
        engine.dispose()
