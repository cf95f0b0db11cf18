"""Writing a run to Parquet: zstd-compressed, one row group per stream batch.

One row group per batch keeps a reader's unit of work aligned with the
generator's (never more than a day, never more than ``batch_rows_max`` rows),
so a backtest can stream the file back with bounded memory too.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from netfin.risk.events import EVENT_SCHEMA
from netfin.sim.bank.calibration import load_calibration
from netfin.sim.bank.config import BankConfig
from netfin.sim.bank.stream import generate


@dataclass(frozen=True, slots=True)
class WriteSummary:
    """What was written: events, labelled frauds per scenario, file size, wall time, calibration source."""

    path: Path
    events: int
    frauds: Mapping[str, int]
    row_groups: int
    bytes: int
    seconds: float
    calibration: str

    @property
    def fraud_events(self) -> int:
        return sum(self.frauds.values())


def write_parquet(
    path: Path, config: BankConfig, *, progress: Callable[[int], None] | None = None
) -> WriteSummary:
    """Generate the run and write it to ``path``; ``progress`` hears the running event count per batch."""
    started = time.perf_counter()
    frauds: Counter[str] = Counter()
    events = row_groups = 0
    with pq.ParquetWriter(path, EVENT_SCHEMA, compression="zstd") as writer:
        for batch in generate(config):
            writer.write_batch(batch, row_group_size=max(batch.num_rows, 1))
            events += batch.num_rows
            row_groups += 1
            frauds.update(_frauds_in(batch))
            if progress is not None:
                progress(events)
    return WriteSummary(
        path=path,
        events=events,
        frauds=dict(sorted(frauds.items())),
        row_groups=row_groups,
        bytes=path.stat().st_size,
        seconds=time.perf_counter() - started,
        calibration=load_calibration(config.calibration_dir).source,
    )


def _frauds_in(batch: pa.RecordBatch) -> dict[str, int]:
    scenario = batch.column("scenario")
    labelled = pc.filter(scenario, pc.not_equal(scenario, ""))
    counts = pc.value_counts(labelled).to_pylist()
    return {str(entry["values"]): int(entry["counts"]) for entry in counts}
