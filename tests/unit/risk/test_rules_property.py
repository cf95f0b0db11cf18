"""Properties: evaluation never raises for well-typed variables; its fast path matches the slow one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netfin.risk.rules import (
    DEFAULT_VARIABLES,
    Action,
    RuleError,
    evaluate,
    load_default_ruleset,
    match_rule,
    match_rules,
)

DEFAULT = load_default_ruleset()
CODES = {rule.code for rule in DEFAULT.rules}

# Domain values mixed with arbitrary ones, so that rules both fire and meet the unexpected.
_WORDS = [
    "person",
    "merchant",
    "external",
    "business",
    "new_customer",
    "p2p",
    "cross_border",
    "KP",
    "VN",
    "CN",
]
_BY_TYPE: dict[type, st.SearchStrategy[object]] = {
    int: st.one_of(st.integers(-10, 10_000_000), st.integers()),
    float: st.one_of(st.floats(-10.0, 2_000.0), st.floats(allow_nan=True, allow_infinity=True)),
    str: st.one_of(st.sampled_from(_WORDS), st.text(max_size=6)),
    bool: st.booleans(),
}
_STRATEGIES = {name: _BY_TYPE[kind] for name, kind in DEFAULT_VARIABLES.items()}

complete = st.fixed_dictionaries(_STRATEGIES)
partial = st.fixed_dictionaries({}, optional=_STRATEGIES)


def _kind(result: bool | RuleError) -> object:
    return result if isinstance(result, bool) else ("error", result.code)


@settings(max_examples=200, deadline=None)
@given(st.one_of(complete, partial))
def test_evaluation_never_raises_and_stays_in_range(variables: dict[str, object]) -> None:
    outcome = evaluate(DEFAULT, variables)
    assert outcome.action in set(Action)
    assert 0.0 <= outcome.score <= 1.0
    assert set(outcome.codes) <= CODES
    assert {error.code for error in outcome.errors} <= CODES
    assert not set(outcome.codes) & {error.code for error in outcome.errors}
    assert outcome.action is max(
        (hit.action for hit in outcome.hits), key=lambda a: a.rank, default=Action.APPROVE
    )


@settings(max_examples=100, deadline=None)
@given(st.one_of(complete, partial), st.one_of(complete, partial))
def test_the_shared_context_agrees_with_a_fresh_one_after_any_earlier_event(
    earlier: dict[str, object], later: dict[str, object]
) -> None:
    match_rules(DEFAULT, DEFAULT.rules, earlier)
    fast = match_rules(DEFAULT, DEFAULT.rules, later)
    slow = [match_rule(rule, later) for rule in DEFAULT.rules]
    assert [_kind(result) for result in fast] == [_kind(result) for result in slow]
