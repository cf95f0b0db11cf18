"""Labels feed the next training, on both stores: decide a synthetic stream, label it, retrain."""

from __future__ import annotations

from netfin.core.clock import ManualClock
from netfin.core.ids import SeededIds
from netfin.identity.model import Actor
from netfin.risk.evaluation import CATEGORICAL, decisions_table, train_from_decisions
from netfin.risk.features import OnlineFeatures
from netfin.risk.model import TrainConfig
from netfin.risk.rules import load_default_ruleset
from netfin.risk.service import FixedRules, RiskEngine
from netfin.risk.store import DecisionLog, RiskStore
from netfin.sim.bank import BankConfig, ScenarioRates, iter_events
from netfin.storage import open_engine

ANALYST = Actor("risk_analyst", "analyst-1")


def test_decisions_and_labels_train_the_next_model(store_url: str) -> None:
    engine = open_engine(store_url)
    clock = ManualClock()
    risk = RiskEngine(
        clock=clock, ids=SeededIds(clock, 3), rules=FixedRules(load_default_ruleset()),
        features=OnlineFeatures(), store=RiskStore(engine), log=DecisionLog(engine),
    )  # fmt: skip
    rates = ScenarioRates(account_takeover=0.003, card_testing=0.004, app_scam=0.002, mule_network=0.003,
                          synthetic_identity=0.002)  # fmt: skip
    frauds = 0
    try:
        for event in iter_events(BankConfig(seed=5, customers=800, days=8, rates=rates)):
            clock.set(event.ts_ms * 1_000_000)
            decision = risk.decide(event)
            if event.label:  # the customer disputes it, or the analyst confirms it
                frauds += 1
                risk.label(
                    ANALYST,
                    decision.decision_id,
                    "confirmed_fraud" if decision.action.rank else "missed_fraud",
                )
        pairs = risk.store.training_pairs(limit=1_000_000)  # type: ignore[union-attr]
    finally:
        risk.close()
        engine.dispose()
    table = decisions_table(pairs)
    assert table.num_rows == len(pairs)
    assert sum(table["label"].to_pylist()) == frauds > 20
    config = TrainConfig(categorical=CATEGORICAL, min_data_in_leaf=20, rounds_max=50)
    model = train_from_decisions(pairs, config)
    assert model.metadata["fingerprint"]["rows"] == len(pairs)
    assert "payer_count_1h" in model.feature_names and model.metadata["metrics"]["train"]["frauds"] > 0
