"""Per-entity feature state: sliding windows and the payer's retained history.

Both classes hold only what the catalogue's definitions need and drop the
rest as time moves on, so the memory of an entity is bounded by its events
inside the longest window it serves (30 days for a payer, 24 hours for a
payee). They serialise to plain lists and dicts (for Redis) and back.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, deque
from typing import Any

from netfin.risk.features.catalogue import HOUR_MS, MINUTE_MS, RETENTION_MS, FeatureConfig

Number = int | float | bool
MAD_TO_SIGMA = 1.4826  # the MAD of a normal distribution times this is its standard deviation
EARTH_RADIUS_KM = 6371.0088


class EntityWindows:
    """Running count, sum, small-merchant count and distinct counterparties per span.

    One queue holds the entity's events inside its longest span; each span
    keeps a pointer to its oldest event still inside and its aggregates, so
    an event costs O(1) amortised per span.
    """

    __slots__ = ("base", "counts", "distinct", "entries", "pointers", "smalls", "spans", "sums")

    def __init__(self, spans: tuple[int, ...], distinct_spans: frozenset[int]) -> None:
        self.spans = tuple(sorted(spans))
        self.entries: deque[tuple[int, int, str, int]] = deque()  # (ts, amount, counterparty, small)
        self.base = 0  # the absolute index of entries[0]
        self.pointers = [0] * len(self.spans)
        self.counts = [0] * len(self.spans)
        self.sums = [0] * len(self.spans)
        self.smalls = [0] * len(self.spans)
        self.distinct: list[Counter[str] | None] = [
            Counter() if span in distinct_spans else None for span in self.spans
        ]

    def add(self, ts_ms: int, amount_minor: int, counterparty: str, small: int) -> None:
        entries = self.entries
        entries.append((ts_ms, amount_minor, counterparty, small))
        for i, span in enumerate(self.spans):
            self.counts[i] += 1
            self.sums[i] += amount_minor
            self.smalls[i] += small
            seen = self.distinct[i]
            if seen is not None:
                seen[counterparty] += 1
            low = ts_ms - span
            pointer = self.pointers[i]
            while entries[pointer - self.base][0] <= low:
                _, old_amount, old_party, old_small = entries[pointer - self.base]
                self.counts[i] -= 1
                self.sums[i] -= old_amount
                self.smalls[i] -= old_small
                if seen is not None:
                    seen[old_party] -= 1
                    if seen[old_party] == 0:
                        del seen[old_party]
                pointer += 1
            self.pointers[i] = pointer
        for _ in range(self.pointers[-1] - self.base):
            entries.popleft()
        self.base = self.pointers[-1]

    def index(self, span_ms: int) -> int:
        return self.spans.index(span_ms)

    def sum_after(self, span_ms: int, low_ts_ms: int) -> int:
        """The sum of the span's events later than ``low_ts_ms``, without moving the window."""
        i = self.index(span_ms)
        total = self.sums[i]
        for k in range(self.pointers[i] - self.base, len(self.entries)):
            ts, amount, _, _ = self.entries[k]
            if ts > low_ts_ms:
                break
            total -= amount
        return total

    def distinct_after(self, span_ms: int, low_ts_ms: int) -> int:
        """Distinct counterparties of the span's events later than ``low_ts_ms``, without moving it."""
        i = self.index(span_ms)
        seen = self.distinct[i]
        if seen is None:
            return 0
        gone: Counter[str] = Counter()
        for k in range(self.pointers[i] - self.base, len(self.entries)):
            ts, _, party, _ = self.entries[k]
            if ts > low_ts_ms:
                break
            gone[party] += 1
        return len(seen) - sum(1 for party, n in gone.items() if seen[party] == n)

    def to_plain(self) -> list[Any]:
        return [
            list(self.spans),
            [list(e) for e in self.entries],
            self.base,
            self.pointers,
            self.counts,
            self.sums,
            self.smalls,
            [None if d is None else dict(d) for d in self.distinct],
        ]

    @classmethod
    def from_plain(cls, plain: list[Any]) -> EntityWindows:
        spans, entries, base, pointers, counts, sums, smalls, distinct = plain
        state = cls(tuple(spans), frozenset())
        state.entries = deque((int(e[0]), int(e[1]), str(e[2]), int(e[3])) for e in entries)
        state.base, state.pointers, state.counts = int(base), list(pointers), list(counts)
        state.sums, state.smalls = list(sums), list(smalls)
        state.distinct = [None if d is None else Counter(d) for d in distinct]
        return state


def robust_z(amount_minor: int, history: list[int], config: FeatureConfig) -> float:
    """How far the amount lies from the payer's own recent amounts, in robust standard deviations."""
    if len(history) < config.z_history_min:
        return 0.0
    middle = statistics.median(history)
    spread = MAD_TO_SIGMA * statistics.median([abs(x - middle) for x in history])
    if spread == 0:
        spread = max(abs(middle) * 0.1, 1.0)
    z = (amount_minor - middle) / spread
    return max(-config.z_limit, min(config.z_limit, z))


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


class PayerHistory:
    """The payer's retained past that the history features compare an event with."""

    __slots__ = ("amounts", "devices", "first_ms", "hour_counts", "hours", "last_ms", "located", "payees")

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.amounts: deque[tuple[int, int]] = deque()  # (ts, amount), at most z_history_max
        self.hours: deque[tuple[int, int]] = deque()  # (ts, local hour) of retained events
        self.hour_counts = [0] * 24
        self.payees: dict[str, int] = {}  # payee -> last ts
        self.devices: dict[str, int] = {}  # device -> last ts
        self.located: tuple[int, float, float] | None = None
        self.first_ms = -1
        self.last_ms = -1

    def _expire(self, ts_ms: int) -> None:
        low = ts_ms - RETENTION_MS
        if self.last_ms >= 0 and self.last_ms <= low:
            self._reset()  # idle past retention: the streak starts again
            return
        while self.amounts and self.amounts[0][0] <= low:
            self.amounts.popleft()
        while self.hours and self.hours[0][0] <= low:
            self.hour_counts[self.hours.popleft()[1]] -= 1
        for seen in (self.payees, self.devices):
            if len(seen) > 64 and len(seen) > 2 * len(self.hours):
                for key in [k for k, t in seen.items() if t <= low]:
                    del seen[key]

    def features(self, ts_ms: int, amount_minor: int, payee: str, device: str,
                 lat: float, lon: float, config: FeatureConfig) -> dict[str, Number]:  # fmt: skip
        """The history features of an event, from the state before it (call ``observe`` after)."""
        self._expire(ts_ms)
        low = ts_ms - RETENTION_MS
        history = [a for _, a in self.amounts]
        hour = config.local_hour(ts_ms)
        retained = len(self.hours)
        near = sum(self.hour_counts[(hour + d) % 24] for d in (-1, 0, 1))
        share = near / retained if retained else 1.0
        distance = speed = 0.0
        if self.located is not None and not math.isnan(lat) and self.located[0] > low:
            then, lat0, lon0 = self.located
            distance = haversine_km(lat0, lon0, lat, lon)
            hours = max(ts_ms - then, config.speed_floor_minutes * MINUTE_MS) / HOUR_MS
            speed = distance / hours
        return {
            "amount_z": robust_z(amount_minor, history, config),
            "payer_history_count": len(history),
            "first_time_payee": self.payees.get(payee, low) <= low,
            "new_device": device != "" and self.devices.get(device, low) <= low,
            "hour_share": share,
            "rare_hour": retained >= config.rare_hour_history_min and share < config.rare_hour_share,
            "geo_distance_km": distance,
            "geo_speed_kmh": speed,
            "payer_age_days": 0.0 if self.first_ms < 0 else (ts_ms - self.first_ms) / (24 * HOUR_MS),
        }

    def observe(self, ts_ms: int, amount_minor: int, payee: str, device: str,
                lat: float, lon: float, config: FeatureConfig) -> None:  # fmt: skip
        if self.first_ms < 0:
            self.first_ms = ts_ms
        self.last_ms = ts_ms
        self.amounts.append((ts_ms, amount_minor))
        if len(self.amounts) > config.z_history_max:
            self.amounts.popleft()
        hour = config.local_hour(ts_ms)
        self.hours.append((ts_ms, hour))
        self.hour_counts[hour] += 1
        self.payees[payee] = ts_ms
        if device:
            self.devices[device] = ts_ms
        if not math.isnan(lat) and not math.isnan(lon):
            self.located = (ts_ms, lat, lon)

    def to_plain(self) -> list[Any]:
        return [
            [list(a) for a in self.amounts],
            [list(h) for h in self.hours],
            self.payees,
            self.devices,
            None if self.located is None else list(self.located),
            self.first_ms,
            self.last_ms,
        ]

    @classmethod
    def from_plain(cls, plain: list[Any]) -> PayerHistory:
        amounts, hours, payees, devices, located, first_ms, last_ms = plain
        state = cls()
        state.amounts = deque((int(t), int(a)) for t, a in amounts)
        state.hours = deque((int(t), int(h)) for t, h in hours)
        for _, h in state.hours:
            state.hour_counts[h] += 1
        state.payees, state.devices = dict(payees), dict(devices)
        state.located = None if located is None else (int(located[0]), located[1], located[2])
        state.first_ms, state.last_ms = int(first_ms), int(last_ms)
        return state
