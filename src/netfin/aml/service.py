"""AML monitoring as a consumer of the payment outbox: events in, alerts on cases, a durable cursor.

``AmlService.consume(events)`` feeds settled payments (already turned into
``Txn`` by their producer) through the ``StreamMonitor``, puts the alerts
on customers' cases and then moves the consumer's cursor. A crash between
the two replays the events after the cursor: the monitor raises the same
alerts (same scenario, account and time) and the case store keeps each
once, so nothing is lost and nothing doubles.

Monitor state lives in process. After a restart, ``warm_up`` replays the
events of the longest scenario window before the cursor, so windows are
whole again before the first new event is judged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from netfin.aml.cases import CaseService
from netfin.aml.cases.store import aml_cursors
from netfin.aml.monitoring.config import Profile
from netfin.aml.monitoring.model import AccountFacts, Alert, Txn
from netfin.aml.monitoring.stream import StreamMonitor
from netfin.audit import AuditLog
from netfin.core.clock import Clock
from netfin.core.errors import InvalidInput
from netfin.core.ids import IdSource

CONSUMER_LENGTH_MAX = 80
EVENTS_PER_CALL_MAX = 50_000


@dataclass(frozen=True, slots=True)
class Consumed:
    events: int
    alerts: int
    alerts_new: int
    cases_opened: int
    cursor: int


class AmlService:
    """The live monitor and the case work behind it."""

    def __init__(
        self,
        engine: sa.Engine,
        audit: AuditLog,
        profile: Profile,
        *,
        clock: Clock,
        ids: IdSource,
        cases: CaseService | None = None,
        accounts: Sequence[AccountFacts] = (),
    ) -> None:
        self.engine = engine
        self.profile = profile
        self.clock = clock
        self.monitor = StreamMonitor(profile, accounts=accounts)
        self.cases = cases or CaseService(engine, audit, clock=clock, ids=ids)
        self._last_ts = -(2**62)

    @property
    def longest_window_ms(self) -> int:
        windows = [s.window_ms() for s in self.profile.scenarios if "window_hours" in s.params]
        return max(windows, default=0)

    def cursor(self, consumer: str) -> int:
        _check_consumer(consumer)
        with self.engine.connect() as connection:
            value = connection.execute(
                sa.select(aml_cursors.c.seq).where(aml_cursors.c.consumer == consumer)
            ).scalar()
        return int(value or 0)

    def warm_up(self, txns: Sequence[Txn]) -> int:
        """Replay history before the cursor into the windows (alerts already stored are kept once)."""
        return self._observe(txns)[0]

    def consume(
        self, consumer: str, events: Sequence[tuple[int, Txn]], *, party_of: Mapping[str, str] | None = None
    ) -> Consumed:
        """Monitor events (outbox sequence, transaction) after the cursor, in order; then move the cursor."""
        _check_consumer(consumer)
        if len(events) > EVENTS_PER_CALL_MAX:
            raise InvalidInput(f"at most {EVENTS_PER_CALL_MAX} events per call", code="too_many_events")
        cursor = self.cursor(consumer)
        fresh = [(seq, txn) for seq, txn in events if seq > cursor]
        count, alerts = self._observe([txn for _, txn in fresh])
        ingested = self.cases.ingest(alerts, party_of=party_of) if alerts else None
        if fresh:
            cursor = max(seq for seq, _ in fresh)
            self._save_cursor(consumer, cursor)
        return Consumed(
            events=count,
            alerts=len(alerts),
            alerts_new=ingested.alerts_new if ingested else 0,
            cases_opened=ingested.cases_opened if ingested else 0,
            cursor=cursor,
        )

    def _observe(self, txns: Sequence[Txn]) -> tuple[int, list[Alert]]:
        alerts: list[Alert] = []
        count = 0
        for txn in sorted(txns, key=lambda t: t.ts_ms):
            # The outbox orders by commit; a payment stamped a moment earlier than the last one seen is
            # judged at the last one's time rather than refused.
            if txn.ts_ms < self._last_ts:
                txn = dataclasses.replace(txn, ts_ms=self._last_ts)
            self._last_ts = txn.ts_ms
            alerts.extend(self.monitor.observe(txn))
            count += 1
        return count, alerts

    def advance(self, consumer: str, seq: int) -> None:
        """Move the cursor past events that carried nothing to monitor."""
        _check_consumer(consumer)
        self._save_cursor(consumer, seq)

    def _save_cursor(self, consumer: str, seq: int) -> None:
        now = self.clock.now_ns()
        with self.engine.begin() as connection:
            updated = connection.execute(
                sa.update(aml_cursors)
                .where(aml_cursors.c.consumer == consumer, aml_cursors.c.seq < seq)
                .values(seq=seq, updated_ns=now)
            ).rowcount
            if not updated:
                exists = connection.execute(
                    sa.select(aml_cursors.c.seq).where(aml_cursors.c.consumer == consumer)
                ).first()
                if exists is None:
                    connection.execute(
                        sa.insert(aml_cursors).values(consumer=consumer, seq=seq, updated_ns=now)
                    )


def _check_consumer(consumer: str) -> None:
    if not isinstance(consumer, str) or not 1 <= len(consumer) <= CONSUMER_LENGTH_MAX:
        raise InvalidInput(f"a consumer name is 1..{CONSUMER_LENGTH_MAX} characters", code="consumer_invalid")
