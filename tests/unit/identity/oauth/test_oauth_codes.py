"""The authorization code grant: codes bound to one client, one redirect URI,
one consent and party, redeemed once before they expire (with optional PKCE)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
import sqlalchemy as sa
from joserfc import jwk

from netfin.core.clock import ManualClock
from netfin.identity.oauth import ClientNotFound, OAuth, OAuthError
from netfin.identity.oauth.errors import InvalidGrant, InvalidRequest, InvalidScope, UnauthorizedClient
from netfin.identity.oauth.model import CLIENT_ASSERTION_TYPE_JWT_BEARER
from netfin.identity.oauth.store import oauth_codes

ENDPOINT = "https://netfin.example/oauth2/token"
REDIRECT_URI = "https://tpp.example/callback"
PARTY_ID = 0x0190_0000_0000_7000_8000_0000_0000_0042
CONSENT_ID = "aac-7f3d2c1e"
AssertionBuilder = Any


def code_form(assertion: str, code: str, redirect_uri: str = REDIRECT_URI, **fields: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_assertion_type": CLIENT_ASSERTION_TYPE_JWT_BEARER,
        "client_assertion": assertion,
        **fields,
    }


def redeem(oauth: OAuth, form: dict[str, str]) -> Any:
    return oauth.token(form, token_endpoint=ENDPOINT, authorization_header=None)


def refused(oauth: OAuth, form: dict[str, str]) -> OAuthError:
    with pytest.raises(OAuthError) as caught:
        redeem(oauth, form)
    return caught.value


def issue(oauth: OAuth, client_id: str, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "client_id": client_id,
        "consent_id": CONSENT_ID,
        "party_id": PARTY_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "accounts",
    }
    arguments.update(overrides)
    return oauth.issue_authorization_code(**arguments)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_code_gives_a_token_carrying_consent_and_party(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder
) -> None:
    code = issue(oauth, client_id)
    assert len(code) >= 43
    response = redeem(oauth, code_form(make_assertion(client_id), code))
    assert response.scope == "accounts"
    claims = oauth.verify_access_token(response.access_token)
    assert claims.client_id == client_id
    assert claims.consent_id == CONSENT_ID
    assert claims.party_id == PARTY_ID
    assert claims.scopes == frozenset({"accounts"})


def test_only_the_hash_of_a_code_is_stored(oauth: OAuth, client_id: str, engine: sa.Engine) -> None:
    code = issue(oauth, client_id)
    with engine.connect() as connection:
        stored = connection.execute(sa.select(oauth_codes.c.code_hash)).scalars().all()
    assert stored == [hashlib.sha256(code.encode()).digest()]


def test_code_reuse_is_refused(oauth: OAuth, client_id: str, make_assertion: AssertionBuilder) -> None:
    code = issue(oauth, client_id)
    redeem(oauth, code_form(make_assertion(client_id), code))
    error = refused(oauth, code_form(make_assertion(client_id), code))
    assert isinstance(error, InvalidGrant)
    assert (error.error, error.code) == ("invalid_grant", "code_used")


def test_expired_code_is_refused(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder, clock: ManualClock
) -> None:
    code = issue(oauth, client_id)
    clock.advance(seconds=60)
    error = refused(oauth, code_form(make_assertion(client_id), code))
    assert (error.error, error.code) == ("invalid_grant", "code_expired")


def test_code_is_still_good_just_before_it_expires(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder, clock: ManualClock
) -> None:
    code = issue(oauth, client_id)
    clock.advance(seconds=59)
    assert redeem(oauth, code_form(make_assertion(client_id), code)).scope == "accounts"


def test_code_of_another_client_is_refused_and_stays_usable(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder
) -> None:
    thief_key = jwk.ECKey.generate_key("P-256", parameters={"kid": "thief"})
    thief = oauth.register_client(
        "Thief",
        auth_method="private_key_jwt",
        jwks={"keys": [thief_key.as_dict(private=False)]},
        scopes=["accounts", "payments"],
        redirect_uris=[REDIRECT_URI],
    )
    code = issue(oauth, client_id)
    error = refused(oauth, code_form(make_assertion(thief.client_id, key=thief_key), code))
    assert (error.error, error.code) == ("invalid_grant", "code_client_mismatch")
    assert redeem(oauth, code_form(make_assertion(client_id), code)).scope == "accounts"


def test_wrong_redirect_uri_is_refused(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder
) -> None:
    code = issue(oauth, client_id)
    error = refused(oauth, code_form(make_assertion(client_id), code, "https://tpp.example/other"))
    assert (error.error, error.code) == ("invalid_grant", "code_redirect_uri_mismatch")


def test_unknown_or_missing_code_is_refused(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder
) -> None:
    error = refused(oauth, code_form(make_assertion(client_id), "not-a-code"))
    assert (error.error, error.code) == ("invalid_grant", "code_invalid")
    error = refused(oauth, code_form(make_assertion(client_id), "x" * 500))
    assert error.code == "code_invalid"
    error = refused(oauth, code_form(make_assertion(client_id), ""))
    assert isinstance(error, InvalidRequest) and error.code == "code_or_redirect_uri_missing"


def test_client_without_redirect_uris_may_not_use_codes(
    oauth: OAuth, make_assertion: AssertionBuilder, client_key: jwk.ECKey
) -> None:
    machine = oauth.register_client(
        "Machine",
        auth_method="private_key_jwt",
        jwks={"keys": [client_key.as_dict(private=False)]},
        scopes=["accounts"],
    )
    error = refused(oauth, code_form(make_assertion(machine.client_id), "anything"))
    assert isinstance(error, UnauthorizedClient)
    assert (error.error, error.code) == ("unauthorized_client", "grant_not_allowed")


def test_pkce_verifier_must_match_the_challenge(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder
) -> None:
    verifier = "v" * 20 + "-._~" + "0123456789" * 2
    code = issue(oauth, client_id, code_challenge=s256(verifier))
    error = refused(oauth, code_form(make_assertion(client_id), code))
    assert error.code == "code_verifier_invalid"
    error = refused(oauth, code_form(make_assertion(client_id), code, code_verifier="w" * 43))
    assert error.code == "code_verifier_invalid"
    response = redeem(oauth, code_form(make_assertion(client_id), code, code_verifier=verifier))
    assert oauth.verify_access_token(response.access_token).consent_id == CONSENT_ID


def test_pkce_verifier_without_a_challenge_is_refused(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder
) -> None:
    code = issue(oauth, client_id)
    error = refused(oauth, code_form(make_assertion(client_id), code, code_verifier="v" * 43))
    assert error.code == "code_verifier_unexpected"


@pytest.mark.parametrize(
    ("overrides", "error_type", "code"),
    [
        ({"redirect_uri": "https://evil.example/cb"}, InvalidRequest, "redirect_uri_not_registered"),
        ({"scope": "fundsconfirmations"}, InvalidScope, "scope_not_allowed"),
        ({"scope": "accounts root"}, InvalidScope, "scope_unknown"),
        ({"scope": ""}, InvalidScope, "scope_missing"),
        ({"consent_id": "has spaces"}, InvalidRequest, "consent_id_invalid"),
        ({"consent_id": "x" * 129}, InvalidRequest, "consent_id_invalid"),
        ({"party_id": 0}, InvalidRequest, "party_id_invalid"),
        ({"party_id": 2**128}, InvalidRequest, "party_id_invalid"),
        ({"party_id": "42"}, InvalidRequest, "party_id_invalid"),
        ({"code_challenge": "short"}, InvalidRequest, "code_challenge_invalid"),
    ],
)
def test_issuing_a_code_checks_its_inputs(
    oauth: OAuth, client_id: str, overrides: dict[str, Any], error_type: type[OAuthError], code: str
) -> None:
    with pytest.raises(error_type) as caught:
        issue(oauth, client_id, **overrides)
    assert caught.value.code == code


def test_codes_are_issued_only_to_known_active_clients(oauth: OAuth, client_id: str) -> None:
    with pytest.raises(ClientNotFound):
        issue(oauth, "0" * 32)
    oauth.suspend_client(client_id)
    with pytest.raises(UnauthorizedClient) as caught:
        issue(oauth, client_id)
    assert caught.value.code == "client_suspended"
