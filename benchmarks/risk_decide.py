"""Fraud decisions: latency at a paced rate on one core, memory of feature state, and the payment path.

    .venv/bin/python benchmarks/risk_decide.py [--customers 20000] [--rate 2000] [--events 60000]

1. Train a model on the synthetic bank (seed 7, 30 days) with the evaluation pipeline.
2. In-process, pinned to one core: replay a held-out stream (seed 8) through ``RiskEngine.decide``
   (features, overrides, the default rule set, the champion model, the policy, reasons when not
   approved) paced at ``--rate`` decisions/s; latency = finish - scheduled start, so falling
   behind the pace counts. Once with the decision log off, once writing to SQLite.
3. Memory of the feature state per active customer after 30 days (tracemalloc, a smaller bank).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from netfin.core.clock import ManualClock
from netfin.core.ids import SeededIds
from netfin.risk.evaluation import CATEGORICAL, evaluate_history
from netfin.risk.events import table_to_events
from netfin.risk.features import MemoryStateStore, OnlineFeatures
from netfin.risk.model import Scorer, TrainConfig, load, save
from netfin.risk.rules import load_default_ruleset
from netfin.risk.service import FixedRules, RiskEngine
from netfin.risk.store import DecisionLog
from netfin.sim.bank import BankConfig, generate
from netfin.storage import open_engine

CALIBRATION = Path(__file__).resolve().parents[2] / "shared" / "data" / "fraud" / "paysim_params"


def _history(seed: int, customers: int, days: int) -> pa.Table:
    config = BankConfig(seed=seed, customers=customers, days=days, calibration_dir=CALIBRATION)
    return pa.Table.from_batches(list(generate(config)))


def _percentiles(values_us: list[float]) -> dict[str, float]:
    a = np.asarray(values_us)
    return {"p50_ms": float(np.percentile(a, 50)) / 1e3, "p99_ms": float(np.percentile(a, 99)) / 1e3,
            "max_ms": float(a.max()) / 1e3, "n": len(values_us)}  # fmt: skip


def paced(engine: RiskEngine, events: list, rate: int) -> dict[str, float]:
    """Open loop: event i starts at t0 + i / rate; latency counts any wait behind the schedule."""
    latencies: list[float] = []
    actions: dict[str, int] = {}
    start = time.perf_counter()
    for i, event in enumerate(events):
        scheduled = start + i / rate
        now = time.perf_counter()
        if now < scheduled:
            time.sleep(scheduled - now)
        decision = engine.decide(event)
        latencies.append((time.perf_counter() - scheduled) * 1e6)
        actions[decision.action.value] = actions.get(decision.action.value, 0) + 1
    elapsed = time.perf_counter() - start
    return {**_percentiles(latencies), "achieved_per_s": len(events) / elapsed, "actions": actions}


def engine_for(scorer: Scorer, log: DecisionLog | None) -> RiskEngine:
    clock = ManualClock()
    return RiskEngine(clock=clock, ids=SeededIds(clock, 1), rules=FixedRules(load_default_ruleset()),
                      features=OnlineFeatures(MemoryStateStore()), champion=scorer, log=log)  # fmt: skip


def memory(customers: int) -> None:
    """Bytes of feature state per active customer after 30 days (tracemalloc: slow, so a smaller bank)."""
    events = table_to_events(_history(9, customers, 30))
    online = OnlineFeatures(MemoryStateStore())
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for event in events:
        online.observe(event)
    state_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    payers = len({e.payer for e in events})
    print(f"feature state after 30 days of {len(events):,} events: {state_bytes / 1e6:.1f} MB, "
          f"{len(online.store):,} entities, {payers:,} active payers -> "  # type: ignore[arg-type]
          f"{state_bytes / payers / 1e3:.1f} kB per active customer", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=2_000)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--memory-customers", type=int, default=3_000)
    parser.add_argument("--model", type=Path, default=None, help="A saved artefact: skip training.")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--cores", default="0", help="CPU cores to run on, e.g. 0 or 0,1")
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() after the warm-up")
    parser.add_argument("--modes", default="none,sqlite", help="decision log modes: none, sqlite")
    args = parser.parse_args()
    os.sched_setaffinity(0, {int(c) for c in args.cores.split(",")})
    if args.model is not None:
        model = load(args.model)
        print(f"model {model.version} from {args.model}", flush=True)
    else:
        t = time.perf_counter()
        train_events = _history(7, args.customers, 30)
        config = TrainConfig(
            categorical=CATEGORICAL, num_threads=1
        )  # one core: two OpenMP threads would spin
        model, report = evaluate_history(train_events, ruleset=load_default_ruleset(), config=config)
        print(f"trained on {train_events.num_rows:,} events in {time.perf_counter() - t:.1f} s; "
              f"test AUPRC {report['model']['auprc']:.3f}", flush=True)  # fmt: skip
        directory = Path(tempfile.mkdtemp()) / "model"
        print("model saved in", save(model, directory), flush=True)
    held = _history(8, args.customers, 30)
    # Warm the state with the first 29 days, then measure on the next events, as a live bank would.
    cut = int(np.searchsorted(held["ts_ms"].to_numpy(), held["ts_ms"][0].as_py() + 29 * 86_400_000))
    warm, live = held.slice(0, cut), held.slice(cut, args.events)
    scorer = Scorer(model)
    modes = (("in-process, no decision log", None), ("in-process, decision log on SQLite", "sqlite"))
    for label, log in [m for m in modes if (m[1] or "none") in args.modes.split(",")]:
        store_log = None
        if log:
            engine_sql = open_engine(f"sqlite:///{tempfile.mkdtemp()}/risk.db")
            store_log = DecisionLog(engine_sql)
        engine = engine_for(scorer, store_log)
        for event in table_to_events(warm):
            engine.features.observe(event)
        live_events = table_to_events(live)
        gc.collect()
        if args.gc_freeze:
            gc.freeze()  # the warm state is long-lived: keep the collector from rescanning it
        result = paced(engine, live_events, args.rate)
        del engine
        gc.unfreeze()
        if store_log is not None:
            store_log.close()
        print(f"{label}: {result}", flush=True)
    if not args.skip_memory:
        memory(args.memory_customers)


if __name__ == "__main__":
    main()
