"""Legitimate behaviour for one day: the payments customers make when nobody is defrauding them.

Two sources. Habits (shopping, P2P, top-ups, cash-outs, BNPL, remittances,
hospital visits, business-to-business payments) arrive as a Poisson number
per customer per day at the customer's own rate. Monthly obligations
(salaries, rent, utility bills, school fees) fall on each party's own day of
the month. Hours come from the calibrated profile of the kind's PaySim
action, except where a merchant category has a rhythm of its own (meals,
opening hours). Amounts are log-normal around the calibrated mean times the
customer's level. Everything is drawn as whole-day numpy arrays.

On top comes the noise of real customers (``NoiseRates``): phones switched
for good, a tablet used now and then, a few large first payments to new
payees a year, night-shift workers, trips to other cities and bursts of small
merchant payments. Fraud scenarios share none of these generators.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from netfin.risk.events import EventKind
from netfin.sim.bank import catalogue as cat
from netfin.sim.bank.calibration import KIND_ACTION, Calibration, PaySimAction
from netfin.sim.bank.chunk import (
    CHANNEL_CODE,
    F64,
    I8,
    I32,
    I64,
    KIND_CODE,
    NO_DEVICE,
    Channel,
    EventChunk,
    make_chunk,
)
from netfin.sim.bank.config import CHINA_TZ, DAY_MS, HOUR_MS, MINUTE_MS, BankConfig, NoiseRates
from netfin.sim.bank.population import ACTION_INDEX, HABITS, DeviceTable, Habit, Population

AMOUNT_CAP_MINOR = 50_000_000  # 500,000 CNY: no single wallet payment here is larger
LOCAL_SPREAD_DEG = 0.01  # about a kilometre around where the customer is that day
PRIMARY_DEVICE_SHARE = 0.75
WEEKEND_FACTOR = {Habit.PURCHASE: 1.15, Habit.B2B: 0.3}
HOSPITAL_SCALE = 3.0  # a hospital visit costs about three average purchases
BILL_SIGMA = 0.4  # a household's bills vary less than its shopping
DIRECT_DEBIT_SHARE = 0.5
LARGE_PAYMENT_SCALE = 12.0  # a first large payment is about a dozen ordinary transfers
LARGE_PAYMENT_SIGMA = 0.8
BURST_SIZE_MIN, BURST_SIZE_MAX = 4, 12  # payments in one burst of small merchant payments
BURST_SPAN_MINUTES_MAX = 30
NIGHT_SHIFT_MS = 12 * HOUR_MS  # a night worker's day is the others' night


@dataclass(frozen=True, slots=True)
class Day:
    """One day of the run, from local (China) midnight to midnight."""

    index: int
    start_ms: int
    day_of_month: int
    weekend: bool

    @classmethod
    def of(cls, config: BankConfig, index: int) -> Day:
        start_ms = config.start_ms + index * DAY_MS
        local = datetime.fromtimestamp(start_ms / 1000, CHINA_TZ)
        return cls(index, start_ms, local.day, local.weekday() >= 5)

    @property
    def end_ms(self) -> int:
        return self.start_ms + DAY_MS


@dataclass(frozen=True, slots=True, eq=False)
class Scales:
    """Per-run constants derived from the calibration: mean amounts, spreads and hour profiles."""

    mean_minor: dict[EventKind, int]
    sigma: dict[EventKind, float]
    hours: dict[EventKind, F64]
    category_hours: tuple[F64, ...]
    category_scale: F64  # relative mean per category, share-weighted mean 1
    category_share: F64

    @classmethod
    def of(cls, calibration: Calibration) -> Scales:
        kinds = list(KIND_ACTION)
        payment = calibration.actions[PaySimAction.PAYMENT]
        named = {
            "meals": cat.hour_share(cat.MEAL_HOUR_WEIGHTS),
            "shop": cat.hour_share(cat.SHOP_HOUR_WEIGHTS),
        }
        share = np.asarray([c.share for c in cat.CATEGORIES])
        share = share / share.sum()
        scale = np.asarray([c.scale for c in cat.CATEGORIES])
        return cls(
            mean_minor={k: calibration.mean_minor(k) for k in kinds},
            sigma={k: calibration.of_kind(k).event_sigma for k in kinds},
            hours={k: calibration.of_kind(k).hour_share for k in kinds},
            category_hours=tuple(named.get(c.hours, payment.hour_share) for c in cat.CATEGORIES),
            category_scale=scale / np.sum(share * scale),
            category_share=share,
        )


@dataclass(slots=True, eq=False)
class DeviceState:
    """The devices that change during a run: each customer's current phone and the next unused ids.

    Legitimate behaviour moves ``primary`` and ``spare_next`` (customers
    switching phones); fraud moves only ``fresh_next``, so fraud rates leave
    every legitimate device as it was.
    """

    primary: I32  # per customer: the phone they use most, from their own block or the spare pool
    spare_next: int = 0
    fresh_next: int = 0

    @classmethod
    def of(cls, devices: DeviceTable) -> DeviceState:
        return cls(devices.start.copy())

    def switch_phones(self, devices: DeviceTable, customer: I64) -> None:
        """``customer`` each move to a new phone, kept from now on."""
        taken = self.spare_next + np.arange(customer.size)
        self.primary[customer] = devices.spare_start + taken % devices.spare_count
        self.spare_next += customer.size

    def fresh(self, devices: DeviceTable, n: int) -> I64:
        """``n`` devices never seen before (a fraud incident's own phone or emulator)."""
        taken = self.fresh_next + np.arange(n, dtype=np.int64)
        self.fresh_next += n
        fresh: I64 = devices.fresh_start + taken % devices.fresh_count
        return fresh


@dataclass(frozen=True, slots=True, eq=False)
class Today:
    """What every generator of one day needs: who, when, the calibration and where customers are."""

    population: Population
    scales: Scales
    day: Day
    rng: np.random.Generator
    noise: NoiseRates
    phones: DeviceState
    away: I8  # per customer: the place they travel to today, -1 at home

    @classmethod
    def begin(
        cls,
        population: Population,
        scales: Scales,
        day: Day,
        rng: np.random.Generator,
        noise: NoiseRates,
        phones: DeviceState,
    ) -> Today:
        """Today's whereabouts, after the customers who switch phones today have switched."""
        n = population.layout.customers
        travelling = rng.random(n) < noise.travel_daily
        away = np.where(travelling, rng.integers(0, len(cat.HOME_PLACES), n), -1).astype(np.int8)
        phones.switch_phones(population.devices, np.flatnonzero(rng.random(n) < noise.new_phone_daily))
        return cls(population, scales, day, rng, noise, phones, away)

    def place_of(self, customer: I64) -> I64:
        away = self.away[customer].astype(np.int64)
        return np.where(away >= 0, away, self.population.homes.place[customer])

    def locate(self, customer: I64) -> tuple[F64, F64]:
        """Where each payment is made: near home, or near the place the customer travels to today."""
        homes, away = self.population.homes, self.away[customer]
        centre_lat = np.asarray([p.lat for p in cat.HOME_PLACES])[np.maximum(away, 0)]
        centre_lon = np.asarray([p.lon for p in cat.HOME_PLACES])[np.maximum(away, 0)]
        lat = np.where(away >= 0, centre_lat, homes.lat[customer])
        lon = np.where(away >= 0, centre_lon, homes.lon[customer])
        n = customer.size
        return (
            lat + self.rng.normal(0, LOCAL_SPREAD_DEG, n),
            lon + self.rng.normal(0, LOCAL_SPREAD_DEG, n),
        )

    def device_of(self, customer: I64) -> I32:
        """Mostly the customer's current phone, sometimes another of their own, rarely their tablet."""
        devices, rng, n = self.population.devices, self.rng, customer.size
        start, occasional = devices.start[customer], devices.occasional[customer]
        regular = devices.count[customer] - occasional
        other = start + (rng.random(n) * regular).astype(np.int32)
        device = np.where(rng.random(n) < PRIMARY_DEVICE_SHARE, self.phones.primary[customer], other)
        tablet = occasional & (rng.random(n) < self.noise.occasional_device_use)
        return np.where(tablet, start + regular, device).astype(np.int32)

    def times(self, hour_share: F64, n: int) -> I64:
        """``n`` instants of this day, hours drawn from ``hour_share`` (local), uniform within the hour."""
        hour = self.rng.choice(24, size=n, p=hour_share)
        return self.day.start_ms + hour * HOUR_MS + self.rng.integers(0, HOUR_MS, n)

    def amounts(self, mean_minor: F64 | float, sigma: float, n: int) -> I64:
        """Log-normal amounts with mean ``mean_minor`` in fen, as whole fen (the one float-to-int step)."""
        size = mean_minor * np.exp(sigma * self.rng.standard_normal(n) - sigma**2 / 2)
        return np.clip(np.round(size), 1, AMOUNT_CAP_MINOR).astype(np.int64)

    def payers(self, habit: Habit) -> I64:
        """Each customer repeated as many times as they use ``habit`` today (Poisson at their rate)."""
        factor = WEEKEND_FACTOR.get(habit, 1.0) if self.day.weekend else 1.0
        counts = self.rng.poisson(self.population.rates[habit] * factor)
        return np.repeat(np.arange(counts.size, dtype=np.int64), counts)

    def level(self, kind: EventKind, customer: I64) -> F64:
        """The customer's amount level for ``kind``'s PaySim action times the kind's mean amount."""
        action = ACTION_INDEX[KIND_ACTION[kind]]
        mean_minor: F64 = self.population.level[action, customer] * np.float64(self.scales.mean_minor[kind])
        return mean_minor

    def in_person(
        self,
        *,
        ts_ms: I64,
        payer: I64,
        payee: I64,
        kind: EventKind | I8,
        amount_minor: I64,
        channel: Channel | I8,
    ) -> EventChunk:
        """A chunk of payments the payer makes on one of their devices, where they are today."""
        lat, lon = self.locate(payer)
        return make_chunk(
            ts_ms=ts_ms,
            payer=payer,
            payee=payee,
            kind=kind,
            amount_minor=amount_minor,
            device=self.device_of(payer),
            lat=lat,
            lon=lon,
            channel=channel,
        )


def legitimate_day(today: Today) -> EventChunk:
    """Every legitimate event of one day, in no particular order."""
    chunk = EventChunk.concat(
        [
            _purchases(today),
            _transfers(today, Habit.P2P),
            _transfers(today, Habit.CROSS_BORDER),
            _transfers(today, Habit.B2B),
            _wallet_moves(today, Habit.TOP_UP),
            _wallet_moves(today, Habit.CASH_OUT),
            _bnpl_repayments(today),
            _hospital_visits(today),
            _salaries(today),
            _rents_and_fees(today),
            _utility_bills(today),
            _large_first_payments(today),
            _small_bursts(today),
        ]
    )
    return _night_shifts(today, chunk)


def _night_shifts(today: Today, chunk: EventChunk) -> EventChunk:
    """Night workers make ``night_shift_use`` of their own payments twelve hours later (within the day)."""
    worker = today.population.night_worker[chunk.payer]
    moved = worker & (chunk.channel != CHANNEL_CODE[Channel.BATCH])
    moved[moved] = today.rng.random(int(moved.sum())) < today.noise.night_shift_use
    start = today.day.start_ms
    chunk.ts_ms[moved] = start + (chunk.ts_ms[moved] - start + NIGHT_SHIFT_MS) % DAY_MS
    return chunk


def _large_first_payments(today: Today) -> EventChunk:
    """A few times a year a person pays someone new a large sum, in the app, near where they are.

    A deposit on a new flat (rent to a new landlord), a contractor or a shop
    that renovates (a business), tuition at another school (a bill), a used
    car or motorbike bought from a stranger, or support to a relative (a
    person): about a dozen ordinary transfers, mostly a round sum.
    """
    population, rng = today.population, today.rng
    layout = population.layout
    rate = today.noise.large_new_payee_yearly / 365.0
    payer = np.flatnonzero(rng.random(layout.persons) < rate)
    n = payer.size
    route = rng.random(n)
    person = (payer + 1 + rng.integers(0, max(layout.persons - 1, 1), n)) % layout.persons
    business = layout.persons + rng.integers(0, layout.businesses, n)
    school = layout.school(today.place_of(payer), rng.integers(0, layout.hospitals_per_place, n))
    payee = np.select([route < 0.4, route < 0.6, route < 0.85], [person, person, business], school)
    kind = np.select(
        [route < 0.4, route < 0.6, route < 0.85],
        [KIND_CODE[EventKind.P2P], KIND_CODE[EventKind.RENT], KIND_CODE[EventKind.OTHER]],
        KIND_CODE[EventKind.BILL],
    ).astype(np.int8)
    mean_minor = today.level(EventKind.P2P, payer) * LARGE_PAYMENT_SCALE
    amount_minor = today.amounts(mean_minor, LARGE_PAYMENT_SIGMA, n)
    rounded = rng.random(n) < 0.8
    amount_minor = np.where(rounded, np.maximum(amount_minor // 10_000, 1) * 10_000, amount_minor)
    return today.in_person(
        ts_ms=today.times(today.scales.hours[EventKind.P2P], n),
        payer=payer,
        payee=payee,
        kind=kind,
        amount_minor=amount_minor,
        channel=Channel.APP,
    )


def _small_bursts(today: Today) -> EventChunk:
    """A person taps through small payments within minutes: a food court, metro rides, game top-ups.

    One category per burst; rides and top-ups go to one merchant, a food
    court's stalls are several. Amounts are a few yuan, as card testers' are.
    """
    population, rng = today.population, today.rng
    who = np.flatnonzero(rng.random(population.layout.persons) < today.noise.burst_daily)
    k = who.size
    rows = np.repeat(np.arange(k), rng.integers(BURST_SIZE_MIN, BURST_SIZE_MAX + 1, k))
    codes = np.asarray([cat.CATEGORY_INDEX[b.category] for b in cat.BURSTS])
    kind_of_burst = rng.integers(0, len(cat.BURSTS), k)
    latest = DAY_MS - (BURST_SPAN_MINUTES_MAX + 1) * MINUTE_MS
    start = today.day.start_ms + np.minimum(
        today.times(today.scales.hours[EventKind.PURCHASE], k) - today.day.start_ms, latest
    )
    span = rng.integers(2, BURST_SPAN_MINUTES_MAX + 1, k) * MINUTE_MS
    payer = who[rows]
    category = codes[kind_of_burst][rows]
    one_merchant = population.merchants.choose(rng, codes[kind_of_burst], today.place_of(who))[rows]
    each = population.merchants.choose(rng, category, today.place_of(payer))
    stalls = np.asarray([b.stalls for b in cat.BURSTS])[kind_of_burst][rows]
    low = np.asarray([b.low_minor for b in cat.BURSTS])[kind_of_burst][rows]
    high = np.asarray([b.high_minor for b in cat.BURSTS])[kind_of_burst][rows]
    online = np.asarray([c.online for c in cat.CATEGORIES])[category]
    return today.in_person(
        ts_ms=start[rows] + (rng.random(rows.size) * span[rows]).astype(np.int64),
        payer=payer,
        payee=np.where(stalls, each, one_merchant),
        kind=EventKind.PURCHASE,
        amount_minor=low + (rng.random(rows.size) * (high - low)).astype(np.int64) // 100 * 100,
        channel=np.where(online, CHANNEL_CODE[Channel.ONLINE], CHANNEL_CODE[Channel.QR]).astype(np.int8),
    )


def _purchases(today: Today) -> EventChunk:
    """Shopping: a category from the purchase mix, a merchant of it where the customer is, its hours."""
    rng, scales = today.rng, today.scales
    payer = today.payers(Habit.PURCHASE)
    n = payer.size
    category = rng.choice(len(cat.CATEGORIES), size=n, p=scales.category_share)
    ts_ms = np.empty(n, dtype=np.int64)
    for c in range(len(cat.CATEGORIES)):
        rows = np.flatnonzero(category == c)
        ts_ms[rows] = today.times(scales.category_hours[c], rows.size)
    merchant = today.population.merchants.choose(rng, category, today.place_of(payer))
    mean_minor = today.level(EventKind.PURCHASE, payer) * scales.category_scale[category]
    online = np.asarray([c.online for c in cat.CATEGORIES])[category]
    channel = np.where(online, CHANNEL_CODE[Channel.ONLINE], CHANNEL_CODE[Channel.QR]).astype(np.int8)
    return today.in_person(
        ts_ms=ts_ms,
        payer=payer,
        payee=merchant,
        kind=EventKind.PURCHASE,
        amount_minor=today.amounts(mean_minor, scales.sigma[EventKind.PURCHASE], n),
        channel=channel,
    )


def _transfers(today: Today, habit: Habit) -> EventChunk:
    """P2P to friends, remittances to family or suppliers abroad, payments between businesses.

    Six in ten P2P amounts are whole yuan, as people type them.
    """
    population, rng = today.population, today.rng
    kind = HABITS[habit].kind
    payer = today.payers(habit)
    n = payer.size
    if habit is Habit.P2P:
        start = population.friend_start[payer]
        degree = population.friend_start[payer + 1] - start
        payee = population.friends[start + (rng.random(n) * degree).astype(np.int64)].astype(np.int64)
    elif habit is Habit.CROSS_BORDER:
        payee = population.abroad_payee[payer].astype(np.int64)
    else:
        layout = population.layout
        shift = 1 + rng.integers(0, max(layout.businesses - 1, 1), n)
        payee = layout.persons + (payer - layout.persons + shift) % layout.businesses
    amount_minor = today.amounts(today.level(kind, payer), today.scales.sigma[kind], n)
    if habit is Habit.P2P:
        whole = rng.random(n) < 0.6
        amount_minor = np.where(whole, np.maximum(amount_minor // 100, 1) * 100, amount_minor)
    return today.in_person(
        ts_ms=today.times(today.scales.hours[kind], n),
        payer=payer,
        payee=payee,
        kind=kind,
        amount_minor=amount_minor,
        channel=Channel.APP,
    )


def _wallet_moves(today: Today, habit: Habit) -> EventChunk:
    """Top-ups from and cash-outs to the customer's own card at another bank; mostly round sums."""
    kind = HABITS[habit].kind
    payer = today.payers(habit)
    n = payer.size
    amount_minor = today.amounts(today.level(kind, payer), today.scales.sigma[kind], n)
    rounded = today.rng.random(n) < 0.7
    amount_minor = np.where(rounded, np.maximum(amount_minor // 10_000, 1) * 10_000, amount_minor)
    return today.in_person(
        ts_ms=today.times(today.scales.hours[kind], n),
        payer=payer,
        payee=today.population.linked_account(payer),
        kind=kind,
        amount_minor=amount_minor,
        channel=Channel.APP,
    )


def _bnpl_repayments(today: Today) -> EventChunk:
    """Instalments to the customer's BNPL lender: half by direct debit (no device), half in the app."""
    kind = EventKind.BNPL_REPAYMENT
    payer = today.payers(Habit.BNPL)
    n = payer.size
    chunk = today.in_person(
        ts_ms=today.times(today.scales.hours[kind], n),
        payer=payer,
        payee=today.population.bnpl_provider[payer].astype(np.int64),
        kind=kind,
        amount_minor=today.amounts(today.level(kind, payer), today.scales.sigma[kind], n),
        channel=Channel.APP,
    )
    return _some_by_direct_debit(today, chunk)


def _some_by_direct_debit(today: Today, chunk: EventChunk) -> EventChunk:
    """Turn ``DIRECT_DEBIT_SHARE`` of the rows into batch payments: no device, no location."""
    debit = today.rng.random(len(chunk)) < DIRECT_DEBIT_SHARE
    chunk.channel[debit] = CHANNEL_CODE[Channel.BATCH]
    chunk.device[debit] = NO_DEVICE
    chunk.lat[debit] = np.nan
    chunk.lon[debit] = np.nan
    return chunk


def _hospital_visits(today: Today) -> EventChunk:
    """Paying a hospital in the place the patient is, at its counter (QR), in opening hours."""
    population, rng = today.population, today.rng
    payer = today.payers(Habit.HOSPITAL)
    n = payer.size
    which = rng.integers(0, population.layout.hospitals_per_place, n)
    mean_minor = HOSPITAL_SCALE * today.scales.mean_minor[EventKind.PURCHASE]
    return today.in_person(
        ts_ms=today.times(cat.hour_share(cat.SHOP_HOUR_WEIGHTS), n),
        payer=payer,
        payee=population.layout.hospital(today.place_of(payer), which),
        kind=EventKind.BILL,
        amount_minor=today.amounts(mean_minor, today.scales.sigma[EventKind.PURCHASE], n),
        channel=Channel.QR,
    )


def _salaries(today: Today) -> EventChunk:
    """Payroll: each business pays all its employees on its payday, in one batch run that morning."""
    population, rng = today.population, today.rng
    work, persons = population.work, population.layout.persons
    employed = np.flatnonzero(population.work.employer >= 0)
    employer = work.employer[employed].astype(np.int64)
    paid = work.payday[employer - persons] == today.day.day_of_month
    payee, payer = employed[paid], employer[paid]
    n = payee.size
    minute = work.payroll_minute[payer - persons].astype(np.int64)
    ts_ms = today.day.start_ms + minute * MINUTE_MS + rng.integers(0, 30 * MINUTE_MS, n)
    return make_chunk(
        ts_ms=ts_ms,
        payer=payer,
        payee=payee,
        kind=EventKind.SALARY,
        amount_minor=work.salary_minor[payee],
        device=np.full(n, NO_DEVICE, dtype=np.int32),
        lat=np.full(n, np.nan),
        lon=np.full(n, np.nan),
        channel=Channel.BATCH,
    )


def _rents_and_fees(today: Today) -> EventChunk:
    """Rent to the landlord and school fees, each on the payer's own day of the month, in the app."""
    housing, dom = today.population.housing, today.day.day_of_month
    renters = np.flatnonzero((housing.landlord >= 0) & (housing.rent_day == dom))
    parents = np.flatnonzero((housing.school >= 0) & (housing.school_day == dom))
    rent = today.in_person(
        ts_ms=today.times(today.scales.hours[EventKind.P2P], renters.size),
        payer=renters,
        payee=housing.landlord[renters].astype(np.int64),
        kind=EventKind.RENT,
        amount_minor=housing.rent_minor[renters],
        channel=Channel.APP,
    )
    fees = today.in_person(
        ts_ms=today.times(cat.hour_share(cat.SHOP_HOUR_WEIGHTS), parents.size),
        payer=parents,
        payee=housing.school[parents].astype(np.int64),
        kind=EventKind.BILL,
        amount_minor=housing.school_minor[parents],
        channel=Channel.APP,
    )
    return EventChunk.concat([rent, fees])


def _utility_bills(today: Today) -> EventChunk:
    """Each household's utilities on its bill day, to the providers of its home place."""
    population, dom = today.population, today.day.day_of_month
    due = np.flatnonzero(population.housing.bill_day == dom)
    mask = population.housing.bill_mask[due]
    parts = []
    for j, utility in enumerate(cat.UTILITIES):
        payer = due[(mask & (1 << j)) != 0]
        mean_minor = utility.scale * today.scales.mean_minor[EventKind.BILL]
        chunk = today.in_person(
            ts_ms=today.times(today.scales.hours[EventKind.BILL], payer.size),
            payer=payer,
            payee=population.layout.utility(population.homes.place[payer], j),
            kind=EventKind.BILL,
            amount_minor=today.amounts(mean_minor, BILL_SIGMA, payer.size),
            channel=Channel.APP,
        )
        parts.append(_some_by_direct_debit(today, chunk))
    return EventChunk.concat(parts)
