"""Fixtures for the OAuth tests: an engine with the OAuth tables, the service,
TPP client keys generated per test, and a builder of client assertions."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jwk, jwt
from joserfc.errors import SecurityWarning
from joserfc.jws import JWSRegistry

from netfin.core.clock import NS_PER_SECOND, ManualClock
from netfin.core.ids import SeededIds
from netfin.identity.oauth import OAuth
from netfin.identity.oauth.store import TABLES
from netfin.storage import metadata, open_engine

# The test modules repeat these three values; a mismatch fails their happy paths.
ISSUER = "https://netfin.example"
ENDPOINT = "https://netfin.example/oauth2/token"
REDIRECT_URI = "https://tpp.example/callback"

AssertionBuilder = Callable[..., str]


@pytest.fixture(autouse=True)
def _no_api_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NETFIN_API_SIGNING_KEY", raising=False)
    monkeypatch.delenv("NETFIN_API_KEY_FILE", raising=False)


@pytest.fixture
def engine(tmp_path: Any) -> Iterator[sa.Engine]:
    opened = open_engine(f"sqlite:///{tmp_path / 'oauth.db'}", run_migrations=False)
    metadata.create_all(opened, tables=list(TABLES))
    yield opened
    opened.dispose()


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def oauth(engine: sa.Engine, clock: ManualClock, signing_key: Ed25519PrivateKey) -> OAuth:
    return OAuth(engine, clock=clock, ids=SeededIds(clock, seed=7), issuer=ISSUER, signing_key=signing_key)


@pytest.fixture
def dev_oauth(engine: sa.Engine, clock: ManualClock, signing_key: Ed25519PrivateKey) -> OAuth:
    """The same issuer configured for development: client secrets allowed."""
    return OAuth(
        engine,
        clock=clock,
        ids=SeededIds(clock, seed=8),
        issuer=ISSUER,
        signing_key=signing_key,
        allow_client_secret=True,
    )


@pytest.fixture
def client_key() -> jwk.ECKey:
    return jwk.ECKey.generate_key("P-256", parameters={"kid": "tpp-key-1", "alg": "ES256"})


@pytest.fixture
def client_id(oauth: OAuth, client_key: jwk.ECKey) -> str:
    registration = oauth.register_client(
        "Acme Account Aggregator",
        auth_method="private_key_jwt",
        jwks={"keys": [client_key.as_dict(private=False)]},
        scopes=["accounts", "payments"],
        redirect_uris=[REDIRECT_URI],
    )
    return registration.client_id


@pytest.fixture
def make_assertion(clock: ManualClock, client_key: jwk.ECKey) -> AssertionBuilder:
    """Build an RFC 7523 client assertion; keyword arguments override claims
    (a value of None drops the claim), ``header``, ``key`` and ``alg``."""
    counter = iter(range(1_000_000))

    def build(client_id: str, **overrides: Any) -> str:
        now_s = clock.now_ns() // NS_PER_SECOND
        key = overrides.pop("key", client_key)
        alg = overrides.pop("alg", "ES256")
        header = overrides.pop("header", {"alg": alg, "kid": key.kid or "tpp-key-1"})
        claims: dict[str, Any] = {
            "iss": client_id,
            "sub": client_id,
            "aud": ENDPOINT,
            "iat": now_s,
            "exp": now_s + 60,
            "jti": f"assertion-{next(counter)}",
        }
        claims.update(overrides)
        claims = {name: value for name, value in claims.items() if value is not None}
        with warnings.catch_warnings():
            # joserfc warns when it signs with the deprecated name "EdDSA"; TPPs
            # still use it, and the server must accept it without a warning.
            warnings.simplefilter("ignore", SecurityWarning)
            return jwt.encode(header, claims, key, registry=JWSRegistry(algorithms=[header["alg"]]))

    return build
