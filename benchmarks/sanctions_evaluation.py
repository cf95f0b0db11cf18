"""Sanctions screening evaluation: precision, recall and F1 per variant kind, and a threshold sweep.

The labelled set is generated from the lists themselves (``netfin.aml.
screening.variants``: exact, typo, transliteration, Cyrillic, Arabic script,
swapped order, dropped middle name, Han characters) plus common names from
many cultures that are verified not to be listed. Same seed, same set. The
numbers in docs/sanctions-screening.md come from::

    .venv/bin/python benchmarks/sanctions_evaluation.py --per-kind 400 --non-matches 2000
    .venv/bin/python benchmarks/sanctions_evaluation.py --json > evaluation.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from netfin.aml.screening.evaluate import evaluate
from netfin.aml.screening.index import ScreeningIndex
from netfin.aml.screening.lists import load_directory
from netfin.aml.screening.model import load_config

DEFAULT_LISTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sanctions"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lists", type=Path, default=DEFAULT_LISTS)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--per-kind", type=int, default=400)
    parser.add_argument("--non-matches", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    index = ScreeningIndex(load_directory(args.lists), load_config(args.config))
    report = evaluate(
        index,
        seed=args.seed,
        per_kind=args.per_kind,
        non_matches=args.non_matches,
        progress=lambda done, total: sys.stderr.write(f"\r{done}/{total}"),
    )
    sys.stderr.write("\n")
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    t = report["thresholds"]
    print(f"review threshold {t['review']}, strong (hit) threshold {t['strong']}; seed {report['seed']}")
    print("| kind | queries | recall | precision | F1 | hit recall | wrong-entry alerts |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, m in report["per_kind"].items():
        print(f"| {kind} | {m['queries']} | {m['recall']:.3f} | {m['precision']:.3f} | {m['f1']:.3f} | "
              f"{m['hit_recall']:.3f} | {m['wrong_entry_alerts']} |")  # fmt: skip
    o = report["overall"]
    print(f"| all | {o['queries']} | {o['recall']:.3f} | {o['precision']:.3f} | {o['f1']:.3f} | | |")
    print(f"\n{report['non_matches']} true non-matches; alert rate {report['non_match_alert_rate']:.3f}")
    print("\n| threshold | precision | recall | F1 |\n|---:|---:|---:|---:|")
    for row in report["sweep"]:
        print(f"| {row['threshold']:.2f} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} |")


if __name__ == "__main__":
    main()
