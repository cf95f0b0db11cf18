"""An injectable clock, so the ledger, schedules and tests replay exactly."""

from __future__ import annotations

import time
from typing import Protocol

NS_PER_SECOND = 1_000_000_000


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
