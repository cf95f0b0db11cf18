"""Components, communities and mule networks, with igraph.

Communities are found by Leiden (modularity) on the undirected graph whose
edge weight is the number of transfers between two accounts; amounts stay
integers and are summed per community afterwards. Each community is then
scored by the mule features of its members over the same transfers:

- distinct payers into the account;
- pass-through: the smaller of money in and money out over the larger
  (basis points), so an account that pays on what it receives scores high;
- quick out: the share of incoming transfers followed by an outgoing
  transfer of the same account within ``dwell_ns`` (basis points).

Leiden uses igraph's random number generator; it is seeded from
``MuleParams.seed`` for the call, so results repeat exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import igraph as ig
import numpy as np
import numpy.typing as npt

from netfin.aml.graph.engine import BPS, MuleParams
from netfin.aml.graph.model import EVIDENCE_EDGES_MAX, Community, Component, Int64Array, TxEdges

BoolArray = npt.NDArray[np.bool_]

# int64 holds ``amount * BPS`` below this; above it the share is computed in Python integers.
_EXACT_BPS_MAX = np.iinfo(np.int64).max // BPS


def _groups(labels: Int64Array) -> tuple[Int64Array, list[int]]:
    """Positions sorted by label and the boundaries between labels."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    bounds = np.flatnonzero(np.concatenate(([True], sorted_labels[1:] != sorted_labels[:-1], [True])))
    return order, bounds.tolist() if labels.size else [0]


def find_components(edges: TxEdges, *, size_min: int, results_max: int) -> list[Component]:
    if len(edges) == 0:
        return []
    nodes, local = np.unique(np.concatenate([edges.src, edges.dst]), return_inverse=True)
    local_src, local_dst = local[: len(edges)], local[len(edges) :]
    graph = ig.Graph(n=nodes.size, edges=np.stack([local_src, local_dst], axis=1), directed=True)
    membership = np.asarray(graph.connected_components(mode="weak").membership, dtype=np.int64)
    sizes = np.bincount(membership)
    node_order, node_bounds = _groups(membership)
    edge_order, edge_bounds = _groups(membership[local_src])
    components: list[Component] = []
    for label in np.argsort(-sizes, kind="stable").tolist():
        if sizes[label] < size_min or len(components) >= results_max:
            break
        members = nodes[node_order[node_bounds[label] : node_bounds[label + 1]]]
        rows = np.sort(edge_order[edge_bounds[label] : edge_bounds[label + 1]])
        components.append(
            Component(
                members=tuple(members.tolist()),
                edge_count=int(rows.size),
                amount_total_minor=int(edges.amount_minor[rows].sum()),
                edges=tuple(rows[:EVIDENCE_EDGES_MAX].tolist()),
            )
        )
    return components


def share_bps(part: Int64Array, whole: Int64Array) -> Int64Array:
    """``part * 10000 // whole`` exactly (0 where ``whole`` is 0)."""
    safe = np.maximum(whole, 1)
    if part.size == 0 or int(part.max()) <= _EXACT_BPS_MAX:
        return (part * BPS // safe).astype(np.int64)
    exact = [p * BPS // w for p, w in zip(part.tolist(), safe.tolist(), strict=True)]
    return np.asarray(exact, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class MuleFeatures:
    """Per node code: distinct payers, money in and out, pass-through and quick-out shares."""

    payers: Int64Array
    amount_in_minor: Int64Array
    amount_out_minor: Int64Array
    pass_through_bps: Int64Array
    quick_out_bps: Int64Array

    def mules(self, params: MuleParams) -> BoolArray:
        return (
            (self.payers >= params.payers_min)
            & (self.pass_through_bps >= params.pass_through_bps_min)
            & (self.quick_out_bps >= params.quick_out_bps_min)
        )


def mule_features(edges: TxEdges, dwell_ns: int) -> MuleFeatures:
    n = edges.node_count
    moving = edges.src != edges.dst
    src, dst, ts, amount = (
        edges.src[moving],
        edges.dst[moving],
        edges.ts_ns[moving],
        edges.amount_minor[moving],
    )
    payers = np.bincount(np.unique(dst * n + src) // n, minlength=n).astype(np.int64)
    money_in = np.zeros(n, dtype=np.int64)
    np.add.at(money_in, dst, amount)
    money_out = np.zeros(n, dtype=np.int64)
    np.add.at(money_out, src, amount)
    incoming = np.bincount(dst, minlength=n).astype(np.int64)
    quick_in = np.bincount(dst[_paid_on_quickly(src, dst, ts, dwell_ns)], minlength=n).astype(np.int64)
    pass_through = share_bps(np.minimum(money_in, money_out), np.maximum(money_in, money_out))
    return MuleFeatures(payers, money_in, money_out, pass_through, share_bps(quick_in, incoming))


def _paid_on_quickly(src: Int64Array, dst: Int64Array, ts: Int64Array, dwell_ns: int) -> BoolArray:
    """For each transfer: does its target send a transfer at or after it, within ``dwell_ns``?"""
    if src.size == 0:
        return np.zeros(0, dtype=np.bool_)
    times, rank = np.unique(ts, return_inverse=True)
    span = times.size
    outgoing = np.sort(src * span + rank)
    incoming = dst * span + rank
    nxt = np.searchsorted(outgoing, incoming, side="left")
    following = outgoing[np.minimum(nxt, outgoing.size - 1)]
    same_account = (nxt < outgoing.size) & (following // span == dst)
    quick: BoolArray = same_account & (times[following % span] - ts <= dwell_ns)
    return quick


def find_communities(edges: TxEdges, params: MuleParams) -> list[Community]:
    moving = np.flatnonzero(edges.src != edges.dst)
    if moving.size == 0:
        return []
    low = np.minimum(edges.src[moving], edges.dst[moving])
    high = np.maximum(edges.src[moving], edges.dst[moving])
    keys, weights = np.unique(low * edges.node_count + high, return_counts=True)
    nodes, local = np.unique(
        np.concatenate([keys // edges.node_count, keys % edges.node_count]), return_inverse=True
    )
    graph = ig.Graph(n=nodes.size, edges=np.stack([local[: keys.size], local[keys.size :]], axis=1))
    ig.set_random_number_generator(random.Random(params.seed))  # noqa: S311 (reproducible, not secret)
    try:
        clustering = graph.community_leiden(
            objective_function="modularity", weights=weights.tolist(), resolution=params.resolution
        )
    finally:
        ig.set_random_number_generator(random)
    label = np.full(edges.node_count, -1, dtype=np.int64)
    label[nodes] = np.asarray(clustering.membership, dtype=np.int64)
    features = mule_features(edges, params.dwell_ns)
    return _score_communities(edges, label, features.mules(params), params)


def _score_communities(
    edges: TxEdges, label: Int64Array, mule: BoolArray, params: MuleParams
) -> list[Community]:
    known = np.flatnonzero(label >= 0)
    node_order, node_bounds = _groups(label[known])
    src_label, dst_label = label[edges.src], label[edges.dst]
    internal = np.flatnonzero(src_label == dst_label)
    edge_order, edge_bounds = _groups(src_label[internal])
    edge_label_at = {int(src_label[internal[edge_order[b]]]): i for i, b in enumerate(edge_bounds[:-1])}
    crossing = src_label != dst_label
    external = np.zeros(int(label.max()) + 1, dtype=np.int64)
    np.add.at(external, src_label[crossing], edges.amount_minor[crossing])
    np.add.at(external, dst_label[crossing], edges.amount_minor[crossing])
    found: list[Community] = []
    for group in range(len(node_bounds) - 1):
        members = known[node_order[node_bounds[group] : node_bounds[group + 1]]]
        mules = members[mule[members]]
        size = int(members.size)
        if not params.community_size_min <= size <= params.community_size_max:
            continue
        if mules.size < params.mule_members_min:
            continue
        community_label = int(label[members[0]])
        position = edge_label_at.get(community_label)
        rows = np.zeros(0, dtype=np.int64)
        if position is not None:
            rows = np.sort(internal[edge_order[edge_bounds[position] : edge_bounds[position + 1]]])
        ordered_pairs = np.unique(edges.src[rows] * edges.node_count + edges.dst[rows]).size
        found.append(
            Community(
                members=tuple(members.tolist()),
                mule_members=tuple(mules.tolist()),
                edge_count=int(rows.size),
                edges=tuple(rows[:EVIDENCE_EDGES_MAX].tolist()),
                amount_internal_minor=int(edges.amount_minor[rows].sum()),
                amount_external_minor=int(external[community_label]),
                density=ordered_pairs / (size * (size - 1)),
                score=mules.size / size,
            )
        )
    found.sort(key=lambda c: (-c.score, -c.amount_internal_minor, c.members))
    return found[: params.communities_max]
