"""The transaction graph for AML: round-tripping cycles, fans, scatter-gather and mule networks.

Purpose: typology detectors over a batch of transfers held as columns
(``TxEdges``: source and target node codes, time in ns, amount in minor
units), behind the engine-neutral ``GraphEngine`` protocol. ``IgraphEngine``
implements it on one machine with python-igraph (components, communities)
and numpy (windows, cycle enumeration, fans, scatter-gather); the same
interface maps onto Spark GraphFrames or Ray for graphs beyond one machine
(docs/aml-graph.md). Monitoring owns every threshold and passes it in.

Invariants:

- money is integer minor units everywhere; no float touches an amount;
- every call is bounded: ``GraphLimits`` caps edges per call, cycle length
  (at most 6), results, the degree of a node searched for cycles, and the
  wall-clock time of a cycle search; what a bound left out is reported
  (``CycleSearch.hubs``, ``truncated``), never dropped silently;
- results do not depend on node labels or edge order (cycles are spelled
  from their smallest node; windows are aligned to the epoch);
- every pattern gives a JSON-serialisable evidence dict for a case.

Public names: ``TxEdges``, ``NodeIndex``, ``Cycle``, ``CycleSearch``,
``Component``, ``Community``, ``FanPattern``, ``ScatterGather``,
``GraphEngine``, ``GraphLimits``, ``MuleParams``, ``IgraphEngine``,
``GraphInputInvalid``, ``GraphLimitExceeded``, ``EDGES_MAX``,
``CYCLE_LENGTH_MAX``.
"""

from __future__ import annotations

from netfin.aml.graph.engine import CYCLE_LENGTH_MAX, GraphEngine, GraphLimits, MuleParams
from netfin.aml.graph.errors import GraphInputInvalid, GraphLimitExceeded
from netfin.aml.graph.igraph_engine import IgraphEngine
from netfin.aml.graph.model import (
    EDGES_MAX,
    Community,
    Component,
    Cycle,
    CycleSearch,
    FanPattern,
    MuleNetwork,
    NodeIndex,
    ScatterGather,
    TxEdges,
)

__all__ = [
    "CYCLE_LENGTH_MAX",
    "EDGES_MAX",
    "Community",
    "Component",
    "Cycle",
    "CycleSearch",
    "FanPattern",
    "GraphEngine",
    "GraphInputInvalid",
    "GraphLimitExceeded",
    "GraphLimits",
    "IgraphEngine",
    "MuleNetwork",
    "MuleParams",
    "NodeIndex",
    "ScatterGather",
    "TxEdges",
]
