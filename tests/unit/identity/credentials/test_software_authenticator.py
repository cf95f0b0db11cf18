"""The software authenticator's responses, checked by py_webauthn alone (no netfin relying party)."""

from __future__ import annotations

import pytest
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import parse_authenticator_data
from webauthn.helpers.exceptions import InvalidAuthenticationResponse
from webauthn.helpers.structs import PublicKeyCredentialDescriptor

from netfin.sim.authenticator import AuthenticatorRefused, SoftwareAuthenticator, b64url_decode

RP_ID = "netfin.example"
ORIGIN = "https://netfin.example"
CHALLENGE = b"c" * 32


def registration_options(exclude: list[bytes] | None = None) -> str:
    return options_to_json(
        generate_registration_options(
            rp_id=RP_ID,
            rp_name="netfin",
            user_name="alice",
            user_id=b"u" * 16,
            challenge=CHALLENGE,
            exclude_credentials=[PublicKeyCredentialDescriptor(id=item) for item in exclude or []],
        )
    )


def authentication_options(allow: list[bytes] | None = None, challenge: bytes = CHALLENGE) -> str:
    return options_to_json(
        generate_authentication_options(
            rp_id=RP_ID,
            challenge=challenge,
            allow_credentials=[PublicKeyCredentialDescriptor(id=item) for item in allow or []],
        )
    )


def registered(authenticator: SoftwareAuthenticator) -> tuple[bytes, bytes]:
    verified = verify_registration_response(
        credential=authenticator.create(registration_options()),
        expected_challenge=CHALLENGE,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
        require_user_verification=True,
    )
    return verified.credential_id, verified.credential_public_key


def test_registration_verifies_with_py_webauthn() -> None:
    authenticator = SoftwareAuthenticator(RP_ID, ORIGIN, aaguid=bytes(range(16)), backed_up=True)
    response = authenticator.create(registration_options())
    assert response["type"] == "public-key"
    assert set(response["response"]) == {"clientDataJSON", "attestationObject", "transports"}
    verified = verify_registration_response(
        credential=response,
        expected_challenge=CHALLENGE,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
        require_user_verification=True,
    )
    assert verified.credential_id == authenticator.credential_ids[0]
    assert verified.aaguid == "00010203-0405-0607-0809-0a0b0c0d0e0f"
    assert verified.fmt == "none"
    assert verified.user_verified is True
    assert verified.credential_backed_up is True
    assert verified.sign_count == 0


def test_assertions_verify_and_count() -> None:
    authenticator = SoftwareAuthenticator(RP_ID, ORIGIN, sign_count_start=7)
    credential_id, public_key = registered(authenticator)
    stored = 7
    for expected in (8, 9):
        response = authenticator.get(authentication_options([credential_id]))
        assert b64url_decode(response["response"]["userHandle"]) == b"u" * 16
        verified = verify_authentication_response(
            credential=response,
            expected_challenge=CHALLENGE,
            expected_rp_id=RP_ID,
            expected_origin=ORIGIN,
            credential_public_key=public_key,
            credential_current_sign_count=stored,
            require_user_verification=True,
        )
        assert verified.new_sign_count == expected == authenticator.sign_count(credential_id)
        stored = verified.new_sign_count


def test_corrupted_signature_does_not_verify() -> None:
    authenticator = SoftwareAuthenticator(RP_ID, ORIGIN)
    credential_id, public_key = registered(authenticator)
    response = authenticator.get(authentication_options([credential_id]), corrupt_signature=True)
    with pytest.raises(InvalidAuthenticationResponse, match="signature"):
        verify_authentication_response(
            credential=response,
            expected_challenge=CHALLENGE,
            expected_rp_id=RP_ID,
            expected_origin=ORIGIN,
            credential_public_key=public_key,
            credential_current_sign_count=0,
        )


def test_knobs_change_what_is_signed() -> None:
    authenticator = SoftwareAuthenticator(RP_ID, ORIGIN)
    credential_id, _ = registered(authenticator)
    response = authenticator.get(
        authentication_options([credential_id]),
        origin="https://evil.example",
        rp_id="evil.example",
        challenge=b"old" * 11,
        user_verified=False,
    )
    client_data = b64url_decode(response["response"]["clientDataJSON"])
    assert b'"origin":"https://evil.example"' in client_data
    assert authenticator.last_challenge == b"old" * 11
    data = parse_authenticator_data(b64url_decode(response["response"]["authenticatorData"]))
    assert data.flags.up and not data.flags.uv
    authenticator.set_sign_count(credential_id, 0)
    assert authenticator.sign_count(credential_id) == 0
    with pytest.raises(ValueError, match="32-bit"):
        authenticator.set_sign_count(credential_id, -1)


def test_seeded_authenticators_are_reproducible() -> None:
    first, second = (SoftwareAuthenticator(RP_ID, ORIGIN, seed=42) for _ in range(2))
    assert registered(first) == registered(second)
    options = authentication_options()
    assert first.get(options) == second.get(options)
    assert registered(SoftwareAuthenticator(RP_ID, ORIGIN, seed=43)) != registered(first)


def test_refusals_a_browser_would_make() -> None:
    authenticator = SoftwareAuthenticator(RP_ID, ORIGIN)
    credential_id, _ = registered(authenticator)
    with pytest.raises(AuthenticatorRefused, match="excluded"):
        authenticator.create(registration_options(exclude=[credential_id]))
    with pytest.raises(AuthenticatorRefused, match="allowed"):
        authenticator.get(authentication_options([b"someone else"]))
    other_site = SoftwareAuthenticator("other.example", "https://other.example")
    with pytest.raises(AuthenticatorRefused, match="RP id"):
        other_site.create(registration_options())


def test_reattesting_an_existing_credential() -> None:
    authenticator = SoftwareAuthenticator(RP_ID, ORIGIN)
    credential_id, public_key = registered(authenticator)
    again = authenticator.create(
        registration_options(exclude=[credential_id]), reuse_credential=credential_id
    )
    verified = verify_registration_response(
        credential=again, expected_challenge=CHALLENGE, expected_rp_id=RP_ID, expected_origin=ORIGIN
    )
    assert (verified.credential_id, verified.credential_public_key) == (credential_id, public_key)
