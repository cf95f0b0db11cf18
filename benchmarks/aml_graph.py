"""Benchmarks of netfin.aml.graph: cycles, hubs, communities, AMLSim recall and a 10-million batch scan.

Run: .venv/bin/python benchmarks/aml_graph.py [--only NAME ...] [--batch-size N]
Results are recorded in docs/aml-graph.md.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections import Counter
from pathlib import Path

import numpy as np

from netfin.aml.graph import GraphLimits, IgraphEngine, MuleParams, TxEdges

DAY_NS = 86_400 * 10**9
AMLSIM = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "aml" / "amlsim_20K_fanin200cycle200"
)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(label: str, call):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = call()
    print(f"{label}: {time.perf_counter() - started:.2f} s, peak RSS {_rss_mb():.0f} MB")
    return result


def random_edges(nodes: int, count: int, seed: int, days: int = 1) -> TxEdges:
    rng = np.random.default_rng(seed)
    return TxEdges.from_arrays(
        rng.integers(0, nodes, count),
        rng.integers(0, nodes, count),
        rng.integers(0, days * DAY_NS, count),
        rng.integers(100, 100_000, count),
    )


def bench_random_cycles() -> None:
    edges = random_edges(20_000, 100_000, seed=1)
    engine = IgraphEngine(GraphLimits(window_ns=7 * DAY_NS, time_budget_ms=120_000, cycles_max=10**6))
    found = _timed("cycles <= 6, random 20k nodes / 100k edges", lambda: engine.cycles(edges))
    print("  cycles by length", sorted(Counter(c.length for c in found.cycles).items()), found.truncated)


def load_amlsim() -> tuple[TxEdges, np.ndarray]:
    nodes = np.loadtxt(AMLSIM / "nodes.csv", delimiter=",", skiprows=1)
    rows = np.loadtxt(AMLSIM / "transactions.csv", delimiter=",", skiprows=1)
    edges = TxEdges.from_arrays(
        rows[:, 0].astype(np.int64),
        rows[:, 1].astype(np.int64),
        rows[:, 3].astype(np.int64) * DAY_NS,  # one AMLSim step is taken as one day
        np.rint(rows[:, 2] * 100).astype(np.int64),
        node_count=nodes.shape[0],
    )
    return edges, nodes[:, 1] == 1


def _score(label: str, flagged: set[int], fraud: np.ndarray) -> None:
    hits = int(fraud[list(flagged)].sum()) if flagged else 0
    print(
        f"  {label}: flagged {len(flagged)}, true {hits}, recall {hits / fraud.sum():.3f}, "
        f"precision {hits / max(1, len(flagged)):.3f}"
    )


def bench_amlsim() -> None:
    if not AMLSIM.exists():
        print("AMLSim data absent; skipped")
        return
    edges, fraud = load_amlsim()
    print(f"AMLSim: {len(edges)} transfers, {int(fraud.sum())} laundering accounts")
    for window_days, degree_max in ((7, 50), (30, 50), (150, 50)):
        limits = GraphLimits(window_ns=window_days * DAY_NS, degree_max=degree_max, cycles_max=10**6)
        engine = IgraphEngine(limits)
        found = _timed(
            f"AMLSim cycles, window {window_days} d, degree_max {degree_max}",
            lambda engine=engine: engine.cycles(edges),
        )
        print(f"  {len(found.cycles)} cycles, {len(found.hubs)} hubs, truncated {found.truncated}")
        _score("accounts on a cycle", {n for c in found.cycles for n in c.nodes}, fraud)
    engine = IgraphEngine(GraphLimits(degree_max=50))
    fans = _timed(
        "AMLSim fan-in, K=5, window 30 d",
        lambda: engine.fan_patterns(edges, counterparties_min=5, window_ns=30 * DAY_NS),
    )
    fan_in = [f for f in fans if f.direction == "in"]
    _score("fan-in hubs", {f.hub for f in fan_in}, fraud)
    _score("fan-in hubs and payers", {n for f in fan_in for n in (f.hub, *f.counterparties)}, fraud)
    spreads = _timed(
        "AMLSim scatter-gather, K=3, window 30 d",
        lambda: engine.scatter_gather(edges, intermediaries_min=3, window_ns=30 * DAY_NS),
    )
    _score(
        "scatter-gather accounts",
        {n for s in spreads for n in (*s.sources, *s.intermediaries, *s.sinks)},
        fraud,
    )
    communities = _timed(
        "AMLSim communities", lambda: engine.communities(edges, MuleParams(dwell_ns=10 * DAY_NS))
    )
    _score("mule members", {n for c in communities for n in c.mule_members}, fraud)
    networks = _timed(
        "AMLSim mule networks (sweeps)", lambda: engine.mule_networks(edges, MuleParams(dwell_ns=10 * DAY_NS))
    )
    _score(
        "mule networks (mules and collectors)", {n for m in networks for n in (*m.mules, m.collector)}, fraud
    )


def bench_hubs() -> None:
    rng = np.random.default_rng(5)
    base = random_edges(20_000, 100_000, seed=2, days=30)
    hubs = rng.integers(0, 20_000, 20)
    spokes = rng.integers(0, 20_000, (20, 5_000))
    src = np.concatenate([base.src, np.repeat(hubs, 5_000), spokes.ravel()])
    dst = np.concatenate([base.dst, spokes.ravel(), np.repeat(hubs, 5_000)])
    edges = TxEdges.from_arrays(
        src, dst, np.zeros(src.size, dtype=np.int64), np.ones(src.size, dtype=np.int64)
    )
    for budget_ms in (2_000, 10_000):
        engine = IgraphEngine(GraphLimits(window_ns=7 * DAY_NS, degree_max=200, time_budget_ms=budget_ms))
        found = _timed(
            f"cycles with 20 hubs x 10k spokes (300k edges), budget {budget_ms} ms",
            lambda engine=engine: engine.cycles(edges),
        )
        print(
            f"  {len(found.cycles)} cycles, hubs reported {len(found.hubs)},",
            f"truncated {found.truncated_reason}",
        )
    engine = IgraphEngine(GraphLimits(window_ns=7 * DAY_NS, degree_max=100_000, time_budget_ms=5_000))
    found = _timed(
        "same graph, hubs searched (degree_max 100000), budget 5000 ms", lambda: engine.cycles(edges)
    )
    print(f"  {len(found.cycles)} cycles, truncated {found.truncated_reason}")


def bench_communities() -> None:
    edges = random_edges(200_000, 1_000_000, seed=3, days=30)
    engine = IgraphEngine()
    found = _timed(
        "communities (Leiden) + mule scoring, 200k nodes / 1M edges",
        lambda: engine.communities(edges, MuleParams()),
    )
    print(f"  {len(found)} communities reported")
    networks = _timed(
        "mule networks (sweeps), 200k nodes / 1M edges", lambda: engine.mule_networks(edges, MuleParams())
    )
    print(f"  {len(networks)} mule networks reported")
    components = _timed("weak components, 1M edges", lambda: engine.components(edges))
    print(f"  {len(components)} components, largest {len(components[0].members)}")


def _plant(rng, src, dst, ts, amount, accounts):  # type: ignore[no-untyped-def]
    """100 triangles inside a day, 20 fan-ins of 30 payers, 20 scatter-gathers through 5 mules."""
    extra_src: list[int] = []
    extra_dst: list[int] = []
    extra_ts: list[int] = []
    base = accounts  # planted accounts get fresh codes
    for i in range(100):
        a, b, c = base + 3 * i, base + 3 * i + 1, base + 3 * i + 2
        day = int(rng.integers(0, 85)) * DAY_NS
        extra_src += [a, b, c]
        extra_dst += [b, c, a]
        extra_ts += [day, day + 3_600 * 10**9, day + 7_200 * 10**9]
    base += 300
    for i in range(20):
        hub, day = base + 31 * i, int(rng.integers(0, 85)) * DAY_NS
        extra_src += list(range(hub + 1, hub + 31))
        extra_dst += [hub] * 30
        extra_ts += [day + k * 60 * 10**9 for k in range(30)]
    base += 20 * 31
    for i in range(20):
        source, sink, day = base + 7 * i, base + 7 * i + 6, int(rng.integers(0, 85)) * DAY_NS
        mules = list(range(source + 1, source + 6))
        extra_src += [source] * 5 + mules
        extra_dst += mules + [sink] * 5
        extra_ts += [day] * 5 + [day + 3_600 * 10**9] * 5
    count = len(extra_src)
    return (
        np.concatenate([src, extra_src]),
        np.concatenate([dst, extra_dst]),
        np.concatenate([ts, extra_ts]),
        np.concatenate([amount, rng.integers(100, 500_000, count)]),
    )


def bench_batch(count: int) -> None:
    """``count`` transfers among 1M accounts over 90 days, with planted cycles, fans and spreads."""
    rng = np.random.default_rng(11)
    accounts, days = 1_000_000, 90
    src = rng.integers(0, accounts, count)
    dst = rng.integers(0, accounts, count)
    ts = rng.integers(0, days * DAY_NS, count)
    amount = rng.integers(100, 500_000, count)
    src, dst, ts, amount = _plant(rng, src, dst, ts, amount, accounts)
    started = time.perf_counter()
    edges = TxEdges.from_arrays(src, dst, ts, amount)
    print(f"build TxEdges of {len(edges)} transfers: {time.perf_counter() - started:.2f} s")
    del src, dst, ts, amount
    engine = IgraphEngine(
        GraphLimits(window_ns=2 * DAY_NS, degree_max=200, time_budget_ms=600_000, cycles_max=10**6)
    )
    started = time.perf_counter()
    cycles = _timed("  cycles (window 2 d)", lambda: engine.cycles(edges))
    fans = _timed(
        "  fans (K=20, window 2 d)",
        lambda: engine.fan_patterns(edges, counterparties_min=20, window_ns=2 * DAY_NS),
    )
    spreads = _timed(
        "  scatter-gather (K=3, window 2 d)",
        lambda: engine.scatter_gather(edges, intermediaries_min=3, window_ns=2 * DAY_NS),
    )
    networks = _timed(
        "  mule networks (sweeps, dwell 2 d)", lambda: engine.mule_networks(edges, MuleParams())
    )
    print(
        f"batch scan of {count} transfers: {time.perf_counter() - started:.1f} s, "
        f"peak RSS {_rss_mb():.0f} MB; {len(cycles.cycles)} cycles, {len(fans)} fans, "
        f"{len(spreads)} spreads, {len(networks)} mule networks, truncated {cycles.truncated}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", default=["random", "amlsim", "hubs", "communities", "batch"])
    parser.add_argument("--batch-size", type=int, default=10_000_000)
    args = parser.parse_args()
    benches = {
        "random": bench_random_cycles,
        "amlsim": bench_amlsim,
        "hubs": bench_hubs,
        "communities": bench_communities,
        "batch": lambda: bench_batch(args.batch_size),
    }
    for name in args.only:
        benches[name]()


if __name__ == "__main__":
    main()
