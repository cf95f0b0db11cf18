"""Tables of risk control: decisions, analysts' labels, operator overrides and limit changes.

Decisions are written by a background writer in batches, off the payment's
synchronous path: ``DecisionLog.append`` queues a decision and returns; the
writer commits the queue every few milliseconds (or when it is long) in one
transaction, and ``flush`` waits until everything queued so far is stored.
The payment order keeps the action it was given in its own row, so a crash
between a decision and its write loses an explanation, never the outcome.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from netfin.risk.decisions import Action, Decision, Label, Outcome, Reason
from netfin.risk.limits import Signals
from netfin.risk.rules.overrides import Override, OverrideKind
from netfin.storage import metadata
from netfin.storage.bulk import insert_rows

risk_decisions = sa.Table(
    "risk_decisions",
    metadata,
    sa.Column("decision_id", sa.String(40), primary_key=True),
    sa.Column("order_id", sa.String(40), nullable=True, index=True),
    sa.Column("payer", sa.String(64), nullable=False),
    sa.Column("payee", sa.String(64), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("segment", sa.String(24), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("model_version", sa.String(80), nullable=True),
    sa.Column("challenger_score", sa.Float, nullable=True),
    sa.Column("challenger_version", sa.String(80), nullable=True),
    sa.Column("ruleset_version", sa.String(100), nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("features", sa.JSON, nullable=False),
    sa.Column("decided_ns", sa.BigInteger, nullable=False),
    sa.Column("latency_us", sa.Integer, nullable=False),
    sa.Index("ix_risk_decisions_action_decided", "action", "decided_ns"),
    sa.Index("ix_risk_decisions_payer_decided", "payer", "decided_ns"),
)

risk_labels = sa.Table(
    "risk_labels",
    metadata,
    sa.Column("decision_id", sa.String(40), primary_key=True),
    sa.Column("outcome", sa.String(24), nullable=False),
    sa.Column("analyst", sa.String(80), nullable=False),
    sa.Column("note", sa.String(500), nullable=False),
    sa.Column("labelled_ns", sa.BigInteger, nullable=False),
)

risk_overrides = sa.Table(
    "risk_overrides",
    metadata,
    sa.Column("party", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),  # block or allow
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("set_by", sa.String(80), nullable=False),
    sa.Column("set_ns", sa.BigInteger, nullable=False),
    sa.Column("expires_ns", sa.BigInteger, nullable=True),
    sa.CheckConstraint("kind IN ('block', 'allow')", name="override_kind"),
)

risk_limit_changes = sa.Table(
    "risk_limit_changes",
    metadata,
    sa.Column("change_id", sa.String(40), primary_key=True),
    sa.Column("party", sa.String(64), nullable=False, index=True),
    sa.Column("limit_name", sa.String(40), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("from_minor", sa.BigInteger, nullable=False),
    sa.Column("to_minor", sa.BigInteger, nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("changed_ns", sa.BigInteger, nullable=False),
)

TABLES = (risk_decisions, risk_labels, risk_overrides, risk_limit_changes)


def decision_values(d: Decision) -> dict[str, Any]:
    return {
        "decision_id": d.decision_id,
        "order_id": d.order_id,
        "payer": d.payer,
        "payee": d.payee,
        "amount_minor": d.amount_minor,
        "currency": d.currency,
        "segment": d.segment,
        "action": d.action.value,
        "score": d.score,
        "model_version": d.model_version,
        "challenger_score": d.challenger_score,
        "challenger_version": d.challenger_version,
        "ruleset_version": d.ruleset_version,
        "reasons": [[r.code, r.source, r.detail] for r in d.reasons],
        "features": d.features,
        "decided_ns": d.decided_ns,
        "latency_us": d.latency_us,
    }


def decision_from_row(r: sa.Row[Any]) -> Decision:
    return Decision(
        decision_id=r.decision_id,
        order_id=r.order_id,
        payer=r.payer,
        payee=r.payee,
        amount_minor=r.amount_minor,
        currency=r.currency,
        segment=r.segment,
        action=Action(r.action),
        score=r.score,
        model_version=r.model_version,
        challenger_score=r.challenger_score,
        challenger_version=r.challenger_version,
        ruleset_version=r.ruleset_version,
        reasons=tuple(Reason(*x) for x in r.reasons),
        features=dict(r.features),
        decided_ns=r.decided_ns,
        latency_us=r.latency_us,
    )


def _override_from_row(r: sa.Row[Any]) -> Override:
    expires = None if r.expires_ns is None else r.expires_ns // 1_000_000
    return Override(r.party, OverrideKind(r.kind), r.set_by, r.set_ns // 1_000_000, r.reason, expires)


# How long the decision log's writer gathers decisions after the first before it commits
# them: one transaction per decision cost a payment about 1.2 ms of interpreter time at
# 10 ms (about one decision per batch at 40 payments/s); readers that need every decision
# so far call ``flush``.
DECISION_LOG_LINGER_S = 0.05


class DecisionLog:
    """Decisions queued by the decision path and committed in batches by one writer thread."""

    def __init__(
        self, engine: sa.Engine, *, batch_max: int = 256, linger_s: float = DECISION_LOG_LINGER_S
    ) -> None:
        self.engine = engine
        self.batch_max = batch_max
        self.linger_s = linger_s
        self._queue: queue.Queue[Decision | threading.Event | None] = queue.Queue(maxsize=100_000)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="risk-decision-log", daemon=True)
        self._thread.start()

    def append(self, decision: Decision) -> None:
        if self._error is not None:
            raise RuntimeError("the decision log's writer failed") from self._error
        self._queue.put(decision)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Return once every decision queued before this call is committed."""
        done = threading.Event()
        self._queue.put(done)
        if not done.wait(timeout_s):
            raise TimeoutError("decision log did not flush in time")
        if self._error is not None:
            raise RuntimeError("the decision log's writer failed") from self._error

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        """Collect for at most ``linger_s`` after the first decision, then write what came.

        A deadline (not an idle gap) keeps batches small under steady load:
        a long batch holds the interpreter for its whole insert, and the
        decision path would wait behind it.
        """
        stop = False
        while not stop:
            batch: list[Decision] = []
            waiters: list[threading.Event] = []
            item = self._queue.get()
            deadline = time.monotonic() + self.linger_s
            while True:
                if item is None:
                    stop = True
                elif isinstance(item, threading.Event):
                    waiters.append(item)
                else:
                    batch.append(item)
                left = deadline - time.monotonic()
                if stop or waiters or len(batch) >= self.batch_max or left <= 0:
                    break
                try:
                    item = self._queue.get(timeout=left)
                except queue.Empty:
                    break
            self._write(batch)
            for waiter in waiters:
                waiter.set()

    def _write(self, batch: list[Decision]) -> None:
        if not batch:
            return
        try:
            with self.engine.begin() as connection:
                insert_rows(connection, risk_decisions, [decision_values(d) for d in batch])
        except Exception as error:  # noqa: BLE001 - kept and raised to the next caller
            self._error = error


class RiskStore:
    """Reads and small writes: decisions, labels and overrides."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def get(self, decision_id: str) -> Decision | None:
        with self.engine.connect() as c:
            row = c.execute(
                sa.select(risk_decisions).where(risk_decisions.c.decision_id == decision_id)
            ).first()
        return None if row is None else decision_from_row(row)

    def queue(self, actions: Sequence[Action], limit: int, before_ns: int | None = None) -> list[Decision]:
        """Decisions with the given actions and no label yet, newest first."""
        query = (
            sa.select(risk_decisions)
            .outerjoin(risk_labels, risk_labels.c.decision_id == risk_decisions.c.decision_id)
            .where(
                risk_decisions.c.action.in_([a.value for a in actions]), risk_labels.c.decision_id.is_(None)
            )
            .order_by(risk_decisions.c.decided_ns.desc(), risk_decisions.c.decision_id.desc())
            .limit(limit)
        )
        if before_ns is not None:
            query = query.where(risk_decisions.c.decided_ns < before_ns)
        with self.engine.connect() as c:
            return [decision_from_row(r) for r in c.execute(query)]

    def put_label(self, label: Label) -> None:
        """Store or replace the label of a decision (an analyst may correct it)."""
        values = {
            "decision_id": label.decision_id,
            "outcome": label.outcome.value,
            "analyst": label.analyst,
            "note": label.note,
            "labelled_ns": label.labelled_ns,
        }
        with self.engine.begin() as c:
            c.execute(sa.delete(risk_labels).where(risk_labels.c.decision_id == label.decision_id))
            c.execute(sa.insert(risk_labels), [values])

    def put_override(self, entry: Override) -> None:
        values = {
            "party": entry.party, "kind": entry.kind.value, "reason": entry.reason, "set_by": entry.set_by,
            "set_ns": entry.set_at_ms * 1_000_000,
            "expires_ns": None if entry.expires_at_ms is None else entry.expires_at_ms * 1_000_000,
        }  # fmt: skip
        with self.engine.begin() as c:
            c.execute(sa.delete(risk_overrides).where(risk_overrides.c.party == entry.party))
            c.execute(sa.insert(risk_overrides), [values])

    def delete_override(self, party: str) -> None:
        with self.engine.begin() as c:
            c.execute(sa.delete(risk_overrides).where(risk_overrides.c.party == party))

    def overrides(self, limit: int = 100_000) -> list[Override]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(risk_overrides).order_by(risk_overrides.c.party).limit(limit))
            return [_override_from_row(r) for r in rows]

    def training_pairs(self, limit: int) -> list[tuple[Decision, Outcome | None]]:
        """The latest ``limit`` decisions, oldest first, each with its label's outcome if labelled."""
        query = (
            sa.select(risk_decisions, risk_labels.c.outcome)
            .outerjoin(risk_labels, risk_labels.c.decision_id == risk_decisions.c.decision_id)
            .order_by(risk_decisions.c.decided_ns.desc(), risk_decisions.c.decision_id.desc())
            .limit(limit)
        )
        with self.engine.connect() as c:
            rows = c.execute(query).all()
        return [
            (decision_from_row(r), None if r.outcome is None else Outcome(r.outcome)) for r in reversed(rows)
        ]

    def scores(self, since_ns: int, until_ns: int, limit: int) -> list[float]:
        query = (
            sa.select(risk_decisions.c.score)
            .where(risk_decisions.c.decided_ns >= since_ns, risk_decisions.c.decided_ns < until_ns,
                   risk_decisions.c.score.is_not(None))
            .limit(limit)
        )  # fmt: skip
        with self.engine.connect() as c:
            return [float(s) for (s,) in c.execute(query)]


def signals_of(engine: sa.Engine, payer: str, since_ns: int) -> Signals:
    """A payer's risk signals from the decisions (and their labels) since ``since_ns``."""
    d, lab = risk_decisions, risk_labels
    counts = (
        sa.select(d.c.action, sa.func.count(), sa.func.avg(d.c.score), sa.func.min(d.c.decided_ns),
                  sa.func.max(d.c.decided_ns))
        .where(d.c.payer == payer, d.c.decided_ns >= since_ns)
        .group_by(d.c.action)
    )  # fmt: skip
    labels = (
        sa.select(lab.c.outcome, sa.func.count())
        .join(d, d.c.decision_id == lab.c.decision_id)
        .where(d.c.payer == payer, d.c.decided_ns >= since_ns)
        .group_by(lab.c.outcome)
    )
    with engine.connect() as c:
        rows = c.execute(counts).all()
        found = {outcome: n for outcome, n in c.execute(labels).all()}
    by_action = {r[0]: int(r[1]) for r in rows}
    total = sum(by_action.values())
    scored = [(float(r[2]), int(r[1])) for r in rows if r[2] is not None]
    weight = sum(n for _, n in scored)
    first = min((int(r[3]) for r in rows), default=0)
    last = max((int(r[4]) for r in rows), default=0)
    return Signals(
        decisions=total,
        step_ups=by_action.get("step_up", 0),
        reviews=by_action.get("review", 0),
        declines=by_action.get("decline", 0),
        mean_score=sum(m * n for m, n in scored) / weight if weight else None,
        confirmed_frauds=found.get("confirmed_fraud", 0) + found.get("missed_fraud", 0),
        false_positives=found.get("false_positive", 0),
        active_days=(last - first) / 86_400e9 if total else 0.0,
    )


def record_limit_change(engine: sa.Engine, values: dict[str, Any]) -> None:
    with engine.begin() as c:
        c.execute(sa.insert(risk_limit_changes), [values])


def limit_changes(engine: sa.Engine, party: str) -> list[dict[str, Any]]:
    with engine.connect() as c:
        rows = c.execute(
            sa.select(risk_limit_changes).where(risk_limit_changes.c.party == party)
            .order_by(risk_limit_changes.c.changed_ns)
        )  # fmt: skip
        return [dict(r._mapping) for r in rows]
