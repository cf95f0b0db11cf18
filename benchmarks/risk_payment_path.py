"""Fraud decisions through the payment path: a bank with a trained model, orders submitted for real.

    .venv/bin/python benchmarks/risk_payment_path.py [--store sqlite|postgresql] [--orders 3000]

A model is trained on a small synthetic bank and becomes the bank's champion; 200 customers with
funded CNY accounts then pay each other account to account, one order at a time (``submit``) and in
batches of 500 (``submit_many``). Reported: the risk decision's own latency as the engine recorded
it (features, rules, model, policy, reasons), and the whole order's (screening, ledger, records).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from netfin.bank import Bank, BankSettings
from netfin.core.clock import ManualClock
from netfin.identity.model import Actor, PartyKind
from netfin.payments.orders.model import Endpoint, EndpointKind, OrderKind, OrderRequest
from netfin.risk.evaluation import evaluate_history
from netfin.risk.model import Scorer
from netfin.risk.rules import load_default_ruleset
from netfin.risk.store import risk_decisions
from netfin.sim.bank import BankConfig, generate
from netfin.sim.bank.replay import replay

OPERATOR = Actor("operator", "bench")
CALIBRATION = Path(__file__).resolve().parents[2] / "shared" / "data" / "fraud" / "paysim_params"


def _url(store: str) -> str:
    if store == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    return f"postgresql://postgres@127.0.0.1:5432/test?schema=bench_risk_{uuid.uuid4().hex[:12]}"


def _customers(bank: Bank, n: int) -> list[tuple[int, str]]:
    found = []
    for i in range(n):
        party = bank.identity.register_party(OPERATOR, kind=PartyKind.PERSON, display_name=f"P{i}",
                                             phone=f"+86138{i:08d}")  # fmt: skip
        for step in ("remote_id_check", "bank_card"):
            bank.identity.raise_kyc(OPERATOR, party.party_id, evidence=step, reference=f"r{i}{step}")
        account = bank.identity.open_account(OPERATOR, party.party_id, currency="CNY")
        bank.identity.deposit_cash(OPERATOR, account.account_id, 10_000_000)
        found.append((party.party_id, account.account_id))
    return found


def _request(rng: random.Random, people: list[tuple[int, str]]) -> tuple[int, OrderRequest]:
    (payer, source), (_, target) = rng.sample(people, 2)
    amount = rng.choice([1_000, 5_000, 20_000, 80_000])
    return payer, OrderRequest(OrderKind.ACCOUNT_TO_ACCOUNT, Endpoint(EndpointKind.ACCOUNT, source),
                               Endpoint(EndpointKind.ACCOUNT, target), amount, "CNY")  # fmt: skip


def _ms(values: list[float]) -> str:
    a = np.asarray(values)
    return f"p50 {np.percentile(a, 50):.2f} ms, p99 {np.percentile(a, 99):.2f} ms (n={len(a)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--orders", type=int, default=3_000)
    args = parser.parse_args()
    config = BankConfig(seed=3, customers=5_000, days=14, calibration_dir=CALIBRATION)
    model, _ = evaluate_history(pa.Table.from_batches(list(generate(config))), ruleset=load_default_ruleset())
    rng = random.Random(5)
    url = _url(args.store)
    clock = ManualClock()
    with Bank(BankSettings(database_url=url), clock=clock) as bank:
        bank.orders.sca = type(bank.orders.sca)(threshold_minor={}, default_threshold_minor=10**12,
                                                new_payee=False)  # fmt: skip
        bank.risk.champion = Scorer(model)
        people = _customers(bank, 200)
        single: list[float] = []
        for n in range(args.orders):
            payer, request = _request(rng, people)
            clock.advance(ns=250_000_000)  # four orders a second, over the bank
            started = time.perf_counter()
            bank.orders.submit(OPERATOR, payer, request, idempotency_key=f"s{n}")
            single.append((time.perf_counter() - started) * 1e3)
        started = time.perf_counter()
        batches = 0
        for b in range(args.orders // 500):
            by_payer: dict[int, list[tuple[OrderRequest, str]]] = {}
            for n in range(500):
                payer, request = _request(rng, people)
                by_payer.setdefault(payer, []).append((request, f"b{b}-{n}"))
            for payer, items in by_payer.items():
                bank.orders.submit_many(OPERATOR, payer, items)
            batches += 500
        batch_rate = batches / (time.perf_counter() - started)
        bank.risk.log.flush()  # type: ignore[union-attr]
        with bank.engine.connect() as c:
            latencies = [r / 1e3 for (r,) in c.execute(sa.select(risk_decisions.c.latency_us))]
            first = dict(c.execute(sa.select(risk_decisions.c.action, sa.func.count())
                                   .group_by(risk_decisions.c.action)).all())  # fmt: skip
            c.execute(sa.delete(risk_decisions))
            c.commit()
        started = time.perf_counter()
        replayed = replay(bank, BankConfig(seed=8, customers=400, days=30, calibration_dir=CALIBRATION),
                          clock=clock, events_max=args.orders)  # fmt: skip
        replay_s = time.perf_counter() - started
        bank.risk.log.flush()  # type: ignore[union-attr]
        with bank.engine.connect() as c:
            replay_latencies = [r / 1e3 for (r,) in c.execute(sa.select(risk_decisions.c.latency_us))]
            actions = dict(c.execute(sa.select(risk_decisions.c.action, sa.func.count())
                                     .group_by(risk_decisions.c.action)).all())  # fmt: skip
    if args.store == "postgresql":
        schema = url.split("schema=")[1]
        with sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test").begin() as c:
            c.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    print(f"store {args.store}: {len(latencies):,} decisions of random pairs {first}")
    print(f"  risk decision inside the order: {_ms(latencies)}")
    print(f"  whole order, one at a time (submit): {_ms(single)}")
    print(f"  submit_many, 500 orders spread over payers: {batch_rate:.0f} orders/s")
    print(
        f"  the synthetic bank replayed as orders (seed 8, 400 customers): {replayed.submitted:,} orders "
        f"in {replay_s:.1f} s, statuses {dict(replayed.statuses)}, frauds {dict(replayed.frauds)}, "
        f"decisions {actions}"
    )
    print(f"  risk decision inside those orders: {_ms(replay_latencies)}")


if __name__ == "__main__":
    main()
