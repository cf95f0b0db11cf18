"""What a synthetic-bank run is: its size, its calendar, its fraud mix and where its calibration lives.

The configuration is a frozen value so a run can be named by it: the same
``BankConfig`` always yields the same event stream, byte for byte. Limits are
checked here, at the boundary, so the generator never has to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from netfin.core.errors import InvalidInput
from netfin.risk.events import Scenario

# China Standard Time has no daylight saving, so one fixed offset is exact.
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
CHINA_OFFSET_MS = 8 * HOUR_MS
CHINA_TZ = timezone(timedelta(milliseconds=CHINA_OFFSET_MS), "CST")
MINUTE_MS = 60_000

# 2026-01-05 00:00 in China (a Monday) as UTC epoch milliseconds.
START_MS_DEFAULT = int(datetime(2026, 1, 5, tzinfo=CHINA_TZ).timestamp()) * 1000

CUSTOMERS_MIN = 100  # below this the mule pools and friend graphs degenerate
CUSTOMERS_MAX = 10_000_000
DAYS_MAX = 366
BATCH_ROWS_MIN = 1_024
BATCH_ROWS_MAX = 4_194_304
MERCHANTS_MIN = 16  # at least one merchant for every category
MERCHANTS_MAX = 1_000_000
SCENARIO_RATE_MAX = 0.05  # a stream that is more than 5% one fraud teaches nothing real
NOISE_RATE_CODE = "noise_rate_out_of_range"
LARGE_NEW_PAYEE_YEARLY_MAX = 52.0  # more than one a week is a business, not a person


@dataclass(frozen=True, slots=True)
class ScenarioRates:
    """The target share of all events that each fraud scenario contributes.

    A share of events (rather than incidents per customer) is what a model
    builder reasons about: ``account_takeover=0.0006`` means about 6 in 10,000
    events in the stream are account-takeover payments. The generator turns it
    into a Poisson number of incidents per day using the expected number of
    legitimate events that day and the mean size of one incident. The defaults
    sum to 0.3%.
    """

    account_takeover: float = 0.0006
    card_testing: float = 0.0008
    app_scam: float = 0.0003
    mule_network: float = 0.0008
    synthetic_identity: float = 0.0005

    def __post_init__(self) -> None:
        for scenario in Scenario:
            if scenario is Scenario.NONE:
                continue
            rate = self.of(scenario)
            if not 0 <= rate <= SCENARIO_RATE_MAX:
                raise InvalidInput(
                    f"scenario rate {scenario.value}={rate} is outside [0, {SCENARIO_RATE_MAX}]",
                    code="scenario_rate_out_of_range",
                )

    def of(self, scenario: Scenario) -> float:
        """The configured share for ``scenario`` (0 for ``Scenario.NONE``)."""
        if scenario is Scenario.NONE:
            return 0.0
        rate: float = getattr(self, scenario.value)
        return rate

    @property
    def total(self) -> float:
        return sum(self.of(s) for s in Scenario)

    @classmethod
    def none(cls) -> ScenarioRates:
        """No fraud at all: a purely legitimate stream."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class NoiseRates:
    """How often legitimate customers do what a naive fraud model takes for fraud.

    Real customers change phones, borrow a tablet, pay a contractor a large
    first sum, work night shifts, travel and tap through a food court; without
    this noise the scenarios are separable by construction. Shares are per
    customer (or per event where named); ``large_new_payee_yearly`` is a count
    per person per year.
    """

    new_phone_daily: float = 0.0015  # customers who switch to a new phone that day (kept afterwards)
    occasional_device_owners: float = 0.3  # customers who also own a rarely used tablet or laptop
    occasional_device_use: float = 0.02  # share of an owner's device payments made on it
    large_new_payee_yearly: float = 3.0  # rent deposits, contractors, tuition, a used car, family support
    night_worker_share: float = 0.05  # persons on night shifts
    night_shift_use: float = 0.6  # share of a night worker's own-time payments moved to the night
    travel_daily: float = 0.025  # customers away from home (another city) that day
    burst_daily: float = 0.006  # persons tapping through a burst of small merchant payments that day

    def __post_init__(self) -> None:
        for name in (
            "new_phone_daily",
            "occasional_device_owners",
            "occasional_device_use",
            "night_worker_share",
            "night_shift_use",
            "travel_daily",
            "burst_daily",
        ):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise InvalidInput(
                    f"noise rate {name}={value} is outside [0, 1]", code="noise_rate_out_of_range"
                )
        if not 0 <= self.large_new_payee_yearly <= LARGE_NEW_PAYEE_YEARLY_MAX:
            raise InvalidInput(
                f"large_new_payee_yearly={self.large_new_payee_yearly} is outside "
                f"[0, {LARGE_NEW_PAYEE_YEARLY_MAX}]",
                code=NOISE_RATE_CODE,
            )

    @classmethod
    def none(cls) -> NoiseRates:
        """No legitimate noise: customers who never surprise a model (the old, separable bank)."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class BankConfig:
    """One synthetic-bank run.

    ``customers`` counts persons and small businesses together;
    ``business_share`` of them are businesses. ``merchants`` defaults to one
    per 40 customers (at least ``MERCHANTS_MIN``). ``start_ms`` must be a
    midnight in China time, because the behavioural hour profiles are local
    and each day is generated as one chunk from local midnight to midnight.
    ``calibration_dir`` is the PaySim parameter directory; ``None`` or a
    directory that does not exist selects the built-in defaults.
    ``batch_rows_max`` bounds each Arrow batch (and Parquet row group).
    ``noise`` sets how often legitimate customers look unusual.
    """

    seed: int = 7
    customers: int = 10_000
    business_share: float = 0.05
    merchants: int | None = None
    days: int = 30
    start_ms: int = START_MS_DEFAULT
    rates: ScenarioRates = field(default_factory=ScenarioRates)
    noise: NoiseRates = field(default_factory=NoiseRates)
    calibration_dir: Path | None = None
    batch_rows_max: int = 262_144

    def __post_init__(self) -> None:
        _check_range("seed", self.seed, 0, 2**63 - 1)
        _check_range("customers", self.customers, CUSTOMERS_MIN, CUSTOMERS_MAX)
        _check_range("days", self.days, 1, DAYS_MAX)
        _check_range("batch_rows_max", self.batch_rows_max, BATCH_ROWS_MIN, BATCH_ROWS_MAX)
        if self.merchants is not None:
            _check_range("merchants", self.merchants, MERCHANTS_MIN, MERCHANTS_MAX)
        if not 0 < self.business_share < 0.5:
            raise InvalidInput(
                f"business_share must be in (0, 0.5), got {self.business_share}",
                code="business_share_out_of_range",
            )
        if (self.start_ms + CHINA_OFFSET_MS) % DAY_MS != 0:
            raise InvalidInput(
                "start_ms must be a midnight in China Standard Time (UTC+8)", code="start_not_midnight"
            )

    @property
    def business_count(self) -> int:
        return max(2, round(self.customers * self.business_share))

    @property
    def person_count(self) -> int:
        return self.customers - self.business_count

    @property
    def merchant_count(self) -> int:
        if self.merchants is not None:
            return self.merchants
        return min(MERCHANTS_MAX, max(MERCHANTS_MIN, self.customers // 40))


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be in [{low}, {high}], got {value}", code=f"{name}_out_of_range")
