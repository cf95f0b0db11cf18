"""Rate limits: a token bucket per TPP client and per customer answers 429 with Retry-After.

This module builds its bank with tiny buckets, set before the bank reads them;
the clock is a ManualClock, so no token comes back until the test advances it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from netfin.bank import Bank, BankSettings
from netfin.core.clock import ManualClock
from netfin.sim import openbanking as ob

from .conftest import World
from .test_security_support import OB, assert_problem, audit_entries

TPP_BURST = 3
CUSTOMER_BURST = 6
# Both buckets refill one token a second, so this many seconds fills either one.
REFILL_S = CUSTOMER_BURST


@pytest.fixture
def bank(store_url: str, api_clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bank]:
    """The bank of ``tests/e2e/api/conftest.py`` with tiny rate limits."""
    monkeypatch.delenv("NETFIN_REDIS_URL", raising=False)
    monkeypatch.setenv("NETFIN_RATE_LIMITS", f"tpp_client={TPP_BURST}:1,customer={CUSTOMER_BURST}:1")
    opened = Bank(BankSettings(database_url=store_url), clock=api_clock)
    yield opened
    opened.close()


def _assert_limited(response: Any) -> int:
    """A 429 rate_limit_exceeded problem; returns its Retry-After in seconds."""
    assert_problem(response, 429, "rate_limit_exceeded")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= REFILL_S
    return retry_after


def test_tpp_client_over_its_limit_gets_429_until_the_bucket_refills(world: World) -> None:
    http = world.http
    world.advance(REFILL_S)  # the sign-ups of the fixture spent some tokens
    a = world.tpp_a.client_credentials(http, world.token_url, "accounts")
    b = world.tpp_b.client_credentials(http, world.token_url, "accounts")
    subscriptions = f"{OB}/event-subscriptions"
    for _ in range(TPP_BURST):
        assert http.get(subscriptions, headers=ob.bearer(a)).status_code == 200
    retry_after = _assert_limited(http.get(subscriptions, headers=ob.bearer(a)))
    # The limit is per client: B has its own bucket, and a refusal does not refill A's.
    assert http.get(subscriptions, headers=ob.bearer(b)).status_code == 200
    _assert_limited(http.get(f"{OB}/aisp/accounts", headers=ob.bearer(a)))

    world.advance(retry_after)
    assert http.get(subscriptions, headers=ob.bearer(a)).status_code == 200
    _assert_limited(http.get(subscriptions, headers=ob.bearer(a)))


def test_customer_over_its_limit_gets_429_until_the_bucket_refills(world: World) -> None:
    http, alice = world.http, world.alice
    world.advance(REFILL_S)
    for _ in range(CUSTOMER_BURST):
        assert http.get("/v1/me", headers=ob.bearer(alice.session)).status_code == 200
    retry_after = _assert_limited(http.get("/v1/me/accounts", headers=ob.bearer(alice.session)))
    assert http.get("/v1/me", headers=ob.bearer(world.bob.session)).status_code == 200
    world.advance(retry_after)
    assert http.get("/v1/me", headers=ob.bearer(alice.session)).status_code == 200


def test_rate_limit_refusals_are_audited(world: World) -> None:
    http = world.http
    world.advance(REFILL_S)
    grant = world.tpp_a.client_credentials(http, world.token_url, "accounts")
    for _ in range(TPP_BURST):
        http.get(f"{OB}/event-subscriptions", headers=ob.bearer(grant))
    _assert_limited(http.get(f"{OB}/event-subscriptions", headers=ob.bearer(grant)))
    refused = audit_entries(http, world.auditor, actor_id=world.tpp_a.client_id, outcome="refused")
    assert [e["reason"] for e in refused] == ["rate_limit_exceeded"]
