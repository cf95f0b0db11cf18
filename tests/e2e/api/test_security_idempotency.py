"""Idempotency keys: a repeat gets the first answer and moves no money twice; a key reused
for another body is a conflict; one caller's key never reaches another caller's answers."""

from __future__ import annotations

from typing import Any

from netfin.sim import openbanking as ob
from netfin.sim.tpp import SoftwareTpp

from .conftest import World
from .test_security_support import OB, assert_problem, idempotency, random_hex, read

REPLAYED = "idempotent-replayed"


def _transfers(world: World, customer: ob.Customer) -> list[dict[str, Any]]:
    page = read(world.http, f"/v1/me/accounts/{customer.account_ids[0]}/transfers", customer.session)
    return page["transfers"]  # type: ignore[no-any-return]


def _payment_token(world: World, initiation: dict[str, Any]) -> tuple[str, str]:
    http, tpp = world.http, world.tpp_a
    grant = tpp.client_credentials(http, world.token_url, "payments")
    document = {"Data": {"Initiation": initiation}, "Risk": {}}
    created = http.post(
        f"{OB}/pisp/domestic-payment-consents", **ob.signed(tpp, document, **idempotency(grant))
    )
    consent_id = ob.expect(created, 201)["Data"]["ConsentId"]
    approval = ob.authorise(http, world.alice, consent_id, [world.alice.account_ids[0]])
    return consent_id, tpp.exchange_code(
        http, world.token_url, approval["authorization_code"], approval["redirect_uri"]
    )


def test_same_key_and_body_replay_the_payment_without_moving_money_twice(world: World) -> None:
    http, alice = world.http, world.alice
    initiation = ob.initiation("10.00", "GBP", world.bob.ibans[0])
    consent_id, token = _payment_token(world, initiation)
    key = random_hex()

    def pay(document: dict[str, Any], header: str = "x-idempotency-key") -> Any:
        body = {"Data": {"ConsentId": consent_id, "Initiation": document}, "Risk": {}}
        signed = ob.signed(world.tpp_a, body, **ob.bearer(token, **{header: key}))
        return http.post(f"{OB}/pisp/domestic-payments", **signed)

    before = len(_transfers(world, alice))
    # A refused attempt releases its key, so the corrected request may use it.
    wrong = {**initiation, "InstructedAmount": {"Amount": "99.00", "Currency": "GBP"}}
    assert_problem(pay(wrong), 400, "consent_mismatch")
    first = pay(initiation)
    assert first.status_code == 201 and REPLAYED not in first.headers
    for header in ("x-idempotency-key", "Idempotency-Key"):
        again = pay(initiation, header)
        assert (again.status_code, again.content) == (first.status_code, first.content), header
        assert again.headers[REPLAYED] == "true"
        assert again.headers["location"] == first.headers["location"]
    assert len(_transfers(world, alice)) == before + 1
    assert read(http, "/v1/me/accounts", alice.session)[0]["booked"]["amount"] == "90.00"

    other = pay({**initiation, "EndToEndIdentification": "another"})
    body = assert_problem(other, 409, "idempotency_key_reused")
    assert "Idempotency-Key" in body["detail"]
    assert len(_transfers(world, alice)) == before + 1


def test_same_key_with_another_body_is_a_conflict(world: World) -> None:
    http, alice = world.http, world.alice
    grant = world.tpp_a.client_credentials(http, world.token_url, "payments")
    key = random_hex()

    def consent(amount: str) -> Any:
        document = {"Data": {"Initiation": ob.initiation(amount, "GBP", world.bob.ibans[0])}, "Risk": {}}
        document["Data"]["Initiation"]["InstructionIdentification"] = "same-instruction"
        document["Data"]["Initiation"]["EndToEndIdentification"] = "same-e2e"
        signed = ob.signed(world.tpp_a, document, **idempotency(grant, key))
        return http.post(f"{OB}/pisp/domestic-payment-consents", **signed)

    first = ob.expect(consent("1.00"), 201)
    assert_problem(consent("2.00"), 409, "idempotency_key_reused")
    assert ob.expect(consent("1.00"), 201) == first

    session = ob.bearer(alice.session, **{"Idempotency-Key": key})
    opened = ob.expect(http.post("/v1/me/accounts", json={"currency": "GBP"}, headers=session), 201)
    assert ob.expect(http.post("/v1/me/accounts", json={"currency": "GBP"}, headers=session), 201) == opened
    conflict = http.post("/v1/me/accounts", json={"currency": "EUR"}, headers=session)
    assert_problem(conflict, 409, "idempotency_key_reused")
    assert len(read(http, "/v1/me/accounts", alice.session)) == 3


def test_keys_are_scoped_to_their_caller(world: World) -> None:
    http = world.http
    key = "shared-key-" + random_hex()[:8]
    document = {"Data": {"Permissions": ["ReadBalances"]}, "Risk": {}}

    def create(tpp: SoftwareTpp, data: dict[str, Any]) -> Any:
        grant = tpp.client_credentials(http, world.token_url, "accounts")
        return http.post(
            f"{OB}/aisp/account-access-consents", **ob.signed(tpp, data, **idempotency(grant, key))
        )

    from_a = create(world.tpp_a, document)
    # B sends the same key and the same body: B gets a consent of its own, not A's stored answer.
    from_b = create(world.tpp_b, document)
    assert (from_a.status_code, from_b.status_code) == (201, 201)
    assert REPLAYED not in from_b.headers
    consent_a, consent_b = from_a.json()["Data"]["ConsentId"], from_b.json()["Data"]["ConsentId"]
    assert consent_a != consent_b
    # And B's other body under the same key conflicts with B's own first use only.
    other = {"Data": {"Permissions": ["ReadAccountsBasic"]}, "Risk": {}}
    assert_problem(create(world.tpp_b, other), 409, "idempotency_key_reused")
    assert create(world.tpp_a, document).json()["Data"]["ConsentId"] == consent_a
    assert create(world.tpp_b, document).json()["Data"]["ConsentId"] == consent_b

    # Customers too: Alice's key opens nothing for Bob, and Bob's use of it is his own.
    def open_account(customer: ob.Customer) -> str:
        headers = ob.bearer(customer.session, **{"Idempotency-Key": key})
        opened = http.post(
            "/v1/me/accounts", json={"currency": "GBP", "nickname": "savings"}, headers=headers
        )
        return str(ob.expect(opened, 201)["account_id"])

    alice_account, bob_account = open_account(world.alice), open_account(world.bob)
    assert alice_account != bob_account
    assert bob_account in {a["account_id"] for a in read(http, "/v1/me/accounts", world.bob.session)}
    assert alice_account not in {a["account_id"] for a in read(http, "/v1/me/accounts", world.bob.session)}
