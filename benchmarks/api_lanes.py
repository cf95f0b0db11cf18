"""The lanes' saving, in process: server CPU per request with lanes on and off, side by side.

    .venv/bin/python benchmarks/api_lanes.py [--db URL] [--reads 2000] [--payments 100] [--rounds 6] [--json]

One bank (a fresh embedded SQLite file, or ``--db``; a PostgreSQL URL may
name a schema: ``postgresql://postgres@127.0.0.1:5432/test?schema=lanes``),
two applications over it: ``create_app(bank)`` (the busiest routes served
by lanes, ``netfin.api.lanes``) and ``create_app(bank, lanes=False)`` (every
request through FastAPI). Requests go to each application's ASGI callable
directly, one at a time, with no network and no HTTP parser, so what differs
between the two is the work in the application: ``--rounds`` rounds, each
``--reads`` balance reads (``GET …/accounts/{AccountId}/balances``) and
``--payments`` payments (``POST …/pisp/domestic-payments``, each with its own
authorised consent and token, prepared beforehand and not timed) per
application, the order of the two alternating from round to round. The
figure is this process's CPU time per request (``time.process_time``: every
thread of the server, the audit writer and the decision log included; the
database server's own CPU is not in it), and the wall time beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from netfin.api.app import create_app
from netfin.bank import Bank, BankSettings
from netfin.sim import openbanking as ob
from netfin.sim.authenticator import SoftwareAuthenticator

BASE_URL, ORIGIN = "http://127.0.0.1:8000", "http://localhost:8000"
TOKEN_URL = BASE_URL + "/oauth2/token"
OB = "/open-banking/v4.0"
WARMUP = 20


class _Cast:
    def __init__(self, bank: Bank, payments: int) -> None:
        """A customer with a funded account, a payee, a TPP; an AIS token; ``payments`` signed
        payment requests, each under a consent of its own that the customer authorised."""
        with TestClient(create_app(bank), base_url=BASE_URL) as http:
            operator = ob.staff_session(bank)
            alice = ob.sign_up(
                http, SoftwareAuthenticator("localhost", ORIGIN), name="Alice", phone="+447700900123"
            )
            ob.open_funded_account(http, alice, operator, "GBP", "10000.00")
            bob = ob.sign_up(
                http, SoftwareAuthenticator("localhost", ORIGIN), name="Bob", phone="+447700900124"
            )
            ob.open_funded_account(http, bob, operator, "GBP", "0")
            tpp = ob.register_tpp(http, operator, "Lanes", ["accounts", "payments"], "https://tpp.example/cb")
            account = alice.account_ids[0]
            _, self.ais_token = ob.account_access(
                http, tpp, alice, TOKEN_URL, account_ids=[account], permissions=["ReadBalances"]
            )
            self.balances_path = f"{OB}/aisp/accounts/{account}/balances"
            self.payments: list[dict[str, Any]] = []
            for number in range(payments):
                self.payments.append(_prepared_payment(http, tpp, alice, bob))
                if number % 100 == 99:
                    print(f"    {number + 1}/{payments} payments prepared", flush=True)


def _prepared_payment(http: TestClient, tpp: Any, payer: ob.Customer, payee: ob.Customer) -> dict[str, Any]:
    grant = tpp.client_credentials(http, TOKEN_URL, "payments")
    initiation = ob.initiation("0.01", "GBP", payee.ibans[0])
    consent_doc = {"Data": {"Initiation": initiation}, "Risk": {}}
    headers = ob.bearer(grant, **{"x-idempotency-key": uuid.uuid4().hex})
    created = http.post(f"{OB}/pisp/domestic-payment-consents", **ob.signed(tpp, consent_doc, **headers))
    consent_id = ob.expect(created, 201)["Data"]["ConsentId"]
    approval = ob.authorise(http, payer, consent_id, [payer.account_ids[0]])
    token = tpp.exchange_code(http, TOKEN_URL, approval["authorization_code"], approval["redirect_uri"])
    body = {"Data": {"ConsentId": consent_id, "Initiation": initiation}, "Risk": {}}
    return ob.signed(tpp, body, **ob.bearer(token, **{"x-idempotency-key": uuid.uuid4().hex}))


async def _call(app: Any, method: str, path: str, headers: dict[str, str], body: bytes, expect: int) -> None:
    raw = [(b"host", b"127.0.0.1:8000"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": raw, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000),
    }  # fmt: skip
    given = False
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # no disconnect: the answer is awaited in full
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    if statuses != [expect]:
        raise SystemExit(f"{method} {path}: expected {expect}, got {statuses}")


async def _measure(
    apps: dict[str, Any], rounds: int, count: int, request: Callable[[Any], Awaitable[None]]
) -> dict[str, list[tuple[float, float]]]:
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in apps}
    for number in range(rounds):
        order = list(apps.items()) if number % 2 == 0 else list(apps.items())[::-1]
        for name, app in order:
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(count):
                await request(app)
            results[name].append(((time.process_time() - cpu) / count, (time.perf_counter() - wall) / count))
    return results


async def _run(bank: Bank, cast: _Cast, args: argparse.Namespace) -> dict[str, Any]:
    apps = {"lanes": create_app(bank), "fastapi": create_app(bank, lanes=False)}
    read_headers = ob.bearer(cast.ais_token)
    queue = iter(cast.payments)

    async def read(app: Any) -> None:
        await _call(app, "GET", cast.balances_path, read_headers, b"", 200)

    async def pay(app: Any) -> None:
        signed = next(queue)
        await _call(app, "POST", f"{OB}/pisp/domestic-payments", signed["headers"], signed["content"], 201)

    for app in apps.values():
        for _ in range(WARMUP):
            await read(app)
            await pay(app)
    out: dict[str, Any] = {}
    for operation, count, request in (("balances", args.reads, read), ("payments", args.payments, pay)):
        if count:
            out[operation] = await _measure(apps, args.rounds, count, request)
    return out


def _summary(results: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for operation, by_app in results.items():
        row: dict[str, Any] = {}
        for name, samples in by_app.items():
            cpu = [c * 1e6 for c, _ in samples]
            row[name] = {
                "cpu_us_per_request_rounds": [round(c, 1) for c in cpu],
                "cpu_us_per_request_mean": round(statistics.fmean(cpu), 1),
                "wall_us_per_request_mean": round(statistics.fmean(w * 1e6 for _, w in samples), 1),
            }
        lanes, plain = row["lanes"]["cpu_us_per_request_mean"], row["fastapi"]["cpu_us_per_request_mean"]
        row["cpu_saved_pct"] = round(100 * (plain - lanes) / plain, 1)
        summary[operation] = row
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--reads", type=int, default=2000, help="balance reads per application per round")
    parser.add_argument("--payments", type=int, default=100, help="payments per application per round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args()
    if min(args.reads, args.payments) < 0 or args.rounds < 1:
        parser.error("--reads and --payments must be >= 0, --rounds >= 1")
    os.environ.setdefault("NETFIN_RATE_LIMITS", "tpp_client=1000000:1000000,customer=1000000:1000000")
    with tempfile.TemporaryDirectory() as scratch:
        url = args.db or f"sqlite:///{Path(scratch) / 'lanes.db'}"
        bank = Bank(BankSettings(database_url=url))
        try:
            needed = (args.payments * args.rounds + WARMUP) * 2
            print(f"preparing {needed} payments (consent, passkey authorisation, token each)", flush=True)
            cast = _Cast(bank, needed)
            summary = _summary(asyncio.run(_run(bank, cast, args)))
        finally:
            bank.close()
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(
        "| operation | lanes: CPU µs/request | FastAPI: CPU µs/request | saved | wall µs (lanes / FastAPI) |"
    )
    print("|---|--:|--:|--:|--:|")
    for operation, row in summary.items():
        lanes, plain = row["lanes"], row["fastapi"]
        print(
            f"| {operation} | {lanes['cpu_us_per_request_mean']:,.0f} {lanes['cpu_us_per_request_rounds']} "
            f"| {plain['cpu_us_per_request_mean']:,.0f} {plain['cpu_us_per_request_rounds']} "
            f"| {row['cpu_saved_pct']}% "
            f"| {lanes['wall_us_per_request_mean']:,.0f} / {plain['wall_us_per_request_mean']:,.0f} |"
        )


if __name__ == "__main__":
    main()
