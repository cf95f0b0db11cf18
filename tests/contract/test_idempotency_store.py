"""Idempotency records on both stores: replay, conflicts, release, expiry, and nothing kept in clear."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import orjson
import pytest
import sqlalchemy as sa

from netfin.core.clock import ManualClock
from netfin.core.errors import Conflict, InvalidInput, NotFound
from netfin.storage import open_engine
from netfin.storage.idempotency import (
    STALE_S,
    TTL_S,
    Idempotency,
    StoredResponse,
    _key_hash,
    fingerprint,
    idempotency_records,
)

KEY = "3f2c8a1e-5d4b-4e0f-9a77-1c2b3d4e5f60"


@pytest.fixture
def engine(store_url: str) -> Iterator[sa.Engine]:
    opened = open_engine(store_url)
    yield opened
    opened.dispose()


@pytest.fixture
def idem(engine: sa.Engine, clock: ManualClock) -> Idempotency:
    return Idempotency(engine, clock=clock)


class Handler:
    """Counts its calls; answers with the token it was given."""

    def __init__(self, body: bytes = b'{"session_token":"secret-token"}', status: int = 201) -> None:
        self.calls = 0
        self.body, self.status = body, status

    def __call__(self) -> StoredResponse:
        self.calls += 1
        return StoredResponse(self.status, self.body, "/x/1")


def test_same_key_and_body_replays_the_stored_response(idem: Idempotency) -> None:
    handler = Handler()
    print_ = fingerprint("POST", "/v1/x", {"a": 1})
    first = idem.run("party:1", KEY, print_, handler)
    second = idem.run("party:1", KEY, print_, handler)
    assert handler.calls == 1
    assert (second.status, second.body, second.location, second.replayed) == (201, first.body, "/x/1", True)
    assert first.replayed is False


def test_same_key_other_body_is_a_conflict(idem: Idempotency) -> None:
    idem.run("party:1", KEY, fingerprint("POST", "/v1/x", {"a": 1}), Handler())
    with pytest.raises(Conflict) as caught:
        idem.run("party:1", KEY, fingerprint("POST", "/v1/x", {"a": 2}), Handler())
    assert caught.value.code == "idempotency_key_reused"


def test_keys_are_scoped_per_caller(idem: Idempotency) -> None:
    print_ = fingerprint("POST", "/v1/x", {"a": 1})
    a, b = Handler(b"a"), Handler(b"b")
    assert idem.run("tpp:A", KEY, print_, a).body == b"a"
    assert idem.run("tpp:B", KEY, print_, b).body == b"b"
    assert (a.calls, b.calls) == (1, 1)


def test_a_rejection_releases_the_key(idem: Idempotency) -> None:
    print_ = fingerprint("POST", "/v1/x", {"a": 1})

    def refuse() -> StoredResponse:
        raise NotFound("no such thing", code="thing_not_found")

    with pytest.raises(NotFound):
        idem.run("party:1", KEY, print_, refuse)
    handler = Handler()
    assert idem.run("party:1", KEY, print_, handler).status == 201 and handler.calls == 1


def test_a_running_request_holds_its_key(idem: Idempotency) -> None:
    print_ = fingerprint("POST", "/v1/x", {"a": 1})
    inside, leave = threading.Event(), threading.Event()

    def slow() -> StoredResponse:
        inside.set()
        leave.wait(10)
        return StoredResponse(200, b"{}")

    worker = threading.Thread(target=lambda: idem.run("party:1", KEY, print_, slow))
    worker.start()
    assert inside.wait(10)
    with pytest.raises(Conflict) as caught:
        idem.run("party:1", KEY, print_, Handler())
    leave.set()
    worker.join(10)
    assert caught.value.code == "idempotency_key_in_progress"


def test_a_stale_claim_is_taken_over(idem: Idempotency, engine: sa.Engine, clock: ManualClock) -> None:
    """A claim left "started" by a crashed process blocks the key, but only for STALE_S."""
    print_ = fingerprint("POST", "/v1/x", {"a": 1})
    with engine.begin() as connection:
        connection.execute(
            sa.insert(idempotency_records),
            [{"scope": "party:1", "key_hash": _key_hash("party:1", KEY), "fingerprint": print_,
              "state": "started", "created_ns": clock.now_ns(),
              "expires_ns": clock.now_ns() + TTL_S * 10**9}],
        )  # fmt: skip
    with pytest.raises(Conflict) as caught:
        idem.run("party:1", KEY, print_, Handler())
    assert caught.value.code == "idempotency_key_in_progress"
    clock.advance(seconds=STALE_S + 1)
    assert idem.run("party:1", KEY, print_, Handler(b"again")).body == b"again"


def test_an_expired_record_is_taken_over(idem: Idempotency, clock: ManualClock) -> None:
    print_ = fingerprint("POST", "/v1/x", {"a": 1})
    idem.run("party:1", KEY, print_, Handler(b"old"))
    clock.advance(seconds=TTL_S + 1)
    assert idem.run("party:1", KEY, fingerprint("POST", "/v1/x", {"a": 2}), Handler(b"new")).body == b"new"
    assert idem.purge_expired() == 0
    clock.advance(seconds=TTL_S + 1)
    assert idem.purge_expired() == 1


def test_the_table_keeps_neither_key_nor_response_in_clear(idem: Idempotency, engine: sa.Engine) -> None:
    idem.run("party:1", KEY, fingerprint("POST", "/v1/auth", {"p": 1}), Handler())
    with engine.connect() as connection:
        row = connection.execute(sa.select(idempotency_records)).one()
    raw = orjson.dumps(
        {
            str(k): (bytes(v).hex() if isinstance(v, bytes | memoryview) else v)
            for k, v in row._asdict().items()
        }
    )
    assert KEY.encode() not in raw and b"secret-token" not in bytes(row.sealed_body)
    assert b"secret-token".hex().encode() not in raw


@pytest.mark.parametrize("key", ["", " lead", "trail ", "x" * 41, "tab\tinside"])
def test_bad_keys_are_refused(idem: Idempotency, key: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        idem.run("party:1", key, fingerprint("POST", "/v1/x", {}), Handler())
    assert caught.value.code == "idempotency_key_invalid"


def test_racing_claims_run_the_handler_once(idem: Idempotency) -> None:
    """Eight requests with one key at the same moment: one runs, each other one is told the
    key is in progress or gets the stored response; never a second run, never a 500."""
    print_ = fingerprint("POST", "/v1/x", {"a": 1})
    handler = Handler()
    start = threading.Barrier(8)
    outcomes: list[object] = []

    def request() -> None:
        start.wait(10)
        try:
            outcomes.append(idem.run("party:1", KEY, print_, handler))
        except Conflict as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert handler.calls == 1
    assert len(outcomes) == 8
    responses = [o for o in outcomes if isinstance(o, StoredResponse)]
    assert len(responses) >= 1 and all(r.body == handler.body for r in responses)
    assert {o for o in outcomes if not isinstance(o, StoredResponse)} <= {"idempotency_key_in_progress"}


def _record_state(engine: sa.Engine, scope: str) -> str | None:
    where = (idempotency_records.c.scope == scope, idempotency_records.c.key_hash == _key_hash(scope, KEY))
    with engine.connect() as connection:
        found = connection.execute(sa.select(idempotency_records.c.state).where(*where)).scalar()
    return None if found is None else str(found)


def _carry(idem: Idempotency, engine: sa.Engine, response: StoredResponse, *, moved: bool) -> None:
    """A handler's last statement carrying the completion, as ``Payments`` step 3 does."""
    from netfin.storage.reads import point_reads

    riding = idem.riding_completion(lambda: response)
    reads = point_reads(engine)
    assert riding is not None and reads is not None
    sql = (
        f"WITH moved AS (SELECT 1 WHERE {'true' if moved else 'false'}), "
        f"final AS ({riding.sql} AND EXISTS (SELECT 1 FROM moved) RETURNING 1) SELECT count(*) FROM final"
    )
    row = reads.one(sql, riding.params)
    if row is not None and row[0]:
        riding.committed()


def test_a_handlers_last_statement_can_carry_the_completion(pg_url: str, clock: ManualClock) -> None:
    """``riding_completion``: stored by the handler's own statement when it applies; completed by
    ``run`` as usual when it did not; kept (not released) when the handler fails afterwards."""
    engine = open_engine(pg_url)
    idem = Idempotency(engine, clock=clock)
    print_ = fingerprint("POST", "/v1/x", {"a": 1})
    try:
        assert idem.riding_completion(lambda: StoredResponse(201, b"{}")) is None  # no request running
        for scope, moved in (("tpp:carried", True), ("tpp:not-carried", False)):
            states: list[str | None] = []

            def handler(
                scope: str = scope, moved: bool = moved, states: list[str | None] = states
            ) -> StoredResponse:
                response = StoredResponse(201, b'{"paid":"' + scope.encode() + b'"}', "/p/1")
                _carry(idem, engine, response, moved=moved)
                states.append(_record_state(engine, scope))
                return response

            first = idem.run(scope, KEY, print_, handler)
            assert states == ["done" if moved else "started"]
            assert _record_state(engine, scope) == "done"
            again = idem.run(scope, KEY, print_, Handler())
            assert again.replayed and again.body == first.body and again.location == "/p/1"

        def fails_after_carrying() -> StoredResponse:
            _carry(idem, engine, StoredResponse(201, b'{"paid":"late failure"}', "/p/2"), moved=True)
            raise InvalidInput("failed after its outcome committed", code="late")

        with pytest.raises(InvalidInput):
            idem.run("tpp:late", KEY, print_, fails_after_carrying)
        replay = idem.run("tpp:late", KEY, print_, Handler())  # the outcome's answer, not a rerun
        assert replay.replayed and replay.body == b'{"paid":"late failure"}'
    finally:
        engine.dispose()


def test_sqlite_completes_its_claims_itself(tmp_path: object, clock: ManualClock) -> None:
    engine = open_engine(f"sqlite:///{tmp_path}/i.db")
    idem = Idempotency(engine, clock=clock)
    try:
        answers: list[object] = []

        def handler() -> StoredResponse:
            response = StoredResponse(201, b"{}")
            answers.append(idem.riding_completion(lambda: pytest.fail("answer built on SQLite")))
            return response

        idem.run("party:1", KEY, fingerprint("POST", "/v1/x", {}), handler)
        assert answers == [None]
    finally:
        engine.dispose()
