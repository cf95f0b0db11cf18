"""Amount, frequency and hour-of-day distributions, calibrated on PaySim's tables from real mobile-money logs.

PaySim (Lopez-Rojas et al., 2016) published aggregate parameters taken from a
month of a real mobile-money service. Two of its tables drive this simulator:

``paysim_aggregatedTransactions.csv``
    count, sum, mean and standard deviation of amounts for each action and
    each hour of each day. Summed over the month they give each action's
    **hour-of-day profile** (share of the day's events in each hour) and its
    **amount scale** (pooled mean and coefficient of variation).
``paysim_clientsProfiles.csv``
    for each action, bands of "transactions per client per month" with the
    share of clients in the band and their average amount. They give the
    **heterogeneity between customers**: a customer draws one band per action,
    which sets how much more (or less) often than average they use it and
    how large their amounts are relative to the average. (PaySim's header
    names ``maxCount,minCount`` in that order, but the rows hold the lower
    bound first; we take the smaller as the lower bound.)

How PaySim's actions map onto our event kinds (``KIND_ACTION``):

=============  ==================  ==============================================
PaySim action  our kinds           why
=============  ==================  ==============================================
PAYMENT        purchase, bill      paying a merchant or a biller from the wallet
TRANSFER       p2p, cross_border,  moving money to another account holder
               other (business
               to business)
CASH_IN        top_up              money into the wallet from outside it
CASH_OUT       cash_out            money out of the wallet to a card or agent
DEBIT          bnpl_repayment      a pull from the wallet by a lender
=============  ==================  ==============================================

PaySim's DEPOSIT row (one band for the bank's own deposits) has no customer
counterpart and is ignored. Salaries and rent are not in PaySim; their
amounts are built in (see ``population``).

**Scale.** We read one PaySim amount unit as one fen (``PAYSIM_UNIT_MINOR``).
That puts PaySim's mean PAYMENT (12,807 units) at 128 CNY, close to a typical
Chinese mobile purchase, its CASH_IN/CASH_OUT means at about 1,700 CNY and its
TRANSFER mean at about 8,700 CNY, a plausible remittance. One factor for all
actions keeps PaySim's ratios between actions. ``KIND_SCALE`` then adjusts
kinds whose Chinese habits differ from the source market: most P2P transfers
in China are small (splitting a bill, a red packet), so P2P is 5% of
TRANSFER; a BNPL repayment settles a month of purchases, so it is 8 DEBITs.

**Defaults.** When the PaySim directory is absent the module falls back to
``default_calibration()``: a hand-drawn diurnal curve (quiet from 2 to 6,
an evening peak) and round amounts of the same order as PaySim's. These are
our own guesses, not derived from data, and ``Calibration.source`` says
``"defaults"`` so a report can tell.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pa_csv

from netfin.core.errors import ConfigurationError
from netfin.risk.events import EventKind

AGGREGATED_FILE = "paysim_aggregatedTransactions.csv"
PROFILES_FILE = "paysim_clientsProfiles.csv"
PAYSIM_UNIT_MINOR = 1  # one PaySim amount unit is read as one fen (see the module docstring)
HOURS = 24
# A customer in PaySim's busiest band transfers thousands of times a month:
# an agent, not a person. Capping the frequency multiplier keeps a handful of
# such draws from dominating a small population.
FREQUENCY_MULTIPLIER_MAX = 30.0
EVENT_SIGMA_MIN = 0.1  # a floor so amounts never collapse onto the mean


class PaySimAction(enum.StrEnum):
    CASH_IN = "CASH_IN"
    CASH_OUT = "CASH_OUT"
    DEBIT = "DEBIT"
    PAYMENT = "PAYMENT"
    TRANSFER = "TRANSFER"


KIND_ACTION: Mapping[EventKind, PaySimAction] = {
    EventKind.PURCHASE: PaySimAction.PAYMENT,
    EventKind.BILL: PaySimAction.PAYMENT,
    EventKind.P2P: PaySimAction.TRANSFER,
    EventKind.CROSS_BORDER: PaySimAction.TRANSFER,
    EventKind.OTHER: PaySimAction.TRANSFER,
    EventKind.TOP_UP: PaySimAction.CASH_IN,
    EventKind.CASH_OUT: PaySimAction.CASH_OUT,
    EventKind.BNPL_REPAYMENT: PaySimAction.DEBIT,
}

# Our kind's mean amount relative to its PaySim action's mean (see the module docstring).
KIND_SCALE: Mapping[EventKind, float] = {
    EventKind.PURCHASE: 1.0,
    EventKind.BILL: 1.0,
    EventKind.P2P: 0.05,
    EventKind.CROSS_BORDER: 1.0,
    EventKind.OTHER: 0.5,
    EventKind.TOP_UP: 1.0,
    EventKind.CASH_OUT: 1.0,
    EventKind.BNPL_REPAYMENT: 8.0,
}

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class ActionProfile:
    """One PaySim action: when it happens, how large it is, how unevenly customers use it.

    ``band_level`` is each band's average amount divided by the share-weighted
    average, so a customer's level has mean 1 across the population and the
    action's mean amount is preserved.
    """

    action: PaySimAction
    hour_share: F64
    mean_minor: int
    spread_cv: float
    band_count_low: I64
    band_count_high: I64
    band_share: F64
    band_level: F64

    @property
    def event_sigma(self) -> float:
        """The log-normal sigma of one event's amount around the customer's level.

        PaySim's pooled coefficient of variation covers both the spread between
        customers (their band levels) and within one customer. Taking the
        between-customer part out keeps the stream's overall spread at
        PaySim's instead of compounding the two.
        """
        total = math.log1p(self.spread_cv**2)
        between = math.log(float_sum(self.band_share * self.band_level**2))
        return math.sqrt(max(total - between, EVENT_SIGMA_MIN**2))

    @property
    def mean_count(self) -> float:
        """The share-weighted mean monthly count across bands (uniform within a band)."""
        return float_sum(self.band_share * (self.band_count_low + self.band_count_high) / 2)


@dataclass(frozen=True, slots=True, eq=False)
class Calibration:
    """All actions' profiles and where they came from (``"paysim:<dir>"`` or ``"defaults"``)."""

    source: str
    actions: Mapping[PaySimAction, ActionProfile]

    def of_kind(self, kind: EventKind) -> ActionProfile:
        return self.actions[KIND_ACTION[kind]]

    def mean_minor(self, kind: EventKind) -> int:
        """The mean amount of ``kind`` in fen: the action's PaySim mean times the kind's scale."""
        return max(1, round(self.of_kind(kind).mean_minor * KIND_SCALE[kind]))


def float_sum(values: F64) -> float:
    """A numpy sum as a Python float (numpy scalars would leak into mypy's view of the API)."""
    total: float = np.sum(values).item()
    return total


def load_calibration(directory: Path | None) -> Calibration:
    """PaySim's tables from ``directory``, or the documented defaults when it is ``None`` or absent.

    A directory that exists but lacks a file, or holds one we cannot read, is
    a broken installation and raises ``ConfigurationError`` rather than
    quietly simulating with different numbers.
    """
    if directory is None or not directory.is_dir():
        return default_calibration()
    for name in (AGGREGATED_FILE, PROFILES_FILE):
        if not (directory / name).is_file():
            raise ConfigurationError(f"PaySim calibration file {name} missing in {directory}")
    try:
        aggregated = pa_csv.read_csv(directory / AGGREGATED_FILE)
        profiles = pa_csv.read_csv(directory / PROFILES_FILE)
    except (pa.ArrowInvalid, OSError) as error:
        raise ConfigurationError(f"cannot read PaySim calibration in {directory}: {error}") from error
    actions = {action: _paysim_profile(action, aggregated, profiles) for action in PaySimAction}
    return Calibration(f"paysim:{directory}", actions)


def _paysim_profile(action: PaySimAction, aggregated: pa.Table, profiles: pa.Table) -> ActionProfile:
    rows = _rows_of(aggregated, action, ("hour", "count", "sum", "avg", "std"))
    hours = rows["hour"].astype(np.int64)
    counts = rows["count"]
    if hours.size == 0 or counts.sum() <= 0 or hours.min() < 0 or hours.max() >= HOURS:
        raise ConfigurationError(f"PaySim aggregated table has no usable rows for {action}")
    by_hour = np.bincount(hours, weights=counts, minlength=HOURS)
    n = counts.sum()
    mean = rows["sum"].sum() / n
    second_moment = ((counts - 1) * rows["std"] ** 2 + counts * rows["avg"] ** 2).sum() / n
    spread = math.sqrt(max(second_moment - mean**2, 0.0)) / mean
    bands = _rows_of(profiles, action, ("minCount", "maxCount", "averageAmount", "freq"))
    if bands["freq"].size == 0 or bands["freq"].sum() <= 0:
        raise ConfigurationError(f"PaySim client profiles have no bands for {action}")
    low = np.minimum(bands["minCount"], bands["maxCount"]).astype(np.int64)
    high = np.maximum(bands["minCount"], bands["maxCount"]).astype(np.int64)
    share = bands["freq"] / bands["freq"].sum()
    level = bands["averageAmount"] / np.sum(share * bands["averageAmount"])
    return ActionProfile(
        action=action,
        hour_share=by_hour / by_hour.sum(),
        mean_minor=round(mean.item() * PAYSIM_UNIT_MINOR),
        spread_cv=spread,
        band_count_low=low,
        band_count_high=high,
        band_share=share,
        band_level=level,
    )


def _rows_of(table: pa.Table, action: PaySimAction, columns: tuple[str, ...]) -> dict[str, F64]:
    """The named numeric columns of ``table``'s rows for ``action``, as float64 arrays."""
    missing = [c for c in ("action", *columns) if c not in table.column_names]
    if missing:
        raise ConfigurationError(f"PaySim table lacks columns {missing}")
    mask = np.asarray(table.column("action").to_pylist(), dtype=object) == action.value
    return {c: np.asarray(table.column(c).to_numpy(), dtype=np.float64)[mask] for c in columns}


# Hand-drawn weights for the defaults: quiet from 2 to 6, rising through the day, an evening peak.
DEFAULT_HOUR_WEIGHTS = (
    30, 12, 5, 2, 1, 1, 4, 15, 35, 45, 45, 50,
    55, 60, 65, 65, 70, 75, 85, 95, 95, 85, 70, 50,
)  # fmt: skip
# (mean amount in fen, coefficient of variation) per action: round numbers of PaySim's order, not data.
DEFAULT_SCALES: Mapping[PaySimAction, tuple[int, float]] = {
    PaySimAction.CASH_IN: (150_000, 0.8),
    PaySimAction.CASH_OUT: (150_000, 0.8),
    PaySimAction.DEBIT: (5_000, 2.0),
    PaySimAction.PAYMENT: (10_000, 1.0),
    PaySimAction.TRANSFER: (800_000, 2.0),
}
# Monthly-count bands and their shares: most customers use an action once or twice a month.
DEFAULT_BANDS = ((1, 1, 0.5), (2, 4, 0.3), (5, 9, 0.15), (10, 30, 0.05))


def default_calibration() -> Calibration:
    """The built-in calibration used when PaySim's tables are absent (our guesses; see the docstring)."""
    weights = np.asarray(DEFAULT_HOUR_WEIGHTS, dtype=np.float64)
    low = np.asarray([b[0] for b in DEFAULT_BANDS], dtype=np.int64)
    high = np.asarray([b[1] for b in DEFAULT_BANDS], dtype=np.int64)
    share = np.asarray([b[2] for b in DEFAULT_BANDS], dtype=np.float64)
    actions = {
        action: ActionProfile(
            action=action,
            hour_share=weights / weights.sum(),
            mean_minor=mean,
            spread_cv=spread,
            band_count_low=low,
            band_count_high=high,
            band_share=share / share.sum(),
            band_level=np.ones_like(share),
        )
        for action, (mean, spread) in DEFAULT_SCALES.items()
    }
    return Calibration("defaults", actions)
