"""The graph typologies of a profile, over a whole history: scatter-gather and mule networks.

These two need the whole transfer graph at once, so they run in batch only
(the stream watches accounts one transaction at a time). The history's
transfers of at least the scenario's amount become ``TxEdges`` for the
graph engine (``netfin.aml.graph``); each pattern found becomes one alert on
every customer account it involves, with the subgraph as evidence.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from netfin.aml.graph import GraphEngine, IgraphEngine, MuleParams, NodeIndex, TxEdges
from netfin.aml.monitoring.config import Profile, Scenario
from netfin.aml.monitoring.model import MONITORED_KINDS, Alert

GRAPH_KINDS = frozenset({"scatter_gather", "mule_network"})
_MS_NS = 1_000_000
_BPS = 10_000


class _Graph:
    """A history's transfers of one scenario as coded edges, with the way back to account ids."""

    def __init__(self, table: pa.Table, scenario: Scenario) -> None:
        floors = scenario.amounts("min_amount_minor")
        keep = pc.is_in(table.column("currency"), value_set=pa.array(list(floors)))
        floor = pc.index_in(table.column("currency"), value_set=pa.array(list(floors)))
        minimum = pc.take(pa.array(list(floors.values()), pa.int64()), pc.fill_null(floor, 0))
        keep = pc.and_(keep, pc.greater_equal(table.column("amount_minor"), minimum))
        part = table.filter(keep)
        both = pc.dictionary_encode(pa.concat_arrays([_flat(part, "src"), _flat(part, "dst")]))
        codes = both.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        n = part.num_rows
        self.ids: list[str] = both.dictionary.to_pylist()
        self.monitored = np.zeros(len(self.ids), dtype=bool)
        for column, start in (("src_kind", 0), ("dst_kind", n)):
            kinds = pc.is_in(_flat(part, column), value_set=pa.array(sorted(MONITORED_KINDS)))
            mask = kinds.to_numpy(zero_copy_only=False)
            self.monitored[codes[start : start + n][mask]] = True
        self.edges = TxEdges.from_arrays(
            codes[:n],
            codes[n:],
            part.column("ts_ms").to_numpy().astype(np.int64) * _MS_NS,
            part.column("amount_minor").to_numpy().astype(np.int64),
            node_count=len(self.ids),
        )
        self.txn_ids = _flat(part, "txn_id")
        self._index: NodeIndex | None = None

    @property
    def index(self) -> NodeIndex:
        if self._index is None:
            self._index = NodeIndex(self.ids)
        return self._index

    def customers(self, nodes: Iterable[int]) -> list[str]:
        return [self.ids[n] for n in dict.fromkeys(nodes) if self.monitored[n]]

    def txns(self, edge_rows: Iterable[int], limit: int) -> tuple[str, ...]:
        rows = list(edge_rows)[:limit]
        return tuple(str(t) for t in self.txn_ids.take(pa.array(rows, pa.int64())).to_pylist())


def _flat(table: pa.Table, name: str) -> pa.Array:
    return table.column(name).combine_chunks()


def graph_alerts(table: pa.Table, profile: Profile, engine: GraphEngine | None = None) -> list[Alert]:
    """Alerts of the profile's graph scenarios over ``table`` (a sorted ``TXN_SCHEMA`` history)."""
    alerts: list[Alert] = []
    for scenario in profile.scenarios:
        if scenario.kind not in GRAPH_KINDS or table.num_rows == 0:
            continue
        graph = _Graph(table, scenario)
        if len(graph.edges.src) == 0:
            continue
        found = IgraphEngine() if engine is None else engine
        if scenario.kind == "scatter_gather":
            alerts += _spreads(found, graph, scenario, profile)
        else:
            alerts += _mules(found, graph, scenario, profile)
    return alerts


def _spreads(engine: GraphEngine, graph: _Graph, s: Scenario, profile: Profile) -> list[Alert]:
    out: list[Alert] = []
    for spread in engine.scatter_gather(
        graph.edges, intermediaries_min=int(s.params["min_intermediaries"]), window_ns=s.window_ms() * _MS_NS
    ):
        nodes = (*spread.sources, *spread.intermediaries, *spread.sinks)
        facts = {
            "pattern": str(spread.kind),
            "intermediaries": len(spread.intermediaries),
            "amount_in_minor": spread.amount_in_minor,
            "amount_out_minor": spread.amount_out_minor,
            "window_hours": s.hours(),
        }
        evidence = spread.evidence(graph.edges, graph.index)
        ts_ms = spread.window_end_ns // _MS_NS
        txns = graph.txns(spread.edges, profile.evidence_max)
        out += [s.alert(profile.label, a, ts_ms, facts, txns, evidence) for a in graph.customers(nodes)]
    return out


def _mules(engine: GraphEngine, graph: _Graph, s: Scenario, profile: Profile) -> list[Alert]:
    p = s.params
    params = MuleParams(
        payers_min=int(p["min_payers"]),
        pass_through_bps_min=int(s.ratio("pass_through_ratio") * _BPS),
        dwell_ns=s.window_ms() * _MS_NS,
        mule_members_min=int(p["mule_members_min"]),
    )
    out: list[Alert] = []
    for network in engine.mule_networks(graph.edges, params):
        facts = {
            "members": len(network.members),
            "mules": len(network.mules),
            "sweeps": network.sweep_count,
            "amount_swept_minor": network.amount_swept_minor,
            "score": f"{network.score:.2f}",
        }
        evidence = network.evidence(graph.edges, graph.index)
        rows = list(network.edges)
        last = int(graph.edges.ts_ns[rows].max()) // _MS_NS if rows else 0
        txns = graph.txns(rows, profile.evidence_max)
        out += [
            s.alert(profile.label, a, last, facts, txns, evidence)
            for a in graph.customers((*network.mules, network.collector))
        ]
    return out
