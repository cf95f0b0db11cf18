"""Level-wise tree growth over split owners, and prediction by walking the trees with them.

A *split owner* is a party's set of features seen from the guest: it returns
the histograms of the nodes it is asked for, carries out the split the guest
chose on its features (and keeps the record), and says which way rows go at
its own nodes. ``LocalOwner`` holds the features in this process (the
guest's own, every party's in the plaintext reference, and a host's split
records); the federated protocol adds an owner that asks a host over the
network. ``grow_tree`` is the same code for both, so the reference and the
federated run make the same trees from the same histograms.

Histogram subtraction: of two sibling nodes only the one with fewer rows is
asked for; the other is its parent's histogram minus it (exact integers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from netfin.core.errors import InvalidInput, invariant
from netfin.privacy.secureboost.binning import BinnedFeatures, FloatArray, goes_left, threshold_of
from netfin.privacy.secureboost.histogram import Candidate, IntArray, best_split, histogram, leaf_weight
from netfin.privacy.secureboost.model import BoostParams, Node, SplitRecord, Tree

BoolArray = np.ndarray[Any, np.dtype[np.bool_]]


@dataclass(frozen=True)
class SplitOrder:
    """Split ``node`` (whose training rows are ``rows``) on the owner's ``feature`` at ``bin``."""

    node: int
    rows: IntArray
    feature: int
    bin: int
    missing_left: bool


class SplitOwner(Protocol):
    name: str

    def request_histograms(self, nodes: Sequence[tuple[int, IntArray]]) -> None: ...

    def collect_histograms(self) -> list[IntArray]: ...

    def request_splits(self, orders: Sequence[SplitOrder]) -> None: ...

    def collect_splits(self) -> list[tuple[int, BoolArray]]: ...

    def request_directions(self, queries: Sequence[tuple[int, IntArray]]) -> None: ...

    def collect_directions(self) -> list[BoolArray]: ...


@dataclass
class LocalOwner:
    """Features held in this process: their bins on the training rows and raw values for scoring."""

    name: str
    binned: BinnedFeatures
    scoring_values: FloatArray | None = None
    records: list[SplitRecord] = field(default_factory=list)
    g_int: IntArray | None = None
    h_int: IntArray | None = None
    _pending: list[Any] = field(default_factory=list)

    def set_gradients(self, g_int: IntArray, h_int: IntArray) -> None:
        self.g_int, self.h_int = g_int, h_int

    def request_histograms(self, nodes: Sequence[tuple[int, IntArray]]) -> None:
        if self.g_int is None or self.h_int is None:
            raise InvalidInput("no gradients for this tree yet")
        b = self.binned
        self._pending = [
            histogram(b.buckets, b.bucket_count, rows, self.g_int, self.h_int) for _, rows in nodes
        ]

    def collect_histograms(self) -> list[IntArray]:
        out, self._pending = self._pending, []
        return out

    def split(self, order: SplitOrder) -> tuple[int, BoolArray]:
        b = self.binned
        if not 0 <= order.feature < len(b.names) or not 0 <= order.bin < b.bucket_count - 1:
            raise InvalidInput(f"no feature {order.feature} with bin {order.bin} at {self.name}")
        record = SplitRecord(
            record=len(self.records),
            feature=b.names[order.feature],
            bin=order.bin,
            threshold=threshold_of(b.cuts[order.feature], order.bin),
            missing_left=order.missing_left,
        )
        self.records.append(record)
        return record.record, b.goes_left(order.rows, order.feature, order.bin, order.missing_left)

    def request_splits(self, orders: Sequence[SplitOrder]) -> None:
        self._pending = [self.split(o) for o in orders]

    def collect_splits(self) -> list[tuple[int, BoolArray]]:
        out, self._pending = self._pending, []
        return out

    def directions(self, record_id: int, rows: IntArray) -> BoolArray:
        if self.scoring_values is None or not 0 <= record_id < len(self.records):
            raise InvalidInput(f"{self.name} has no record {record_id} or no rows to score")
        record = self.records[record_id]
        column = self.binned.names.index(record.feature)
        return goes_left(self.scoring_values[rows, column], record.threshold, record.missing_left)

    def request_directions(self, queries: Sequence[tuple[int, IntArray]]) -> None:
        self._pending = [self.directions(r, rows) for r, rows in queries]

    def collect_directions(self) -> list[BoolArray]:
        out, self._pending = self._pending, []
        return out


def _totals(g_int: IntArray, h_int: IntArray, rows: IntArray) -> IntArray:
    return np.array([g_int[rows].sum(), h_int[rows].sum(), rows.size], dtype=np.int64)


def _level_histograms(
    owners: Sequence[SplitOwner],
    level: list[tuple[int, IntArray]],
    parents: Mapping[int, list[IntArray]],
    params: BoostParams,
) -> dict[int, list[IntArray]]:
    """Each splittable node's histograms, per owner; siblings by subtraction from the parent."""
    rows_of = dict(level)
    splittable = {n for n, rows in level if rows.size >= 2 * params.min_data_in_leaf}
    compute: list[int] = []
    derive: list[tuple[int, int, int]] = []  # (node, parent, computed sibling)
    for node, rows in level:
        if node == 0:
            compute += [0] if 0 in splittable else []
        elif node % 2 == 1 and (node in splittable or node + 1 in splittable):
            sibling = node + 1
            small, large = (node, sibling) if rows.size <= rows_of[sibling].size else (sibling, node)
            compute.append(small)
            derive.append((large, (node - 1) // 2, small))
    requests = [(n, rows_of[n]) for n in compute]
    if requests:
        for owner in reversed(owners):  # the hosts first, so they work while the guest sums its own
            owner.request_histograms(requests)
    per_owner = [owner.collect_histograms() if requests else [] for owner in owners]
    hists = {n: [h[i] for h in per_owner] for i, n in enumerate(compute)}
    for node, parent, small in derive:
        hists[node] = [p - s for p, s in zip(parents[parent], hists[small], strict=True)]
    return {n: h for n, h in hists.items() if n in splittable}


def _choose(
    owners: Sequence[SplitOwner], hists: list[IntArray], totals: IntArray, params: BoostParams
) -> tuple[int, Candidate] | None:
    best: tuple[int, Candidate] | None = None
    for index, hist in enumerate(hists):
        candidate = best_split(hist, totals, params)
        if candidate is not None and (best is None or candidate.gain > best[1].gain):
            best = (index, candidate)
    return best


def _apply_splits(
    owners: Sequence[SplitOwner], orders: dict[int, list[SplitOrder]]
) -> dict[int, tuple[str, int, BoolArray]]:
    """Ask every owner with splits at once, then collect: node -> (owner, record, left mask)."""
    for index in sorted(orders, reverse=True):
        owners[index].request_splits(orders[index])
    out: dict[int, tuple[str, int, BoolArray]] = {}
    for index, owner_orders in orders.items():
        results = owners[index].collect_splits()
        if len(results) != len(owner_orders):
            raise InvalidInput(f"{owners[index].name} answered {len(results)} of {len(owner_orders)} splits")
        for order, (record, left) in zip(owner_orders, results, strict=True):
            if left.shape != order.rows.shape:
                raise InvalidInput(f"{owners[index].name} sent a split mask of the wrong length")
            out[order.node] = (owners[index].name, record, left)
    return out


def grow_tree(
    owners: Sequence[SplitOwner], g_int: IntArray, h_int: IntArray, params: BoostParams
) -> tuple[Tree, FloatArray]:
    """One tree, level by level; returns it with each training row's leaf weight."""
    tree = Tree()
    weights = np.zeros(g_int.size, dtype=np.float64)
    level: list[tuple[int, IntArray]] = [(0, np.arange(g_int.size, dtype=np.int64))]
    parents: dict[int, list[IntArray]] = {}
    for _depth in range(params.depth):
        hists = _level_histograms(owners, level, parents, params)
        orders: dict[int, list[SplitOrder]] = {}
        for node, rows in level:
            choice = (
                _choose(owners, hists[node], _totals(g_int, h_int, rows), params) if node in hists else None
            )
            if choice is not None:
                index, c = choice
                orders.setdefault(index, []).append(SplitOrder(node, rows, c.feature, c.bin, c.missing_left))
        done = _apply_splits(owners, orders)
        following: list[tuple[int, IntArray]] = []
        for node, rows in level:
            if node in done:
                owner, record, left = done[node]
                tree.nodes[node] = Node(node, owner=owner, record=record)
                following += [(2 * node + 1, rows[left]), (2 * node + 2, rows[~left])]
            else:
                _leaf(tree, weights, node, rows, g_int, h_int, params)
        parents = {n: hists[n] for n in done}
        level = following
    for node, rows in level:
        _leaf(tree, weights, node, rows, g_int, h_int, params)
    return tree, weights


def _leaf(
    tree: Tree,
    weights: FloatArray,
    node: int,
    rows: IntArray,
    g_int: IntArray,
    h_int: IntArray,
    params: BoostParams,
) -> None:
    weight = leaf_weight(_totals(g_int, h_int, rows), params)
    tree.nodes[node] = Node(node, weight=weight)
    weights[rows] = weight


def predict(
    trees: Sequence[Tree], owners: Mapping[str, SplitOwner], rows: int, base_score: float, depth: int
) -> FloatArray:
    """Scores of ``rows`` scoring rows; each owner is asked once per level for all trees."""
    position = np.zeros((len(trees), rows), dtype=np.int64)
    for _level in range(depth):
        asked: dict[str, list[tuple[int, int, IntArray]]] = {}  # owner -> (tree, node, rows)
        for t, tree in enumerate(trees):
            for node in np.unique(position[t]).tolist():
                inner = tree.nodes[node]
                if not inner.is_leaf:
                    at = np.flatnonzero(position[t] == node)
                    asked.setdefault(str(inner.owner), []).append((t, node, at))
        if not asked:
            break
        for name, queries in reversed(asked.items()):
            owners[name].request_directions(
                [(int(trees[t].nodes[n].record or 0), at) for t, n, at in queries]
            )
        for name, queries in asked.items():
            answers = owners[name].collect_directions()
            if len(answers) != len(queries):
                raise InvalidInput(f"{name} answered {len(answers)} of {len(queries)} direction queries")
            for (t, node, at), left in zip(queries, answers, strict=True):
                position[t, at] = np.where(left, 2 * node + 1, 2 * node + 2)
    scores = np.full(rows, base_score, dtype=np.float64)
    for t, tree in enumerate(trees):
        leaves = {i: n.weight for i, n in tree.nodes.items() if n.weight is not None}
        ends = position[t].tolist()
        invariant(all(p in leaves for p in ends), "every row ends in a leaf within the depth")
        scores += np.array([leaves[p] for p in ends], dtype=np.float64)
    return scores
