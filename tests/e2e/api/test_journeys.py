"""The main journeys over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from netfin.sim import openbanking as ob

from .conftest import World

OB = "/open-banking/v4.0"


def test_ais_reads_only_the_authorised_account(world: World) -> None:
    http, alice = world.http, world.alice
    _, token = ob.account_access(
        http, world.tpp_a, alice, world.token_url, account_ids=[alice.account_ids[0]]
    )
    accounts = http.get(f"{OB}/aisp/accounts", headers=ob.bearer(token)).json()["Data"]["Account"]
    assert [a["AccountId"] for a in accounts] == [alice.account_ids[0]]
    balances = http.get(f"{OB}/aisp/accounts/{alice.account_ids[0]}/balances", headers=ob.bearer(token))
    assert balances.status_code == 200
    assert {b["Type"]: b["Amount"]["Amount"] for b in balances.json()["Data"]["Balance"]} == {
        "ITAV": "100.00",
        "ITBD": "100.00",
    }
    other = http.get(f"{OB}/aisp/accounts/{alice.account_ids[1]}/balances", headers=ob.bearer(token))
    assert other.status_code == 404
    assert other.json()["code"] == "account_not_found"


def test_domestic_payment_moves_money_once(world: World) -> None:
    http, alice, bob = world.http, world.alice, world.bob
    payment = ob.initiation("12.34", "GBP", bob.ibans[0])
    result = ob.domestic_payment(
        http, world.tpp_a, alice, world.token_url, debtor_account_id=alice.account_ids[0], payment=payment
    )
    assert result["Data"]["Status"] == "ACSC"
    bob_accounts = http.get("/v1/me/accounts", headers=ob.bearer(bob.session)).json()
    assert bob_accounts[0]["booked"] == {"amount": "12.34", "currency": "GBP"}
    alice_accounts = http.get("/v1/me/accounts", headers=ob.bearer(alice.session)).json()
    assert alice_accounts[0]["booked"] == {"amount": "87.66", "currency": "GBP"}
