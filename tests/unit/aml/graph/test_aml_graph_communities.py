"""Components and mule-network communities."""

from __future__ import annotations

import numpy as np

from netfin.aml.graph import IgraphEngine, MuleParams, TxEdges

HOUR_NS = 3_600 * 10**9
ENGINE = IgraphEngine()


def test_components_are_weak_and_largest_first() -> None:
    edges = TxEdges.from_arrays([0, 1, 5, 7, 9], [1, 2, 6, 5, 9], [1, 2, 3, 4, 5], [10, 20, 30, 40, 50])
    components = ENGINE.components(edges)
    assert [(c.members, c.edge_count, c.amount_total_minor) for c in components] == [
        ((0, 1, 2), 2, 30),
        ((5, 6, 7), 2, 70),
    ]
    assert [c.members for c in ENGINE.components(edges, size_min=1)][-1] == (9,)


def _mule_ring_and_background(seed: int) -> tuple[TxEdges, set[int]]:
    """Three mules each collect from five payers and pay on within the hour to one collector."""
    rng = np.random.default_rng(seed)
    src: list[int] = []
    dst: list[int] = []
    ts: list[int] = []
    amounts: list[int] = []
    mules = [100, 101, 102]
    for m, mule in enumerate(mules):
        for p in range(5):
            payer = 200 + 5 * m + p
            src, dst = [*src, payer], [*dst, mule]
            ts, amounts = [*ts, (10 * m + p) * HOUR_NS], [*amounts, 20_000]
        src, dst = [*src, mule], [*dst, 300]
        ts, amounts = [*ts, (10 * m + 5) * HOUR_NS], [*amounts, 99_000]
    # Ordinary accounts: payments among 0..79 that stay put.
    for _ in range(400):
        a, b = rng.integers(0, 80, 2)
        src, dst = [*src, int(a)], [*dst, int(b)]
        ts, amounts = [*ts, int(rng.integers(0, 1_000)) * HOUR_NS], [*amounts, int(rng.integers(100, 5_000))]
    return TxEdges.from_arrays(src, dst, ts, amounts), set(mules)


def test_a_planted_mule_network_ranks_first() -> None:
    edges, mules = _mule_ring_and_background(seed=1)
    params = MuleParams(payers_min=4, dwell_ns=2 * HOUR_NS, pass_through_bps_min=8_000, quick_out_bps_min=1)
    found = ENGINE.communities(edges, params)
    assert found, "the mule ring must be reported"
    top = found[0]
    assert set(top.mule_members) == mules
    assert mules <= set(top.members)
    assert top.score >= 3 / len(top.members)
    assert top.amount_internal_minor > 0
    assert all(m not in mules for c in found[1:] for m in c.mule_members)


def test_communities_repeat_exactly_with_the_same_seed() -> None:
    edges, _ = _mule_ring_and_background(seed=2)
    params = MuleParams(payers_min=2, mule_members_min=0, pass_through_bps_min=0, quick_out_bps_min=0)
    assert ENGINE.communities(edges, params) == ENGINE.communities(edges, params)


def test_accounts_that_keep_the_money_are_not_mules() -> None:
    payers = list(range(1, 8))
    edges = TxEdges.from_arrays(payers, [0] * 7, [HOUR_NS] * 7, [1_000] * 7)
    params = MuleParams(payers_min=3, mule_members_min=1, quick_out_bps_min=0, pass_through_bps_min=5_000)
    assert ENGINE.communities(edges, params) == []
