"""Mule networks: sweeps (collect from several payers, pay it on within the dwell) grouped by collector."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from netfin.aml.graph import IgraphEngine, MuleParams, TxEdges
from netfin.aml.graph.mules import sweeps

HOUR_NS = 3_600 * 10**9
ENGINE = IgraphEngine()
PARAMS = MuleParams(payers_min=3, pass_through_bps_min=8_000, dwell_ns=48 * HOUR_NS, mule_members_min=2)


def _network(*, salary: bool) -> TxEdges:
    """Mules 100..102 collect from four payers each and sweep 95% to collector 300 a day later.

    With ``salary`` each mule also has a month of its own salary (from employer 50) and rent
    (to landlord 60): its whole-history pass-through is diluted, its sweep's window is not.
    """
    rows: list[tuple[int, int, int, int]] = []
    for m, mule in enumerate((100, 101, 102)):
        start = (100 + 10 * m) * HOUR_NS
        rows += [(200 + 10 * m + p, mule, start + p * HOUR_NS, 5_000_00) for p in range(4)]
        rows.append((mule, 300, start + 26 * HOUR_NS, 19_000_00))
        if salary:
            rows += [(50, mule, d * 24 * HOUR_NS, 30_000_00) for d in (1, 31)]
            rows.append((mule, 60, 25 * 24 * HOUR_NS, 25_000_00))
    src, dst, ts, amount = (list(column) for column in zip(*sorted(rows, key=lambda r: r[2]), strict=True))
    return TxEdges.from_arrays(src, dst, ts, amount)


def test_a_planted_network_is_its_collector_mules_and_feeders() -> None:
    [network] = ENGINE.mule_networks(_network(salary=True), PARAMS)
    assert network.collector == 300 and set(network.mules) == {100, 101, 102}
    assert set(network.feeders) == {200 + 10 * m + p for m in range(3) for p in range(4)}
    assert network.sweep_count == 3 and network.edge_count == 3 + 12
    assert network.amount_swept_minor == 3 * 19_000_00 == network.amount_collected_minor
    assert network.score == 1.0
    evidence = network.evidence(_network(salary=True))
    assert evidence["pattern"] == "mule_network" and evidence["collector"] == 300


def test_one_mule_is_not_a_network_and_one_payer_is_not_a_sweep() -> None:
    edges = _network(salary=False)
    keep = np.flatnonzero((edges.src != 101) & (edges.dst != 101) & (edges.src != 102) & (edges.dst != 102))
    assert ENGINE.mule_networks(edges.take(keep), PARAMS) == []
    payroll = TxEdges.from_arrays(
        [50, 50, 1, 2], [1, 2, 300, 300], [0, 1, 2 * HOUR_NS, 3 * HOUR_NS], [100] * 4
    )
    assert ENGINE.mule_networks(payroll, PARAMS) == []  # each passes on all of it, but from one payer


def test_a_window_of_more_inflows_than_the_bound_is_a_hub_not_a_sweep() -> None:
    edges = _network(salary=False)
    assert (
        ENGINE.mule_networks(edges, MuleParams(payers_min=3, sweep_inflows_max=3, dwell_ns=48 * HOUR_NS))
        == []
    )


def _reference(edges: TxEdges, params: MuleParams) -> set[int]:
    """Sweep rows by the definition, one transfer at a time."""
    found = set()
    for k in range(edges.src.size):
        a, t = int(edges.src[k]), int(edges.ts_ns[k])
        if a == int(edges.dst[k]):
            continue
        inside = [
            j for j in range(edges.src.size)
            if edges.src[j] != edges.dst[j] and t - params.dwell_ns <= int(edges.ts_ns[j]) <= t
        ]  # fmt: skip
        feeding = [j for j in inside if int(edges.dst[j]) == a]
        money_in = sum(int(edges.amount_minor[j]) for j in feeding)
        money_out = sum(int(edges.amount_minor[j]) for j in inside if int(edges.src[j]) == a)
        payers = {int(edges.src[j]) for j in feeding}
        big, small = max(money_in, money_out), min(money_in, money_out)
        if (
            len(payers) >= params.payers_min
            and len(feeding) <= params.sweep_inflows_max
            and small * 10_000 // max(big, 1) >= params.pass_through_bps_min
        ):
            found.add(k)
    return found


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 40), st.integers(1, 1_000)),
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 3),
    st.integers(0, 10_000),
)
def test_vectorised_sweeps_match_the_definition(
    rows: list[tuple[int, int, int, int]], payers_min: int, pass_bps: int
) -> None:
    rows.sort(key=lambda r: r[2])
    src, dst, ts, amount = (list(column) for column in zip(*rows, strict=True))
    edges = TxEdges.from_arrays(src, dst, [t * HOUR_NS for t in ts], amount, node_count=7)
    params = MuleParams(payers_min=payers_min, pass_through_bps_min=pass_bps, dwell_ns=10 * HOUR_NS,
                        sweep_inflows_max=6)  # fmt: skip
    is_sweep, fed = sweeps(edges, params)
    assert set(np.flatnonzero(is_sweep).tolist()) == _reference(edges, params) == set(fed)
