"""End-to-end payment throughput through the service layer.

Each payment is a wallet-to-wallet payment order: idempotency lookup,
endpoint resolution, the risk-decision hook, the SCA policy, the order and
its transitions written, one linked ledger chain (the money, the payer's
daily and annual windows, the payer's headroom back, the payee's headroom),
the outcome and its outbox event, and the audit entries.

Modes:

* ``single``: ``PaymentOrders.submit`` one order at a time (what an app does);
* ``batch``: ``PaymentOrders.submit_many`` with ``--batch`` orders per call
  (what a file import does);
* ``gateway``: ``--callers`` threads each submitting one order at a time
  through ``OrderGateway`` (what the API does: concurrent requests' orders
  are booked together).

Run from the repository root::

    .venv/bin/python benchmarks/payments.py                         # both stores, both modes
    .venv/bin/python benchmarks/payments.py --stores sqlite --payments 2000
    .venv/bin/python benchmarks/payments.py --json
    .venv/bin/python benchmarks/payments.py --profile sqlite        # where the time goes (cProfile)
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from netfin.bank import Bank, BankSettings
from netfin.identity.model import Actor, PartyKind
from netfin.payments.orders import Endpoint, EndpointKind, OrderKind, OrderRequest, OrderStatus, ScaPolicy

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
OPERATOR = Actor("operator", "bench")
WALLETS = 200
STEPS = ("remote_id_check", "bank_card", "in_person_check")


def _setup(bank: Bank, wallets: int) -> list[tuple[int, str]]:
    """``wallets`` fully verified holders, each with a funded class-1 wallet."""
    bank.orders.sca = ScaPolicy(threshold_minor={}, default_threshold_minor=10**12, new_payee=False)
    holders: list[tuple[int, str]] = []
    for n in range(wallets):
        party = bank.identity.register_party(
            OPERATOR, kind=PartyKind.PERSON, display_name=f"Holder {n}", phone=f"+86138{n:08d}"
        )
        for step in STEPS:
            bank.identity.raise_kyc(OPERATOR, party.party_id, evidence=step, reference=step)
        account = bank.identity.open_account(OPERATOR, party.party_id, currency="CNY")
        bank.identity.deposit_cash(OPERATOR, account.account_id, 10**9)
        wallet = bank.wallets.open(OPERATOR, party.party_id)
        top_up = OrderRequest(
            OrderKind.ACCOUNT_TO_ACCOUNT,
            Endpoint(EndpointKind.ACCOUNT, account.account_id),
            Endpoint(EndpointKind.WALLET, wallet.wallet_id),
            10**8,
            "CNY",
        )
        order = bank.orders.submit(OPERATOR, party.party_id, top_up, idempotency_key="top-up")
        assert order.status is OrderStatus.SETTLED, order
        holders.append((party.party_id, wallet.wallet_id))
    return holders


def _requests(holders: list[tuple[int, str]], count: int, seed: int) -> list[tuple[int, OrderRequest]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        (party, payer), (_, payee) = rng.sample(holders, 2)
        out.append(
            (
                party,
                OrderRequest(
                    OrderKind.WALLET_TO_WALLET,
                    Endpoint(EndpointKind.WALLET, payer),
                    Endpoint(EndpointKind.WALLET, payee),
                    rng.randint(1, 5_000),
                    "CNY",
                ),
            )
        )
    return out


def run_single(bank: Bank, holders: list[tuple[int, str]], count: int) -> dict[str, Any]:
    work = _requests(holders, count, 1)
    latencies = []
    settled = 0
    start = time.perf_counter()
    for n, (party, request) in enumerate(work):
        t0 = time.perf_counter()
        order = bank.orders.submit(OPERATOR, party, request, idempotency_key=f"s-{n}")
        latencies.append(time.perf_counter() - t0)
        settled += order.status is OrderStatus.SETTLED
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "mode": "single",
        "payments": count,
        "settled": settled,
        "seconds": round(elapsed, 3),
        "per_s": round(count / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1e3, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1e3, 2),
    }


def run_batch(bank: Bank, holders: list[tuple[int, str]], count: int, batch: int) -> dict[str, Any]:
    """One payer party per batch call (a batch is one party's, like a pain.001 file)."""
    work = _requests(holders, count, 2)
    by_party: dict[int, list[OrderRequest]] = {}
    for party, request in work:
        by_party.setdefault(party, []).append(request)
    calls: list[tuple[int, list[tuple[OrderRequest, str]]]] = []
    n = 0
    for party, requests in by_party.items():
        for i in range(0, len(requests), batch):
            chunk = []
            for request in requests[i : i + batch]:
                chunk.append((request, f"b-{n}"))
                n += 1
            calls.append((party, chunk))
    settled = 0
    start = time.perf_counter()
    for party, chunk in calls:
        for result in bank.orders.submit_many(OPERATOR, party, chunk):
            settled += getattr(result, "status", None) is OrderStatus.SETTLED
    elapsed = time.perf_counter() - start
    return {
        "mode": f"batch (≈{count // max(1, len(calls))} per call)",
        "payments": count,
        "settled": settled,
        "seconds": round(elapsed, 3),
        "per_s": round(count / elapsed, 1),
    }


def run_gateway(bank: Bank, holders: list[tuple[int, str]], count: int, callers: int) -> dict[str, Any]:
    """``callers`` threads, each submitting one order at a time through ``OrderGateway``."""
    import threading

    work = _requests(holders, count, 3)
    latencies: list[float] = []
    settled = [0]
    lock = threading.Lock()

    def caller(c: int) -> None:
        for n in range(c, count, callers):
            party, request = work[n]
            t0 = time.perf_counter()
            order = bank.order_gateway.submit(OPERATOR, party, request, idempotency_key=f"g-{n}")
            elapsed = time.perf_counter() - t0
            with lock:
                latencies.append(elapsed)
                settled[0] += order.status is OrderStatus.SETTLED

    threads = [threading.Thread(target=caller, args=(c,)) for c in range(callers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {"mode": f"gateway ({callers} concurrent callers, one order each per call)", "payments": count,
            "settled": settled[0], "seconds": round(elapsed, 3), "per_s": round(count / elapsed, 1),
            "p50_ms": round(latencies[len(latencies) // 2] * 1e3, 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1e3, 2)}  # fmt: skip


def _store(name: str, tmp: Path) -> tuple[str, Any]:
    if name == "sqlite":
        return f"sqlite:///{tmp / 'payments.db'}", None
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    base = os.environ.get("NETFIN_BENCH_PG", PG_DEFAULT)

    def drop() -> None:
        engine = sa.create_engine(base)
        with engine.begin() as c:
            c.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()

    return f"{base}?schema={schema}", drop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--payments", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--wallets", type=int, default=WALLETS)
    parser.add_argument("--callers", type=int, default=64, help="concurrent callers of the gateway mode")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", choices=["sqlite", "postgresql"])
    args = parser.parse_args(argv)
    results = []
    stores = [args.profile] if args.profile else args.stores.split(",")
    for store in stores:
        with tempfile.TemporaryDirectory() as tmp:
            url, cleanup = _store(store, Path(tmp))
            try:
                with Bank(BankSettings(database_url=url)) as bank:
                    t0 = time.perf_counter()
                    holders = _setup(bank, args.wallets)
                    print(
                        f"[{store}] set-up of {args.wallets} wallets: {time.perf_counter() - t0:.1f} s",
                        file=sys.stderr,
                    )
                    if args.profile:
                        profiler = cProfile.Profile()
                        profiler.enable()
                        run_single(bank, holders, args.payments // 3)
                        run_batch(bank, holders, args.payments, args.batch)
                        profiler.disable()
                        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
                        continue
                    for result in (
                        run_single(bank, holders, args.payments // 3),
                        run_batch(bank, holders, args.payments, args.batch),
                        run_gateway(bank, holders, args.payments, args.callers),
                    ):
                        result["store"] = store
                        results.append(result)
                        if not args.json:
                            print(json.dumps(result))
                    assert bank.ledger.verify().ok
            finally:
                if cleanup is not None:
                    cleanup()
    if args.json:
        print(json.dumps({"results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
