"""The feature catalogue: one declarative definition read by the online and the offline engines.

A *window feature* aggregates the events of one entity (the payer, the
payer's device, the payee) over a sliding time window. Its meaning is fixed
here, once:

    for an event e, the window holds every event e' of the same entity with
    seq(e') <= seq(e) (e itself included) and ts(e') > ts(e) - span.

The stream order is ``seq``; timestamps never decrease along it. A *history
feature* compares e with the payer's own earlier events (e excluded) that
are still retained: the retention is the longest window (30 days), and a
payer idle for longer than that starts again from nothing, online and
offline alike.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

SPANS_MS: dict[str, int] = {"1m": MINUTE_MS, "1h": HOUR_MS, "24h": DAY_MS, "30d": 30 * DAY_MS}
RETENTION_MS = SPANS_MS["30d"]


class Entity(enum.StrEnum):
    PAYER = "payer"
    DEVICE = "device"
    PAYEE = "payee"


class Aggregate(enum.StrEnum):
    COUNT = "count"
    SUM = "sum"  # of amount_minor
    DISTINCT = "distinct"  # distinct counterparties
    SMALL_MERCHANT_COUNT = "small_merchant_count"  # merchant payments at or under the small amount


@dataclass(frozen=True, slots=True)
class WindowFeature:
    name: str
    entity: Entity
    aggregate: Aggregate
    window: str  # a key of SPANS_MS

    @property
    def span_ms(self) -> int:
        return SPANS_MS[self.window]


def _windows(
    prefix: str, entity: Entity, aggregate: Aggregate, windows: tuple[str, ...]
) -> list[WindowFeature]:
    return [WindowFeature(f"{prefix}_{w}", entity, aggregate, w) for w in windows]


WINDOW_FEATURES: tuple[WindowFeature, ...] = tuple(
    _windows("payer_count", Entity.PAYER, Aggregate.COUNT, ("1m", "1h", "24h", "30d"))
    + _windows("payer_sum", Entity.PAYER, Aggregate.SUM, ("1m", "1h", "24h", "30d"))
    + _windows("payer_distinct_payees", Entity.PAYER, Aggregate.DISTINCT, ("1h", "24h", "30d"))
    + _windows("payer_small_merchant_count", Entity.PAYER, Aggregate.SMALL_MERCHANT_COUNT, ("1m", "1h"))
    + _windows("device_count", Entity.DEVICE, Aggregate.COUNT, ("1h", "24h"))
    + _windows("device_distinct_payers", Entity.DEVICE, Aggregate.DISTINCT, ("24h", "30d"))
    + _windows("payee_count", Entity.PAYEE, Aggregate.COUNT, ("1h", "24h"))
    + _windows("payee_sum", Entity.PAYEE, Aggregate.SUM, ("1h", "24h"))
    + _windows("payee_distinct_payers", Entity.PAYEE, Aggregate.DISTINCT, ("1h", "24h"))
)

# History features: the payer's own retained past (see the module docstring).
HISTORY_FEATURES: tuple[str, ...] = (
    "amount_z",  # robust z-score of the amount against the payer's recent amounts
    "payer_history_count",  # how many amounts the z-score used
    "first_time_payee",  # no retained payment to this payee
    "new_device",  # no retained payment from this device
    "hour_share",  # share of retained payments in this local hour, +-1 hour
    "rare_hour",  # enough history and hour_share under the rare share
    "geo_distance_km",  # from the payer's previous located payment
    "geo_speed_kmh",  # that distance over the time between them
    "payer_age_days",  # since the start of the payer's current retained activity
)

# Cross-entity: how much of what the payee received in 24 h it already paid out; and what the
# payer itself received in 24 h (up to this event), from how many distinct payers: a mule
# cashing out has just been paid by many.
FLOW_FEATURES: tuple[str, ...] = ("payee_outflow_ratio_24h", "payer_fanin_24h", "payer_inflow_24h")

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in WINDOW_FEATURES) + HISTORY_FEATURES + FLOW_FEATURES
BOOLEAN_FEATURES: frozenset[str] = frozenset({"first_time_payee", "new_device", "rare_hour"})


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """Parameters of the definitions; online and offline must be given the same one."""

    small_merchant_max_minor: int = 500  # card testing probes with tiny amounts
    z_history_max: int = 50  # the z-score reads at most this many recent amounts
    z_history_min: int = 5  # and needs at least this many
    z_limit: float = 50.0  # |z| is clipped here
    rare_hour_share: float = 0.05
    rare_hour_history_min: int = 10
    utc_offset_hours: int = 8  # the bank's local time (China Standard Time by default)
    speed_floor_minutes: int = 1  # time deltas under this count as this much for geo-speed

    def local_hour(self, ts_ms: int) -> int:
        return (ts_ms // HOUR_MS + self.utc_offset_hours) % 24


def variable_types() -> dict[str, type]:
    """Each feature's type, for rule validation (window and flow features are numbers)."""
    types: dict[str, type] = {name: float for name in FEATURE_NAMES}
    for name in BOOLEAN_FEATURES:
        types[name] = bool
    for feature in WINDOW_FEATURES:
        types[feature.name] = int
    types["payer_history_count"] = int
    types["payer_fanin_24h"] = int
    types["payer_inflow_24h"] = int
    return types
