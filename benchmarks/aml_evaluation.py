"""The AML evaluation in docs/aml-evaluation.md, reproduced by one command.

    .venv/bin/python benchmarks/aml_evaluation.py [--seed 23] [--customers 5000] [--json]

1. The synthetic bank with laundering injected, seed 23 (held out: the
   profile's thresholds were set looking at seed 11 only), scanned with the
   default (PBoC) profile.
2. AMLSim's 20K-account sample (../shared/data/aml), scanned with the
   default profile and with ``benchmarks/profiles/amlsim.yaml`` (AMLSim's
   amounts are a few hundred dollars and its days are simulation steps).
   The sample labels accounts (``isFraud``) but not which of its 200 cycle
   and 200 fan-in patterns an account belongs to, so results are per account
   and per scenario, not per typology.

Prints Markdown tables (or one JSON document with ``--json``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from netfin.aml.evaluation import Evaluation, evaluate
from netfin.aml.history import load_txns, shipped_mapping
from netfin.aml.monitoring.batch import scan
from netfin.aml.monitoring.config import load_profile
from netfin.sim.laundering import LaunderingConfig, generate_laundering

REPO = Path(__file__).resolve().parents[1]
AMLSIM = REPO / ".." / "shared" / "data" / "aml" / "amlsim_20K_fanin200cycle200"


def simulated(seed: int, customers: int) -> dict[str, Any]:
    run = generate_laundering(LaunderingConfig(seed=seed, customers=customers, days=30))
    result = scan(run.table, load_profile(), accounts=run.accounts, workers=2)
    ev = evaluate(result.alerts, run.labels, patterns=run.patterns)
    return {
        "rows": result.rows,
        "seconds": round(result.seconds, 1),
        "alerts": len(result.alerts),
        **ev.as_dict(),
    }


def amlsim(profile: str | None) -> dict[str, Any]:
    with (AMLSIM / "nodes.csv").open() as handle:
        labels: dict[str, set[str]] = {
            r["nodeid"]: set() for r in csv.DictReader(handle) if r["isFraud"] == "1"
        }
    table = load_txns(AMLSIM / "transactions.csv", shipped_mapping("amlsim"))
    result = scan(table, load_profile(profile), workers=2)
    ev: Evaluation = evaluate(result.alerts, labels)
    return {
        "profile": Path(profile).relative_to(REPO).as_posix() if profile else "default (pboc)",
        "rows": result.rows,
        "accounts": 20_000,
        "base_rate": round(len(labels) / 20_000, 4),
        "seconds": round(result.seconds, 1),
        "alerts": len(result.alerts),
        **ev.as_dict(),
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _markdown(report: dict[str, Any]) -> str:
    sim = report["simulated"]
    lines = [
        f"### Synthetic bank, seed {report['seed']} ({sim['rows']:,} transactions, {sim['alerts']:,} alerts)",
        "",
        "| typology | labelled accounts | flagged | precision | recall | recall (any scenario) | F1 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t in [*sim["typologies"], sim["overall"]]:
        lines.append(
            f"| {t['typology']} | {t['labelled']} | {t['flagged']} | {_pct(t['precision'])} | "
            f"{_pct(t['recall'])} | {_pct(t['recall_any'])} | {_pct(t['f1'])} |"
        )
    lines += [
        "",
        "| typology | schemes | found (any scenario) | found (own typology) |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {p['typology']} | {p['patterns']} | {_pct(p['recall_any'])} | {_pct(p['recall_own'])} |"
        for p in sim["patterns"]
    ]
    lines += [
        "",
        "| scenario | alerts | accounts | alerts on laundering | alerts on its typology |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {s['scenario']} | {s['alerts']} | {s['accounts']} | {_pct(s['alert_precision_any'])} | "
        f"{_pct(s['alert_precision'])} |"
        for s in sim["scenarios"]
    ]
    for run in report["amlsim"]:
        o = run["overall"]
        lines += [
            "",
            f"### AMLSim 20K, profile {run['profile']} ({run['rows']:,} transfers, base rate "
            f"{_pct(run['base_rate'])}, {run['alerts']:,} alerts)",
            "",
            f"Accounts: {o['flagged']} flagged, precision {_pct(o['precision'])}, "
            f"recall {_pct(o['recall'])}, F1 {_pct(o['f1'])}.",
            "",
            "| scenario | alerts | accounts | alerts on laundering accounts |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| {s['scenario']} | {s['alerts']} | {s['accounts']} | {_pct(s['alert_precision_any'])} |"
            for s in run["scenarios"]
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report: dict[str, Any] = {
        "seed": args.seed,
        "simulated": simulated(args.seed, args.customers),
        "amlsim": [],
    }
    if AMLSIM.is_dir():
        report["amlsim"] = [amlsim(None), amlsim(str(REPO / "benchmarks" / "profiles" / "amlsim.yaml"))]
    else:
        print("AMLSim sample not found in ../shared/data/aml: skipped", file=sys.stderr)
    print(json.dumps(report, indent=2) if args.json else _markdown(report))


if __name__ == "__main__":
    main()
