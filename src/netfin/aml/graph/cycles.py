"""Round-tripping: directed cycles of 2..6 accounts inside a time window, with bounded cost.

How one call runs (``search_cycles``):

1. Windows of ``2 * window_ns`` every ``window_ns``: a cycle whose transfers
   span at most ``window_ns`` lies wholly inside one of them, so none is
   missed; transfers are aggregated per (source, target) pair in the window.
2. Nodes with more than ``degree_max`` distinct counterparties in the window
   are hubs: they are left out of that window's search and reported.
3. Pairs that join two strongly connected components are dropped (igraph
   finds the components); a cycle never leaves one.
4. Cycles are enumerated breadth-first in numpy blocks: paths start at
   their smallest node (so each cycle is found once), grow by one hop per
   step up to ``cycle_length_max`` nodes, never revisit a node, and are
   dropped as soon as their hops cannot fit in ``window_ns`` (the latest
   first transfer of a hop minus the earliest last transfer exceeds it).
   A block grows into at most ``BLOCK_ROWS`` new paths; blocks wait on a
   stack, deepest first.
5. For every cycle of pairs, one transfer per hop is chosen so that all of
   them span at most ``window_ns`` (the smallest span), and, with
   ``time_ordered``, so that they also follow each other in time from some
   starting account. Cycles are deduplicated across the overlapping windows
   by their node sequence (rotated to start at the smallest code).

The bound: memory holds at most ``cycle_length_max`` blocks of
``BLOCK_ROWS`` paths of ``cycle_length_max`` int64 nodes (about 100 MB at
the defaults) plus the cycles kept (at most ``cycles_max``); the clock is
read before every block, and one block takes tens of milliseconds, so a
call overruns ``time_budget_ms`` by at most one block. With every searched
node at most ``D = degree_max`` distinct counterparties, the paths grown
from one start are at most ``D + D**2 + ... + D**(L-1)``.

igraph 1.0's ``Graph.simple_cycles`` is not used: it takes time quadratic
in the vertices of the graph it is given, and it misses cycles for some
vertex orders (igraph/igraph#2911; see docs/aml-graph.md).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import igraph as ig
import numpy as np

from netfin.aml.graph.engine import GraphLimits
from netfin.aml.graph.model import Cycle, CycleSearch, Int64Array, TxEdges
from netfin.aml.graph.windows import Pairs, aggregate_pairs, distinct_degree, iter_windows
from netfin.core.errors import invariant

BLOCK_ROWS = 400_000
TIME_BUDGET = "time_budget"
CYCLES_MAX = "cycles_max"
# Start transfers tried per rotation when the cycle must be time-ordered.
ORDERED_STARTS_MAX = 256


@dataclass(slots=True)
class _State:
    limits: GraphLimits
    time_ordered: bool
    clock_ns: Callable[[], int]
    deadline_ns: int
    found: dict[tuple[int, ...], Cycle] = field(default_factory=dict)
    hubs: set[int] = field(default_factory=set)
    work: int = 0
    reason: str | None = None


def search_cycles(
    edges: TxEdges, limits: GraphLimits, *, time_ordered: bool, clock_ns: Callable[[], int]
) -> CycleSearch:
    state = _State(limits, time_ordered, clock_ns, clock_ns() + limits.time_budget_ms * 1_000_000)
    windows = 0
    for window in iter_windows(edges, length_ns=2 * limits.window_ns, step_ns=limits.window_ns):
        if state.reason is not None:
            break
        windows += 1
        _search_window(edges, aggregate_pairs(edges, window.rows), state)
    cycles = sorted(state.found.values(), key=lambda c: (c.first_ts_ns, c.nodes))
    return CycleSearch(
        cycles=tuple(cycles[: limits.cycles_max]),
        hubs=tuple(sorted(state.hubs)),
        truncated=state.reason is not None,
        truncated_reason=state.reason,
        windows_scanned=windows,
        search_work=state.work,
    )


@dataclass(frozen=True, slots=True)
class _Adjacency:
    """Out-neighbours of local nodes, sorted; ``pair[i]`` is the window pair of hop ``i``."""

    indptr: Int64Array
    target: Int64Array
    pair: Int64Array
    key: Int64Array  # source * node_count + target, sorted
    ts_min: Int64Array
    ts_max: Int64Array
    node_count: int


def _search_window(edges: TxEdges, pairs: Pairs, state: _State) -> None:
    if len(pairs) == 0:
        return
    nodes, degree = distinct_degree(pairs)
    hub_nodes = nodes[degree > state.limits.degree_max]
    state.hubs.update(hub_nodes.tolist())
    keep = np.flatnonzero(~(np.isin(pairs.src, hub_nodes) | np.isin(pairs.dst, hub_nodes)))
    if keep.size == 0:
        return
    local_nodes, local = np.unique(np.concatenate([pairs.src[keep], pairs.dst[keep]]), return_inverse=True)
    src, dst = local[: keep.size], local[keep.size :]
    graph = ig.Graph(n=local_nodes.size, edges=np.stack([src, dst], axis=1), directed=True)
    membership = np.asarray(graph.connected_components(mode="strong").membership, dtype=np.int64)
    inside = membership[src] == membership[dst]
    if not inside.any():
        return
    adjacency = _adjacency(pairs, keep[inside], src[inside], dst[inside], local_nodes.size)
    roots = np.unique(src[inside])
    for block in _closed_paths(adjacency, roots, state):
        for count, path in enumerate(block):
            if count % 1024 == 1023 and state.clock_ns() > state.deadline_ns:
                state.reason = TIME_BUDGET
                return
            cycle = _cycle_from_pairs(edges, pairs, _hops(adjacency, path), state)
            if cycle is not None and cycle.nodes not in state.found:
                state.found[cycle.nodes] = cycle
                if len(state.found) >= state.limits.cycles_max:
                    state.reason = CYCLES_MAX
                    return


def _adjacency(pairs: Pairs, pair_ids: Int64Array, src: Int64Array, dst: Int64Array, n: int) -> _Adjacency:
    order = np.lexsort((dst, src))
    src, dst, pair_ids = src[order], dst[order], pair_ids[order]
    indptr = np.concatenate(([0], np.cumsum(np.bincount(src, minlength=n)))).astype(np.int64)
    return _Adjacency(indptr, dst, pair_ids, src * n + dst, pairs.ts_min[pair_ids], pairs.ts_max[pair_ids], n)


def _hops(adjacency: _Adjacency, path: Int64Array) -> Int64Array:
    keys = path * adjacency.node_count + np.roll(path, -1)
    return adjacency.pair[np.searchsorted(adjacency.key, keys)]


def _closed_paths(adjacency: _Adjacency, roots: Int64Array, state: _State) -> Iterator[Int64Array]:
    """Every simple cycle of 2..L local nodes, each spelled once from its smallest node, in blocks."""
    length_max = state.limits.cycle_length_max
    window_ns = state.limits.window_ns
    start = roots.reshape(-1, 1)
    big = np.iinfo(np.int64).max
    stack = [(start, np.full(roots.size, big), np.full(roots.size, -big))]
    while stack:
        if state.clock_ns() > state.deadline_ns:
            state.reason = TIME_BUDGET
            break
        paths, low, high = stack.pop()
        grown = _grow(adjacency, paths, low, high, window_ns)
        if grown is None:
            stack.extend(_split(adjacency, paths, low, high))
            continue
        paths, low, high = grown
        state.work += int(paths.shape[0])
        closing = paths[:, -1] * adjacency.node_count + paths[:, 0]
        at = np.minimum(np.searchsorted(adjacency.key, closing), adjacency.key.size - 1)
        closes = adjacency.key[at] == closing
        if closes.any():
            yield paths[closes]
        if paths.shape[1] < length_max and paths.shape[0]:
            stack.append((paths, low, high))


def _split(
    adjacency: _Adjacency, paths: Int64Array, low: Int64Array, high: Int64Array
) -> list[tuple[Int64Array, Int64Array, Int64Array]]:
    """Slices of a block that each grow into at most ``BLOCK_ROWS`` paths."""
    last = paths[:, -1]
    fanout = adjacency.indptr[last + 1] - adjacency.indptr[last]
    cuts = np.searchsorted(np.cumsum(fanout), np.arange(BLOCK_ROWS, int(fanout.sum()), BLOCK_ROWS))
    bounds = np.unique(np.concatenate(([0], np.maximum(cuts, 1), [paths.shape[0]])))
    slices = [(paths[a:b], low[a:b], high[a:b]) for a, b in itertools.pairwise(bounds.tolist())]
    return slices[::-1]


def _grow(
    adjacency: _Adjacency, paths: Int64Array, low: Int64Array, high: Int64Array, window_ns: int
) -> tuple[Int64Array, Int64Array, Int64Array] | None:
    """Paths one hop longer, or None when the block would grow past ``BLOCK_ROWS`` (split it)."""
    last = paths[:, -1]
    fanout = adjacency.indptr[last + 1] - adjacency.indptr[last]
    total = int(fanout.sum())
    if total > BLOCK_ROWS and paths.shape[0] > 1:
        return None
    row = np.repeat(np.arange(paths.shape[0]), fanout)
    position = adjacency.indptr[last][row] + np.arange(total) - np.repeat(np.cumsum(fanout) - fanout, fanout)
    nxt = adjacency.target[position]
    new_low = np.minimum(low[row], adjacency.ts_max[position])
    new_high = np.maximum(high[row], adjacency.ts_min[position])
    keep = (nxt > paths[row, 0]) & (new_high - new_low <= window_ns)
    for column in range(1, paths.shape[1]):
        keep &= paths[row, column] != nxt
    row = row[keep]
    grown = np.concatenate([paths[row], nxt[keep].reshape(-1, 1)], axis=1)
    return grown, new_low[keep], new_high[keep]


def _cycle_from_pairs(edges: TxEdges, pairs: Pairs, hops: Int64Array, state: _State) -> Cycle | None:
    count = hops.size
    for i in range(count):
        invariant(int(pairs.dst[hops[i]]) == int(pairs.src[hops[(i + 1) % count]]), "cycle hops must chain")
    lists = [pairs.pair_ts(int(p)) for p in hops]
    if state.time_ordered:
        chosen = _ordered_selection(lists, state.limits.window_ns)
    else:
        chosen = _smallest_span(lists, state.limits.window_ns)
    if chosen is None:
        return None
    rows = [int(pairs.pair_rows(int(p))[j]) for p, j in zip(hops.tolist(), chosen, strict=True)]
    nodes = [int(pairs.src[p]) for p in hops.tolist()]
    first = nodes.index(min(nodes))
    nodes, rows = nodes[first:] + nodes[:first], rows[first:] + rows[:first]
    times = edges.ts_ns[rows]
    amounts = edges.amount_minor[rows]
    return Cycle(
        nodes=tuple(nodes),
        edges=tuple(rows),
        first_ts_ns=int(times.min()),
        last_ts_ns=int(times.max()),
        amount_total_minor=int(amounts.sum()),
        amount_min_minor=int(amounts.min()),
    )


def _smallest_span(lists: Sequence[Int64Array], window_ns: int) -> list[int] | None:
    """One position per sorted list so that the chosen times span least; None if over ``window_ns``."""
    heap = [(int(times[0]), i, 0) for i, times in enumerate(lists)]
    heapq.heapify(heap)
    high = max(item[0] for item in heap)
    positions = [0] * len(lists)
    best_span, best = high - heap[0][0], list(positions)
    while True:
        low, i, j = heapq.heappop(heap)
        if high - low < best_span:
            best_span, best = high - low, list(positions)
        if j + 1 == lists[i].size:
            break
        positions[i] = j + 1
        value = int(lists[i][j + 1])
        high = max(high, value)
        heapq.heappush(heap, (value, i, j + 1))
    return best if best_span <= window_ns else None


def _ordered_selection(lists: Sequence[Int64Array], window_ns: int) -> list[int] | None:
    """Positions with non-decreasing times around the cycle from some start, spanning least."""
    best: tuple[int, list[int]] | None = None
    for rotation in range(len(lists)):
        for start in range(min(lists[rotation].size, ORDERED_STARTS_MAX)):
            chosen = _greedy_from(lists, rotation, start)
            if chosen is None:
                break  # a later start only finishes later
            span, positions = chosen
            if best is None or span < best[0]:
                best = (span, positions)
    return best[1] if best is not None and best[0] <= window_ns else None


def _greedy_from(lists: Sequence[Int64Array], rotation: int, start: int) -> tuple[int, list[int]] | None:
    """The earliest time-ordered completion from ``lists[rotation][start]``: (span, positions)."""
    count = len(lists)
    positions = [0] * count
    positions[rotation] = start
    now = first = int(lists[rotation][start])
    for step in range(1, count):
        hop = (rotation + step) % count
        j = int(np.searchsorted(lists[hop], now, side="left"))
        if j == lists[hop].size:
            return None
        positions[hop], now = j, int(lists[hop][j])
    return now - first, positions
