"""Verification of the platform's access and session tokens: every way a token
can be wrong is refused with its own code, and the two kinds never mix."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwk, jwt
from joserfc.jws import JWSRegistry
from joserfc.util import json_b64encode

from netfin.core.clock import NS_PER_SECOND, ManualClock
from netfin.core.errors import ConfigurationError, InvalidInput, Unauthenticated
from netfin.core.ids import SeededIds
from netfin.identity.oauth import OAuth, TokenRejected
from netfin.identity.oauth.keys import key_id
from netfin.identity.oauth.model import (
    CLIENT_ASSERTION_TYPE_JWT_BEARER,
    CLIENT_STATUS_CACHE_TTL_S,
    TOKEN_LEEWAY_S,
    TOKEN_LENGTH_MAX,
)

ENDPOINT = "https://netfin.example/oauth2/token"
AUDIENCE = "https://netfin.example/api"
AssertionBuilder = Any


@pytest.fixture
def access_token(oauth: OAuth, client_id: str, make_assertion: AssertionBuilder) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE_JWT_BEARER,
        "client_assertion": make_assertion(client_id),
    }
    return oauth.token(form, token_endpoint=ENDPOINT, authorization_header=None).access_token


def rejected(verify: Any, token: Any) -> str:
    with pytest.raises(TokenRejected) as caught:
        verify(token)
    assert isinstance(caught.value, Unauthenticated)
    return caught.value.code


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    return decode(header), decode(payload)


def mint(key: Ed25519PrivateKey, token: str, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
    """Re-sign ``token``'s header and claims with ``key``, after overrides."""
    original_header, original_claims = segments(token)
    new_header = {
        name: value for name, value in {**original_header, **(header or {})}.items() if value is not None
    }
    new_claims = {name: value for name, value in {**original_claims, **claims}.items() if value is not None}
    registry = JWSRegistry(algorithms=[new_header["alg"]])
    return jwt.encode(
        new_header, new_claims, jwk.OKPKey.import_key(key), registry=registry, default_type=None
    )


# -- access tokens ---------------------------------------------------------------------------


def test_access_token_layout_follows_rfc_9068(
    oauth: OAuth, access_token: str, client_id: str, signing_key: Ed25519PrivateKey
) -> None:
    header, claims = segments(access_token)
    assert header == {"alg": "Ed25519", "typ": "at+jwt", "kid": key_id(signing_key.public_key())}
    assert claims["iss"] == "https://netfin.example"
    assert claims["aud"] == AUDIENCE == oauth.audience
    assert claims["sub"] == claims["client_id"] == client_id
    assert claims["exp"] - claims["iat"] == 300
    assert {"jti", "scope"} <= claims.keys()


def test_access_token_verifies_against_the_published_jwks(oauth: OAuth, access_token: str) -> None:
    published = oauth.jwks()
    assert all("d" not in key for key in published["keys"])
    key_set = jwk.KeySet.import_key_set(published)
    decoded = jwt.decode(access_token, key_set, algorithms=["Ed25519"])
    assert decoded.claims["client_id"] == oauth.verify_access_token(access_token).client_id


def test_tampered_payload_is_refused(oauth: OAuth, access_token: str) -> None:
    header, payload, signature = access_token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[raw.index(b"accounts")] ^= 0x01  # one flipped bit: "accounts" becomes "`ccounts"
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert rejected(oauth.verify_access_token, f"{header}.{forged}.{signature}") == "token_invalid"


def test_tampered_scope_with_a_valid_encoding_is_refused(oauth: OAuth, access_token: str) -> None:
    header, _, signature = access_token.split(".")
    _, claims = segments(access_token)
    claims["scope"] = "accounts payments fundsconfirmations"
    forged = json_b64encode(claims).decode()
    assert rejected(oauth.verify_access_token, f"{header}.{forged}.{signature}") == "token_invalid"


def test_tampered_signature_is_refused(oauth: OAuth, access_token: str) -> None:
    head, _, signature = access_token.rpartition(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert rejected(oauth.verify_access_token, f"{head}.{flipped}") == "token_invalid"


def test_expired_access_token_is_refused_after_the_leeway(
    oauth: OAuth, access_token: str, clock: ManualClock
) -> None:
    clock.advance(seconds=300 + TOKEN_LEEWAY_S - 1)
    assert oauth.verify_access_token(access_token).scopes == frozenset({"accounts", "payments"})
    clock.advance(seconds=1)
    assert rejected(oauth.verify_access_token, access_token) == "token_expired"


def test_a_verified_token_is_recognised_again_only_by_its_exact_text(oauth: OAuth, access_token: str) -> None:
    first = oauth.verify_access_token(access_token)
    assert oauth.verify_access_token(access_token) is first  # the repeat came from the cache
    header, payload, signature = access_token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert rejected(oauth.verify_access_token, f"{header}.{payload}.{flipped}") == "token_invalid"
    _, claims = segments(access_token)
    claims["scope"] = "accounts payments fundsconfirmations"
    forged = json_b64encode(claims).decode()
    assert rejected(oauth.verify_access_token, f"{header}.{forged}.{signature}") == "token_invalid"


def test_a_new_token_is_accepted_from_memory_only_when_its_client_is_known_active(
    oauth: OAuth, client_id: str, make_assertion: AssertionBuilder, clock: ManualClock,
    signing_key: Ed25519PrivateKey,
) -> None:  # fmt: skip
    """``recognised_access_token`` (the API's event-loop path) verifies a token it has not seen
    when the client's status is in the cache, and answers None, never a refusal, otherwise."""

    def new_token() -> str:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE_JWT_BEARER,
            "client_assertion": make_assertion(client_id),
        }
        return oauth.token(form, token_endpoint=ENDPOINT, authorization_header=None).access_token

    first = new_token()
    clock.advance(seconds=CLIENT_STATUS_CACHE_TTL_S)  # the client's cached status is now stale
    assert oauth.recognised_access_token(first) is None  # would need to read the status
    verified = oauth.verify_access_token(first)  # reads it
    second = new_token()
    accepted = oauth.recognised_access_token(second)
    assert accepted is not None and accepted.client_id == client_id and accepted.jti != verified.jti
    assert oauth.verify_access_token(second) is accepted  # remembered like a verified token
    forged = mint(signing_key, new_token(), aud="https://other-bank.example/api")
    assert oauth.recognised_access_token(forged) is None
    assert rejected(oauth.verify_access_token, forged) == "token_audience_invalid"
    header, payload, signature = new_token().split(".")
    assert oauth.recognised_access_token(f"{header}.{payload}.{signature[::-1]}") is None
    oauth.suspend_client(client_id)
    assert oauth.recognised_access_token(second) is None
    assert rejected(oauth.verify_access_token, second) == "client_suspended"


def test_a_cached_token_keeps_the_time_window_of_a_full_check(
    oauth: OAuth, access_token: str, clock: ManualClock
) -> None:
    issued_ns = clock.now_ns()
    oauth.verify_access_token(access_token)
    clock.set(issued_ns - (TOKEN_LEEWAY_S + 1) * NS_PER_SECOND)  # before iat, beyond the leeway
    assert rejected(oauth.verify_access_token, access_token) == "token_invalid"  # "issued in the future"
    clock.set(issued_ns + (300 + TOKEN_LEEWAY_S) * NS_PER_SECOND)
    assert rejected(oauth.verify_access_token, access_token) == "token_expired"
    clock.set(issued_ns)  # expired entries leave the cache; the token itself is still good
    assert oauth.verify_access_token(access_token).scopes == frozenset({"accounts", "payments"})


def test_wrong_audience_is_refused(oauth: OAuth, access_token: str, signing_key: Ed25519PrivateKey) -> None:
    forged = mint(signing_key, access_token, aud="https://other-bank.example/api")
    assert rejected(oauth.verify_access_token, forged) == "token_audience_invalid"
    assert (
        rejected(oauth.verify_access_token, mint(signing_key, access_token, aud=None))
        == "token_audience_invalid"
    )


def test_wrong_issuer_is_refused(oauth: OAuth, access_token: str, signing_key: Ed25519PrivateKey) -> None:
    forged = mint(signing_key, access_token, iss="https://evil.example")
    assert rejected(oauth.verify_access_token, forged) == "token_issuer_invalid"


def test_token_of_another_issuer_with_its_own_key_is_refused(
    oauth: OAuth, access_token: str, engine: Any, clock: ManualClock, client_id: str
) -> None:
    other = OAuth(
        engine,
        clock=clock,
        ids=SeededIds(clock),
        issuer="https://other.example",
        signing_key=Ed25519PrivateKey.generate(),
    )
    assert rejected(other.verify_access_token, access_token) == "token_invalid"


def test_token_signed_by_another_key_is_refused(oauth: OAuth, access_token: str) -> None:
    forged = mint(Ed25519PrivateKey.generate(), access_token)
    assert rejected(oauth.verify_access_token, forged) == "token_invalid"


def test_unknown_kid_is_refused(oauth: OAuth, access_token: str, signing_key: Ed25519PrivateKey) -> None:
    forged = mint(signing_key, access_token, header={"kid": "retired-key"})
    assert rejected(oauth.verify_access_token, forged) == "token_invalid"


def test_wrong_typ_is_refused(oauth: OAuth, access_token: str, signing_key: Ed25519PrivateKey) -> None:
    for typ in ("JWT", "netfin-session+jwt", None):
        forged = mint(signing_key, access_token, header={"typ": typ})
        assert rejected(oauth.verify_access_token, forged) == "token_type_invalid"


def test_alg_none_and_hmac_tokens_are_refused(oauth: OAuth, access_token: str) -> None:
    header, claims = segments(access_token)
    unsigned = json_b64encode({**header, "alg": "none"}) + b"." + json_b64encode(claims) + b"."
    assert rejected(oauth.verify_access_token, unsigned.decode()) == "token_invalid"
    secret = jwk.OctKey.generate_key(256)
    hmac_token = jwt.encode(
        {**header, "alg": "HS256"}, claims, secret, registry=JWSRegistry(algorithms=["HS256"])
    )
    assert rejected(oauth.verify_access_token, hmac_token) == "token_invalid"


def test_token_with_missing_or_malformed_claims_is_refused(
    oauth: OAuth, access_token: str, signing_key: Ed25519PrivateKey
) -> None:
    for overrides in ({"exp": None}, {"jti": None}, {"client_id": None}, {"scope": 7}, {"exp": "soon"}):
        forged = mint(signing_key, access_token, **overrides)
        assert rejected(oauth.verify_access_token, forged) == "token_invalid"
    half_bound = mint(signing_key, access_token, consent_id="aac-1")
    assert rejected(oauth.verify_access_token, half_bound) == "token_invalid"
    unknown_client = mint(signing_key, access_token, client_id="f" * 32)
    assert rejected(oauth.verify_access_token, unknown_client) == "token_invalid"


@pytest.mark.parametrize(
    "garbage", ["", "abc", "a.b.c", "..", "x" * (TOKEN_LENGTH_MAX + 1), None, 42, b"a.b.c"]
)
def test_garbage_is_refused(oauth: OAuth, garbage: Any) -> None:
    assert rejected(oauth.verify_access_token, garbage) == "token_invalid"
    assert rejected(oauth.verify_session, garbage) == "token_invalid"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), replacement=st.characters(codec="ascii"))
def test_any_single_character_change_is_refused(
    oauth: OAuth, access_token: str, position: int, replacement: str
) -> None:
    index = position % len(access_token)
    mutated = access_token[:index] + replacement + access_token[index + 1 :]
    if mutated == access_token:
        return
    try:
        claims = oauth.verify_access_token(mutated)
    except TokenRejected:
        return
    # Base64url may decode two spellings of the last character to the same
    # bytes; such a token carries exactly the signed claims.
    assert claims == oauth.verify_access_token(access_token)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_arbitrary_text_raises_only_token_rejected(oauth: OAuth, text: str) -> None:
    with pytest.raises(TokenRejected):
        oauth.verify_access_token(text)


# -- sessions --------------------------------------------------------------------------------


def test_session_round_trip(oauth: OAuth, clock: ManualClock) -> None:
    auth_time_ns = clock.now_ns() - 1_500_000_000
    session = oauth.issue_session(
        party_id=42, roles=["customer"], amr=["hwk", "user"], auth_time_ns=auth_time_ns
    )
    assert session.expires_in == 900
    claims = oauth.verify_session(session.token)
    assert claims.party_id == 42
    assert claims.roles == ("customer",)
    assert claims.amr == ("hwk", "user")
    assert claims.auth_time_ns == auth_time_ns // NS_PER_SECOND * NS_PER_SECOND
    assert claims.expires_ns == (clock.now_ns() // NS_PER_SECOND + 900) * NS_PER_SECOND
    header, _ = segments(session.token)
    assert header["typ"] == "netfin-session+jwt"


def test_session_and_access_tokens_never_pass_for_each_other(
    oauth: OAuth, access_token: str, clock: ManualClock
) -> None:
    session = oauth.issue_session(party_id=42, roles=["operator"], amr=["pwd"], auth_time_ns=clock.now_ns())
    assert rejected(oauth.verify_access_token, session.token) == "token_type_invalid"
    assert rejected(oauth.verify_session, access_token) == "token_type_invalid"


def test_session_relabelled_as_access_token_is_refused(
    oauth: OAuth, clock: ManualClock, signing_key: Ed25519PrivateKey
) -> None:
    session = oauth.issue_session(party_id=42, roles=["customer"], amr=["hwk"], auth_time_ns=clock.now_ns())
    relabelled = mint(signing_key, session.token, header={"typ": "at+jwt"})
    assert rejected(oauth.verify_access_token, relabelled) == "token_invalid"


def test_expired_tampered_and_foreign_sessions_are_refused(
    oauth: OAuth, clock: ManualClock, signing_key: Ed25519PrivateKey
) -> None:
    token = oauth.issue_session(
        party_id=42, roles=["customer"], amr=["hwk"], auth_time_ns=clock.now_ns()
    ).token
    assert (
        rejected(oauth.verify_session, mint(signing_key, token, aud="https://x.example"))
        == "token_audience_invalid"
    )
    assert (
        rejected(oauth.verify_session, mint(signing_key, token, iss="https://x.example"))
        == "token_issuer_invalid"
    )
    assert rejected(oauth.verify_session, mint(Ed25519PrivateKey.generate(), token)) == "token_invalid"
    assert rejected(oauth.verify_session, mint(signing_key, token, roles="customer")) == "token_invalid"
    clock.advance(seconds=900 + TOKEN_LEEWAY_S)
    assert rejected(oauth.verify_session, token) == "token_expired"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"party_id": 0}, "party_id_invalid"),
        ({"roles": []}, "roles_invalid"),
        ({"roles": ["superuser"]}, "roles_invalid"),
        ({"roles": "customer"}, "roles_invalid"),
        ({"amr": ["magic"]}, "amr_invalid"),
        ({"amr": ["pwd"] * 9}, "amr_invalid"),
        ({"auth_time_ns": 0}, "auth_time_invalid"),
        ({"auth_time_ns": 10**30}, "auth_time_invalid"),
    ],
)
def test_issue_session_checks_its_inputs(
    oauth: OAuth, clock: ManualClock, overrides: dict[str, Any], code: str
) -> None:
    arguments: dict[str, Any] = {
        "party_id": 42,
        "roles": ["customer"],
        "amr": ["hwk"],
        "auth_time_ns": clock.now_ns(),
    }
    arguments.update(overrides)
    with pytest.raises(InvalidInput) as caught:
        oauth.issue_session(**arguments)
    assert caught.value.code == code


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"issuer": "http://netfin.example"}, "oauth_issuer_invalid"),
        ({"issuer": "https://netfin.example/?x=1"}, "oauth_issuer_invalid"),
        ({"issuer": ""}, "oauth_issuer_invalid"),
        ({"access_token_ttl_s": 0}, "oauth_ttl_invalid"),
        ({"session_ttl_s": 86_400}, "oauth_ttl_invalid"),
        ({"code_ttl_s": 3_600}, "oauth_ttl_invalid"),
        ({"signing_key": "not a key"}, "api_signing_key_invalid"),
    ],
)
def test_bad_configuration_is_refused(
    engine: Any, clock: ManualClock, overrides: dict[str, Any], code: str
) -> None:
    arguments: dict[str, Any] = {
        "clock": clock,
        "ids": SeededIds(clock),
        "issuer": "https://netfin.example",
        "signing_key": Ed25519PrivateKey.generate(),
    }
    arguments.update(overrides)
    with pytest.raises(ConfigurationError) as caught:
        OAuth(engine, **arguments)
    assert caught.value.code == code


def test_loopback_http_issuer_is_allowed_for_development(engine: Any, clock: ManualClock) -> None:
    local = OAuth(
        engine,
        clock=clock,
        ids=SeededIds(clock),
        issuer="http://127.0.0.1:8000",
        signing_key=Ed25519PrivateKey.generate(),
    )
    assert local.audience == "http://127.0.0.1:8000/api"
