"""Dynamic limit policy: the risk signals of the last weeks move a customer's limit within a band.

Pure: ``LimitPolicy.propose`` reads a customer's ``Signals`` (decisions by
action, the mean fraud score, analysts' labels, how long the customer has
been active) and the current limit, and returns the new limit with the
reasons, or None when it stays. The band's floor and ceiling are never
crossed; every step is a fixed share of the current limit, in integer
minor units. Whoever applies the change records it (``risk_limit_changes``)
and audits it.
"""

from __future__ import annotations

from dataclasses import dataclass

from netfin.core.errors import InvalidInput

BPS = 10_000


@dataclass(frozen=True, slots=True)
class Signals:
    decisions: int
    step_ups: int
    reviews: int
    declines: int
    mean_score: float | None
    confirmed_frauds: int
    false_positives: int
    active_days: float


@dataclass(frozen=True, slots=True)
class LimitBand:
    """Where one limit may move: floor and ceiling (minor units) and the step sizes."""

    floor_minor: int
    ceiling_minor: int
    raise_bps: int = 1_000  # +10% of the current limit
    lower_bps: int = 2_500  # -25%

    def __post_init__(self) -> None:
        if not 0 <= self.floor_minor <= self.ceiling_minor:
            raise InvalidInput("a limit band needs 0 <= floor <= ceiling", code="limit_band_invalid")
        if not 0 < self.raise_bps <= BPS or not 0 < self.lower_bps <= BPS:
            raise InvalidInput("limit steps must be 1..10000 basis points", code="limit_band_invalid")


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    clean_decisions_min: int = 20  # a raise needs this much clean history
    clean_days_min: float = 30.0
    clean_score_max: float = 0.02
    elevated_score: float = 0.20
    reviews_max: int = 1  # more reviews than this lower the limit

    def propose(self, signals: Signals, current_minor: int, band: LimitBand) -> tuple[int, list[str]] | None:
        """The new limit and why, or None when the evidence leaves it where it is."""
        reasons: list[str] = []
        if signals.confirmed_frauds:
            reasons.append("confirmed_fraud")
            target = band.floor_minor
        else:
            if signals.declines:
                reasons.append("recent_declines")
            if signals.reviews > self.reviews_max:
                reasons.append("recent_reviews")
            if signals.mean_score is not None and signals.mean_score >= self.elevated_score:
                reasons.append("elevated_score")
            if reasons:
                target = current_minor * (BPS - band.lower_bps) // BPS
            elif self._clean(signals):
                reasons.append("clean_history")
                target = current_minor * (BPS + band.raise_bps) // BPS
            else:
                return None
        target = max(band.floor_minor, min(band.ceiling_minor, target))
        return None if target == current_minor else (target, reasons)

    def _clean(self, s: Signals) -> bool:
        return (
            s.decisions >= self.clean_decisions_min
            and s.step_ups == s.reviews == s.declines == 0
            and s.active_days >= self.clean_days_min
            and s.mean_score is not None
            and s.mean_score <= self.clean_score_max
        )
