"""Backtest metrics on a seven-row history computed by hand."""

from __future__ import annotations

import pyarrow as pa
import pytest

from netfin.core.errors import InvalidInput
from netfin.risk.rules import UNION_CODE, backtest, parse_ruleset

VARIABLES = {"amount_minor": int, "hour": int, "channel": str, "segment": str}
RULES = parse_ruleset(
    """\
name: bt
version: "1"
rules:
  - {code: big, description: Big., description_zh: 大额。, when: "amount_minor >= 1000", action: review}
  - {code: night, description: Night., description_zh: 夜间。, when: "hour < 6", action: step_up}
  - {code: branch, description: Branch., description_zh: 柜面。, when: "channel == 'branch'", action: approve}
  - {code: mid, description: Mid., description_zh: 中额。, when: "amount_minor >= 500", action: decline,
     enabled: false}
  - {code: business, description: Business., description_zh: 企业。, when: "amount_minor >= 100",
     action: review, segments: [business]}
""".encode(),
    variables=VARIABLES,
)

# amount_minor, hour, channel, segment, label
HISTORY = [
    (2_000, 2, "app", "person", 1),  # big, night
    (1_500, 14, "app", "person", 0),  # big
    (300, 3, "app", "person", 1),  # night
    (100, 12, "branch", "person", 0),  # branch (approve: not in the union)
    (5_000, 12, "branch", "person", 1),  # big, branch
    (200, 12, "app", "business", 0),  # business
    (700, 12, "app", "person", 1),  # nothing enabled; mid would catch it
]
ROWS = [
    {"amount_minor": a, "hour": h, "channel": c, "segment": s, "label": label}
    for a, h, c, s, label in HISTORY
]


def test_per_rule_and_union_metrics() -> None:
    report = backtest(RULES, ROWS)
    assert (report.rows, report.frauds, report.fraud_total_minor) == (7, 4, 8_000)
    stats = {row.code: row for row in report.rules}
    assert list(stats) == ["big", "night", "branch", "business"]
    big = stats["big"]
    assert (big.hits, big.fraud_hits, big.fraud_caught_minor) == (3, 2, 7_000)
    assert big.hit_rate == pytest.approx(3 / 7)
    assert big.precision == pytest.approx(2 / 3)
    assert (big.recall, big.money_recall) == (0.5, 0.875)
    night = stats["night"]
    assert (night.hits, night.precision, night.recall, night.fraud_caught_minor) == (2, 1.0, 0.5, 2_300)
    assert (stats["branch"].hits, stats["branch"].fraud_caught_minor) == (2, 5_000)
    business = stats["business"]
    assert (business.hits, business.precision, business.recall) == (1, 0.0, 0.0)
    union = report.union
    assert (union.code, union.hits, union.fraud_hits, union.fraud_caught_minor) == (UNION_CODE, 5, 3, 7_300)
    assert (union.precision, union.recall, union.money_recall) == (0.6, 0.75, 7_300 / 8_000)


def test_disabled_rules_are_measured_on_request_but_not_in_the_union() -> None:
    report = backtest(RULES, ROWS, include_disabled=True)
    mid = next(row for row in report.rules if row.code == "mid")
    assert (mid.enabled, mid.hits, mid.fraud_hits, mid.fraud_caught_minor) == (False, 4, 3, 7_700)
    assert report.union.hits == 5


def test_an_arrow_table_gives_the_same_report() -> None:
    table = pa.Table.from_pylist(ROWS)
    assert backtest(RULES, table).as_dict() == backtest(RULES, ROWS).as_dict()


def test_rows_for_rendering() -> None:
    rows = backtest(RULES, ROWS).to_rows()
    assert [row["code"] for row in rows] == ["big", "night", "branch", "business", UNION_CODE]
    assert rows[0] == {
        "code": "big",
        "action": "review",
        "enabled": True,
        "rows": 7,
        "hits": 3,
        "fraud_hits": 2,
        "false_positives": 1,
        "errors": 0,
        "hit_rate": 3 / 7,
        "precision": 2 / 3,
        "recall": 0.5,
        "fraud_caught_minor": 7_000,
        "money_recall": 0.875,
    }


def test_undefined_rates_are_none_not_zero() -> None:
    report = backtest(RULES, [{"amount_minor": 10, "hour": 12, "channel": "app", "segment": "p", "label": 0}])
    night = report.rules[1]
    assert (night.hits, night.hit_rate) == (0, 0.0)
    assert (night.precision, night.recall, night.money_recall) == (None, None, None)


def test_rule_errors_are_counted() -> None:
    report = backtest(RULES, [{"amount_minor": 10, "segment": "p", "label": 0}])
    assert [row.errors for row in report.rules] == [0, 1, 1, 0]


@pytest.mark.parametrize(
    ("row", "code"),
    [
        ({"amount_minor": 10, "label": 2}, "backtest_label_invalid"),
        ({"amount_minor": 10}, "backtest_label_invalid"),
        ({"amount_minor": 10.5, "label": 0}, "backtest_amount_invalid"),
    ],
)
def test_bad_rows_are_refused(row: dict[str, object], code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        backtest(RULES, [row])
    assert caught.value.code == code
    assert "row 0" in caught.value.message
