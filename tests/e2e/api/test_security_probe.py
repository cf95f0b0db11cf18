import uuid, json, base64
from collections.abc import Iterator
import pytest
from netfin.bank import Bank, BankSettings
from netfin.sim import openbanking as ob
from .conftest import World
from .test_security_probe_help import show

OB = "/open-banking/v4.0"

@pytest.fixture
def bank(store_url, api_clock, monkeypatch) -> Iterator[Bank]:
    monkeypatch.delenv("NETFIN_REDIS_URL", raising=False)
    monkeypatch.setenv("NETFIN_RATE_LIMITS", "tpp_client=3:1,customer=10000:10000")
    opened = Bank(BankSettings(database_url=store_url), clock=api_clock)
    yield opened
    opened.close()

def test_probe(world: World) -> None:
    http, alice, bob = world.http, world.alice, world.bob
    ga = world.tpp_a.client_credentials(http, world.token_url, "accounts")
    gb = world.tpp_b.client_credentials(http, world.token_url, "accounts")
    for i in range(5):
        r = http.get(f"{OB}/event-subscriptions", headers=ob.bearer(ga)); show(f"a{i}", r); print(r.headers.get("retry-after"))
    show("b", http.get(f"{OB}/event-subscriptions", headers=ob.bearer(gb)))
    world.advance(1)
    show("a after 1", http.get(f"{OB}/event-subscriptions", headers=ob.bearer(ga)))
    show("a after 1", http.get(f"{OB}/event-subscriptions", headers=ob.bearer(ga)))
    for e in http.get("/v1/audit?limit=500", headers=ob.bearer(world.auditor)).json()["entries"][-8:]:
        print(e["action"], e["outcome"], e["actor_kind"], e["actor_id"][:8], e["subject_kind"], e["subject_id"][:40], e["consent_id"], e["reason"])
