"""Each scenario of the default profile raises exactly when its pattern is present."""

from __future__ import annotations

import itertools

import pytest

from netfin.aml.monitoring.config import load_profile, parse_profile
from netfin.aml.monitoring.model import AccountFacts, Alert, Txn
from netfin.aml.monitoring.stream import StreamMonitor
from netfin.core.errors import InvalidInput

H = 3_600_000
DAY = 24 * H
T0 = 1_760_000_000_000  # a fixed instant
_ids = itertools.count()


def tx(src: str, dst: str, amount: int, at: int, **kw: object) -> Txn:
    return Txn(txn_id=f"t{next(_ids)}", ts_ms=at, src=src, dst=dst, amount_minor=amount, currency="CNY", **kw)  # type: ignore[arg-type]


def run(txns: list[Txn], **kw: object) -> list[Alert]:
    monitor = StreamMonitor(load_profile(), **kw)  # type: ignore[arg-type]
    return monitor.observe_many(sorted(txns, key=lambda t: t.ts_ms))


def codes(alerts: list[Alert], account: str | None = None) -> set[str]:
    return {a.scenario for a in alerts if account is None or a.account == account}


def test_cash_large_value_is_same_day_cumulative() -> None:
    cash = [
        tx("cash", "alice", 2_000_000, T0 + i * H, channel="cash_in", src_kind="external") for i in range(3)
    ]
    alerts = run(cash)
    assert codes(alerts, "alice") >= {"LV-CASH"}
    lv = [a for a in alerts if a.scenario == "LV-CASH"]
    assert len(lv) == 1
    assert lv[0].facts["total_minor"] == 6_000_000
    assert len(lv[0].txn_ids) == 3
    assert "5000000" in lv[0].reason_en and "大额" in lv[0].reason_zh


def test_cash_below_the_threshold_or_spread_over_days_is_not_large_value() -> None:
    cash = [
        tx("cash", "bob", 2_000_000, T0 + i * DAY, channel="cash_in", src_kind="external") for i in range(3)
    ]
    assert "LV-CASH" not in codes(run(cash))


def test_structuring_just_below_the_threshold() -> None:
    deposits = [
        tx("cash", "carol", 4_900_000, T0 + i * 5 * H, channel="cash_in", src_kind="external")
        for i in range(3)
    ]
    alerts = run(deposits)
    assert "STR-STRUCTURING" in codes(alerts, "carol")
    assert "LV-CASH" in codes(alerts, "carol")  # the same-day sum is also large-value
    hit = next(a for a in alerts if a.scenario == "STR-STRUCTURING")
    assert hit.facts["near_count"] == 3


def test_structuring_needs_the_sum_to_reach_the_threshold() -> None:
    deposits = [
        tx("cash", "dan", 1_000_000, T0 + i * 10 * H, channel="cash_in", src_kind="external")
        for i in range(4)
    ]
    assert "STR-STRUCTURING" not in codes(run(deposits))


def test_pass_through_needs_ninety_percent_out_within_the_window() -> None:
    ins = [tx(f"p{i}", "mule", 3_000_000, T0 + i * H) for i in range(3)]
    out_fast = [tx("mule", "boss", 8_200_000, T0 + 5 * H)]
    assert "STR-PASS-THROUGH" in codes(run(ins + out_fast), "mule")
    out_small = [tx("mule", "boss", 7_000_000, T0 + 5 * H)]  # 78 %
    assert "STR-PASS-THROUGH" not in codes(run(ins + out_small), "mule")
    out_late = [tx("mule", "boss", 9_000_000, T0 + 30 * H)]  # after the window
    assert "STR-PASS-THROUGH" not in codes(run(ins + out_late), "mule")


def test_outflows_before_the_inflows_do_not_count() -> None:
    early = [tx("mule2", "x", 9_000_000, T0)]
    ins = [tx(f"q{i}", "mule2", 5_000_000, T0 + H + i) for i in range(2)]
    assert "STR-PASS-THROUGH" not in codes(run(early + ins), "mule2")


def test_fan_in_counts_distinct_payers() -> None:
    many = [tx(f"s{i}", "hub", 300_000, T0 + i * H) for i in range(10)]
    assert "STR-FAN-IN" in codes(run(many), "hub")
    repeated = [tx(f"s{i % 3}", "hub", 300_000, T0 + i * H) for i in range(10)]
    assert "STR-FAN-IN" not in codes(run(repeated), "hub")


def test_fan_out() -> None:
    many = [tx("spray", f"r{i}", 300_000, T0 + i * H) for i in range(12)]
    alerts = run(many)
    assert "STR-FAN-OUT" in codes(alerts, "spray")
    assert sum(1 for a in alerts if a.scenario == "STR-FAN-OUT") == 1  # deduplicated in the window


def test_round_trip_in_time_order_within_the_window() -> None:
    ring = [tx("a", "b", 2_000_000, T0), tx("b", "c", 1_950_000, T0 + H), tx("c", "a", 1_900_000, T0 + 2 * H)]
    alerts = run(ring)
    trips = [a for a in alerts if a.scenario == "STR-ROUND-TRIP"]
    assert {a.account for a in trips} == {"a", "b", "c"}
    assert trips[0].subgraph["nodes"] == ["c", "a", "b"]
    assert len(trips[0].subgraph["edges"]) == 3


def test_round_trip_out_of_order_or_too_slow_is_not_found() -> None:
    shuffled = [
        tx("b", "c", 1_950_000, T0),
        tx("a", "b", 2_000_000, T0 + H),
        tx("c", "a", 1_900_000, T0 + 2 * H),
    ]
    assert "STR-ROUND-TRIP" not in codes(run(shuffled))
    slow = [
        tx("a", "b", 2_000_000, T0),
        tx("b", "c", 1_950_000, T0 + 4 * DAY),
        tx("c", "a", 1_900_000, T0 + 8 * DAY),
    ]
    assert "STR-ROUND-TRIP" not in codes(run(slow))


def test_round_trips_need_the_same_money_on_every_leg_and_three_accounts() -> None:
    unrelated = [
        tx("a", "b", 2_000_000, T0),
        tx("b", "c", 9_000_000, T0 + H),
        tx("c", "a", 2_000_000, T0 + 2 * H),
    ]
    assert "STR-ROUND-TRIP" not in codes(run(unrelated))
    own_accounts = [tx("a", "b", 2_000_000, T0), tx("b", "a", 2_000_000, T0 + H)]
    assert "STR-ROUND-TRIP" not in codes(run(own_accounts))


def test_a_cycle_of_seven_is_beyond_the_bound() -> None:
    nodes = [f"n{i}" for i in range(7)]
    ring = [tx(nodes[i], nodes[(i + 1) % 7], 1_000_000, T0 + i * H) for i in range(7)]
    assert "STR-ROUND-TRIP" not in codes(run(ring))
    six = [tx(nodes[i], nodes[(i + 1) % 6], 1_000_000, T0 + i * H) for i in range(6)]
    assert "STR-ROUND-TRIP" in codes(run(six))


def test_hub_accounts_are_not_expanded_and_the_search_is_bounded() -> None:
    spokes = [tx("hub", f"leaf{i}", 2_000_000, T0 + i) for i in range(500)]
    back = [tx("x", "hub", 2_000_000, T0 + 1_000), tx("leaf1", "x", 2_000_000, T0 + 2_000)]
    monitor = StreamMonitor(load_profile())
    monitor.observe_many(spokes + back)
    assert monitor.round_trips is not None
    assert monitor.round_trips.hubs_skipped >= 1


def test_dormant_account_reactivated() -> None:
    facts = [AccountFacts("sleeper", T0 - 200 * DAY), AccountFacts("regular", T0 - 3 * DAY)]
    txns = [tx("sleeper", "x", 2_000_000, T0), tx("regular", "x", 2_000_000, T0 + 1)]
    alerts = run(txns, accounts=facts)
    assert "STR-DORMANT" in codes(alerts, "sleeper")
    assert "STR-DORMANT" not in codes(alerts, "regular")


def test_high_risk_jurisdiction_and_unusual_corridor() -> None:
    kp = tx(
        "eve",
        "ext1",
        500_000,
        T0,
        channel="cross_border",
        dst_kind="external",
        src_country="CN",
        dst_country="KP",
    )
    hk = tx(
        "eve",
        "ext2",
        9_000_000,
        T0 + 1,
        channel="cross_border",
        dst_kind="external",
        src_country="CN",
        dst_country="HK",
    )
    pa = tx(
        "eve",
        "ext3",
        9_000_000,
        T0 + 2,
        channel="cross_border",
        dst_kind="external",
        src_country="CN",
        dst_country="PA",
    )
    alerts = run([kp, hk, pa])
    assert codes(alerts, "eve") >= {"STR-HIGH-RISK-JURISDICTION", "STR-UNUSUAL-CORRIDOR"}
    corridor = [a for a in alerts if a.scenario == "STR-UNUSUAL-CORRIDOR"]
    assert [a.facts["corridor"] for a in corridor] == ["CN-PA"]
    assert not {a.account for a in alerts} & {
        "ext1",
        "ext2",
        "ext3",
    }  # other banks' accounts are not ours to watch


def test_person_cross_border_large_value() -> None:
    big = tx(
        "frank",
        "ext",
        20_000_000,
        T0,
        channel="cross_border",
        dst_kind="external",
        src_country="CN",
        dst_country="HK",
    )
    assert "LV-PERSON-CROSS-BORDER" in codes(run([big]), "frank")
    assert "LV-PERSON-DOMESTIC" not in codes(run([big]), "frank")


def test_out_of_order_and_bad_amounts_are_refused() -> None:
    monitor = StreamMonitor(load_profile())
    monitor.observe(tx("a", "b", 100, T0))
    with pytest.raises(InvalidInput) as late:
        monitor.observe(tx("a", "b", 100, T0 - 1))
    assert late.value.code == "txn_out_of_order"
    with pytest.raises(InvalidInput):
        monitor.observe(tx("a", "b", 0, T0))


def test_shards_split_the_accounts_and_together_raise_what_one_monitor_raises() -> None:
    txns = [tx(f"s{i}", "hub", 300_000, T0 + i * H) for i in range(10)]
    txns += [
        tx("cash", f"c{i}", 6_000_000, T0 + i, channel="cash_in", src_kind="external") for i in range(20)
    ]
    txns.sort(key=lambda t: t.ts_ms)
    whole = {(a.scenario, a.account) for a in StreamMonitor(load_profile(), cycles=False).observe_many(txns)}
    parts: set[tuple[str, str]] = set()
    for i in range(3):
        parts |= {
            (a.scenario, a.account) for a in StreamMonitor(load_profile(), shard=(i, 3)).observe_many(txns)
        }
    assert whole == parts and whole


def test_profiles_reject_unknown_keys_and_bad_thresholds() -> None:
    base = {
        "profile": "p",
        "version": "1",
        "scenarios": [
            {
                "code": "X",
                "kind": "fan_in",
                "version": 1,
                "params": {
                    "channels": ["transfer"],
                    "window_hours": 24,
                    "min_counterparties": 5,
                    "min_total_minor": {"CNY": 1},
                },
                "reason_en": "fan-in $counterparties",
                "reason_zh": "集中转入 $counterparties",
            }
        ],
    }
    assert parse_profile(base).scenarios[0].code == "X"
    for broken in (
        {"min_countreparties": 5},
        {"min_total_minor": {"CNY": -1}},
        {"min_total_minor": {"yuan": 1}},
        {"window_hours": 0},
    ):
        doc = {
            **base,
            "scenarios": [{**base["scenarios"][0], "params": {**base["scenarios"][0]["params"], **broken}}],
        }  # type: ignore[index, dict-item]
        with pytest.raises(InvalidInput):
            parse_profile(doc)


def test_idle_accounts_leave_the_state_a_slice_at_a_time() -> None:
    monitor = StreamMonitor(load_profile())
    monitor.observe_many([tx(f"p{i}", f"q{i}", 2_000_000, T0 + i) for i in range(3_000)])
    assert monitor.accounts_tracked >= 3_000
    assert monitor.round_trips is not None and len(monitor.round_trips._out) >= 3_000
    later = T0 + 30 * DAY  # beyond every window of the profile
    monitor.observe_many([tx("a", "b", 2_000_000, later + i) for i in range(20_000)])
    assert monitor.accounts_tracked <= 2
    assert len(monitor.round_trips._out) <= 2
