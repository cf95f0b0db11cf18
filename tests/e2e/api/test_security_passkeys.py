"""Passkeys: an assertion counts once, from a counter that moved forward, for the passkey's
owner only, at sign-in and when a customer authorises a consent."""

from __future__ import annotations

import secrets
from typing import Any

from netfin.identity.credentials.model import CHALLENGE_TTL_S_DEFAULT
from netfin.sim import openbanking as ob

from .conftest import World
from .test_security_support import OB, assert_problem, read


def _login_options(world: World, customer: ob.Customer) -> dict[str, Any]:
    options = world.http.post("/v1/auth/passkey/options", json={"party_id": customer.party_id})
    return ob.expect(options, 200)  # type: ignore[no-any-return]


def _login(world: World, credential: dict[str, Any]) -> Any:
    return world.http.post("/v1/auth/passkey", json={"credential": credential})


def _awaiting_consent(world: World) -> str:
    grant = world.tpp_a.client_credentials(world.http, world.token_url, "accounts")
    created = world.http.post(
        f"{OB}/aisp/account-access-consents",
        json={"Data": {"Permissions": ["ReadAccountsBasic"]}, "Risk": {}},
        headers=ob.bearer(grant),
    )
    return str(ob.expect(created, 201)["Data"]["ConsentId"])


def _authorise_options(world: World, customer: ob.Customer, consent_id: str) -> dict[str, Any]:
    headers = ob.bearer(customer.session)
    options = world.http.post(f"/v1/me/consents/{consent_id}/authorise/options", headers=headers)
    return ob.expect(options, 200)  # type: ignore[no-any-return]


def _authorise(world: World, customer: ob.Customer, consent_id: str, credential: dict[str, Any]) -> Any:
    body = {"account_ids": [customer.account_ids[0]], "credential": credential}
    return world.http.post(
        f"/v1/me/consents/{consent_id}/authorise", json=body, headers=ob.bearer(customer.session)
    )


def _status(world: World, consent_id: str) -> str:
    return str(read(world.http, f"/v1/me/consents/{consent_id}", world.alice.session)["status"])


def test_replayed_assertions_are_refused(world: World) -> None:
    alice = world.alice
    credential = alice.authenticator.get(_login_options(world, alice))
    assert _login(world, credential).status_code == 200
    assert_problem(_login(world, credential), 401, "challenge_replayed")

    # A failed attempt burns its challenge too: a good answer to it comes too late.
    options = _login_options(world, alice)
    assert_problem(
        _login(world, alice.authenticator.get(options, corrupt_signature=True)), 401, "assertion_invalid"
    )
    assert_problem(_login(world, alice.authenticator.get(options)), 401, "challenge_replayed")

    # The consent step-up: one assertion authorises one consent, once.
    first, second = _awaiting_consent(world), _awaiting_consent(world)
    credential = alice.authenticator.get(_authorise_options(world, alice, first))
    assert _authorise(world, alice, first, credential).status_code == 200
    assert_problem(_authorise(world, alice, second, credential), 401, "challenge_replayed")
    assert_problem(_authorise(world, alice, first, credential), 401, "challenge_replayed")
    # The assertion cannot be spent at sign-in either.
    assert_problem(_login(world, credential), 401, "challenge_replayed")
    assert _status(world, second) == "AWAU"


def test_stale_sign_counter_is_refused(world: World) -> None:
    alice = world.alice
    authenticator = alice.authenticator
    [credential_id] = authenticator.credential_ids
    counter = authenticator.sign_count(credential_id)
    assert counter > 0

    # The counter repeats its last value (a clone signing in after the original).
    authenticator.set_sign_count(credential_id, counter - 1)
    assert_problem(_login(world, authenticator.get(_login_options(world, alice))), 401, "sign_count_stale")
    # The counter goes back to the start (an authenticator restored from a backup).
    consent_id = _awaiting_consent(world)
    authenticator.set_sign_count(credential_id, 0)
    stale = authenticator.get(_authorise_options(world, alice, consent_id))
    assert_problem(_authorise(world, alice, consent_id, stale), 401, "sign_count_stale")
    assert _status(world, consent_id) == "AWAU"

    # Once the counter moves past the stored value the passkey works again.
    authenticator.set_sign_count(credential_id, counter + 10)
    fresh = authenticator.get(_authorise_options(world, alice, consent_id))
    assert _authorise(world, alice, consent_id, fresh).status_code == 200


def test_another_customers_passkey_cannot_authorise_a_consent(world: World) -> None:
    alice, bob = world.alice, world.bob
    consent_id = _awaiting_consent(world)
    # Bob's passkey answering the challenge issued to Alice.
    [bob_credential] = bob.authenticator.credential_ids
    options = _authorise_options(world, alice, consent_id)
    foreign = bob.authenticator.get(options, credential_id=bob_credential)
    assert_problem(_authorise(world, alice, consent_id, foreign), 401, "credential_not_allowed")
    # Bob's own, valid assertion presented with Alice's session.
    bobs = bob.authenticator.get(_authorise_options(world, bob, consent_id))
    assert_problem(_authorise(world, alice, consent_id, bobs), 403, "passkey_party_mismatch")
    assert _status(world, consent_id) == "AWAU"

    own = alice.authenticator.get(_authorise_options(world, alice, consent_id))
    approval = _authorise(world, alice, consent_id, own)
    assert ob.expect(approval, 200)["consent"]["status"] == "AUTH"


def test_assertions_that_break_a_ceremony_rule_are_refused(world: World) -> None:
    alice = world.alice
    authenticator = alice.authenticator
    for kwargs, code in (
        ({"origin": "https://evil.example"}, "origin_mismatch"),
        ({"rp_id": "evil.example"}, "rp_id_mismatch"),
        ({"user_verified": False}, "user_verification_missing"),
        ({"user_present": False}, "user_presence_missing"),
        ({"corrupt_signature": True}, "assertion_invalid"),
        ({"challenge": secrets.token_bytes(32)}, "challenge_invalid"),
    ):
        response = _login(world, authenticator.get(_login_options(world, alice), **kwargs))
        assert_problem(response, 401, code, str(kwargs))
    options = _login_options(world, alice)
    world.advance(CHALLENGE_TTL_S_DEFAULT + 1)
    assert_problem(_login(world, authenticator.get(options)), 401, "challenge_expired")
    malformed = {"id": "x", "rawId": "x", "type": "public-key", "response": {}}
    assert_problem(_login(world, malformed), 401, "credential_malformed")
