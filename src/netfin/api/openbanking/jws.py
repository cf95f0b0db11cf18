"""Detached JWS signatures (``x-jws-signature``) over UK Open Banking message bodies.

The v4.0 files declare an ``x-jws-signature`` header: required on the
requests of the payment-initiation POSTs and of the event-subscriptions
POST and PUT, and required on every payment-initiation response with a body.
Its value is a JWS in compact serialisation with the payload detached
(RFC 7515 Appendix F: ``<protected header>..<signature>``), computed over the
exact bytes of the HTTP body.

What netfin follows of the UK Open Banking JWS profile:

* The payload is the body, base64url-encoded in the signing input as RFC 7515
  §5.1 has it. The older profile's ``b64: false`` (RFC 7797) is refused, as
  the profile has done since v3.1.4.
* The protected header carries ``alg``, ``kid``, ``crit`` and the three
  critical claims ``http://openbanking.org.uk/iat`` (issued at, seconds since
  the epoch), ``http://openbanking.org.uk/iss`` (who signed) and
  ``http://openbanking.org.uk/tan`` (the trust anchor publishing the key);
  ``crit`` must list all three. ``typ`` (``JOSE``) and ``cty``
  (``application/json``) may be present; no other member is accepted, so a
  header cannot bring its own key (``jwk``, ``jku``, ``x5u``, ``x5c``).
* Requests: the key is looked up by ``kid`` only in the JWKS the TPP
  registered with netfin, never from the message. ``alg`` must be ES256,
  PS256 or Ed25519 (``EdDSA`` as a synonym), the algorithms a TPP may also
  use for its client assertions; ``none`` and HMAC are refused. ``iss`` must
  be the TPP's ``client_id`` (netfin's name for the profile's
  organisation/software-statement pair). ``iat`` may lie at most
  ``JWS_CLOCK_SKEW_S`` in the future and at most ``JWS_AGE_S_MAX`` in the
  past. ``tan`` must be present but its value is not compared: netfin has one
  trust anchor, its own client registry, and the value cannot redirect the
  key look-up.
* Responses are signed with the platform key that signs netfin's tokens:
  ``alg`` is ``Ed25519`` (as the OAuth module names it), ``kid`` is its
  RFC 7638 thumbprint as published at ``/oauth2/jwks``, ``iss`` is the
  bank's issuer URL and ``tan`` the issuer's host. The profile asks ASPSPs
  for PS256; netfin keeps the one Ed25519 key its JWKS publishes instead.

Not followed: JWE bodies (``application/jose+jwe``) and the profile's
directory look-ups (``jku``, certificate chains).

Public names: SIGNATURE_HEADER, OB_IAT, OB_ISS, OB_TAN, OB_CRITICAL_CLAIMS,
REQUEST_ALGORITHMS, SIGNATURE_LENGTH_MAX, PROTECTED_HEADER_BYTES_MAX,
JWS_CLOCK_SKEW_S, JWS_AGE_S_MAX, TRUST_ANCHOR_LENGTH_MAX,
JwsSignatureMissing, JwsSignatureInvalid, protected_header, sign_detached,
verify_detached, ResponseSigner, platform_signer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import Key, KeySet, KeySetSerialization, OKPKey, import_key
from joserfc.registry import HeaderParameter

from netfin.core.clock import NS_PER_SECOND, Clock
from netfin.core.errors import ConfigurationError, InvalidInput
from netfin.identity.oauth.keys import KID_LENGTH_MAX, key_id
from netfin.identity.oauth.model import CLIENT_ASSERTION_ALGORITHMS, PLATFORM_SIGNING_ALGORITHM

SIGNATURE_HEADER = "x-jws-signature"
OB_IAT = "http://openbanking.org.uk/iat"
OB_ISS = "http://openbanking.org.uk/iss"
OB_TAN = "http://openbanking.org.uk/tan"
OB_CRITICAL_CLAIMS = (OB_IAT, OB_ISS, OB_TAN)
JOSE_TYPE = "JOSE"
JSON_CONTENT_TYPE = "application/json"
# What a TPP may sign with: the algorithms of its client assertions.
REQUEST_ALGORITHMS = CLIENT_ASSERTION_ALGORITHMS
# An RSA-8192 PS256 signature is 1,366 base64url characters; the header
# stays under PROTECTED_HEADER_BYTES_MAX. Anything longer is not ours to parse.
SIGNATURE_LENGTH_MAX = 4096
PROTECTED_HEADER_BYTES_MAX = 1536
JWS_CLOCK_SKEW_S = 60
JWS_AGE_S_MAX = 300
TRUST_ANCHOR_LENGTH_MAX = 253
ISSUER_LENGTH_MAX = 256
_EDDSA_NAMES = frozenset({"Ed25519", "EdDSA"})

if TYPE_CHECKING:
    from netfin.bank import Bank


class JwsSignatureMissing(InvalidInput):
    """A request that must be signed carries no ``x-jws-signature``."""

    code = "jws_signature_missing"


class JwsSignatureInvalid(InvalidInput):
    """The ``x-jws-signature`` is malformed, breaks the profile or does not verify."""

    code = "jws_signature_invalid"


def _is_text(limit: int) -> Any:
    def check(value: Any) -> None:
        if not isinstance(value, str) or not 0 < len(value) <= limit:
            raise ValueError(f"must be a string of 1..{limit} characters")

    return check


def _is_seconds(value: Any) -> None:
    # ``bool`` is an ``int`` in Python; a JSON true is not a time.
    if type(value) is not int or value < 0:
        raise ValueError("must be a non-negative integer")


class _ProfileRegistry(jws.JWSRegistry):
    """The header members the profile allows, and nothing else (strict).

    "EdDSA" is served without joserfc's deprecation warning: RFC 9864 renames
    it "Ed25519", but TPP libraries still send the old name, and registered
    OKP keys are Ed25519 only, so both names mean the same algorithm here.
    """

    max_header_length = PROTECTED_HEADER_BYTES_MAX

    def __init__(self, algorithms: list[str]) -> None:
        super().__init__(algorithms=algorithms, strict_check_header=True)
        # Replaces joserfc's defaults, which would admit jwk, jku, x5u and x5c.
        self.header_registry = {
            "alg": HeaderParameter("Algorithm", "str", True),
            "kid": HeaderParameter("Key ID", _is_text(KID_LENGTH_MAX), True),
            "typ": HeaderParameter("Type", "str"),
            "cty": HeaderParameter("Content Type", "str"),
            "crit": HeaderParameter("Critical", "list[str]", True),
            OB_IAT: HeaderParameter("Issued at", _is_seconds, True),
            OB_ISS: HeaderParameter("Issuer", _is_text(ISSUER_LENGTH_MAX), True),
            OB_TAN: HeaderParameter("Trust anchor", _is_text(TRUST_ANCHOR_LENGTH_MAX), True),
        }

    def get_alg(self, name: str) -> JWSAlgModel:
        if name == "EdDSA" and self.allowed is not None and name in self.allowed:
            return self.algorithms[name]
        return super().get_alg(name)


_REGISTRY = _ProfileRegistry(algorithms=list(REQUEST_ALGORITHMS))


def protected_header(
    *, alg: str, kid: str, issuer: str, trust_anchor: str, issued_at_s: int
) -> dict[str, Any]:
    """The profile's protected header for one signature."""
    return {
        "alg": alg,
        "kid": kid,
        "typ": JOSE_TYPE,
        "cty": JSON_CONTENT_TYPE,
        "crit": list(OB_CRITICAL_CLAIMS),
        OB_IAT: issued_at_s,
        OB_ISS: issuer,
        OB_TAN: trust_anchor,
    }


def sign_detached(body: bytes, key: Key, header: Mapping[str, Any]) -> str:
    """``<protected header>..<signature>`` over ``body`` (RFC 7515 Appendix F)."""
    compact = jws.serialize_compact(dict(header), body, key, registry=_REGISTRY)
    return jws.detach_content(compact)


def verify_detached(
    signature: str, body: bytes, jwks: Mapping[str, Any] | KeySet, *, client_id: str, now_s: int
) -> dict[str, Any]:
    """Check a TPP's ``x-jws-signature`` over ``body`` with the client's keys (a JWK Set,
    as registered or already imported); returns its protected header.

    Raises ``JwsSignatureInvalid`` (``jws_signature_invalid``) with the reason.
    """
    segments = _segments(signature)
    try:
        extracted = jws.extract_compact(segments, body, _REGISTRY)
        header = extracted.headers()
        _REGISTRY.check_header(header)
        _check_claims(header, client_id=client_id, now_s=now_s)
        key = _client_key(header, jwks)
        if not jws.validate_compact(extracted, key, registry=_REGISTRY):
            raise JwsSignatureInvalid("the signature does not match the body")
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise JwsSignatureInvalid(f"the signature cannot be verified: {_reason(error)}") from None
    return dict(header)


def _segments(signature: str) -> bytes:
    if not signature or len(signature) > SIGNATURE_LENGTH_MAX or not signature.isascii():
        raise JwsSignatureInvalid(f"x-jws-signature must be 1..{SIGNATURE_LENGTH_MAX} ASCII characters")
    parts = signature.split(".")
    if len(parts) != 3 or not parts[0] or parts[1] or not parts[2]:
        # An attached payload would be verified instead of the body, so only
        # the detached form is accepted.
        raise JwsSignatureInvalid("x-jws-signature must be a detached JWS: '<header>..<signature>'")
    return signature.encode("ascii")


def _check_claims(header: Mapping[str, Any], *, client_id: str, now_s: int) -> None:
    if "b64" in header:
        raise JwsSignatureInvalid("the b64 header member is not allowed (UK OB JWS profile since v3.1.4)")
    missing = [claim for claim in OB_CRITICAL_CLAIMS if claim not in header["crit"]]
    if missing:
        raise JwsSignatureInvalid(f"crit must list {', '.join(missing)}")
    if header[OB_ISS] != client_id:
        raise JwsSignatureInvalid(f"{OB_ISS} must be the client_id of the caller")
    issued_at_s = header[OB_IAT]
    if issued_at_s > now_s + JWS_CLOCK_SKEW_S:
        raise JwsSignatureInvalid(f"{OB_IAT} lies in the future")
    if issued_at_s < now_s - JWS_AGE_S_MAX:
        raise JwsSignatureInvalid(f"{OB_IAT} is older than {JWS_AGE_S_MAX} seconds")


def _client_key(header: Mapping[str, Any], jwks: Mapping[str, Any] | KeySet) -> Key:
    alg = header["alg"]
    _REGISTRY.get_alg(alg)  # refuses "none", HMAC and anything else not allowed
    if isinstance(jwks, KeySet):
        key_set = jwks
    else:
        key_set = KeySet.import_key_set(cast(KeySetSerialization, dict(jwks)))
    key = key_set.get_by_kid(header["kid"])
    if key.get("use", "sig") != "sig":
        raise JwsSignatureInvalid("the key named by kid is not a signing key")
    declared = key.alg
    if declared is None or declared == alg:
        return key
    if not {declared, alg} <= _EDDSA_NAMES:
        raise JwsSignatureInvalid("alg differs from the alg registered for the key")
    # joserfc binds a key to the alg it declares; both names of EdDSA are one algorithm here.
    return import_key({name: value for name, value in key.as_dict(private=False).items() if name != "alg"})


def _reason(error: BaseException) -> str:
    text = getattr(error, "description", None) or str(error) or type(error).__name__
    return str(text)[:200]


class ResponseSigner:
    """Signs response bodies with the platform key, under the profile's header."""

    def __init__(self, key: Ed25519PrivateKey, *, issuer: str, trust_anchor: str, clock: Clock) -> None:
        self._key = OKPKey.import_key(key)
        self.kid = key_id(key.public_key())
        self.issuer = issuer
        self.trust_anchor = trust_anchor
        self._clock = clock

    def sign(self, body: bytes) -> str:
        header = protected_header(
            alg=PLATFORM_SIGNING_ALGORITHM,
            kid=self.kid,
            issuer=self.issuer,
            trust_anchor=self.trust_anchor,
            issued_at_s=self._clock.now_ns() // NS_PER_SECOND,
        )
        return sign_detached(body, self._key, header)


def platform_signer(bank: Bank) -> ResponseSigner:
    """A signer with the bank's platform key, the one whose kid ``/oauth2/jwks`` publishes.

    Raises ``ConfigurationError`` (``api_signing_key_missing``) when the bank
    holds no Ed25519 key, or (``api_signing_key_mismatch``) when the key at
    hand is not the published one.
    """
    # The key the Bank loaded once at start (reloading from the environment
    # could find another key if the environment changed since).
    key = getattr(bank, "api_signing_key", None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError("the bank exposes no API signing key", code="api_signing_key_missing")
    published = {member.get("kid") for member in bank.oauth.jwks()["keys"]}
    if key_id(key.public_key()) not in published:
        raise ConfigurationError(
            "the API signing key is not the one /oauth2/jwks publishes", code="api_signing_key_mismatch"
        )
    issuer = bank.settings.issuer
    return ResponseSigner(
        key, issuer=issuer, trust_anchor=urlsplit(issuer).netloc or issuer, clock=bank.clock
    )
