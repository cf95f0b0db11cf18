"""The bank's population: customers with homes, devices and habits, and everyone they pay.

Everything here is drawn once per run from the seed and then read, never
changed, by the daily generators; only balances move, and they live in
``BankState``. Each attribute is a numpy array indexed by customer (persons
first, then businesses) so a day of a million customers is generated with
array operations, not a loop. Parties share one index space, laid out as
persons, businesses, merchants, billers, external accounts abroad (legitimate,
then those mule networks use) and one linked card account at another bank
per customer; a customer's party index is their customer index.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from math import ceil

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from netfin.risk.events import EventKind, PayeeKind
from netfin.sim.bank import catalogue as cat
from netfin.sim.bank.calibration import FREQUENCY_MULTIPLIER_MAX, Calibration, PaySimAction
from netfin.sim.bank.chunk import F32, F64, I8, I16, I32, I64, Bools
from netfin.sim.bank.config import BankConfig

MONTH_DAYS = 30.4
ID_DIGITS_MIN = 7  # "c0000042": ids keep their width as the population grows past it
NEW_CUSTOMER_SHARE = 0.04  # persons onboarded in the last quarter
NEW_CUSTOMER_ACTIVITY = 0.5  # new customers have not yet moved their spending to us
MULE_SHARE = 0.001
MULES_MIN = 6
SPARE_DEVICES_MAX = 4_000_000  # each device pool wraps around beyond this (a 10 M-customer year)
SYNTHETIC_EVENTS_MEAN = 14.0  # payments in one bust-out (see scenarios)
BURST_SIZE_MEAN = 8.0  # payments in a legitimate burst of small ones (see behaviour)
PAYEE_KINDS: tuple[PayeeKind, ...] = tuple(PayeeKind)
PAYEE_KIND_CODE = {kind: code for code, kind in enumerate(PAYEE_KINDS)}


class Habit(enum.IntEnum):
    """The payments customers make at random times (a Poisson rate per customer and day)."""

    PURCHASE = 0
    P2P = 1
    TOP_UP = 2
    CASH_OUT = 3
    BNPL = 4
    CROSS_BORDER = 5
    HOSPITAL = 6
    B2B = 7


@dataclass(frozen=True, slots=True)
class HabitSpec:
    """A habit's kind, the PaySim action whose bands spread it across customers, and its monthly level.

    The levels are ours (Chinese mobile-payment habits: many small purchases,
    a few transfers); PaySim gives the shape around them, not the level,
    because its source market used cash-out as often as payment.
    """

    kind: EventKind
    action: PaySimAction | None
    person_monthly: float
    business_monthly: float


HABITS: Mapping[Habit, HabitSpec] = {
    Habit.PURCHASE: HabitSpec(EventKind.PURCHASE, PaySimAction.PAYMENT, 40.0, 15.0),
    Habit.P2P: HabitSpec(EventKind.P2P, PaySimAction.TRANSFER, 8.0, 0.0),
    Habit.TOP_UP: HabitSpec(EventKind.TOP_UP, PaySimAction.CASH_IN, 3.0, 1.0),
    Habit.CASH_OUT: HabitSpec(EventKind.CASH_OUT, PaySimAction.CASH_OUT, 2.0, 6.0),
    Habit.BNPL: HabitSpec(EventKind.BNPL_REPAYMENT, PaySimAction.DEBIT, 2.0, 0.0),
    Habit.CROSS_BORDER: HabitSpec(EventKind.CROSS_BORDER, PaySimAction.TRANSFER, 1.0, 2.0),
    Habit.HOSPITAL: HabitSpec(EventKind.BILL, None, 0.4, 0.0),
    Habit.B2B: HabitSpec(EventKind.OTHER, PaySimAction.TRANSFER, 0.0, 10.0),
}
ACTIONS: tuple[PaySimAction, ...] = tuple(PaySimAction)
ACTION_INDEX = {action: i for i, action in enumerate(ACTIONS)}


def make_rng(seed: int, *key: int) -> np.random.Generator:
    """An independent generator for one purpose (``key``) of one run; no global random state."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


@dataclass(frozen=True, slots=True)
class Layout:
    """Where each kind of party starts in the shared index space (see the module docstring)."""

    persons: int
    businesses: int
    merchant_count: int
    hospitals_per_place: int  # and as many schools
    external_count: int
    fraud_external_count: int

    @property
    def customers(self) -> int:
        return self.persons + self.businesses

    @property
    def merchant_start(self) -> int:
        return self.customers

    @property
    def billers_per_place(self) -> int:
        return len(cat.UTILITIES) + 2 * self.hospitals_per_place

    @property
    def biller_start(self) -> int:
        return self.merchant_start + self.merchant_count

    @property
    def bnpl_start(self) -> int:
        return self.biller_start + self.billers_per_place * len(cat.HOME_PLACES)

    @property
    def external_start(self) -> int:
        return self.bnpl_start + cat.BNPL_PROVIDERS

    @property
    def fraud_external_start(self) -> int:
        return self.external_start + self.external_count

    @property
    def linked_start(self) -> int:
        return self.fraud_external_start + self.fraud_external_count

    @property
    def parties(self) -> int:
        return self.linked_start + self.customers

    def utility(self, place: I8 | I64, utility: int) -> I64:
        return self.biller_start + place.astype(np.int64) * self.billers_per_place + utility

    def hospital(self, place: I8 | I64, which: I64) -> I64:
        return self.utility(place, len(cat.UTILITIES)) + which

    def school(self, place: I8 | I64, which: I64) -> I64:
        return self.utility(place, len(cat.UTILITIES) + self.hospitals_per_place) + which


@dataclass(frozen=True, slots=True, eq=False)
class PartyTable:
    """Every party's id string and the attributes an event takes from its payer or payee."""

    ids: pa.Array
    kind: I8  # PAYEE_KINDS code
    segment: I8  # SEGMENTS code; "" for non-customers
    mcc: I16  # MCCS code; "" for persons, businesses and external accounts
    country: I8  # COUNTRIES code of the account's bank


@dataclass(frozen=True, slots=True, eq=False)
class DeviceTable:
    """Device ids: index 0 is "" (no device); customer i owns ``start[i] .. start[i] + count[i] - 1``.

    The last of those is a rarely used tablet or laptop where ``occasional[i]``.
    The fraud pool after them are devices shared across a fraud ring's victims;
    then the spare phones customers switch to (handed out in order by
    ``DeviceState``) and the fresh devices of single fraud incidents.
    """

    ids: pa.Array
    start: I32
    count: I8
    occasional: Bools
    fraud_start: int
    fraud_count: int
    spare_start: int
    spare_count: int
    fresh_start: int
    fresh_count: int


@dataclass(frozen=True, slots=True, eq=False)
class Homes:
    place: I8
    lat: F64
    lon: F64


@dataclass(frozen=True, slots=True, eq=False)
class Employment:
    employer: I32  # per person: the business that pays their salary, -1 if none
    salary_minor: I64
    payday: I8  # per business: day of the month it pays salaries
    payroll_minute: I32  # per business: local minute of day its payroll runs


@dataclass(frozen=True, slots=True, eq=False)
class Housing:
    landlord: I32  # per person: -1 if they own their home
    rent_minor: I64
    rent_day: I8
    bill_day: I8  # per customer
    bill_mask: I8  # per customer: bit j set when they pay UTILITIES[j]
    school: I32  # per person: the school biller, -1 without children at school
    school_minor: I64
    school_day: I8


@dataclass(frozen=True, slots=True, eq=False)
class MerchantIndex:
    """Merchants sorted by (category, place), so the merchants of one cell are one contiguous range."""

    party_start: int
    category: I8
    cell_start: I64  # (category, place)
    cell_count: I64
    category_start: I64
    category_count: I64

    def choose(self, rng: np.random.Generator, category: I64, place: I8 | I64) -> I64:
        """A merchant of ``category`` near ``place`` (anywhere for online categories or empty cells)."""
        start = self.cell_start[category, place]
        count = self.cell_count[category, place]
        online = np.asarray([c.online for c in cat.CATEGORIES])[category]
        wide = online | (count == 0)
        start = np.where(wide, self.category_start[category], start)
        count = np.where(wide, self.category_count[category], count)
        return self.party_start + start + (rng.random(category.size) * count).astype(np.int64)


@dataclass(frozen=True, slots=True, eq=False)
class FraudRoles:
    """Who plays a part in fraud: mules (customers who lend their accounts) and synthetic identities."""

    mules: I32
    synthetic: I32
    bust_day: I16  # per synthetic identity: the run day it busts out
    groom_start_day: I16  # per synthetic identity: the run day its grooming began (may be < 0)
    victim_ok: Bools  # per customer: may be chosen as a fraud victim


@dataclass(frozen=True, slots=True, eq=False)
class Population:
    """Who banks here and how they behave."""

    layout: Layout
    parties: PartyTable
    devices: DeviceTable
    homes: Homes
    rates: F32  # (habit, customer): expected events per day
    level: F32  # (PaySim action, customer): the customer's amount level, mean 1
    work: Employment
    housing: Housing
    merchants: MerchantIndex
    friend_start: I64  # per person + 1: CSR offsets into ``friends``
    friends: I32  # whom each person pays: mostly neighbours; directed
    bnpl_provider: I32  # per customer: the lender's party index, -1 if none
    abroad_payee: I32  # per customer: family or supplier abroad, -1 if none
    night_worker: Bools  # per customer: works nights, so pays at night too
    fraud: FraudRoles
    opening_balance_minor: I64
    expected_daily_events: float  # legitimate events, used to turn fraud shares into incident counts

    def linked_account(self, customer: I32 | I64) -> I64:
        """Each customer's card account at another bank, where top-ups come from and cash-outs go."""
        return customer.astype(np.int64) + self.layout.linked_start

    def primary_device(self, customer: I32 | I64) -> I32:
        return self.devices.start[customer]


def build_population(config: BankConfig, calibration: Calibration) -> Population:
    """Draw the whole population of one run from its seed."""
    rng = make_rng(config.seed, 0)
    customers = config.customers
    layout = Layout(
        persons=config.person_count,
        businesses=config.business_count,
        merchant_count=config.merchant_count,
        hospitals_per_place=1 + customers // 50_000,
        external_count=max(40, customers // 200),
        fraud_external_count=max(8, customers // 2000),
    )
    persons = layout.persons
    homes = _homes(rng, customers)
    new = rng.random(persons) < NEW_CUSTOMER_SHARE
    segment = np.full(customers, cat.SEGMENT_CODE["business"], dtype=np.int8)
    segment[:persons] = np.where(new, cat.SEGMENT_CODE["new_customer"], cat.SEGMENT_CODE["person"])
    is_person = np.arange(customers) < persons
    bnpl = np.where(
        is_person & (rng.random(customers) < 0.3),
        layout.bnpl_start + rng.integers(0, cat.BNPL_PROVIDERS, customers),
        -1,
    ).astype(np.int32)
    abroad = np.where(
        rng.random(customers) < np.where(is_person, 0.04, 0.08),
        layout.external_start + rng.integers(0, layout.external_count, customers),
        -1,
    ).astype(np.int32)
    habits = _habits(rng, calibration, segment, bnpl >= 0, abroad >= 0, persons)
    work = _employment(rng, homes.place, persons, layout.businesses)
    housing = _housing(rng, layout, homes.place)
    friend_start, friends = _friends(rng, homes.place[:persons])
    merchants = _merchants(rng, layout)
    expected = _expected_daily_events(habits, work, housing) + _expected_daily_noise(config)
    parties = _parties(rng, layout, segment, merchants)
    devices = _devices(rng, segment, config)
    night_worker = (np.arange(customers) < persons) & (
        rng.random(customers) < config.noise.night_worker_share
    )
    opening_minor = _opening_balances(rng, persons, layout.businesses)
    # Fraud roles are drawn last so the fraud rates change nothing else about the population.
    fraud = _fraud_roles(rng, config, segment, expected)
    return Population(
        layout=layout,
        parties=parties,
        devices=devices,
        homes=homes,
        rates=habits[0],
        level=habits[1],
        work=work,
        housing=housing,
        merchants=merchants,
        friend_start=friend_start,
        friends=friends,
        bnpl_provider=bnpl,
        abroad_payee=abroad,
        night_worker=night_worker,
        fraud=fraud,
        opening_balance_minor=opening_minor,
        expected_daily_events=expected,
    )


def _homes(rng: np.random.Generator, n: int) -> Homes:
    weights = np.asarray([p.weight for p in cat.HOME_PLACES])
    place = rng.choice(len(cat.HOME_PLACES), size=n, p=weights / weights.sum()).astype(np.int8)
    spread = np.asarray([cat.RURAL_SPREAD_DEG if p.rural else cat.CITY_SPREAD_DEG for p in cat.HOME_PLACES])
    lat = np.asarray([p.lat for p in cat.HOME_PLACES])[place] + rng.normal(0, 1, n) * spread[place]
    lon = np.asarray([p.lon for p in cat.HOME_PLACES])[place] + rng.normal(0, 1, n) * spread[place]
    return Homes(place, lat, lon)


def _ids(prefix: str, n: int, width: int) -> pa.Array:
    """``prefix`` followed by 0 .. n-1 zero-padded to ``width`` digits, built in Arrow (fast for millions)."""
    numbers = pc.cast(pa.array(np.arange(n, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(
        pa.scalar(prefix), pc.utf8_lpad(numbers, width=width, padding="0"), pa.scalar("")
    )


def _id_width(count: int) -> int:
    return max(ID_DIGITS_MIN, len(str(max(count - 1, 0))))


def _devices(rng: np.random.Generator, segment: I8, config: BankConfig) -> DeviceTable:
    """Persons own 1-3 devices, businesses 1-3 terminals, new customers one phone; some a tablet too.

    After the customers' own devices come the fraud ring's shared pool, the
    spare phones customers switch to during the run, and the fresh devices
    fraudsters log in from (one per incident, reused only when the run
    outgrows the pool). Pool sizes depend on the run's size and noise, never
    on its fraud rates, so fraud leaves every legitimate device id as it was.
    """
    n = segment.size
    count = rng.choice([1, 2, 3], size=n, p=[0.55, 0.35, 0.10])
    count = np.where(segment == cat.SEGMENT_CODE["business"], rng.choice([1, 2, 3], size=n), count)
    count = np.where(segment == cat.SEGMENT_CODE["new_customer"], 1, count)
    occasional = rng.random(n) < config.noise.occasional_device_owners
    count = (count + occasional).astype(np.int8)
    start = (1 + np.cumsum(count, dtype=np.int64) - count).astype(np.int32)
    owned = int(count.sum())
    fraud_count = max(16, n // 500)
    spare_count = min(SPARE_DEVICES_MAX, 64 + ceil(1.2 * n * config.noise.new_phone_daily * config.days))
    fresh_count = min(SPARE_DEVICES_MAX, max(4096, n * config.days // 100))
    total = owned + fraud_count + spare_count + fresh_count
    ids = pa.concat_arrays([pa.array([""], pa.string()), _ids("d", total, _id_width(total))])
    return DeviceTable(
        ids=ids,
        start=start,
        count=count,
        occasional=occasional,
        fraud_start=1 + owned,
        fraud_count=fraud_count,
        spare_start=1 + owned + fraud_count,
        spare_count=spare_count,
        fresh_start=1 + owned + fraud_count + spare_count,
        fresh_count=fresh_count,
    )


def _habits(
    rng: np.random.Generator,
    calibration: Calibration,
    segment: I8,
    has_bnpl: Bools,
    has_abroad: Bools,
    persons: int,
) -> tuple[F32, F32]:
    """Each customer's daily rate per habit and amount level per PaySim action.

    For every action a customer draws one of PaySim's client bands: the
    band's monthly count (uniform within the band, divided by the mean count
    and capped) scales how often they use the action, and the band's average
    amount (relative to the mean) is their amount level. Heavy users of an
    action in PaySim also moved larger amounts, and so do ours. Because heavy
    users also make more of the events, levels are scaled so that their mean
    over events (not over customers) is 1, which keeps the stream's mean
    amount per action at PaySim's per-event mean.
    """
    n = segment.size
    frequency = np.ones((len(ACTIONS), n), dtype=np.float32)
    level = np.ones((len(ACTIONS), n), dtype=np.float32)
    for i, action in enumerate(ACTIONS):
        profile = calibration.actions[action]
        band = rng.choice(profile.band_share.size, size=n, p=profile.band_share)
        low, high = profile.band_count_low[band], profile.band_count_high[band]
        count = low + np.floor(rng.random(n) * (high - low + 1))
        ratio = np.minimum(count / profile.mean_count, FREQUENCY_MULTIPLIER_MAX)
        frequency[i] = ratio / ratio.mean()
        band_level = profile.band_level[band]
        level[i] = band_level / np.mean(frequency[i] * band_level)
    is_person = np.arange(n) < persons
    activity = np.where(segment == cat.SEGMENT_CODE["new_customer"], NEW_CUSTOMER_ACTIVITY, 1.0)
    rates = np.zeros((len(Habit), n), dtype=np.float32)
    for habit, spec in HABITS.items():
        monthly = np.where(is_person, spec.person_monthly, spec.business_monthly)
        spread = frequency[ACTION_INDEX[spec.action]] if spec.action is not None else 1.0
        rates[habit] = monthly / MONTH_DAYS * spread * activity
    rates[Habit.BNPL] *= has_bnpl
    rates[Habit.CROSS_BORDER] *= has_abroad
    return rates, level


def _employment(rng: np.random.Generator, place: I8, persons: int, businesses: int) -> Employment:
    """Seven in ten persons draw a salary from one business; bigger businesses employ more."""
    size = rng.lognormal(0, 1.2, businesses)
    employed = rng.random(persons) < 0.7
    employer = np.where(employed, persons + rng.choice(businesses, size=persons, p=size / size.sum()), -1)
    rural = np.asarray([p.rural for p in cat.HOME_PLACES])[place[:persons]]
    median_minor = np.where(rural, 420_000, 750_000)
    salary_minor = np.round(median_minor * rng.lognormal(0, 0.45, persons)).astype(np.int64)
    payday = rng.choice([1, 5, 10, 15, 20, 25, 28], size=businesses, p=[0.1, 0.15, 0.25, 0.2, 0.1, 0.1, 0.1])
    payroll_minute = 9 * 60 + rng.integers(0, 180, businesses)
    return Employment(
        employer.astype(np.int32), salary_minor, payday.astype(np.int8), payroll_minute.astype(np.int32)
    )


def _housing(rng: np.random.Generator, layout: Layout, place: I8) -> Housing:
    """Rent (a third of persons), utility bills (everyone), school fees (a quarter of persons)."""
    persons, businesses, customers = layout.persons, layout.businesses, layout.customers
    renter = rng.random(persons) < 0.35
    other_person = (np.arange(persons) + 1 + rng.integers(0, persons - 1, persons)) % persons
    landlord = np.where(
        rng.random(persons) < 0.6, persons + rng.integers(0, businesses, persons), other_person
    )
    rural = np.asarray([p.rural for p in cat.HOME_PLACES])[place[:persons]]
    rent_median_minor = np.where(rural, 90_000, 260_000)
    rent_minor = _round_to(rent_median_minor * rng.lognormal(0, 0.35, persons), 1_000)
    bill_mask = np.zeros(customers, dtype=np.int8)
    for j, utility in enumerate(cat.UTILITIES):
        bill_mask |= ((rng.random(customers) < utility.share) << j).astype(np.int8)
    kids = rng.random(persons) < 0.25
    school = layout.school(place[:persons], rng.integers(0, layout.hospitals_per_place, persons))
    return Housing(
        landlord=np.where(renter, landlord, -1).astype(np.int32),
        rent_minor=rent_minor,
        rent_day=rng.integers(1, 6, persons).astype(np.int8),
        bill_day=rng.integers(1, 29, customers).astype(np.int8),
        bill_mask=bill_mask,
        school=np.where(kids, school, -1).astype(np.int32),
        school_minor=_round_to(120_000 * rng.lognormal(0, 0.3, persons), 100),
        school_day=rng.integers(1, 11, persons).astype(np.int8),
    )


def _round_to(values: F64, step: int) -> I64:
    """Whole multiples of ``step`` fen, at least one step: people round rent and fees."""
    return np.maximum(np.round(values / step), 1).astype(np.int64) * step


def _friends(rng: np.random.Generator, place: I8) -> tuple[I64, I32]:
    """A directed friends graph: 2 + Poisson(6) friends each, 85% of them in the same place."""
    persons = place.size
    degree = np.minimum(2 + rng.poisson(6, persons), 30)
    start = np.concatenate([[0], np.cumsum(degree)]).astype(np.int64)
    source = np.repeat(np.arange(persons), degree)
    order = np.argsort(place, kind="stable")
    place_start = np.searchsorted(place[order], np.arange(len(cat.HOME_PLACES)))
    place_count = np.bincount(place, minlength=len(cat.HOME_PLACES))
    local = place[source]
    neighbour = order[place_start[local] + (rng.random(source.size) * place_count[local]).astype(np.int64)]
    anyone = rng.integers(0, persons, source.size)
    friend = np.where(rng.random(source.size) < 0.85, neighbour, anyone)
    friend = np.where(friend == source, (friend + 1) % persons, friend)
    return start, friend.astype(np.int32)


def _merchants(rng: np.random.Generator, layout: Layout) -> MerchantIndex:
    """Every category has a merchant; the rest follow the purchase mix. Sorted by (category, place)."""
    n, categories, places = layout.merchant_count, len(cat.CATEGORIES), len(cat.HOME_PLACES)
    share = np.asarray([c.share for c in cat.CATEGORIES])
    category = np.concatenate(
        [np.arange(categories), rng.choice(categories, n - categories, p=share / share.sum())]
    )
    weights = np.asarray([p.weight for p in cat.HOME_PLACES])
    place = rng.choice(places, size=n, p=weights / weights.sum())
    cell = np.sort(category * places + place)
    all_cells = np.arange(categories * places)
    cell_start = np.searchsorted(cell, all_cells).astype(np.int64)
    cell_count = np.searchsorted(cell, all_cells, side="right") - cell_start
    sorted_category = cell // places
    category_start = np.searchsorted(sorted_category, np.arange(categories)).astype(np.int64)
    category_count = np.bincount(sorted_category, minlength=categories).astype(np.int64)
    return MerchantIndex(
        party_start=layout.merchant_start,
        category=sorted_category.astype(np.int8),
        cell_start=cell_start.reshape(categories, places),
        cell_count=cell_count.reshape(categories, places),
        category_start=category_start,
        category_count=category_count,
    )


def _parties(rng: np.random.Generator, layout: Layout, segment: I8, merchants: MerchantIndex) -> PartyTable:
    """Id strings and per-party attributes, in the layout's order."""
    width = _id_width(max(layout.persons, layout.merchant_count, layout.parties - layout.external_start))
    billers = layout.external_start - layout.biller_start
    ids = pa.concat_arrays(
        [
            _ids("c", layout.persons, width),
            _ids("b", layout.businesses, width),
            _ids("m", layout.merchant_count, width),
            _ids("u", billers, width),
            _ids("x", layout.parties - layout.external_start, width),
        ]
    )
    kind = np.full(layout.parties, PAYEE_KIND_CODE[PayeeKind.EXTERNAL], dtype=np.int8)
    kind[: layout.persons] = PAYEE_KIND_CODE[PayeeKind.PERSON]
    kind[layout.persons : layout.customers] = PAYEE_KIND_CODE[PayeeKind.BUSINESS]
    kind[layout.merchant_start : layout.biller_start] = PAYEE_KIND_CODE[PayeeKind.MERCHANT]
    kind[layout.biller_start : layout.external_start] = PAYEE_KIND_CODE[PayeeKind.BILLER]
    party_segment = np.zeros(layout.parties, dtype=np.int8)
    party_segment[: layout.customers] = segment
    mcc = np.zeros(layout.parties, dtype=np.int16)
    category_mcc = np.asarray([cat.MCC_CODE[c.mcc] for c in cat.CATEGORIES], dtype=np.int16)
    mcc[layout.merchant_start : layout.biller_start] = category_mcc[merchants.category]
    block = [cat.MCC_CODE[u.mcc] for u in cat.UTILITIES]
    block += [cat.MCC_CODE[cat.HOSPITAL_MCC]] * layout.hospitals_per_place
    block += [cat.MCC_CODE[cat.SCHOOL_MCC]] * layout.hospitals_per_place
    mcc[layout.biller_start : layout.bnpl_start] = np.tile(block, len(cat.HOME_PLACES))
    mcc[layout.bnpl_start : layout.external_start] = cat.MCC_CODE[cat.BNPL_MCC]
    country = np.zeros(layout.parties, dtype=np.int8)  # CN: every domestic account
    names = [c for c, _ in cat.REMITTANCE_COUNTRIES]
    weights = np.asarray([w for _, w in cat.REMITTANCE_COUNTRIES])
    abroad = rng.choice(len(names), size=layout.external_count, p=weights / weights.sum())
    country[layout.external_start : layout.fraud_external_start] = np.asarray(
        [cat.COUNTRY_CODE[c] for c in names], dtype=np.int8
    )[abroad]
    fraud_codes = np.asarray([cat.COUNTRY_CODE[c] for c in cat.FRAUD_COUNTRIES], dtype=np.int8)
    country[layout.fraud_external_start : layout.linked_start] = np.resize(
        fraud_codes, layout.fraud_external_count
    )
    return PartyTable(ids, kind, party_segment, mcc, country)


def _expected_daily_events(habits: tuple[F32, F32], work: Employment, housing: Housing) -> float:
    """Legitimate events per day on average: random habits plus monthly salaries, rent, bills and fees."""
    monthly = (
        np.count_nonzero(work.employer >= 0)
        + np.count_nonzero(housing.landlord >= 0)
        + np.count_nonzero(housing.school >= 0)
        + sum(np.count_nonzero(housing.bill_mask & (1 << j)) for j in range(len(cat.UTILITIES)))
    )
    expected: float = habits[0].sum(dtype=np.float64).item() + monthly / MONTH_DAYS
    return expected


def _expected_daily_noise(config: BankConfig) -> float:
    """Legitimate events per day the noise adds: large first payments and bursts of small ones."""
    noise = config.noise
    burst_mean = BURST_SIZE_MEAN * noise.burst_daily
    return config.person_count * (noise.large_new_payee_yearly / 365.0 + burst_mean)


def _fraud_roles(rng: np.random.Generator, config: BankConfig, segment: I8, expected: float) -> FraudRoles:
    """Mules among persons; synthetic identities among new customers, enough to meet their rate.

    A synthetic identity busts out once, on a day chosen so that (when the run
    is long enough) two weeks of its grooming fall inside the run.
    """
    persons = config.person_count
    mules = np.sort(rng.choice(persons, size=max(MULES_MIN, round(persons * MULE_SHARE)), replace=False))
    is_mule = np.zeros(segment.size, dtype=np.bool_)
    is_mule[mules] = True
    candidates = np.flatnonzero((segment == cat.SEGMENT_CODE["new_customer"]) & ~is_mule)
    rate = config.rates.synthetic_identity
    wanted = round(rate * expected * config.days / SYNTHETIC_EVENTS_MEAN)
    count = min(max(wanted, 1 if rate > 0 else 0), candidates.size // 2)
    synthetic = np.sort(rng.choice(candidates, size=count, replace=False))
    first = 14 if config.days > 14 else 0
    bust_day = rng.integers(first, config.days, count)
    victim_ok = np.arange(segment.size) < persons
    victim_ok[mules] = False
    victim_ok[synthetic] = False
    return FraudRoles(
        mules=mules.astype(np.int32),
        synthetic=synthetic.astype(np.int32),
        bust_day=bust_day.astype(np.int16),
        groom_start_day=(bust_day - rng.integers(21, 43, count)).astype(np.int16),
        victim_ok=victim_ok,
    )


def _opening_balances(rng: np.random.Generator, persons: int, businesses: int) -> I64:
    """Persons hold about 8,000 CNY (median), businesses about 60,000 CNY, both spread log-normally."""
    median_minor = np.concatenate([np.full(persons, 800_000), np.full(businesses, 6_000_000)])
    return np.round(median_minor * rng.lognormal(0, 1, persons + businesses)).astype(np.int64)
