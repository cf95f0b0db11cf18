"""Time windows over a batch of transfers and the per-pair aggregation inside one window.

Windows are ``[k * step_ns, k * step_ns + length_ns)`` for integer ``k``,
aligned to the epoch so that the same transfer falls into the same windows
whichever batch it arrives in. Only windows that hold a transfer are
visited, and a window whose transfers are a subset of the previous one's is
skipped (whatever it would find, the previous window found).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from netfin.aml.graph.model import Int64Array, TxEdges


@dataclass(frozen=True, slots=True)
class Window:
    start_ns: int
    end_ns: int  # exclusive
    rows: Int64Array  # rows of TxEdges inside the window, in time order


def iter_windows(edges: TxEdges, *, length_ns: int, step_ns: int) -> Iterator[Window]:
    """Every non-empty window of ``length_ns`` every ``step_ns``, in time order."""
    if len(edges) == 0:
        return
    order = np.argsort(edges.ts_ns, kind="stable")
    ts_sorted = edges.ts_ns[order]
    slots = np.unique(ts_sorted // step_ns)
    reach = -(-length_ns // step_ns)  # windows that can hold one instant
    starts = np.unique(np.concatenate([slots - j for j in range(reach)]))
    last_high = -1
    for k in starts.tolist():
        start = k * step_ns
        low = int(np.searchsorted(ts_sorted, start, side="left"))
        high = int(np.searchsorted(ts_sorted, start + length_ns, side="left"))
        if high <= last_high or high == low:
            continue
        last_high = high
        yield Window(start, start + length_ns, order[low:high])


@dataclass(frozen=True, slots=True)
class Pairs:
    """Transfers inside one window grouped per ordered pair (source, target).

    ``rows[offsets[p]:offsets[p + 1]]`` are the transfers of pair ``p`` in
    time order; ``ts_sorted`` holds their times in the same order.
    """

    src: Int64Array
    dst: Int64Array
    offsets: Int64Array
    rows: Int64Array
    ts_sorted: Int64Array
    amount_minor: Int64Array  # per pair, summed
    ts_min: Int64Array
    ts_max: Int64Array

    def __len__(self) -> int:
        return int(self.src.size)

    def pair_rows(self, pair: int) -> Int64Array:
        return self.rows[self.offsets[pair] : self.offsets[pair + 1]]

    def pair_ts(self, pair: int) -> Int64Array:
        return self.ts_sorted[self.offsets[pair] : self.offsets[pair + 1]]


def aggregate_pairs(edges: TxEdges, rows: Int64Array) -> Pairs:
    """Group ``rows`` per (source, target); self-transfers are dropped (they are no pattern)."""
    rows = rows[edges.src[rows] != edges.dst[rows]]
    src, dst, ts = edges.src[rows], edges.dst[rows], edges.ts_ns[rows]
    key = src * edges.node_count + dst
    order = np.lexsort((ts, key))
    rows, key, ts = rows[order], key[order], ts[order]
    if rows.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Pairs(empty, empty, np.zeros(1, dtype=np.int64), empty, empty, empty, empty, empty)
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    offsets = np.append(starts, rows.size).astype(np.int64)
    amounts = np.add.reduceat(edges.amount_minor[rows], starts).astype(np.int64)
    return Pairs(
        src=edges.src[rows[starts]],
        dst=edges.dst[rows[starts]],
        offsets=offsets,
        rows=rows,
        ts_sorted=ts,
        amount_minor=amounts,
        ts_min=ts[starts],
        ts_max=ts[offsets[1:] - 1],
    )


def distinct_degree(pairs: Pairs) -> tuple[Int64Array, Int64Array]:
    """Nodes present in ``pairs`` and their distinct counterparties (in plus out)."""
    nodes, inverse = np.unique(np.concatenate([pairs.src, pairs.dst]), return_inverse=True)
    return nodes, np.bincount(inverse, minlength=nodes.size).astype(np.int64)
