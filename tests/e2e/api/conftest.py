"""A bank, its HTTP API in-process, and a small cast (staff, two customers, two TPPs), on each store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from netfin.api.app import create_app
from netfin.bank import Bank, BankSettings
from netfin.core.clock import NS_PER_SECOND, ManualClock
from netfin.identity.model import Role
from netfin.sim import openbanking as ob
from netfin.sim.authenticator import SoftwareAuthenticator
from netfin.sim.tpp import SoftwareTpp

BASE_URL = "http://127.0.0.1:8000"
TOKEN_URL = BASE_URL + "/oauth2/token"
ORIGIN = "http://localhost:8000"


@pytest.fixture
def api_clock() -> ManualClock:
    """Starts at the real time (client assertions carry real timestamps); tests may advance it."""
    return ManualClock(time.time_ns())


@pytest.fixture
def bank(store_url: str, api_clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bank]:
    monkeypatch.delenv("NETFIN_REDIS_URL", raising=False)
    monkeypatch.setenv("NETFIN_RATE_LIMITS", "tpp_client=10000:10000,customer=10000:10000")
    opened = Bank(BankSettings(database_url=store_url), clock=api_clock)
    yield opened
    opened.close()


@pytest.fixture
def client(bank: Bank) -> Iterator[TestClient]:
    with TestClient(create_app(bank), base_url=BASE_URL) as http:
        yield http


@dataclass
class World:
    bank: Bank
    http: TestClient
    clock: ManualClock
    operator: str
    auditor: str
    alice: ob.Customer
    bob: ob.Customer
    tpp_a: SoftwareTpp
    tpp_b: SoftwareTpp
    token_url: str = TOKEN_URL

    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds=seconds)

    def now_s(self) -> int:
        return self.clock.now_ns() // NS_PER_SECOND


@pytest.fixture
def world(bank: Bank, client: TestClient, api_clock: ManualClock) -> World:
    operator = ob.staff_session(bank)
    auditor = ob.staff_session(bank, roles=(Role.AUDITOR,), name="Audit")
    alice = ob.sign_up(
        client, SoftwareAuthenticator("localhost", ORIGIN), name="Alice", phone="+447700900123"
    )
    ob.open_funded_account(client, alice, operator, "GBP", "100.00")
    ob.open_funded_account(client, alice, operator, "GBP", "5.00")
    bob = ob.sign_up(client, SoftwareAuthenticator("localhost", ORIGIN), name="Bob", phone="+447700900124")
    ob.open_funded_account(client, bob, operator, "GBP", "0")
    scopes = ["accounts", "payments", "fundsconfirmations"]
    tpp_a = ob.register_tpp(client, operator, "Budget app", scopes, "https://tpp-a.example/cb")
    tpp_b = ob.register_tpp(client, operator, "Other app", scopes, "https://tpp-b.example/cb")
    return World(bank, client, api_clock, operator, auditor, alice, bob, tpp_a, tpp_b)
