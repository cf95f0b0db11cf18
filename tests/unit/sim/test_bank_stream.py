"""The stream contract: determinism, the exact schema, global order, bounded batches, stable ids."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from netfin.core.errors import InvalidInput
from netfin.risk.events import EVENT_COLUMNS, EVENT_SCHEMA, events_to_table
from netfin.sim.bank import START_MS_DEFAULT, BankConfig, ScenarioRates, generate, iter_events
from netfin.sim.bank.config import DAY_MS, HOUR_MS

SMALL = BankConfig(seed=11, customers=600, days=2)


@cache
def table_of(config: BankConfig) -> pa.Table:
    return pa.Table.from_batches(list(generate(config)), schema=EVENT_SCHEMA)


def comparable(table: pa.Table) -> pa.Table:
    """NaN never equals NaN in Arrow; give missing locations a sentinel so tables compare."""
    for name in ("lat", "lon"):
        column = table.column(name)
        table = table.set_column(
            table.schema.get_field_index(name), name, pc.if_else(pc.is_nan(column), -999.0, column)
        )
    return table


def test_same_seed_gives_identical_tables() -> None:
    first = table_of(SMALL)
    again = pa.Table.from_batches(list(generate(BankConfig(seed=11, customers=600, days=2))))
    assert first.num_rows > 1000
    assert comparable(first).equals(comparable(again))


def test_different_seed_gives_a_different_stream() -> None:
    other = table_of(BankConfig(seed=12, customers=600, days=2))
    assert not comparable(table_of(SMALL)).equals(comparable(other))
    assert other.column("payer").to_pylist()[:50] != table_of(SMALL).column("payer").to_pylist()[:50]


def test_every_batch_has_exactly_the_event_schema() -> None:
    for batch in generate(SMALL):
        assert batch.schema.equals(EVENT_SCHEMA, check_metadata=True)
        assert [f.nullable for f in batch.schema] == [False] * len(EVENT_COLUMNS)
        assert sum(column.null_count for column in batch.columns) == 0


def test_stream_order_is_strict_and_seq_is_a_global_counter() -> None:
    table = table_of(SMALL)
    seq = table.column("seq").to_numpy()
    ts = table.column("ts_ms").to_numpy()
    assert np.array_equal(seq, np.arange(table.num_rows))
    assert np.all(np.diff(ts) >= 0)  # (ts_ms, seq) strictly increasing since seq is
    assert ts[0] >= START_MS_DEFAULT and ts[-1] < START_MS_DEFAULT + 2 * DAY_MS


def test_batches_are_bounded_and_never_span_two_days() -> None:
    config = BankConfig(seed=3, customers=1500, days=2, batch_rows_max=1024)
    batches = list(generate(config))
    assert len(batches) > 4
    assert max(b.num_rows for b in batches) <= 1024
    for batch in batches:
        day = (batch.column("ts_ms").to_numpy() - START_MS_DEFAULT) // DAY_MS
        assert day.min() == day.max()


def test_amounts_are_positive_int64_fen_in_cny() -> None:
    table = table_of(SMALL)
    assert table.schema.field("amount_minor").type == pa.int64()
    assert pc.min(table.column("amount_minor")).as_py() > 0
    assert set(table.column("currency").to_pylist()) == {"CNY"}


def test_ids_follow_their_prefixes_and_are_stable_for_a_seed() -> None:
    table = table_of(SMALL)
    payers = table.column("payer").to_pylist()
    assert all(re.fullmatch(r"[cb]\d{7}", p) for p in payers)
    prefix = {"person": "c", "business": "b", "merchant": "m", "biller": "u", "external": "x"}
    for payee, kind in zip(
        table.column("payee").to_pylist(), table.column("payee_kind").to_pylist(), strict=True
    ):
        assert re.fullmatch(prefix[kind] + r"\d{7}", payee), (payee, kind)
    assert all(d == "" or re.fullmatch(r"d\d{7}", d) for d in table.column("device").to_pylist())
    longer = table_of(BankConfig(seed=11, customers=600, days=3))
    assert Counter(longer.column("payer").to_pylist()[:100]) == Counter(payers[:100])


def test_iter_events_yields_the_same_rows_as_the_batches() -> None:
    events = list(iter_events(SMALL))
    assert comparable(events_to_table(events)).equals(comparable(table_of(SMALL)))


def legitimate_rows(table: pa.Table) -> Counter[tuple[object, ...]]:
    columns = [c for c in EVENT_COLUMNS if c != "seq"]
    rows = comparable(table).select(columns).to_pylist()
    return Counter(tuple(row.values()) for row in rows if row["label"] == 0)


def test_fraud_rates_leave_legitimate_events_unchanged() -> None:
    """Fraud draws from its own generator: switching it off removes rows and changes none.

    The only legitimate rows that fraud adds are the grooming purchases of
    synthetic identities (new customers), which exist only when that scenario does.
    """
    quiet = table_of(BankConfig(seed=11, customers=600, days=2, rates=ScenarioRates.none()))
    assert set(quiet.column("label").to_pylist()) == {0}
    quiet_rows, noisy_rows = legitimate_rows(quiet), legitimate_rows(table_of(SMALL))
    assert quiet_rows - noisy_rows == Counter()
    extra = noisy_rows - quiet_rows
    kind, segment = EVENT_COLUMNS.index("kind") - 1, EVENT_COLUMNS.index("segment") - 1
    assert {(row[kind], row[segment]) for row in extra} <= {("purchase", "new_customer")}


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"customers": 10}, "customers_out_of_range"),
        ({"days": 0}, "days_out_of_range"),
        ({"start_ms": START_MS_DEFAULT + HOUR_MS}, "start_not_midnight"),
        ({"business_share": 0.0}, "business_share_out_of_range"),
        ({"batch_rows_max": 10}, "batch_rows_max_out_of_range"),
    ],
)
def test_config_rejects_what_cannot_be_simulated(changes: dict[str, int | float], code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        BankConfig(**changes)  # type: ignore[arg-type]
    assert caught.value.code == code


def test_scenario_rates_are_bounded() -> None:
    with pytest.raises(InvalidInput) as caught:
        ScenarioRates(account_takeover=0.2)
    assert caught.value.code == "scenario_rate_out_of_range"
    assert ScenarioRates().total == pytest.approx(0.003)
