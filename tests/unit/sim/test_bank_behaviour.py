"""Legitimate behaviour: monthly salaries, meals at meal times, PaySim's daily rhythm, who pays whom."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pytest
from shared_data import skip_unless

from netfin.risk.events import EVENT_SCHEMA, EventKind
from netfin.sim.bank import BankConfig, BankRun, ScenarioRates, generate
from netfin.sim.bank.config import CHINA_TZ, HOUR_MS

PAYSIM = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "fraud" / "paysim_params"
needs_paysim = skip_unless(
    PAYSIM.is_dir(), f"PaySim parameters not found at {PAYSIM} (licensed; not in the repository)"
)
CALIBRATED = BankConfig(seed=21, customers=12_000, days=2, calibration_dir=PAYSIM, rates=ScenarioRates.none())
TWO_MONTHS = BankConfig(seed=4, customers=300, days=62)


@cache
def table_of(config: BankConfig) -> pa.Table:
    return pa.Table.from_batches(list(generate(config)), schema=EVENT_SCHEMA)


def local_hours(table: pa.Table) -> np.ndarray:
    offset = CHINA_TZ.utcoffset(None).total_seconds() * 1000
    return ((table.column("ts_ms").to_numpy() + int(offset)) // HOUR_MS) % 24


def of_kind(table: pa.Table, kind: str) -> pa.Table:
    return table.filter(pc.and_(pc.equal(table.column("kind"), kind), pc.equal(table.column("label"), 0)))


def test_salaries_are_paid_monthly_by_businesses_on_a_fixed_day() -> None:
    salaries = of_kind(table_of(TWO_MONTHS), "salary")
    assert salaries.num_rows > 200
    assert all(p.startswith("b") for p in salaries.column("payer").to_pylist())
    assert set(salaries.column("channel").to_pylist()) == {"batch"}
    assert set(salaries.column("device").to_pylist()) == {""}
    paid: dict[str, list[datetime]] = {}
    for payee, ts in zip(
        salaries.column("payee").to_pylist(), salaries.column("ts_ms").to_pylist(), strict=True
    ):
        paid.setdefault(payee, []).append(datetime.fromtimestamp(ts / 1000, CHINA_TZ))
    for days in paid.values():
        months = [(d.year, d.month) for d in days]
        assert len(months) == len(set(months)), "one salary per calendar month"
        assert len({d.day for d in days}) == 1, "always on the employer's payday"
        assert len(days) >= 2
        gaps = np.diff([d.timestamp() for d in sorted(days)]) / 86_400
        assert np.all((gaps > 27) & (gaps < 32))


def test_rent_and_utility_bills_recur_monthly_on_the_same_day() -> None:
    table = table_of(TWO_MONTHS)
    for kind in ("rent", "bill"):
        rows = of_kind(table, kind)
        per_payer: dict[tuple[str, str], list[int]] = {}
        for payer, payee, ts in zip(
            *(rows.column(c).to_pylist() for c in ("payer", "payee", "ts_ms")), strict=True
        ):
            per_payer.setdefault((payer, payee), []).append(datetime.fromtimestamp(ts / 1000, CHINA_TZ).day)
        recurring = [days for days in per_payer.values() if len(days) >= 2]
        assert len(recurring) > 20
        same_day = np.mean([len(set(days)) == 1 for days in recurring])
        assert same_day > (0.99 if kind == "rent" else 0.8)  # hospital bills are not monthly


def test_meals_are_bought_at_meal_times_and_little_is_bought_at_night() -> None:
    purchases = of_kind(table_of(CALIBRATED), "purchase")
    hours = local_hours(purchases)
    mcc = np.asarray(purchases.column("mcc").to_pylist())
    meal_hours = np.isin(hours, [7, 8, 11, 12, 17, 18, 19])
    restaurants = np.isin(mcc, ["5812", "5814"])
    assert restaurants.sum() > 3000
    assert meal_hours[restaurants].mean() > 0.7
    assert meal_hours[~restaurants].mean() < meal_hours[restaurants].mean() - 0.2
    night = np.isin(hours, [2, 3, 4, 5])
    assert night.mean() < 0.02


@needs_paysim
@pytest.mark.parametrize(
    ("kind", "action"), [("top_up", "CASH_IN"), ("cash_out", "CASH_OUT"), ("p2p", "TRANSFER")]
)
def test_hour_profile_follows_paysims_hourly_counts(kind: str, action: str) -> None:
    source = pa_csv.read_csv(PAYSIM / "paysim_aggregatedTransactions.csv")
    rows = source.filter(pc.equal(source.column("action"), action))
    paysim = np.bincount(
        rows.column("hour").to_numpy(), weights=rows.column("count").to_numpy(), minlength=24
    )
    ours = np.bincount(local_hours(of_kind(table_of(CALIBRATED), kind)), minlength=24)
    assert ours.sum() > 1500
    assert np.corrcoef(paysim, ours)[0, 1] > 0.95


def test_who_pays_whom() -> None:
    table = table_of(CALIBRATED)

    def column(rows: pa.Table, name: str) -> set[str]:
        return set(rows.column(name).to_pylist())

    p2p = of_kind(table, "p2p")
    assert {p[0] for p in column(p2p, "payer") | column(p2p, "payee")} == {"c"}
    border = of_kind(table, "cross_border")
    assert column(border, "payee_kind") == {"external"} and "CN" not in column(border, "country")
    for kind in ("top_up", "cash_out"):
        moves = of_kind(table, kind)
        assert column(moves, "payee_kind") == {"external"} and column(moves, "country") == {"CN"}
    assert column(of_kind(table, "bill"), "mcc") <= {"4900", "4814", "8062", "8211"}
    assert column(of_kind(table, "bnpl_repayment"), "payee_kind") == {"biller"}
    assert column(of_kind(table, "rent"), "payee_kind") <= {"person", "business"}
    assert column(of_kind(table, "other"), "payee_kind") == {"business"}
    purchases = of_kind(table, "purchase")
    assert {"5411", "5812", "5541", "5732", "5399", "5912"} <= column(purchases, "mcc")
    assert column(table, "segment") == {"person", "business", "new_customer"}


def test_legitimate_payments_come_from_the_payers_own_devices_in_china() -> None:
    """Their own devices: those they were drawn with, or the new phone they switched to."""
    run = BankRun.start(CALIBRATED)
    day = run.simulate_day(0)
    devices = run.population.devices
    with_device = day.device != 0
    payer, device = day.payer[with_device], day.device[with_device]
    start = devices.start[payer]
    owned = (device >= start) & (device < start + devices.count[payer])
    assert np.all(owned | (device == run.phones.primary[payer]))
    located = ~np.isnan(day.lat)
    assert np.all((day.lat[located] > 18) & (day.lat[located] < 54))
    assert np.all((day.lon[located] > 73) & (day.lon[located] < 135))
    assert np.array_equal(located, with_device)


@needs_paysim
def test_amounts_keep_paysims_mean_per_kind() -> None:
    """Levels are normalised over events, so the stream's mean amount is the calibrated mean."""
    run = BankRun.start(CALIBRATED)
    table = table_of(CALIBRATED)
    for kind in (EventKind.PURCHASE, EventKind.P2P, EventKind.TOP_UP, EventKind.CASH_OUT):
        amounts = of_kind(table, kind.value).column("amount_minor").to_numpy()
        expected = run.calibration.mean_minor(kind)
        assert abs(amounts.mean() / expected - 1) < 0.15, kind
