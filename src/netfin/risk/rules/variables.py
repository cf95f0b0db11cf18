"""The names a rule may read, and their types: the contract between rules and features.

Rules are checked against this set when they load, so a typo in a variable
name fails the deployment of a rule set instead of silently never firing.
The feature engine owns the values; this module owns only the names and
types. A caller with more features passes its own mapping to the loader
(``DEFAULT_VARIABLES | {"new_feature": float}``) without editing this file.

The label and the simulator's scenario are deliberately absent: a rule that
could read the answer would backtest perfectly and be useless in production.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from netfin.risk.events import RiskEvent
from netfin.risk.features.catalogue import FeatureConfig

# China Standard Time has no daylight saving: local hour is UTC + 8 all year.
_LOCAL_TIME = FeatureConfig()  # one definition of the bank's local time, the features'

EVENT_VARIABLES: Mapping[str, type] = MappingProxyType(
    {
        "payer": str,
        "payee": str,
        "payee_kind": str,
        "kind": str,
        "amount_minor": int,
        "currency": str,
        "mcc": str,
        "device": str,
        "lat": float,
        "lon": float,
        "country": str,
        "channel": str,
        "segment": str,
        "hour": int,
    }
)


def _window_features() -> dict[str, type]:
    """The windowed counters, spelled out from the windows each one is defined on."""
    windows: dict[str, tuple[str, ...]] = {
        "payer_count": ("1m", "1h", "24h", "30d"),
        "payer_sum": ("1m", "1h", "24h", "30d"),
        "payer_distinct_payees": ("1h", "24h", "30d"),
        "payer_small_merchant_count": ("1m", "1h"),
        "device_count": ("1h", "24h"),
        "device_distinct_payers": ("24h", "30d"),
        "payee_count": ("1h", "24h"),
        "payee_sum": ("1h", "24h"),
        "payee_distinct_payers": ("1h", "24h"),
    }
    return {f"{stem}_{window}": int for stem, spans in windows.items() for window in spans}


FEATURE_VARIABLES: Mapping[str, type] = MappingProxyType(
    _window_features()
    | {
        "amount_z": float,
        "payer_history_count": int,
        "first_time_payee": bool,
        "new_device": bool,
        "rare_hour": bool,
        "hour_share": float,
        "geo_speed_kmh": float,
        "geo_distance_km": float,
        "payer_age_days": float,
        "payee_outflow_ratio_24h": float,
        "payer_fanin_24h": int,
        "payer_inflow_24h": int,
    }
)

DEFAULT_VARIABLES: Mapping[str, type] = MappingProxyType(dict(EVENT_VARIABLES) | dict(FEATURE_VARIABLES))


def local_hour(ts_ms: int) -> int:
    """The hour of day (0-23) in China time, which is what "night" means to the bank's customers."""
    return _LOCAL_TIME.local_hour(ts_ms)


def event_variables(event: RiskEvent) -> dict[str, object]:
    """The event's own fields as rule variables; the caller adds the behavioural features."""
    values: dict[str, object] = {name: getattr(event, name) for name in EVENT_VARIABLES if name != "hour"}
    values["hour"] = local_hour(event.ts_ms)
    return values
