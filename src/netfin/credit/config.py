"""The credit profile (``profiles/products.yaml``): products, grades, decisions, the starter scorecard.

Loaded once, validated whole: an unknown key, a rate outside 0..1, a grade
without a decision or a product without a price is refused with the path of
the offending entry, so a bad edit never reaches a customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from netfin.core import yamltext
from netfin.core.errors import ConfigurationError
from netfin.core.money import Money
from netfin.credit.pricing import GreenBand, PricingPolicy
from netfin.credit.products import DayCount, Fee, FeeTiming, RepaymentMethod
from netfin.credit.servicing import Strategy

DEFAULT_PROFILE = Path(__file__).parent / "profiles" / "products.yaml"
DECISIONS = ("approve", "refer", "decline")
KINDS = ("instalment", "bnpl", "revolving")
PROFILE_BYTES_MAX = 1 << 20
REVOLVING_KEYS = ("limit_floor", "limit_ceiling", "min_payment_rate", "min_payment_floor")


@dataclass(frozen=True, slots=True)
class AttributeBins:
    name: str
    reason: str
    bins: tuple[tuple[int | None, int], ...]  # (exclusive upper bound or None, points)

    def points(self, value: int) -> int:
        for upper, points in self.bins:
            if upper is None or value < upper:
                return points
        raise ConfigurationError(
            f"attribute {self.name}: the last bin must be open", code="credit_profile_invalid"
        )

    @property
    def best(self) -> int:
        return max(points for _, points in self.bins)


@dataclass(frozen=True, slots=True)
class StarterScorecard:
    base_points: int
    attributes: tuple[AttributeBins, ...]


@dataclass(frozen=True, slots=True)
class Product:
    code: str
    kind: str
    name_en: str
    name_zh: str
    currency: str
    min_kyc_level: int
    amount_min: int
    amount_max_by_kyc: dict[int, int]
    penalty_rate: Decimal
    grace_days: int
    max_debt_to_income_bps: int
    terms_months: tuple[int, ...] = ()
    methods: tuple[RepaymentMethod, ...] = ()
    day_count: DayCount = DayCount.ACT_360
    fees: tuple[Fee, ...] = ()
    pricing: PricingPolicy | None = None
    instalments: tuple[int, ...] = ()
    merchant_fee_rate: Decimal = Decimal(0)
    allocation_order: tuple[str, ...] = ("fee", "penalty", "interest", "principal")
    allocation_strategy: Strategy = (
        "vertical"  # oldest instalment first; "horizontal": component by component
    )
    prepayment_fee_rate: Decimal = Decimal(0)
    limit_floor: int = 0  # revolving: where the risk engine may move the limit
    limit_ceiling: int = 0
    min_payment_rate: Decimal = Decimal(0)
    min_payment_floor: int = 0

    def amount_max(self, kyc_level: int) -> int:
        eligible = [amount for level, amount in self.amount_max_by_kyc.items() if level <= kyc_level]
        return max(eligible, default=0)


@dataclass(frozen=True, slots=True)
class CreditProfile:
    version: str
    currency: str
    grades: tuple[tuple[str, int], ...]  # (grade, min points), best first
    decisions: dict[str, str]
    starter: StarterScorecard
    products: dict[str, Product]

    def grade(self, points: int) -> str:
        for grade, floor in self.grades:
            if points >= floor:
                return grade
        return self.grades[-1][0]

    def product(self, code: str) -> Product:
        from netfin.core.errors import NotFound

        found = self.products.get(code)
        if found is None:
            raise NotFound(f"no credit product {code!r}", code="credit_product_unknown")
        return found


def _fail(where: str, what: str) -> ConfigurationError:
    return ConfigurationError(f"credit profile, {where}: {what}", code="credit_profile_invalid")


def _keys(where: str, data: Any, required: set[str], optional: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    if not isinstance(data, dict):
        raise _fail(where, "must be a mapping")
    missing, unknown = required - data.keys(), data.keys() - required - optional
    if missing or unknown:
        raise _fail(where, f"missing {sorted(missing)}, unknown {sorted(unknown)}")
    return data


def _rate(where: str, value: Any) -> Decimal:
    try:
        rate = Decimal(str(value))
    except InvalidOperation as exc:
        raise _fail(where, f"{value!r} is not a decimal rate") from exc
    if not Decimal(0) <= rate <= 1:
        raise _fail(where, f"rate {rate} is outside 0..1")
    return rate


def _int(where: str, value: Any, low: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise _fail(where, f"{value!r} must be an integer >= {low}")
    return value


def _pricing(where: str, data: Any) -> PricingPolicy:
    d = _keys(where, data, {"base_rate", "premium_bps", "rate_floor", "rate_ceiling"}, {"green"})
    green = None
    if "green" in d:
        g = _keys(
            f"{where}.green",
            d["green"],
            set(),
            {"discount_bps_max", "surcharge_bps_max", "neutral_score", "cut_for_full", "excess_for_full"},
        )
        values: dict[str, Any] = {k: (Decimal(str(v)) if isinstance(v, str) else v) for k, v in g.items()}
        green = GreenBand(**values)
    premiums = {str(k): _int(f"{where}.premium_bps.{k}", v) for k, v in dict(d["premium_bps"]).items()}
    return PricingPolicy(
        base_rate=_rate(f"{where}.base_rate", d["base_rate"]),
        premium_bps=premiums,
        rate_floor=_rate(f"{where}.rate_floor", d["rate_floor"]),
        rate_ceiling=_rate(f"{where}.rate_ceiling", d["rate_ceiling"]),
        green=green,
    )


def _fees(where: str, data: Any, currency: str) -> tuple[Fee, ...]:
    fees = []
    for i, item in enumerate(data or []):
        f = _keys(f"{where}[{i}]", item, {"code", "timing"}, {"rate", "amount"})
        amount = Money(_int(f"{where}[{i}].amount", f["amount"]), currency) if "amount" in f else None
        rate = _rate(f"{where}[{i}].rate", f["rate"]) if "rate" in f else Decimal(0)
        fees.append(Fee(code=str(f["code"]), timing=FeeTiming(f["timing"]), rate=rate, amount=amount))
    return tuple(fees)


def _product(code: str, data: Any, currency: str) -> Product:
    where = f"products.{code}"
    common = {
        "kind",
        "name",
        "min_kyc_level",
        "amount_min",
        "amount_max_by_kyc",
        "penalty_rate",
        "grace_days",
        "max_debt_to_income_bps",
    }
    d = _keys(
        where,
        data,
        common,
        {"terms_months", "methods", "day_count", "fees", "pricing", "instalments", "merchant_fee_rate"}
        | set(REVOLVING_KEYS)
        | {"allocation_order", "allocation_strategy", "prepayment_fee_rate"},
    )
    if d["kind"] not in KINDS:
        raise _fail(where, f"kind must be one of {KINDS}")
    if d["kind"] == "instalment" and (
        "pricing" not in d or not d.get("terms_months") or not d.get("methods")
    ):
        raise _fail(where, "an instalment product needs pricing, terms_months and methods")
    if d["kind"] == "bnpl" and not d.get("instalments"):
        raise _fail(where, "a bnpl product needs instalments")
    if d["kind"] == "revolving" and not {"pricing", *REVOLVING_KEYS} <= d.keys():
        raise _fail(where, f"a revolving product needs pricing and {', '.join(REVOLVING_KEYS)}")
    names = _keys(f"{where}.name", d["name"], {"en", "zh"})
    return Product(
        code=code,
        kind=d["kind"],
        name_en=str(names["en"]),
        name_zh=str(names["zh"]),
        currency=currency,
        min_kyc_level=_int(f"{where}.min_kyc_level", d["min_kyc_level"], 1),
        amount_min=_int(f"{where}.amount_min", d["amount_min"], 1),
        amount_max_by_kyc={
            _int(f"{where}.amount_max_by_kyc", k, 1): _int(f"{where}.amount_max_by_kyc.{k}", v, 1)
            for k, v in dict(d["amount_max_by_kyc"]).items()
        },
        penalty_rate=_rate(f"{where}.penalty_rate", d["penalty_rate"]),
        grace_days=_int(f"{where}.grace_days", d["grace_days"]),
        max_debt_to_income_bps=_int(f"{where}.max_debt_to_income_bps", d["max_debt_to_income_bps"], 1),
        terms_months=tuple(_int(f"{where}.terms_months", t, 1) for t in d.get("terms_months", [])),
        methods=tuple(RepaymentMethod(m) for m in d.get("methods", [])),
        day_count=DayCount(d.get("day_count", "act_360")),
        fees=_fees(f"{where}.fees", d.get("fees"), currency),
        pricing=_pricing(f"{where}.pricing", d["pricing"]) if "pricing" in d else None,
        instalments=tuple(_int(f"{where}.instalments", n, 2) for n in d.get("instalments", [])),
        merchant_fee_rate=_rate(f"{where}.merchant_fee_rate", d.get("merchant_fee_rate", "0")),
        allocation_order=_order(where, d.get("allocation_order")),
        allocation_strategy=_strategy(where, d.get("allocation_strategy", "vertical")),
        prepayment_fee_rate=_rate(f"{where}.prepayment_fee_rate", d.get("prepayment_fee_rate", "0")),
        limit_floor=_int(f"{where}.limit_floor", d.get("limit_floor", 0)),
        limit_ceiling=_int(f"{where}.limit_ceiling", d.get("limit_ceiling", 0)),
        min_payment_rate=_rate(f"{where}.min_payment_rate", d.get("min_payment_rate", "0")),
        min_payment_floor=_int(f"{where}.min_payment_floor", d.get("min_payment_floor", 0)),
    )


def _order(where: str, value: Any) -> tuple[str, ...]:
    """The repayment allocation order: the four components, each once (fee, penalty, interest, principal)."""
    if value is None:
        return ("fee", "penalty", "interest", "principal")
    order = tuple(str(v) for v in value) if isinstance(value, list) else ()
    if sorted(order) != ["fee", "interest", "penalty", "principal"]:
        raise _fail(f"{where}.allocation_order", "must list fee, penalty, interest and principal, each once")
    return order


def _strategy(where: str, value: Any) -> Strategy:
    if value == "vertical":
        return "vertical"
    if value == "horizontal":
        return "horizontal"
    raise _fail(f"{where}.allocation_strategy", "must be vertical or horizontal")


def _starter(data: Any) -> StarterScorecard:
    d = _keys("starter_scorecard", data, {"base_points", "attributes"})
    attributes = []
    for name, spec in dict(d["attributes"]).items():
        a = _keys(f"starter_scorecard.{name}", spec, {"reason", "bins"})
        bins = tuple((None if upper is None else int(upper), int(points)) for upper, points in a["bins"])
        if not bins or bins[-1][0] is not None:
            raise _fail(f"starter_scorecard.{name}", "the last bin must have no upper bound (null)")
        attributes.append(AttributeBins(str(name), str(a["reason"]), bins))
    return StarterScorecard(_int("starter_scorecard.base_points", d["base_points"]), tuple(attributes))


def load_profile(path: Path | None = None) -> CreditProfile:
    """The credit profile at ``path`` (the packaged default when None)."""
    path = path or DEFAULT_PROFILE
    if path.stat().st_size > PROFILE_BYTES_MAX:
        raise _fail(str(path), f"larger than {PROFILE_BYTES_MAX} bytes")
    data = _keys(
        str(path),
        yamltext.safe_load(path.read_text(encoding="utf-8")),
        {"version", "currency", "grades", "decisions", "starter_scorecard", "products"},
    )
    currency = str(data["currency"])
    grades = tuple((str(g["grade"]), _int("grades", g["min_points"])) for g in data["grades"])
    if [p for _, p in grades] != sorted((p for _, p in grades), reverse=True):
        raise _fail("grades", "must be listed best first (min_points descending)")
    decisions = {str(k): str(v) for k, v in dict(data["decisions"]).items()}
    if set(decisions) != {g for g, _ in grades} or not set(decisions.values()) <= set(DECISIONS):
        raise _fail("decisions", f"one of {DECISIONS} for every grade")
    products = {
        str(code): _product(str(code), spec, currency) for code, spec in dict(data["products"]).items()
    }
    for product in products.values():
        if product.pricing is not None and not set(product.pricing.premium_bps) <= set(decisions):
            raise _fail(f"products.{product.code}.pricing", "premium for an unknown grade")
    return CreditProfile(
        str(data["version"]), currency, grades, decisions, _starter(data["starter_scorecard"]), products
    )
