"""Decisions: a score, rule hits, the payer's segment and the amount become one action with reasons.

Pure types and the policy that combines the evidence; no I/O. The actions,
from weakest to strongest: ``approve`` (the payment goes ahead),
``step_up`` (the customer confirms it with a passkey), ``review`` (a
passkey confirmation and an analyst's look: it joins the review queue),
``decline`` (the payment is refused). The strongest action that any piece
of evidence asks for wins.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from netfin.risk.rules.model import Action, strongest

__all__ = ["Action", "Decision", "DecisionPolicy", "Label", "Outcome", "Reason", "Thresholds", "strongest"]


class Outcome(enum.StrEnum):
    """What an analyst found a decision's payment to be."""

    CONFIRMED_FRAUD = "confirmed_fraud"
    FALSE_POSITIVE = "false_positive"  # flagged, but legitimate
    LEGITIMATE = "legitimate"  # not flagged, and legitimate (a sample check)
    MISSED_FRAUD = "missed_fraud"  # approved, later reported as fraud

    @property
    def is_fraud(self) -> bool:
        return self in (Outcome.CONFIRMED_FRAUD, Outcome.MISSED_FRAUD)


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    source: str  # rule, model, policy, override
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Calibrated fraud probabilities at which the model alone asks for each action."""

    step_up: float = 0.20
    review: float = 0.50
    decline: float = 0.90

    def action(self, score: float) -> Action:
        if score >= self.decline:
            return Action.DECLINE
        if score >= self.review:
            return Action.REVIEW
        if score >= self.step_up:
            return Action.STEP_UP
        return Action.APPROVE


@dataclass(frozen=True, slots=True)
class DecisionPolicy:
    """Thresholds per payer segment and the amounts above which the bank asks for more."""

    default: Thresholds = Thresholds()
    segments: dict[str, Thresholds] = field(
        default_factory=lambda: {"new_customer": Thresholds(step_up=0.10, review=0.35, decline=0.80)}
    )
    # Above this amount a payment the model finds at all suspicious needs a passkey.
    large_amount_minor: dict[str, int] = field(default_factory=lambda: {"CNY": 5_000_000, "GBP": 500_000})
    large_payment_score: float = 0.05

    def thresholds(self, segment: str) -> Thresholds:
        return self.segments.get(segment, self.default)

    def combine(
        self, *, score: float | None, rule_action: Action, segment: str, amount_minor: int, currency: str
    ) -> tuple[Action, list[Reason]]:
        """The action the evidence asks for, and the policy's own reasons for it."""
        reasons: list[Reason] = []
        actions = [rule_action]
        if score is not None:
            by_score = self.thresholds(segment).action(score)
            if by_score is not Action.APPROVE:
                reasons.append(Reason(f"score_{by_score.value}", "policy", f"{score:.3f}"))
            actions.append(by_score)
            large = self.large_amount_minor.get(currency)
            if large is not None and amount_minor >= large and score >= self.large_payment_score:
                reasons.append(Reason("large_amount", "policy", f"{amount_minor} {currency}"))
                actions.append(Action.STEP_UP)
        return strongest(actions), reasons


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision as stored: enough to explain it, replay it and learn from it."""

    decision_id: str
    order_id: str | None
    payer: str
    payee: str
    amount_minor: int
    currency: str
    segment: str
    action: Action
    score: float | None
    model_version: str | None
    challenger_score: float | None
    challenger_version: str | None
    ruleset_version: str
    reasons: tuple[Reason, ...]
    features: dict[str, Any]
    decided_ns: int
    latency_us: int

    def reason_codes(self) -> list[str]:
        return [r.code for r in self.reasons]


@dataclass(frozen=True, slots=True)
class Label:
    decision_id: str
    outcome: Outcome
    analyst: str
    note: str
    labelled_ns: int
