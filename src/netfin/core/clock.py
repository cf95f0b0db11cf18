"""An injectable clock, so the ledger, schedules and tests replay exactly."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Protocol

NS_PER_SECOND = 1_000_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Clock(Protocol):
    def now_ns(self) -> int:
        """Nanoseconds since the Unix epoch (UTC)."""
        ...


class SystemClock:
    def now_ns(self) -> int:
        return time.time_ns()


class ManualClock:
    """A clock that moves only when told to; for tests and simulations."""

    def __init__(self, start_ns: int = 1_767_225_600 * NS_PER_SECOND) -> None:
        self._now_ns = start_ns

    def now_ns(self) -> int:
        return self._now_ns

    def advance(self, *, seconds: int = 0, ns: int = 0) -> int:
        self._now_ns += seconds * NS_PER_SECOND + ns
        return self._now_ns

    def set(self, now_ns: int) -> None:
        self._now_ns = now_ns


def iso_from_ns(ns: int) -> str:
    """ISO 8601 in UTC with an explicit offset, to the second (as Open Banking shows times)."""
    moment = datetime.fromtimestamp(ns // NS_PER_SECOND, tz=UTC)
    return moment.isoformat()


def utc_date(ns: int) -> date:
    """The calendar day (UTC) of an instant in nanoseconds since the epoch."""
    return datetime.fromtimestamp(ns // NS_PER_SECOND, tz=UTC).date()


def ns_from_datetime(moment: datetime) -> int:
    """Nanoseconds since the epoch; a naive datetime is refused (its zone would be a guess)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetime must carry a UTC offset")
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1_000
