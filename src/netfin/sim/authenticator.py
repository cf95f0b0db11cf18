"""A software WebAuthn authenticator and client, for tests and the demo.

``SoftwareAuthenticator`` plays the browser and a platform authenticator at
once: it takes the options a relying party sends (as JSON or a dict) and
answers with the JSON a browser posts back, base64url fields and all. It
holds ES256 (P-256) keys made with ``cryptography``, attests with the
``none`` format and keeps one signature counter per credential.

It is deliberately able to misbehave, so that tests can check the relying
party's refusals: every call can claim another origin or RP id, reuse an old
challenge, skip user verification or corrupt its signature, and a counter can
be set back. With a ``seed`` its credential ids, keys and signatures
(RFC 6979 deterministic ECDSA) are reproducible.

It imports nothing from netfin's relying-party code: it speaks only the wire
format, as a real browser would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

# Authenticator data flags (WebAuthn §6.1).
FLAG_USER_PRESENT = 0x01
FLAG_USER_VERIFIED = 0x04
FLAG_BACKUP_ELIGIBLE = 0x08
FLAG_BACKED_UP = 0x10
FLAG_ATTESTED_CREDENTIAL_DATA = 0x40

COSE_KEY_TYPE_EC2 = 2
COSE_ALGORITHM_ES256 = -7
COSE_CURVE_P256 = 1
CREDENTIAL_ID_BYTES = 32
AAGUID_BYTES = 16
SIGN_COUNT_MAX = 2**32 - 1
# The order of the P-256 group: private scalars are drawn from [1, n - 1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class AuthenticatorRefused(Exception):
    """What a browser reports as InvalidStateError or NotAllowedError."""


@dataclass
class _HeldCredential:
    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftwareAuthenticator:
    """A browser plus platform authenticator bound to one RP id and origin."""

    def __init__(
        self,
        rp_id: str,
        origin: str,
        *,
        sign_count_start: int = 0,
        sign_count_step: int = 1,
        aaguid: bytes = bytes(AAGUID_BYTES),
        backed_up: bool = False,
        seed: int | None = None,
    ) -> None:
        if len(aaguid) != AAGUID_BYTES:
            raise ValueError("an AAGUID has 16 bytes")
        if not 0 <= sign_count_start <= SIGN_COUNT_MAX or sign_count_step < 0:
            raise ValueError("sign counters are unsigned 32-bit and never step backwards")
        self.rp_id = rp_id
        self.origin = origin
        self.aaguid = aaguid
        self.backed_up = backed_up
        self._sign_count_start = sign_count_start
        self.sign_count_step = sign_count_step
        self._random = None if seed is None else random.Random(seed)
        self._credentials: dict[bytes, _HeldCredential] = {}
        self.last_challenge: bytes | None = None

    @property
    def credential_ids(self) -> list[bytes]:
        return list(self._credentials)

    def sign_count(self, credential_id: bytes) -> int:
        return self._credentials[credential_id].sign_count

    def set_sign_count(self, credential_id: bytes, value: int) -> None:
        """Move a counter, backwards included (a cloned or restored authenticator)."""
        if not 0 <= value <= SIGN_COUNT_MAX:
            raise ValueError("a sign counter is an unsigned 32-bit integer")
        self._credentials[credential_id].sign_count = value

    def create(
        self,
        options: str | Mapping[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: bytes | None = None,
        user_verified: bool = True,
        reuse_credential: bytes | None = None,
    ) -> dict[str, Any]:
        """Answer ``navigator.credentials.create()`` with a registration response.

        ``reuse_credential`` attests an existing credential again, ignoring the
        options' ``excludeCredentials`` (which a well-behaved authenticator
        honours by refusing).
        """
        creation = _as_mapping(options)
        target_rp_id = rp_id or self._options_rp_id(creation.get("rp", {}).get("id"))
        if reuse_credential is not None:
            held = self._credentials[reuse_credential]
        else:
            excluded = {b64url_decode(item["id"]) for item in creation.get("excludeCredentials", [])}
            if excluded & set(self._credentials):
                raise AuthenticatorRefused("a credential of this authenticator is excluded")
            held = self._new_credential(target_rp_id, b64url_decode(creation["user"]["id"]))
        flags = FLAG_USER_PRESENT | FLAG_ATTESTED_CREDENTIAL_DATA | self._backup_flags()
        if user_verified:
            flags |= FLAG_USER_VERIFIED
        authenticator_data = (
            self._authenticator_data_head(target_rp_id, flags, held.sign_count)
            + self.aaguid
            + struct.pack(">H", len(held.credential_id))
            + held.credential_id
            + _cose_key(held.private_key.public_key())
        )
        client_data = self._client_data("webauthn.create", creation, origin, challenge)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": authenticator_data})
        return {
            "id": b64url_encode(held.credential_id),
            "rawId": b64url_encode(held.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url_encode(client_data),
                "attestationObject": b64url_encode(attestation),
                "transports": ["hybrid", "internal"],
            },
        }

    def get(
        self,
        options: str | Mapping[str, Any],
        *,
        credential_id: bytes | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: bytes | None = None,
        user_verified: bool = True,
        user_present: bool = True,
        corrupt_signature: bool = False,
    ) -> dict[str, Any]:
        """Answer ``navigator.credentials.get()`` with an assertion.

        The counter advances by ``sign_count_step`` (zero for authenticators
        that do not count) before signing
        ``authenticatorData || SHA-256(clientDataJSON)``.
        """
        request = _as_mapping(options)
        target_rp_id = rp_id or self._options_rp_id(request.get("rpId"))
        held = self._choose(request, credential_id)
        held.sign_count = min(held.sign_count + self.sign_count_step, SIGN_COUNT_MAX)
        flags = (FLAG_USER_PRESENT if user_present else 0) | self._backup_flags()
        if user_verified:
            flags |= FLAG_USER_VERIFIED
        authenticator_data = self._authenticator_data_head(target_rp_id, flags, held.sign_count)
        client_data = self._client_data("webauthn.get", request, origin, challenge)
        signed = authenticator_data + hashlib.sha256(client_data).digest()
        signature = held.private_key.sign(signed, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        if corrupt_signature:
            # Flipping the low bit of s keeps the DER structure valid, so the
            # relying party has to reject the signature itself, not its encoding.
            signature = signature[:-1] + bytes([signature[-1] ^ 0x01])
        return {
            "id": b64url_encode(held.credential_id),
            "rawId": b64url_encode(held.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url_encode(client_data),
                "authenticatorData": b64url_encode(authenticator_data),
                "signature": b64url_encode(signature),
                "userHandle": b64url_encode(held.user_handle),
            },
        }

    def _options_rp_id(self, requested: object) -> str:
        if requested is not None and requested != self.rp_id:
            raise AuthenticatorRefused(f"RP id {requested!r} is not valid for origin {self.origin!r}")
        return self.rp_id

    def _choose(self, request: Mapping[str, Any], credential_id: bytes | None) -> _HeldCredential:
        if credential_id is not None:
            return self._credentials[credential_id]
        allowed = [b64url_decode(item["id"]) for item in request.get("allowCredentials", [])]
        for held in self._credentials.values():
            if (not allowed and held.rp_id == self.rp_id) or held.credential_id in allowed:
                return held
        raise AuthenticatorRefused("no credential of this authenticator is allowed")

    def _new_credential(self, rp_id: str, user_handle: bytes) -> _HeldCredential:
        if self._random is None:
            credential_id = secrets.token_bytes(CREDENTIAL_ID_BYTES)
            private_key = ec.generate_private_key(ec.SECP256R1())
        else:
            credential_id = self._random.randbytes(CREDENTIAL_ID_BYTES)
            scalar = self._random.randrange(1, _P256_ORDER)
            private_key = ec.derive_private_key(scalar, ec.SECP256R1())
        held = _HeldCredential(credential_id, private_key, rp_id, user_handle, self._sign_count_start)
        self._credentials[credential_id] = held
        return held

    def _backup_flags(self) -> int:
        return FLAG_BACKUP_ELIGIBLE | FLAG_BACKED_UP if self.backed_up else 0

    def _authenticator_data_head(self, rp_id: str, flags: int, sign_count: int) -> bytes:
        return hashlib.sha256(rp_id.encode("utf-8")).digest() + struct.pack(">BI", flags, sign_count)

    def _client_data(
        self, kind: str, options: Mapping[str, Any], origin: str | None, challenge: bytes | None
    ) -> bytes:
        chosen = challenge if challenge is not None else b64url_decode(options["challenge"])
        self.last_challenge = chosen
        collected = {
            "type": kind,
            "challenge": b64url_encode(chosen),
            "origin": origin or self.origin,
            "crossOrigin": False,
        }
        return json.dumps(collected, separators=(",", ":")).encode("utf-8")


def _as_mapping(options: str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(options, str):
        decoded = json.loads(options)
        if not isinstance(decoded, dict):
            raise ValueError("WebAuthn options are a JSON object")
        return decoded
    return options


def _cose_key(public_key: ec.EllipticCurvePublicKey) -> bytes:
    numbers = public_key.public_numbers()
    return cbor2.dumps(
        {
            1: COSE_KEY_TYPE_EC2,
            3: COSE_ALGORITHM_ES256,
            -1: COSE_CURVE_P256,
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        }
    )
