"""The risk decision log: decisions queued from many threads are all committed, in batches of
at most ``batch_max``; ``flush`` returns only once what came before it is stored; ``close``
writes what is still waiting; a writer's failure reaches the next caller."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from netfin.risk.decisions import Action, Decision
from netfin.risk.store import DecisionLog, risk_decisions
from netfin.storage import open_engine


@pytest.fixture
def engine(empty_store_url: str) -> Iterator[sa.Engine]:
    opened = open_engine(empty_store_url, run_migrations=False)
    risk_decisions.create(opened)
    yield opened
    opened.dispose()


def _decision(n: int) -> Decision:
    return Decision(
        f"d-{n:06d}", None, "payer", "payee", 100 + n, "GBP", "retail", Action.APPROVE,
        None, None, None, None, "rules-1", (), {"n": n}, n, 10,
    )  # fmt: skip


def _stored(engine: sa.Engine) -> list[str]:
    with engine.connect() as c:
        return list(c.execute(sa.select(risk_decisions.c.decision_id).order_by("decision_id")).scalars())


def test_decisions_from_many_threads_are_all_stored_by_flush(engine: sa.Engine) -> None:
    log = DecisionLog(engine, batch_max=7, linger_s=0.01)

    def decide(k: int) -> None:
        for n in range(50):
            log.append(_decision(k * 100 + n))

    try:
        threads = [threading.Thread(target=decide, args=(k,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        log.flush()
        assert _stored(engine) == [f"d-{k * 100 + n:06d}" for k in range(4) for n in range(50)]
    finally:
        log.close()


def test_flush_does_not_wait_out_the_linger(engine: sa.Engine) -> None:
    """A long linger gathers decisions; a flush writes them at once (it would time out
    otherwise: its timeout is far shorter than the linger)."""
    log = DecisionLog(engine, linger_s=3600.0)
    try:
        log.append(_decision(1))
        log.flush(timeout_s=20.0)
        assert _stored(engine) == ["d-000001"]
        log.append(_decision(2))
        log.flush(timeout_s=20.0)
        assert _stored(engine) == ["d-000001", "d-000002"]
        log.flush(timeout_s=20.0)  # nothing waiting: returns as well
    finally:
        log.close()


def test_close_writes_what_is_waiting(engine: sa.Engine) -> None:
    log = DecisionLog(engine, linger_s=3600.0)
    for n in range(5):
        log.append(_decision(n))
    log.close()
    assert len(_stored(engine)) == 5


def test_a_failed_write_reaches_the_next_caller(engine: sa.Engine) -> None:
    log = DecisionLog(engine, linger_s=0.0)
    try:
        log.append(_decision(1))
        log.append(_decision(1))  # the same id twice: the batch (or the second) is refused
        with pytest.raises(RuntimeError, match="writer failed"):
            log.flush()
        with pytest.raises(RuntimeError, match="writer failed"):
            log.append(_decision(3))
    finally:
        log.close()
