"""Customer credentials: passkeys (WebAuthn) with an argon2id password fallback.

Purpose: let a customer party prove who it is. Passkeys are registered and
used through the WebAuthn ceremonies of py_webauthn; a password hashed with
argon2id is the fallback.

Invariants:
- every WebAuthn challenge is random, bound to its purpose (and party, for
  registration), expires after ``challenge_ttl_s`` and is consumed at most
  once, before the rest of the response is trusted;
- a credential id is registered at most once, to one party;
- a passkey's stored sign counter only moves forward (compare and set), and a
  validly signed assertion whose counter did not advance is refused as
  ``sign_count_stale``;
- only argon2 hashes are stored; an unknown party and a wrong password are
  refused with the same ``password_invalid`` after the same hashing work;
- ``PASSWORD_FAILURES_MAX`` failures in a row lock the password for
  ``PASSWORD_LOCKOUT_S``.

Every refusal raises a ``CredentialRejected`` (``Unauthenticated``) subclass
with its own code, for the caller to audit.

Public names: Credentials, CredentialStore, TABLES, PasskeyCredential,
AuthResult, PasswordRecord, ChallengePurpose, the limits in ``model``, and the
errors CredentialRejected, CredentialMalformed, ChallengeInvalid,
ChallengeExpired, ChallengeReplayed, CredentialUnknown, CredentialNotAllowed,
OriginMismatch, RpIdMismatch, UserPresenceMissing, UserVerificationMissing,
UserHandleMismatch, SignCountStale, AssertionInvalid, RegistrationInvalid,
PasswordInvalid, PasswordLocked, CredentialAlreadyRegistered,
CredentialNotFound, PasswordRejected.
"""

from netfin.identity.credentials.errors import (
    AssertionInvalid,
    BindingMismatch,
    ChallengeExpired,
    ChallengeInvalid,
    ChallengeReplayed,
    CredentialAlreadyRegistered,
    CredentialMalformed,
    CredentialNotAllowed,
    CredentialNotFound,
    CredentialRejected,
    CredentialUnknown,
    OriginMismatch,
    PasswordInvalid,
    PasswordLocked,
    PasswordRejected,
    RegistrationInvalid,
    RpIdMismatch,
    SignCountStale,
    UserHandleMismatch,
    UserPresenceMissing,
    UserVerificationMissing,
)
from netfin.identity.credentials.model import (
    CHALLENGE_TTL_S_DEFAULT,
    CHALLENGE_TTL_S_MAX,
    CREDENTIAL_JSON_BYTES_MAX,
    PASSKEYS_PER_PARTY_MAX,
    PASSWORD_FAILURES_MAX,
    PASSWORD_LENGTH_MAX,
    PASSWORD_LENGTH_MIN,
    PASSWORD_LOCKOUT_S,
    AuthResult,
    ChallengePurpose,
    PasskeyCredential,
    PasswordRecord,
)
from netfin.identity.credentials.service import Credentials
from netfin.identity.credentials.store import TABLES, CredentialStore

__all__ = [
    "CHALLENGE_TTL_S_DEFAULT",
    "CHALLENGE_TTL_S_MAX",
    "CREDENTIAL_JSON_BYTES_MAX",
    "PASSKEYS_PER_PARTY_MAX",
    "PASSWORD_FAILURES_MAX",
    "PASSWORD_LENGTH_MAX",
    "PASSWORD_LENGTH_MIN",
    "PASSWORD_LOCKOUT_S",
    "TABLES",
    "AssertionInvalid",
    "AuthResult",
    "BindingMismatch",
    "ChallengeExpired",
    "ChallengeInvalid",
    "ChallengePurpose",
    "ChallengeReplayed",
    "CredentialAlreadyRegistered",
    "CredentialMalformed",
    "CredentialNotAllowed",
    "CredentialNotFound",
    "CredentialRejected",
    "CredentialStore",
    "CredentialUnknown",
    "Credentials",
    "OriginMismatch",
    "PasskeyCredential",
    "PasswordInvalid",
    "PasswordLocked",
    "PasswordRecord",
    "PasswordRejected",
    "RegistrationInvalid",
    "RpIdMismatch",
    "SignCountStale",
    "UserHandleMismatch",
    "UserPresenceMissing",
    "UserVerificationMissing",
]
