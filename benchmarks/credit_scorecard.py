"""The scorecard evaluation of docs/credit-scorecard.md, reproduced by one command.

    .venv/bin/python benchmarks/credit_scorecard.py [--seed 7] [--json FILE]

Two public datasets (../shared/data/credit):
1. UCI "default of credit card clients" (Taiwan, 2005): 30,000 cards, label
   ``default.payment.next.month``, id ``ID``; SEX, EDUCATION and MARRIAGE are
   codes, so categorical.
2. UCI Statlog (German credit): 1,000 loans, 20 attributes A1..A20 (13
   categorical), label 1 = good, 2 = bad (read as 0/1).

For each: a stratified 70/30 split (seed 7) through ``split_frame``; the
optbinning scorecard (``train_scorecard``, default spec: PDO 20, 600 points
at 50:1, IV >= 0.02, at most 10 monotonic bins of at least 5%); and, on the
very same split, a LightGBM baseline on the same candidate columns (categories
as LightGBM categoricals), its number of rounds chosen by early stopping on a
20% slice of the training sample only, so the test sample stays unseen. Both
are measured by ``model_report`` on the test sample: AUC, Gini, KS, PSI of the
test against the training distribution, Brier score and Hosmer–Lemeshow.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import orjson
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from netfin.credit.report import ModelReport, model_report
from netfin.credit.scorecard import (
    STATLOG_GERMAN_CATEGORICAL,
    ScorecardSpec,
    read_frame,
    split_frame,
    train_scorecard,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "credit"
DATASETS: dict[str, tuple[Path, str, ScorecardSpec]] = {
    "taiwan": (
        DATA / "UCI_Credit_Card_taiwan_default.csv",
        "csv",
        ScorecardSpec(
            target="default.payment.next.month", id_column="ID", categorical=("SEX", "EDUCATION", "MARRIAGE")
        ),
    ),
    "german": (
        DATA / "statlog_german.data",
        "statlog-german",
        ScorecardSpec(target="label", categorical=STATLOG_GERMAN_CATEGORICAL),
    ),
}
LGB_PARAMS = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "seed": 7,
    "deterministic": True,
    "force_col_wise": True,
    "num_threads": 1,
    "verbosity": -1,
}


def _metrics(report: ModelReport) -> dict[str, Any]:
    hl = report.hosmer_lemeshow
    return {
        "auc": report.auc,
        "gini": report.gini,
        "ks": report.ks,
        "psi": report.psi,
        "brier": report.brier,
        "hl": None if hl is None else hl.statistic,
        "hl_p": None if hl is None else hl.p_value,
    }


def _scorecard(frame: Any, spec: ScorecardSpec, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    model = train_scorecard(frame, spec, seed=seed)
    seconds = time.perf_counter() - started
    report = model.report
    if report is None:
        raise RuntimeError("a freshly trained scorecard carries its test report")
    return {
        **_metrics(report),
        "features": len(model.features),
        "candidates": len(model.metadata["candidates"]),
        "seconds": round(seconds, 2),
        "fit_seconds": model.metadata["seconds"]["fit"],
    }


def _lightgbm(frame: Any, spec: ScorecardSpec, seed: int) -> dict[str, Any]:
    train, test = split_frame(frame, spec, seed=seed)
    y = frame[spec.target].to_numpy().astype(np.int64)
    columns = [c for c in frame.columns if c not in (spec.target, spec.id_column)]
    x = frame[columns].copy()
    for name in spec.categorical:
        x[name] = x[name].astype(str).astype("category")
    started = time.perf_counter()
    fit, stop = train_test_split(train, test_size=0.2, stratify=y[train], random_state=seed)
    data = lgb.Dataset(x.iloc[fit], y[fit], categorical_feature=list(spec.categorical) or "auto")
    valid = lgb.Dataset(x.iloc[stop], y[stop], reference=data)
    booster = lgb.train(
        LGB_PARAMS, data, num_boost_round=2000, valid_sets=[valid],
        callbacks=[lgb.early_stopping(100, verbose=False)],
    )  # fmt: skip
    seconds = time.perf_counter() - started
    pd_train = booster.predict(x.iloc[train], num_iteration=booster.best_iteration)
    pd_test = booster.predict(x.iloc[test], num_iteration=booster.best_iteration)
    report = model_report(y[test], pd_test, reference=pd_train, kind="pd")
    return {**_metrics(report), "features": len(columns), "rounds": booster.best_iteration,
            "seconds": round(seconds, 2)}  # fmt: skip


def run(seed: int) -> dict[str, Any]:
    result: dict[str, Any] = {"seed": seed, "load_average_start": [round(v, 2) for v in os.getloadavg()]}
    for name, (path, data_format, spec) in DATASETS.items():
        frame = read_frame(path, data_format=data_format)  # type: ignore[arg-type]
        result[name] = {
            "rows": len(frame),
            "default_rate": round(float(frame[spec.target].mean()), 4),
            "scorecard": _scorecard(frame, spec, seed),
            "lightgbm": _lightgbm(frame, spec, seed),
        }
    result["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    return result


def _f(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| dataset | model | features | test AUC | Gini | KS | PSI train→test | Brier | HL (p) | train s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in DATASETS:
        for model in ("scorecard", "lightgbm"):
            m = result[name][model]
            lines.append(
                f"| {name} | {model} | {m['features']} | {_f(m['auc'])} | {_f(m['gini'])} | {_f(m['ks'])} "
                f"| {_f(m['psi'], 4)} | {_f(m['brier'], 4)} | {_f(m['hl'], 1)} ({_f(m['hl_p'], 3)}) "
                f"| {m['seconds']} |"
            )
    lines.append(
        f"\nload average at start {result['load_average_start']}, at end {result['load_average_end']}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="Also write the results as JSON to this file.")
    args = parser.parse_args()
    result = run(args.seed)
    print(markdown(result))
    if args.json is not None:
        args.json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
