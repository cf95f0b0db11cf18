"""The platform's API signing key (Ed25519), its public JWKS, and TPP key checks.

The key signs access tokens and session tokens. It comes, in this order, from
``NETFIN_API_SIGNING_KEY`` (PEM text), from the PEM file named by
``NETFIN_API_KEY_FILE``, or from ``$NETFIN_HOME/api_ed25519.pem``
(``NETFIN_HOME`` defaults to ``~/.netfin``), which is created with mode 0600
on first use. A key file that the group or others can read is refused: a
leaked signing key lets anyone mint tokens for any client.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc import jwk
from joserfc.errors import JoseError

from netfin.core.errors import ConfigurationError
from netfin.identity.oauth.errors import ClientMetadataInvalid
from netfin.identity.oauth.model import (
    CLIENT_JWKS_BYTES_MAX,
    CLIENT_JWKS_KEYS_MAX,
    PLATFORM_SIGNING_ALGORITHM,
    RSA_KEY_BITS_MAX,
    RSA_KEY_BITS_MIN,
)

KEY_ENV = "NETFIN_API_SIGNING_KEY"
KEY_FILE_ENV = "NETFIN_API_KEY_FILE"
KEY_FILE_NAME = "api_ed25519.pem"
# A PEM-encoded PKCS#8 Ed25519 key is about 120 bytes; anything far larger is not one.
KEY_PEM_BYTES_MAX = 4_096


def default_key_file() -> Path:
    home = os.environ.get("NETFIN_HOME") or str(Path.home() / ".netfin")
    return Path(home) / KEY_FILE_NAME


def load_api_signing_key(key_file: str | os.PathLike[str] | None = None) -> Ed25519PrivateKey:
    """The API signing key, from the environment or a private key file.

    ``key_file`` overrides both environment variables. An explicitly named
    file must exist; only the default file is created when missing.
    Raises ``ConfigurationError`` (``api_signing_key_invalid``,
    ``api_key_file_missing``, ``api_key_file_permissions``).
    """
    if key_file is None:
        pem = os.environ.get(KEY_ENV)
        if pem:
            return _parse_pem(pem.encode("utf-8"), source=KEY_ENV)
    named = key_file or os.environ.get(KEY_FILE_ENV)
    if named:
        path = Path(named)
        if not path.exists():
            raise ConfigurationError(f"API key file {path} does not exist", code="api_key_file_missing")
    else:
        path = default_key_file()
        if not path.exists():
            _create_key_file(path)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigurationError(
            f"API key file {path} is accessible to group or others (mode {mode:o}); chmod 600 it",
            code="api_key_file_permissions",
        )
    with path.open("rb") as handle:
        data = handle.read(KEY_PEM_BYTES_MAX + 1)
    return _parse_pem(data, source=str(path))


def _parse_pem(data: bytes, *, source: str) -> Ed25519PrivateKey:
    if len(data) > KEY_PEM_BYTES_MAX:
        raise ConfigurationError(f"{source} is too large to be a PEM key", code="api_signing_key_invalid")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"{source} does not hold an unencrypted PEM private key", code="api_signing_key_invalid"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"{source} does not hold an Ed25519 key", code="api_signing_key_invalid")
    return key


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # Another process created it first; both then use that one.
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The public key as an RFC 8037 OKP JWK, with its RFC 7638 thumbprint as ``kid``."""
    members = _required_members(public_key)
    return {**members, "kid": jwk.thumbprint(members), "use": "sig", "alg": PLATFORM_SIGNING_ALGORITHM}


def key_id(public_key: Ed25519PublicKey) -> str:
    """The RFC 7638 SHA-256 thumbprint of the public key, Base64url encoded."""
    return jwk.thumbprint(_required_members(public_key))


def _required_members(public_key: Ed25519PublicKey) -> dict[str, Any]:
    # RFC 7638 §3.2 hashes only the required members of an OKP key.
    members = jwk.OKPKey.import_key(public_key).as_dict(private=False)
    return {name: members[name] for name in ("crv", "kty", "x")}


def jwks(signing_key: Ed25519PrivateKey) -> dict[str, Any]:
    """The public JWK Set that resource servers and TPPs fetch to verify our tokens."""
    return {"keys": [public_jwk(signing_key.public_key())]}


# -- the public keys a TPP registers --------------------------------------------------

# Members that only a private or symmetric JWK has (RFC 7518 §6, RFC 8037 §2).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# Key type → the one curve we accept and the algorithms such a key may sign with.
_KEY_CURVES = {"OKP": "Ed25519", "EC": "P-256"}
_KEY_ALGORITHMS = {
    "OKP": frozenset({"Ed25519", "EdDSA"}),
    "EC": frozenset({"ES256"}),
    "RSA": frozenset({"PS256"}),
}
KID_LENGTH_MAX = 128


def checked_client_jwks(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """The public JWK Set a ``private_key_jwt`` client registers, normalised.

    Accepts Ed25519 (OKP), P-256 (EC) and RSA keys of 2048 to 8192 bits for
    signing; refuses private or symmetric members. Each key gets a ``kid``
    (its RFC 7638 thumbprint if none was given), unique within the set.
    Raises ``ClientMetadataInvalid`` (``jwks_missing``, ``jwks_invalid``,
    ``jwks_private_key``).
    """
    if value is None:
        raise ClientMetadataInvalid("a private_key_jwt client must register a JWKS", code="jwks_missing")
    if not isinstance(value, Mapping):
        raise ClientMetadataInvalid("jwks must be a JWK Set object", code="jwks_invalid")
    try:
        size = len(json.dumps(value))
    except (TypeError, ValueError):
        raise ClientMetadataInvalid("jwks must be JSON", code="jwks_invalid") from None
    members = value.get("keys")
    if size > CLIENT_JWKS_BYTES_MAX or not isinstance(members, list):
        raise ClientMetadataInvalid(
            f"jwks must be a JWK Set of at most {CLIENT_JWKS_BYTES_MAX} bytes", code="jwks_invalid"
        )
    if not 0 < len(members) <= CLIENT_JWKS_KEYS_MAX:
        raise ClientMetadataInvalid(f"jwks must hold 1 to {CLIENT_JWKS_KEYS_MAX} keys", code="jwks_invalid")
    public_keys = [_checked_client_key(member) for member in members]
    kids = [key["kid"] for key in public_keys]
    if len(set(kids)) != len(kids):
        raise ClientMetadataInvalid("every key in jwks needs its own kid", code="jwks_invalid")
    return {"keys": public_keys}


def _checked_client_key(member: object) -> dict[str, Any]:
    if not isinstance(member, Mapping):
        raise ClientMetadataInvalid("each key must be a JWK object", code="jwks_invalid")
    if _PRIVATE_MEMBERS & set(member):
        raise ClientMetadataInvalid("jwks must hold public keys only", code="jwks_private_key")
    kty = member.get("kty")
    if kty not in _KEY_ALGORITHMS:
        raise ClientMetadataInvalid("keys must be OKP (Ed25519), EC (P-256) or RSA", code="jwks_invalid")
    if kty in _KEY_CURVES and member.get("crv") != _KEY_CURVES[kty]:
        raise ClientMetadataInvalid(f"{kty} keys must use {_KEY_CURVES[kty]}", code="jwks_invalid")
    if (
        member.get("use", "sig") != "sig"
        or member.get("alg", next(iter(_KEY_ALGORITHMS[kty]))) not in (_KEY_ALGORITHMS[kty])
    ):
        raise ClientMetadataInvalid("a key's use must be sig and its alg one we accept", code="jwks_invalid")
    kid = member.get("kid")
    if kid is not None and (not isinstance(kid, str) or not 0 < len(kid) <= KID_LENGTH_MAX):
        raise ClientMetadataInvalid(f"kid must have 1 to {KID_LENGTH_MAX} characters", code="jwks_invalid")
    if kty == "RSA" and not RSA_KEY_BITS_MIN <= _rsa_modulus_bits(member.get("n")) <= RSA_KEY_BITS_MAX:
        raise ClientMetadataInvalid(
            f"RSA keys must have {RSA_KEY_BITS_MIN} to {RSA_KEY_BITS_MAX} bits", code="jwks_invalid"
        )
    try:
        key = jwk.JWKRegistry.import_key(dict(member))
    except (JoseError, ValueError, TypeError):
        raise ClientMetadataInvalid("a key in jwks cannot be parsed", code="jwks_invalid") from None
    if key.is_private:
        raise ClientMetadataInvalid("jwks must hold public keys only", code="jwks_private_key")
    key.ensure_kid()
    return dict(key.as_dict(private=False))


def _rsa_modulus_bits(modulus: object) -> int:
    """The size of an RSA JWK's modulus, read before the key is imported (a
    short key would otherwise only warn). Zero when the member is malformed."""
    if not isinstance(modulus, str) or len(modulus) > RSA_KEY_BITS_MAX:
        return 0
    try:
        raw = base64.urlsafe_b64decode(modulus + "=" * (-len(modulus) % 4))
    except (binascii.Error, ValueError):
        return 0
    return int.from_bytes(raw, "big").bit_length()
