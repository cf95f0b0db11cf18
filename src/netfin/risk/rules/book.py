"""The rule set in force, reloaded from its file when the file changes.

Analysts change rules while payments flow, so the book checks the file's
modification time and size at most once per ``check_interval_ms`` from
``current()`` (a ``stat`` call, not a read), and only reads, hashes and
compiles the file when they changed. A file that fails validation leaves the
previous set in force: a typo must never switch fraud control off. The error
is kept in ``last_error`` and handed to ``on_error`` so the caller can audit
it; the same broken file is not retried until it changes again.

The swap is one reference assignment, so a reader never sees half a rule
set; one lock makes sure only one thread at a time stats and compiles, and
readers never wait on it. Write rule files atomically (write a temporary
file, then rename), so a reload never catches a half-written file.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from netfin.core.clock import Clock
from netfin.risk.rules.errors import RuleSetInvalid
from netfin.risk.rules.loader import RULESET_BYTES_MAX, parse_ruleset
from netfin.risk.rules.model import RuleSet

NS_PER_MS = 1_000_000
CHECK_INTERVAL_MS_DEFAULT = 1_000

ErrorHook = Callable[[RuleSetInvalid], None]
ReloadHook = Callable[[RuleSet, RuleSet], None]


class _MonotonicClock:
    """Intervals are measured on a clock that the wall-clock adjustments cannot move backwards."""

    def now_ns(self) -> int:
        return time.monotonic_ns()


class RuleBook:
    """Holds the compiled rule set from one file and swaps in a new one when the file changes."""

    def __init__(
        self,
        path: str | Path,
        *,
        variables: Mapping[str, type] | None = None,
        check_interval_ms: int = CHECK_INTERVAL_MS_DEFAULT,
        clock: Clock | None = None,
        on_error: ErrorHook | None = None,
        on_reload: ReloadHook | None = None,
    ) -> None:
        """Load the file now; a book cannot start without a valid rule set, so this raises if it is bad."""
        if check_interval_ms < 0:
            raise ValueError("check_interval_ms must not be negative")
        self.path = Path(path)
        self._variables = variables
        self._interval_ns = check_interval_ms * NS_PER_MS
        self._clock: Clock = clock if clock is not None else _MonotonicClock()
        self._on_error = on_error
        self._on_reload = on_reload
        self._lock = threading.Lock()
        signature = self._signature()
        self._ruleset: RuleSet = parse_ruleset(self._read(), source=str(self.path), variables=variables)
        self._seen: tuple[int, int] | None = signature
        self.last_error: RuleSetInvalid | None = None
        self._next_check_ns = self._clock.now_ns() + self._interval_ns

    def current(self) -> RuleSet:
        """The rule set in force, after checking the file if the interval has passed."""
        now_ns = self._clock.now_ns()
        if now_ns >= self._next_check_ns and self._lock.acquire(blocking=False):
            try:
                if now_ns >= self._next_check_ns:
                    self._next_check_ns = now_ns + self._interval_ns
                    self._check()
            finally:
                self._lock.release()
        return self._ruleset

    def reload(self) -> RuleSet:
        """Check the file now, whatever the interval; returns the rule set in force afterwards."""
        with self._lock:
            self._next_check_ns = self._clock.now_ns() + self._interval_ns
            self._check()
        return self._ruleset

    def _signature(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def _read(self) -> bytes:
        try:
            with open(self.path, "rb") as handle:
                return handle.read(RULESET_BYTES_MAX + 1)
        except OSError as error:
            raise RuleSetInvalid(str(self.path), [f"cannot be read: {error}"]) from error

    def _check(self) -> None:
        """Reload if the file's stat changed and its bytes differ from the set in force.

        The stat is remembered even when the new text fails, so a broken file
        is reported once, not at every interval, until someone edits it again.
        """
        signature = self._signature()
        if signature == self._seen:
            return
        self._seen = signature
        try:
            data = self._read()
            if hashlib.sha256(data).hexdigest() == self._ruleset.sha256:
                self.last_error = None  # the file is back to the text in force
                return
            fresh = parse_ruleset(data, source=str(self.path), variables=self._variables)
        except RuleSetInvalid as error:
            self.last_error = error
            if self._on_error is not None:
                self._on_error(error)
            return
        previous, self._ruleset = self._ruleset, fresh
        self.last_error = None
        if self._on_reload is not None:
            self._on_reload(previous, fresh)
