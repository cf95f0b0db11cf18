"""Round-tripping: windowed, bounded cycle search."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from netfin.aml.graph import GraphLimits, IgraphEngine, TxEdges

DAY_NS = 86_400 * 10**9
WEEK = GraphLimits(window_ns=7 * DAY_NS)


def _ring(nodes: list[int], days: list[int], amount: int = 1_000) -> tuple[list[int], list[int], list[int]]:
    src = nodes
    dst = nodes[1:] + nodes[:1]
    return src, dst, [d * DAY_NS for d in days]


def _edges(src: list[int], dst: list[int], ts: list[int], amounts: list[int] | None = None) -> TxEdges:
    return TxEdges.from_arrays(src, dst, ts, amounts or [1_000] * len(src))


def test_a_cycle_of_three_inside_the_window_is_found_once() -> None:
    src, dst, ts = _ring([4, 2, 9], [10, 11, 12])
    noise_src, noise_dst = [4, 9, 30], [30, 31, 32]
    edges = _edges(src + noise_src, dst + noise_dst, ts + [11 * DAY_NS] * 3, [100, 90, 80, 5, 5, 5])
    found = IgraphEngine(WEEK).cycles(edges)
    assert [c.nodes for c in found.cycles] == [(2, 9, 4)]
    cycle = found.cycles[0]
    assert cycle.edges == (1, 2, 0)
    assert (cycle.first_ts_ns, cycle.last_ts_ns) == (10 * DAY_NS, 12 * DAY_NS)
    assert (cycle.amount_total_minor, cycle.amount_min_minor) == (270, 80)
    assert not found.truncated and found.hubs == ()


def test_the_same_cycle_spread_beyond_the_window_is_not_found() -> None:
    edges = _edges(*_ring([0, 1, 2], [1, 5, 9]))  # spans 8 days
    assert IgraphEngine(WEEK).cycles(edges).cycles == ()
    assert len(IgraphEngine(GraphLimits(window_ns=8 * DAY_NS)).cycles(edges).cycles) == 1


def test_a_cycle_that_fits_the_window_is_found_wherever_the_window_boundaries_fall() -> None:
    for offset_hours in range(0, 24 * 7, 13):
        start = 100 * DAY_NS + offset_hours * 3_600 * 10**9
        edges = _edges([0, 1, 2], [1, 2, 0], [start, start + 3 * DAY_NS, start + 7 * DAY_NS])
        assert len(IgraphEngine(WEEK).cycles(edges).cycles) == 1, offset_hours


def test_cycles_of_six_are_found_and_of_seven_are_not() -> None:
    six = _ring(list(range(6)), [1] * 6)
    seven = _ring(list(range(10, 17)), [1] * 7)
    edges = _edges(six[0] + seven[0], six[1] + seven[1], six[2] + seven[2])
    assert [c.nodes for c in IgraphEngine(WEEK).cycles(edges).cycles] == [(0, 1, 2, 3, 4, 5)]
    shorter = IgraphEngine(GraphLimits(window_ns=7 * DAY_NS, cycle_length_max=5)).cycles(edges)
    assert shorter.cycles == ()


def test_time_ordered_cycles_need_transfers_to_follow_each_other() -> None:
    ordered = _ring([0, 1, 2], [3, 4, 5])
    rotated = _ring([10, 11, 12], [5, 3, 4])  # 11 -> 12 -> 10 is in order
    backwards = _ring([20, 21, 22], [5, 4, 3])
    edges = _edges(
        ordered[0] + rotated[0] + backwards[0],
        ordered[1] + rotated[1] + backwards[1],
        ordered[2] + rotated[2] + backwards[2],
    )
    engine = IgraphEngine(WEEK)
    assert {c.nodes for c in engine.cycles(edges).cycles} == {(0, 1, 2), (10, 11, 12), (20, 21, 22)}
    timed = engine.cycles(edges, time_ordered=True).cycles
    assert {c.nodes for c in timed} == {(0, 1, 2), (10, 11, 12)}
    rotated_cycle = next(c for c in timed if c.nodes == (10, 11, 12))
    assert (rotated_cycle.first_ts_ns, rotated_cycle.last_ts_ns) == (3 * DAY_NS, 5 * DAY_NS)


def test_time_ordered_uses_a_later_transfer_when_the_first_is_too_early() -> None:
    # 0->1 on days 4 and 6, 1->2 on day 3, 2->0 on day 5: in order only as 1->2, 2->0, 0->1 (day 6).
    edges = _edges([0, 0, 1, 2], [1, 1, 2, 0], [d * DAY_NS for d in (4, 6, 3, 5)])
    timed = IgraphEngine(WEEK).cycles(edges, time_ordered=True).cycles
    assert len(timed) == 1
    assert timed[0].edges == (1, 2, 3)
    assert (timed[0].first_ts_ns, timed[0].last_ts_ns) == (3 * DAY_NS, 6 * DAY_NS)
    untimed = IgraphEngine(WEEK).cycles(edges).cycles
    assert untimed[0].edges == (0, 2, 3)  # the smallest span, days 3..5, ignores order


def test_a_hub_with_ten_thousand_spokes_is_reported_and_the_search_stays_fast() -> None:
    spokes = np.arange(1, 10_001, dtype=np.int64)
    src = np.concatenate([np.zeros_like(spokes), spokes, [20_001, 20_002, 20_003]])
    dst = np.concatenate([spokes, np.zeros_like(spokes), [20_002, 20_003, 20_001]])
    ts = np.full(src.size, DAY_NS, dtype=np.int64)
    edges = TxEdges.from_arrays(src, dst, ts, np.full(src.size, 100, dtype=np.int64))
    engine = IgraphEngine(GraphLimits(window_ns=7 * DAY_NS, degree_max=200, time_budget_ms=2_000))
    found = engine.cycles(edges)
    # "Fast" as work, not as this host's wall clock: the hub's 10,000 spokes are never grown
    # (with the hub searched, the same graph grows 10,003 paths).
    assert found.search_work <= 10
    assert found.hubs == (0,)
    assert [c.nodes for c in found.cycles] == [(20_001, 20_002, 20_003)]
    assert not found.truncated


class _SteppingClock:
    """Moves ``step_ns`` every time it is read."""

    def __init__(self, step_ns: int) -> None:
        self.now = 0
        self.step_ns = step_ns

    def __call__(self) -> int:
        self.now += self.step_ns
        return self.now


def _triangles_in_separate_weeks(count: int) -> TxEdges:
    src: list[int] = []
    dst: list[int] = []
    ts: list[int] = []
    for i in range(count):
        ring = _ring([3 * i, 3 * i + 1, 3 * i + 2], [30 * i + 1, 30 * i + 2, 30 * i + 3])
        src, dst, ts = src + ring[0], dst + ring[1], ts + ring[2]
    return _edges(src, dst, ts)


def test_a_search_past_its_time_budget_stops_and_says_so() -> None:
    edges = _triangles_in_separate_weeks(50)
    clock = _SteppingClock(step_ns=1_000_000)  # 1 ms per reading
    engine = IgraphEngine(GraphLimits(window_ns=7 * DAY_NS, time_budget_ms=10), clock_ns=clock)
    found = engine.cycles(edges)
    assert found.truncated and found.truncated_reason == "time_budget"
    assert 0 < len(found.cycles) < 50
    assert len(IgraphEngine(WEEK).cycles(edges).cycles) == 50


def test_a_dense_graph_under_a_tiny_budget_returns_promptly_and_truncated() -> None:
    rng = np.random.default_rng(3)
    src, dst = rng.integers(0, 3_000, 30_000), rng.integers(0, 3_000, 30_000)
    edges = TxEdges.from_arrays(src, dst, np.full(src.size, DAY_NS), np.ones(src.size, dtype=np.int64))
    # The budget is counted on an injected clock (1 ms per reading), not on this host's wall
    # clock, which a loaded CI host makes slow: "promptly" means the search stops within
    # the readings the budget allows, one block of paths per reading at most.
    clock = _SteppingClock(step_ns=1_000_000)
    engine = IgraphEngine(GraphLimits(window_ns=7 * DAY_NS, time_budget_ms=50), clock_ns=clock)
    found = engine.cycles(edges)
    assert found.truncated and found.truncated_reason == "time_budget"
    assert clock.now <= 52 * 1_000_000  # the start, 50 ms of budget, and the reading that saw it spent


def test_the_cycle_cap_truncates() -> None:
    found = IgraphEngine(GraphLimits(window_ns=7 * DAY_NS, cycles_max=10)).cycles(
        _triangles_in_separate_weeks(30)
    )
    assert len(found.cycles) == 10 and found.truncated and found.truncated_reason == "cycles_max"


@st.composite
def _graphs(draw: st.DrawFn) -> tuple[list[int], list[int], list[int]]:
    size = draw(st.integers(2, 40))
    nodes = st.integers(0, 9)
    src = draw(st.lists(nodes, min_size=size, max_size=size))
    dst = draw(st.lists(nodes, min_size=size, max_size=size))
    days = draw(st.lists(st.integers(0, 20), min_size=size, max_size=size))
    return src, dst, [d * DAY_NS for d in days]


def _canonical(nodes: list[int]) -> tuple[int, ...]:
    first = nodes.index(min(nodes))
    return tuple(nodes[first:] + nodes[:first])


@settings(max_examples=60, deadline=None)
@given(graph=_graphs(), seed=st.integers(0, 2**32 - 1), ordered=st.booleans())
def test_relabelling_nodes_and_permuting_edges_does_not_change_the_cycles(
    graph: tuple[list[int], list[int], list[int]], seed: int, ordered: bool
) -> None:
    src, dst, ts = (np.asarray(c, dtype=np.int64) for c in graph)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(50)[:10]  # node i becomes labels[i]
    order = rng.permutation(src.size)
    engine = IgraphEngine(WEEK)
    plain = engine.cycles(
        TxEdges.from_arrays(src, dst, ts, np.ones(src.size, dtype=np.int64)), time_ordered=ordered
    )
    moved_edges = TxEdges.from_arrays(
        labels[src[order]], labels[dst[order]], ts[order], np.ones(src.size, dtype=np.int64)
    )
    moved = engine.cycles(moved_edges, time_ordered=ordered)
    back = {int(labels[i]): i for i in range(10)}
    assert {(c.nodes, c.last_ts_ns - c.first_ts_ns) for c in plain.cycles} == {
        (_canonical([back[n] for n in c.nodes]), c.last_ts_ns - c.first_ts_ns) for c in moved.cycles
    }


def _reference_cycles(src: list[int], dst: list[int], length_max: int) -> set[tuple[int, ...]]:
    """Plain depth-first search from each smallest node: slow, obviously right."""
    out: dict[int, set[int]] = {}
    for s, d in zip(src, dst, strict=True):
        if s != d:
            out.setdefault(s, set()).add(d)
    found: set[tuple[int, ...]] = set()

    def extend(path: list[int]) -> None:
        for nxt in out.get(path[-1], ()):
            if nxt == path[0] and len(path) >= 2:
                found.add(tuple(path))
            elif nxt > path[0] and nxt not in path and len(path) < length_max:
                extend([*path, nxt])

    for root in out:
        extend([root])
    return found


@settings(max_examples=40, deadline=None)
@given(graph=_graphs())
def test_with_a_wide_window_every_cycle_a_plain_search_finds_is_found(
    graph: tuple[list[int], list[int], list[int]],
) -> None:
    src, dst, ts = graph
    expected = _reference_cycles(src, dst, 6)
    engine = IgraphEngine(GraphLimits(window_ns=30 * DAY_NS))
    edges = TxEdges.from_arrays(src, dst, ts, [1] * len(src))
    assert {c.nodes for c in engine.cycles(edges).cycles} == expected


def test_every_cycle_is_found_whatever_the_vertex_order() -> None:
    # igraph 1.0's simple_cycles finds 4 of these 5 cycles with this labelling (igraph/igraph#2911).
    pairs = [(3, 2), (3, 0), (2, 4), (1, 3), (1, 4), (4, 3), (4, 0), (0, 1)]
    edges = _edges([a for a, _ in pairs], [b for _, b in pairs], [DAY_NS] * len(pairs))
    found = {c.nodes for c in IgraphEngine(WEEK).cycles(edges).cycles}
    assert found == {(0, 1, 3), (0, 1, 3, 2, 4), (0, 1, 4), (0, 1, 4, 3), (2, 4, 3)}
