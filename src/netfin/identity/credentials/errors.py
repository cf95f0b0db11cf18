"""Rejections of the credentials context.

Every failed passkey or password check raises a ``CredentialRejected`` (an
``Unauthenticated``) with its own code, so that the caller can audit exactly
why a sign-in was refused. The codes are stable: clients and auditors see them.
"""

from __future__ import annotations

from netfin.core.errors import Conflict, InvalidInput, NotFound, Unauthenticated


class CredentialRejected(Unauthenticated):
    """A passkey ceremony or password check failed; ``code`` says which rule."""

    code = "credential_rejected"


class CredentialMalformed(CredentialRejected):
    """The response is not a WebAuthn credential as a browser sends it."""

    code = "credential_malformed"


class ChallengeInvalid(CredentialRejected):
    """The challenge was never issued, or was issued for another purpose or party."""

    code = "challenge_invalid"


class ChallengeExpired(CredentialRejected):
    code = "challenge_expired"


class ChallengeReplayed(CredentialRejected):
    """The challenge was already consumed by an earlier response."""

    code = "challenge_replayed"


class CredentialUnknown(CredentialRejected):
    code = "credential_unknown"


class CredentialNotAllowed(CredentialRejected):
    """The credential exists but belongs to another party than the challenge's."""

    code = "credential_not_allowed"


class OriginMismatch(CredentialRejected):
    code = "origin_mismatch"


class RpIdMismatch(CredentialRejected):
    code = "rp_id_mismatch"


class UserPresenceMissing(CredentialRejected):
    code = "user_presence_missing"


class UserVerificationMissing(CredentialRejected):
    code = "user_verification_missing"


class UserHandleMismatch(CredentialRejected):
    """The assertion names another user than the credential's owner."""

    code = "user_handle_mismatch"


class SignCountStale(CredentialRejected):
    """A validly signed assertion whose counter did not advance: a cloned authenticator."""

    code = "sign_count_stale"


class BindingMismatch(CredentialRejected):
    """The assertion's challenge was made for another transaction (dynamic linking)."""

    code = "binding_mismatch"


class AssertionInvalid(CredentialRejected):
    """The assertion's signature or structure does not verify."""

    code = "assertion_invalid"


class RegistrationInvalid(CredentialRejected):
    """The attestation does not verify (format, key algorithm, credential data)."""

    code = "registration_invalid"


class PasswordInvalid(CredentialRejected):
    """Wrong password, or no password for this party: the two are indistinguishable."""

    code = "password_invalid"


class PasswordLocked(CredentialRejected):
    """Too many failed attempts in a row; refused until ``locked_until_ns``."""

    code = "password_locked"

    def __init__(self, message: str, *, locked_until_ns: int) -> None:
        super().__init__(message)
        self.locked_until_ns = locked_until_ns


class CredentialAlreadyRegistered(Conflict):
    code = "credential_already_registered"


class CredentialNotFound(NotFound):
    """The party has no passkey with this id (another party's passkey counts as none)."""

    code = "credential_not_found"


class PasswordRejected(InvalidInput):
    """A new password breaks a length rule (``password_too_short`` / ``password_too_long``)."""

    code = "password_rejected"
