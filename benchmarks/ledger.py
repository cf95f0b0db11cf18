"""Throughput and latency benchmark of ``Ledger.create_transfers``.

Measures the normal code path (every input check, the engine, the hash-chained
journal, durable commit) on:

* stores: SQLite (file on disk, WAL, ``synchronous=FULL``) and PostgreSQL
  (``synchronous_commit=on``), both as the stores configure themselves;
* batch sizes 1, 100 and 8190 events per ``create_transfers`` call;
* 10,000 and 1,000,000 accounts (created with ``create_accounts`` in batches
  of 8190; that rate is reported too);
* a uniform workload and a hot-account workload (Zipf, s=1.1, over accounts).

PostgreSQL's own ``pgbench`` (TPC-B-like) runs on the same server as the
reference. Run from the repository root::

    .venv/bin/python benchmarks/ledger.py                 # full run (~10 min)
    .venv/bin/python benchmarks/ledger.py --quick         # smoke run (~1 min)
    .venv/bin/python benchmarks/ledger.py --json --out benchmarks/results/ledger.md
    .venv/bin/python benchmarks/ledger.py --profile sqlite    # where the time goes

Each (store, account count) pair gets one fresh ledger; its cells then run in
order (uniform then Zipf; batch 1, 100, 8190 within each), so later cells see
a transfers table that already holds the earlier cells' transfers. After the
accounts are created, one unmeasured warm-up batch runs and the store is
checkpointed (PostgreSQL ``CHECKPOINT``, SQLite ``wal_checkpoint``), so the
cells do not pay for the set-up's writes. pgbench runs last, after a
``CHECKPOINT`` of its own.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from netfin.core.ids import Uuid7Ids
from netfin.ledger import Account, Ledger, Transfer
from netfin.ledger.model import JournalKind
from netfin.ledger.store import Head, WriteTransaction, b

BATCH_MAX = 8190
ZIPF_S = 1.1
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
SNAPSHOT_ENV = "NETFIN_BENCH_SNAPSHOT"
PGBENCH_DB = "pgbench_ref"

FULL: dict[str, Any] = {
    "accounts": [10_000, 1_000_000],
    "transfers": {1: 5_000, 100: 20_000, 8190: 20 * 8190},
    "pgbench_scale": 10,
    "pgbench_seconds": 20,
}
QUICK: dict[str, Any] = {
    "accounts": [1_000, 20_000],
    "transfers": {1: 200, 100: 2_000, 8190: 2 * 8190},
    "pgbench_scale": 1,
    "pgbench_seconds": 5,
}

# A cell during which other tenants of the host used more CPU than this is
# repeated (``--noisy-retries``) and, if it stays noisy, flagged in the table.
NOISY_FOREIGN_CPU_PCT = 15.0

GOAL_PG_VS_PGBENCH = 10.0
GOAL_SQLITE_BATCHED = 100_000.0
GOAL_SQLITE_P99_MS = 2.0
GOAL_SCALE_DRIFT = 0.20


# -- small helpers -------------------------------------------------------------


_TTY = sys.stderr.isatty()


def log(message: str, *, end: str = "\n") -> None:
    sys.stderr.write(message + end)
    sys.stderr.flush()


def progress(message: str) -> None:
    """An in-place progress line, only when stderr is a terminal."""
    if _TTY:
        log("\r" + message, end="")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


def fmt_int(value: float) -> str:
    return f"{value:,.0f}"


def fmt_ms(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def human_count(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def run_cmd(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)


def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of another process (the PostgreSQL backend), or None."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks
    except (OSError, IndexError, ValueError):
        return None


def host_busy_seconds() -> float:
    """CPU-seconds all CPUs of the host spent busy (from /proc/stat)."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def host_busy_pct(seconds: float = 3.0) -> float:
    """Busy share of all host CPUs over a short window (100% = every CPU busy)."""
    b0, t0 = host_busy_seconds(), time.perf_counter()
    time.sleep(seconds)
    return round(100 * (host_busy_seconds() - b0) / (time.perf_counter() - t0) / (os.cpu_count() or 1), 1)


def wait_until_quiet(limit_s: float, threshold_pct: float = 10.0) -> float:
    """On a shared machine, wait (at most ``limit_s``) until the host is idle."""
    deadline = time.monotonic() + limit_s
    while True:
        busy = host_busy_pct(5.0)
        if busy <= threshold_pct or time.monotonic() >= deadline:
            return busy
        log(f"host is {busy:.0f}% busy; waiting for it to go quiet")


def proc_write_bytes(pid: int | str) -> int:
    """Bytes a process caused to be written to storage (``/proc/PID/io``)."""
    try:
        with open(f"/proc/{pid}/io") as handle:
            for line in handle:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return 0  # no /proc I/O accounting here: report zero bytes
    return 0


def postgres_processes() -> dict[int, tuple[float, int]]:
    """(CPU seconds, bytes written) of every PostgreSQL server process
    (backends, WAL writer, checkpointer, autovacuum), by pid."""
    out: dict[int, tuple[float, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as handle:
                if handle.read().strip() != "postgres":
                    continue
        except OSError:
            continue
        seconds = proc_cpu_seconds(int(entry))
        if seconds is not None:
            out[int(entry)] = (seconds, proc_write_bytes(entry))
    return out


def disk_counters(path: str) -> tuple[int, int]:
    """(bytes written, ms busy) of the block device holding ``path``."""
    try:
        dev = os.stat(path).st_dev
        major, minor = os.major(dev), os.minor(dev)
        with open("/proc/diskstats") as handle:
            for line in handle:
                parts = line.split()
                if int(parts[0]) == major and int(parts[1]) == minor:
                    return int(parts[9]) * 512, int(parts[12])
    except (OSError, ValueError, IndexError):
        return 0, 0  # no /proc/diskstats here: report no device activity
    return 0, 0


class GcClock:
    """Time spent in Python's cyclic garbage collector (via ``gc.callbacks``)."""

    def __init__(self) -> None:
        self.total = 0.0
        self.window = 0.0
        self.calls_total = 0.0
        self._start = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            spent = time.perf_counter() - self._start
            self.total += spent
            self.window += spent

    def reset_window(self) -> None:
        self.window = 0.0

    def __enter__(self) -> GcClock:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


class HostMeter:
    """Splits the host's CPU and disk writes over a measured interval between
    this process, its PostgreSQL backend, the other PostgreSQL processes, and
    everything else ("foreign": other tenants of a shared machine, and kernel
    threads such as the file-system journal)."""

    def __init__(self, backend_pid: int | None, disk_path: str) -> None:
        self.backend_pid = backend_pid
        self.disk_path = disk_path
        self.host0 = host_busy_seconds()
        self.me0 = time.process_time()
        self.my_writes0 = proc_write_bytes("self")
        self.pg0 = postgres_processes()
        self.disk0 = disk_counters(disk_path)
        self.wall0 = time.perf_counter()

    def stop(self, harness_wall: float = 0.0, harness_cpu: float = 0.0) -> dict[str, float | None]:
        """Rates over the interval's wall time less ``harness_wall`` (time the
        caller spent outside the measured calls, using ``harness_cpu``)."""
        wall = time.perf_counter() - self.wall0 - harness_wall
        host = host_busy_seconds() - self.host0 - harness_cpu
        me = time.process_time() - self.me0 - harness_cpu
        my_writes = proc_write_bytes("self") - self.my_writes0
        pg1 = postgres_processes()
        disk1 = disk_counters(self.disk_path)
        cpu = {pid: c - self.pg0.get(pid, (0.0, 0))[0] for pid, (c, _) in pg1.items()}
        writes = {pid: w - self.pg0.get(pid, (0.0, 0))[1] for pid, (_, w) in pg1.items()}
        backend = cpu.pop(self.backend_pid, None) if self.backend_pid else None
        pg_other = sum(cpu.values())
        pg_writes = sum(writes.values())
        foreign = max(0.0, host - me - (backend or 0.0) - pg_other)
        disk_written = disk1[0] - self.disk0[0]
        return {
            "wall": wall,
            "client_pct": round(100 * me / wall, 1),
            "backend_pct": None if backend is None else round(100 * backend / wall, 1),
            "pg_other_pct": round(100 * pg_other / wall, 1),
            "foreign_pct": round(100 * foreign / wall, 1),
            "ledger_written": float(my_writes + pg_writes),
            "foreign_written_mb_s": round(max(0, disk_written - my_writes - pg_writes) / wall / 1e6, 1),
            "disk_busy_pct": round(100 * (disk1[1] - self.disk0[1]) / 1000 / wall, 1),
        }


# -- machine and versions --------------------------------------------------------


def machine_info(workdir: str) -> dict[str, Any]:
    cpu_model = "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        cpu_model = "unknown"  # no /proc/cpuinfo here
    mem_gib = None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        mem_gib = None  # no /proc/meminfo here: memory unknown
    nproc = run_cmd(["nproc"]).stdout.strip() or str(len(os.sched_getaffinity(0)))
    return {
        "nproc": int(nproc),
        "cpu_model": cpu_model,
        "mem_gib": mem_gib,
        "kernel": platform.release(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "host_busy_pct_at_start": host_busy_pct(),
        "fsync_probe": fsync_probe(workdir),
    }


def fsync_probe(directory: str, rounds: int = 200) -> dict[str, float]:
    """Latency of write(4 KiB) + fsync in the benchmark directory: the floor
    under every durable single-transfer commit on this disk."""
    path = os.path.join(directory, "fsync_probe.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    samples = []
    block = os.urandom(4096)
    try:
        for k in range(rounds):
            os.pwrite(fd, block, (k % 64) * 4096)
            t0 = time.perf_counter()
            os.fsync(fd)
            samples.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        os.remove(path)
    return {"p50_ms": round(percentile(samples, 50), 3), "p99_ms": round(percentile(samples, 99), 3)}


def versions(pg_url: str | None) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, Any] = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for package in ("netfin", "psycopg", "SQLAlchemy", "pymerkle", "cryptography"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = None
    if pg_url:
        import psycopg

        with psycopg.connect(_libpq_url(pg_url)) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            out["postgresql"] = row[0] if row else None
    pgbench = shutil.which("pgbench") or "/usr/bin/pgbench"
    if os.path.exists(pgbench):
        out["pgbench"] = run_cmd([pgbench, "--version"]).stdout.strip()
    snapshot = os.environ.get(SNAPSHOT_ENV)
    if snapshot:
        out["netfin git"] = f"{snapshot[:10]} (a git-archive snapshot of that commit's src/)"
    else:  # the code under test: src/ moves fast, so record exactly which
        head = run_cmd(["git", "rev-parse", "--short", "HEAD"]).stdout.strip()
        if head:
            dirty = run_cmd(["git", "status", "--porcelain", "--", "src"]).stdout.strip()
            out["netfin git"] = head + (" + uncommitted src changes" if dirty else "")
    return out


def rerun_on_snapshot(argv: list[str]) -> int:
    """Run this script again against ``git archive HEAD src``, so that edits
    to the working tree during a long run cannot change the code under test."""
    commit = run_cmd(["git", "rev-parse", "HEAD"]).stdout.strip()
    if not commit:
        raise SystemExit("--snapshot needs a git checkout")
    root = tempfile.mkdtemp(prefix="netfin-src-")
    try:
        archive = subprocess.run(["git", "archive", commit, "src"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", root], input=archive.stdout, check=True)
        env = dict(os.environ, PYTHONPATH=os.path.join(root, "src"), **{SNAPSHOT_ENV: commit})
        log(f"benchmarking a snapshot of {commit[:10]} (src/ from git archive, in {root})")
        return subprocess.run(
            [sys.executable, os.path.abspath(__file__), *argv], env=env, check=False
        ).returncode
    finally:
        shutil.rmtree(root, ignore_errors=True)


def show(conn: Any, name: str) -> str:
    row = conn.execute(f"SHOW {name}").fetchone()
    return str(row[0]) if row else "?"


def _libpq_url(url: str, dbname: str | None = None) -> str:
    """The ledger URL without the ``?schema=`` parameter, for plain psycopg."""
    base = url.split("?", 1)[0]
    if dbname is not None:
        base = base.rsplit("/", 1)[0] + "/" + dbname
    return base


# -- workloads -----------------------------------------------------------------


class Workload:
    """Draws (debit, credit) account pairs: uniform, or Zipf over a random
    ranking of the accounts (so the hot accounts are spread over the key space)."""

    def __init__(self, kind: str, account_ids: list[int], rng: random.Random) -> None:
        self.kind = kind
        self.ids = account_ids
        self.rng = rng
        self._cum: list[float] | None = None
        if kind == "zipf":
            ranked = list(account_ids)
            rng.shuffle(ranked)
            self.ids = ranked
            self._cum = list(itertools.accumulate(k**-ZIPF_S for k in range(1, len(ranked) + 1)))
        elif kind != "uniform":
            raise ValueError(kind)

    def _draw(self, k: int) -> list[int]:
        if self._cum is None:
            n = len(self.ids)
            return [self.ids[self.rng.randrange(n)] for _ in range(k)]
        return self.rng.choices(self.ids, cum_weights=self._cum, k=k)

    def pairs(self, n: int) -> list[tuple[int, int]]:
        debits, credits = self._draw(n), self._draw(n)
        out = []
        for d, c in zip(debits, credits, strict=True):
            while c == d:
                c = self._draw(1)[0]
            out.append((d, c))
        return out

    def hottest_share(self) -> float:
        """Probability that one draw is the single hottest account."""
        if self._cum is None:
            return 1 / len(self.ids)
        return 1 / self._cum[-1]


def make_transfers(workload: Workload, n: int, ids: Uuid7Ids, rng: random.Random) -> list[Transfer]:
    return [Transfer(i, d, c, a, "USD", 1) for i, d, c, a in make_specs(workload, n, ids, rng)]


def make_specs(
    workload: Workload, n: int, ids: Uuid7Ids, rng: random.Random
) -> list[tuple[int, int, int, int]]:
    """(id, debit, credit, amount) per transfer. Tuples of ints: the cyclic GC
    stops tracking them, so the harness does not inflate the ledger's GC cost."""
    return [(ids.new_id(), d, c, rng.randint(1, 1000)) for d, c in workload.pairs(n)]


# -- ledgers -----------------------------------------------------------------------


@dataclass
class Target:
    store: str  # "sqlite" | "postgresql"
    url: str
    cleanup: Callable[[], None]
    durability: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    backend_pid: int | None = None
    disk_path: str = "/"


def open_target(
    store: str, workdir: str, pg_url: str, tag: str, account_cache: int | None = None
) -> tuple[Ledger, Target]:
    cache = {} if account_cache is None else {"account_cache_max": account_cache}
    if store == "sqlite":
        path = os.path.join(workdir, f"ledger_{tag}.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)

        def remove_files() -> None:
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)

        ledger = Ledger.open(f"sqlite:///{path}", **cache)
        conn = ledger.store.c  # type: ignore[attr-defined]
        sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[
            conn.execute("PRAGMA synchronous").fetchone()[0]
        ]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        target = Target(
            "sqlite",
            path,
            remove_files,
            settings={
                "journal_mode": mode,
                "synchronous": sync,
                "cache_size": str(conn.execute("PRAGMA cache_size").fetchone()[0]),
                "mmap_size": str(conn.execute("PRAGMA mmap_size").fetchone()[0]),
            },
            disk_path=workdir,
        )
        target.durability = f"SQLite journal_mode={mode}, synchronous={sync}"
        return ledger, target

    import psycopg

    schema = f"bench_{tag}_{os.getpid()}"
    url = f"{pg_url}?schema={schema}"

    def drop_schema() -> None:
        with psycopg.connect(_libpq_url(pg_url), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    drop_schema()
    ledger = Ledger.open(url, **cache)
    conn = ledger.store.c  # type: ignore[attr-defined]
    with conn.transaction():  # the ledger's own session, as it commits
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in (
                "synchronous_commit",
                "fsync",
                "wal_sync_method",
                "full_page_writes",
                "shared_buffers",
                "max_wal_size",
            )
        }
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        data_dir = show(conn, "data_directory")
    disk_path = data_dir if os.path.exists(data_dir) else "/"
    target = Target("postgresql", url, drop_schema, settings=settings, backend_pid=pid, disk_path=disk_path)
    target.durability = (
        f"PostgreSQL synchronous_commit={settings['synchronous_commit']}, fsync={settings['fsync']}"
    )
    return ledger, target


def create_accounts(ledger: Ledger, n: int, ids: Uuid7Ids, label: str) -> tuple[list[int], dict[str, Any]]:
    accounts = [Account(ids.new_id(), "USD", 1) for _ in range(n)]
    elapsed = 0.0
    calls = 0
    for start in range(0, n, BATCH_MAX):
        chunk = accounts[start : start + BATCH_MAX]
        t0 = time.perf_counter()
        results = ledger.create_accounts(chunk)
        elapsed += time.perf_counter() - t0
        calls += 1
        bad = [r for r in results if r != "ok"]
        assert not bad, f"create_accounts failed: {bad[:5]}"
        if calls % 10 == 0 or start + BATCH_MAX >= n:
            progress(f"  {label}: {min(start + BATCH_MAX, n):,}/{n:,} accounts")
    log(("\r" if _TTY else "") + f"  {label}: {n:,} accounts at {n / elapsed:,.0f}/s")
    return [a.id for a in accounts], {
        "accounts": n,
        "calls": calls,
        "seconds": round(elapsed, 3),
        "accounts_per_s": round(n / elapsed, 1),
    }


def settle(ledger: Ledger, target: Target) -> None:
    """Start the measured cells from a clean disk state: flush what the bulk
    account load left behind (PostgreSQL CHECKPOINT; SQLite WAL checkpoint),
    so the cells do not pay for the set-up's writes."""
    conn = ledger.store.c  # type: ignore[attr-defined]
    if target.store == "sqlite":
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    else:
        with conn.transaction():
            conn.execute("CHECKPOINT")


# -- measurement ---------------------------------------------------------------------


@dataclass
class Cell:
    store: str
    durability: str
    accounts: int
    workload: str
    batch: int
    transfers: int
    calls: int
    seconds: float
    transfers_per_s: float
    call_p50_ms: float
    call_p99_ms: float
    call_max_ms: float
    client_cpu_pct: float  # this process: Python + the SQLite library
    server_cpu_pct: float | None  # the ledger's PostgreSQL backend
    pg_other_cpu_pct: float  # other PostgreSQL processes (WAL writer, checkpointer, autovacuum)
    foreign_cpu_pct: float  # everything else on the host; high = a noisy neighbour
    gc_pct: float  # Python's cyclic garbage collector, % of the time inside create_transfers
    # bytes this process and PostgreSQL caused to be written to disk, per transfer (WAL, pages)
    written_bytes_per_transfer: int
    disk_busy_pct: float  # the block device's busy time, % of wall
    foreign_written_mb_s: float  # disk writes by anything else (other tenants, fs journal)
    attempts: int = 1


def run_cell(
    ledger: Ledger,
    target: Target,
    accounts: int,
    workload: Workload,
    batch: int,
    specs: list[tuple[int, int, int, int]],
    label: str,
) -> Cell:
    latencies: list[float] = []
    busy = 0.0
    calls = (len(specs) + batch - 1) // batch
    gc_clock = GcClock()
    meter = HostMeter(target.backend_pid, target.disk_path)
    harness_wall = harness_cpu = 0.0
    last_report = time.perf_counter()
    with gc_clock:
        for k, start in enumerate(range(0, len(specs), batch)):
            h0, c0 = time.perf_counter(), time.process_time()
            chunk = [Transfer(i, d, c, a, "USD", 1) for i, d, c, a in specs[start : start + batch]]
            t0 = time.perf_counter()
            harness_wall += t0 - h0
            harness_cpu += time.process_time() - c0
            gc_clock.reset_window()
            results = ledger.create_transfers(chunk)
            t1 = time.perf_counter()
            busy += t1 - t0
            gc_in_calls = gc_clock.window
            latencies.append((t1 - t0) * 1000)
            if len(results) != len(chunk) or any(r != "ok" for r in results):
                bad = sorted({str(r) for r in results if r != "ok"})
                raise AssertionError(f"{label}: create_transfers returned {bad}")
            gc_clock.calls_total += gc_in_calls
            if t1 - last_report > 0.5:
                last_report = t1
                progress(f"  {label}: {k + 1}/{calls} calls, {(start + len(chunk)) / busy:,.0f} transfers/s")
    cpu = meter.stop(harness_wall, harness_cpu)
    cell = Cell(
        store=target.store,
        durability=target.durability,
        accounts=accounts,
        workload=workload.kind,
        batch=batch,
        transfers=len(specs),
        calls=calls,
        seconds=round(busy, 3),
        transfers_per_s=round(len(specs) / busy, 1),
        call_p50_ms=round(percentile(latencies, 50), 3),
        call_p99_ms=round(percentile(latencies, 99), 3),
        call_max_ms=round(max(latencies), 3),
        client_cpu_pct=cpu["client_pct"] or 0.0,
        server_cpu_pct=cpu["backend_pct"],
        pg_other_cpu_pct=cpu["pg_other_pct"] or 0.0,
        foreign_cpu_pct=cpu["foreign_pct"] or 0.0,
        written_bytes_per_transfer=round((cpu["ledger_written"] or 0.0) / len(specs)),
        disk_busy_pct=cpu["disk_busy_pct"] or 0.0,
        foreign_written_mb_s=cpu["foreign_written_mb_s"] or 0.0,
        gc_pct=round(100 * gc_clock.calls_total / busy, 1),
    )
    server = f", PG backend CPU {cell.server_cpu_pct:.0f}%" if cell.server_cpu_pct is not None else ""
    log(
        ("\r" if _TTY else "") + f"  {label}: {cell.transfers:,} transfers in {cell.calls:,} calls: "
        f"{cell.transfers_per_s:,.0f}/s, call p50 {cell.call_p50_ms:.2f} ms, "
        f"p99 {cell.call_p99_ms:.2f} ms, client CPU {cell.client_cpu_pct:.0f}%{server}, "
        f"other PG CPU {cell.pg_other_cpu_pct:.0f}%, foreign CPU {cell.foreign_cpu_pct:.0f}%, "
        f"GC {cell.gc_pct:.0f}% of call time, {cell.written_bytes_per_transfer:,} B written/transfer, "
        f"disk busy {cell.disk_busy_pct:.0f}%, foreign writes {cell.foreign_written_mb_s:.1f} MB/s"
    )
    return cell


def bench_store(
    store: str,
    n_accounts: int,
    plan: dict[str, Any],
    args: argparse.Namespace,
    workdir: str,
    seed: int,
) -> tuple[list[Cell], dict[str, Any], dict[str, Any]]:
    rng = random.Random(seed)
    ids = Uuid7Ids()
    tag = f"{'sq' if store == 'sqlite' else 'pg'}_{human_count(n_accounts).lower()}"
    ledger, target = open_target(store, workdir, args.pg_url, tag, args.account_cache)
    log(f"[{store} {human_count(n_accounts)} accounts] {target.durability}")
    try:
        account_ids, creation = create_accounts(ledger, n_accounts, ids, f"{store} create_accounts")
        creation.update(store=store, durability=target.durability)
        warm = Workload("uniform", account_ids, rng)
        warm_size = min(BATCH_MAX, max(plan["transfers"].values()))
        warm_results = ledger.create_transfers(make_transfers(warm, warm_size, ids, rng))
        if any(r != "ok" for r in warm_results):
            raise AssertionError("warm-up batch failed")
        settle(ledger, target)
        cells = []
        for kind in args.workloads:
            workload = Workload(kind, account_ids, rng)
            for batch in args.batches:
                n = plan["transfers"][batch]
                label = f"{store} {human_count(n_accounts)} {kind} batch={batch}"
                best: Cell | None = None
                for attempt in range(1, args.noisy_retries + 2):
                    if args.wait_quiet:
                        wait_until_quiet(min(args.wait_quiet, 120))
                    specs = make_specs(workload, n, ids, rng)
                    cell = run_cell(ledger, target, n_accounts, workload, batch, specs, label)
                    if best is None or cell.foreign_cpu_pct < best.foreign_cpu_pct:
                        best = cell
                    if cell.foreign_cpu_pct <= NOISY_FOREIGN_CPU_PCT:
                        break
                    if attempt <= args.noisy_retries:
                        log(f"  (foreign CPU {cell.foreign_cpu_pct:.0f}% on a shared host: measuring again)")
                assert best is not None
                best.attempts = attempt
                cells.append(best)
        return cells, creation, {"store": store, "accounts": n_accounts, **target.settings}
    finally:
        ledger.close()
        target.cleanup()


# -- pgbench reference --------------------------------------------------------------


def run_pgbench(pg_url: str, scale: int, seconds: int, retries: int, wait_quiet: float) -> dict[str, Any]:
    import resource

    import psycopg

    pgbench = shutil.which("pgbench") or "/usr/bin/pgbench"
    base = _libpq_url(pg_url)
    ref = _libpq_url(pg_url, PGBENCH_DB)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PGBENCH_DB}")
        conn.execute(f"CREATE DATABASE {PGBENCH_DB}")
        settings = {name: show(conn, name) for name in ("synchronous_commit", "fsync", "data_directory")}
    disk_path = settings["data_directory"] if os.path.exists(settings["data_directory"]) else "/"
    try:
        log(f"[pgbench] init -s {scale}")
        init = run_cmd([pgbench, "-i", "-q", "-s", str(scale), ref])
        if init.returncode != 0:
            raise RuntimeError(f"pgbench -i failed: {init.stderr}")
        command = [pgbench, "-c", "2", "-j", "2", "-T", str(seconds), "-b", "tpcb-like", ref]
        best: dict[str, Any] | None = None
        for attempt in range(1, retries + 2):
            if wait_quiet:
                wait_until_quiet(min(wait_quiet, 120))
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute("CHECKPOINT")  # as for the ledger cells: start from a clean disk state
            log(f"[pgbench] {' '.join(command[:-1])} {PGBENCH_DB}")
            meter = HostMeter(None, disk_path)
            children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            out = run_cmd(command)
            children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            host = meter.stop()
            if out.returncode != 0:
                raise RuntimeError(f"pgbench failed: {out.stderr}")
            tps = re.search(r"tps = ([\d.]+) \((?:without|excluding)", out.stdout)
            latency = re.search(r"latency average = ([\d.]+) ms", out.stdout)
            if tps is None:
                raise RuntimeError(f"cannot parse pgbench output:\n{out.stdout}")
            pgbench_cpu = (children1.ru_utime + children1.ru_stime) - (
                children0.ru_utime + children0.ru_stime
            )
            foreign = max(0.0, (host["foreign_pct"] or 0.0) - 100 * pgbench_cpu / (host["wall"] or 1.0))
            result = {
                "command": f"pgbench -i -s {scale}; pgbench -c 2 -j 2 -T {seconds} -b tpcb-like",
                "tps": float(tps.group(1)),
                "latency_avg_ms": float(latency.group(1)) if latency else None,
                "durability": f"PostgreSQL synchronous_commit={settings['synchronous_commit']}, "
                f"fsync={settings['fsync']} (the server's settings, as the ledger's)",
                "foreign_cpu_pct": round(foreign, 1),
                "attempts": attempt,
            }
            log(
                f"[pgbench] tps = {result['tps']:,.1f}, latency avg {result['latency_avg_ms']} ms, "
                f"foreign CPU {foreign:.0f}%"
            )
            if best is None or foreign < best["foreign_cpu_pct"]:
                best = result
            if foreign <= NOISY_FOREIGN_CPU_PCT:
                break
        assert best is not None
        best["attempts"] = attempt
        return best
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PGBENCH_DB} WITH (FORCE)")


# -- goals -------------------------------------------------------------------------------


def evaluate_goals(cells: list[Cell], pgbench: dict[str, Any] | None) -> list[dict[str, Any]]:
    goals: list[dict[str, Any]] = []
    top = max((c.batch for c in cells), default=0)
    pg_batched = [c for c in cells if c.store == "postgresql" and c.batch == top]
    sq_batched = [c for c in cells if c.store == "sqlite" and c.batch == top]
    sq_single = [c for c in cells if c.store == "sqlite" and c.batch == 1]

    def spread(cs: list[Cell], value: Callable[[Cell], float], fmt: Callable[[float], str]) -> str:
        return ", ".join(f"{human_count(c.accounts)} {c.workload}: {fmt(value(c))}" for c in cs)

    if pg_batched and pgbench:
        ratios = [c.transfers_per_s / pgbench["tps"] for c in pg_batched]
        goals.append(
            {
                "goal": f"PostgreSQL batched (batch {top}) transfers/s / pgbench tps "
                f">= {GOAL_PG_VS_PGBENCH:.0f}x",
                "worst": round(min(ratios), 2),
                "best": round(max(ratios), 2),
                "met": min(ratios) >= GOAL_PG_VS_PGBENCH,
                "detail": spread(
                    pg_batched, lambda c: c.transfers_per_s / pgbench["tps"], lambda v: f"{v:.1f}x"
                )
                + f" (pgbench {pgbench['tps']:,.0f} tps)",
                "durability": pg_batched[0].durability + "; pgbench: " + pgbench["durability"],
            }
        )
    if sq_batched:
        rates = [c.transfers_per_s for c in sq_batched]
        goals.append(
            {
                "goal": f"SQLite batched (batch {top}) >= {GOAL_SQLITE_BATCHED:,.0f} transfers/s",
                "worst": min(rates),
                "best": max(rates),
                "met": min(rates) >= GOAL_SQLITE_BATCHED,
                "detail": spread(sq_batched, lambda c: c.transfers_per_s, lambda v: f"{v:,.0f}/s"),
                "durability": sq_batched[0].durability,
            }
        )
    if sq_single:
        p99s = [c.call_p99_ms for c in sq_single]
        goals.append(
            {
                "goal": f"SQLite single-transfer p99 <= {GOAL_SQLITE_P99_MS} ms",
                "worst": max(p99s),
                "best": min(p99s),
                "met": max(p99s) <= GOAL_SQLITE_P99_MS,
                "detail": spread(sq_single, lambda c: c.call_p99_ms, lambda v: f"{v:.2f} ms"),
                "durability": sq_single[0].durability,
            }
        )
    sizes = sorted({c.accounts for c in cells})
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        ratios, parts = [], []
        for store in ("sqlite", "postgresql"):
            for kind in ("uniform", "zipf"):
                a = [
                    c
                    for c in cells
                    if (c.store, c.workload, c.batch, c.accounts) == (store, kind, top, small)
                ]
                z = [
                    c
                    for c in cells
                    if (c.store, c.workload, c.batch, c.accounts) == (store, kind, top, large)
                ]
                if a and z:
                    ratio = z[0].transfers_per_s / a[0].transfers_per_s
                    ratios.append(ratio)
                    parts.append(f"{store} {kind}: {ratio:.2f}")
        if ratios:
            worst = float(max(ratios, key=lambda r: abs(1 - r)))
            goals.append(
                {
                    "goal": f"{human_count(large)} vs {human_count(small)} accounts throughput (batch {top}) "
                    f"within {GOAL_SCALE_DRIFT:.0%}",
                    "worst": round(worst, 3),
                    "best": round(float(min(ratios, key=lambda r: abs(1 - r))), 3),
                    "met": all(abs(1 - r) <= GOAL_SCALE_DRIFT for r in ratios),
                    "detail": "ratio large/small: " + ", ".join(parts),
                    "durability": "as in each store's cells",
                }
            )
    return goals


# -- reporting -------------------------------------------------------------------------------


def latency_rows(cells: list[Cell]) -> list[Cell]:
    return [c for c in cells if c.batch == 1]


def markdown(report: dict[str, Any]) -> str:
    cells = [Cell(**c) for c in report["cells"]]
    lines = []
    m, v = report["machine"], report["versions"]
    lines.append(
        f"Run: `{report['command']}` at {report['started']} ({report['mode']} mode), "
        f"{report['elapsed_s']:,.0f} s wall."
    )
    lines.append("")
    lines.append(
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['mem_gib']} GiB RAM, Linux "
        f"{m['kernel']}; at start: load average {m['load_avg_at_start']}, host CPU "
        f"{m['host_busy_pct_at_start']}% busy; "
        f"write+fsync probe p50 {m['fsync_probe']['p50_ms']} ms, p99 {m['fsync_probe']['p99_ms']} ms."
    )
    lines.append("")
    lines.append("Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val))
    lines.append("")
    if report.get("settings"):
        lines.append("Durability settings, read back from each ledger's own connection:")
        lines.append("")
        for s in report["settings"]:
            rest = ", ".join(f"{k}={val}" for k, val in s.items() if k not in ("store", "accounts"))
            lines.append(f"- {s['store']} ({human_count(s['accounts'])} accounts): {rest}")
        lines.append("")
    lines.append("### create_transfers throughput")
    lines.append("")
    lines.append(
        "| store | durability | accounts | workload | batch | transfers | calls | transfers/s "
        "| call p50 ms | call p99 ms | call max ms | client CPU | PG backend CPU | other PG CPU "
        "| foreign CPU | GC | bytes written / transfer | disk busy | foreign writes MB/s |"
    )
    lines.append("|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    noisy = False
    for c in cells:
        server = f"{c.server_cpu_pct:.0f}%" if c.server_cpu_pct is not None else "n/a"
        other_pg = f"{c.pg_other_cpu_pct:.0f}%" if c.store == "postgresql" else "n/a"
        foreign = f"{c.foreign_cpu_pct:.0f}%"
        if c.foreign_cpu_pct > NOISY_FOREIGN_CPU_PCT:
            foreign += " (noisy)"
            noisy = True
        lines.append(
            f"| {c.store} | {c.durability} | {human_count(c.accounts)} | {c.workload} | {c.batch} "
            f"| {c.transfers:,} | {c.calls:,} | **{fmt_int(c.transfers_per_s)}** | {fmt_ms(c.call_p50_ms)} "
            f"| {fmt_ms(c.call_p99_ms)} | {fmt_ms(c.call_max_ms)} | {c.client_cpu_pct:.0f}% | {server} "
            f"| {other_pg} | {foreign} | {c.gc_pct:.0f}% | {c.written_bytes_per_transfer:,} "
            f"| {c.disk_busy_pct:.0f}% | {c.foreign_written_mb_s:.1f} |"
        )
    lines.append("")
    lines.append(
        "CPU columns are % of one CPU over the time inside create_transfers (the host has "
        f"{m['nproc']}). Foreign CPU is host CPU used by neither this process nor PostgreSQL "
        "(other tenants of the machine, kernel threads); a cell above "
        f"{NOISY_FOREIGN_CPU_PCT:.0f}% was measured again (up to --noisy-retries times) and the "
        "quietest attempt is shown"
        + ("; cells still marked (noisy) understate the ledger. " if noisy else ". ")
        + "GC is the share of that time Python's cyclic garbage collector took. Bytes written per "
        "transfer counts what this process and all PostgreSQL processes caused to be written to "
        "disk (WAL, table and index pages, checkpoints); disk busy is the block device's utilisation; "
        "foreign writes are the device's other writes (other tenants, the file-system journal)."
    )
    lines.append("")
    single = latency_rows(cells)
    if single:
        lines.append("### Single-transfer latency (batch size 1, one durable commit per transfer)")
        lines.append("")
        lines.append("| store | durability | accounts | workload | samples | p50 ms | p99 ms | max ms |")
        lines.append("|---|---|--:|---|--:|--:|--:|--:|")
        for c in single:
            lines.append(
                f"| {c.store} | {c.durability} | {human_count(c.accounts)} | {c.workload} "
                f"| {c.calls:,} | {c.call_p50_ms:.2f} | {c.call_p99_ms:.2f} | {c.call_max_ms:.2f} |"
            )
        lines.append("")
    if report["account_creation"]:
        lines.append("### create_accounts (batches of 8190)")
        lines.append("")
        lines.append("| store | durability | accounts | calls | seconds | accounts/s |")
        lines.append("|---|---|--:|--:|--:|--:|")
        for a in report["account_creation"]:
            lines.append(
                f"| {a['store']} | {a['durability']} | {a['accounts']:,} | {a['calls']:,} "
                f"| {a['seconds']:.1f} | {fmt_int(a['accounts_per_s'])} |"
            )
        lines.append("")
    pgb = report.get("pgbench")
    if pgb:
        lines.append("### Reference: pgbench on the same server")
        lines.append("")
        lines.append(
            f"`{pgb['command']}`: **{pgb['tps']:,.1f} tps**, latency average "
            f"{pgb['latency_avg_ms']} ms ({pgb['durability']}; foreign CPU {pgb['foreign_cpu_pct']:.0f}%)."
        )
        lines.append("")
    if report["goals"]:
        lines.append("### Goals")
        lines.append("")
        lines.append("| goal | result | met? | durability |")
        lines.append("|---|---|---|---|")
        for g in report["goals"]:
            lines.append(
                f"| {g['goal']} | {g['detail']} | {'**met**' if g['met'] else '**not met**'} "
                f"| {g['durability']} |"
            )
        lines.append("")
    return "\n".join(lines)


# -- profiling -------------------------------------------------------------------------------


class PhaseTimer:
    """Wall time per phase of ``create_transfers``, by wrapping the functions
    the service calls once per batch (store methods, the engine's ``run``, the
    hash chain). The per-batch wrappers cost microseconds, so unlike a
    profiler they do not inflate the Python parts; what no wrapper covers is
    the service's own glue (id sets, ``journal.encode_transfer`` for every
    transfer, result lists)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._patches: list[tuple[Any, str, Any]] = []

    def add(self, label: str, seconds: float) -> None:
        self.seconds[label] = self.seconds.get(label, 0.0) + seconds

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
        if original is None:
            return

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - t0)

        setattr(owner, name, timed)
        self._patches.append((owner, name, original))

    def wrap_write(self, store_class: type) -> None:
        """Time the store's ``write()`` context: BEGIN (+ lock) and COMMIT (+ fsync)."""
        original = store_class.__dict__["write"]
        timer = self

        class Timed:
            def __init__(self, inner: Any) -> None:
                self.inner = inner

            def __enter__(self) -> Any:
                t0 = time.perf_counter()
                try:
                    return self.inner.__enter__()
                finally:
                    timer.add("SQL: BEGIN (take the write lock)", time.perf_counter() - t0)

            def __exit__(self, *exc: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return self.inner.__exit__(*exc)
                finally:
                    timer.add("SQL: COMMIT (durable: WAL write + fsync)", time.perf_counter() - t0)

        def write(store: Any, *args: Any, **kwargs: Any) -> Any:
            return Timed(original(store, *args, **kwargs))

        store_class.write = write  # type: ignore[attr-defined]
        self._patches.append((store_class, "write", original))

    def restore(self) -> None:
        for owner, name, original in reversed(self._patches):
            setattr(owner, name, original)
        self._patches.clear()


def install_phase_timer(ledger: Ledger) -> PhaseTimer:
    from netfin.ledger import engine, service

    timer = PhaseTimer()
    timer.wrap(service, "_check_batch", "validation: input type checks (service._check_batch)")
    timer.wrap(engine.TransferBatch, "run", "engine: shape checks + balance rules (TransferBatch.run)")
    timer.wrap(service, "_chain", "journal: SHA-256 leaf + chain hashes (service._chain)")
    store_class = type(ledger.store)
    module = sys.modules[store_class.__module__]
    write_class = next(
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, WriteTransaction) and value is not WriteTransaction
    )
    for name, label in (
        ("head", "SQL: read + lock the head row"),
        ("set_head", "SQL: update the head row"),
        ("due_pending", "SQL: pending-transfer lookups"),
        ("load_pending", "SQL: pending-transfer lookups"),
        ("load_accounts", "SQL: load accounts (SELECT + decode; cache misses only)"),
        ("load_transfers", "SQL: idempotency lookup of transfer ids"),
        ("insert_transfers", "SQL: insert transfers (incl. row encoding)"),
        ("update_accounts", "SQL: update account balances"),
        ("write_pending", "SQL: pending-transfer writes"),
        ("insert_history", "SQL: balance history rows"),
        ("insert_journal", "SQL: insert journal rows"),
    ):
        timer.wrap(write_class, name, label)
    timer.wrap_write(store_class)
    return timer


# pyinstrument detail: (file basename, function) -> label; the deepest match
# wins, so e.g. shape validation inside TransferBatch.run is reported apart.
PROFILE_RULES: list[tuple[str, str, str]] = [
    ("service.py", "create_transfers", "service glue"),
    ("service.py", "_check_batch", "validation: _check_batch"),
    ("engine.py", "validate_transfer_shape", "validation: validate_transfer_shape"),
    ("engine.py", "run", "engine: TransferBatch.run (rules, copies)"),
    ("engine.py", "_copy_transfer", "engine: _copy_transfer"),
    ("journal.py", "encode_transfer", "journal: encode_transfer"),
    ("service.py", "_chain", "journal: _chain (SHA-256)"),
    ("*", "load_accounts", "SQL: load_accounts"),
    ("*", "load_transfers", "SQL: load_transfers (idempotency)"),
    ("*", "insert_transfers", "SQL: insert_transfers"),
    ("store.py", "transfer_row", "Python: store.transfer_row"),
    ("*", "update_accounts", "SQL: update_accounts"),
    ("model.py", "closed", "Python: Account.closed (IntFlag &)"),
    ("*", "insert_journal", "SQL: insert_journal"),
    ("*", "write", "SQL: BEGIN/COMMIT"),
]


def categorise(root: Any) -> tuple[dict[str, float], float, dict[str, float]]:
    """Exclusive time per label over a pyinstrument frame tree, the time spent
    inside Ledger.create_transfers, and self time per function."""
    totals: dict[str, float] = {}
    self_times: dict[str, float] = {}
    inside_total = 0.0

    def rule_for(frame: Any) -> str | None:
        base = os.path.basename(frame.file_path or "")
        for file, function, label in PROFILE_RULES:
            store_file = file == "*" and base in ("sqlite.py", "postgres.py")
            if frame.function == function and (store_file or file == base):
                return label
        return None

    stack: list[tuple[Any, str | None, str]] = [(root, None, "?")]
    while stack:
        frame, label, parent_name = stack.pop()
        base = os.path.basename(frame.file_path or "?")
        if label is None and frame.function == "create_transfers" and base == "service.py":
            inside_total += frame.time
        label = rule_for(frame) or label
        name = parent_name if frame.is_synthetic else f"{base}:{frame.function}"
        own = frame.time - sum(child.time for child in frame.children)
        if label is not None and own > 0:
            totals[label] = totals.get(label, 0.0) + own
            self_times[name] = self_times.get(name, 0.0) + own
        for child in frame.children:
            stack.append((child, label, name))
    return totals, inside_total, self_times


def _timed_batches(ledger: Ledger, batches: list[list[tuple[int, int, int, int]]]) -> float:
    """Seconds inside create_transfers for these batches (Transfer objects are
    built from the specs just before each call, outside the timing)."""
    spent = 0.0
    for specs in batches:
        chunk = [Transfer(i, d, c, a, "USD", 1) for i, d, c, a in specs]
        t0 = time.perf_counter()
        results = ledger.create_transfers(chunk)
        spent += time.perf_counter() - t0
        if any(r != "ok" for r in results):
            raise AssertionError("profiled batch failed")
    return spent


STORE_PARTS = ("begin", "idempotency probe", "transfer rows", "journal rows", "head", "commit")


def _store_only_batch(ledger: Ledger, transfers: list[Transfer], spent: dict[str, float]) -> None:
    """Write one batch through the store alone, adding seconds per part to ``spent``:
    the statements a batch of plain transfers needs (the idempotency probe, the
    transfer rows, one journal row each, the head), with the rows, timestamps and
    hashes made beforehand. No validation, no balance rules, no hashing."""
    store = ledger.store
    head = store.head()
    stamped = [replace(t, timestamp=head.timestamp + k + 1) for k, t in enumerate(transfers)]
    kind = int(JournalKind.TRANSFER)
    journal = [
        (head.seq + k + 1, kind, b(t.id), t.timestamp, os.urandom(32), os.urandom(32))
        for k, t in enumerate(stamped)
    ]
    new_head = Head(head.seq + len(stamped), journal[-1][5], stamped[-1].timestamp)
    t0 = time.perf_counter()
    with store.write(len(stamped)) as tx:
        t1 = time.perf_counter()
        tx.head()
        tx.load_transfers([t.id for t in stamped])
        t2 = time.perf_counter()
        tx.insert_transfers(stamped)
        t3 = time.perf_counter()
        tx.insert_journal(journal)
        t4 = time.perf_counter()
        tx.set_head(new_head)
        t5 = time.perf_counter()
    t6 = time.perf_counter()
    for part, seconds in zip(
        STORE_PARTS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5), strict=True
    ):
        spent[part] += seconds


def _prepared_ledger(
    store: str, args: argparse.Namespace, workdir: str, tag: str, rng: random.Random, ids: Uuid7Ids
) -> tuple[Ledger, Target, Workload]:
    """A ledger with ``--profile-accounts`` accounts and two warm-up batches (which fill
    the account cache, as in the benchmark's cells), checkpointed; closed and removed
    again if any of that fails."""
    ledger, target = open_target(store, workdir, args.pg_url, tag, args.account_cache)
    try:
        account_ids, _ = create_accounts(
            ledger, args.profile_accounts, ids, f"{store} create_accounts ({tag})"
        )
        workload = Workload(args.profile_workload, account_ids, rng)
        for _ in range(2):
            ledger.create_transfers(make_transfers(workload, BATCH_MAX, ids, rng))
        settle(ledger, target)
    except BaseException:
        ledger.close()
        target.cleanup()
        raise
    return ledger, target, workload


def run_floor(args: argparse.Namespace, workdir: str) -> dict[str, Any]:
    """The store's share of a batch: the same kind of batches through the whole
    ledger and through the store alone, on two databases made alike, taking turns
    batch by batch (so that the host's drift falls on both)."""
    store = args.floor
    rng, ids = random.Random(args.seed), Uuid7Ids()
    whole_ledger, whole_target, whole_load = _prepared_ledger(store, args, workdir, "floor_ledger", rng, ids)
    n = args.profile_batches
    whole = 0.0
    parts = dict.fromkeys(STORE_PARTS, 0.0)
    try:
        store_ledger, store_target, store_load = _prepared_ledger(
            store, args, workdir, "floor_store", rng, ids
        )
    except BaseException:
        whole_ledger.close()
        whole_target.cleanup()
        raise
    try:
        for k in range(n):
            progress(f"  floor: batch {k + 1}/{n}")
            whole += _timed_batches(whole_ledger, [make_specs(whole_load, BATCH_MAX, ids, rng)])
            _store_only_batch(store_ledger, make_transfers(store_load, BATCH_MAX, ids, rng), parts)
    finally:
        for ledger, target in ((whole_ledger, whole_target), (store_ledger, store_target)):
            ledger.close()
            target.cleanup()
    transfers = n * BATCH_MAX
    store_us = 1e6 * sum(parts.values()) / transfers
    whole_us = 1e6 * whole / transfers
    result = {
        "store": store,
        "durability": whole_target.durability,
        "accounts": args.profile_accounts,
        "workload": args.profile_workload,
        "batch": BATCH_MAX,
        "batches": n,
        "ledger_us_per_transfer": round(whole_us, 2),
        "store_only_us_per_transfer": round(store_us, 2),
        "store_only_parts_us": {k: round(1e6 * v / transfers, 2) for k, v in parts.items()},
        "rest_of_ledger_us_per_transfer": round(whole_us - store_us, 2),
        "ledger_transfers_per_s": round(1e6 / whole_us),
        "store_only_transfers_per_s": round(1e6 / store_us),
    }
    lines = [
        f"floor {store} {human_count(args.profile_accounts)} {args.profile_workload} batch={BATCH_MAX} "
        f"({whole_target.durability}), {n} batches each, taking turns:",
        f"  whole ledger: {whole_us:6.2f} us/transfer ({result['ledger_transfers_per_s']:,}/s)",
        f"  store alone:  {store_us:6.2f} us/transfer ({result['store_only_transfers_per_s']:,}/s), of which",
        *(f"    {k:18s} {v:6.2f} us" for k, v in result["store_only_parts_us"].items()),
        f"  the rest (validation, balance rules, hashing, encoding, glue): {whole_us - store_us:6.2f} us",
    ]
    log("\n" + "\n".join(lines))
    return result


def run_profile(args: argparse.Namespace, workdir: str) -> dict[str, Any]:
    try:
        from pyinstrument import Profiler
    except ImportError:
        raise SystemExit("--profile needs pyinstrument: .venv/bin/pip install pyinstrument") from None

    store = args.profile
    rng = random.Random(args.seed)
    ids = Uuid7Ids()
    ledger, target, workload = _prepared_ledger(store, args, workdir, "prof", rng, ids)
    n = args.profile_batches
    try:
        label = f"{store} {human_count(args.profile_accounts)} {args.profile_workload} batch={BATCH_MAX}"

        # 1. plain rate; 2. phase timers (+ GC and CPU clocks); 3. pyinstrument. Same ledger, fresh batches.
        plain_wall = _timed_batches(ledger, [make_specs(workload, BATCH_MAX, ids, rng) for _ in range(n)])
        plain_rate = n * BATCH_MAX / plain_wall

        gc_time = [0.0, 0.0]

        def gc_clock(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                gc_time[0] = time.perf_counter()
            else:
                gc_time[1] += time.perf_counter() - gc_time[0]

        batches = [make_specs(workload, BATCH_MAX, ids, rng) for _ in range(n)]
        timer = install_phase_timer(ledger)
        gc.callbacks.append(gc_clock)
        cpu0 = time.process_time()
        try:
            phase_wall = _timed_batches(ledger, batches)
        finally:
            gc.callbacks.remove(gc_clock)
            timer.restore()
        cpu = time.process_time() - cpu0
        phases = dict(timer.seconds)
        phases["service glue (id sets, journal.encode_transfer per transfer, lists)"] = max(
            0.0, phase_wall - sum(phases.values())
        )

        batches = [make_specs(workload, BATCH_MAX, ids, rng) for _ in range(n)]
        profiler = Profiler(interval=0.001)
        profiler.start()
        prof_wall = _timed_batches(ledger, batches)
        profiler.stop()
        session = profiler.last_session
        assert session is not None
        totals, inside, self_times = categorise(session.root_frame())
        os.makedirs(args.profile_dir, exist_ok=True)
        text_path = os.path.join(args.profile_dir, f"profile_{store}.txt")
        with open(text_path, "w") as handle:
            handle.write(profiler.output_text(unicode=True, color=False, show_all=False))
        html_path = os.path.join(args.profile_dir, f"profile_{store}.html")
        with open(html_path, "w") as handle:
            handle.write(profiler.output_html())

        def rows(table: dict[str, float], wall: float, limit: int | None = None) -> list[dict[str, Any]]:
            ordered = sorted(table.items(), key=lambda kv: -kv[1])[:limit]
            return [
                {"name": k, "seconds": round(v, 3), "pct_of_wall": round(100 * v / wall, 1)}
                for k, v in ordered
            ]

        result = {
            "cell": label,
            "durability": target.durability,
            "batches": n,
            "transfers_per_s_plain": round(plain_rate, 1),
            "transfers_per_s_phase_timed": round(n * BATCH_MAX / phase_wall, 1),
            "transfers_per_s_pyinstrument": round(n * BATCH_MAX / prof_wall, 1),
            "client_cpu_pct": round(100 * cpu / phase_wall, 1),
            "gc_pct_of_wall": round(100 * gc_time[1] / phase_wall, 1),
            "phases": rows(phases, phase_wall),
            "pyinstrument_labels": rows(totals, inside),
            "pyinstrument_self_time": rows(self_times, inside, 30),
            "pyinstrument_text": text_path,
            "pyinstrument_html": html_path,
        }
        log(
            f"\nprofile {label} ({target.durability}): {plain_rate:,.0f} transfers/s plain, "
            f"{result['transfers_per_s_phase_timed']:,.0f}/s phase-timed, "
            f"{result['transfers_per_s_pyinstrument']:,.0f}/s under pyinstrument; client CPU "
            f"{result['client_cpu_pct']}% of wall; cyclic GC {result['gc_pct_of_wall']}% of wall"
        )
        log(f"\nphases (wall time, phase-timed run)        {'s':>7} {'% wall':>7}")
        for row in result["phases"]:
            log(f"  {row['name']:<72} {row['seconds']:>7.3f} {row['pct_of_wall']:>6.1f}%")
        log("\npyinstrument, exclusive time by label (% of time in create_transfers):")
        for row in result["pyinstrument_labels"]:
            log(f"  {row['name']:<72} {row['seconds']:>7.3f} {row['pct_of_wall']:>6.1f}%")
        log("\npyinstrument, self time by function (top 30):")
        for row in result["pyinstrument_self_time"]:
            log(f"  {row['name']:<72} {row['seconds']:>7.3f} {row['pct_of_wall']:>6.1f}%")
        log(f"pyinstrument tree: {text_path}")
        return result
    finally:
        ledger.close()
        target.cleanup()


# -- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small smoke run (about a minute)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument("--out", metavar="FILE", help="write the results as markdown tables to FILE")
    parser.add_argument(
        "--stores", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql (default both)"
    )
    parser.add_argument("--accounts", help="comma-separated account counts (default 10000,1000000)")
    parser.add_argument("--workloads", default="uniform,zipf", help="comma-separated: uniform, zipf")
    parser.add_argument("--batches", default="1,100,8190", help="comma-separated batch sizes")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("NETFIN_BENCH_PG", PG_DEFAULT),
        help=f"PostgreSQL database (default {PG_DEFAULT}); a scratch schema is used",
    )
    parser.add_argument("--no-pgbench", action="store_true", help="skip the pgbench reference")
    parser.add_argument("--workdir", help="directory for SQLite files and the key (default: a temp dir)")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument(
        "--account-cache", type=int, default=None,
        help="the ledger's account cache cap (default: the library's ACCOUNT_CACHE_MAX)",
    )  # fmt: skip
    parser.add_argument(
        "--sqlite-cache-kib",
        type=int,
        default=None,
        help="the SQLite store's page cache in KiB (default: the store's CACHE_KIB)",
    )
    parser.add_argument(
        "--sqlite-mmap-bytes",
        type=int,
        default=None,
        help="the SQLite store's memory map over its file, 0 for none (default: MMAP_SIZE_BYTES)",
    )
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="benchmark `git archive HEAD src` instead of the working tree (immune to concurrent edits)",
    )
    parser.add_argument(
        "--noisy-retries",
        type=int,
        default=2,
        metavar="N",
        help=f"repeat a cell up to N times while foreign CPU > {NOISY_FOREIGN_CPU_PCT:.0f}%% (default 2)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to SECONDS for the (shared) host to go idle",
    )
    parser.add_argument(
        "--profile",
        choices=("sqlite", "postgresql"),
        help="instead of the benchmark, profile one batched cell with pyinstrument",
    )
    parser.add_argument(
        "--floor",
        choices=("sqlite", "postgresql"),
        help="instead of the benchmark, time the same batches through the whole ledger and through "
        "the store alone (its statements, with rows and hashes made beforehand); uses --profile-accounts, "
        "--profile-workload, --profile-batches",
    )
    parser.add_argument("--profile-accounts", type=int, default=10_000)
    parser.add_argument("--profile-workload", choices=("uniform", "zipf"), default="uniform")
    parser.add_argument("--profile-batches", type=int, default=10)
    parser.add_argument("--profile-dir", default="benchmarks/results")
    args = parser.parse_args(argv)
    aliases = {"sqlite": "sqlite", "pg": "postgresql", "postgres": "postgresql", "postgresql": "postgresql"}
    try:
        args.stores = [aliases[s.strip()] for s in args.stores.split(",") if s.strip()]
    except KeyError as error:
        parser.error(f"unknown store {error}")
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    args.batches = [int(x) for x in args.batches.split(",") if x.strip()]
    for batch in args.batches:
        if not 1 <= batch <= BATCH_MAX:
            parser.error(f"batch sizes must be 1..{BATCH_MAX}")
    return args


def apply_sqlite_settings(args: argparse.Namespace) -> None:
    """What-ifs for the SQLite store's page cache and memory map (the settings
    each cell ran with are in its store's settings in the report)."""
    from netfin.ledger.stores import sqlite as sqlite_store

    if args.sqlite_cache_kib is not None:
        sqlite_store.CACHE_KIB = args.sqlite_cache_kib
    if args.sqlite_mmap_bytes is not None:
        sqlite_store.MMAP_SIZE_BYTES = args.sqlite_mmap_bytes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.snapshot and not os.environ.get(SNAPSHOT_ENV):
        return rerun_on_snapshot(sys.argv[1:] if argv is None else argv)
    apply_sqlite_settings(args)
    # SIGTERM unwinds like Ctrl-C, so the scratch schemas, database and files are removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    plan: dict[str, Any] = dict(QUICK if args.quick else FULL)
    plan["transfers"] = dict(plan["transfers"])
    for batch in args.batches:
        if batch not in plan["transfers"]:
            plan["transfers"][batch] = max(batch * (2 if args.quick else 20), 200 if args.quick else 5_000)
    if args.accounts:
        plan["accounts"] = [int(x) for x in args.accounts.split(",")]
    workdir = args.workdir or tempfile.mkdtemp(prefix="netfin-bench-")
    os.makedirs(workdir, exist_ok=True)
    os.environ["NETFIN_HOME"] = os.path.join(workdir, "home")  # signing key goes here, not ~/.netfin
    own_workdir = args.workdir is None
    try:
        if args.wait_quiet:
            wait_until_quiet(args.wait_quiet)
        if args.profile or args.floor:
            result = run_profile(args, workdir) if args.profile else run_floor(args, workdir)
            if args.json:
                print(json.dumps(result, indent=2))
            return 0
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        t_start = time.perf_counter()
        uses_pg = "postgresql" in args.stores or not args.no_pgbench
        machine = machine_info(workdir)
        report: dict[str, Any] = {
            "command": " ".join(
                ["python", "benchmarks/ledger.py", *(argv if argv is not None else sys.argv[1:])]
            ),
            "started": started,
            "mode": "quick" if args.quick else "full",
            "machine": machine,
            "versions": versions(args.pg_url if uses_pg else None),
            "plan": {
                "accounts": plan["accounts"],
                "transfers_per_cell": plan["transfers"],
                "workloads": args.workloads,
                "zipf_s": ZIPF_S,
            },
            "cells": [],
            "account_creation": [],
            "settings": [],
            "pgbench": None,
            "goals": [],
        }
        log(
            f"machine: {machine['nproc']} CPUs, {machine['cpu_model']}; fsync p50 "
            f"{machine['fsync_probe']['p50_ms']} ms; versions: {report['versions']}"
        )
        cells: list[Cell] = []
        for store in args.stores:
            for n_accounts in plan["accounts"]:
                store_cells, creation, settings = bench_store(
                    store, n_accounts, plan, args, workdir, args.seed
                )
                cells += store_cells
                report["account_creation"].append(creation)
                report["settings"].append(settings)
        if not args.no_pgbench:  # last, so its checkpoints and DROP DATABASE disturb no cell
            report["pgbench"] = run_pgbench(
                args.pg_url,
                plan["pgbench_scale"],
                plan["pgbench_seconds"],
                args.noisy_retries,
                args.wait_quiet,
            )
        report["cells"] = [asdict(c) for c in cells]
        report["goals"] = evaluate_goals(cells, report["pgbench"])
        report["elapsed_s"] = round(time.perf_counter() - t_start, 1)
        text = markdown(report)
        if args.out:
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            with open(args.out, "w") as handle:
                handle.write(text + "\n")
            log(f"markdown written to {args.out}")
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(text)
        return 0
    finally:
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
