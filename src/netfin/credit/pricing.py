"""Loan pricing: a base rate, a risk premium by grade, and a green adjustment inside a band.

Pure. ``price(product, grade, esg)`` returns the annual rate with the reasons
that moved it, each a code with the basis points it added or took away, so an
offer and the decision record can show the customer why the rate is what it is.

Green pricing (G2): an ``EsgEvidence`` (an ESG score 0..100 from a rating the
bank accepts, and/or the borrower's carbon intensity against its sector's
benchmark) moves the rate within ``[green.discount_bps_max, green.surcharge_bps_max]``:

- score: ``(score - neutral_score) / (100 - neutral_score)`` of the maximum discount
  above the neutral score, the same share of the maximum surcharge below it;
- carbon: intensity at or below ``benchmark × (1 - cut_for_full)`` earns the
  full discount, above the benchmark the surcharge grows with the excess up to
  ``excess_for_full``;
- both: the mean of the two adjustments; none: no adjustment, and the reasons say so.

Every adjustment is an integer number of basis points (rounded half-even) and
the final rate never leaves ``[rate_floor, rate_ceiling]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from netfin.core.errors import InvalidInput

BPS = Decimal(10_000)
SCORE_MAX = Decimal(100)


@dataclass(frozen=True, slots=True)
class EsgEvidence:
    """What the bank knows of a borrower's environmental footprint."""

    score: Decimal | None = None  # 0..100, higher is greener
    carbon_intensity: Decimal | None = None  # e.g. tCO2e per CNY million of revenue
    sector_benchmark: Decimal | None = None  # the sector's intensity, same unit
    source: str = ""  # the rating or the carbon account it came from

    def __post_init__(self) -> None:
        if self.score is not None and not Decimal(0) <= self.score <= SCORE_MAX:
            raise InvalidInput("an ESG score lies between 0 and 100", code="esg_score_invalid")
        if (self.carbon_intensity is None) != (self.sector_benchmark is None):
            raise InvalidInput(
                "carbon intensity needs its sector benchmark (and the other way round)",
                code="esg_carbon_incomplete",
            )
        if self.carbon_intensity is not None and self.sector_benchmark is not None:
            if self.carbon_intensity < 0 or self.sector_benchmark <= 0:
                raise InvalidInput(
                    "carbon intensity must be >= 0 and its benchmark > 0", code="esg_carbon_invalid"
                )


@dataclass(frozen=True, slots=True)
class GreenBand:
    discount_bps_max: int = 50  # the greenest borrowers pay up to 0.50 pp less
    surcharge_bps_max: int = 30  # the most carbon-intensive up to 0.30 pp more
    neutral_score: Decimal = Decimal(50)
    cut_for_full: Decimal = Decimal("0.30")  # 30 % below the benchmark earns the whole discount
    excess_for_full: Decimal = Decimal("1.00")  # twice the benchmark bears the whole surcharge

    def __post_init__(self) -> None:
        if not 0 <= self.discount_bps_max <= 500 or not 0 <= self.surcharge_bps_max <= 500:
            raise InvalidInput("the green band is at most 500 bps either way", code="green_band_invalid")
        if not Decimal(0) < self.neutral_score < SCORE_MAX:
            raise InvalidInput(
                "the neutral ESG score lies strictly between 0 and 100", code="green_band_invalid"
            )
        if not Decimal(0) < self.cut_for_full < 1 or self.excess_for_full <= 0:
            raise InvalidInput("the carbon thresholds must be positive fractions", code="green_band_invalid")


@dataclass(frozen=True, slots=True)
class PriceReason:
    code: str
    bps: int
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Price:
    annual_rate: Decimal
    reasons: tuple[PriceReason, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "annual_rate": str(self.annual_rate),
            "reasons": [{"code": r.code, "bps": r.bps, "detail": r.detail} for r in self.reasons],
        }


def _bps(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def green_adjustment(evidence: EsgEvidence | None, band: GreenBand) -> PriceReason:
    """The green move in basis points (negative is a discount) and why."""
    parts: list[Decimal] = []
    details: list[str] = []
    if evidence is not None and evidence.score is not None:
        score = evidence.score
        if score >= band.neutral_score:
            share = (score - band.neutral_score) / (SCORE_MAX - band.neutral_score)
            parts.append(-share * band.discount_bps_max)
        else:
            share = (band.neutral_score - score) / band.neutral_score
            parts.append(share * band.surcharge_bps_max)
        details.append(f"ESG score {score}")
    if evidence is not None and evidence.carbon_intensity is not None and evidence.sector_benchmark:
        ratio = evidence.carbon_intensity / evidence.sector_benchmark
        if ratio <= 1:
            share = min(Decimal(1), (1 - ratio) / band.cut_for_full)
            parts.append(-share * band.discount_bps_max)
        else:
            share = min(Decimal(1), (ratio - 1) / band.excess_for_full)
            parts.append(share * band.surcharge_bps_max)
        details.append(f"carbon intensity {ratio:.2f}x the sector benchmark")
    if not parts:
        return PriceReason("green_no_evidence", 0, "no ESG evidence: no green adjustment")
    bps = _bps(sum(parts, Decimal(0)) / len(parts))
    bps = max(-band.discount_bps_max, min(band.surcharge_bps_max, bps))
    code = "green_discount" if bps < 0 else "green_surcharge" if bps > 0 else "green_neutral"
    source = f" ({evidence.source})" if evidence is not None and evidence.source else ""
    return PriceReason(code, bps, "; ".join(details) + source)


@dataclass(frozen=True, slots=True)
class PricingPolicy:
    """A product's pricing: base rate, risk premium per grade, the green band, the bounds."""

    base_rate: Decimal
    premium_bps: dict[str, int]  # risk grade -> basis points over the base rate
    rate_floor: Decimal
    rate_ceiling: Decimal
    green: GreenBand | None = None

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.rate_floor <= self.base_rate <= self.rate_ceiling <= 1:
            raise InvalidInput("pricing needs 0 <= floor <= base <= ceiling <= 1", code="pricing_invalid")
        if not self.premium_bps:
            raise InvalidInput("pricing needs a premium for at least one grade", code="pricing_invalid")

    def price(self, grade: str, esg: EsgEvidence | None = None) -> Price:
        if grade not in self.premium_bps:
            raise InvalidInput(f"no price for risk grade {grade!r}", code="risk_grade_unknown")
        reasons = [PriceReason("base_rate", _bps(self.base_rate * BPS), "the product's base rate")]
        premium = self.premium_bps[grade]
        reasons.append(PriceReason("risk_premium", premium, f"risk grade {grade}"))
        if self.green is not None:
            reasons.append(green_adjustment(esg, self.green))
        rate = sum((Decimal(r.bps) for r in reasons), Decimal(0)) / BPS
        if rate < self.rate_floor or rate > self.rate_ceiling:
            bounded = min(max(rate, self.rate_floor), self.rate_ceiling)
            reasons.append(
                PriceReason(
                    "rate_bounded", _bps((bounded - rate) * BPS), "kept inside the product's rate bounds"
                )
            )
            rate = bounded
        return Price(rate, tuple(reasons))
