"""The token endpoint's client authentication and the client credentials grant:
private_key_jwt assertions (RFC 7523) and, in development only, secrets."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jwk, jwt
from joserfc.jws import JWSRegistry
from joserfc.util import json_b64encode

from netfin.core.clock import ManualClock
from netfin.core.ids import SeededIds
from netfin.identity.oauth import (
    OAuth,
    OAuthError,
    TokenRejected,
)
from netfin.identity.oauth.errors import (
    InvalidClient,
    InvalidRequest,
    InvalidScope,
    UnsupportedGrantType,
)
from netfin.identity.oauth.model import (
    ASSERTION_CLOCK_SKEW_S,
    CLIENT_ASSERTION_TYPE_JWT_BEARER,
    CLIENT_STATUS_CACHE_TTL_S,
    TOKEN_FORM_FIELDS_MAX,
    TOKEN_FORM_VALUE_LENGTH_MAX,
)

ENDPOINT = "https://netfin.example/oauth2/token"
AssertionBuilder = Any


def assertion_form(assertion: str, **fields: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE_JWT_BEARER,
        "client_assertion": assertion,
        **fields,
    }


def request_token(oauth: OAuth, form: dict[str, str], authorization: str | None = None) -> Any:
    return oauth.token(form, token_endpoint=ENDPOINT, authorization_header=authorization)


def refused(oauth: OAuth, form: dict[str, str], authorization: str | None = None) -> OAuthError:
    with pytest.raises(OAuthError) as caught:
        request_token(oauth, form, authorization)
    return caught.value


# -- private_key_jwt ---------------------------------------------------------------------


def test_client_credentials_with_es256_assertion_gives_a_verifiable_token(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder
) -> None:
    response = request_token(oauth, assertion_form(make_assertion(client_id)))
    assert response.token_type == "Bearer"  # noqa: S105 (RFC 6750 type)
    assert response.expires_in == 300
    assert response.scope == "accounts payments"
    assert response.as_json()["access_token"] == response.access_token
    claims = oauth.verify_access_token(response.access_token)
    assert claims.client_id == client_id
    assert claims.scopes == frozenset({"accounts", "payments"})
    assert claims.consent_id is None and claims.party_id is None


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
def test_ed25519_client_keys_sign_with_either_algorithm_name(
    oauth: OAuth, make_assertion: AssertionBuilder, alg: str
) -> None:
    key = jwk.OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"})
    client = oauth.register_client(
        "Ed TPP",
        auth_method="private_key_jwt",
        jwks={"keys": [key.as_dict(private=False)]},
        scopes=["accounts"],
    )
    response = request_token(oauth, assertion_form(make_assertion(client.client_id, key=key, alg=alg)))
    assert oauth.verify_access_token(response.access_token).scopes == frozenset({"accounts"})


def test_ps256_client_key_is_accepted_and_rs256_is_not(
    oauth: OAuth, make_assertion: AssertionBuilder
) -> None:
    key = jwk.RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    client = oauth.register_client(
        "RSA TPP",
        auth_method="private_key_jwt",
        jwks={"keys": [key.as_dict(private=False)]},
        scopes=["payments"],
    )
    response = request_token(oauth, assertion_form(make_assertion(client.client_id, key=key, alg="PS256")))
    assert response.scope == "payments"
    error = refused(oauth, assertion_form(make_assertion(client.client_id, key=key, alg="RS256")))
    assert (error.error, error.code) == ("invalid_client", "client_assertion_invalid")


def test_replayed_assertion_is_refused(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder
) -> None:
    assertion = make_assertion(client_id, jti="once-only")
    request_token(oauth, assertion_form(assertion))
    error = refused(oauth, assertion_form(assertion))
    assert isinstance(error, InvalidClient)
    assert (error.error, error.code) == ("invalid_client", "client_assertion_replayed")

    # A freshly signed assertion that reuses the jti is a replay too.
    now_s = oauth._now_s()
    error = refused(oauth, assertion_form(make_assertion(client_id, jti="once-only", exp=now_s + 120)))
    assert error.code == "client_assertion_replayed"


def test_same_jti_is_accepted_again_once_the_first_assertion_has_expired(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder, clock: ManualClock
) -> None:
    request_token(oauth, assertion_form(make_assertion(client_id, jti="recycled")))
    clock.advance(seconds=60 + ASSERTION_CLOCK_SKEW_S + 1)
    response = request_token(oauth, assertion_form(make_assertion(client_id, jti="recycled")))
    assert response.scope == "accounts payments"


def test_assertion_signed_by_another_key_is_refused(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder
) -> None:
    stranger = jwk.ECKey.generate_key("P-256", parameters={"kid": "tpp-key-1"})
    error = refused(oauth, assertion_form(make_assertion(client_id, key=stranger)))
    assert (error.error, error.code) == ("invalid_client", "client_assertion_invalid")


def test_expired_assertion_is_refused(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder, clock: ManualClock
) -> None:
    assertion = make_assertion(client_id)
    clock.advance(seconds=60 + ASSERTION_CLOCK_SKEW_S)
    error = refused(oauth, assertion_form(assertion))
    assert (error.error, error.code) == ("invalid_client", "client_assertion_expired")


def test_assertion_living_longer_than_five_minutes_is_refused(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder, clock: ManualClock
) -> None:
    now_s = clock.now_ns() // 1_000_000_000
    error = refused(oauth, assertion_form(make_assertion(client_id, exp=now_s + 3_600)))
    assert error.code == "client_assertion_lifetime_too_long"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"aud": "https://elsewhere.example/token"}, "client_assertion_invalid"),
        ({"aud": None}, "client_assertion_invalid"),
        ({"sub": "someone-else"}, "client_assertion_invalid"),
        ({"exp": None}, "client_assertion_invalid"),
        ({"jti": None}, "client_assertion_invalid"),
        ({"jti": "x" * 300}, "client_assertion_invalid"),
    ],
)
def test_assertion_with_wrong_claims_is_refused(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder, overrides: dict[str, Any], code: str
) -> None:
    error = refused(oauth, assertion_form(make_assertion(client_id, **overrides)))
    assert (error.error, error.code) == ("invalid_client", code)


def test_assertion_issued_in_the_future_beyond_the_skew_is_refused(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder, clock: ManualClock
) -> None:
    now_s = clock.now_ns() // 1_000_000_000
    error = refused(oauth, assertion_form(make_assertion(client_id, iat=now_s + ASSERTION_CLOCK_SKEW_S + 5)))
    assert error.code == "client_assertion_invalid"


@pytest.mark.parametrize("audience", ["https://netfin.example", ["https://x.example", ENDPOINT]])
def test_assertion_audience_may_be_the_issuer_or_a_list_holding_the_endpoint(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder, audience: Any
) -> None:
    response = request_token(oauth, assertion_form(make_assertion(client_id, aud=audience)))
    assert response.scope == "accounts payments"


def test_iss_different_from_sub_is_refused(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder
) -> None:
    other_key = jwk.ECKey.generate_key("P-256").as_dict(private=False)
    other = oauth.register_client(
        "Other", auth_method="private_key_jwt", jwks={"keys": [other_key]}, scopes=["accounts"]
    )
    error = refused(oauth, assertion_form(make_assertion(client_id, sub=other.client_id)))
    assert error.code == "client_assertion_invalid"


def test_alg_none_assertion_is_refused(oauth: OAuth, client_id: str, clock: ManualClock) -> None:
    now_s = clock.now_ns() // 1_000_000_000
    claims = {"iss": client_id, "sub": client_id, "aud": ENDPOINT, "exp": now_s + 60, "jti": "n"}
    unsigned = (json_b64encode({"alg": "none"}) + b"." + json_b64encode(claims) + b".").decode()
    error = refused(oauth, assertion_form(unsigned))
    assert (error.error, error.code) == ("invalid_client", "client_assertion_invalid")


def test_hs256_assertion_is_refused(oauth: OAuth, client_id: str, clock: ManualClock) -> None:
    now_s = clock.now_ns() // 1_000_000_000
    secret = jwk.OctKey.generate_key(256)
    claims = {"iss": client_id, "sub": client_id, "aud": ENDPOINT, "exp": now_s + 60, "jti": "h"}
    token = jwt.encode({"alg": "HS256"}, claims, secret, registry=JWSRegistry(algorithms=["HS256"]))
    error = refused(oauth, assertion_form(token))
    assert error.code == "client_assertion_invalid"


def test_unknown_client_and_mismatched_client_id_are_refused(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder
) -> None:
    error = refused(oauth, assertion_form(make_assertion("0" * 32)))
    assert (error.error, error.code) == ("invalid_client", "client_assertion_invalid")
    error = refused(oauth, assertion_form(make_assertion(client_id), client_id="0" * 32))
    assert error.code == "client_assertion_invalid"


@pytest.mark.parametrize("garbage", ["", "a.b", "a.b.c", "!!!.###.$$$", "e30.e30.", "W10.W10.AA"])
def test_malformed_assertion_is_refused(oauth: OAuth, garbage: str) -> None:
    error = refused(oauth, assertion_form(garbage))
    assert error.error in {"invalid_client", "invalid_request"}


def test_wrong_assertion_type_is_refused(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder
) -> None:
    form = assertion_form(make_assertion(client_id), client_assertion_type="urn:example:saml")
    assert refused(oauth, form).code == "client_assertion_type_unsupported"


def test_two_authentication_methods_or_none_are_refused(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder
) -> None:
    form = {**assertion_form(make_assertion(client_id)), "client_secret": "s"}
    error = refused(oauth, form)
    assert isinstance(error, InvalidRequest) and error.code == "client_authentication_ambiguous"
    error = refused(oauth, {"grant_type": "client_credentials", "client_id": client_id})
    assert (error.error, error.code) == ("invalid_client", "client_authentication_missing")


# -- grants, scopes and request limits ---------------------------------------------------------


def test_grant_type_missing_or_unsupported(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder
) -> None:
    form = assertion_form(make_assertion(client_id))
    del form["grant_type"]
    assert refused(oauth, form).code == "grant_type_missing"
    error = refused(oauth, assertion_form(make_assertion(client_id), grant_type="password"))
    assert isinstance(error, UnsupportedGrantType) and error.error == "unsupported_grant_type"


def test_requested_scope_subset_is_granted(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder
) -> None:
    response = request_token(oauth, assertion_form(make_assertion(client_id), scope="accounts"))
    assert response.scope == "accounts"
    assert oauth.verify_access_token(response.access_token).scopes == frozenset({"accounts"})


@pytest.mark.parametrize(
    ("scope", "code"),
    [
        ("fundsconfirmations", "scope_not_allowed"),
        ("accounts admin", "scope_unknown"),
        ("openid", "scope_unknown"),
    ],
)
def test_scope_escalation_is_refused(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder, scope: str, code: str
) -> None:
    error = refused(oauth, assertion_form(make_assertion(client_id), scope=scope))
    assert isinstance(error, InvalidScope)
    assert (error.error, error.code) == ("invalid_scope", code)


def test_oversized_token_requests_are_refused(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder
) -> None:
    form = assertion_form(make_assertion(client_id))
    form.update({f"extra{i}": "x" for i in range(TOKEN_FORM_FIELDS_MAX)})
    assert refused(oauth, form).code == "token_request_too_large"
    form = assertion_form(make_assertion(client_id), state="x" * (TOKEN_FORM_VALUE_LENGTH_MAX + 1))
    assert refused(oauth, form).code == "token_request_too_large"
    form = assertion_form(make_assertion(client_id), scope="accounts " * 40)
    assert refused(oauth, form).code == "scope_too_long"
    error = refused(oauth, assertion_form(make_assertion(client_id)), authorization="Basic " + "A" * 2_000)
    assert error.code == "token_request_too_large"


# -- client secrets (development only) ---------------------------------------------------------


def basic(client_id: str, secret: str) -> str:
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def test_secret_clients_cannot_register_unless_allowed(oauth: OAuth) -> None:
    with pytest.raises(OAuthError) as caught:
        oauth.register_client("Dev", auth_method="client_secret_basic", scopes=["accounts"])
    assert (caught.value.error, caught.value.code) == ("invalid_client_metadata", "client_secret_not_allowed")


def test_client_secret_basic_works_only_where_allowed(oauth: OAuth, dev_oauth: OAuth) -> None:
    registration = dev_oauth.register_client("Dev", auth_method="client_secret_basic", scopes=["accounts"])
    secret = registration.client_secret
    assert secret is not None and len(secret) >= 43
    stored = dev_oauth.get_client(registration.client_id).secret_hash
    assert stored is not None and stored.startswith("$argon2id$") and secret not in stored
    form = {"grant_type": "client_credentials"}
    response = request_token(dev_oauth, form, basic(registration.client_id, secret))
    assert dev_oauth.verify_access_token(response.access_token).client_id == registration.client_id
    # The production configuration refuses the same, valid credentials.
    error = refused(oauth, form, basic(registration.client_id, secret))
    assert (error.error, error.code) == ("invalid_client", "client_secret_not_allowed")


def test_wrong_or_misused_client_secret_is_refused(dev_oauth: OAuth) -> None:
    registration = dev_oauth.register_client("Dev", auth_method="client_secret_basic", scopes=["accounts"])
    client_id, secret = registration.client_id, str(registration.client_secret)
    form = {"grant_type": "client_credentials"}
    error = refused(dev_oauth, form, basic(client_id, secret + "x"))
    assert (error.error, error.code) == ("invalid_client", "client_secret_invalid")
    error = refused(dev_oauth, {**form, "client_id": client_id, "client_secret": secret})
    assert error.code == "client_auth_method_mismatch"
    error = refused(dev_oauth, form, basic("0" * 32, secret))
    assert error.code == "client_authentication_failed"
    error = refused(dev_oauth, form, "Bearer abc")
    assert error.code == "client_authentication_malformed"
    error = refused(dev_oauth, form, "Basic !!notbase64")
    assert error.code == "client_authentication_malformed"
    error = refused(dev_oauth, {**form, "client_id": "other"}, basic(client_id, secret))
    assert error.code == "client_id_mismatch"


def test_client_secret_post_works_where_allowed(dev_oauth: OAuth) -> None:
    registration = dev_oauth.register_client("Dev", auth_method="client_secret_post", scopes=["payments"])
    form = {
        "grant_type": "client_credentials",
        "client_id": registration.client_id,
        "client_secret": str(registration.client_secret),
    }
    assert request_token(dev_oauth, form).scope == "payments"


def test_private_key_jwt_client_cannot_use_a_secret(dev_oauth: OAuth, client_id: str) -> None:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "guess"}
    assert refused(dev_oauth, form).code == "client_authentication_failed"


# -- suspension ----------------------------------------------------------------------------


def test_suspended_client_gets_no_token_and_its_tokens_stop_working(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder
) -> None:
    token = request_token(oauth, assertion_form(make_assertion(client_id))).access_token
    oauth.suspend_client(client_id)
    error = refused(oauth, assertion_form(make_assertion(client_id)))
    assert (error.error, error.code) == ("invalid_client", "client_suspended")
    with pytest.raises(TokenRejected) as caught:
        oauth.verify_access_token(token)
    assert caught.value.code == "client_suspended"
    oauth.reactivate_client(client_id)
    assert oauth.verify_access_token(token).client_id == client_id


def test_suspension_reaches_other_processes_within_the_cache_ttl(
    oauth: OAuth,
    client_id: str,
    make_assertion: AssertionBuilder,
    engine: sa.Engine,
    clock: ManualClock,
    signing_key: Ed25519PrivateKey,
) -> None:
    other = OAuth(
        engine, clock=clock, ids=SeededIds(clock, seed=9), issuer=oauth.issuer, signing_key=signing_key
    )
    token = request_token(oauth, assertion_form(make_assertion(client_id))).access_token
    assert other.verify_access_token(token).client_id == client_id
    oauth.suspend_client(client_id)
    clock.advance(seconds=CLIENT_STATUS_CACHE_TTL_S)
    with pytest.raises(TokenRejected) as caught:
        other.verify_access_token(token)
    assert caught.value.code == "client_suspended"
