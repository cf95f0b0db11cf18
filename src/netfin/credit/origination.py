"""Origination: application → KYC level → score → decision with reasons → offer (→ contract, in ``loans``).

``Origination.apply`` decides at once, in-process, from a handful of reads
(the party, its accounts' age, its active loans), so the partner-facing BNPL
decision fits the payment's latency budget. Every application is stored with
its inputs, the scorer and profile versions, the points, the grade, the
reasons and the price, and audited: an auditor can replay any decision.

The decision, in order:

1. the party's KYC level must reach the product's (``kyc_level_insufficient``);
2. the amount must lie between the product's minimum and the maximum for the
   party's KYC level (``amount_below_minimum``, ``amount_above_kyc_limit``);
3. the scorer's points give a grade, the profile's ``decisions`` the outcome
   (approve / refer / decline), with the scorer's adverse reasons worst first;
4. the repayments of the new loan plus the existing ones must stay under the
   product's debt-to-income ceiling (``debt_to_income_too_high``).

An approved application carries an offer (rate with its pricing reasons —
including the green adjustment — and the schedule's first due date, level
instalment, interest and fees) that expires; ``LoanService.accept`` turns it
into a contract and disburses.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa

from netfin.core.clock import Clock, iso_from_ns, utc_date
from netfin.core.errors import ConfigurationError, InvalidInput, NotFound
from netfin.core.ids import IdSource, format_id
from netfin.core.money import Money
from netfin.credit.config import CreditProfile, Product, StarterScorecard
from netfin.credit.pricing import EsgEvidence, Price
from netfin.credit.products import BNPLPlan, LoanTerms, RepaymentMethod
from netfin.credit.schedule import Schedule, build_bnpl_schedule, build_schedule
from netfin.credit.scorecard import ScorecardModel, load_scorecard
from netfin.credit.store import credit_applications, credit_loans
from netfin.identity.model import Actor
from netfin.identity.service import AuditSink, Identity
from netfin.ledger import Ledger

ORIGINATION_INPUTS = (
    "kyc_level",
    "account_age_days",
    "monthly_income_minor",
    "existing_payments_minor",
    "debt_to_income_bps",
    "delinquencies_12m",
)
OFFER_TTL_NS = 7 * 24 * 3600 * 10**9
BNPL_OFFER_TTL_NS = 30 * 60 * 10**9
INCOME_MINOR_MAX = 10**13
NS_PER_DAY = 86_400 * 10**9


class Decision(enum.StrEnum):
    APPROVE = "approve"
    REFER = "refer"
    DECLINE = "decline"


class ApplicationStatus(enum.StrEnum):
    APPROVED = "approved"
    REFERRED = "referred"
    DECLINED = "declined"
    ACCEPTED = "accepted"


_STATUS = {
    Decision.APPROVE: ApplicationStatus.APPROVED,
    Decision.REFER: ApplicationStatus.REFERRED,
    Decision.DECLINE: ApplicationStatus.DECLINED,
}


@dataclass(frozen=True, slots=True)
class Assessment:
    points: int
    reasons: tuple[str, ...]  # adverse-action reason codes, worst first


class CreditScorer(Protocol):
    """Points for an applicant's inputs (higher is safer) and the reasons that cost most."""

    @property
    def name(self) -> str: ...

    def assess(self, inputs: Mapping[str, int]) -> Assessment: ...


class StarterScorer:
    """The profile's judgmental points table, for a bank without its own history yet."""

    def __init__(self, card: StarterScorecard, version: str) -> None:
        self.card = card
        self._name = f"starter:{version}"

    @property
    def name(self) -> str:
        return self._name

    def assess(self, inputs: Mapping[str, int]) -> Assessment:
        points, shortfalls = self.card.base_points, []
        for attribute in self.card.attributes:
            if attribute.name not in inputs:
                raise InvalidInput(f"the scorecard needs {attribute.name}", code="credit_input_missing")
            earned = attribute.points(int(inputs[attribute.name]))
            points += earned
            if earned < attribute.best:
                shortfalls.append((attribute.best - earned, attribute.reason))
        shortfalls.sort(key=lambda s: -s[0])
        return Assessment(points, tuple(reason for _, reason in shortfalls))


class TrainedScorer:
    """A scorecard trained on the bank's own applications (``netfin credit scorecard --out DIR``).

    Its features must be origination inputs (``kyc_level``, ``account_age_days``,
    ``monthly_income_minor``, ``debt_to_income_bps``, ``delinquencies_12m``,
    ``existing_payments_minor``), and its points scale must suit the profile's
    grades; a card that needs anything else is refused when it is loaded.
    """

    def __init__(self, model: ScorecardModel, source: str) -> None:
        missing = sorted({f.name for f in model.features} - set(ORIGINATION_INPUTS))
        if missing:
            raise ConfigurationError(
                f"the scorecard at {source} needs {missing}, which origination does not know",
                code="credit_scorecard_unusable",
            )
        self.model = model
        self._name = f"scorecard:{model.metadata.get('content_sha256', source)}"[:80]

    @property
    def name(self) -> str:
        return self._name

    def assess(self, inputs: Mapping[str, int]) -> Assessment:
        row = {f.name: inputs[f.name] for f in self.model.features}
        points = int(self.model.score([row])[0])
        reasons = tuple(
            f"{r.feature}_{r.bin}"[:60] for r in self.model.reasons(row, n=3) if r.points_lost > 0
        )
        return Assessment(points, reasons)


def scorer_from_env(environ: Mapping[str, str], profile: CreditProfile) -> CreditScorer:
    """``NETFIN_CREDIT_SCORECARD`` names a trained scorecard; without it, the profile's starter card."""
    directory = environ.get("NETFIN_CREDIT_SCORECARD")
    if not directory:
        return StarterScorer(profile.starter, profile.version)
    return TrainedScorer(load_scorecard(directory), directory)


@dataclass(frozen=True, slots=True)
class Application:
    """What the applicant asks for; ``monthly_income`` and ``other_debt_payments`` are declared.

    Without a declared income (a checkout has none) the bank uses what it sees:
    the money paid into the party's accounts per 30 days since they opened.
    A BNPL checkout names the merchant's account and the down payment; the
    offer carries them, so the customer accepts exactly what the merchant asked.
    """

    party_id: int
    product: str
    amount: Money
    term: int  # months, or the number of instalments for BNPL
    monthly_income: Money | None
    method: RepaymentMethod | None = None
    other_debt_payments: Money | None = None
    esg: EsgEvidence | None = None
    channel: str = "customer"
    client_id: str | None = None
    start: date | None = None
    merchant_account_id: str | None = None
    down_payment: Money | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    application_id: str
    status: ApplicationStatus
    decision: Decision
    points: int
    grade: str
    reasons: tuple[str, ...]
    price: Price | None
    offer: dict[str, Any] | None
    expires_ns: int
    inputs: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "application_id": self.application_id,
            "status": self.status.value,
            "decision": self.decision.value,
            "points": self.points,
            "grade": self.grade,
            "reasons": list(self.reasons),
            "price": None if self.price is None else self.price.to_json(),
            "offer": self.offer,
            "expires_at": iso_from_ns(self.expires_ns),
        }


def offer_schedule(product: Product, application: Application, rate: Decimal, start: date) -> Schedule:
    """The schedule an approved application would get (the contract repeats it exactly)."""
    if product.kind == "bnpl":
        plan = BNPLPlan(
            price=application.amount,
            instalments=application.term,
            down_payment=application.down_payment,
            merchant_fee_rate=product.merchant_fee_rate,
        )
        return build_bnpl_schedule(plan, start)
    return build_schedule(
        loan_terms(
            product,
            application.amount,
            application.term,
            application.method or product.methods[0],
            rate,
            start,
        )
    )


def loan_terms(
    product: Product, amount: Money, term: int, method: RepaymentMethod, rate: Decimal, start: date
) -> LoanTerms:
    return LoanTerms(
        principal=amount,
        annual_rate=rate,
        term_months=term,
        method=method,
        start=start,
        day_count=product.day_count,
        fees=product.fees,
        penalty_rate=product.penalty_rate,
        grace_days=product.grace_days,
    )


def _offer(schedule: Schedule) -> dict[str, Any]:
    first = schedule.instalments[0]
    return {
        "currency": schedule.currency,
        "instalments": len(schedule.instalments),
        "first_due": first.due.isoformat(),
        "first_instalment_minor": first.total,
        "last_instalment_minor": schedule.instalments[-1].total,
        "interest_minor": schedule.interest,
        "fees_minor": schedule.fees,
        "total_repayable_minor": schedule.total,
    }


class Origination:
    def __init__(
        self,
        engine: sa.Engine,
        identity: Identity,
        audit: AuditSink,
        profile: CreditProfile,
        *,
        clock: Clock,
        ids: IdSource,
        scorer: CreditScorer | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        self.ledger = ledger
        self.engine, self.identity, self.audit, self.profile = engine, identity, audit, profile
        self.clock, self.ids = clock, ids
        self.scorer: CreditScorer = scorer or StarterScorer(profile.starter, profile.version)

    def apply(self, actor: Actor, application: Application) -> Outcome:
        product = self._check(application)
        party = self.identity.get_party(application.party_id)
        inputs = self._inputs(application, int(party.kyc_level), party.created_ns)
        decision, reasons, points, grade = self._decide(product, application, inputs)
        price: Price | None = None
        offer: dict[str, Any] | None = None
        if decision is not Decision.DECLINE:
            rate = Decimal(0)
            if product.pricing is not None:
                price = product.pricing.price(grade, application.esg)
                rate = price.annual_rate
            offer, new_payment = self._offer(product, application, rate)
            income = inputs["monthly_income_minor"]
            dti = (inputs["existing_payments_minor"] + new_payment) * 10_000 // max(1, income)
            if dti > product.max_debt_to_income_bps:
                decision, offer, price = Decision.DECLINE, None, None
                reasons = ("debt_to_income_too_high", *reasons)
        outcome = self._record(
            actor, application, product, decision, reasons, points, grade, price, offer, inputs
        )
        return outcome

    # -- steps ----------------------------------------------------------------

    def _check(self, a: Application) -> Product:
        product = self.profile.product(a.product)
        if a.amount.currency != product.currency or (
            a.monthly_income is not None and a.monthly_income.currency != product.currency
        ):
            raise InvalidInput(f"{product.code} lends in {product.currency}", code="credit_currency_mismatch")
        if a.monthly_income is not None and not 0 < a.monthly_income.amount_minor <= INCOME_MINOR_MAX:
            raise InvalidInput("monthly income must be positive and plausible", code="credit_income_invalid")
        if a.other_debt_payments is not None and a.other_debt_payments.currency != product.currency:
            raise InvalidInput(
                "other debt payments must be in the product's currency", code="credit_currency_mismatch"
            )
        allowed = product.instalments if product.kind == "bnpl" else product.terms_months
        if a.term not in allowed:
            raise InvalidInput(
                f"{product.code} offers terms {list(allowed)}, not {a.term}", code="credit_term_invalid"
            )
        if a.method is not None and a.method not in product.methods:
            raise InvalidInput(
                f"{product.code} is not repaid by {a.method.value}", code="credit_method_invalid"
            )
        if a.channel not in ("customer", "partner"):
            raise InvalidInput("channel is customer or partner", code="credit_channel_invalid")
        return product

    def _inputs(self, a: Application, kyc_level: int, party_created_ns: int) -> dict[str, int]:
        existing = self._existing_payments(a.party_id)
        other = 0 if a.other_debt_payments is None else a.other_debt_payments.amount_minor
        income = (
            self._observed_income(a.party_id) if a.monthly_income is None else a.monthly_income.amount_minor
        )
        return {
            "kyc_level": kyc_level,
            "account_age_days": max(0, (self.clock.now_ns() - party_created_ns) // NS_PER_DAY),
            "monthly_income_minor": income,
            "existing_payments_minor": existing + other,
            "debt_to_income_bps": (existing + other) * 10_000 // max(1, income),
            "delinquencies_12m": self._delinquencies(a.party_id),
        }

    def _decide(
        self, product: Product, a: Application, inputs: Mapping[str, int]
    ) -> tuple[Decision, tuple[str, ...], int, str]:
        assessment = self.scorer.assess(inputs)
        grade = self.profile.grade(assessment.points)
        decision = Decision(self.profile.decisions[grade])
        blocking: list[str] = []
        if inputs["kyc_level"] < product.min_kyc_level:
            blocking.append("kyc_level_insufficient")
        if a.amount.amount_minor < product.amount_min:
            blocking.append("amount_below_minimum")
        if a.amount.amount_minor > product.amount_max(inputs["kyc_level"]):
            blocking.append("amount_above_kyc_limit")
        if (
            product.pricing is not None
            and grade not in product.pricing.premium_bps
            and decision is not Decision.DECLINE
        ):
            blocking.append("risk_grade_not_priced")
        if blocking:
            decision = Decision.DECLINE
        reasons = (
            (*blocking, *assessment.reasons[:3])
            if decision is not Decision.APPROVE
            else assessment.reasons[:3]
        )
        return decision, tuple(reasons), assessment.points, grade

    def _observed_income(self, party_id: int) -> int:
        """Money paid into the party's accounts per 30 days, over the accounts' lives (at least 30 days)."""
        accounts = self.identity.accounts_of(party_id)
        if not accounts or self.ledger is None:
            return 0
        ledger_accounts = self.ledger.lookup_accounts([a.ledger_account_id for a in accounts])
        credits = sum(a.credits_posted for a in ledger_accounts)
        age_days = max(30, (self.clock.now_ns() - min(a.created_ns for a in accounts)) // NS_PER_DAY)
        return credits * 30 // age_days

    def _existing_payments(self, party_id: int) -> int:
        """The next instalment of each of the party's active loans."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(credit_loans.c.position).where(
                    credit_loans.c.party_id == format_id(party_id), credit_loans.c.status == "active"
                )
            ).all()
        return sum(int(row.position.get("next_payment_minor", 0)) for row in rows)

    def _delinquencies(self, party_id: int) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    sa.select(sa.func.count())
                    .select_from(credit_loans)
                    .where(
                        credit_loans.c.party_id == format_id(party_id),
                        sa.or_(credit_loans.c.bucket != "current", credit_loans.c.status == "written_off"),
                    )
                ).scalar_one()
            )

    def _offer(self, product: Product, application: Application, rate: Decimal) -> tuple[dict[str, Any], int]:
        """The offer and the monthly payment it adds (a line's: its minimum payment when fully drawn)."""
        if product.kind == "revolving":
            limit = application.amount.amount_minor
            share = product.min_payment_rate.as_integer_ratio()
            payment = max(product.min_payment_floor, limit * share[0] // share[1])
            offer = {
                "currency": product.currency,
                "limit_minor": limit,
                "annual_rate": str(rate),
                "min_payment_rate": str(product.min_payment_rate),
                "min_payment_floor_minor": product.min_payment_floor,
                "review_months": application.term,
            }
            return offer, payment
        schedule = offer_schedule(product, application, rate, application.start or self._today())
        offer = _offer(schedule)
        if product.kind == "bnpl":
            offer["merchant_account_id"] = application.merchant_account_id
            offer["down_payment_minor"] = (
                0 if application.down_payment is None else application.down_payment.amount_minor
            )
        return offer, schedule.instalments[0].total

    def _today(self) -> date:
        return utc_date(self.clock.now_ns())

    def _record(
        self,
        actor: Actor,
        a: Application,
        product: Product,
        decision: Decision,
        reasons: tuple[str, ...],
        points: int,
        grade: str,
        price: Price | None,
        offer: dict[str, Any] | None,
        inputs: dict[str, int],
    ) -> Outcome:
        now = self.clock.now_ns()
        ttl = BNPL_OFFER_TTL_NS if product.kind == "bnpl" else OFFER_TTL_NS
        outcome = Outcome(
            format_id(self.ids.new_id()),
            _STATUS[decision],
            decision,
            points,
            grade,
            reasons,
            price,
            offer,
            now + ttl,
            inputs,
        )
        values = {
            "application_id": outcome.application_id,
            "party_id": format_id(a.party_id),
            "product": product.code,
            "kind": product.kind,
            "channel": a.channel,
            "client_id": a.client_id,
            "amount_minor": a.amount.amount_minor,
            "currency": a.amount.currency,
            "term": a.term,
            "method": None if product.kind != "instalment" else (a.method or product.methods[0]).value,
            "status": outcome.status.value,
            "points": points,
            "grade": grade,
            "reasons": list(reasons),
            "price": None if price is None else price.to_json(),
            "offer": offer,
            "inputs": {**inputs, **_esg_json(a.esg)},
            "scorer": self.scorer.name,
            "profile_version": self.profile.version,
            "loan_id": None,
            "created_ns": now,
            "expires_ns": outcome.expires_ns,
            "updated_ns": now,
        }
        with self.engine.begin() as connection:
            connection.execute(sa.insert(credit_applications), [values])
        self._audit(actor, product, a, outcome, price)
        return outcome

    def _audit(
        self, actor: Actor, product: Product, a: Application, outcome: Outcome, price: Price | None
    ) -> None:
        self.audit.record(
            actor_kind=actor.kind,
            actor_id=actor.id,
            action="credit.decide",
            outcome="succeeded",
            subject_kind="credit_application",
            subject_id=outcome.application_id,
            consent_id=actor.consent_id,
            interaction_id=actor.interaction_id,
            reason=outcome.decision.value,
            detail={
                "product": product.code,
                "amount_minor": a.amount.amount_minor,
                "grade": outcome.grade,
                "points": outcome.points,
                "reasons": ",".join(outcome.reasons),
                "scorer": self.scorer.name,
                "rate": None if price is None else str(price.annual_rate),
            },
        )

    def get(self, application_id: str) -> dict[str, Any]:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(credit_applications).where(credit_applications.c.application_id == application_id)
            ).first()
        if row is None:
            raise NotFound("no such credit application", code="credit_application_not_found")
        return dict(row._mapping)


def _esg_json(esg: EsgEvidence | None) -> dict[str, Any]:
    if esg is None:
        return {}
    return {
        "esg": {
            "score": None if esg.score is None else str(esg.score),
            "carbon_intensity": None if esg.carbon_intensity is None else str(esg.carbon_intensity),
            "sector_benchmark": None if esg.sector_benchmark is None else str(esg.sector_benchmark),
            "source": esg.source,
        }
    }
