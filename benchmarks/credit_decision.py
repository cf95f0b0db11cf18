"""Credit decision latency: the BNPL decision a partner's checkout waits for, and a loan application.

    .venv/bin/python benchmarks/credit_decision.py --customers 500 --decisions 2000 [--db URL] [--http 500]

A bank on a fresh embedded SQLite database (or ``--db``), ``--customers``
parties with funded CNY accounts and a few active loans among them; then
``--decisions`` BNPL decisions (observed income from the ledger, starter
scorecard, KYC and amount checks, offer schedule, stored and audited)
through ``Origination.apply`` in-process, timed one by one, and the same
number of instalment-loan applications. With ``--http N``, N more BNPL
decisions through the whole API stack in process (FastAPI's test client: the
partner's access token, the customer's account-access consent, the decision,
JSON), timed one by one. The budget: the decision must fit
inside the payment API's p99 of 50 ms (issue 3), leaving room for the HTTP
and authorisation around it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from netfin.api.app import create_app
from netfin.bank import Bank, BankSettings
from netfin.core.money import Money
from netfin.credit.origination import Application
from netfin.identity.model import Actor, PartyKind
from netfin.sim import openbanking as ob
from netfin.sim.authenticator import SoftwareAuthenticator

BASE_URL, ORIGIN = "http://127.0.0.1:8000", "http://localhost:8000"

OPERATOR = Actor("operator", "bench")


def _setup(bank: Bank, customers: int, seed: int) -> list[tuple[int, str]]:
    rng = random.Random(seed)
    parties = []
    for k in range(customers):
        party = bank.identity.register_party(
            OPERATOR, kind=PartyKind.PERSON, display_name=f"Customer {k}", phone=f"+86138{k:08d}"
        )
        bank.identity.raise_kyc(OPERATOR, party.party_id, evidence="remote_id_check", reference="bench")
        account = bank.identity.open_account(OPERATOR, party.party_id, currency="CNY")
        bank.identity.deposit_cash(OPERATOR, account.account_id, rng.randrange(100_000, 5_000_000))
        parties.append((party.party_id, account.account_id))
    return parties


def _time(bank: Bank, applications: list[Application]) -> dict[str, float | int]:
    latencies = np.empty(len(applications), dtype=np.int64)
    decisions: dict[str, int] = {}
    for i, application in enumerate(applications):
        t0 = time.perf_counter_ns()
        outcome = bank.origination.apply(OPERATOR, application)
        latencies[i] = time.perf_counter_ns() - t0
        decisions[outcome.decision.value] = decisions.get(outcome.decision.value, 0) + 1
    ms = latencies / 1e6
    return {
        "decisions": len(applications),
        "per_second": round(len(applications) / (latencies.sum() / 1e9), 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
        **{f"outcome_{k}": v for k, v in sorted(decisions.items())},
    }


def _http(bank: Bank, requests: int) -> dict[str, float | int]:
    """BNPL decisions through the API: a partner's token, the customer's consent, the decision."""
    with TestClient(create_app(bank), base_url=BASE_URL) as http:
        operator = ob.staff_session(bank)
        buyer = ob.sign_up(
            http, SoftwareAuthenticator("localhost", ORIGIN), name="Buyer", phone="+8613700000001"
        )
        account = ob.open_funded_account(http, buyer, operator, "CNY", "5000.00")
        bank.identity.raise_kyc(OPERATOR, int(buyer.party_id, 16), evidence="remote_id_check", reference="b")
        seller = ob.sign_up(
            http, SoftwareAuthenticator("localhost", ORIGIN), name="Shop", phone="+8613700000002"
        )
        shop = ob.open_funded_account(http, seller, operator, "CNY", "0")
        market = ob.register_tpp(http, operator, "Market", ["accounts", "payments"], "https://m.example/cb")
        consent_id, _ = ob.account_access(
            http, market, buyer, BASE_URL + "/oauth2/token", account_ids=[account]
        )
        token = market.client_credentials(http, BASE_URL + "/oauth2/token", "payments")
        body = {
            "consent_id": consent_id,
            "price": "600.00",
            "currency": "CNY",
            "instalments": 3,
            "merchant_account_id": shop,
        }
        latencies = np.empty(requests, dtype=np.int64)
        for i in range(requests):
            t0 = time.perf_counter_ns()
            response = http.post("/v1/credit/bnpl/offers", json=body, headers=ob.bearer(token))
            latencies[i] = time.perf_counter_ns() - t0
            if response.status_code != 201:
                raise SystemExit(f"request {i}: {response.status_code} {response.text}")
    ms = latencies / 1e6
    return {
        "requests": requests,
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--db", default=None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--http", type=int, default=0, help="BNPL decisions through the API stack as well")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        os.environ.setdefault("NETFIN_RATE_LIMITS", "tpp_client=1000000:100000,customer=1000000:100000")
        bank = Bank(BankSettings(database_url=url, issuer=BASE_URL, origins=(ORIGIN,)))
        try:
            parties = _setup(bank, args.customers, args.seed)
            rng = random.Random(args.seed)
            bnpl = [
                Application(
                    p,
                    "checkout_bnpl",
                    Money(rng.randrange(10_000, 400_000), "CNY"),
                    rng.choice([3, 6, 12]),
                    None,
                    channel="partner",
                    client_id="bench-shop",
                    merchant_account_id=a,
                )
                for p, a in (rng.choice(parties) for _ in range(args.decisions))
            ]
            loans = [
                Application(
                    p,
                    "personal_instalment",
                    Money(rng.randrange(100_000, 2_000_000), "CNY"),
                    rng.choice([3, 6, 12, 24, 36]),
                    Money(rng.randrange(300_000, 3_000_000), "CNY"),
                )
                for p, _ in (rng.choice(parties) for _ in range(args.decisions))
            ]
            _time(bank, bnpl[:50])  # warm the caches and the interpreter
            result: dict[str, object] = {"bnpl": _time(bank, bnpl), "instalment": _time(bank, loans)}
            if args.http:
                result["bnpl_http"] = _http(bank, args.http)
            result["database"] = url.split(":")[0]
        finally:
            bank.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
