"""AML monitoring speed: streaming per core, and a batch scan of millions of transactions.

    .venv/bin/python benchmarks/aml_monitoring.py --stream-customers 20000 --batch-rows 10000000 --workers 2

Streaming: one ``StreamMonitor`` (every scenario of the default profile,
round-trip search included) observes the synthetic bank's month with
laundering injected, one transaction at a time; reported as transactions
per second on one core and the per-event latency percentiles.

Batch: the synthetic bank's legitimate stream, grown to ``--batch-rows``
transactions, scanned by ``netfin.aml.monitoring.batch.scan`` with
``--workers`` shard processes plus the round-trip pass; wall time, rows per
second and peak RSS (this process and its children).
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import pyarrow as pa

from netfin.aml.history import txns_from_events
from netfin.aml.monitoring.batch import iter_txns, scan, sort_history
from netfin.aml.monitoring.config import load_profile
from netfin.aml.monitoring.stream import StreamMonitor
from netfin.sim.bank import BankConfig, ScenarioRates, generate
from netfin.sim.laundering import LaunderingConfig, generate_laundering


def stream(customers: int) -> dict[str, object]:
    run = generate_laundering(LaunderingConfig(seed=31, customers=customers, days=30))
    table = sort_history(run.table)
    txns = [t for chunk in iter_txns(table) for t in chunk]
    monitor = StreamMonitor(load_profile(), accounts=run.accounts)
    latencies = np.empty(len(txns), dtype=np.int64)
    clock = time.perf_counter_ns
    started = clock()
    for i, txn in enumerate(txns):
        t0 = clock()
        monitor.observe(txn)
        latencies[i] = clock() - t0
    seconds = (clock() - started) / 1e9
    trips = monitor.round_trips
    return {
        "transactions": len(txns),
        "seconds": round(seconds, 2),
        "per_second_one_core": round(len(txns) / seconds),
        "p50_us": round(float(np.percentile(latencies, 50)) / 1000, 1),
        "p99_us": round(float(np.percentile(latencies, 99)) / 1000, 1),
        "max_ms": round(float(latencies.max()) / 1e6, 2),
        "alerts": dict(sorted(monitor.counts.items())),
        "round_trip_searches_truncated": trips.truncated if trips else 0,
        "hub_expansions_skipped": trips.hubs_skipped if trips else 0,
    }


def batch(rows: int, workers: int) -> dict[str, object]:
    customers = max(1_000, rows // 55)  # a little under two payments per customer a day over 30 days
    started = time.perf_counter()
    config = BankConfig(seed=41, customers=customers, days=30, rates=ScenarioRates.none())
    parts, total = [], 0
    for part in generate(config):
        parts.append(part)
        total += part.num_rows
        if total >= rows:
            break
    table = txns_from_events(pa.Table.from_batches(parts)).slice(0, rows)
    generated = time.perf_counter() - started
    result = scan(table, load_profile(), workers=workers)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "rows": result.rows,
        "customers": customers,
        "generate_seconds": round(generated, 1),
        "scan_seconds": round(result.seconds, 1),
        "rows_per_second": round(result.rows / result.seconds),
        "workers": workers,
        "alerts": len(result.alerts),
        "peak_rss_mb_parent": round(own / 1024),
        "peak_rss_mb_largest_child": round(children / 1024),
        "round_trip_searches_truncated": result.cycle_searches_truncated,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stream-customers", type=int, default=20_000)
    parser.add_argument("--batch-rows", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-batch", action="store_true")
    args = parser.parse_args()
    report: dict[str, object] = {"stream": stream(args.stream_customers)}
    print(json.dumps(report, indent=2), flush=True)
    if not args.skip_batch:
        report["batch"] = batch(args.batch_rows, args.workers)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
