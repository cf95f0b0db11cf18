"""Fan-in/fan-out hubs and scatter-gather / gather-scatter patterns, in numpy.

Windows here are ``window_ns`` long and start every ``step = window_ns // 2``
(half overlap): a pattern whose transfers span at most ``window_ns - step``
(about half a window) is always found, and no reported pattern spans more
than ``window_ns``. A pattern seen in several overlapping windows is
reported once, from the window where it has the most counterparties (the
earliest on a tie); windows that do not overlap report separately.

Scatter-gather joins pairs ``s -> m`` with pairs ``m -> t`` inside the
window; intermediaries with more than ``degree_max`` distinct counterparties
are not mules and are left out, which bounds the join at ``degree_max`` rows
per pair. The join runs in chunks of at most ``JOIN_ROWS_MAX`` rows, so
memory stays bounded whatever the window holds.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from netfin.aml.graph.model import (
    EVIDENCE_EDGES_MAX,
    Direction,
    FanPattern,
    Int64Array,
    ScatterGather,
    TxEdges,
)
from netfin.aml.graph.windows import Pairs, Window, aggregate_pairs, distinct_degree, iter_windows

JOIN_ROWS_MAX = 4_000_000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Hit(Generic[T]):
    key: Hashable
    start_ns: int
    end_ns: int
    strength: int
    item: T


def _merge_runs(hits: list[_Hit[T]], results_max: int) -> list[T]:
    """One item per run of overlapping windows of the same key: the strongest, earliest on a tie."""
    hits.sort(key=lambda h: (repr(h.key), h.start_ns))
    best: list[_Hit[T]] = []
    run_end = 0
    for hit in hits:
        last = best[-1] if best else None
        if last is not None and last.key == hit.key and hit.start_ns < run_end:
            run_end = max(run_end, hit.end_ns)
            if hit.strength > last.strength:
                best[-1] = hit
            continue
        best.append(hit)
        run_end = hit.end_ns
    best.sort(key=lambda h: (-h.strength, h.start_ns, repr(h.key)))
    return [h.item for h in best[:results_max]]


def find_fans(
    edges: TxEdges, *, counterparties_min: int, window_ns: int, results_max: int
) -> list[FanPattern]:
    hits: list[_Hit[FanPattern]] = []
    for window in iter_windows(edges, length_ns=window_ns, step_ns=max(1, window_ns // 2)):
        rows = window.rows[edges.src[window.rows] != edges.dst[window.rows]]
        for direction in ("in", "out"):
            hits.extend(_window_fans(edges, window, rows, direction, counterparties_min))
    return _merge_runs(hits, results_max)


def _window_fans(
    edges: TxEdges, window: Window, rows: Int64Array, direction: Direction, counterparties_min: int
) -> list[_Hit[FanPattern]]:
    hub_of = edges.dst if direction == "in" else edges.src
    other_of = edges.src if direction == "in" else edges.dst
    hub, other = hub_of[rows], other_of[rows]
    keys = np.unique(hub * edges.node_count + other)
    key_hubs = keys // edges.node_count
    hubs, counts = np.unique(key_hubs, return_counts=True)
    found = hubs[counts >= counterparties_min]
    if found.size == 0:
        return []
    order = np.argsort(hub, kind="stable")
    hub_sorted = hub[order]
    hits: list[_Hit[FanPattern]] = []
    for code in found.tolist():
        low, high = np.searchsorted(hub_sorted, [code, code + 1])
        hub_rows = rows[order[low:high]]
        left, right = np.searchsorted(keys, [code * edges.node_count, (code + 1) * edges.node_count])
        others = keys[left:right] - code * edges.node_count
        pattern = FanPattern(
            hub=code,
            direction=direction,
            counterparties=tuple(others.tolist()),
            window_start_ns=window.start_ns,
            window_end_ns=window.end_ns,
            amount_total_minor=int(edges.amount_minor[hub_rows].sum()),
            edge_count=int(hub_rows.size),
            edges=tuple(np.sort(hub_rows)[:EVIDENCE_EDGES_MAX].tolist()),
        )
        hits.append(_Hit((code, direction), window.start_ns, window.end_ns, others.size, pattern))
    return hits


def find_spreads(
    edges: TxEdges,
    *,
    intermediaries_min: int,
    window_ns: int,
    time_ordered: bool,
    degree_max: int,
    results_max: int,
) -> list[ScatterGather]:
    hits: list[_Hit[ScatterGather]] = []
    for window in iter_windows(edges, length_ns=window_ns, step_ns=max(1, window_ns // 2)):
        pairs = aggregate_pairs(edges, window.rows)
        if len(pairs) == 0:
            continue
        hits.extend(_scatter_gather(edges, pairs, window, intermediaries_min, time_ordered, degree_max))
        hits.extend(_gather_scatter(pairs, window, intermediaries_min, time_ordered))
    return _merge_runs(hits, results_max)


def _two_hop_chunks(
    pairs: Pairs, first: Int64Array, second: Int64Array
) -> list[tuple[Int64Array, Int64Array]]:
    """All (first-hop pair, second-hop pair) joins ``s -> m -> t``, in chunks of whole sources."""
    second = second[np.argsort(pairs.src[second], kind="stable")]
    second_src = pairs.src[second]
    first = first[np.argsort(pairs.src[first], kind="stable")]
    low = np.searchsorted(second_src, pairs.dst[first], side="left")
    fanout = np.searchsorted(second_src, pairs.dst[first], side="right") - low
    if first.size == 0:
        return []
    source = pairs.src[first]
    boundaries = np.flatnonzero(np.concatenate(([True], source[1:] != source[:-1], [True]))).tolist()
    cumulative = np.concatenate(([0], np.cumsum(fanout)))
    chunks: list[tuple[Int64Array, Int64Array]] = []
    chunk_start = previous_end = 0
    for group_end in boundaries[1:]:
        over = int(cumulative[group_end] - cumulative[chunk_start]) > JOIN_ROWS_MAX
        if over and previous_end > chunk_start:
            chunks.append(_expand(first, low, fanout, second, chunk_start, previous_end))
            chunk_start = previous_end
        previous_end = group_end
    chunks.append(_expand(first, low, fanout, second, chunk_start, previous_end))
    return chunks


def _expand(
    first: Int64Array, low: Int64Array, fanout: Int64Array, second: Int64Array, start: int, end: int
) -> tuple[Int64Array, Int64Array]:
    counts = fanout[start:end]
    repeat = np.repeat(np.arange(start, end), counts)
    offsets = np.arange(repeat.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return first[repeat], second[low[repeat] + offsets]


def _scatter_gather(
    edges: TxEdges,
    pairs: Pairs,
    window: Window,
    intermediaries_min: int,
    time_ordered: bool,
    degree_max: int,
) -> list[_Hit[ScatterGather]]:
    nodes, degree = distinct_degree(pairs)
    mules = nodes[degree <= degree_max]
    first = np.flatnonzero(np.isin(pairs.dst, mules))
    second = np.flatnonzero(np.isin(pairs.src, mules))
    hits: list[_Hit[ScatterGather]] = []
    for hop1, hop2 in _two_hop_chunks(pairs, first, second):
        keep = pairs.src[hop1] != pairs.dst[hop2]
        if time_ordered:
            keep &= pairs.ts_min[hop1] <= pairs.ts_max[hop2]
        hop1, hop2 = hop1[keep], hop2[keep]
        key = pairs.src[hop1] * edges.node_count + pairs.dst[hop2]
        order = np.argsort(key, kind="stable")
        key, hop1, hop2 = key[order], hop1[order], hop2[order]
        bounds = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1], [True])))
        for low, high in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            if high - low >= intermediaries_min:
                hits.append(_spread_hit(pairs, window, hop1[low:high], hop2[low:high]))
    return hits


def _spread_hit(pairs: Pairs, window: Window, hop1: Int64Array, hop2: Int64Array) -> _Hit[ScatterGather]:
    source, sink = int(pairs.src[hop1[0]]), int(pairs.dst[hop2[0]])
    rows = np.concatenate([pairs.pair_rows(int(p)) for p in (*hop1.tolist(), *hop2.tolist())])
    pattern = ScatterGather(
        kind="scatter_gather",
        sources=(source,),
        intermediaries=tuple(sorted(pairs.dst[hop1].tolist())),
        sinks=(sink,),
        window_start_ns=window.start_ns,
        window_end_ns=window.end_ns,
        amount_in_minor=int(pairs.amount_minor[hop1].sum()),
        amount_out_minor=int(pairs.amount_minor[hop2].sum()),
        edge_count=int(rows.size),
        edges=tuple(np.sort(rows)[:EVIDENCE_EDGES_MAX].tolist()),
    )
    key = ("scatter_gather", source, sink)
    return _Hit(key, window.start_ns, window.end_ns, hop1.size, pattern)


def _gather_scatter(
    pairs: Pairs, window: Window, intermediaries_min: int, time_ordered: bool
) -> list[_Hit[ScatterGather]]:
    payers_of = np.bincount(np.unique(pairs.dst, return_inverse=True)[1])
    centres_in = np.unique(pairs.dst)[payers_of >= intermediaries_min]
    payees_of = np.bincount(np.unique(pairs.src, return_inverse=True)[1])
    centres_out = np.unique(pairs.src)[payees_of >= intermediaries_min]
    hits: list[_Hit[ScatterGather]] = []
    for centre in np.intersect1d(centres_in, centres_out).tolist():
        inbound = np.flatnonzero(pairs.dst == centre)
        outbound = np.flatnonzero(pairs.src == centre)
        if time_ordered and int(pairs.ts_min[inbound].min()) > int(pairs.ts_max[outbound].max()):
            continue
        rows = np.concatenate([pairs.pair_rows(int(p)) for p in (*inbound.tolist(), *outbound.tolist())])
        pattern = ScatterGather(
            kind="gather_scatter",
            sources=tuple(pairs.src[inbound].tolist()),
            intermediaries=(centre,),
            sinks=tuple(pairs.dst[outbound].tolist()),
            window_start_ns=window.start_ns,
            window_end_ns=window.end_ns,
            amount_in_minor=int(pairs.amount_minor[inbound].sum()),
            amount_out_minor=int(pairs.amount_minor[outbound].sum()),
            edge_count=int(rows.size),
            edges=tuple(np.sort(rows)[:EVIDENCE_EDGES_MAX].tolist()),
        )
        strength = min(inbound.size, outbound.size)
        hits.append(_Hit(("gather_scatter", centre), window.start_ns, window.end_ns, strength, pattern))
    return hits
