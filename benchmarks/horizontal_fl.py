"""The horizontal federated learning measurements of docs/privacy-horizontal.md, by one command.

    .venv/bin/python benchmarks/horizontal_fl.py [--rounds 5] [--local-epochs 3] [--no-plain] [--json FILE]

Three banks (FATE's horizontal split of the Taiwan default-credit data, 8,000 rows each) train one
logistic-regression credit model by FedAvg on Flower's deployment runtime (a SuperLink and three
SuperNodes from .venv-flower, one process each), once with SecAgg+ and once without, and the global
model of every round is scored on the held-out file (6,000 rows). Beside it: a logistic regression on
the pooled training rows (what a single data owner could do, and what federation tries to match) and
each bank alone. A last table repeats the comparison with small banks (a few hundred rows each), where
federation matters; it runs FedAvg in-process with the same local trainer (the Flower runs show that
SecAgg+'s aggregate equals the plain weighted mean within quantisation error, so this is the same model).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from netfin.privacy.horizontal import run_horizontal
from netfin.privacy.horizontal.model import (
    BankData,
    TrainingSettings,
    initial_parameters,
    load_bank,
    score,
    train_local,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fate_vfl"
BANKS = {n: DATA / f"default_credit_homo_{n}.csv" for n in ("guest", "host_1", "host_2")}
TEST = DATA / "default_credit_homo_test.csv"


def _load() -> tuple[dict[str, BankData], BankData]:
    return {n: load_bank(p) for n, p in BANKS.items()}, load_bank(TEST)


def _sklearn_auc(x: np.ndarray, y: np.ndarray, test: BankData) -> float:
    model = LogisticRegression(max_iter=1000).fit(x, y)
    return float(roc_auc_score(test.y, model.decision_function(test.x)))


def _baselines(banks: dict[str, BankData], test: BankData) -> dict[str, float]:
    pooled_x = np.vstack([b.x for b in banks.values()])
    pooled_y = np.concatenate([b.y for b in banks.values()])
    result = {"pooled": _sklearn_auc(pooled_x, pooled_y, test)}
    result.update({f"alone:{n}": _sklearn_auc(b.x, b.y, test) for n, b in banks.items()})
    return result


def _flower(rounds: int, epochs: int, secagg: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="netfin-bench-hfl-") as audit:
        return run_horizontal(
            list(BANKS.values()),
            TEST,
            rounds=rounds,
            local_epochs=epochs,
            secagg=secagg,
            audit_dir=Path(audit),
            timeout_s=1800.0,
            bank_names=["guest", "host1", "host2"],
        )


def _fedavg_in_process(
    banks: list[BankData], rounds: int, settings: TrainingSettings, test: BankData
) -> float:
    features = banks[0].x.shape[1]
    parameters = initial_parameters(features)
    for server_round in range(1, rounds + 1):
        updates = [
            train_local(parameters, b, settings, seed=i * 1_000_003 + server_round)
            for i, b in enumerate(banks)
        ]
        rows = np.array([b.rows for b in banks], dtype=np.float64)
        parameters = [sum(r * u[k] for r, u in zip(rows, updates, strict=True)) / rows.sum() for k in (0, 1)]
    return float(roc_auc_score(test.y, score(parameters, test.x)))


def _small_banks(
    banks: dict[str, BankData], test: BankData, rounds: int, epochs: int
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(11)
    settings = TrainingSettings(local_epochs=epochs)
    table = []
    for rows in (200, 500, 2000):
        small = [
            BankData(x=b.x[idx], y=b.y[idx])
            for b in banks.values()
            for idx in [rng.choice(b.rows, rows, replace=False)]
        ]
        alone = [_sklearn_auc(b.x, b.y, test) for b in small]
        pooled = _sklearn_auc(np.vstack([b.x for b in small]), np.concatenate([b.y for b in small]), test)
        fedavg = _fedavg_in_process(small, rounds, settings, test)
        table.append({"rows_per_bank": rows, "alone": alone, "fedavg": fedavg, "pooled": pooled})
    return table


def _print(runs: dict[str, dict[str, Any]], baselines: dict[str, float], small: list[dict[str, Any]]) -> None:
    print("\n| run | rounds | wall s | AUC per round (test) | final AUC |\n|---|---|---|---|---|")
    for name, s in runs.items():
        aucs = ", ".join(f"{r['auc_test']:.4f}" for r in s["per_round"])
        print(f"| {name} | {s['rounds']} | {s['wall_s']:.1f} | {aucs} | {s['auc_test']:.4f} |")
    for name, s in runs.items():
        ends = ", ".join(f"{r['elapsed_s']:.1f}" for r in s["per_round"])
        print(f"\n{name}: seconds from the ServerApp's start to the end of each round: {ends}")
    print("\n| baseline (scikit-learn LogisticRegression) | AUC (test) |\n|---|---|")
    for name, auc in baselines.items():
        print(f"| {name} | {auc:.4f} |")
    print("\n| rows per bank | each bank alone | FedAvg (in-process) | pooled |\n|---|---|---|---|")
    for row in small:
        alone = " / ".join(f"{a:.4f}" for a in row["alone"])
        print(f"| {row['rows_per_bank']} | {alone} | {row['fedavg']:.4f} | {row['pooled']:.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--local-epochs", type=int, default=3)
    parser.add_argument("--no-plain", action="store_true", help="skip the run without SecAgg+")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not all(p.is_file() for p in [*BANKS.values(), TEST]):
        sys.exit(f"the FATE default-credit files are not under {DATA}")
    load_before = os.getloadavg()
    banks, test = _load()
    runs = {"FedAvg + SecAgg+": _flower(args.rounds, args.local_epochs, secagg=True)}
    if not args.no_plain:
        runs["FedAvg (no SecAgg+)"] = _flower(args.rounds, args.local_epochs, secagg=False)
    baselines = _baselines(banks, test)
    small = _small_banks(banks, test, args.rounds, args.local_epochs)
    load_after = os.getloadavg()
    version = runs["FedAvg + SecAgg+"]["flower_version"]
    print(f"load average before {load_before}, after {load_after}; Flower {version}")
    _print(runs, baselines, small)
    if args.json:
        report = {
            "runs": runs,
            "baselines": baselines,
            "small_banks": small,
            "load": [load_before, load_after],
        }
        args.json.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))


if __name__ == "__main__":
    main()
