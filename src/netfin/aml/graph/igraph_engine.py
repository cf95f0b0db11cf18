"""``GraphEngine`` on one machine: python-igraph for components and communities, numpy for the rest.

igraph finds the strongly connected components that bound the cycle search,
the weakly connected components and the Leiden communities; numpy does the
windowing, the per-pair aggregation, the block-wise cycle enumeration, the
fan counts and the scatter-gather join. Every call checks its edges against
``GraphLimits.edges_max`` first.

The cycle search is bounded (see ``netfin.aml.graph.cycles``): hubs above
``degree_max`` are left out and reported, paths grow in blocks of bounded
size, the clock is read before every block, and a search that passes
``time_budget_ms`` or reaches ``cycles_max`` stops with ``truncated=True``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from netfin.aml.graph.communities import find_communities, find_components
from netfin.aml.graph.cycles import search_cycles
from netfin.aml.graph.engine import GraphLimits, MuleParams
from netfin.aml.graph.errors import GraphInputInvalid, GraphLimitExceeded
from netfin.aml.graph.model import (
    Community,
    Component,
    CycleSearch,
    FanPattern,
    MuleNetwork,
    ScatterGather,
    TxEdges,
)
from netfin.aml.graph.mules import find_mule_networks
from netfin.aml.graph.patterns import find_fans, find_spreads


class IgraphEngine:
    """The single-machine engine. ``clock_ns`` is a monotonic clock in nanoseconds (injected for tests)."""

    def __init__(
        self, limits: GraphLimits | None = None, *, clock_ns: Callable[[], int] = time.monotonic_ns
    ) -> None:
        self.limits = limits or GraphLimits()
        self._clock_ns = clock_ns

    def _check(self, edges: TxEdges) -> None:
        if len(edges) > self.limits.edges_max:
            raise GraphLimitExceeded(
                f"{len(edges)} edges in one call, more than {self.limits.edges_max}",
                code="graph_edges_max_exceeded",
            )

    def cycles(self, edges: TxEdges, *, time_ordered: bool = False) -> CycleSearch:
        self._check(edges)
        return search_cycles(edges, self.limits, time_ordered=time_ordered, clock_ns=self._clock_ns)

    def components(self, edges: TxEdges, *, size_min: int = 2) -> list[Component]:
        self._check(edges)
        if size_min < 1:
            raise GraphInputInvalid("size_min must be at least 1", code="size_min_invalid")
        return find_components(edges, size_min=size_min, results_max=self.limits.results_max)

    def communities(self, edges: TxEdges, params: MuleParams) -> list[Community]:
        self._check(edges)
        return find_communities(edges, params)

    def mule_networks(self, edges: TxEdges, params: MuleParams) -> list[MuleNetwork]:
        self._check(edges)
        return find_mule_networks(edges, params)

    def fan_patterns(self, edges: TxEdges, *, counterparties_min: int, window_ns: int) -> list[FanPattern]:
        self._check(edges)
        _check_pattern(counterparties_min, window_ns)
        return find_fans(
            edges,
            counterparties_min=counterparties_min,
            window_ns=window_ns,
            results_max=self.limits.results_max,
        )

    def scatter_gather(
        self, edges: TxEdges, *, intermediaries_min: int, window_ns: int, time_ordered: bool = True
    ) -> list[ScatterGather]:
        self._check(edges)
        _check_pattern(intermediaries_min, window_ns)
        return find_spreads(
            edges,
            intermediaries_min=intermediaries_min,
            window_ns=window_ns,
            time_ordered=time_ordered,
            degree_max=self.limits.degree_max,
            results_max=self.limits.results_max,
        )


def _check_pattern(branches_min: int, window_ns: int) -> None:
    if branches_min < 2:
        raise GraphInputInvalid("a pattern needs at least 2 counterparties", code="branches_min_invalid")
    if window_ns < 2:
        raise GraphInputInvalid("a window must be at least 2 ns", code="window_invalid")
