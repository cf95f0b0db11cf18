"""The event stream: one day at a time, in global order, as Arrow record batches with ``EVENT_SCHEMA``.

Memory is bounded by one day: the population and balances are compact arrays
per customer, and each day's events are generated, ordered, numbered and
handed out in batches of at most ``batch_rows_max`` before the next day
starts. Days never overlap (every incident ends before midnight), so ordering
each day on its own orders the whole stream: ``(ts_ms, seq)`` is strictly
increasing and ``seq`` counts 0, 1, 2, ... across the run.

Legitimate behaviour and fraud draw from separate generators, so changing
the fraud rates leaves every legitimate event of a seed as it was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from netfin.core.errors import invariant
from netfin.risk.events import EVENT_COLUMNS, EVENT_SCHEMA, EventKind, RiskEvent
from netfin.sim.bank import catalogue as cat
from netfin.sim.bank.behaviour import Day, DeviceState, Scales, Today, legitimate_day
from netfin.sim.bank.calibration import Calibration, load_calibration
from netfin.sim.bank.chunk import CHANNELS, I64, KIND_CODE, KINDS, SCENARIOS, EventChunk
from netfin.sim.bank.config import BankConfig
from netfin.sim.bank.population import PAYEE_KINDS, Population, build_population, make_rng
from netfin.sim.bank.scenarios import SlowScams, fraud_day

CURRENCY = "CNY"
LEGITIMATE_STREAM = 1  # rng keys: population 0, legitimate behaviour 1, fraud 2
FRAUD_STREAM = 2


def _vocabulary(values: tuple[str, ...]) -> pa.Array:
    return pa.array(list(values), pa.string())


PAYEE_KIND_VOCABULARY = _vocabulary(tuple(PAYEE_KINDS))
KIND_VOCABULARY = _vocabulary(tuple(KINDS))
CHANNEL_VOCABULARY = _vocabulary(tuple(CHANNELS))
SCENARIO_VOCABULARY = _vocabulary(tuple(SCENARIOS))
MCC_VOCABULARY = _vocabulary(cat.MCCS)
COUNTRY_VOCABULARY = _vocabulary(cat.COUNTRIES)
SEGMENT_VOCABULARY = _vocabulary(cat.SEGMENTS)
CURRENCY_VOCABULARY = _vocabulary((CURRENCY,))


@dataclasses.dataclass(slots=True)
class BankRun:
    """One run in progress: the population, the calibration and what moves day by day.

    Balances, customers' current phones and the slow scams under way are the
    only state carried from one day to the next.
    """

    config: BankConfig
    calibration: Calibration
    population: Population
    scales: Scales
    balance_minor: I64
    phones: DeviceState
    scams: SlowScams

    @classmethod
    def start(cls, config: BankConfig) -> BankRun:
        calibration = load_calibration(config.calibration_dir)
        population = build_population(config, calibration)
        return cls(
            config,
            calibration,
            population,
            Scales.of(calibration),
            population.opening_balance_minor.copy(),
            DeviceState.of(population.devices),
            SlowScams.empty(),
        )

    def simulate_day(self, index: int) -> EventChunk:
        """Day ``index``'s events in stream order; balances move by them afterwards."""
        config = self.config
        day = Day.of(config, index)
        rng = make_rng(config.seed, LEGITIMATE_STREAM, index)
        legitimate = Today.begin(self.population, self.scales, day, rng, config.noise, self.phones)
        # Fraud sees the same whereabouts as legitimate behaviour but draws from its own generator.
        fraud = dataclasses.replace(legitimate, rng=make_rng(config.seed, FRAUD_STREAM, index))
        chunk = EventChunk.concat(
            [legitimate_day(legitimate), fraud_day(fraud, config.rates, self.balance_minor, self.scams)]
        ).sorted_by_time()
        if len(chunk):
            invariant(
                int(chunk.ts_ms[0]) >= day.start_ms and int(chunk.ts_ms[-1]) < day.end_ms,
                f"day {index} has events outside its own day",
            )
        self._settle(chunk)
        return chunk

    def _settle(self, chunk: EventChunk) -> None:
        """Move balances by the day's events (approximately: the simulator never refuses a payment).

        A top-up adds to the payer's wallet, every other kind takes from it;
        the payee gains when it is a customer. Balances floor at zero, so a
        customer who overspends simply starts the next day empty.
        """
        balance_minor, customers = self.balance_minor, self.population.layout.customers
        top_up = chunk.kind == KIND_CODE[EventKind.TOP_UP]
        np.add.at(balance_minor, chunk.payer[top_up], chunk.amount_minor[top_up])
        np.subtract.at(balance_minor, chunk.payer[~top_up], chunk.amount_minor[~top_up])
        received = ~top_up & (chunk.payee < customers)
        np.add.at(balance_minor, chunk.payee[received], chunk.amount_minor[received])
        np.maximum(balance_minor, 0, out=balance_minor)


def generate(config: BankConfig) -> Iterator[pa.RecordBatch]:
    """The run's events as record batches with exactly ``EVENT_SCHEMA``, in stream order.

    Each batch holds at most ``config.batch_rows_max`` rows and never spans
    two days.
    """
    run = BankRun.start(config)
    seq = 0
    for index in range(config.days):
        chunk = run.simulate_day(index)
        for first in range(0, len(chunk), config.batch_rows_max):
            part = chunk.take(slice(first, first + config.batch_rows_max))
            yield to_record_batch(run.population, part, seq)
            seq += len(part)


def iter_events(config: BankConfig) -> Iterator[RiskEvent]:
    """The run's events one by one, for small runs and tests (about a microsecond each)."""
    for batch in generate(config):
        for row in batch.to_pylist():
            yield RiskEvent(**row)


def to_record_batch(population: Population, chunk: EventChunk, seq_first: int) -> pa.RecordBatch:
    """Codes to strings: every string column is a ``take`` from a prepared array, done in Arrow."""
    parties, n = population.parties, len(chunk)
    columns = {
        "seq": pa.array(np.arange(seq_first, seq_first + n, dtype=np.int64)),
        "ts_ms": pa.array(chunk.ts_ms),
        "payer": parties.ids.take(pa.array(chunk.payer)),
        "payee": parties.ids.take(pa.array(chunk.payee)),
        "payee_kind": PAYEE_KIND_VOCABULARY.take(pa.array(parties.kind[chunk.payee])),
        "kind": KIND_VOCABULARY.take(pa.array(chunk.kind)),
        "amount_minor": pa.array(chunk.amount_minor),
        "currency": CURRENCY_VOCABULARY.take(pa.array(np.zeros(n, dtype=np.int8))),
        "mcc": MCC_VOCABULARY.take(pa.array(parties.mcc[chunk.payee])),
        "device": population.devices.ids.take(pa.array(chunk.device)),
        "lat": pa.array(chunk.lat),
        "lon": pa.array(chunk.lon),
        "country": COUNTRY_VOCABULARY.take(pa.array(parties.country[chunk.payee])),
        "channel": CHANNEL_VOCABULARY.take(pa.array(chunk.channel)),
        "segment": SEGMENT_VOCABULARY.take(pa.array(parties.segment[chunk.payer])),
        "label": pa.array((chunk.scenario != 0).astype(np.int8)),
        "scenario": SCENARIO_VOCABULARY.take(pa.array(chunk.scenario)),
    }
    return pa.RecordBatch.from_arrays([columns[name] for name in EVENT_COLUMNS], schema=EVENT_SCHEMA)
