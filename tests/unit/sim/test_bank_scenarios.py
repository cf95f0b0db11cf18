"""Each fraud scenario as defined: who, from which device, where, to whom, how much, how fast."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from netfin.risk.events import EventKind, PayeeKind, Scenario
from netfin.sim.bank import BankConfig, BankRun, ScenarioRates, generate
from netfin.sim.bank.catalogue import SEGMENT_CODE
from netfin.sim.bank.chunk import CHANNEL_CODE, KIND_CODE, SCENARIO_CODE, Channel, EventChunk
from netfin.sim.bank.config import HOUR_MS, MINUTE_MS
from netfin.sim.bank.population import PAYEE_KIND_CODE

BUSY = BankConfig(
    seed=5,
    customers=3000,
    days=3,
    rates=ScenarioRates(
        account_takeover=0.01, card_testing=0.01, app_scam=0.005, mule_network=0.03, synthetic_identity=0.01
    ),
)


@dataclass
class Simulated:
    run: BankRun
    days: list[tuple[np.ndarray, EventChunk]]  # (balances before the day, the day's events)
    phones: list[np.ndarray]  # each customer's current phone on each day

    def rows(self, scenario: Scenario) -> list[tuple[np.ndarray, EventChunk]]:
        return [
            (before, day.take(np.flatnonzero(day.scenario == SCENARIO_CODE[scenario])))
            for before, day in self.days
        ]

    def phone_rows(self, scenario: Scenario) -> list[tuple[np.ndarray, EventChunk, np.ndarray]]:
        """``rows`` with each customer's phone on that day."""
        return [
            (before, day, phone)
            for (before, day), phone in zip(self.rows(scenario), self.phones, strict=True)
        ]

    @property
    def all(self) -> EventChunk:
        return EventChunk.concat([day for _, day in self.days])


@cache
def simulated(config: BankConfig = BUSY) -> Simulated:
    run = BankRun.start(config)
    days, phones = [], []
    for index in range(config.days):
        before = run.balance_minor.copy()
        days.append((before, run.simulate_day(index)))
        phones.append(run.phones.primary.copy())
    return Simulated(run, days, phones)


def legitimate_payees(sim: Simulated) -> set[tuple[int, int]]:
    events = sim.all
    legit = events.scenario == 0
    return set(zip(events.payer[legit].tolist(), events.payee[legit].tolist(), strict=True))


def km_between(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(lon2 - lon1)
    h = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * 6371 * np.arcsin(np.sqrt(h))


def owns(sim: Simulated, customer: np.ndarray, device: np.ndarray) -> np.ndarray:
    devices = sim.run.population.devices
    start = devices.start[customer]
    return (device >= start) & (device < start + devices.count[customer])


def test_every_scenario_appears_and_only_fraud_is_labelled() -> None:
    table = pa.Table.from_batches(list(generate(BUSY)))
    scenarios = set(table.column("scenario").to_pylist())
    assert scenarios == {s.value for s in Scenario}
    labelled = pc.equal(table.column("label"), 1)
    assert pc.all(pc.equal(labelled, pc.not_equal(table.column("scenario"), ""))).as_py()


def test_default_rates_make_a_fraud_share_between_a_tenth_and_half_a_percent() -> None:
    labels = np.concatenate(
        [b.column("label").to_numpy() for b in generate(BankConfig(seed=2, customers=20_000, days=2))]
    )
    assert 0.001 <= labels.mean() <= 0.005


def test_account_takeover_is_a_new_device_far_away_or_the_own_phone_draining_fast_to_new_payees() -> None:
    """Most takeovers come from a device new to the victim, far away; some (a SIM swap) from their phone."""
    sim = simulated()
    homes = sim.run.population.homes
    known = legitimate_payees(sim)
    incidents = own_phone = 0
    for before, ato, phone in sim.phone_rows(Scenario.ACCOUNT_TAKEOVER):
        payer = ato.payer.astype(np.int64)
        mine_phone = ato.device == phone[payer]
        assert not (owns(sim, payer, ato.device) & ~mine_phone).any()
        far = km_between(homes.lat[payer], homes.lon[payer], ato.lat, ato.lon) > 500
        assert np.all(far | mine_phone)
        new = [(p, q) not in known for p, q in zip(payer.tolist(), ato.payee.tolist(), strict=True)]
        assert np.mean(new) > 0.9
        for victim in np.unique(payer):
            mine = payer == victim
            assert np.ptp(ato.ts_ms[mine]) <= 80 * MINUTE_MS
            assert 2 <= mine.sum() <= 5
            assert 0.69 <= ato.amount_minor[mine].sum() / before[victim] <= 0.951
            incidents += 1
            own_phone += int(mine_phone[mine].all())
    assert incidents >= 5
    assert 0 < own_phone < incidents


def test_card_testing_is_bursts_of_tiny_payments_at_several_merchants_from_a_stolen_credential() -> None:
    sim = simulated()
    bursts = big = 0
    for _, cards in sim.rows(Scenario.CARD_TESTING):
        assert np.all(cards.channel == CHANNEL_CODE[Channel.ONLINE])
        assert np.all(cards.kind == KIND_CODE[EventKind.PURCHASE])
        assert not owns(sim, cards.payer.astype(np.int64), cards.device).any()
        for key in set(zip(cards.payer.tolist(), cards.device.tolist(), strict=True)):
            mine = (cards.payer == key[0]) & (cards.device == key[1])
            tiny = mine & (cards.amount_minor <= 500)
            assert tiny.sum() >= 5
            assert np.ptp(cards.ts_ms[tiny]) <= 8 * MINUTE_MS
            assert np.unique(cards.payee[tiny]).size >= 2
            bursts += 1
            big += int((mine & (cards.amount_minor > 100_000)).sum())
    assert bursts >= 3 and big >= 1


def test_app_scam_is_the_victims_own_device_paying_a_mule_round_sums_large_and_fast_or_for_days() -> None:
    sim = simulated()
    population = sim.run.population
    fast = 0
    slow_days: dict[tuple[int, int], int] = {}
    for before, scam, phone in sim.phone_rows(Scenario.APP_SCAM):
        payer = scam.payer.astype(np.int64)
        assert np.array_equal(scam.device, phone[payer])
        assert np.isin(scam.payee, population.fraud.mules).all()
        assert np.all(population.parties.kind[scam.payee] == PAYEE_KIND_CODE[PayeeKind.PERSON])
        assert np.all(scam.amount_minor % 10_000 == 0)
        for victim in np.unique(payer):
            mine = payer == victim
            if scam.amount_minor[mine].sum() >= 0.35 * before[victim]:
                assert np.ptp(scam.ts_ms[mine]) <= 2 * HOUR_MS
                fast += 1
            else:
                assert mine.sum() == 1
                key = (int(victim), int(scam.payee[mine][0]))
                slow_days[key] = slow_days.get(key, 0) + 1
    assert fast >= 5
    assert max(slow_days.values()) >= 2


def test_mule_network_fans_in_from_many_payers_and_passes_on_within_hours() -> None:
    sim = simulated()
    mules = sim.run.population.fraud.mules
    rings = 0
    for _, flows in sim.rows(Scenario.MULE_NETWORK):
        inflow = np.isin(flows.payee, mules) & ~np.isin(flows.payer, mules)
        outflow = np.isin(flows.payer, mules)
        assert np.all(inflow | outflow)
        for mule in np.unique(flows.payee[inflow]):
            received = inflow & (flows.payee == mule)
            sent = outflow & (flows.payer == mule)
            assert received.sum() >= 5 and np.unique(flows.payer[received]).size >= 5
            assert sent.any()
            assert flows.ts_ms[sent].min() > flows.ts_ms[received].min()
            assert flows.ts_ms[sent].max() <= flows.ts_ms[received].max() + 3 * HOUR_MS
            assert flows.amount_minor[sent].sum() <= flows.amount_minor[received].sum()
            rings += 1
        kinds = {KIND_CODE[k] for k in (EventKind.CASH_OUT, EventKind.CROSS_BORDER, EventKind.P2P)}
        assert set(flows.kind[outflow].tolist()) <= kinds
    assert rings >= 4


def test_synthetic_identities_are_new_customers_that_groom_then_bust_out_in_one_day() -> None:
    sim = simulated()
    population = sim.run.population
    busted = 0
    for _, bust in sim.rows(Scenario.SYNTHETIC_IDENTITY):
        assert np.all(population.parties.segment[bust.payer] == SEGMENT_CODE["new_customer"])
        assert np.isin(bust.payer, population.fraud.synthetic).all()
        for identity in np.unique(bust.payer):
            mine = bust.payer == identity
            assert 8 <= mine.sum() <= 20
            assert np.median(bust.amount_minor[mine]) > 100_000
            busted += 1
    assert busted >= 3
    groomed = [d for d in range(BUSY.days) if (population.fraud.bust_day > d).any()]
    events = sim.all
    legit_synthetic = (events.scenario == 0) & np.isin(events.payer, population.fraud.synthetic)
    assert not groomed or legit_synthetic.any()
