"""Loan schedules: how many complete repayment schedules per second the column-wise path builds.

    .venv/bin/python benchmarks/loan_schedules.py [--loans 1000000] [--workers 2] [--chunk 50000]
                                                  [--sample 1000] [--seed 7] [--profile]

1. A realistic book: terms of 3..36 months (mostly 3, 6, 12, 24 and 36), annuity / equal principal /
   bullet, principals around CNY 20,000, rates of 3.45..24 % p.a., four day counts, the China
   calendars, 30 % with a fixed payment day, some fees, 300 distinct start dates. Each worker makes its
   chunks from the seed, so only results cross process boundaries.
2. ``build_schedules_batch`` per chunk in a process pool (one process per core); every schedule's
   invariants are checked with numpy in the worker (principal parts sum to the principal, nothing is
   negative, the last closing balance is 0).
3. A random sample of schedules is rebuilt by the scalar ``build_schedule`` and compared exactly.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from netfin.credit.products import LoanTerms
from netfin.credit.schedule import LoanBook, Schedule, ScheduleBatch, build_schedule, build_schedules_batch

TERMS = np.array([3, 6, 9, 12, 18, 24, 36])
TERM_WEIGHTS = np.array([0.12, 0.2, 0.08, 0.3, 0.08, 0.14, 0.08])
PAYMENT_DAYS = np.array([1, 5, 10, 15, 20, 25, 28])
EPOCH = np.datetime64("1970-01-01")


def make_book(seed: int, index: int, size: int, starts: int) -> LoanBook:
    """Chunk ``index`` of the synthetic book (deterministic from the seed)."""
    rng = np.random.default_rng([seed, index])
    start_pool = (
        np.datetime64("2025-01-01") + np.random.default_rng(seed).choice(730, starts, replace=False)
    ) - EPOCH
    common = rng.random(size) < 0.8
    term = np.where(common, rng.choice(TERMS, size, p=TERM_WEIGHTS), rng.integers(3, 37, size))
    principal = np.clip(np.round(rng.lognormal(np.log(2_000_000), 0.9, size), -2), 50_000, 50_000_000)
    fee_rate_bp = rng.integers(10, 50, size)
    return LoanBook.from_columns(
        principal_minor=principal.astype(np.int64),
        annual_rate_units=rng.integers(345, 2401, size),  # basis points: 3.45 % .. 24.00 %
        rate_scale=4,
        term_months=term,
        method=rng.choice(3, size, p=[0.6, 0.25, 0.15]),
        start_days=start_pool.astype(np.int64)[rng.integers(0, starts, size)],
        day_count=rng.choice(4, size, p=[0.7, 0.15, 0.1, 0.05]),
        calendar=rng.choice(2, size, p=[0.95, 0.05]),
        payment_day=np.where(rng.random(size) < 0.3, rng.choice(PAYMENT_DAYS, size), 0),
        upfront_fee_minor=np.where(rng.random(size) < 0.1, 5_000, 0),
        instalment_fee_minor=np.where(
            rng.random(size) < 0.2, principal.astype(np.int64) * fee_rate_bp // 10_000, 0
        ),
        currency="CNY",
    )


def check_columns(book: LoanBook, batch: ScheduleBatch) -> None:
    """Invariants over every schedule of the chunk, vectorised."""
    sums = np.add.reduceat(batch.principal, batch.offsets[:-1])
    if not np.array_equal(sums, book.principal_minor):
        raise SystemExit("principal parts do not sum to the principal")
    amounts = (batch.principal, batch.interest, batch.fee, batch.total, batch.closing_balance)
    if any(int(column.min()) < 0 for column in amounts):
        raise SystemExit("a negative amount")
    if np.any(batch.closing_balance[batch.offsets[1:] - 1] != 0):
        raise SystemExit("a last closing balance is not 0")


@dataclass(frozen=True)
class ChunkResult:
    loans: int
    rows: int
    build_s: float
    sample: list[Schedule]


def run_chunk(seed: int, index: int, size: int, starts: int, sample: list[int]) -> ChunkResult:
    book = make_book(seed, index, size, starts)
    began = time.perf_counter()
    batch = build_schedules_batch(book)
    built = time.perf_counter() - began
    check_columns(book, batch)
    return ChunkResult(len(book), len(batch.principal), built, [batch.schedule(i) for i in sample])


def verify(sample: list[Schedule]) -> tuple[int, float]:
    """Rebuild each sampled schedule with the scalar path; count mismatches."""
    began = time.perf_counter()
    bad = sum(build_schedule(s.terms) != s for s in sample if isinstance(s.terms, LoanTerms))
    return bad, time.perf_counter() - began


def profile_one(args: argparse.Namespace) -> None:
    book = make_book(args.seed, 0, args.chunk, args.starts)
    profiler = cProfile.Profile()
    profiler.runcall(build_schedules_batch, book)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    began = time.perf_counter()
    build_schedules_batch(book)
    print(f"same chunk again, grids cached: {time.perf_counter() - began:.2f} s for {len(book):,} loans")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sample", type=int, default=1_000)
    parser.add_argument("--starts", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="profile one chunk in-process and stop")
    args = parser.parse_args()
    if args.profile:
        profile_one(args)
        return
    console = Console(soft_wrap=True)
    chunks = [(i, min(args.chunk, args.loans - i * args.chunk)) for i in range(-(-args.loans // args.chunk))]
    picks = np.sort(
        np.random.default_rng(args.seed + 1).choice(args.loans, min(args.sample, args.loans), replace=False)
    )
    load_before = os.getloadavg()
    began = time.perf_counter()
    results = []
    columns = (TextColumn("schedules"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress, ProcessPoolExecutor(args.workers) as pool:
        task = progress.add_task("build", total=args.loans)
        futures = []
        for index, size in chunks:
            lo = index * args.chunk
            local = [int(p - lo) for p in picks if lo <= p < lo + size]
            futures.append(pool.submit(run_chunk, args.seed, index, size, args.starts, local))
        for future in as_completed(futures):
            results.append(future.result())
            progress.advance(task, results[-1].loans)
    wall = time.perf_counter() - began
    load_after = os.getloadavg()
    report(console, args, results, wall, (load_before, load_after))


def report(console: Console, args: argparse.Namespace, results: list[ChunkResult], wall: float,
           loads: tuple[tuple[float, ...], ...]) -> None:  # fmt: skip
    sample = [schedule for r in results for schedule in r.sample]
    bad, verify_s = verify(sample)
    loans, rows = sum(r.loans for r in results), sum(r.rows for r in results)
    worker_s = sum(r.build_s for r in results)
    console.print(
        f"{loans:,} schedules ({rows:,} instalments) in {wall:.1f} s wall with {args.workers} workers: "
        f"{loans / wall:,.0f} schedules/s, {rows / wall:,.0f} instalments/s"
    )
    console.print(
        f"time inside build_schedules_batch, all workers together: {worker_s:.1f} s "
        f"({loans / worker_s:,.0f} schedules/s per busy core)"
    )
    console.print(
        f"invariants checked on every schedule; scalar check of {len(sample):,} sampled schedules: "
        f"{bad} mismatches ({verify_s:.2f} s)"
    )
    before, after = (" ".join(f"{x:.2f}" for x in load) for load in loads)
    console.print(f"load average (1, 5, 15 min) before {before}, after {after}")
    if bad or len(sample) != min(args.sample, args.loans):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
