"""x-jws-signature: the UK OB profile of detached JWS, as TPPs send it and as netfin signs responses."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws as jose
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey
from joserfc.registry import HeaderParameter

from netfin.api.openbanking import jws
from netfin.core.clock import NS_PER_SECOND, ManualClock
from netfin.core.errors import ConfigurationError
from netfin.identity.oauth.keys import jwks as platform_jwks
from netfin.identity.oauth.keys import key_id
from netfin.sim.tpp import SoftwareTpp

NOW_S = 1_767_225_600
CLIENT = "client-a"
BODY = b'{"Data":{"Initiation":{"InstructedAmount":{"Amount":"1.00","Currency":"GBP"}}},"Risk":{}}'


def _tpp() -> SoftwareTpp:
    return SoftwareTpp("A", client_id=CLIENT)


def _b64(document: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


def _header(**changes: Any) -> dict[str, Any]:
    header = jws.protected_header(
        alg="ES256", kid="k1", issuer=CLIENT, trust_anchor="openbanking.org.uk", issued_at_s=NOW_S
    )
    header.update(changes)
    return {name: value for name, value in header.items() if value is not None}


# Knows the profile's members but checks none of them, to make signatures that break the profile.
_ANY_HEADER = jose.JWSRegistry(
    header_registry={claim: HeaderParameter(claim, lambda value: None) for claim in jws.OB_CRITICAL_CLAIMS},
    algorithms=["ES256", "Ed25519"],
    strict_check_header=False,
)


def _ec_client() -> tuple[ECKey, dict[str, Any]]:
    key = ECKey.generate_key("P-256", private=True)
    return key, {"keys": [{**key.as_dict(private=False), "kid": "k1", "use": "sig", "alg": "ES256"}]}


def test_a_tpp_signature_over_the_exact_body_verifies() -> None:
    tpp = _tpp()
    signature = tpp.sign_body(BODY, now_s=NOW_S)
    header_segment, payload_segment, signature_segment = signature.split(".")
    assert header_segment and signature_segment and payload_segment == ""
    header = jws.verify_detached(signature, BODY, tpp.public_jwks, client_id=CLIENT, now_s=NOW_S)
    assert header["alg"] == "ES256"
    assert header["kid"] == tpp.kid
    assert header["crit"] == list(jws.OB_CRITICAL_CLAIMS)
    assert (header[jws.OB_IAT], header[jws.OB_ISS]) == (NOW_S, CLIENT)


def test_a_signature_over_other_bytes_is_refused() -> None:
    tpp = _tpp()
    signature = tpp.sign_body(BODY, now_s=NOW_S)
    # The same JSON with other whitespace is other bytes: the signature covers the bytes.
    for body in (BODY.replace(b"1.00", b"9.00"), BODY.replace(b":", b": "), b""):
        with pytest.raises(jws.JwsSignatureInvalid) as refused:
            jws.verify_detached(signature, body, tpp.public_jwks, client_id=CLIENT, now_s=NOW_S)
        assert refused.value.code == "jws_signature_invalid"


def test_a_signature_by_another_key_under_the_same_kid_is_refused() -> None:
    tpp = _tpp()
    forger = SoftwareTpp("forger", client_id=CLIENT, kid=tpp.kid)
    with pytest.raises(jws.JwsSignatureInvalid, match="does not match"):
        jws.verify_detached(
            forger.sign_body(BODY, now_s=NOW_S), BODY, tpp.public_jwks, client_id=CLIENT, now_s=NOW_S
        )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({jws.OB_ISS: "client-b"}, "client_id"),
        ({jws.OB_IAT: NOW_S + jws.JWS_CLOCK_SKEW_S + 1}, "future"),
        ({jws.OB_IAT: NOW_S - jws.JWS_AGE_S_MAX - 1}, "older"),
        ({jws.OB_IAT: True}, "iat"),
        ({jws.OB_IAT: "now"}, "iat"),
        ({"crit": [jws.OB_IAT, jws.OB_ISS]}, "crit must list"),
        ({jws.OB_TAN: None, "crit": [jws.OB_IAT, jws.OB_ISS]}, "tan"),
        ({"crit": None}, "crit"),
        ({"kid": None}, "kid"),
        ({"kid": "k2"}, "kid"),
        ({"alg": "PS256"}, "alg differs"),
    ],
)
def test_a_header_outside_the_profile_is_refused(changes: dict[str, Any], reason: str) -> None:
    key, jwks = _ec_client()
    header = _header(**changes)
    if header.get("alg") == "ES256":
        signature = jose.detach_content(jose.serialize_compact(header, BODY, key, registry=_ANY_HEADER))
    else:
        signature = _b64(header) + ".." + "A" * 86
    with pytest.raises(jws.JwsSignatureInvalid, match=reason):
        jws.verify_detached(signature, BODY, jwks, client_id=CLIENT, now_s=NOW_S)


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "ES512", "PS512"])
def test_weak_or_unlisted_algorithms_are_refused(alg: str) -> None:
    _, jwks = _ec_client()
    signature = _b64(_header(alg=alg)) + ".." + ("A" * 86 if alg != "none" else "")
    with pytest.raises(jws.JwsSignatureInvalid):
        jws.verify_detached(signature, BODY, jwks, client_id=CLIENT, now_s=NOW_S)


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c", "b64", "zip"])
def test_a_header_that_brings_its_own_key_or_encoding_is_refused(member: str) -> None:
    _, jwks = _ec_client()
    value: Any = {"jwk": {"kty": "EC"}, "b64": False, "x5c": ["AAAA"]}.get(member, "https://evil.example/k")
    signature = _b64({**_header(), member: value}) + ".." + "A" * 86
    with pytest.raises(jws.JwsSignatureInvalid):
        jws.verify_detached(signature, BODY, jwks, client_id=CLIENT, now_s=NOW_S)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s.replace("..", "." + _b64({"Data": {}}) + "."),  # attached payload
        lambda s: s.replace("..", "."),
        lambda s: s + ".extra",
        lambda s: "",
        lambda s: s + "é",
        lambda s: s.split(".")[0] + ".." + "A" * jws.SIGNATURE_LENGTH_MAX,
        lambda s: "!!!.." + s.split(".")[2],
    ],
)
def test_malformed_signatures_are_refused(mangle: Any) -> None:
    tpp = _tpp()
    signature = mangle(tpp.sign_body(BODY, now_s=NOW_S))
    with pytest.raises(jws.JwsSignatureInvalid):
        jws.verify_detached(signature, BODY, tpp.public_jwks, client_id=CLIENT, now_s=NOW_S)


@pytest.mark.parametrize("alg", ["Ed25519", "EdDSA"])
def test_ed25519_clients_may_use_either_name(alg: str) -> None:
    key = OKPKey.generate_key("Ed25519", private=True)
    jwks = {"keys": [{**key.as_dict(private=False), "kid": "k1", "use": "sig", "alg": "Ed25519"}]}
    signature = jws.sign_detached(BODY, key, _header(alg=alg))
    assert jws.verify_detached(signature, BODY, jwks, client_id=CLIENT, now_s=NOW_S)["alg"] == alg


def test_ps256_clients_are_accepted_and_a_key_is_used_only_for_its_alg() -> None:
    key = RSAKey.generate_key(2048, private=True)
    jwks = {"keys": [{**key.as_dict(private=False), "kid": "k1", "use": "sig", "alg": "PS256"}]}
    signature = jws.sign_detached(BODY, key, _header(alg="PS256"))
    assert jws.verify_detached(signature, BODY, jwks, client_id=CLIENT, now_s=NOW_S)["alg"] == "PS256"
    encryption_only = {"keys": [{**jwks["keys"][0], "use": "enc"}]}
    with pytest.raises(jws.JwsSignatureInvalid, match="not a signing key"):
        jws.verify_detached(signature, BODY, encryption_only, client_id=CLIENT, now_s=NOW_S)


def test_responses_are_signed_with_the_published_platform_key() -> None:
    platform = Ed25519PrivateKey.generate()
    clock = ManualClock(NOW_S * NS_PER_SECOND)
    signer = jws.ResponseSigner(
        platform, issuer="https://bank.example", trust_anchor="bank.example", clock=clock
    )
    signature = signer.sign(BODY)
    assert signature.split(".")[1] == ""
    keys = KeySet.import_key_set(platform_jwks(platform))  # type: ignore[arg-type]
    verified = jose.deserialize_compact(signature, keys, registry=_ANY_HEADER, payload=BODY)
    header = verified.headers()
    assert header["kid"] == key_id(platform.public_key()) == signer.kid
    assert (header["alg"], header[jws.OB_IAT]) == ("Ed25519", NOW_S)
    assert (header[jws.OB_ISS], header[jws.OB_TAN]) == ("https://bank.example", "bank.example")
    with pytest.raises(jose.BadSignatureError):
        jose.deserialize_compact(signature, keys, registry=_ANY_HEADER, payload=BODY + b" ")


def test_a_response_signature_is_the_profiles_detached_jws_with_the_current_second() -> None:
    """A response's signature is exactly what ``sign_detached`` makes under the profile's
    header for the clock's current second, and the next second gets a new header."""
    platform = Ed25519PrivateKey.generate()
    clock = ManualClock(NOW_S * NS_PER_SECOND)
    signer = jws.ResponseSigner(
        platform, issuer="https://bank.example", trust_anchor="bank.example", clock=clock
    )
    key = OKPKey.import_key(platform)

    def expected(second: int, body: bytes) -> str:
        header = jws.protected_header(
            alg="Ed25519", kid=signer.kid, issuer="https://bank.example", trust_anchor="bank.example",
            issued_at_s=second,
        )  # fmt: skip
        return jws.sign_detached(body, key, header)

    assert signer.sign(BODY) == expected(NOW_S, BODY)
    assert signer.sign(b"{}") == expected(NOW_S, b"{}")
    clock.advance(seconds=1)
    later = signer.sign(BODY)
    assert later == expected(NOW_S + 1, BODY) and later != expected(NOW_S, BODY)


def _bank(published: Ed25519PrivateKey, **holder: Any) -> Any:
    return SimpleNamespace(
        **holder,
        oauth=SimpleNamespace(jwks=lambda: platform_jwks(published)),
        settings=SimpleNamespace(issuer="http://127.0.0.1:8000"),
        clock=ManualClock(NOW_S * NS_PER_SECOND),
    )


def test_the_platform_signer_uses_only_the_key_the_jwks_publishes() -> None:
    key = Ed25519PrivateKey.generate()
    signer = jws.platform_signer(_bank(key, api_signing_key=key))
    assert (signer.kid, signer.issuer, signer.trust_anchor) == (
        key_id(key.public_key()),
        "http://127.0.0.1:8000",
        "127.0.0.1:8000",
    )
    with pytest.raises(ConfigurationError) as refused:
        jws.platform_signer(_bank(Ed25519PrivateKey.generate(), api_signing_key=key))
    assert refused.value.code == "api_signing_key_mismatch"


def test_the_platform_signer_needs_the_banks_key() -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(ConfigurationError) as refused:
        jws.platform_signer(_bank(key))
    assert refused.value.code == "api_signing_key_missing"
