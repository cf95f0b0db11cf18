"""The early-warning rule: an entity's recent sentiment falls sharply below its own baseline.

For an entity and a moment ``as_of`` (the newest item about it):

- recent window: ``(as_of - recent_hours, as_of]``; baseline window: the
  ``baseline_days`` before it;
- baseline: the mean sentiment of the baseline window, or
  ``baseline_default`` when it holds fewer than ``baseline_items_min`` items;
- a warning is raised when the recent window holds at least
  ``recent_items_min`` items, ``baseline - recent >= drop_min`` and
  ``recent <= recent_max``, unless an open warning for the entity was raised
  within the last recent window (one open warning per entity per window).

Every threshold is in ``config/default.yaml`` or a YAML file of the same
shape; the rule itself is pure and takes the clock's reading as an argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from netfin.aml.news.errors import NewsConfigInvalid
from netfin.aml.news.model import (
    WARNING_ITEMS_MAX,
    EarlyWarning,
    EntityKind,
    SentimentPoint,
)
from netfin.core import yamltext
from netfin.core.clock import NS_PER_SECOND

DEFAULT_CONFIG_PATH = Path(__file__).with_name("config") / "default.yaml"
RECENT_HOURS_MAX = 24 * 30
BASELINE_DAYS_MAX = 365
ITEMS_MIN_MAX = 10_000


@dataclass(frozen=True, slots=True)
class WarningConfig:
    version: str
    recent_hours: int = 24
    baseline_days: int = 30
    recent_items_min: int = 3
    baseline_items_min: int = 5
    baseline_default: float = 0.0
    drop_min: float = 0.4
    recent_max: float = -0.2
    match_score_min: float = 0.9

    def __post_init__(self) -> None:
        checks = (
            (bool(self.version) and len(self.version) <= 80, "version must be 1 to 80 characters"),
            (1 <= self.recent_hours <= RECENT_HOURS_MAX, f"recent_hours must lie in [1, {RECENT_HOURS_MAX}]"),
            (1 <= self.baseline_days <= BASELINE_DAYS_MAX, f"baseline_days must be 1 to {BASELINE_DAYS_MAX}"),
            (1 <= self.recent_items_min <= ITEMS_MIN_MAX, "recent_items_min must be at least 1"),
            (1 <= self.baseline_items_min <= ITEMS_MIN_MAX, "baseline_items_min must be at least 1"),
            (-1.0 <= self.baseline_default <= 1.0, "baseline_default must lie in [-1, 1]"),
            (0.0 < self.drop_min <= 2.0, "drop_min must lie in (0, 2]"),
            (-1.0 <= self.recent_max <= 1.0, "recent_max must lie in [-1, 1]"),
            (0.0 <= self.match_score_min <= 1.0, "match_score_min must lie in [0, 1]"),
        )  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise NewsConfigInvalid(message)

    @property
    def recent_ns(self) -> int:
        return self.recent_hours * 3_600 * NS_PER_SECOND

    @property
    def baseline_ns(self) -> int:
        return self.baseline_days * 86_400 * NS_PER_SECOND


_INTS = ("recent_hours", "baseline_days", "recent_items_min", "baseline_items_min")
_FLOATS = ("baseline_default", "drop_min", "recent_max", "match_score_min")


def config_from_mapping(raw: dict[str, Any]) -> WarningConfig:
    unknown = set(raw) - {"version", *_INTS, *_FLOATS}
    if unknown:
        raise NewsConfigInvalid(f"unknown settings: {sorted(unknown)}")
    if not isinstance(raw.get("version"), str):
        raise NewsConfigInvalid("the configuration needs a version")
    values: dict[str, Any] = {"version": raw["version"]}
    for key in _INTS:
        if key in raw:
            if isinstance(raw[key], bool) or not isinstance(raw[key], int):
                raise NewsConfigInvalid(f"{key} must be an integer")
            values[key] = raw[key]
    for key in _FLOATS:
        if key in raw:
            if isinstance(raw[key], bool) or not isinstance(raw[key], int | float):
                raise NewsConfigInvalid(f"{key} must be a number")
            values[key] = float(raw[key])
    return WarningConfig(**values)


def load_config(path: Path | str | None = None) -> WarningConfig:
    """The configuration in ``path``, or the packaged default."""
    chosen = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    try:
        raw = yamltext.safe_load(chosen.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise NewsConfigInvalid(f"cannot read {chosen}: {error}") from error
    if not isinstance(raw, dict):
        raise NewsConfigInvalid(f"{chosen} must hold a mapping of settings")
    return config_from_mapping(raw)


@dataclass(frozen=True, slots=True)
class Assessment:
    """The two windows' means and counts at one moment, whether or not they warrant a warning."""

    as_of_ns: int
    window_start_ns: int
    baseline: float
    recent: float
    recent_items: int
    baseline_items: int
    recent_item_ids: tuple[str, ...]

    @property
    def drop(self) -> float:
        return self.baseline - self.recent


def assess(points: Sequence[SentimentPoint], as_of_ns: int, config: WarningConfig) -> Assessment | None:
    """The windows' statistics at ``as_of_ns``; None when the recent window is empty."""
    recent_start = as_of_ns - config.recent_ns
    baseline_start = recent_start - config.baseline_ns
    recent = [p for p in points if recent_start < p.published_ns <= as_of_ns]
    baseline = [p for p in points if baseline_start < p.published_ns <= recent_start]
    if not recent:
        return None
    base = (
        sum(p.value for p in baseline) / len(baseline)
        if len(baseline) >= config.baseline_items_min
        else config.baseline_default
    )
    worst_first = sorted(recent, key=lambda p: (p.value, -p.published_ns, p.item_id))
    return Assessment(
        as_of_ns=as_of_ns,
        window_start_ns=recent_start,
        baseline=base,
        recent=sum(p.value for p in recent) / len(recent),
        recent_items=len(recent),
        baseline_items=len(baseline),
        recent_item_ids=tuple(p.item_id for p in worst_first[:WARNING_ITEMS_MAX]),
    )


def warrants_warning(assessment: Assessment, config: WarningConfig) -> bool:
    """The rule, on its own: enough recent items, a large enough drop, a negative enough mean."""
    # A tiny tolerance keeps a drop that equals drop_min in decimal from failing in binary.
    return (
        assessment.recent_items >= config.recent_items_min
        and assessment.drop >= config.drop_min - 1e-9
        and assessment.recent <= config.recent_max + 1e-9
    )


def evaluate(
    *,
    warning_id: str,
    entity_id: str,
    entity_kind: EntityKind,
    points: Sequence[SentimentPoint],
    as_of_ns: int,
    config: WarningConfig,
    open_raised_ns: int | None,
) -> EarlyWarning | None:
    """A new warning for the entity at ``as_of_ns``, or None (no drop, or one is already open)."""
    if open_raised_ns is not None and open_raised_ns > as_of_ns - config.recent_ns:
        return None
    assessment = assess(points, as_of_ns, config)
    if assessment is None or not warrants_warning(assessment, config):
        return None
    return EarlyWarning(
        warning_id=warning_id,
        entity_id=entity_id,
        entity_kind=entity_kind,
        raised_ns=as_of_ns,
        window_start_ns=assessment.window_start_ns,
        window_end_ns=as_of_ns,
        baseline=round(assessment.baseline, 6),
        recent=round(assessment.recent, 6),
        drop=round(assessment.drop, 6),
        recent_items=assessment.recent_items,
        baseline_items=assessment.baseline_items,
        item_ids=assessment.recent_item_ids,
        config_version=config.version,
    )
