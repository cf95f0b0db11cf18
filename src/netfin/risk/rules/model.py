"""Compiled rules, rule sets and the outcome of evaluating them.

Everything here is immutable: a rule set is compiled once, shared by every
thread that evaluates it, and replaced whole when the file changes, never
edited in place. The identity of a rule set is its declared ``version`` plus
the SHA-256 of the file's bytes, so a decision can be traced to the exact
text that produced it even when someone forgot to bump the version.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Action(enum.StrEnum):
    """What a rule asks for, from weakest to strongest; the strongest among the hits wins."""

    APPROVE = "approve"
    STEP_UP = "step_up"  # ask the customer for stronger authentication
    REVIEW = "review"  # hold the payment for an analyst
    DECLINE = "decline"

    @property
    def rank(self) -> int:
        return _ACTION_RANK[self]


_ACTION_RANK: Mapping[Action, int] = {
    Action.APPROVE: 0,
    Action.STEP_UP: 1,
    Action.REVIEW: 2,
    Action.DECLINE: 3,
}

SCORE_MAX = 1.0


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule that fired, with the words an analyst and a customer-service agent read."""

    code: str
    action: Action
    score: float
    description: str
    description_zh: str

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "action": self.action.value,
            "score": self.score,
            "description": self.description,
            "description_zh": self.description_zh,
        }


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled rule. ``names`` are the variables it reads; ``constants`` the lists it uses."""

    code: str
    description: str
    description_zh: str
    when: str
    action: Action
    score: float
    enabled: bool
    segments: frozenset[str] | None
    program: Any  # cel.Program: compiled once at load, executed per event
    names: tuple[str, ...]
    constants: Mapping[str, tuple[object, ...]]
    hit: RuleHit  # built once, so a firing rule costs no allocation

    def applies_to(self, segment: object) -> bool:
        """A rule limited to some payer segments stays silent for every other segment."""
        return self.segments is None or segment in self.segments


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A validated, compiled rule set and the identity of the text it came from.

    ``reads`` is every variable any rule reads. ``scratch`` holds one CEL
    context per thread, created on first use with the named lists already
    converted: converting a 20-item list costs about 20 us, more than
    evaluating every rule, so it is done once per thread, not per event.
    """

    name: str
    version: str
    sha256: str
    source: str
    rules: tuple[Rule, ...]
    lists: Mapping[str, tuple[object, ...]]
    reads: tuple[str, ...] = ()
    scratch: threading.local = field(default_factory=threading.local, init=False, repr=False, compare=False)

    @property
    def identity(self) -> str:
        """``version+sha256:<hex>``: what a decision records to say which rules made it."""
        return f"{self.version}+sha256:{self.sha256}"

    def rule(self, code: str) -> Rule:
        """The rule with this code; a missing code is the caller's mistake."""
        for rule in self.rules:
            if rule.code == code:
                return rule
        raise KeyError(code)


@dataclass(frozen=True, slots=True)
class RuleError:
    """A rule that could not be evaluated for this event (a missing or ill-typed variable).

    It does not fire; the error is kept so the decision can be audited and the
    feature gap fixed, instead of a payment failing because one rule could not run.
    """

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """The rules' verdict on one event: the strongest action, the capped score and the reasons."""

    ruleset: str
    action: Action
    score: float
    hits: tuple[RuleHit, ...]
    errors: tuple[RuleError, ...] = ()

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(hit.code for hit in self.hits)

    def as_dict(self) -> dict[str, object]:
        return {
            "ruleset": self.ruleset,
            "action": self.action.value,
            "score": self.score,
            "hits": [hit.as_dict() for hit in self.hits],
            "errors": [{"code": error.code, "message": error.message} for error in self.errors],
        }


def strongest(actions: list[Action] | tuple[Action, ...]) -> Action:
    """The strongest of some actions; none at all means nothing objected, so approve."""
    return max(actions, key=lambda action: action.rank, default=Action.APPROVE)
