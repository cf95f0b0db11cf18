"""Sanctions screening benchmark: names per second and latency per name against the full lists.

Loads every list under ``--lists`` (OFAC SDN and UN by default), builds the
index (timed; its memory measured with tracemalloc), then screens a workload
of distinct names one after another on one thread: half spellings of listed
names (typos, transliterations, other scripts, swapped order, dropped middle
names) and half common names that are not listed. The first pass runs with
an empty token cache, the second with the cache the first one left (real
traffic repeats tokens such as Mohammed, Wang or Garcia far more often).
The counterparty path (``Screener.screen_counterparty``) is timed on the
same names. Target: >= 2,000 names/s with p99 <= 20 ms per name. Run from
the repository root::

    .venv/bin/python benchmarks/sanctions_screen.py                 # 4,000 names
    .venv/bin/python benchmarks/sanctions_screen.py --names 20000 --json
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
import tracemalloc
from pathlib import Path
from typing import Any

from netfin.aml.screening.index import ScreeningIndex
from netfin.aml.screening.lists import load_directory
from netfin.aml.screening.model import ScreeningSubject, load_config
from netfin.aml.screening.service import Screener
from netfin.aml.screening.variants import negatives, positives

DEFAULT_LISTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sanctions"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def _pass(label: str, names: list[str], screen: Any) -> dict[str, Any]:
    latencies: list[float] = []
    gc.collect()
    started = time.perf_counter()
    for name in names:
        begun = time.perf_counter()
        screen(name)
        latencies.append(time.perf_counter() - begun)
    seconds = time.perf_counter() - started
    return {
        "pass": label,
        "names": len(names),
        "names_per_s": round(len(names) / seconds),
        "p50_ms": round(1000 * statistics.median(latencies), 3),
        "p99_ms": round(1000 * _percentile(latencies, 0.99), 3),
        "max_ms": round(1000 * max(latencies), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lists", type=Path, default=DEFAULT_LISTS)
    parser.add_argument("--names", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    lists = load_directory(args.lists)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    index = ScreeningIndex(lists, load_config())
    build_s = time.perf_counter() - started
    tracemalloc.start()  # a second build, traced: tracing slows it, so it is not the one timed
    traced = ScreeningIndex(lists, load_config())
    index_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del traced

    per_kind = max(1, args.names // 2 // 8)
    workload = [v.query for v in positives(index.entries, seed=args.seed, per_kind=per_kind)]
    workload += [v.query for v in negatives(index.entries, seed=args.seed, count=args.names - len(workload))]
    passes = [
        _pass("screen, cold token cache", workload, lambda n: index.screen(ScreeningSubject(n))),
        _pass("screen, warm token cache", workload, lambda n: index.screen(ScreeningSubject(n))),
    ]
    screener = Screener(ScreeningIndex(lists, load_config()))
    passes.append(
        _pass("counterparty, first sight", workload, lambda n: screener.screen_counterparty(n, "GB"))
    )
    passes.append(_pass("counterparty, repeated", workload, lambda n: screener.screen_counterparty(n, "GB")))
    report = {
        "lists": {item.list_id: len(item.entries) for item in lists},
        "names_indexed": index.names_count,
        "load_s": round(load_s, 3),
        "index_build_s": round(build_s, 3),
        "index_memory_mib": round(index_bytes / 2**20, 1),
        "passes": passes,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"lists {report['lists']}, {index.names_count:,} names; load {load_s:.2f} s, "
          f"index build {build_s:.2f} s, index memory {report['index_memory_mib']} MiB")  # fmt: skip
    for p in passes:
        print(f"{p['pass']:<28} {p['names']:>6} names  {p['names_per_s']:>6,} names/s  "
              f"p50 {p['p50_ms']:.3f} ms  p99 {p['p99_ms']:.3f} ms  max {p['max_ms']:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
