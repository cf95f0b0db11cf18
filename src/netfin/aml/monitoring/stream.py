"""Scenarios evaluated per transaction, in stream order, from bounded in-process state.

``StreamMonitor.observe(txn)`` returns the alerts that one transaction
raises. Transactions must arrive in time order (``ts_ms`` never decreases;
a late one is refused with ``txn_out_of_order``), as the outbox and a
replay of sorted history deliver them.

Which side of a transaction a scenario watches:

- large value: each customer side (cash: the customer's side only);
- structuring: the payer of a transfer or withdrawal, the payee of a deposit;
- pass-through, fan-in, fan-out: inflows to and outflows from each customer;
- dormancy, jurisdictions, corridors: each customer side;
- round-tripping: the whole recent graph (see ``RoundTrips``).

State per account is windowed (deques with running sums); every
``PRUNE_EVERY`` transactions a slice of the idle accounts' windows is dropped, so
memory follows the number of accounts active within the longest window.
Sharding (``shard=(i, n)``) lets n processes split the accounts: each
watches only the sides it owns, and none searches cycles (the batch scan
finds them on the whole graph instead).
"""

from __future__ import annotations

import zlib
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from netfin.aml.monitoring.config import Profile, Scenario
from netfin.aml.monitoring.cycles import RoundTrips
from netfin.aml.monitoring.model import (
    MONITORED_KINDS,
    AccountFacts,
    Alert,
    Channel,
    Txn,
)
from netfin.core.errors import InvalidInput

PRUNE_EVERY = 1_000
PRUNE_SLICE = 4_000
_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000


@dataclass(slots=True)
class _Window:
    """Entries (ts, amount, counterparty, txn id) inside a trailing window, with running sums."""

    items: deque[tuple[int, int, str, str]] = field(default_factory=deque)
    total: int = 0
    near: int = 0  # structuring: entries near the threshold
    parties: Counter[str] = field(default_factory=Counter)

    def push(self, ts: int, amount: int, party: str, txn_id: str) -> None:
        self.items.append((ts, amount, party, txn_id))
        self.total += amount
        if party:
            self.parties[party] += 1

    def prune(self, oldest: int, near_from: int = -1) -> None:
        items = self.items
        while items and items[0][0] < oldest:
            _, amount, party, _ = items.popleft()
            self.total -= amount
            if near_from >= 0 and amount >= near_from:
                self.near -= 1
            if party:
                left = self.parties[party] - 1
                if left:
                    self.parties[party] = left
                else:
                    del self.parties[party]

    def ids(self, limit: int) -> tuple[str, ...]:
        return tuple(item[3] for item in list(self.items)[-limit:])


@dataclass(slots=True)
class _Day:
    day: int = -1
    total: int = 0
    alerted: bool = False
    ids: list[str] = field(default_factory=list)


class StreamMonitor:
    """Every scenario of a profile, one transaction at a time."""

    def __init__(
        self,
        profile: Profile,
        *,
        accounts: Iterable[AccountFacts] = (),
        shard: tuple[int, int] = (0, 1),
        cycles: bool | None = None,
    ) -> None:
        index, count = shard
        if not 1 <= count <= 256 or not 0 <= index < count:
            raise InvalidInput("shard is (index, count) with 0 <= index < count <= 256", code="shard_invalid")
        self.profile = profile
        self._shard = shard
        self._offset_ms = profile.utc_offset_hours * _HOUR_MS
        self._last_ms: dict[str, int] = {a.account: a.last_active_ms for a in accounts}
        self._windows: dict[tuple[str, str, str], _Window] = {}  # (scenario, account, currency)
        self._days: dict[tuple[str, str, str], _Day] = {}
        self._quiet: dict[tuple[str, str], int] = {}  # (scenario, account) -> no new alert before
        self._now = -(2**62)
        self._seen = 0
        self._by_kind = {kind: profile.of_kind(kind) for kind in {s.kind for s in profile.scenarios}}
        with_cycles = count == 1 if cycles is None else cycles
        trips = self._by_kind.get("round_trip", ())
        self.round_trips = RoundTrips(trips[0]) if with_cycles and trips else None
        self.counts: Counter[str] = Counter()
        self._sweep: list[tuple[str, Any]] = []
        self._longest_ms = max(
            (s.window_ms() for s in profile.scenarios if "window_hours" in s.params), default=0
        )

    # -- the entry points ---------------------------------------------------------------

    def observe(self, txn: Txn) -> list[Alert]:
        if txn.ts_ms < self._now:
            raise InvalidInput(
                f"transaction {txn.txn_id} at {txn.ts_ms} is older than {self._now}", code="txn_out_of_order"
            )
        if txn.amount_minor <= 0:
            raise InvalidInput(f"transaction {txn.txn_id} has no positive amount", code="amount_invalid")
        self._now = txn.ts_ms
        self._seen += 1
        if self._seen % PRUNE_EVERY == 0:
            self._prune()
        alerts: list[Alert] = []
        src_mine = txn.src_kind in MONITORED_KINDS and self._owns(txn.src)
        dst_mine = txn.dst_kind in MONITORED_KINDS and self._owns(txn.dst)
        if src_mine or dst_mine:
            self._sides(txn, src_mine, dst_mine, alerts)
        if self.round_trips is not None:
            for found in self.round_trips.observe(txn):
                self._cycle_alerts(txn, found, alerts)
        for alert in alerts:
            self.counts[alert.scenario] += 1
        return alerts

    def observe_many(self, txns: Iterable[Txn]) -> list[Alert]:
        alerts: list[Alert] = []
        for txn in txns:
            alerts.extend(self.observe(txn))
        return alerts

    @property
    def accounts_tracked(self) -> int:
        return len({key[1] for key in self._windows})

    # -- per side -----------------------------------------------------------------------

    def _sides(self, txn: Txn, src_mine: bool, dst_mine: bool, alerts: list[Alert]) -> None:
        by_kind = self._by_kind
        channel = txn.channel
        for side, mine, kind, country in (
            (txn.src, src_mine, txn.src_kind, txn.dst_country),
            (txn.dst, dst_mine, txn.dst_kind, txn.src_country),
        ):
            if not mine:
                continue
            for s in by_kind.get("dormant_reactivation", ()):
                self._dormant(s, txn, side, alerts)
            for s in by_kind.get("large_value", ()):
                self._large_value(s, txn, side, kind, alerts)
            if channel == Channel.CROSS_BORDER:
                for s in by_kind.get("high_risk_jurisdiction", ()):
                    self._jurisdiction(s, txn, side, country, alerts)
                for s in by_kind.get("unusual_corridor", ()):
                    self._corridor(s, txn, side, alerts)
        if src_mine:
            self._last_ms[txn.src] = txn.ts_ms
            self._outflow(txn, alerts)
        if dst_mine:
            self._last_ms[txn.dst] = txn.ts_ms
            self._inflow(txn, alerts)
        cash_in = channel == Channel.CASH_IN
        splitter, kind = (txn.dst, txn.dst_kind) if cash_in else (txn.src, txn.src_kind)
        if dst_mine if cash_in else src_mine:
            for s in by_kind.get("structuring", ()):
                if _watches(s, kind):
                    self._structuring(s, txn, splitter, alerts)

    def _outflow(self, txn: Txn, alerts: list[Alert]) -> None:
        for s in self._by_kind.get("fan_out", ()):
            if _watches(s, txn.src_kind):
                self._fan(s, txn, txn.src, txn.dst, alerts)
        for s in self._by_kind.get("pass_through", ()):
            if _watches(s, txn.src_kind):
                self._pass_out(s, txn, alerts)

    def _inflow(self, txn: Txn, alerts: list[Alert]) -> None:
        for s in self._by_kind.get("fan_in", ()):
            if _watches(s, txn.dst_kind):
                self._fan(s, txn, txn.dst, txn.src, alerts)
        for s in self._by_kind.get("pass_through", ()):
            if not _watches(s, txn.dst_kind):
                continue
            threshold = s.amounts("min_inflow_minor").get(txn.currency)
            if threshold is None:
                continue
            ins = self._window(s.code + ":in", txn.dst, txn.currency)
            ins.prune(txn.ts_ms - s.window_ms())
            ins.push(txn.ts_ms, txn.amount_minor, "", txn.txn_id)

    # -- the scenarios ----------------------------------------------------------------------

    def _dormant(self, s: Scenario, txn: Txn, account: str, alerts: list[Alert]) -> None:
        last = self._last_ms.get(account)
        floor = s.amounts("min_amount_minor").get(txn.currency)
        if last is None or floor is None or txn.amount_minor < floor:
            return
        idle_ms = txn.ts_ms - last
        if idle_ms >= int(s.params["dormant_days"]) * _DAY_MS:
            facts = {
                "idle_days": idle_ms // _DAY_MS,
                "amount_minor": txn.amount_minor,
                "currency": txn.currency,
            }
            self._raise(s, account, txn.ts_ms, facts, (txn.txn_id,), alerts, quiet_ms=_DAY_MS)

    def _large_value(self, s: Scenario, txn: Txn, account: str, kind: str, alerts: list[Alert]) -> None:
        p = s.params
        if txn.channel not in p["channels"] or not _watches(s, kind):
            return
        threshold = s.amounts("thresholds_minor").get(txn.currency)
        if threshold is None or not self._in_scope(p["scope"], txn):
            return
        day = (txn.ts_ms + self._offset_ms) // _DAY_MS
        state = self._days.setdefault((s.code, account, txn.currency), _Day())
        if state.day != day:
            state.day, state.total, state.alerted, state.ids = day, 0, False, []
        state.total += txn.amount_minor
        if len(state.ids) < self.profile.evidence_max:
            state.ids.append(txn.txn_id)
        if state.total >= threshold and not state.alerted:
            state.alerted = True
            facts = {
                "total_minor": state.total,
                "threshold_minor": threshold,
                "currency": txn.currency,
                "day": _day_text(day),
            }
            self._raise(s, account, txn.ts_ms, facts, tuple(state.ids), alerts, quiet_ms=0)

    def _in_scope(self, scope: str, txn: Txn) -> bool:
        if scope == "any":
            return True
        home = self.profile.home_country
        abroad = txn.channel == Channel.CROSS_BORDER or any(
            c and c != home for c in (txn.src_country, txn.dst_country)
        )
        return abroad if scope == "cross_border" else not abroad

    def _structuring(self, s: Scenario, txn: Txn, account: str, alerts: list[Alert]) -> None:
        p = s.params
        threshold = s.amounts("thresholds_minor").get(txn.currency)
        if threshold is None or txn.channel not in p["channels"] or txn.amount_minor >= threshold:
            return
        near_from = int(Decimal(threshold) * s.ratio("near_ratio"))
        w = self._window(s.code, account, txn.currency)
        w.prune(txn.ts_ms - s.window_ms(), near_from)
        w.push(txn.ts_ms, txn.amount_minor, "", txn.txn_id)
        if txn.amount_minor >= near_from:
            w.near += 1
        count = len(w.items)
        if w.total >= threshold and (w.near >= p["min_near_count"] or count >= p["min_small_count"]):
            facts = {
                "count": count,
                "near_count": w.near,
                "total_minor": w.total,
                "threshold_minor": threshold,
                "currency": txn.currency,
                "window_hours": s.hours(),
            }
            self._raise(s, account, txn.ts_ms, facts, w.ids(self.profile.evidence_max), alerts)

    def _pass_out(self, s: Scenario, txn: Txn, alerts: list[Alert]) -> None:
        floor = s.amounts("min_inflow_minor").get(txn.currency)
        if floor is None:
            return
        account, now = txn.src, txn.ts_ms
        ins = self._windows.get((s.code + ":in", account, txn.currency))
        if ins is None:
            return
        ins.prune(now - s.window_ms())
        if not ins.items:
            return
        outs = self._window(s.code + ":out", account, txn.currency)
        outs.prune(ins.items[0][0])  # only what left after the oldest inflow still in the window
        outs.push(now, txn.amount_minor, "", txn.txn_id)
        ratio = Decimal(outs.total) / Decimal(ins.total)
        if ins.total >= floor and len(ins.items) >= s.params["min_inflows"] and ratio >= s.ratio("out_ratio"):
            facts = {
                "inflow_minor": ins.total,
                "outflow_minor": outs.total,
                "ratio": f"{min(ratio, Decimal(99)):.2f}",
                "currency": txn.currency,
                "window_hours": s.hours(),
            }
            half = max(1, self.profile.evidence_max // 2)
            self._raise(s, account, now, facts, ins.ids(half) + outs.ids(half), alerts)

    def _fan(self, s: Scenario, txn: Txn, account: str, other: str, alerts: list[Alert]) -> None:
        floor = s.amounts("min_total_minor").get(txn.currency)
        if floor is None or txn.channel not in s.params["channels"]:
            return
        w = self._window(s.code, account, txn.currency)
        w.prune(txn.ts_ms - s.window_ms())
        w.push(txn.ts_ms, txn.amount_minor, other, txn.txn_id)
        distinct = len(w.parties)
        if distinct >= s.params["min_counterparties"] and w.total >= floor:
            facts = {
                "counterparties": distinct,
                "total_minor": w.total,
                "currency": txn.currency,
                "window_hours": s.hours(),
            }
            self._raise(s, account, txn.ts_ms, facts, w.ids(self.profile.evidence_max), alerts)

    def _jurisdiction(self, s: Scenario, txn: Txn, account: str, country: str, alerts: list[Alert]) -> None:
        floor = s.amounts("min_amount_minor").get(txn.currency)
        if floor is None or txn.amount_minor < floor or country not in s.params["countries"]:
            return
        facts = {"amount_minor": txn.amount_minor, "currency": txn.currency, "country": country}
        self._raise(s, account, txn.ts_ms, facts, (txn.txn_id,), alerts, quiet_ms=_DAY_MS)

    def _corridor(self, s: Scenario, txn: Txn, account: str, alerts: list[Alert]) -> None:
        floor = s.amounts("min_amount_minor").get(txn.currency)
        if floor is None or txn.amount_minor < floor or not (txn.src_country and txn.dst_country):
            return
        corridor = f"{txn.src_country}-{txn.dst_country}"
        if corridor in s.params["usual_corridors"]:
            return
        facts = {"amount_minor": txn.amount_minor, "currency": txn.currency, "corridor": corridor}
        self._raise(s, account, txn.ts_ms, facts, (txn.txn_id,), alerts, quiet_ms=_DAY_MS)

    def _cycle_alerts(self, txn: Txn, found: dict[str, Any], alerts: list[Alert]) -> None:
        trips = self._by_kind["round_trip"][0]
        edges: list[dict[str, Any]] = found["edges"]
        facts = {
            "length": len(found["nodes"]),
            "min_leg_minor": min(e["amount_minor"] for e in edges),
            "currency": txn.currency,
            "window_hours": trips.hours(),
        }
        ids = tuple(e["txn_id"] for e in edges)
        kinds = found["kinds"]
        for node in found["nodes"]:
            if kinds.get(node) in MONITORED_KINDS:
                self._raise(trips, node, txn.ts_ms, facts, ids, alerts, subgraph=found)

    # -- plumbing ---------------------------------------------------------------------------

    def _raise(
        self,
        s: Scenario,
        account: str,
        ts_ms: int,
        facts: dict[str, Any],
        txn_ids: tuple[str, ...],
        alerts: list[Alert],
        *,
        quiet_ms: int | None = None,
        subgraph: dict[str, Any] | None = None,
    ) -> None:
        key = (s.code, account)
        if self._quiet.get(key, -(2**62)) > ts_ms:
            return
        self._quiet[key] = ts_ms + (s.window_ms() if quiet_ms is None else quiet_ms)
        alerts.append(
            s.alert(self.profile.label, account, ts_ms, facts, txn_ids[: self.profile.evidence_max], subgraph)
        )

    def _window(self, code: str, account: str, currency: str) -> _Window:
        key = (code, account, currency)
        w = self._windows.get(key)
        if w is None:
            w = self._windows[key] = _Window()
        return w

    def _owns(self, account: str) -> bool:
        index, count = self._shard
        return count == 1 or zlib.crc32(account.encode()) % count == index

    def _prune(self) -> None:
        """Drop a slice of the windows, day totals and quiet periods that nothing can still use.

        A slice at a time (``PRUNE_SLICE`` keys every ``PRUNE_EVERY`` events, round
        robin), so no single event pays for a sweep of every account.
        """
        if not self._sweep:
            self._sweep = [*(("w", k) for k in self._windows), *(("d", k) for k in self._days),
                           *(("q", k) for k in self._quiet)]  # fmt: skip
        oldest = self._now - self._longest_ms
        today = (self._now + self._offset_ms) // _DAY_MS
        for _ in range(min(PRUNE_SLICE, len(self._sweep))):
            table, key = self._sweep.pop()
            if table == "w":
                w = self._windows.get(key)
                if w is not None and (not w.items or w.items[-1][0] < oldest):
                    del self._windows[key]
            elif table == "d":
                d = self._days.get(key)
                if d is not None and d.day < today:
                    del self._days[key]
            elif self._quiet.get(key, self._now + 1) <= self._now:
                del self._quiet[key]
        if self.round_trips is not None:
            self.round_trips.prune(self._now, PRUNE_SLICE)


def _watches(s: Scenario, kind: str) -> bool:
    kinds = s.params.get("party_kinds")
    return kinds is None or kind in kinds


def _day_text(day: int) -> str:
    import datetime as dt

    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()
