"""The fraud evaluation of docs/risk-evaluation.md, reproduced by one command.

    .venv/bin/python benchmarks/risk_evaluation.py [--customers 20000] [--json FILE]

Three datasets, each split by time (train 70%, calibrate 15%, test the last 15%):
1. the synthetic bank: trained on seed 7, measured on the later period of seed 8 (held out);
2. the PaySim sample (../shared/data/fraud/paysim_sample_3000.csv, 500 frauds in 3,000: undersampled);
3. the ULB card sample (all 492 frauds in 1,722 rows: undersampled), with its PCA features V1..V28.
For each: AUPRC beside the base rate, recall at 1% FPR, the share of fraud money stopped at a 0.5%
alert rate, per scenario where there are scenarios, and the rules alone against the same test period.
Then, on the synthetic bank, each fraud typology in turn left out of training (as a typology the model
has never seen): what the rules catch of it that the model misses (skip with --no-unseen).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from netfin.risk.evaluation import evaluate_history, unseen_typologies
from netfin.risk.mapping import load_history, load_mapping, shipped_mapping
from netfin.risk.rules import load_default_ruleset
from netfin.sim.bank import BankConfig, generate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fraud"


def _sim(seed: int, customers: int) -> pa.Table:
    config = BankConfig(seed=seed, customers=customers, days=30, calibration_dir=DATA / "paysim_params")
    return pa.Table.from_batches(list(generate(config)))


def _row(name: str, m: dict[str, Any]) -> str:
    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    return (f"| {name} | {m['events']:,} | {m['frauds']:,} | {f(m['base_rate'])} | {f(m['auprc'])} | "
            f"{f(m['roc_auc'])} | {f(m['recall_at_fpr'])} | {f(m['money_stopped']['share'])} |")  # fmt: skip


def _print(title: str, report: dict[str, Any]) -> None:
    print(f"\n### {title}\n")
    print(
        "| scorer | test events | frauds | base rate | AUPRC | ROC AUC | recall @1% FPR "
        "| money stopped @0.5% |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(_row("model", report["model"]))
    print(_row("rules (summed score)", report["rules_score"]))
    flag = report["rules_flag"]
    print(f"\nRules as alerts (any rule above approve): {flag['alerts']:,} alerts, precision "
          f"{flag['precision']}, recall {flag['recall']}.")  # fmt: skip
    o = report["overlap_at_alert_rate"]
    print(f"At the model's 0.5% alert threshold: model catches {o['model']['frauds']} of "
          f"{o['frauds']} frauds "
          f"({o['model']['fraud_minor']:,} of {o['fraud_minor']:,} minor units); rules "
          f"{o['rules']['frauds']}; rules only (model missed) {o['rules_only']['frauds']} "
          f"({o['rules_only']['fraud_minor']:,}); model only {o['model_only']['frauds']}; "
          f"either {o['either']['frauds']}.")  # fmt: skip
    for name, s in report["model"].get("scenarios", {}).items():
        rules = report["rules_score"].get("scenarios", {}).get(name, {})
        print(f"- {name}: model recall {s['recall']:.3f}, money {s['money_stopped']:.3f}; "
              f"rules recall {rules.get('recall', 0):.3f} ({s['frauds']} frauds)")  # fmt: skip
    print(f"\nSeconds: {report['seconds']}")


def _print_unseen(result: dict[str, Any]) -> None:
    print("\n### Synthetic bank, each typology left out of training (seed 7), tested on seed 8\n")
    print("| left out of training | frauds in test | model catches | rules catch | rules only "
          "| rules-only money share | model AUPRC (all frauds) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name, o in result.items():
        share = o["rules_only"]["fraud_minor"] / o["fraud_minor"] if o["fraud_minor"] else 0.0
        print(f"| {name} | {o['frauds']} | {o['model']['frauds']} | {o['rules']['frauds']} | "
              f"{o['rules_only']['frauds']} | {share:.3f} | {o['model_auprc']:.3f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--no-unseen", action="store_true", help="Skip the left-out-typology runs.")
    args = parser.parse_args()
    rules = load_default_ruleset()
    results: dict[str, Any] = {"ruleset": rules.identity}
    seven, eight = _sim(7, args.customers), _sim(8, args.customers)
    _, results["simulator"] = evaluate_history(seven, ruleset=rules, held_out=eight)
    _print(f"Synthetic bank: {args.customers:,} customers x 30 days, trained on seed 7, tested on seed 8",
           results["simulator"])  # fmt: skip
    if not args.no_unseen:
        started = time.perf_counter()
        results["unseen_typologies"] = unseen_typologies(seven, ruleset=rules, held_out=eight)
        _print_unseen(results["unseen_typologies"])
        print(f"\nSeconds: {time.perf_counter() - started:.0f}")
    paysim = shipped_mapping("paysim")
    _, results["paysim"] = evaluate_history(
        load_history(DATA / "paysim_sample_3000.csv", paysim), ruleset=rules
    )
    _print("PaySim sample (undersampled: 500 frauds in 3,000)", results["paysim"])
    ulb = shipped_mapping("ulb_creditcard")
    extra = load_mapping(ulb).extra_features
    _, results["ulb"] = evaluate_history(
        load_history(DATA / "ulb_creditcard_sample_all492fraud.csv", ulb), ruleset=rules, extra=extra
    )
    _print("ULB card sample (undersampled: all 492 frauds in 1,722)", results["ulb"])
    if args.json:
        args.json.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))


if __name__ == "__main__":
    main()
