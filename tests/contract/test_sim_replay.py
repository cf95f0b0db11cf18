"""The synthetic bank through the real payment path, on both stores: orders, risk decisions, the ledger."""

from __future__ import annotations

import sqlalchemy as sa

from netfin.bank import Bank, BankSettings
from netfin.core.clock import ManualClock
from netfin.risk.store import risk_decisions
from netfin.sim.bank import BankConfig, ScenarioRates
from netfin.sim.bank.replay import replay


def test_replayed_payments_are_orders_with_decisions(store_url: str) -> None:
    clock = ManualClock()
    rates = ScenarioRates(account_takeover=0.01, card_testing=0.01, app_scam=0.005, mule_network=0.0,
                          synthetic_identity=0.0)  # fmt: skip
    config = BankConfig(seed=4, customers=100, days=6, rates=rates)
    with Bank(BankSettings(database_url=store_url), clock=clock) as bank:
        bank.orders.sca = type(bank.orders.sca)(
            threshold_minor={}, default_threshold_minor=10**12, new_payee=False
        )
        summary = replay(bank, config, clock=clock, events_max=600)
        bank.risk.log.flush()  # type: ignore[union-attr]
        with bank.engine.connect() as c:
            decided = c.execute(sa.select(sa.func.count()).select_from(risk_decisions)).scalar_one()
            with_orders = c.execute(
                sa.select(sa.func.count())
                .select_from(risk_decisions)
                .where(risk_decisions.c.order_id.is_not(None))
            ).scalar_one()
            features = [f for (f,) in c.execute(sa.select(risk_decisions.c.features))]
        assert summary.submitted == 600 and summary.accounts > 50
        assert summary.statuses["settled"] > 500
        assert decided == with_orders == summary.submitted  # one decision per order, each naming its order
        assert sum(summary.frauds.values()) > 0
        # The channel's device, place and merchant category reached the risk engine.
        assert sum(1 for f in features if f["device"]) > 300 and any(f["mcc"] for f in features)
        assert any(f["new_device"] for f in features) and any(f["geo_distance_km"] > 0 for f in features)
        assert bank.ledger.verify().ok
