"""The profile's scenarios over a whole history, on every core.

The history (a ``TXN_SCHEMA`` table) is replayed in time order through the
same ``StreamMonitor`` code that watches the live stream, so batch and
stream raise the same alerts by construction. With ``workers > 1`` the
accounts are split into shards by a hash of the account id: each worker
process replays the whole history but keeps state and raises alerts only for
the accounts it owns; one more pass searches round-trips on the whole graph
(the only scenario that needs every account). Results are merged and sorted.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from netfin.aml.monitoring.config import Profile
from netfin.aml.monitoring.graph_scan import graph_alerts
from netfin.aml.monitoring.model import TXN_COLUMNS, TXN_SCHEMA, AccountFacts, Alert, Txn
from netfin.aml.monitoring.stream import StreamMonitor
from netfin.core.errors import InvalidInput

CHUNK_ROWS = 65_536
WORKERS_MAX = 64
ROWS_MAX = 200_000_000

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class ScanResult:
    alerts: list[Alert]
    rows: int
    seconds: float
    workers: int
    cycle_searches_truncated: int
    hubs_skipped: int


def iter_txns(table: pa.Table, chunk_rows: int = CHUNK_ROWS) -> Iterator[list[Txn]]:
    """The table's rows as ``Txn`` objects, a chunk at a time (bounded memory)."""
    for offset in range(0, table.num_rows, chunk_rows):
        part = table.slice(offset, chunk_rows)
        columns = [part.column(name).to_pylist() for name in TXN_COLUMNS]
        yield [Txn(*row) for row in zip(*columns, strict=True)]


def sort_history(table: pa.Table) -> pa.Table:
    """Check the schema and sort by time (ties keep file order)."""
    missing = [n for n in TXN_COLUMNS if n not in table.column_names]
    if missing:
        raise InvalidInput(f"the history lacks columns {missing}", code="history_invalid")
    if table.num_rows > ROWS_MAX:
        raise InvalidInput(f"at most {ROWS_MAX} transactions per scan", code="history_too_large")
    table = table.select(list(TXN_COLUMNS)).cast(TXN_SCHEMA)
    if table.num_rows and pc.any(pc.less_equal(table.column("amount_minor"), 0)).as_py():
        raise InvalidInput("every amount is positive", code="amount_invalid")
    order = pc.sort_indices(table, sort_keys=[("ts_ms", "ascending")])
    return table.take(order)


def scan(
    table: pa.Table,
    profile: Profile,
    *,
    accounts: Sequence[AccountFacts] = (),
    workers: int = 1,
    progress: Progress | None = None,
) -> ScanResult:
    """Every scenario over ``table``; ``progress`` is told how many rows are done (worker 0's view)."""
    if not 1 <= workers <= WORKERS_MAX:
        raise InvalidInput(f"workers is 1..{WORKERS_MAX}", code="workers_invalid")
    started = time.perf_counter()
    table = sort_history(table)
    if workers == 1:
        monitor = StreamMonitor(profile, accounts=accounts)
        alerts = _replay(monitor, table, progress)
        trips = monitor.round_trips
        truncated, hubs = (trips.truncated, trips.hubs_skipped) if trips else (0, 0)
    else:
        alerts, truncated, hubs = _parallel(table, profile, accounts, workers, progress)
    alerts += graph_alerts(table, profile)
    alerts.sort(key=lambda a: (a.ts_ms, a.scenario, a.account))
    return ScanResult(alerts, table.num_rows, time.perf_counter() - started, workers, truncated, hubs)


def _replay(monitor: StreamMonitor, table: pa.Table, progress: Progress | None) -> list[Alert]:
    alerts: list[Alert] = []
    done = 0
    for chunk in iter_txns(table):
        alerts.extend(monitor.observe_many(chunk))
        done += len(chunk)
        if progress is not None:
            progress(done)
    return alerts


def _trips_only(profile: Profile, table: pa.Table) -> tuple[list[Alert], int, int]:
    scenarios = profile.of_kind("round_trip")
    if not scenarios:
        return [], 0, 0
    only = Profile(profile.name, profile.version, profile.home_country, profile.utc_offset_hours,
                   profile.evidence_max, scenarios)  # fmt: skip
    monitor = StreamMonitor(only, cycles=True)
    alerts = _replay(monitor, table, None)
    trips = monitor.round_trips
    return alerts, (trips.truncated if trips else 0), (trips.hubs_skipped if trips else 0)


@dataclass(frozen=True, slots=True)
class _Job:
    table: pa.Table
    profile: Profile
    accounts: Sequence[AccountFacts]
    workers: int
    done: Any  # a shared counter: rows replayed by worker 0


# The forked workers read the job from here instead of receiving the table through a pipe.
_JOB: list[_Job] = []


def _shard_worker(index: int) -> list[Alert]:
    job = _JOB[0]
    monitor = StreamMonitor(job.profile, accounts=job.accounts, shard=(index, job.workers), cycles=False)

    def tell(rows: int) -> None:
        job.done.value = rows

    return _replay(monitor, job.table, tell if index == 0 else None)


def _trips_worker(_: int) -> tuple[list[Alert], int, int]:
    return _trips_only(_JOB[0].profile, _JOB[0].table)


def _parallel(
    table: pa.Table,
    profile: Profile,
    accounts: Sequence[AccountFacts],
    workers: int,
    progress: Progress | None,
) -> tuple[list[Alert], int, int]:
    context = mp.get_context("fork")
    done = context.Value("q", 0)
    _JOB.append(_Job(table, profile, accounts, workers, done))
    try:
        with context.Pool(processes=workers + 1) as pool:
            shards = pool.map_async(_shard_worker, range(workers))
            trips = pool.apply_async(_trips_worker, (0,))
            while not shards.ready():
                shards.wait(0.5)
                if progress is not None:
                    progress(int(done.value))
            alerts = [a for part in shards.get() for a in part]
            trip_alerts, truncated, hubs = trips.get()
    finally:
        _JOB.clear()
    if progress is not None:
        progress(table.num_rows)
    return alerts + trip_alerts, truncated, hubs
