"""Evaluate a compiled rule set against one event's variables.

This runs on the payment path (the whole decision has 5 ms at p99), so the
cost that matters is converting Python values to CEL values, which is far
larger than executing a compiled expression: a string costs about 1 us, a
20-item list about 20 us, an executed rule about 0.5 us. So each thread
keeps one CEL context per rule set, with the named lists converted once;
per event only the variables the rule set reads are converted, once, and
every rule runs against that context.

The context outlives the event, so a name the event lacks would still hold
the previous event's value: every rule therefore checks, in Python, that
the event itself carries all the names it reads, and values of types other
than plain scalars take a slower path with one fresh dict per rule.

A rule that cannot be evaluated (a missing feature, a NaN, an overflow) does
not fire and does not fail the payment: it becomes a ``RuleError`` in the
outcome, where the decision log keeps it for the feature owners.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cel

from netfin.risk.rules.model import SCORE_MAX, Rule, RuleError, RuleHit, RuleOutcome, RuleSet, strongest

# What the CEL binding raises when an expression meets values it cannot
# handle: no such overload (TypeError), an undefined name (RuntimeError),
# division by zero or overflow (ArithmeticError), an index or key that is not
# there (LookupError), a value it cannot convert (ValueError).
EVALUATION_ERRORS = (TypeError, ValueError, RuntimeError, ArithmeticError, LookupError)

# Values that the shared context takes as they are. Anything else (a numpy
# scalar, a callable that CEL would register as a function) takes the
# per-rule path, where a bad value can only spoil the rules that read it.
_PLAIN_TYPES = frozenset({int, float, str, bool, type(None)})

SCORE_DIGITS = 6


def match_rule(rule: Rule, variables: Mapping[str, object]) -> bool | RuleError:
    """Whether one rule's expression holds for these variables, or why it could not be evaluated.

    This is the slow, self-contained path (a fresh dict per call); use
    ``evaluate`` or ``match_rules`` for many rules on one event. Enablement
    and segments are the caller's concern, so a backtest can also measure a
    disabled rule.
    """
    try:
        context = {name: variables[name] for name in rule.names}
    except KeyError as missing:
        return RuleError(rule.code, f"variable {missing.args[0]!r} is missing")
    if rule.constants:
        context.update(rule.constants)
    return _execute(rule, context)


def match_rules(
    ruleset: RuleSet, rules: Sequence[Rule], variables: Mapping[str, object]
) -> list[bool | RuleError]:
    """``match_rule`` for each of ``rules`` (all from ``ruleset``), converting each variable once."""
    present = {name: variables[name] for name in ruleset.reads if name in variables}
    if not _PLAIN_TYPES.issuperset(map(type, present.values())):
        return [match_rule(rule, variables) for rule in rules]
    context = _thread_context(ruleset)
    try:
        context.update(present)
    except EVALUATION_ERRORS:  # a value CEL cannot convert: let it spoil only the rules that read it
        return [match_rule(rule, variables) for rule in rules]
    if len(present) == len(ruleset.reads):  # the usual case: nothing is missing, nothing is stale
        return [_execute(rule, context) for rule in rules]
    results: list[bool | RuleError] = []
    for rule in rules:
        missing = [name for name in rule.names if name not in present]
        if missing:
            results.append(RuleError(rule.code, f"variable {missing[0]!r} is missing"))
        else:
            results.append(_execute(rule, context))
    return results


def evaluate(ruleset: RuleSet, variables: Mapping[str, object]) -> RuleOutcome:
    """Every enabled rule that applies to the payer's segment, run once; the strongest action wins.

    The score is the sum of the firing rules' weights, capped at 1.0, and
    rounded so the same hits always give the same number in the decision log.
    """
    segment = variables.get("segment")
    rules = [rule for rule in ruleset.rules if rule.enabled and rule.applies_to(segment)]
    hits: list[RuleHit] = []
    errors: list[RuleError] = []
    for rule, result in zip(rules, match_rules(ruleset, rules, variables), strict=True):
        if result is True:
            hits.append(rule.hit)
        elif isinstance(result, RuleError):
            errors.append(result)
    score = round(min(SCORE_MAX, sum(hit.score for hit in hits)), SCORE_DIGITS)
    return RuleOutcome(
        ruleset=ruleset.identity,
        action=strongest([hit.action for hit in hits]),
        score=score,
        hits=tuple(hits),
        errors=tuple(errors),
    )


def _thread_context(ruleset: RuleSet) -> Any:
    """This thread's CEL context for the rule set (CEL contexts are not safe to share between threads)."""
    context = getattr(ruleset.scratch, "context", None)
    if context is None:
        context = cel.Context(dict(ruleset.lists))
        ruleset.scratch.context = context
    return context


def _execute(rule: Rule, context: Any) -> bool | RuleError:
    try:
        result = rule.program.execute(context)
    except EVALUATION_ERRORS as error:
        return RuleError(rule.code, f"{type(error).__name__}: {error}")
    if result is True:
        return True
    if result is False:
        return False
    return RuleError(rule.code, f"evaluated to {type(result).__name__}, not a boolean")
