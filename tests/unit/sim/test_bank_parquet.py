"""Writing a run to Parquet and reading it back unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from netfin.risk.events import EVENT_SCHEMA
from netfin.sim.bank import BankConfig, ScenarioRates, generate, write_parquet

CONFIG = BankConfig(
    seed=9,
    customers=1200,
    days=2,
    batch_rows_max=2048,
    rates=ScenarioRates(account_takeover=0.01, card_testing=0.01, app_scam=0.01, mule_network=0.02),
)


def with_sentinel(table: pa.Table) -> pa.Table:
    for name in ("lat", "lon"):
        index = table.schema.get_field_index(name)
        column = table.column(name)
        table = table.set_column(index, name, pc.if_else(pc.is_nan(column), -999.0, column))
    return table


def test_parquet_round_trip_keeps_every_row_schema_and_row_group(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    seen: list[int] = []
    summary = write_parquet(path, CONFIG, progress=seen.append)
    batches = list(generate(CONFIG))
    expected = pa.Table.from_batches(batches, schema=EVENT_SCHEMA)
    back = pq.read_table(path)
    assert back.schema.equals(EVENT_SCHEMA)
    assert with_sentinel(back).equals(with_sentinel(expected))
    metadata = pq.ParquetFile(path).metadata
    assert metadata.num_row_groups == len(batches) == summary.row_groups
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [
        b.num_rows for b in batches
    ]
    assert metadata.row_group(0).column(0).compression == "ZSTD"
    assert summary.events == expected.num_rows == seen[-1]
    assert seen == sorted(seen) and len(seen) == len(batches)
    assert summary.bytes == path.stat().st_size > 0
    assert summary.seconds > 0
    labelled = expected.filter(pc.equal(expected.column("label"), 1))
    scenarios, counts = np.unique(np.asarray(labelled.column("scenario").to_pylist()), return_counts=True)
    assert dict(summary.frauds) == dict(zip(scenarios.tolist(), counts.tolist(), strict=True))
    assert summary.fraud_events == labelled.num_rows > 0
    assert summary.calibration == "defaults"
