"""Precision and recall per typology, per scenario and per scheme, on a hand-checked example."""

from __future__ import annotations

from netfin.aml.evaluation import evaluate
from netfin.aml.monitoring.model import Alert


def alert(scenario: str, typology: str, account: str, ts: int = 0) -> Alert:
    return Alert(scenario, 1, "p@1", account, ts, "high", "", "", {}, (), typology)


def test_a_hand_checked_evaluation() -> None:
    alerts = [
        alert("FAN", "fan_in", "hub"),  # right
        alert("FAN", "fan_in", "shop", 1),  # a false positive
        alert("FAN", "fan_in", "shop", 2),  # the same account again
        alert("TRIP", "round_trip", "r1"),  # right
        alert("TRIP", "round_trip", "hub", 3),  # laundering, but not a round trip
        alert("LV", "large_value", "rich"),  # reporting, not suspicion
    ]
    labels = {"hub": {"fan_in"}, "r1": {"round_trip"}, "r2": {"round_trip"}, "feeder": set()}
    schemes = {"f": ("fan_in", frozenset({"hub", "feeder"})), "c": ("round_trip", frozenset({"r1", "r2"}))}
    ev = evaluate(alerts, labels, patterns=schemes)
    by = {t.typology: t for t in ev.typologies}
    assert (by["fan_in"].flagged, by["fan_in"].precision, by["fan_in"].recall) == (2, 0.5, 1.0)
    assert (by["round_trip"].precision, by["round_trip"].precision_any, by["round_trip"].recall) == (
        0.5,
        1.0,
        0.5,
    )
    assert by["large_value"].recall is None and by["large_value"].precision_any == 0.0
    assert ev.accounts_labelled == 4 and ev.accounts_flagged == 3  # hub, shop, r1
    assert (ev.overall.precision, ev.overall.recall) == (round(2 / 3, 4), 0.5)
    fan = next(s for s in ev.scenarios if s.scenario == "FAN")
    assert (fan.alerts, fan.accounts, fan.alert_precision) == (3, 2, round(1 / 3, 4))
    assert [(p.typology, p.patterns, p.detected_own) for p in ev.patterns] == [
        ("fan_in", 1, 1),
        ("round_trip", 1, 1),
    ]


def test_no_alerts_and_no_labels() -> None:
    ev = evaluate([], {})
    assert ev.overall.precision is None and ev.overall.recall is None and not ev.typologies


def test_a_small_bank_still_gets_every_scheme() -> None:
    from netfin.sim.laundering import TYPOLOGIES, LaunderingConfig, generate_laundering

    run = generate_laundering(LaunderingConfig(seed=3, customers=100, days=10, schemes_per_typology=6))
    assert {typology for typology, _ in run.patterns.values()} == set(TYPOLOGIES)
    assert run.table.num_rows > 0 and len(run.labels) > 8 * 6
