"""Loading a rule set: what is accepted, and every kind of refusal, each naming its rule."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from netfin.risk.rules import (
    DEFAULT_RULESET_PATH,
    DEFAULT_VARIABLES,
    Action,
    RuleSetInvalid,
    evaluate,
    load_default_ruleset,
    load_ruleset,
    parse_ruleset,
)
from netfin.risk.rules.loader import RULESET_BYTES_MAX

GOOD = """\
name: test
version: "1"
lists:
  watched: ["KP", "IR"]
rules:
  - code: big_payment
    description: A big payment.
    description_zh: 大额支付。
    when: amount_minor >= 100000
    action: review
    score: 0.5
  - code: watched_country
    description: A watched country.
    description_zh: 关注国家。
    when: country in watched
    action: decline
"""


def _refusal(text: str, **kwargs: object) -> RuleSetInvalid:
    with pytest.raises(RuleSetInvalid) as caught:
        parse_ruleset(text.encode(), **kwargs)  # type: ignore[arg-type]
    return caught.value


def _rule(code: str, when: str, action: str = "review", extra: str = "") -> str:
    return (
        f"  - code: {code}\n    description: d\n    description_zh: 描述\n"
        f"    when: {when}\n    action: {action}\n{extra}"
    )


def _ruleset(*rules: str, header: str = 'name: t\nversion: "1"\n') -> str:
    return header + "rules:\n" + "".join(rules)


def test_a_good_rule_set_loads_with_its_identity() -> None:
    ruleset = parse_ruleset(GOOD.encode())
    sha = hashlib.sha256(GOOD.encode()).hexdigest()
    assert (ruleset.name, ruleset.version, ruleset.sha256) == ("test", "1", sha)
    assert ruleset.identity == f"1+sha256:{sha}"
    big = ruleset.rule("big_payment")
    assert (big.action, big.score, big.enabled, big.segments) == (Action.REVIEW, 0.5, True, None)
    assert ruleset.rule("watched_country").score == 0.0
    assert ruleset.lists == {"watched": ("KP", "IR")}
    assert ruleset.reads == ("amount_minor", "country")


def test_the_same_version_with_other_bytes_is_another_identity() -> None:
    first = parse_ruleset(GOOD.encode())
    second = parse_ruleset((GOOD + "# a comment\n").encode())
    assert first.version == second.version
    assert first.identity != second.identity


def test_unknown_key_in_a_rule_is_refused_naming_the_rule() -> None:
    error = _refusal(_ruleset(_rule("big", "amount_minor > 1", extra="    enabeld: false\n")))
    assert error.code == "ruleset_invalid"
    assert any("rule 'big' (rules[0]): enabeld: Extra inputs are not permitted" in p for p in error.problems)


def test_unknown_top_level_key_is_refused() -> None:
    error = _refusal("name: t\nversion: '1'\nowner: me\nrules:\n" + _rule("big", "amount_minor > 1"))
    assert error.problems == ("owner: Extra inputs are not permitted",)


def test_duplicate_codes_are_refused() -> None:
    error = _refusal(_ruleset(_rule("big", "amount_minor > 1"), _rule("big", "amount_minor > 2")))
    assert error.problems == ("rule 'big' (rules[1]): duplicate code, first used by rules[0]",)


def test_bad_action_is_refused_naming_the_rule() -> None:
    error = _refusal(_ruleset(_rule("big", "amount_minor > 1", action="block")))
    assert len(error.problems) == 1
    assert error.problems[0].startswith("rule 'big' (rules[0]): action: Input should be 'approve'")


def test_expression_that_does_not_compile_is_refused() -> None:
    error = _refusal(_ruleset(_rule("broken", "amount_minor >")))
    assert error.problems[0].startswith("rule 'broken' (rules[0]): `when` does not compile")


def test_unknown_variable_is_refused() -> None:
    error = _refusal(_ruleset(_rule("typo", "amount_minr > 1 && new_device")))
    assert error.problems[0].startswith("rule 'typo' (rules[0]): `when` reads unknown name(s) amount_minr")


def test_a_macro_bound_name_counts_as_unknown() -> None:
    error = _refusal(_ruleset(_rule("macro", '"[1, 2].exists(x, x == hour)"')))
    assert "reads unknown name(s) x" in error.problems[0]


def test_function_outside_the_standard_set_is_refused() -> None:
    error = _refusal(_ruleset(_rule("call", "now() > 1")))
    assert error.problems[0] == (
        "rule 'call' (rules[0]): `when` calls function(s) outside the CEL standard set: now"
    )


def test_expression_that_cannot_type_check_is_refused() -> None:
    error = _refusal(_ruleset(_rule("mixed", "amount_minor * 1.5 > 100.0")))
    assert error.problems[0].startswith("rule 'mixed' (rules[0]): `when` does not type-check")


def test_expression_that_is_not_boolean_is_refused() -> None:
    error = _refusal(_ruleset(_rule("number", "amount_minor + 1")))
    assert error.problems[0] == "rule 'number' (rules[0]): `when` must be true or false, not int"


def test_value_dependent_errors_are_left_for_run_time() -> None:
    ruleset = parse_ruleset(_ruleset(_rule("ratio", "payer_sum_24h / payer_count_24h > 1000")).encode())
    outcome = evaluate(ruleset, {"payer_sum_24h": 5_000, "payer_count_24h": 0})
    assert outcome.hits == ()
    assert [error.code for error in outcome.errors] == ["ratio"]
    assert "ZeroDivisionError" in outcome.errors[0].message


def test_unquoted_version_is_refused() -> None:
    error = _refusal(_ruleset(_rule("big", "amount_minor > 1"), header="name: t\nversion: 1.2\n"))
    assert error.problems == ("version: Input should be a valid string",)


def test_bad_code_and_score_are_refused() -> None:
    error = _refusal(_ruleset(_rule("BigPayment", "amount_minor > 1", extra="    score: 1.5\n")))
    joined = "\n".join(error.problems)
    assert "rule 'BigPayment' (rules[0]): code: String should match pattern" in joined
    assert "rule 'BigPayment' (rules[0]): score: Input should be less than or equal to 1" in joined


def test_duplicate_yaml_keys_are_refused() -> None:
    text = _ruleset(_rule("big", "amount_minor > 1", extra="    action: decline\n"))
    assert _refusal(text).problems == ("line 9: duplicate key 'action'",)


def test_invalid_yaml_is_refused() -> None:
    assert _refusal("name: [unclosed\n").problems[0].startswith("is not valid YAML")


def test_country_codes_must_be_quoted_where_yaml_would_read_a_boolean() -> None:
    error = _refusal("lists:\n  nordic: [SE, NO]\n" + _ruleset(_rule("big", "amount_minor > 1")))
    assert any(
        p.startswith("lists.nordic.list[str].1: Input should be a valid string") for p in error.problems
    )


def test_list_shadowing_a_variable_is_refused() -> None:
    error = _refusal("lists:\n  country: ['KP']\n" + _ruleset(_rule("big", "amount_minor > 1")))
    assert error.problems == ("list 'country': name is already a variable",)


def test_every_problem_is_reported_at_once() -> None:
    error = _refusal(_ruleset(_rule("one", "nope > 1"), _rule("two", "x >"), _rule("one", "hour > 1")))
    assert [re.match(r"rule '(\w+)'", p).group(1) for p in error.problems] == ["one", "two", "one"]  # type: ignore[union-attr]


def test_explicit_variables_extend_the_allowed_set() -> None:
    text = _ruleset(_rule("ratio", "amount_to_balance_ratio > 0.9"))
    assert "reads unknown name(s) amount_to_balance_ratio" in _refusal(text).problems[0]
    variables = dict(DEFAULT_VARIABLES) | {"amount_to_balance_ratio": float}
    ruleset = parse_ruleset(text.encode(), variables=variables)
    assert evaluate(ruleset, {"amount_to_balance_ratio": 0.95}).codes == ("ratio",)


def test_explicit_variables_also_restrict_it() -> None:
    error = _refusal(_ruleset(_rule("big", "amount_minor > 1")), variables={"hour": int})
    assert "reads unknown name(s) amount_minor" in error.problems[0]


def test_missing_and_oversized_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RuleSetInvalid, match="cannot be read"):
        load_ruleset(tmp_path / "absent.yaml")
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"#" * (RULESET_BYTES_MAX + 1))
    with pytest.raises(RuleSetInvalid, match="larger than"):
        load_ruleset(huge)


def test_the_default_rule_set_loads() -> None:
    ruleset = load_default_ruleset()
    assert ruleset.source == str(DEFAULT_RULESET_PATH)
    assert 12 <= len(ruleset.rules) <= 18
    assert ruleset.sha256 == hashlib.sha256(DEFAULT_RULESET_PATH.read_bytes()).hexdigest()
    for rule in ruleset.rules:
        assert re.search(r"[\u4e00-\u9fff]", rule.description_zh), rule.code
        assert rule.enabled, rule.code
    assert {rule.action for rule in ruleset.rules} == {Action.STEP_UP, Action.REVIEW, Action.DECLINE}
