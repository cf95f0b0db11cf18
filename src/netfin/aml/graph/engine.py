"""The engine-neutral interface of the transaction graph and the limits every engine honours.

``GraphEngine`` is what monitoring calls; ``IgraphEngine`` implements it on
one machine. An engine for Spark GraphFrames or Ray takes the same
``TxEdges`` columns (or a table with the same columns) and returns the same
result types; see docs/aml-graph.md, "Beyond one machine".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from netfin.aml.graph.errors import GraphInputInvalid
from netfin.aml.graph.model import (
    EDGES_MAX,
    Community,
    Component,
    CycleSearch,
    FanPattern,
    MuleNetwork,
    ScatterGather,
    TxEdges,
)

CYCLE_LENGTH_MAX = 6
NS_PER_SECOND = 1_000_000_000
BPS = 10_000


@dataclass(frozen=True, slots=True)
class GraphLimits:
    """Bounds on one call: how long a cycle, how wide a window, how many results, how much time.

    ``degree_max`` is the number of distinct counterparties (in plus out) a
    node may have inside one window and still be searched for cycles;
    above it the node is a hub and is reported instead. ``time_budget_ms``
    bounds the wall-clock time of one ``cycles`` call: a search that would
    overrun it stops with ``truncated=True``.
    """

    cycle_length_max: int = CYCLE_LENGTH_MAX
    window_ns: int = 7 * 86_400 * NS_PER_SECOND
    cycles_max: int = 100_000
    degree_max: int = 200
    time_budget_ms: int = 60_000
    edges_max: int = EDGES_MAX
    results_max: int = 100_000

    def __post_init__(self) -> None:
        if not 2 <= self.cycle_length_max <= CYCLE_LENGTH_MAX:
            raise GraphInputInvalid(
                f"cycle length must be 2..{CYCLE_LENGTH_MAX}", code="cycle_length_max_invalid"
            )
        if self.window_ns < 2:
            raise GraphInputInvalid("a window must be at least 2 ns", code="window_invalid")
        positive = (self.cycles_max, self.degree_max, self.time_budget_ms, self.edges_max, self.results_max)
        if min(positive) < 1:
            raise GraphInputInvalid("every limit must be positive", code="graph_limit_invalid")
        if self.edges_max > EDGES_MAX:
            raise GraphInputInvalid(f"edges_max may not exceed {EDGES_MAX}", code="graph_limit_invalid")


@dataclass(frozen=True, slots=True)
class MuleParams:
    """What makes an account look like a mule, and which communities and networks to report.

    For ``communities`` (over an account's whole batch): a mule has at least
    ``payers_min`` distinct payers, pays out at least ``pass_through_bps_min``
    of what came in (or takes in that share of what it paid out), and pays on
    at least ``quick_out_bps_min`` of its incoming transfers within ``dwell_ns``.
    For ``mule_networks`` (per sweep): the same ``payers_min`` and
    ``pass_through_bps_min`` over the ``dwell_ns`` before each transfer out,
    windows of more than ``sweep_inflows_max`` incoming transfers left out as
    hubs, and at least ``mule_members_min`` mules sweeping to one collector.
    """

    payers_min: int = 3
    pass_through_bps_min: int = 8_000
    quick_out_bps_min: int = 5_000
    dwell_ns: int = 2 * 86_400 * NS_PER_SECOND
    community_size_min: int = 3
    community_size_max: int = 500
    mule_members_min: int = 2
    sweep_inflows_max: int = 1_000
    communities_max: int = 1_000
    resolution: float = 1.0
    seed: int = 7

    def __post_init__(self) -> None:
        if self.payers_min < 1 or self.dwell_ns < 0:
            raise GraphInputInvalid("payers_min >= 1 and dwell_ns >= 0", code="mule_params_invalid")
        if not (0 <= self.pass_through_bps_min <= BPS and 0 <= self.quick_out_bps_min <= BPS):
            raise GraphInputInvalid("shares are 0..10000 basis points", code="mule_params_invalid")
        if not 2 <= self.community_size_min <= self.community_size_max:
            raise GraphInputInvalid("community sizes need 2 <= min <= max", code="mule_params_invalid")
        if (
            self.mule_members_min < 0
            or self.communities_max < 1
            or self.resolution <= 0
            or self.sweep_inflows_max < 1
        ):
            raise GraphInputInvalid("counts and resolution must be positive", code="mule_params_invalid")


class GraphEngine(Protocol):
    """Typology detectors over one batch of transfers; thresholds come from the caller."""

    limits: GraphLimits

    def cycles(self, edges: TxEdges, *, time_ordered: bool = False) -> CycleSearch:
        """Directed cycles of 2..``cycle_length_max`` accounts whose transfers fit in ``window_ns``.

        With ``time_ordered`` the transfers must also follow each other in
        time around the cycle (from some starting account).
        """
        ...

    def components(self, edges: TxEdges, *, size_min: int = 2) -> list[Component]:
        """Weakly connected components with at least ``size_min`` accounts, largest first."""
        ...

    def communities(self, edges: TxEdges, params: MuleParams) -> list[Community]:
        """Communities ranked by mule score, most suspicious first."""
        ...

    def mule_networks(self, edges: TxEdges, params: MuleParams) -> list[MuleNetwork]:
        """Collectors of sweeps from several mules (see ``netfin.aml.graph.mules``), most mules first."""
        ...

    def fan_patterns(self, edges: TxEdges, *, counterparties_min: int, window_ns: int) -> list[FanPattern]:
        """Accounts paid by (fan-in) or paying (fan-out) ``counterparties_min`` others in a window."""
        ...

    def scatter_gather(
        self, edges: TxEdges, *, intermediaries_min: int, window_ns: int, time_ordered: bool = True
    ) -> list[ScatterGather]:
        """Scatter-gather and gather-scatter patterns with ``intermediaries_min`` or more branches."""
        ...
