"""Fan-in/fan-out hubs, scatter-gather and gather-scatter."""

from __future__ import annotations

import json

import numpy as np
import pytest

from netfin.aml.graph import GraphInputInvalid, GraphLimits, IgraphEngine, TxEdges

DAY_NS = 86_400 * 10**9
HOUR_NS = 3_600 * 10**9
ENGINE = IgraphEngine(GraphLimits(degree_max=50))


def _edges(src: list[int], dst: list[int], ts: list[int], amounts: list[int] | None = None) -> TxEdges:
    return TxEdges.from_arrays(src, dst, ts, amounts or [100] * len(src))


def test_fan_in_needs_k_distinct_payers_inside_the_window() -> None:
    payers = list(range(1, 13))
    # Twelve payers on day 10 (one pays twice), ten more spread a day apart from day 30.
    src = [*payers, 1, *range(20, 30)]
    dst = [0] * 13 + [0] * 10
    ts = [10 * DAY_NS + h * HOUR_NS for h in range(13)] + [(30 + i) * DAY_NS for i in range(10)]
    fans = ENGINE.fan_patterns(_edges(src, dst, ts), counterparties_min=10, window_ns=2 * DAY_NS)
    assert len(fans) == 1
    fan = fans[0]
    assert (fan.hub, fan.direction, fan.counterparties) == (0, "in", tuple(payers))
    assert fan.edge_count == 13 and fan.amount_total_minor == 1_300
    assert fan.window_end_ns - fan.window_start_ns == 2 * DAY_NS
    assert json.loads(json.dumps(fan.evidence(_edges(src, dst, ts))))["counterparty_count"] == 12


def test_fan_out_and_fan_in_are_told_apart() -> None:
    src = [7] * 5 + list(range(10, 15))
    dst = list(range(1, 6)) + [8] * 5
    fans = ENGINE.fan_patterns(_edges(src, dst, [DAY_NS] * 10), counterparties_min=5, window_ns=DAY_NS)
    assert {(f.hub, f.direction) for f in fans} == {(7, "out"), (8, "in")}


def test_one_burst_seen_by_overlapping_windows_is_reported_once() -> None:
    src = list(range(1, 9))
    ts = [DAY_NS + i * HOUR_NS for i in range(8)]
    fans = ENGINE.fan_patterns(_edges(src, [0] * 8, ts), counterparties_min=8, window_ns=DAY_NS)
    assert len(fans) == 1


def test_scatter_gather_through_k_intermediaries_to_one_sink() -> None:
    mules = [11, 12, 13, 14]
    src = [1] * 4 + mules + [2, 2] + [15]
    dst = mules + [99] * 4 + [11, 12] + [99]
    ts = [DAY_NS] * 4 + [DAY_NS + HOUR_NS] * 4 + [DAY_NS] * 2 + [DAY_NS]
    amounts = [1_000] * 4 + [950] * 4 + [5, 5] + [7]
    found = ENGINE.scatter_gather(_edges(src, dst, ts, amounts), intermediaries_min=4, window_ns=DAY_NS)
    spreads = [s for s in found if s.kind == "scatter_gather"]
    assert len(spreads) == 1
    spread = spreads[0]
    assert (spread.sources, spread.intermediaries, spread.sinks) == ((1,), tuple(mules), (99,))
    assert (spread.amount_in_minor, spread.amount_out_minor) == (4_000, 3_800)
    assert sorted(spread.edges) == list(range(8))


def test_scatter_gather_in_time_order_needs_the_payment_in_before_the_payment_out() -> None:
    mules = [11, 12, 13]
    src = [1] * 3 + mules
    dst = mules + [99] * 3
    ts = [5 * HOUR_NS] * 3 + [HOUR_NS] * 3  # paid out before paid in
    edges = _edges(src, dst, ts)
    assert ENGINE.scatter_gather(edges, intermediaries_min=3, window_ns=DAY_NS) == []
    loose = ENGINE.scatter_gather(edges, intermediaries_min=3, window_ns=DAY_NS, time_ordered=False)
    assert [s.intermediaries for s in loose] == [tuple(mules)]


def test_scatter_gather_beyond_the_window_is_not_found() -> None:
    mules = [11, 12, 13]
    edges = _edges([1] * 3 + mules, mules + [99] * 3, [0] * 3 + [3 * DAY_NS] * 3)
    assert ENGINE.scatter_gather(edges, intermediaries_min=3, window_ns=2 * DAY_NS) == []


def test_gather_scatter_collects_many_payers_paid_on_to_many_payees() -> None:
    src = [1, 2, 3, 4] + [50] * 4
    dst = [50] * 4 + [61, 62, 63, 64]
    ts = [HOUR_NS] * 4 + [2 * HOUR_NS] * 4
    found = ENGINE.scatter_gather(_edges(src, dst, ts), intermediaries_min=4, window_ns=DAY_NS)
    assert [(s.kind, s.sources, s.intermediaries, s.sinks) for s in found] == [
        ("gather_scatter", (1, 2, 3, 4), (50,), (61, 62, 63, 64))
    ]


def test_busy_intermediaries_are_not_counted_as_mules() -> None:
    mules = [11, 12, 13]
    src = [1] * 3 + mules + [12] * 60
    dst = mules + [99] * 3 + list(range(200, 260))
    edges = _edges(src, dst, [HOUR_NS] * 3 + [2 * HOUR_NS] * 63)
    found = ENGINE.scatter_gather(edges, intermediaries_min=2, window_ns=DAY_NS)
    assert [s.intermediaries for s in found if s.kind == "scatter_gather"] == [(11, 13)]


@pytest.mark.parametrize(("branches", "window"), [(1, DAY_NS), (3, 1)])
def test_pattern_parameters_are_checked(branches: int, window: int) -> None:
    edges = _edges([0], [1], [0])
    with pytest.raises(GraphInputInvalid):
        ENGINE.fan_patterns(edges, counterparties_min=branches, window_ns=window)
    with pytest.raises(GraphInputInvalid):
        ENGINE.scatter_gather(edges, intermediaries_min=branches, window_ns=window)


def test_a_large_fan_keeps_its_evidence_bounded() -> None:
    spokes = np.arange(1, 5_001, dtype=np.int64)
    edges = TxEdges.from_arrays(spokes, np.zeros_like(spokes), np.zeros_like(spokes), np.ones_like(spokes))
    fan = ENGINE.fan_patterns(edges, counterparties_min=100, window_ns=DAY_NS)[0]
    evidence = fan.evidence(edges)
    assert fan.edge_count == 5_000 and len(fan.counterparties) == 5_000
    assert len(evidence["edges"]) == 1_000 and evidence["edges_truncated"] is True  # type: ignore[arg-type]
