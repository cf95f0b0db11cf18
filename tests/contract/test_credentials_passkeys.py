"""Passkey ceremonies against both stores, driven by the software authenticator.

Each refusal is checked by its exact code, and where a refusal must leave
state alone (the stored sign counter), that state is read back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from netfin.core.clock import ManualClock
from netfin.core.errors import Conflict, LimitExceeded, NetfinError, NotFound, Unauthenticated
from netfin.core.ids import SeededIds
from netfin.identity.credentials import (
    PASSKEYS_PER_PARTY_MAX,
    TABLES,
    AssertionInvalid,
    ChallengeExpired,
    ChallengeInvalid,
    ChallengeReplayed,
    CredentialAlreadyRegistered,
    CredentialMalformed,
    CredentialNotAllowed,
    CredentialNotFound,
    CredentialRejected,
    Credentials,
    CredentialUnknown,
    OriginMismatch,
    PasskeyCredential,
    RpIdMismatch,
    SignCountStale,
    UserHandleMismatch,
    UserPresenceMissing,
    UserVerificationMissing,
)
from netfin.identity.credentials.model import CHALLENGE_TTL_S_DEFAULT, CREDENTIAL_JSON_BYTES_MAX
from netfin.sim.authenticator import SoftwareAuthenticator, b64url_decode, b64url_encode
from netfin.storage import metadata, open_engine

RP_ID = "netfin.example"
ORIGIN = "https://netfin.example"
# Cheap argon2 parameters: these tests exercise passkeys, not password hashing.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def engine(empty_store_url: str) -> Iterator[sa.Engine]:
    opened = open_engine(empty_store_url, run_migrations=False)
    metadata.create_all(opened, tables=list(TABLES))
    yield opened
    opened.dispose()


@pytest.fixture
def ids(clock: ManualClock) -> SeededIds:
    return SeededIds(clock, seed=7)


@pytest.fixture
def credentials(engine: sa.Engine, clock: ManualClock, ids: SeededIds) -> Credentials:
    return Credentials(
        engine,
        clock=clock,
        ids=ids,
        rp_id=RP_ID,
        rp_name="netfin",
        origins=[ORIGIN],
        password_hasher=FAST_HASHER,
    )


@pytest.fixture
def authenticator() -> SoftwareAuthenticator:
    return SoftwareAuthenticator(RP_ID, ORIGIN, seed=1)


def register(
    credentials: Credentials, authenticator: SoftwareAuthenticator, party_id: int, label: str = "phone"
) -> PasskeyCredential:
    options = credentials.begin_registration(party_id, "alice@example.com", "Alice")
    return credentials.finish_registration(party_id, authenticator.create(options), label=label)


def refused(error: pytest.ExceptionInfo[NetfinError], code: str) -> None:
    assert error.value.code == code
    assert isinstance(error.value, CredentialRejected)
    assert isinstance(error.value, Unauthenticated)


def test_register_then_authenticate_round_trip(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds, clock: ManualClock
) -> None:
    party_id = ids.new_id()
    passkey = register(credentials, authenticator, party_id)
    assert passkey.party_id == party_id
    assert passkey.credential_id == authenticator.credential_ids[0]
    assert passkey.sign_count == 0
    assert passkey.transports == ("hybrid", "internal")
    assert passkey.aaguid == "00000000-0000-0000-0000-000000000000"
    assert passkey.label == "phone"
    assert credentials.list_passkeys(party_id) == [passkey]

    clock.advance(seconds=5)
    options = credentials.begin_authentication(party_id)
    assert [item["id"] for item in options["allowCredentials"]] == [b64url_encode(passkey.credential_id)]
    assert options["userVerification"] == "required"
    assert options["rpId"] == RP_ID
    result = credentials.finish_authentication(authenticator.get(options))
    assert (result.party_id, result.credential_id) == (party_id, passkey.credential_id)
    assert result.new_sign_count == 1
    assert result.user_verified is True
    (stored,) = credentials.list_passkeys(party_id)
    assert (stored.sign_count, stored.last_used_ns) == (1, clock.now_ns())


def test_discoverable_authentication_finds_the_party(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    party_id = ids.new_id()
    register(credentials, authenticator, party_id)
    options = credentials.begin_authentication(None)
    assert options["allowCredentials"] == []
    result = credentials.finish_authentication(authenticator.get(options))
    assert result.party_id == party_id


def test_registration_options_exclude_existing_passkeys(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    party_id = ids.new_id()
    first = register(credentials, authenticator, party_id)
    options = credentials.begin_registration(party_id, "alice@example.com")
    assert [item["id"] for item in options["excludeCredentials"]] == [b64url_encode(first.credential_id)]
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    assert options["rp"] == {"name": "netfin", "id": RP_ID}
    assert options["user"]["displayName"] == "alice@example.com"


def test_replayed_assertion_is_refused_and_changes_nothing(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    party_id = ids.new_id()
    register(credentials, authenticator, party_id)
    response = authenticator.get(credentials.begin_authentication(party_id))
    credentials.finish_authentication(response)
    with pytest.raises(ChallengeReplayed) as error:
        credentials.finish_authentication(response)
    refused(error, "challenge_replayed")
    assert credentials.list_passkeys(party_id)[0].sign_count == 1


def test_fresh_assertion_over_an_old_challenge_is_refused(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    party_id = ids.new_id()
    register(credentials, authenticator, party_id)
    options = credentials.begin_authentication(party_id)
    credentials.finish_authentication(authenticator.get(options))
    old_challenge = authenticator.last_challenge
    fresh = credentials.begin_authentication(party_id)
    with pytest.raises(ChallengeReplayed) as error:
        credentials.finish_authentication(authenticator.get(fresh, challenge=old_challenge))
    refused(error, "challenge_replayed")


def test_never_issued_challenge_is_refused(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    party_id = ids.new_id()
    register(credentials, authenticator, party_id)
    options = credentials.begin_authentication(party_id)
    with pytest.raises(ChallengeInvalid) as error:
        credentials.finish_authentication(authenticator.get(options, challenge=b"\x01" * 32))
    refused(error, "challenge_invalid")


def test_expired_challenge_is_refused(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds, clock: ManualClock
) -> None:
    party_id = ids.new_id()
    register(credentials, authenticator, party_id)
    options = credentials.begin_authentication(party_id)
    clock.advance(seconds=CHALLENGE_TTL_S_DEFAULT)
    with pytest.raises(ChallengeExpired) as error:
        credentials.finish_authentication(authenticator.get(options))
    refused(error, "challenge_expired")


def test_challenge_just_before_expiry_is_accepted(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds, clock: ManualClock
) -> None:
    party_id = ids.new_id()
    register(credentials, authenticator, party_id)
    options = credentials.begin_authentication(party_id)
    clock.advance(seconds=CHALLENGE_TTL_S_DEFAULT - 1)
    assert credentials.finish_authentication(authenticator.get(options)).party_id == party_id


def test_expired_registration_challenge_is_refused(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds, clock: ManualClock
) -> None:
    party_id = ids.new_id()
    options = credentials.begin_registration(party_id, "alice")
    clock.advance(seconds=CHALLENGE_TTL_S_DEFAULT + 1)
    with pytest.raises(ChallengeExpired):
        credentials.finish_registration(party_id, authenticator.create(options))
    assert credentials.list_passkeys(party_id) == []


def test_challenge_serves_only_its_purpose_and_party(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    alice, mallory = ids.new_id(), ids.new_id()
    register(credentials, authenticator, alice)
    registration_options = credentials.begin_registration(alice, "alice")
    with pytest.raises(ChallengeInvalid):
        credentials.finish_authentication(
            authenticator.get(
                credentials.begin_authentication(alice),
                challenge=authenticator_challenge(registration_options),
            )
        )
    other = SoftwareAuthenticator(RP_ID, ORIGIN, seed=2)
    with pytest.raises(ChallengeInvalid) as error:
        credentials.finish_registration(mallory, other.create(registration_options))
    refused(error, "challenge_invalid")
    assert credentials.list_passkeys(mallory) == []


def authenticator_challenge(options: dict[str, Any]) -> bytes:
    return b64url_decode(options["challenge"])


def test_stale_sign_counter_is_refused(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    party_id = ids.new_id()
    passkey = register(credentials, authenticator, party_id)
    credentials.finish_authentication(authenticator.get(credentials.begin_authentication(party_id)))
    credentials.finish_authentication(authenticator.get(credentials.begin_authentication(party_id)))
    authenticator.set_sign_count(passkey.credential_id, 1)  # the next assertion reports 2 again
    with pytest.raises(SignCountStale) as error:
        credentials.finish_authentication(authenticator.get(credentials.begin_authentication(party_id)))
    refused(error, "sign_count_stale")
    assert credentials.list_passkeys(party_id)[0].sign_count == 2


def test_counter_that_falls_to_zero_is_stale(credentials: Credentials, ids: SeededIds) -> None:
    party_id = ids.new_id()
    device = SoftwareAuthenticator(RP_ID, ORIGIN, seed=3, sign_count_start=10)
    passkey = register(credentials, device, party_id)
    assert passkey.sign_count == 10
    assert (
        credentials.finish_authentication(
            device.get(credentials.begin_authentication(party_id))
        ).new_sign_count
        == 11
    )
    # A zero counter is only acceptable while the stored one is zero too.
    device.sign_count_step = 0
    device.set_sign_count(passkey.credential_id, 0)
    with pytest.raises(SignCountStale):
        credentials.finish_authentication(device.get(credentials.begin_authentication(party_id)))
    assert credentials.list_passkeys(party_id)[0].sign_count == 11


def test_authenticators_that_never_count_are_accepted(credentials: Credentials, ids: SeededIds) -> None:
    party_id = ids.new_id()
    zero = SoftwareAuthenticator(RP_ID, ORIGIN, seed=4, sign_count_step=0)
    register(credentials, zero, party_id)
    for _ in range(2):
        result = credentials.finish_authentication(zero.get(credentials.begin_authentication(party_id)))
        assert result.new_sign_count == 0


def test_wrong_origin_is_refused(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    party_id = ids.new_id()
    register(credentials, authenticator, party_id)
    options = credentials.begin_authentication(party_id)
    with pytest.raises(OriginMismatch) as error:
        credentials.finish_authentication(authenticator.get(options, origin="https://netfin.example.evil"))
    refused(error, "origin_mismatch")
    assert credentials.list_passkeys(party_id)[0].sign_count == 0


def test_wrong_origin_at_registration_is_refused(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    party_id = ids.new_id()
    options = credentials.begin_registration(party_id, "alice")
    with pytest.raises(OriginMismatch):
        credentials.finish_registration(
            party_id, authenticator.create(options, origin="https://evil.example")
        )
    assert credentials.list_passkeys(party_id) == []


def test_wrong_rp_id_is_refused(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    party_id = ids.new_id()
    register(credentials, authenticator, party_id)
    options = credentials.begin_authentication(party_id)
    with pytest.raises(RpIdMismatch) as error:
        credentials.finish_authentication(authenticator.get(options, rp_id="evil.example"))
    refused(error, "rp_id_mismatch")


def test_wrong_rp_id_at_registration_is_refused(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    party_id = ids.new_id()
    options = credentials.begin_registration(party_id, "alice")
    with pytest.raises(RpIdMismatch):
        credentials.finish_registration(party_id, authenticator.create(options, rp_id="evil.example"))


def test_tampered_signature_is_refused(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    party_id = ids.new_id()
    register(credentials, authenticator, party_id)
    options = credentials.begin_authentication(party_id)
    with pytest.raises(AssertionInvalid) as error:
        credentials.finish_authentication(authenticator.get(options, corrupt_signature=True))
    refused(error, "assertion_invalid")
    assert credentials.list_passkeys(party_id)[0].sign_count == 0


def test_forged_assertion_with_stale_counter_is_not_blamed_on_cloning(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    party_id = ids.new_id()
    passkey = register(credentials, authenticator, party_id)
    credentials.finish_authentication(authenticator.get(credentials.begin_authentication(party_id)))
    authenticator.set_sign_count(passkey.credential_id, 0)
    options = credentials.begin_authentication(party_id)
    with pytest.raises(AssertionInvalid):
        credentials.finish_authentication(authenticator.get(options, corrupt_signature=True))


def test_tampered_client_data_is_refused(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    party_id = ids.new_id()
    register(credentials, authenticator, party_id)
    response = authenticator.get(credentials.begin_authentication(party_id))
    other = authenticator.get(credentials.begin_authentication(party_id))
    # The second response's client data (with its valid, unused challenge)
    # under the first response's signature.
    response["response"]["clientDataJSON"] = other["response"]["clientDataJSON"]
    with pytest.raises(AssertionInvalid):
        credentials.finish_authentication(response)


def test_missing_user_verification_is_refused(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    party_id = ids.new_id()
    register(credentials, authenticator, party_id)
    options = credentials.begin_authentication(party_id)
    with pytest.raises(UserVerificationMissing) as error:
        credentials.finish_authentication(authenticator.get(options, user_verified=False))
    refused(error, "user_verification_missing")
    second_device = SoftwareAuthenticator(RP_ID, ORIGIN, seed=9)
    options = credentials.begin_registration(party_id, "alice")
    with pytest.raises(UserVerificationMissing):
        credentials.finish_registration(party_id, second_device.create(options, user_verified=False))
    assert len(credentials.list_passkeys(party_id)) == 1


def test_missing_user_presence_is_refused(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    party_id = ids.new_id()
    register(credentials, authenticator, party_id)
    options = credentials.begin_authentication(party_id)
    with pytest.raises(UserPresenceMissing) as error:
        credentials.finish_authentication(authenticator.get(options, user_present=False))
    refused(error, "user_presence_missing")


def test_unknown_credential_is_refused(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    register(credentials, authenticator, ids.new_id())
    stranger = SoftwareAuthenticator(RP_ID, ORIGIN, seed=5)
    stranger.create(credentials.begin_registration(ids.new_id(), "stranger"))  # never finished
    with pytest.raises(CredentialUnknown) as error:
        credentials.finish_authentication(stranger.get(credentials.begin_authentication(None)))
    refused(error, "credential_unknown")


def test_another_partys_passkey_is_not_allowed(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    alice, bob = ids.new_id(), ids.new_id()
    register(credentials, authenticator, alice)
    bob_device = SoftwareAuthenticator(RP_ID, ORIGIN, seed=6)
    bob_passkey = register(credentials, bob_device, bob)
    options = credentials.begin_authentication(alice)
    with pytest.raises(CredentialNotAllowed) as error:
        credentials.finish_authentication(bob_device.get(options, credential_id=bob_passkey.credential_id))
    refused(error, "credential_not_allowed")


def test_foreign_user_handle_is_refused(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    party_id = ids.new_id()
    register(credentials, authenticator, party_id)
    response = authenticator.get(credentials.begin_authentication(None))
    response["response"]["userHandle"] = b64url_encode(ids.new_id().to_bytes(16, "big"))
    with pytest.raises(UserHandleMismatch) as error:
        credentials.finish_authentication(response)
    refused(error, "user_handle_mismatch")


def test_registering_one_credential_twice_is_refused(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    alice, bob = ids.new_id(), ids.new_id()
    passkey = register(credentials, authenticator, alice)
    for party_id in (alice, bob):
        options = credentials.begin_registration(party_id, "again")
        response = authenticator.create(options, reuse_credential=passkey.credential_id)
        with pytest.raises(CredentialAlreadyRegistered) as error:
            credentials.finish_registration(party_id, response)
        assert error.value.code == "credential_already_registered"
        assert isinstance(error.value, Conflict)
    assert credentials.list_passkeys(alice) == [passkey]
    assert credentials.list_passkeys(bob) == []


def test_replayed_registration_is_refused(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    party_id = ids.new_id()
    response = authenticator.create(credentials.begin_registration(party_id, "alice"))
    credentials.finish_registration(party_id, response)
    with pytest.raises(ChallengeReplayed):
        credentials.finish_registration(party_id, response)


@pytest.mark.parametrize(
    "response",
    [
        "not json",
        "[]",
        {"id": "AA", "rawId": "AA", "type": "public-key", "response": {}},
        {
            "id": "AA",
            "rawId": "AA",
            "type": "public-key",
            "response": {"clientDataJSON": "!!", "authenticatorData": "AA", "signature": "AA"},
        },
    ],
)
def test_malformed_assertion_is_refused(credentials: Credentials, response: Any) -> None:
    with pytest.raises(CredentialMalformed) as error:
        credentials.finish_authentication(response)
    refused(error, "credential_malformed")


def test_malformed_registration_is_refused(credentials: Credentials, ids: SeededIds) -> None:
    with pytest.raises(CredentialMalformed):
        credentials.finish_registration(ids.new_id(), {"id": "AA", "rawId": "AA", "type": "public-key"})


def test_oversized_response_is_refused(credentials: Credentials) -> None:
    with pytest.raises(LimitExceeded) as error:
        credentials.finish_authentication("x" * (CREDENTIAL_JSON_BYTES_MAX + 1))
    assert error.value.code == "credential_json_too_large"


def test_remove_passkey(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    alice, bob = ids.new_id(), ids.new_id()
    passkey = register(credentials, authenticator, alice)
    with pytest.raises(CredentialNotFound) as error:
        credentials.remove_passkey(bob, passkey.credential_id)
    assert error.value.code == "credential_not_found"
    assert isinstance(error.value, NotFound)
    credentials.remove_passkey(alice, passkey.credential_id)
    assert credentials.list_passkeys(alice) == []
    with pytest.raises(CredentialUnknown):
        credentials.finish_authentication(authenticator.get(credentials.begin_authentication(None)))


def test_passkeys_per_party_are_limited(credentials: Credentials, ids: SeededIds) -> None:
    party_id = ids.new_id()
    device = SoftwareAuthenticator(RP_ID, ORIGIN, seed=8)
    for index in range(PASSKEYS_PER_PARTY_MAX):
        options = credentials.begin_registration(party_id, "alice")
        options["excludeCredentials"] = []  # one software device stands in for many
        credentials.finish_registration(party_id, device.create(options), label=f"device {index}")
    assert len(credentials.list_passkeys(party_id)) == PASSKEYS_PER_PARTY_MAX
    with pytest.raises(LimitExceeded) as error:
        credentials.begin_registration(party_id, "alice")
    assert error.value.code == "passkeys_per_party_exceeded"


def test_purge_removes_only_expired_challenges(
    credentials: Credentials, ids: SeededIds, clock: ManualClock
) -> None:
    credentials.begin_authentication(None)
    clock.advance(seconds=CHALLENGE_TTL_S_DEFAULT)
    credentials.begin_authentication(ids.new_id())
    assert credentials.purge_challenges() == 1
    assert credentials.purge_challenges() == 0


def test_concurrent_submissions_of_one_assertion_succeed_once(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds
) -> None:
    party_id = ids.new_id()
    register(credentials, authenticator, party_id)
    response = authenticator.get(credentials.begin_authentication(party_id))
    barrier = threading.Barrier(4)
    outcomes: list[str] = []
    lock = threading.Lock()

    def submit() -> None:
        barrier.wait()
        try:
            credentials.finish_authentication(response)
            outcome = "ok"
        except NetfinError as error:
            outcome = error.code
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["challenge_replayed"] * 3 + ["ok"]
    assert credentials.list_passkeys(party_id)[0].sign_count == 1


def test_sign_counter_moves_only_by_compare_and_set(
    credentials: Credentials, authenticator: SoftwareAuthenticator, ids: SeededIds, clock: ManualClock
) -> None:
    party_id = ids.new_id()
    passkey = register(credentials, authenticator, party_id)
    store = credentials.store
    assert not store.record_passkey_use(
        passkey.credential_id, stored_count=3, new_count=9, backed_up=False, now_ns=clock.now_ns()
    )
    assert store.record_passkey_use(
        passkey.credential_id, stored_count=0, new_count=9, backed_up=True, now_ns=clock.now_ns()
    )
    stored = store.get_passkey(passkey.credential_id)
    assert stored is not None
    assert (stored.sign_count, stored.backed_up, stored.last_used_ns) == (9, True, clock.now_ns())


def test_tables_are_named_for_the_integrator(engine: sa.Engine) -> None:
    names = set(sa.inspect(engine).get_table_names())
    assert {"passkey_credentials", "webauthn_challenges", "password_credentials"} <= names
