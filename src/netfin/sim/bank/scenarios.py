"""Labelled fraud, injected as scenarios into each day.

Every event a scenario marks as fraud carries ``label=1`` and the scenario's
name; everything else (including the innocent-looking grooming of a synthetic
identity) is legitimate, ``label=0`` and ``scenario=""``. Each scenario's
configured rate is a share of all events; the number of incidents per day is
Poisson with mean ``rate * expected legitimate events / events per incident``.
Incidents are placed so they end before local midnight: a day is one chunk of
the stream, and nothing may spill into the next.

``account_takeover``
    A fraudster logs into a victim's account from a device new to the
    victim (mostly fresh for the incident, sometimes one of the ring's
    shared pool) in a place more than 500 km from home, often at night,
    and within about 80 minutes drains 70-95% of the balance in 2-5
    payments to payees the victim (almost always) never paid: mule
    accounts here or at another bank, or a phone or gold bought online.
    Three in ten take over the victim's own phone instead (a SIM swap or
    remote access): the victim's device, where the victim is.
``card_testing``
    A stolen credential (a device new to the victim, no location, online) makes a
    burst of 5-25 payments of 1-500 fen at card-not-present merchants
    within 1-8 minutes; four bursts in ten are followed within half an hour
    by one large electronics purchase.
``app_scam``
    An authorised push-payment scam: the victim, on their own primary device
    where they usually are, in the daytime, pays a mule (a person they never
    paid) one to three large round sums totalling 40-95% of their balance
    within two hours. Four in ten are slow instead (a romance or investment
    scam): one payment a day for 2-5 days, each a round sum within the
    victim's ordinary transfer range.
``mule_network``
    A ring of 2-4 mule customers (ordinary customers with ordinary habits
    until, and besides, their part in a ring) each receive 5-15 P2P payments from
    different scam victims within a few hours (fan-in), and pass them on in
    groups of 3-6 within 5 minutes to 3 hours of the last inflow: cash-out
    to their card, a transfer abroad to a scam-compound country, or a P2P to
    another mule of the ring. The inflows and the outflows are labelled.
``synthetic_identity``
    New customers opened on made-up identities groom their accounts with
    small purchases that grow 8% a day for 3-6 weeks (legitimate-looking,
    label 0), then on one day bust out: 8-20 large payments (median 6,000
    CNY) to payees they never paid. The bust-out is labelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netfin.risk.events import EventKind, Scenario
from netfin.sim.bank import catalogue as cat
from netfin.sim.bank.behaviour import Today
from netfin.sim.bank.chunk import CHANNEL_CODE, F64, I8, I64, KIND_CODE, Channel, EventChunk, make_chunk
from netfin.sim.bank.config import DAY_MS, HOUR_MS, MINUTE_MS, ScenarioRates

# Mean events per incident, to turn a share of events into a number of incidents.
FRESH_DEVICE_SHARE = 0.8  # incidents on a device of their own; the rest use the ring's shared pool
TAKEOVER_OWN_DEVICE_SHARE = 0.3  # SIM swap or remote access: the victim's own phone, where they are
SLOW_SCAM_SHARE = 0.4
SLOW_SCAM_DAYS_MIN, SLOW_SCAM_DAYS_MAX = 2, 5
SLOW_SCAM_SCALE_MAX = 2.5  # each payment up to this many of the victim's ordinary transfers
SLOW_SCAM_SIGMA = 0.4
EVENTS_PER_INCIDENT = {
    Scenario.ACCOUNT_TAKEOVER: 3.5,
    Scenario.CARD_TESTING: 15.4,
    Scenario.APP_SCAM: (1 - SLOW_SCAM_SHARE) * 1.5
    + SLOW_SCAM_SHARE * (SLOW_SCAM_DAYS_MIN + SLOW_SCAM_DAYS_MAX) / 2,
    Scenario.MULE_NETWORK: 37.0,
}
TAKEOVER_BALANCE_MIN_MINOR = 100_000  # a takeover of an empty account moves nothing
SCAM_BALANCE_MIN_MINOR = 300_000
FRAUD_PLACE_SPREAD_DEG = 0.05
GROOM_START_MINOR = 2_000
GROOM_GROWTH = 1.08  # per day of grooming
GROOM_CAP_MINOR = 80_000
MULE_INFLOW_MEAN_MINOR = 190_000  # log-normal, sigma 0.7: a median of about 1,500 CNY per victim
MULE_INFLOW_SIGMA = 0.7
BUST_OUT_MEAN_MINOR = 720_000  # log-normal, sigma 0.6: a median of about 6,000 CNY


def incident_counts(today: Today, rates: ScenarioRates) -> dict[Scenario, int]:
    """How many incidents of each day-drawn scenario start today."""
    expected = today.population.expected_daily_events
    return {
        scenario: int(today.rng.poisson(rates.of(scenario) * expected / per_incident))
        for scenario, per_incident in EVENTS_PER_INCIDENT.items()
    }


@dataclass(slots=True, eq=False)
class SlowScams:
    """Slow APP scams under way: who pays which mule, and for how many more days."""

    victim: I64
    mule: I64
    days_left: I64

    @classmethod
    def empty(cls) -> SlowScams:
        nothing = np.zeros(0, dtype=np.int64)
        return cls(nothing, nothing.copy(), nothing.copy())

    def add(self, victim: I64, mule: I64, days: I64) -> None:
        self.victim = np.concatenate([self.victim, victim])
        self.mule = np.concatenate([self.mule, mule])
        self.days_left = np.concatenate([self.days_left, days])

    def advance(self) -> None:
        """One day of every scam has been paid; drop those that are over."""
        self.days_left = self.days_left - 1
        going = self.days_left > 0
        self.victim, self.mule, self.days_left = self.victim[going], self.mule[going], self.days_left[going]


def fraud_day(today: Today, rates: ScenarioRates, balance_minor: I64, scams: SlowScams) -> EventChunk:
    """All scenario events of one day (and the grooming of synthetic identities)."""
    counts = incident_counts(today, rates)
    slow = int(today.rng.binomial(counts[Scenario.APP_SCAM], SLOW_SCAM_SHARE))
    return EventChunk.concat(
        [
            account_takeovers(today, counts[Scenario.ACCOUNT_TAKEOVER], balance_minor),
            card_testing(today, counts[Scenario.CARD_TESTING]),
            app_scams(today, counts[Scenario.APP_SCAM] - slow, balance_minor),
            slow_app_scams(today, slow, balance_minor, scams),
            mule_networks(today, counts[Scenario.MULE_NETWORK]),
            synthetic_grooming(today),
            synthetic_bust_outs(today),
        ]
    )


def _victims(today: Today, n: int, balance_minor: I64 | None = None, floor_minor: int = 0) -> I64:
    """``n`` distinct eligible customers (fewer if fewer qualify): persons, not mules, not synthetic."""
    eligible = today.population.fraud.victim_ok
    if balance_minor is not None:
        eligible = eligible & (balance_minor >= floor_minor)
    pool = np.flatnonzero(eligible)
    chosen: I64 = today.rng.choice(pool, size=min(n, pool.size), replace=False)
    return chosen


def _starts(today: Today, hour_share: F64, n: int, latest_ms: int) -> I64:
    """Incident start times today, from ``hour_share``, no later than ``latest_ms`` after midnight."""
    offset = today.times(hour_share, n) - today.day.start_ms
    return today.day.start_ms + np.minimum(offset, latest_ms)


def _fraud_devices(today: Today, n: int) -> I64:
    """One device per incident: mostly never seen before, sometimes one of the ring's shared pool."""
    devices, rng = today.population.devices, today.rng
    shared = devices.fraud_start + rng.integers(0, devices.fraud_count, n)
    fresh = today.phones.fresh(devices, n)
    chosen: I64 = np.where(rng.random(n) < FRESH_DEVICE_SHARE, fresh, shared)
    return chosen


def _mules(today: Today, n: int) -> I64:
    mules = today.population.fraud.mules
    return mules[today.rng.integers(0, mules.size, n)].astype(np.int64)


def _resale_merchants(today: Today, place: I64) -> I64:
    codes = np.asarray([cat.CATEGORY_INDEX[name] for name in cat.RESALE_CATEGORIES])
    category = codes[today.rng.integers(0, codes.size, place.size)]
    return today.population.merchants.choose(today.rng, category, place)


def _split(today: Today, rows: I64, total: F64, concentration: float) -> F64:
    """Split each incident's ``total`` over its rows with Dirichlet(``concentration``) shares."""
    weights = today.rng.gamma(concentration, 1.0, rows.size)
    share = weights / np.bincount(rows, weights)[rows]
    result: F64 = total[rows] * share
    return result


def _new_payees(today: Today, payer_place: I64) -> tuple[I64, I8, I8]:
    """Payees a victim never paid: a mule here (P2P), a mule's card elsewhere (P2P), or a resale merchant."""
    rng, n = today.rng, payer_place.size
    route = rng.random(n)
    mule = _mules(today, n)
    payee = np.where(route < 0.5, mule, today.population.linked_account(mule))
    payee = np.where(route >= 0.75, _resale_merchants(today, payer_place), payee)
    kind = np.where(route >= 0.75, KIND_CODE[EventKind.PURCHASE], KIND_CODE[EventKind.P2P]).astype(np.int8)
    channel = np.where(route >= 0.75, CHANNEL_CODE[Channel.ONLINE], CHANNEL_CODE[Channel.APP]).astype(np.int8)
    return payee, kind, channel


def account_takeovers(today: Today, n: int, balance_minor: I64) -> EventChunk:
    """A new device far away (or the victim's own, near home), new payees, most of the balance gone fast."""
    rng = today.rng
    victim = _victims(today, n, balance_minor, TAKEOVER_BALANCE_MIN_MINOR)
    n = victim.size
    rows = np.repeat(np.arange(n), rng.integers(2, 6, n))
    start = _starts(today, cat.hour_share(cat.TAKEOVER_HOUR_WEIGHTS), n, DAY_MS - 90 * MINUTE_MS)
    drained = _split(today, rows, balance_minor[victim] * rng.uniform(0.7, 0.95, n), 2.0)
    where = rng.integers(0, len(cat.FRAUD_PLACES), n)
    lat = np.asarray([p.lat for p in cat.FRAUD_PLACES])[where] + rng.normal(0, FRAUD_PLACE_SPREAD_DEG, n)
    lon = np.asarray([p.lon for p in cat.FRAUD_PLACES])[where] + rng.normal(0, FRAUD_PLACE_SPREAD_DEG, n)
    device = _fraud_devices(today, n)
    own = rng.random(n) < TAKEOVER_OWN_DEVICE_SHARE
    near_lat, near_lon = today.locate(victim)
    lat, lon = np.where(own, near_lat, lat), np.where(own, near_lon, lon)
    device = np.where(own, today.phones.primary[victim], device)
    payee, kind, channel = _new_payees(today, today.population.homes.place[victim[rows]].astype(np.int64))
    return make_chunk(
        ts_ms=start[rows] + rng.integers(2 * MINUTE_MS, 80 * MINUTE_MS, rows.size),
        payer=victim[rows],
        payee=payee,
        kind=kind,
        amount_minor=np.maximum(np.floor(drained), 100).astype(np.int64),
        device=device[rows],
        lat=lat[rows],
        lon=lon[rows],
        channel=channel,
        scenario=Scenario.ACCOUNT_TAKEOVER,
    )


def card_testing(today: Today, n: int) -> EventChunk:
    """Bursts of tiny card-not-present payments, sometimes followed by one big purchase."""
    rng, population = today.rng, today.population
    victim = _victims(today, n)
    n = victim.size
    rows = np.repeat(np.arange(n), rng.integers(5, 26, n))
    start = _starts(today, today.scales.hours[EventKind.PURCHASE], n, DAY_MS - 45 * MINUTE_MS)
    span = rng.integers(1, 9, n) * MINUTE_MS
    codes = np.asarray([cat.CATEGORY_INDEX[name] for name in cat.CARD_TESTING_CATEGORIES])
    place = population.homes.place[victim].astype(np.int64)
    big = np.flatnonzero(rng.random(n) < 0.4)
    category = np.concatenate(
        [codes[rng.integers(0, codes.size, rows.size)], np.full(big.size, cat.CATEGORY_INDEX["electronics"])]
    )
    incident = np.concatenate([rows, big])
    tiny_minor = rng.integers(1, 501, rows.size)
    big_minor = today.amounts(560_000, 0.5, big.size)
    device = _fraud_devices(today, n)
    return make_chunk(
        ts_ms=np.concatenate(
            [
                start[rows] + (rng.random(rows.size) * span[rows]).astype(np.int64),
                start[big] + span[big] + rng.integers(3 * MINUTE_MS, 30 * MINUTE_MS, big.size),
            ]
        ),
        payer=victim[incident],
        payee=population.merchants.choose(rng, category, place[incident]),
        kind=EventKind.PURCHASE,
        amount_minor=np.concatenate([tiny_minor, big_minor]),
        device=device[incident],
        lat=np.full(incident.size, np.nan),
        lon=np.full(incident.size, np.nan),
        channel=Channel.ONLINE,
        scenario=Scenario.CARD_TESTING,
    )


def app_scams(today: Today, n: int, balance_minor: I64) -> EventChunk:
    """The victim's own device and place, a mule never paid before, large round sums within two hours."""
    rng = today.rng
    victim = _victims(today, n, balance_minor, SCAM_BALANCE_MIN_MINOR)
    n = victim.size
    rows = np.repeat(np.arange(n), rng.choice([1, 2, 3], size=n, p=[0.6, 0.3, 0.1]))
    start = _starts(today, cat.hour_share(cat.SHOP_HOUR_WEIGHTS), n, DAY_MS - 125 * MINUTE_MS)
    parts = _split(today, rows, balance_minor[victim] * rng.uniform(0.4, 0.95, n), 5.0)
    payer = victim[rows]
    lat, lon = today.locate(payer)
    return make_chunk(
        ts_ms=start[rows] + rng.integers(0, 120 * MINUTE_MS, rows.size),
        payer=payer,
        payee=_mules(today, n)[rows],
        kind=EventKind.P2P,
        amount_minor=np.maximum(np.round(parts / 10_000), 1).astype(np.int64) * 10_000,
        device=today.phones.primary[payer],
        lat=lat,
        lon=lon,
        channel=Channel.APP,
        scenario=Scenario.APP_SCAM,
    )


def slow_app_scams(today: Today, n: int, balance_minor: I64, scams: SlowScams) -> EventChunk:
    """Scams that start today join those under way; each victim pays their mule once today.

    Each payment is a round sum within the victim's ordinary transfer range,
    so no single day looks unusual: only the new payee, paid again and again.
    """
    rng = today.rng
    victim = _victims(today, n, balance_minor, SCAM_BALANCE_MIN_MINOR)
    days = rng.integers(SLOW_SCAM_DAYS_MIN, SLOW_SCAM_DAYS_MAX + 1, victim.size)
    scams.add(victim, _mules(today, victim.size), days)
    payer, m = scams.victim, scams.victim.size
    mean_minor = today.level(EventKind.P2P, payer) * rng.uniform(1.0, SLOW_SCAM_SCALE_MAX, m)
    amount_minor = np.maximum(today.amounts(mean_minor, SLOW_SCAM_SIGMA, m) // 10_000, 1) * 10_000
    start = _starts(today, cat.hour_share(cat.SHOP_HOUR_WEIGHTS), m, DAY_MS - MINUTE_MS)
    lat, lon = today.locate(payer)
    chunk = make_chunk(
        ts_ms=start,
        payer=payer,
        payee=scams.mule,
        kind=EventKind.P2P,
        amount_minor=amount_minor,
        device=today.phones.primary[payer],
        lat=lat,
        lon=lon,
        channel=Channel.APP,
        scenario=Scenario.APP_SCAM,
    )
    scams.advance()
    return chunk


def mule_networks(today: Today, n: int) -> EventChunk:
    """Rings of mules: fan-in from many victims, then quick pass-on in groups."""
    rng = today.rng
    mules = today.population.fraud.mules
    size = rng.integers(2, 5, n)
    slot_mule = np.concatenate([rng.choice(mules, size=s, replace=False) for s in size] or [mules[:0]])
    slot_ring = np.repeat(np.arange(n), size)
    ring_first = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
    window = rng.integers(2 * HOUR_MS, 6 * HOUR_MS, n)
    latest = DAY_MS - window - 4 * HOUR_MS
    start = today.day.start_ms + 7 * HOUR_MS + (rng.random(n) * (latest - 7 * HOUR_MS)).astype(np.int64)
    rows = np.repeat(np.arange(slot_mule.size), rng.integers(5, 16, slot_mule.size))
    ring = slot_ring[rows]
    ts_ms = start[ring] + (rng.random(rows.size) * window[ring]).astype(np.int64)
    payer = _victims(today, rows.size)
    rows, ts_ms = rows[: payer.size], ts_ms[: payer.size]
    amount_minor = (
        np.maximum(today.amounts(MULE_INFLOW_MEAN_MINOR, MULE_INFLOW_SIGMA, rows.size) // 100, 1) * 100
    )
    lat, lon = today.locate(payer)
    inflows = make_chunk(
        ts_ms=ts_ms,
        payer=payer,
        payee=slot_mule[rows].astype(np.int64),
        kind=EventKind.P2P,
        amount_minor=amount_minor,
        device=today.phones.primary[payer],
        lat=lat,
        lon=lon,
        channel=Channel.APP,
        scenario=Scenario.MULE_NETWORK,
    )
    outflows = _mule_outflows(today, inflows, rows, slot_mule, slot_ring, ring_first, size)
    return EventChunk.concat([inflows, outflows])


def _mule_outflows(
    today: Today, inflows: EventChunk, rows: I64, slot_mule: I64, slot_ring: I64, ring_first: I64, size: I64
) -> EventChunk:
    """Each mule passes its inflows on in groups of 3-6, soon after the last of the group arrives."""
    rng = today.rng
    order = np.lexsort((inflows.ts_ms, rows))
    slot, ts_ms = rows[order], inflows.ts_ms[order]
    first = np.searchsorted(slot, slot)
    group_size = rng.integers(3, 7, slot_mule.size)
    key = slot * 64 + (np.arange(slot.size) - first) // group_size[slot]
    begin = np.flatnonzero(np.diff(key, prepend=key[:1] - 1) != 0)
    end = np.append(begin[1:], key.size)[: begin.size]
    out_slot = slot[begin]
    m = out_slot.size
    kept = np.add.reduceat(inflows.amount_minor[order], begin) if m else np.zeros(0, np.int64)
    mule = slot_mule[out_slot].astype(np.int64)
    route = rng.random(m)
    ring = slot_ring[out_slot]
    peer = (out_slot - ring_first[ring] + 1 + rng.integers(0, size[ring] - 1)) % size[ring]
    peer_slot = ring_first[ring] + peer
    fraud_external = today.population.layout.fraud_external_start
    abroad = fraud_external + rng.integers(0, today.population.layout.fraud_external_count, m)
    payee = np.where(route < 0.5, today.population.linked_account(mule), abroad)
    payee = np.where(route >= 0.75, slot_mule[peer_slot], payee)
    kind = np.select(
        [route < 0.5, route < 0.75],
        [KIND_CODE[EventKind.CASH_OUT], KIND_CODE[EventKind.CROSS_BORDER]],
        KIND_CODE[EventKind.P2P],
    ).astype(np.int8)
    lat, lon = today.locate(mule)
    return make_chunk(
        ts_ms=ts_ms[end - 1] + rng.integers(5 * MINUTE_MS, 3 * HOUR_MS, m),
        payer=mule,
        payee=payee,
        kind=kind,
        amount_minor=np.maximum(np.floor(kept * rng.uniform(0.9, 0.99, m)), 1).astype(np.int64),
        device=today.phones.primary[mule],
        lat=lat,
        lon=lon,
        channel=Channel.APP,
        scenario=Scenario.MULE_NETWORK,
    )


def synthetic_grooming(today: Today) -> EventChunk:
    """Small purchases that grow day by day: what makes a synthetic identity look trustworthy (label 0)."""
    rng, fraud, d = today.rng, today.population.fraud, today.day.index
    grooming = (fraud.groom_start_day <= d) & (d < fraud.bust_day) & (rng.random(fraud.synthetic.size) < 0.5)
    payer = fraud.synthetic[grooming].astype(np.int64)
    age = d - fraud.groom_start_day[grooming].astype(np.int64)
    mean_minor = np.minimum(GROOM_START_MINOR * GROOM_GROWTH**age, GROOM_CAP_MINOR)
    category = np.asarray([cat.CATEGORY_INDEX["grocery"], cat.CATEGORY_INDEX["online_marketplaces"]])
    return today.in_person(
        ts_ms=today.times(today.scales.hours[EventKind.PURCHASE], payer.size),
        payer=payer,
        payee=today.population.merchants.choose(
            rng, category[rng.integers(0, 2, payer.size)], today.place_of(payer)
        ),
        kind=EventKind.PURCHASE,
        amount_minor=today.amounts(mean_minor, 0.3, payer.size),
        channel=Channel.QR,
    )


def synthetic_bust_outs(today: Today) -> EventChunk:
    """The day a synthetic identity cashes in: many large payments to new payees."""
    rng, fraud = today.rng, today.population.fraud
    busting = fraud.synthetic[fraud.bust_day == today.day.index].astype(np.int64)
    rows = np.repeat(np.arange(busting.size), rng.integers(8, 21, busting.size))
    payer = busting[rows]
    start = today.day.start_ms + rng.integers(8 * HOUR_MS, 12 * HOUR_MS, busting.size)
    payee, kind, channel = _new_payees(today, today.place_of(payer))
    lat, lon = today.locate(payer)
    return make_chunk(
        ts_ms=start[rows] + rng.integers(0, 10 * HOUR_MS, rows.size),
        payer=payer,
        payee=payee,
        kind=kind,
        amount_minor=np.maximum(today.amounts(BUST_OUT_MEAN_MINOR, 0.6, rows.size) // 100, 1) * 100,
        device=today.phones.primary[payer],
        lat=lat,
        lon=lon,
        channel=channel,
        scenario=Scenario.SYNTHETIC_IDENTITY,
    )
