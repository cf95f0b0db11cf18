"""Round-tripping found as it happens: the cycles each new transfer closes.

When a transfer u -> v arrives at time t, a depth-first search looks for a
path v -> ... -> u among the transfers of the trailing window [t - W, t]
(in time order along the path when the scenario asks for it, so the new
transfer is the cycle's last leg). Every cycle is thus found exactly once,
by the transfer that closes it, with at most ``max_length`` accounts.

The bound (what a hub account cannot break): an account with more than
``hub_degree_max`` outgoing transfers in the window is never expanded (it
can still close a cycle as its target), and the search examines at most
``visits_max`` transfers per event, then stops and counts the event as
truncated. So one event costs O(visits_max) time whatever the graph, and
memory is O(transfers in the window): accounts whose transfers all left the
window are dropped a slice at a time (``prune``). The batch scan finds the same cycles
on the whole graph with python-igraph (``netfin.aml.graph``).
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Any

from netfin.aml.monitoring.config import Scenario
from netfin.aml.monitoring.model import Txn

CYCLES_PER_EVENT_MAX = 10

_Edge = tuple[int, str, int, str]  # ts, dst, amount, txn id


class RoundTrips:
    """The recent transfer graph and the bounded search for the cycles a new transfer closes."""

    def __init__(self, scenario: Scenario) -> None:
        p = scenario.params
        self.window_ms = scenario.window_ms()
        self.max_length = int(p["max_length"])
        self.min_length = int(p.get("min_length", 2))
        # Each leg keeps at least this share of the previous one (the same money, less a fee), and never
        # more than the previous one divided by it: unrelated payments that happen to close a loop are not
        # a round trip.
        self.leg_ratio = Decimal(p.get("leg_ratio", Decimal(0)))
        self.time_ordered = bool(p.get("time_ordered", True))
        self.floors = scenario.amounts("min_amount_minor")
        self.hub_degree_max = int(p["hub_degree_max"])
        self.visits_max = int(p["visits_max"])
        self._out: dict[str, deque[_Edge]] = {}
        self._kinds: dict[str, str] = {}
        self._sweep: list[str] = []
        self.truncated = 0  # events whose search hit visits_max
        self.hubs_skipped = 0

    def observe(self, txn: Txn) -> list[dict[str, Any]]:
        floor = self.floors.get(txn.currency)
        if floor is None or txn.amount_minor < floor or txn.src == txn.dst:
            return []
        self._kinds[txn.src] = txn.src_kind
        self._kinds[txn.dst] = txn.dst_kind
        found = self._search(txn)
        self._out.setdefault(txn.src, deque()).append((txn.ts_ms, txn.dst, txn.amount_minor, txn.txn_id))
        return [self._describe(txn, path) for path in found]

    def prune(self, now: int, slice_max: int) -> None:
        """Drop a slice of the accounts whose transfers all left the window (round robin)."""
        if not self._sweep:
            self._sweep = list(self._out)
        oldest = now - self.window_ms
        for _ in range(min(slice_max, len(self._sweep))):
            self._edges(self._sweep.pop(), oldest)

    def _edges(self, node: str, oldest: int) -> deque[_Edge] | None:
        edges = self._out.get(node)
        if edges is None:
            return None
        while edges and edges[0][0] < oldest:
            edges.popleft()
        if not edges:
            del self._out[node]
            return None
        return edges

    def _search(self, txn: Txn) -> list[list[tuple[str, _Edge]]]:
        """Paths dst -> ... -> src (as (from, edge) legs) that close a cycle with ``txn``."""
        target, start, now = txn.src, txn.dst, txn.ts_ms
        oldest = now - self.window_ms
        found: list[list[tuple[str, _Edge]]] = []
        visits = 0
        # Each frame: (node, legs so far, the earliest time the next leg may have).
        stack: list[tuple[str, list[tuple[str, _Edge]], int]] = [(start, [], oldest)]
        while stack:
            node, legs, after = stack.pop()
            edges = self._edges(node, oldest)
            if edges is None:
                continue
            if len(edges) > self.hub_degree_max:
                self.hubs_skipped += 1
                continue
            on_path = {start, *(leg[1][1] for leg in legs)}
            for edge in edges:
                visits += 1
                if visits > self.visits_max:
                    self.truncated += 1
                    return found
                ts, dst = edge[0], edge[1]
                if ts < after or ts > now:
                    continue
                if edge[2] < self.floors.get(txn.currency, 0):
                    continue
                if legs and not self._same_money(legs[-1][1][2], edge[2]):
                    continue
                path = [*legs, (node, edge)]
                if dst == target:
                    if len(path) + 1 < self.min_length or not self._same_money(edge[2], txn.amount_minor):
                        continue
                    found.append(path)
                    if len(found) >= CYCLES_PER_EVENT_MAX:
                        return found
                elif dst not in on_path and len(path) < self.max_length - 1:
                    stack.append((dst, path, ts if self.time_ordered else oldest))
        return found

    def _same_money(self, before: int, after: int) -> bool:
        ratio = self.leg_ratio
        return not ratio or (
            Decimal(after) >= Decimal(before) * ratio and Decimal(before) >= Decimal(after) * ratio
        )

    def _describe(self, txn: Txn, legs: list[tuple[str, _Edge]]) -> dict[str, Any]:
        edges: list[dict[str, Any]] = [
            {"src": node, "dst": e[1], "ts_ms": e[0], "amount_minor": e[2], "txn_id": e[3]}
            for node, e in legs
        ]
        edges.append(
            {
                "src": txn.src,
                "dst": txn.dst,
                "ts_ms": txn.ts_ms,
                "amount_minor": txn.amount_minor,
                "txn_id": txn.txn_id,
            }
        )
        nodes: list[str] = [txn.src, *(str(e["src"]) for e in edges[:-1])]
        return {"nodes": nodes, "edges": edges, "kinds": {n: self._kinds.get(n, "") for n in nodes}}
