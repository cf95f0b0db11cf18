"""Evaluating rules: every default rule on hand-made variables, and the evaluation semantics."""

from __future__ import annotations

import pytest

from netfin.risk.events import RiskEvent
from netfin.risk.rules import (
    DEFAULT_VARIABLES,
    Action,
    RuleError,
    evaluate,
    event_variables,
    load_default_ruleset,
    local_hour,
    match_rule,
    match_rules,
    parse_ruleset,
)

DEFAULT = load_default_ruleset()
_ZERO: dict[type, object] = {int: 0, float: 0.0, str: "", bool: False}


def benign(**changes: object) -> dict[str, object]:
    """An ordinary ¥50 supermarket purchase by a long-standing customer, with quiet features."""
    values = {name: _ZERO[kind] for name, kind in DEFAULT_VARIABLES.items()}
    values |= {
        "payer": "payer-1",
        "payee": "merchant-1",
        "payee_kind": "merchant",
        "kind": "purchase",
        "amount_minor": 5_000,
        "currency": "CNY",
        "mcc": "5411",
        "device": "device-1",
        "lat": 31.23,
        "lon": 121.47,
        "country": "CN",
        "channel": "app",
        "segment": "person",
        "hour": 14,
        "payer_count_30d": 40,
        "payer_sum_30d": 400_000,
        "payer_history_count": 40,
        "hour_share": 0.1,
        "payer_age_days": 900.0,
    }
    return values | changes


P2P = {"payee_kind": "person", "kind": "p2p", "payee": "person-9"}

# code: (variables on which it must fire, variables that differ in one respect on which it must not)
CASES: dict[str, tuple[dict[str, object], dict[str, object]]] = {
    "ato_new_device_new_payee_large": (
        P2P | {"new_device": True, "first_time_payee": True, "amount_minor": 500_000},
        P2P | {"new_device": False, "first_time_payee": True, "amount_minor": 500_000},
    ),
    "ato_new_device_drain": (
        {"new_device": True, "payer_count_1h": 3, "payer_sum_1h": 2_000_000},
        {"new_device": True, "payer_count_1h": 3, "payer_sum_1h": 1_999_999},
    ),
    "ato_impossible_travel": (
        {"geo_speed_kmh": 950.0, "geo_distance_km": 1_200.0},
        {"geo_speed_kmh": 950.0, "geo_distance_km": 100.0},
    ),
    "card_testing_burst": (
        {"amount_minor": 100, "payer_small_merchant_count_1m": 5},
        {"amount_minor": 100, "payer_small_merchant_count_1m": 4},
    ),
    "card_testing_hourly": (
        {"amount_minor": 300, "payer_small_merchant_count_1h": 12},
        {"amount_minor": 600, "payer_small_merchant_count_1h": 12},
    ),
    "card_testing_then_large": (
        {"amount_minor": 150_000, "payer_small_merchant_count_1h": 5},
        {"amount_minor": 90_000, "payer_small_merchant_count_1h": 5},
    ),
    "app_scam_new_person_payee_outlier": (
        P2P | {"first_time_payee": True, "payer_history_count": 30, "amount_z": 6.5, "amount_minor": 800_000},
        P2P | {"first_time_payee": True, "payer_history_count": 3, "amount_z": 6.5, "amount_minor": 800_000},
    ),
    "app_scam_large_first_transfer": (
        {"payee_kind": "external", "first_time_payee": True, "amount_minor": 6_000_000},
        {
            "payee_kind": "external",
            "first_time_payee": True,
            "amount_minor": 6_000_000,
            "segment": "business",
        },
    ),
    "mule_fan_in": (
        P2P | {"payee_distinct_payers_1h": 9},
        {"payee_distinct_payers_1h": 9},
    ),
    "mule_fast_outflow": (
        P2P | {"payee_outflow_ratio_24h": 0.9, "payee_distinct_payers_24h": 6, "payee_sum_24h": 1_500_000},
        P2P | {"payee_outflow_ratio_24h": 0.3, "payee_distinct_payers_24h": 6, "payee_sum_24h": 1_500_000},
    ),
    "mule_cash_out_after_fan_in": (
        P2P
        | {
            "payer_fanin_24h": 6,
            "payer_inflow_24h": 500_000,
            "amount_minor": 200_000,
            "first_time_payee": True,
        },
        P2P
        | {
            "payer_fanin_24h": 6,
            "payer_inflow_24h": 500_000,
            "amount_minor": 50_000,
            "first_time_payee": True,
        },
    ),
    "mule_shared_device": ({"device_distinct_payers_24h": 4}, {"device_distinct_payers_24h": 3}),
    "bust_out_young_account_spike": (
        {"payer_age_days": 60.0, "payer_history_count": 8, "amount_z": 7.0, "amount_minor": 1_500_000},
        {"payer_age_days": 400.0, "payer_history_count": 8, "amount_z": 7.0, "amount_minor": 1_500_000},
    ),
    "bust_out_daily_surge": (
        {"payer_age_days": 60.0, "payer_sum_24h": 6_000_000, "payer_sum_30d": 8_000_000},
        {"payer_age_days": 60.0, "payer_sum_24h": 6_000_000, "payer_sum_30d": 20_000_000},
    ),
    "cross_border_blocked_country": (
        {"kind": "cross_border", "payee_kind": "external", "country": "KP"},
        {"kind": "cross_border", "payee_kind": "external", "country": "JP"},
    ),
    "cross_border_high_risk_country": (
        {"kind": "cross_border", "payee_kind": "external", "country": "VN"},
        {"kind": "purchase", "payee_kind": "merchant", "country": "VN"},
    ),
    "night_large_transfer": (
        P2P | {"hour": 2, "amount_minor": 6_000_000},
        P2P | {"hour": 9, "amount_minor": 6_000_000},
    ),
    "night_rare_hour_new_payee": (
        {"rare_hour": True, "first_time_payee": True, "amount_minor": 1_200_000},
        {"rare_hour": False, "first_time_payee": True, "amount_minor": 1_200_000},
    ),
}


def test_every_default_rule_has_a_case() -> None:
    assert sorted(CASES) == sorted(rule.code for rule in DEFAULT.rules)


def test_an_ordinary_purchase_hits_nothing() -> None:
    outcome = evaluate(DEFAULT, benign())
    assert (outcome.action, outcome.score, outcome.hits, outcome.errors) == (Action.APPROVE, 0.0, (), ())


@pytest.mark.parametrize("code", sorted(CASES))
def test_default_rule_fires_on_its_case(code: str) -> None:
    outcome = evaluate(DEFAULT, benign(**CASES[code][0]))
    assert code in outcome.codes
    assert outcome.errors == ()
    assert outcome.action.rank >= DEFAULT.rule(code).action.rank


@pytest.mark.parametrize("code", sorted(CASES))
def test_default_rule_stays_silent_on_its_near_miss(code: str) -> None:
    outcome = evaluate(DEFAULT, benign(**CASES[code][1]))
    assert code not in outcome.codes
    assert outcome.errors == ()


SMALL = """\
name: small
version: "7"
rules:
  - code: big
    description: Big.
    description_zh: 大额。
    when: amount_minor >= 1000
    action: review
    score: 0.7
  - code: huge
    description: Huge.
    description_zh: 巨额。
    when: amount_minor >= 5000
    action: decline
    score: 0.6
  - code: odd_hour
    description: Odd hour.
    description_zh: 异常时段。
    when: hour < 6 && amount_z > 2.0
    action: step_up
    score: 0.1
  - code: business_big
    description: Business, big.
    description_zh: 企业大额。
    when: amount_minor >= 1000
    action: step_up
    segments: [business]
  - code: switched_off
    description: Off.
    description_zh: 已停用。
    when: amount_minor >= 1
    action: decline
    enabled: false
  - code: known_good
    description: Known good.
    description_zh: 白名单。
    when: channel == 'branch'
    action: approve
"""
SMALL_SET = parse_ruleset(SMALL.encode())


def test_strongest_action_wins_and_score_is_capped() -> None:
    outcome = evaluate(SMALL_SET, {"amount_minor": 6_000, "hour": 12, "amount_z": 0.0, "segment": "person"})
    assert outcome.codes == ("big", "huge")
    assert (outcome.action, outcome.score) == (Action.DECLINE, 1.0)
    assert outcome.ruleset == SMALL_SET.identity


def test_scores_add_up_below_the_cap() -> None:
    variables = {"amount_minor": 2_000, "hour": 3, "amount_z": 3.0, "segment": "person"}
    outcome = evaluate(SMALL_SET, variables)
    assert outcome.codes == ("big", "odd_hour")
    assert (outcome.action, outcome.score) == (Action.REVIEW, 0.8)


def test_segment_rules_fire_only_for_their_segments() -> None:
    base = {"amount_minor": 2_000, "hour": 12, "amount_z": 0.0}
    assert "business_big" in evaluate(SMALL_SET, base | {"segment": "business"}).codes
    assert "business_big" not in evaluate(SMALL_SET, base | {"segment": "person"}).codes
    assert "business_big" not in evaluate(SMALL_SET, base).codes


def test_disabled_rules_never_fire_but_can_be_matched_directly() -> None:
    variables = {"amount_minor": 10, "hour": 12, "amount_z": 0.0, "channel": "app"}
    assert evaluate(SMALL_SET, variables).codes == ()
    assert match_rule(SMALL_SET.rule("switched_off"), variables) is True


def test_approve_hits_are_reported_and_do_not_raise_the_action() -> None:
    variables = {"amount_minor": 2_000, "hour": 12, "amount_z": 0.0, "channel": "branch"}
    outcome = evaluate(SMALL_SET, variables)
    assert outcome.codes == ("big", "known_good")
    assert outcome.action is Action.REVIEW


def test_a_missing_variable_is_an_error_not_a_hit_and_others_still_run() -> None:
    outcome = evaluate(SMALL_SET, {"amount_minor": 2_000, "hour": 3})
    assert outcome.codes == ("big",)
    assert outcome.errors == (
        RuleError("odd_hour", "variable 'amount_z' is missing"),
        RuleError("known_good", "variable 'channel' is missing"),
    )


def test_a_value_from_an_earlier_event_never_leaks_into_a_later_one() -> None:
    """The per-thread CEL context keeps old values; a rule must not read them."""
    assert "odd_hour" in evaluate(SMALL_SET, {"amount_minor": 10, "hour": 3, "amount_z": 9.0}).codes
    later = evaluate(SMALL_SET, {"amount_minor": 10, "hour": 3})
    assert "odd_hour" not in later.codes
    assert [error.code for error in later.errors] == ["odd_hour", "known_good"]


def test_a_wrong_type_is_an_error_for_the_rules_that_read_it() -> None:
    outcome = evaluate(SMALL_SET, {"amount_minor": "lots", "hour": 3, "amount_z": 3.0, "channel": "app"})
    assert outcome.codes == ("odd_hour",)
    assert [error.code for error in outcome.errors] == ["big", "huge"]
    assert outcome.errors[0].message.startswith("TypeError")


def test_an_unconvertible_value_takes_the_slow_path_and_spoils_only_its_readers() -> None:
    variables = {"amount_minor": 2_000, "hour": 3, "amount_z": object(), "channel": "app"}
    outcome = evaluate(SMALL_SET, variables)
    assert outcome.codes == ("big",)
    assert [error.code for error in outcome.errors] == ["odd_hour"]


def test_fast_and_slow_paths_agree() -> None:
    for changes in [*(case[0] for case in CASES.values()), *(case[1] for case in CASES.values())]:
        variables = benign(**changes)
        assert match_rules(DEFAULT, DEFAULT.rules, variables) == [
            match_rule(rule, variables) for rule in DEFAULT.rules
        ]


def test_outcome_as_dict() -> None:
    outcome = evaluate(SMALL_SET, {"amount_minor": 2_000, "hour": 12, "amount_z": 0.0})
    assert outcome.as_dict() == {
        "ruleset": SMALL_SET.identity,
        "action": "review",
        "score": 0.7,
        "hits": [
            {
                "code": "big",
                "action": "review",
                "score": 0.7,
                "description": "Big.",
                "description_zh": "大额。",
            }
        ],
        "errors": [{"code": "known_good", "message": "variable 'channel' is missing"}],
    }


def test_event_variables_use_china_time() -> None:
    midnight_utc = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    assert local_hour(midnight_utc) == 8
    assert local_hour(midnight_utc + 17 * 3_600_000) == 1
    event = RiskEvent(
        seq=1, ts_ms=midnight_utc + 18 * 3_600_000, payer="a", payee="b", payee_kind="person",
        kind="p2p", amount_minor=7_000_000, currency="CNY", segment="person",
    )  # fmt: skip
    variables = event_variables(event)
    assert variables["hour"] == 2
    assert "label" not in variables and "scenario" not in variables
    assert set(variables) <= set(DEFAULT_VARIABLES)
    assert "night_large_transfer" in evaluate(DEFAULT, benign(**variables)).codes
