"""Client registration: public keys only, accepted key types and sizes, scopes,
redirect URIs, named limits; lookup and suspension of unknown clients."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwk

from netfin.core.errors import InvalidInput, NotFound
from netfin.identity.oauth import (
    AuthMethod,
    ClientMetadataInvalid,
    ClientNotFound,
    ClientStatus,
    OAuth,
    RedirectUriInvalid,
)
from netfin.identity.oauth.model import (
    CLIENT_JWKS_KEYS_MAX,
    CLIENT_NAME_LENGTH_MAX,
    REDIRECT_URI_LENGTH_MAX,
    REDIRECT_URIS_MAX,
)


def public(key: Any) -> dict[str, Any]:
    return dict(key.as_dict(private=False))


def register(oauth: OAuth, **overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "auth_method": "private_key_jwt",
        "jwks": {"keys": [public(jwk.ECKey.generate_key("P-256"))]},
        "scopes": ["accounts"],
    }
    name = overrides.pop("name", "Acme")
    arguments.update(overrides)
    return oauth.register_client(name, **arguments)


def test_registered_client_reads_back(oauth: OAuth, clock: Any) -> None:
    key = jwk.OKPKey.generate_key("Ed25519")
    registration = register(
        oauth,
        name="  Acme Payments  ",
        jwks={"keys": [public(key)]},
        scopes="payments fundsconfirmations",
        redirect_uris=["https://acme.example/cb", "http://localhost:9000/cb", "https://acme.example/cb"],
    )
    assert registration.client_secret is None
    client = oauth.get_client(registration.client_id)
    assert client.name == "Acme Payments"
    assert client.auth_method is AuthMethod.PRIVATE_KEY_JWT
    assert client.scopes == frozenset({"payments", "fundsconfirmations"})
    assert client.redirect_uris == ("https://acme.example/cb", "http://localhost:9000/cb")
    assert client.status is ClientStatus.ACTIVE
    assert client.created_ns == clock.now_ns()
    assert client.secret_hash is None
    stored_key = client.jwks["keys"][0]  # type: ignore[index]
    # A key registered without a kid gets its RFC 7638 thumbprint.
    assert stored_key["kid"] == jwk.thumbprint(public(key))
    assert "d" not in stored_key


@pytest.mark.parametrize(
    ("jwks", "code"),
    [
        (None, "jwks_missing"),
        ({}, "jwks_invalid"),
        ({"keys": []}, "jwks_invalid"),
        ({"keys": "nope"}, "jwks_invalid"),
        ({"keys": ["nope"]}, "jwks_invalid"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0"}]}, "jwks_private_key"),
        ({"keys": [{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}]}, "jwks_invalid"),
        ({"keys": [{"kty": "X", "crv": "P-256"}]}, "jwks_invalid"),
    ],
)
def test_bad_jwks_is_refused(oauth: OAuth, jwks: Any, code: str) -> None:
    with pytest.raises(ClientMetadataInvalid) as caught:
        register(oauth, jwks=jwks)
    assert (caught.value.error, caught.value.code) == ("invalid_client_metadata", code)


@pytest.mark.parametrize(
    "generate", [lambda: jwk.ECKey.generate_key("P-256"), lambda: jwk.OKPKey.generate_key("Ed25519")]
)
def test_private_keys_are_refused(oauth: OAuth, generate: Any) -> None:
    with pytest.raises(ClientMetadataInvalid) as caught:
        register(oauth, jwks={"keys": [generate().as_dict(private=True)]})
    assert caught.value.code == "jwks_private_key"


@pytest.mark.parametrize(
    "key",
    [
        lambda: public(jwk.ECKey.generate_key("P-384")),
        lambda: public(jwk.OKPKey.generate_key("Ed448")),
        lambda: {**public(jwk.ECKey.generate_key("P-256")), "use": "enc"},
        lambda: {**public(jwk.ECKey.generate_key("P-256")), "alg": "ES384"},
        lambda: {**public(jwk.RSAKey.generate_key(2048)), "alg": "RS256"},
        lambda: {**public(jwk.ECKey.generate_key("P-256")), "kid": "k" * 200},
    ],
)
def test_keys_we_do_not_accept_are_refused(oauth: OAuth, key: Any) -> None:
    with pytest.raises(ClientMetadataInvalid) as caught:
        register(oauth, jwks={"keys": [key()]})
    assert caught.value.code == "jwks_invalid"


def b64url_int(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes((value.bit_length() + 7) // 8)).rstrip(b"=").decode()


def test_short_rsa_keys_are_refused_without_a_warning(oauth: OAuth) -> None:
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (the test's point)
    numbers = short.public_key().public_numbers()
    with pytest.raises(ClientMetadataInvalid) as caught:
        register(
            oauth, jwks={"keys": [{"kty": "RSA", "n": b64url_int(numbers.n), "e": b64url_int(numbers.e)}]}
        )
    assert caught.value.code == "jwks_invalid"


def test_duplicate_kids_and_too_many_keys_are_refused(oauth: OAuth) -> None:
    keys = [{**public(jwk.ECKey.generate_key("P-256")), "kid": "same"} for _ in range(2)]
    with pytest.raises(ClientMetadataInvalid):
        register(oauth, jwks={"keys": keys})
    many = [public(jwk.ECKey.generate_key("P-256")) for _ in range(CLIENT_JWKS_KEYS_MAX + 1)]
    with pytest.raises(ClientMetadataInvalid):
        register(oauth, jwks={"keys": many})


@pytest.mark.parametrize(
    "uri",
    [
        "http://acme.example/cb",
        "https://acme.example/cb#fragment",
        "/relative/cb",
        "acme-app://cb",
        "https://acme.example/" + "x" * REDIRECT_URI_LENGTH_MAX,
        "",
    ],
)
def test_bad_redirect_uris_are_refused(oauth: OAuth, uri: str) -> None:
    with pytest.raises(RedirectUriInvalid) as caught:
        register(oauth, redirect_uris=[uri])
    assert (caught.value.error, caught.value.code) == ("invalid_redirect_uri", "redirect_uri_invalid")


def test_too_many_redirect_uris_are_refused(oauth: OAuth) -> None:
    uris = [f"https://acme.example/cb{i}" for i in range(REDIRECT_URIS_MAX + 1)]
    with pytest.raises(ClientMetadataInvalid) as caught:
        register(oauth, redirect_uris=uris)
    assert caught.value.code == "redirect_uris_invalid"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"scopes": []}, "scope_unknown"),
        ({"scopes": ["accounts", "admin"]}, "scope_unknown"),
        ({"name": ""}, "client_name_invalid"),
        ({"name": "x" * (CLIENT_NAME_LENGTH_MAX + 1)}, "client_name_invalid"),
        ({"name": "bad\nname"}, "client_name_invalid"),
        ({"auth_method": "tls_client_auth"}, "auth_method_unsupported"),
        ({"auth_method": "none"}, "auth_method_unsupported"),
    ],
)
def test_bad_metadata_is_refused(oauth: OAuth, overrides: dict[str, Any], code: str) -> None:
    with pytest.raises(ClientMetadataInvalid) as caught:
        register(oauth, **overrides)
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.code == code


def test_secret_client_registers_no_jwks(dev_oauth: OAuth) -> None:
    with pytest.raises(ClientMetadataInvalid) as caught:
        register(dev_oauth, auth_method="client_secret_post")
    assert caught.value.code == "jwks_not_allowed"


def test_unknown_clients_are_not_found(oauth: OAuth) -> None:
    for action in (oauth.get_client, oauth.suspend_client, oauth.reactivate_client):
        with pytest.raises(ClientNotFound) as caught:
            action("0" * 32)
        assert isinstance(caught.value, NotFound)
        assert caught.value.code == "client_not_found"


def test_suspend_and_reactivate_change_the_stored_status(oauth: OAuth, client_id: str) -> None:
    oauth.suspend_client(client_id)
    assert oauth.get_client(client_id).status is ClientStatus.SUSPENDED
    oauth.reactivate_client(client_id)
    assert oauth.get_client(client_id).status is ClientStatus.ACTIVE


def test_registration_secret_is_not_in_repr(dev_oauth: OAuth) -> None:
    registration = dev_oauth.register_client(
        "Dev", auth_method=AuthMethod.CLIENT_SECRET_POST, scopes=["accounts"]
    )
    assert registration.client_secret is not None
    assert registration.client_secret not in repr(registration)
    assert "argon2" not in repr(dev_oauth.get_client(registration.client_id))
