"""Training time of the fraud model on a synthetic history, and its scoring latency.

The history is random but learnable: ``--features`` columns (default 40:
32 float32 numbers, 5 booleans, 3 dictionary-encoded categories of 5, 20
and 200 values), fraud driven by eight numbers (linear terms, one
interaction, one threshold), one boolean and one category value, at
``--fraud-rate`` (default 0.5%); timestamps uniform over 90 days; amounts
log-normal, fraud amounts three times larger; a scenario name on each fraud.

What is timed is one ``train`` call with the default ``TrainConfig`` (plus
the categorical column names and ``--threads``): ordering by time, encoding,
negative subsampling, boosting with early stopping, calibration, metrics on
all three periods and the data fingerprint. Generating the table is timed
separately and not included.

``--latency`` then trains a fixed 300-tree, 63-leaf model (no early
stopping) on the first 200,000 events and measures, per call on one thread,
``Scorer.score``, ``Scorer.reasons`` (path attribution, the default) and
``Scorer.reasons(exact=True)`` (LightGBM ``pred_contrib``, TreeSHAP).

OpenMP threads spin while they wait for work. On a shared two-core host
another OpenMP process (another LightGBM) can make two spinning programs
starve each other: a 200,000-event training took 6 minutes instead of 16 s
once. The script therefore sets ``OMP_WAIT_POLICY=passive`` unless the
environment already sets it (measured no slower alone: 3.5 s against 4.3 s).

Run from the repository root::

    .venv/bin/python benchmarks/risk_train.py --rows 1000000
    .venv/bin/python benchmarks/risk_train.py --rows 10000000 --json
    .venv/bin/python benchmarks/risk_train.py --rows 200000 --latency --skip-train
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # before LightGBM loads libgomp (see above)

import numpy as np
import pyarrow as pa

from netfin.core.clock import ManualClock
from netfin.risk.model import Scorer, TrainConfig, load, save, train

DAY_MS = 86_400_000
START_MS = 1_767_225_600_000
SCENARIOS = ["", "account_takeover", "card_testing", "app_scam", "mule_network"]
CATEGORY_SIZES = (5, 20, 200)
BOOLEANS = 5


def _category(rng: np.random.Generator, rows: int, size: int, name: str) -> pa.DictionaryArray:
    weights = 1.0 / np.arange(1, size + 1)  # Zipf-like: a few common values, a long tail
    indices = rng.choice(size, size=rows, p=weights / weights.sum()).astype(np.int16)
    return pa.DictionaryArray.from_arrays(indices, pa.array([f"{name}_v{i}" for i in range(size)]))


def _intercept(logit: np.ndarray, fraud_rate: float) -> float:
    """The intercept that makes the mean fraud probability ``fraud_rate`` (bisection on a sample)."""
    sample = logit[:200_000].astype(np.float64)
    low, high = -30.0, 10.0
    for _ in range(60):
        middle = (low + high) / 2
        if np.mean(1 / (1 + np.exp(-(sample + middle)))) > fraud_rate:
            high = middle
        else:
            low = middle
    return (low + high) / 2


def generate(rows: int, features: int, fraud_rate: float, seed: int) -> tuple[pa.Table, list[str], list[str]]:
    """A synthetic history: the table, all feature names, the categorical ones."""
    rng = np.random.default_rng(seed)
    numbers = features - BOOLEANS - len(CATEGORY_SIZES)
    if numbers < 8:
        raise SystemExit("--features must be at least 16")
    columns: dict[str, Any] = {f"x{j}": rng.standard_normal(rows, dtype=np.float32) for j in range(numbers)}
    for j in range(BOOLEANS):
        columns[f"b{j}"] = rng.random(rows, dtype=np.float32) < 0.1 * (j + 1)
    categorical = [f"c{j}" for j in range(len(CATEGORY_SIZES))]
    for name, size in zip(categorical, CATEGORY_SIZES, strict=True):
        columns[name] = _category(rng, rows, size, name)
    x = columns
    logit = (
        1.2 * x["x0"] + 0.9 * x["x1"] - 0.8 * x["x2"] + 0.6 * x["x3"] + 0.5 * x["x4"]
        + 0.7 * x["x5"] * x["x6"] + 1.5 * (x["x7"] > 1.8) + 0.8 * x["b0"]
        + 1.2 * (columns["c1"].indices.to_numpy() == 3)
    )  # fmt: skip
    logit += _intercept(logit, fraud_rate)
    labels = rng.random(rows, dtype=np.float32) < 1 / (1 + np.exp(-logit))
    del logit
    amounts = np.exp(rng.normal(8.0, 1.2, size=rows)).astype(np.int64) + 100
    amounts[labels] *= 3
    scenario = np.where(labels, rng.integers(1, len(SCENARIOS), size=rows), 0).astype(np.int8)
    columns.update(
        ts_ms=np.sort(rng.integers(START_MS, START_MS + 90 * DAY_MS, size=rows)),
        label=labels.astype(np.int8),
        amount_minor=amounts,
        scenario=pa.DictionaryArray.from_arrays(scenario, pa.array(SCENARIOS)),
    )
    names = [*(f"x{j}" for j in range(numbers)), *(f"b{j}" for j in range(BOOLEANS)), *categorical]
    return pa.table(columns), names, categorical


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentiles_us(samples_ns: list[int]) -> dict[str, float]:
    values = np.asarray(samples_ns) / 1000
    return {
        "p50_us": round(float(np.percentile(values, 50)), 1),
        "p99_us": round(float(np.percentile(values, 99)), 1),
    }


def _time_calls(call: Any, rows: list[dict[str, Any]], calls: int) -> dict[str, float]:
    for row in rows[:50]:  # warm-up
        call(row)
    samples = []
    for i in range(calls):
        row = rows[i % len(rows)]
        started = time.perf_counter_ns()
        call(row)
        samples.append(time.perf_counter_ns() - started)
    return {**_percentiles_us(samples), "calls": calls}


def measure_training(
    table: pa.Table, names: list[str], categorical: list[str], threads: int
) -> dict[str, Any]:
    config = TrainConfig(categorical=tuple(categorical), num_threads=threads)
    started = time.perf_counter()
    model = train(table, names, config=config, clock=ManualClock())
    seconds = time.perf_counter() - started
    test = model.metadata["metrics"]["test"]
    return {
        "train_seconds": round(seconds, 1),
        "rounds": model.metadata["training"]["rounds"],
        "rows_used_for_trees": model.metadata["training"]["rows_used"],
        "negative_rate": round(model.metadata["training"]["negative_rate"], 4),
        "test_auprc": round(test["auprc"], 4),
        "test_roc_auc": round(test["roc_auc"], 4),
        "test_recall_at_1pct_fpr": round(test["recall_at_fpr"], 4),
        "test_money_stopped_at_0.5pct": round(test["money_stopped"]["share"], 4),
        "test_base_rate": round(test["base_rate"], 5),
        "peak_rss_mb": round(_peak_rss_mb()),
    }


def measure_latency(table: pa.Table, names: list[str], categorical: list[str], calls: int) -> dict[str, Any]:
    head = table.slice(0, min(200_000, table.num_rows))
    config = TrainConfig(
        categorical=tuple(categorical), rounds_max=300, early_stopping_rounds=0, min_data_in_leaf=20
    )
    model = train(head, names, config=config, clock=ManualClock())
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        path = save(model, directory)
        loaded = load(path)
        round_trip = time.perf_counter() - started
        size = sum(p.stat().st_size for p in path.iterdir())
    started = time.perf_counter()
    scorer = Scorer(loaded)
    build = time.perf_counter() - started
    rows = head.slice(head.num_rows - 2000).select(names).to_pylist()
    leaves = [t["num_leaves"] for t in loaded.booster.dump_model()["tree_info"]]
    started = time.perf_counter()
    scorer.score_batch(head)
    batch = time.perf_counter() - started
    return {
        "trees": loaded.booster.num_trees(),
        "leaves_mean": round(float(np.mean(leaves)), 1),
        "features": len(names),
        "artefact_bytes": size,
        "save_and_load_seconds": round(round_trip, 2),
        "scorer_build_seconds": round(build, 2),
        "score": _time_calls(scorer.score, rows, calls),
        "reasons_path": _time_calls(scorer.reasons, rows, calls),
        "reasons_exact_treeshap": _time_calls(
            lambda r: scorer.reasons(r, exact=True), rows, max(calls // 10, 200)
        ),
        "score_batch_rows_per_second": round(head.num_rows / batch),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=40)
    parser.add_argument("--fraud-rate", type=float, default=0.005)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--latency", action="store_true", help="also measure scoring latency")
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--skip-train", action="store_true", help="only the latency part")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    table, names, categorical = generate(args.rows, args.features, args.fraud_rate, args.seed)
    result: dict[str, Any] = {
        "rows": args.rows,
        "features": len(names),
        "threads": args.threads,
        "generate_seconds": round(time.perf_counter() - started, 1),
        "python": platform.python_version(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }
    if not args.skip_train:
        result["training"] = measure_training(table, names, categorical, args.threads)
    if args.latency:
        result["latency"] = measure_latency(table, names, categorical, args.calls)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
