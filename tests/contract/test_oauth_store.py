"""The OAuth store and the flows that depend on it, on SQLite and PostgreSQL:
client rows, single-use client assertion ids, single-use authorization codes
(also under concurrent redemption), suspension and purging."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jwk, jwt
from joserfc.jws import JWSRegistry

from netfin.core.clock import NS_PER_SECOND, ManualClock
from netfin.core.ids import SeededIds
from netfin.core.limits import UINT128_MAX
from netfin.identity.oauth import AuthMethod, ClientStatus, OAuth, OAuthClient, OAuthError, TokenRejected
from netfin.identity.oauth.model import CLIENT_ASSERTION_TYPE_JWT_BEARER, AuthorizationCode
from netfin.identity.oauth.store import TABLES, OAuthStore
from netfin.storage import metadata, open_engine

ISSUER = "https://netfin.example"
ENDPOINT = "https://netfin.example/oauth2/token"
REDIRECT_URI = "https://tpp.example/callback"


@pytest.fixture
def engine(empty_store_url: str) -> Iterator[sa.Engine]:
    opened = open_engine(empty_store_url, run_migrations=False)
    metadata.create_all(opened, tables=list(TABLES))
    yield opened
    opened.dispose()


@pytest.fixture
def store(engine: sa.Engine) -> OAuthStore:
    return OAuthStore(engine)


@pytest.fixture
def oauth(engine: sa.Engine, clock: ManualClock) -> OAuth:
    return OAuth(
        engine, clock=clock, ids=SeededIds(clock), issuer=ISSUER, signing_key=Ed25519PrivateKey.generate()
    )


@pytest.fixture
def tpp_key() -> jwk.ECKey:
    return jwk.ECKey.generate_key("P-256", parameters={"kid": "tpp-1"})


@pytest.fixture
def client_id(oauth: OAuth, tpp_key: jwk.ECKey) -> str:
    return oauth.register_client(
        "Acme",
        auth_method="private_key_jwt",
        jwks={"keys": [tpp_key.as_dict(private=False)]},
        scopes=["accounts", "payments", "fundsconfirmations"],
        redirect_uris=[REDIRECT_URI],
    ).client_id


def assertion(client_id: str, key: jwk.ECKey, clock: ManualClock, jti: str) -> str:
    now_s = clock.now_ns() // NS_PER_SECOND
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": ENDPOINT,
        "iat": now_s,
        "exp": now_s + 60,
        "jti": jti,
    }
    return jwt.encode(
        {"alg": "ES256", "kid": "tpp-1"}, claims, key, registry=JWSRegistry(algorithms=["ES256"])
    )


def token_form(grant: str, client_assertion: str, **fields: str) -> dict[str, str]:
    return {
        "grant_type": grant,
        "client_assertion_type": CLIENT_ASSERTION_TYPE_JWT_BEARER,
        "client_assertion": client_assertion,
        **fields,
    }


def client_row(client_id: str = "c" * 32, **overrides: Any) -> OAuthClient:
    values: dict[str, Any] = {
        "client_id": client_id,
        "name": "Row Test",
        "auth_method": AuthMethod.CLIENT_SECRET_POST,
        "jwks": None,
        "scopes": frozenset({"accounts"}),
        "redirect_uris": ("https://a.example/cb",),
        "status": ClientStatus.ACTIVE,
        "created_ns": 1_767_225_600_123_456_789,
        "secret_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
    }
    values.update(overrides)
    return OAuthClient(**values)


def code_row(code: str, client_id: str, **overrides: Any) -> AuthorizationCode:
    values: dict[str, Any] = {
        "code_hash": hashlib.sha256(code.encode()).digest(),
        "client_id": client_id,
        "consent_id": "aac-1",
        "party_id": UINT128_MAX - 1,
        "redirect_uri": "https://a.example/cb",
        "scope": "accounts",
        "expires_ns": 2_000,
        "used_ns": None,
        "code_challenge": None,
    }
    values.update(overrides)
    return AuthorizationCode(**values)


# -- store --------------------------------------------------------------------------------


def test_client_round_trip(store: OAuthStore) -> None:
    jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "abc", "kid": "k"}]}
    row = client_row(
        jwks=jwks, scopes=frozenset({"accounts", "payments"}), auth_method=AuthMethod.PRIVATE_KEY_JWT
    )
    store.insert_client(row)
    assert store.load_client(row.client_id) == row
    assert store.load_client("missing") is None
    assert store.client_status(row.client_id) is ClientStatus.ACTIVE
    assert store.client_status("missing") is None


def test_client_status_changes(store: OAuthStore) -> None:
    store.insert_client(client_row())
    assert store.set_client_status("c" * 32, ClientStatus.SUSPENDED) is True
    assert store.client_status("c" * 32) is ClientStatus.SUSPENDED
    assert store.set_client_status("missing", ClientStatus.SUSPENDED) is False


def test_duplicate_client_id_is_refused_by_the_database(store: OAuthStore) -> None:
    store.insert_client(client_row())
    with pytest.raises(sa.exc.IntegrityError):
        store.insert_client(client_row())


def test_assertion_jti_is_remembered_until_it_expires(store: OAuthStore) -> None:
    store.insert_client(client_row("a" * 32))
    store.insert_client(client_row("b" * 32))
    assert store.record_assertion_jti("a" * 32, "j1", expires_ns=100, now_ns=10) is True
    assert store.record_assertion_jti("a" * 32, "j1", expires_ns=500, now_ns=99) is False
    # The same jti from another client is another assertion.
    assert store.record_assertion_jti("b" * 32, "j1", expires_ns=100, now_ns=10) is True
    # Once expired it is purged and may be recorded again.
    assert store.record_assertion_jti("a" * 32, "j1", expires_ns=300, now_ns=101) is True
    assert store.record_assertion_jti("a" * 32, "j1", expires_ns=300, now_ns=200) is False


def test_code_round_trip_and_single_use(store: OAuthStore) -> None:
    store.insert_client(client_row())
    row = code_row("the-code", "c" * 32, code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    store.insert_code(row)
    assert store.load_code(row.code_hash) == row
    assert store.load_code(b"\x00" * 32) is None
    assert store.mark_code_used(row.code_hash, 1_500) is True
    assert store.mark_code_used(row.code_hash, 1_600) is False
    loaded = store.load_code(row.code_hash)
    assert loaded is not None and loaded.used_ns == 1_500


def test_code_is_redeemed_once_under_concurrency(store: OAuthStore) -> None:
    store.insert_client(client_row())
    row = code_row("raced", "c" * 32)
    store.insert_code(row)
    results: list[bool] = []
    barrier = threading.Barrier(6)

    def redeem() -> None:
        barrier.wait()
        results.append(store.mark_code_used(row.code_hash, 1_000))

    threads = [threading.Thread(target=redeem) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]


def test_purge_drops_only_expired_rows(store: OAuthStore) -> None:
    store.insert_client(client_row())
    store.insert_code(code_row("old", "c" * 32, expires_ns=100))
    store.insert_code(code_row("new", "c" * 32, expires_ns=10_000))
    store.record_assertion_jti("c" * 32, "old", expires_ns=100, now_ns=0)
    store.record_assertion_jti("c" * 32, "new", expires_ns=10_000, now_ns=0)
    assert store.purge_expired(5_000) == 2
    assert store.load_code(hashlib.sha256(b"old").digest()) is None
    assert store.load_code(hashlib.sha256(b"new").digest()) is not None
    assert store.record_assertion_jti("c" * 32, "new", expires_ns=20_000, now_ns=5_000) is False


# -- flows on both stores ---------------------------------------------------------------------


def test_client_credentials_and_replay(
    oauth: OAuth, client_id: str, tpp_key: jwk.ECKey, clock: ManualClock
) -> None:
    signed = assertion(client_id, tpp_key, clock, "cc-1")
    response = oauth.token(
        token_form("client_credentials", signed, scope="fundsconfirmations"),
        token_endpoint=ENDPOINT,
        authorization_header=None,
    )
    claims = oauth.verify_access_token(response.access_token)
    assert (claims.client_id, claims.scopes) == (client_id, frozenset({"fundsconfirmations"}))
    with pytest.raises(OAuthError) as caught:
        oauth.token(
            token_form("client_credentials", signed), token_endpoint=ENDPOINT, authorization_header=None
        )
    assert caught.value.code == "client_assertion_replayed"


def test_authorization_code_flow_and_reuse(
    oauth: OAuth, client_id: str, tpp_key: jwk.ECKey, clock: ManualClock
) -> None:
    party_id = UINT128_MAX - 7
    code = oauth.issue_authorization_code(
        client_id=client_id,
        consent_id="pac-9",
        party_id=party_id,
        redirect_uri=REDIRECT_URI,
        scope="payments",
    )
    form = token_form(
        "authorization_code",
        assertion(client_id, tpp_key, clock, "ac-1"),
        code=code,
        redirect_uri=REDIRECT_URI,
    )
    claims = oauth.verify_access_token(
        oauth.token(form, token_endpoint=ENDPOINT, authorization_header=None).access_token
    )
    assert (claims.consent_id, claims.party_id, claims.scopes) == ("pac-9", party_id, frozenset({"payments"}))
    form["client_assertion"] = assertion(client_id, tpp_key, clock, "ac-2")
    with pytest.raises(OAuthError) as caught:
        oauth.token(form, token_endpoint=ENDPOINT, authorization_header=None)
    assert caught.value.code == "code_used"


def test_suspension_stops_tokens(
    oauth: OAuth, client_id: str, tpp_key: jwk.ECKey, clock: ManualClock
) -> None:
    response = oauth.token(
        token_form("client_credentials", assertion(client_id, tpp_key, clock, "s-1")),
        token_endpoint=ENDPOINT,
        authorization_header=None,
    )
    oauth.suspend_client(client_id)
    with pytest.raises(TokenRejected) as caught:
        oauth.verify_access_token(response.access_token)
    assert caught.value.code == "client_suspended"


def test_purge_expired_through_the_service(
    oauth: OAuth, client_id: str, tpp_key: jwk.ECKey, clock: ManualClock
) -> None:
    oauth.issue_authorization_code(
        client_id=client_id, consent_id="aac-2", party_id=5, redirect_uri=REDIRECT_URI, scope="accounts"
    )
    oauth.token(
        token_form("client_credentials", assertion(client_id, tpp_key, clock, "p-1")),
        token_endpoint=ENDPOINT,
        authorization_header=None,
    )
    assert oauth.purge_expired() == 0
    clock.advance(seconds=3_600)
    assert oauth.purge_expired() == 2


def test_a_clients_key_set_is_read_once_and_an_unknown_client_never_cached(
    oauth: OAuth, client_id: str, tpp_key: jwk.ECKey, engine: sa.Engine
) -> None:
    from netfin.identity.oauth import ClientNotFound

    key_set = oauth.client_key_set(client_id)
    assert key_set is not None
    assert key_set.get_by_kid("tpp-1").as_dict(private=False) == tpp_key.as_dict(private=False)
    with engine.begin() as connection:  # the row gone behind the cache's back: still served from memory
        connection.execute(sa.text("DELETE FROM oauth_clients"))
    assert oauth.client_key_set(client_id) is key_set
    for _ in range(2):
        with pytest.raises(ClientNotFound):
            oauth.client_key_set("no-such-client")
