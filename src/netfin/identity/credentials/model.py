"""Customer credentials: passkeys, one-time WebAuthn challenges and password records.

These types carry no I/O. The rules here are pure so that the service and the
tests share one definition of, for example, when a sign counter has advanced.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

# A fresh challenge has 32 random bytes (WebAuthn asks for at least 16). Anything
# longer than 64 bytes in a response cannot be one of ours and is refused before
# the database is asked.
CHALLENGE_BYTES = 32
CHALLENGE_BYTES_MAX = 64
# A transaction confirmation's challenge: 16 random bytes, then this many bytes of binding.
BINDING_BYTES = 32
CHALLENGE_TTL_S_DEFAULT = 300
CHALLENGE_TTL_S_MAX = 3600

# A browser's registration or authentication response as JSON. Attestation
# certificate chains make registrations a few kilobytes; 64 KiB leaves room
# without letting a client make us parse megabytes.
CREDENTIAL_JSON_BYTES_MAX = 64 * 1024
# WebAuthn caps credential ids at 1023 bytes.
CREDENTIAL_ID_BYTES_MAX = 1023
PUBLIC_KEY_BYTES_MAX = 2048
PASSKEYS_PER_PARTY_MAX = 16
TRANSPORTS_MAX = 8
LABEL_LENGTH_MAX = 64
# WebAuthn lets authenticators truncate user names at 64 bytes; we refuse
# longer ones rather than store what the authenticator will not show.
USER_NAME_LENGTH_MAX = 64
ORIGINS_MAX = 16

# NIST SP 800-63B: at least 8 characters, allow at least 64. The upper bound
# keeps one verification from hashing an arbitrarily long input.
PASSWORD_LENGTH_MIN = 8
PASSWORD_LENGTH_MAX = 128
# Failed password attempts in a row before the password is locked, and for how long.
PASSWORD_FAILURES_MAX = 5
PASSWORD_LOCKOUT_S = 15 * 60


class ChallengePurpose(StrEnum):
    REGISTER = "register"
    AUTHENTICATE = "authenticate"
    CONFIRM = "confirm"  # a passkey assertion that authorises one payment (dynamic linking)


class ChallengeStatus(StrEnum):
    """What happened when a response's challenge was presented for consumption."""

    CONSUMED = "consumed"
    UNKNOWN = "unknown"
    WRONG_PURPOSE = "wrong_purpose"
    WRONG_PARTY = "wrong_party"
    REPLAYED = "replayed"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class ChallengeUse:
    """The outcome of consuming a challenge; ``party_id`` is the one it was issued to."""

    status: ChallengeStatus
    party_id: int | None = None


@dataclass(frozen=True, slots=True)
class PasskeyCredential:
    """A registered WebAuthn credential of one party.

    ``public_key`` is the COSE-encoded key from the attested credential data;
    ``sign_count`` is the last counter the authenticator reported.
    """

    credential_id: bytes
    party_id: int
    public_key: bytes
    sign_count: int
    transports: tuple[str, ...]
    aaguid: str
    backed_up: bool
    created_ns: int
    last_used_ns: int | None
    label: str


@dataclass(frozen=True, slots=True)
class AuthResult:
    """A successful passkey authentication."""

    party_id: int
    credential_id: bytes
    new_sign_count: int
    user_verified: bool


@dataclass(frozen=True, slots=True)
class PasswordRecord:
    party_id: int
    hash: str
    updated_ns: int
    failed_attempts: int
    locked_until_ns: int | None


def sign_count_advanced(stored: int, reported: int) -> bool:
    """Whether an assertion's counter is acceptable after the stored one.

    WebAuthn §6.1.1: when either counter is non-zero the reported one must be
    strictly greater; authenticators that do not count report zero forever,
    and two zeros are allowed.
    """
    if stored == 0 and reported == 0:
        return True
    return reported > stored


def normalize_password(password: str) -> str:
    """NFKC-normalise, as NIST SP 800-63B asks, so that one password typed on
    two keyboards (composed or decomposed accents) hashes the same."""
    return unicodedata.normalize("NFKC", password)
