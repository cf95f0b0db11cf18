"""Isolation: a TPP reaches only what its own consents cover, a customer only what is theirs,
and no refusal tells a caller without rights whether an id exists.

Each refusal for an id that exists but belongs to someone else is compared with
the refusal for an id that does not exist at all: same status, same code, same
detail, same members.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from netfin.identity.credentials.model import PASSWORD_FAILURES_MAX
from netfin.sim import openbanking as ob
from netfin.sim.authenticator import SoftwareAuthenticator

from .conftest import ORIGIN, World
from .test_security_support import (
    OB,
    assert_same_refusal,
    idempotency,
    neighbour_id,
    random_hex,
    read,
    refusal,
)

EVENT = "urn:uk:org:openbanking:events:resource-update"


def _tpp_b_resources(world: World) -> dict[str, str]:
    """TPP B's consents of every kind, a payment and an event subscription."""
    http, tpp_b = world.http, world.tpp_b
    aac, _ = ob.account_access(
        http, tpp_b, world.bob, world.token_url, account_ids=[world.bob.account_ids[0]]
    )
    payment = ob.domestic_payment(
        http,
        tpp_b,
        world.alice,
        world.token_url,
        debtor_account_id=world.alice.account_ids[0],
        payment=ob.initiation("1.00", "GBP", world.bob.ibans[0]),
    )
    funds_grant = tpp_b.client_credentials(http, world.token_url, "fundsconfirmations")
    debtor = {"SchemeName": "UK.OBIE.IBAN", "Identification": world.bob.ibans[0]}
    fcc = ob.expect(
        http.post(
            f"{OB}/cbpii/funds-confirmation-consents",
            json={"Data": {"DebtorAccount": debtor}},
            headers=ob.bearer(funds_grant),
        ),
        201,
    )
    accounts_grant = tpp_b.client_credentials(http, world.token_url, "accounts")
    callback = {"CallbackUrl": "https://tpp-b.example/events", "Version": "4.0", "EventTypes": [EVENT]}
    subscription = ob.expect(
        http.post(
            f"{OB}/event-subscriptions", **ob.signed(tpp_b, {"Data": callback}, **ob.bearer(accounts_grant))
        ),
        201,
    )
    return {
        "aac": aac,
        "pdc": payment["Data"]["ConsentId"],
        "dp": payment["Data"]["DomesticPaymentId"],
        "fcc": fcc["Data"]["ConsentId"],
        "subscription": subscription["Data"]["EventSubscriptionId"],
        "accounts_grant": accounts_grant,
        "funds_grant": funds_grant,
    }


def _subscription_body(subscription_id: str) -> dict[str, Any]:
    return {
        "Data": {
            "EventSubscriptionId": subscription_id,
            "CallbackUrl": "https://tpp-a.example/stolen",
            "Version": "4.0",
            "EventTypes": [EVENT],
        }
    }


def test_tpp_a_cannot_read_or_delete_tpp_b_resources_by_id(world: World) -> None:
    http = world.http
    b = _tpp_b_resources(world)
    ais, pis, funds = (
        world.tpp_a.client_credentials(http, world.token_url, scope)
        for scope in ("accounts", "payments", "fundsconfirmations")
    )
    missing = {kind: f"{kind}-{random_hex()}" for kind in ("aac", "pdc", "fcc", "dp")}
    missing["subscription"] = random_hex()
    probes: list[tuple[str, str, str, str, str]] = [
        ("GET", "/aisp/account-access-consents/{aac}", "aac", ais, "consent_not_found"),
        ("DELETE", "/aisp/account-access-consents/{aac}", "aac", ais, "consent_not_found"),
        ("GET", "/pisp/domestic-payment-consents/{pdc}", "pdc", pis, "consent_not_found"),
        ("GET", "/pisp/domestic-payment-consents/{pdc}/funds-confirmation", "pdc", pis, "consent_not_found"),
        ("GET", "/cbpii/funds-confirmation-consents/{fcc}", "fcc", funds, "consent_not_found"),
        ("DELETE", "/cbpii/funds-confirmation-consents/{fcc}", "fcc", funds, "consent_not_found"),
        ("GET", "/pisp/domestic-payments/{dp}", "dp", pis, "payment_not_found"),
        ("GET", "/pisp/domestic-payments/{dp}/payment-details", "dp", pis, "payment_not_found"),
        (
            "DELETE",
            "/event-subscriptions/{subscription}",
            "subscription",
            ais,
            "event_subscription_not_found",
        ),
    ]
    for method, template, kind, token, code in probes:
        forbidden = http.request(method, OB + template.format(**{kind: b[kind]}), headers=ob.bearer(token))
        absent = http.request(method, OB + template.format(**{kind: missing[kind]}), headers=ob.bearer(token))
        assert_same_refusal(forbidden, absent, 404, code, f"{method} {template}")
    forbidden, absent = (
        http.put(
            f"{OB}/event-subscriptions/{subscription_id}",
            **ob.signed(world.tpp_a, _subscription_body(subscription_id), **ob.bearer(ais)),
        )
        for subscription_id in (b["subscription"], missing["subscription"])
    )
    assert_same_refusal(forbidden, absent, 404, "event_subscription_not_found")

    # Nothing of B's changed, and A's own listing shows none of it.
    b_consent = read(http, f"{OB}/aisp/account-access-consents/{b['aac']}", b["accounts_grant"])
    assert b_consent["Data"]["Status"] == "AUTH"
    b_funds = read(http, f"{OB}/cbpii/funds-confirmation-consents/{b['fcc']}", b["funds_grant"])
    assert b_funds["Data"]["Status"] == "AWAU"
    subscriptions = read(http, f"{OB}/event-subscriptions", b["accounts_grant"])["Data"]["EventSubscription"]
    assert [(s["EventSubscriptionId"], s["CallbackUrl"]) for s in subscriptions] == [
        (b["subscription"], "https://tpp-b.example/events")
    ]
    tpp_a_subscriptions = ob.expect(http.get(f"{OB}/event-subscriptions", headers=ob.bearer(ais)), 200)
    assert tpp_a_subscriptions["Data"]["EventSubscription"] == []


def test_tpp_a_cannot_act_under_tpp_b_consent_ids(world: World) -> None:
    """Naming B's consent in a request body gets A no further than a made-up id."""
    http = world.http
    b = _tpp_b_resources(world)
    pis = world.tpp_a.client_credentials(http, world.token_url, "payments")
    funds = world.tpp_a.client_credentials(http, world.token_url, "fundsconfirmations")
    initiation = ob.initiation("1.00", "GBP", world.bob.ibans[0])

    def pay(consent_id: str) -> Any:
        body = {"Data": {"ConsentId": consent_id, "Initiation": initiation}, "Risk": {}}
        return http.post(f"{OB}/pisp/domestic-payments", **ob.signed(world.tpp_a, body, **idempotency(pis)))

    def confirm(consent_id: str) -> Any:
        data = {
            "ConsentId": consent_id,
            "Reference": "probe",
            "InstructedAmount": {"Amount": "1.00", "Currency": "GBP"},
        }
        signed = ob.signed(world.tpp_a, {"Data": data}, **idempotency(funds))
        return http.post(f"{OB}/cbpii/funds-confirmations", **signed)

    assert_same_refusal(pay(b["pdc"]), pay("pdc-" + random_hex()), 404, "consent_not_found")
    assert_same_refusal(confirm(b["fcc"]), confirm("fcc-" + random_hex()), 404, "consent_not_found")


def test_consent_bound_token_reaches_only_the_consented_account(world: World) -> None:
    http, alice, bob = world.http, world.alice, world.bob
    consented = alice.account_ids[0]
    ob.account_access(http, world.tpp_b, bob, world.token_url, account_ids=[bob.account_ids[0]])
    _, token = ob.account_access(http, world.tpp_a, alice, world.token_url, account_ids=[consented])
    listed = ob.expect(http.get(f"{OB}/aisp/accounts", headers=ob.bearer(token)), 200)
    assert [a["AccountId"] for a in listed["Data"]["Account"]] == [consented]

    guesses = {
        "same customer, outside the consent": alice.account_ids[1],
        "another customer's (under TPP B's consent)": bob.account_ids[0],
        "the next id": neighbour_id(consented, 1),
        "the previous id": neighbour_id(consented, -1),
        "a random id": random_hex(),
        "the longest id allowed": "9" * 128,
    }
    for suffix in ("", "/balances", "/transactions"):
        absent = http.get(f"{OB}/aisp/accounts/{random_hex()}{suffix}", headers=ob.bearer(token))
        for label, guess in guesses.items():
            forbidden = http.get(f"{OB}/aisp/accounts/{guess}{suffix}", headers=ob.bearer(token))
            assert_same_refusal(forbidden, absent, 404, "account_not_found", f"{label}{suffix}")


def test_customers_cannot_reach_each_others_consents_or_accounts(world: World) -> None:
    http, alice, bob = world.http, world.alice, world.bob
    consent_id, _ = ob.account_access(
        http, world.tpp_a, alice, world.token_url, account_ids=[alice.account_ids[0]]
    )
    as_bob = ob.bearer(bob.session)
    unknown = "aac-" + random_hex()
    for method, template in (
        ("GET", "/v1/me/consents/{}"),
        ("POST", "/v1/me/consents/{}/revoke"),
        ("POST", "/v1/me/consents/{}/reject"),
        ("POST", "/v1/me/consents/{}/authorise/options"),
    ):
        forbidden = http.request(method, template.format(consent_id), headers=as_bob)
        absent = http.request(method, template.format(unknown), headers=as_bob)
        assert_same_refusal(forbidden, absent, 404, "consent_not_found", f"{method} {template}")
    forbidden = http.get(f"/v1/me/accounts/{alice.account_ids[0]}/transfers", headers=as_bob)
    absent = http.get(f"/v1/me/accounts/{random_hex()}/transfers", headers=as_bob)
    assert_same_refusal(forbidden, absent, 404, "account_not_found")

    # Bob may open a consent that awaits authorisation, but not over Alice's account.
    grant = world.tpp_a.client_credentials(http, world.token_url, "accounts")
    awaiting = ob.expect(
        http.post(
            f"{OB}/aisp/account-access-consents",
            json={"Data": {"Permissions": ["ReadAccountsBasic"]}, "Risk": {}},
            headers=ob.bearer(grant),
        ),
        201,
    )["Data"]["ConsentId"]

    def authorise_over(account_id: str) -> Any:
        options = ob.expect(http.post(f"/v1/me/consents/{awaiting}/authorise/options", headers=as_bob), 200)
        body = {"account_ids": [account_id], "credential": bob.authenticator.get(options)}
        return http.post(f"/v1/me/consents/{awaiting}/authorise", json=body, headers=as_bob)

    assert_same_refusal(
        authorise_over(alice.account_ids[0]), authorise_over(random_hex()), 404, "account_not_found"
    )

    mine = ob.expect(http.get(f"/v1/me/consents/{consent_id}", headers=ob.bearer(alice.session)), 200)
    assert mine["status"] == "AUTH"
    assert consent_id not in {c["consent_id"] for c in read(http, "/v1/me/consents", bob.session)["consents"]}
    assert ob.expect(http.get(f"/v1/me/consents/{awaiting}", headers=as_bob), 200)["status"] == "AWAU"


def test_refusals_before_any_lookup_do_not_tell_whether_an_id_exists(world: World) -> None:
    """No token, a token of the wrong kind, a role that does not fit, a wrong password:
    each is answered alike for an id that exists and one that does not."""
    http, alice, bob = world.http, world.alice, world.bob
    consent_id, _ = ob.account_access(
        http, world.tpp_a, alice, world.token_url, account_ids=[alice.account_ids[0]]
    )
    for headers, code in (({}, "token_missing"), (ob.bearer(alice.session), "token_type_invalid")):
        forbidden = http.get(f"{OB}/aisp/account-access-consents/{consent_id}", headers=headers)
        absent = http.get(f"{OB}/aisp/account-access-consents/aac-{random_hex()}", headers=headers)
        assert_same_refusal(forbidden, absent, 401, code, str(headers)[:20])
        assert forbidden.headers["www-authenticate"].startswith("Bearer")

    kyc = {"evidence": "in_person_check", "reference": "probe"}
    for method, template, body in (("GET", "/v1/parties/{}", None), ("POST", "/v1/parties/{}/kyc", kyc)):
        forbidden, absent = (
            http.request(method, template.format(party), json=body, headers=ob.bearer(alice.session))
            for party in (bob.party_id, random_hex())
        )
        assert_same_refusal(forbidden, absent, 403, "role_missing", template)

    known, unknown = (
        http.post("/v1/auth/password", json={"party_id": party, "password": "not-the-password"})
        for party in (alice.party_id, random_hex())
    )
    assert_same_refusal(known, unknown, 401, "password_invalid")


def test_passkey_options_do_not_tell_whether_a_party_exists(client: TestClient) -> None:
    customer = ob.sign_up(
        client, SoftwareAuthenticator("localhost", ORIGIN), name="Carol", phone="+447700900125"
    )
    known = ob.expect(client.post("/v1/auth/passkey/options", json={"party_id": customer.party_id}), 200)
    unknown = ob.expect(client.post("/v1/auth/passkey/options", json={"party_id": random_hex()}), 200)
    assert known.keys() == unknown.keys()
    assert len(known.get("allowCredentials", [])) == len(unknown.get("allowCredentials", []))


def test_password_lockout_does_not_tell_whether_a_party_exists(client: TestClient) -> None:
    customer = ob.sign_up(
        client, SoftwareAuthenticator("localhost", ORIGIN), name="Dave", phone="+447700900126"
    )
    unknown_party = random_hex()
    for attempt in range(PASSWORD_FAILURES_MAX + 1):
        known, unknown = (
            client.post("/v1/auth/password", json={"party_id": party, "password": "not-the-password"})
            for party in (customer.party_id, unknown_party)
        )
        assert refusal(known) == refusal(unknown), f"attempt {attempt + 1}"
