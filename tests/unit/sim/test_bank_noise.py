"""Legitimate noise: new phones, large first payments, night shifts, travel and bursts of small payments.

Without it the fraud scenarios are separable by construction (only fraud
brings a new device, a large first payment, the night, or a burst).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pytest

from netfin.core.errors import InvalidInput
from netfin.risk.events import EventKind, Scenario
from netfin.sim.bank import BankConfig, BankRun, NoiseRates, ScenarioRates, generate
from netfin.sim.bank.chunk import KIND_CODE, SCENARIO_CODE, EventChunk
from netfin.sim.bank.config import CHINA_OFFSET_MS, HOUR_MS, MINUTE_MS

QUIET = BankConfig(seed=9, customers=2000, days=12, rates=ScenarioRates.none())
PLAIN = BankConfig(seed=9, customers=2000, days=12, rates=ScenarioRates.none(), noise=NoiseRates.none())


@cache
def run_of(config: BankConfig) -> tuple[BankRun, EventChunk]:
    run = BankRun.start(config)
    return run, EventChunk.concat([run.simulate_day(d) for d in range(config.days)])


def large_first_payments(events: EventChunk) -> int:
    """Payments to a payee the payer never paid before in the run, ten times the payer's median or more."""
    payer, amount = events.payer.astype(np.int64), events.amount_minor
    order = np.lexsort((amount, payer))
    median = np.zeros(int(payer.max()) + 1)
    starts = np.flatnonzero(np.diff(payer[order], prepend=-1) != 0)
    counts = np.diff(np.append(starts, order.size))
    median[payer[order][starts]] = amount[order][starts + counts // 2]
    pair = payer * (1 << 31) + events.payee
    _, first = np.unique(pair, return_index=True)
    return int((amount[first] >= 10 * median[payer[first]]).sum())


def test_customers_switch_to_new_phones_and_keep_them() -> None:
    run, events = run_of(QUIET)
    devices = run.population.devices
    switched = np.flatnonzero(run.phones.primary != devices.start)
    assert switched.size >= 10  # 2,000 customers x 12 days x 0.15%: about 36
    assert np.all(run.phones.primary[switched] >= devices.spare_start)
    on_new = np.isin(events.payer, switched) & (events.device >= devices.spare_start)
    assert on_new.sum() >= switched.size  # and they pay from them, legitimately
    assert np.all(events.scenario[on_new] == 0)
    plain_run, _ = run_of(PLAIN)
    assert np.array_equal(plain_run.phones.primary, plain_run.population.devices.start)


def test_some_customers_pay_now_and_then_from_a_tablet() -> None:
    run, events = run_of(QUIET)
    devices = run.population.devices
    payer = events.payer.astype(np.int64)
    tablet = devices.occasional[payer] & (events.device == devices.start[payer] + devices.count[payer] - 1)
    assert 0 < tablet.mean() < 0.02


def test_legitimate_large_first_payments_to_new_payees_exist() -> None:
    _, noisy = run_of(QUIET)
    _, plain = run_of(PLAIN)
    # 1,900 persons x 3 a year x 12 days: about 190 more than customers without noise make
    assert large_first_payments(noisy) >= large_first_payments(plain) + 100
    large_kinds = {KIND_CODE[k] for k in (EventKind.P2P, EventKind.RENT, EventKind.OTHER, EventKind.BILL)}
    assert set(noisy.kind.tolist()) >= large_kinds


def test_night_workers_pay_at_night() -> None:
    run, events = run_of(QUIET)

    def night_share(chunk: EventChunk, who: np.ndarray) -> float:
        hours = ((chunk.ts_ms + CHINA_OFFSET_MS) // HOUR_MS) % 24
        mine = np.isin(chunk.payer, who)
        return float(np.isin(hours[mine], [1, 2, 3, 4]).mean())

    workers = np.flatnonzero(run.population.night_worker)
    others = np.flatnonzero(~run.population.night_worker[: run.population.layout.persons])
    assert workers.size > 50
    assert night_share(events, workers) > 0.1 > 0.03 > night_share(events, others)


def test_travellers_pay_far_from_home() -> None:
    run, noisy = run_of(QUIET)
    _, plain = run_of(PLAIN)

    def far_share(chunk: EventChunk) -> float:
        homes, payer = run.population.homes, chunk.payer
        located = ~np.isnan(chunk.lat)
        distance = np.hypot(chunk.lat - homes.lat[payer], chunk.lon - homes.lon[payer])
        return float((distance[located] > 3).mean())

    assert far_share(noisy) > 0.01 and far_share(noisy) > 1.5 * far_share(plain)


def test_bursts_of_small_merchant_payments_are_legitimate_too() -> None:
    _, events = run_of(QUIET)
    small = (events.kind == KIND_CODE[EventKind.PURCHASE]) & (events.amount_minor <= 3_000)
    order = np.lexsort((events.ts_ms[small], events.payer[small]))
    payer, ts = events.payer[small][order], events.ts_ms[small][order]
    fourth_later = (payer[3:] == payer[:-3]) & (ts[3:] - ts[:-3] <= 30 * MINUTE_MS)
    assert np.unique(payer[3:][fourth_later]).size >= 50  # 2,000 x 12 days x 0.6%: about 130 bursts


def test_noise_is_deterministic_and_changes_the_stream() -> None:
    config = BankConfig(seed=13, customers=500, days=3)
    first = pa.Table.from_batches(list(generate(config)))
    again = pa.Table.from_batches(list(generate(BankConfig(seed=13, customers=500, days=3))))
    assert first.column("device").equals(again.column("device"))
    assert first.column("ts_ms").equals(again.column("ts_ms"))
    assert first.column("amount_minor").equals(again.column("amount_minor"))
    plain = pa.Table.from_batches(
        list(generate(BankConfig(seed=13, customers=500, days=3, noise=NoiseRates.none())))
    )
    assert plain.num_rows != first.num_rows or not plain.column("ts_ms").equals(first.column("ts_ms"))


def test_fraud_devices_are_mostly_fresh_per_incident() -> None:
    config = BankConfig(
        seed=5, customers=3000, days=3, rates=ScenarioRates(account_takeover=0.01, card_testing=0.01)
    )
    run = BankRun.start(config)
    events = EventChunk.concat([run.simulate_day(d) for d in range(config.days)])
    devices = run.population.devices
    codes = [SCENARIO_CODE[s] for s in (Scenario.ACCOUNT_TAKEOVER, Scenario.CARD_TESTING)]
    fraud = np.isin(events.scenario, codes)
    fresh = events.device[fraud] >= devices.fresh_start
    shared = (events.device[fraud] >= devices.fraud_start) & (events.device[fraud] < devices.spare_start)
    assert fresh.mean() > 0.5 and shared.any()
    legit_devices = set(events.device[~fraud].tolist())
    assert not legit_devices & set(events.device[fraud][fresh].tolist())


@pytest.mark.parametrize(
    "changes", [{"new_phone_daily": 1.5}, {"burst_daily": -0.1}, {"large_new_payee_yearly": 100}]
)
def test_noise_rates_are_bounded(changes: dict[str, float]) -> None:
    with pytest.raises(InvalidInput) as caught:
        NoiseRates(**changes)  # type: ignore[arg-type]
    assert caught.value.code == "noise_rate_out_of_range"
