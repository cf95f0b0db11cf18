"""Use cases: passkey registration and authentication, and the password fallback.

Passkeys follow WebAuthn Level 2 through py_webauthn. Each ceremony's
challenge is stored server-side and consumed exactly once, before anything
else in the response is trusted, so a response can never be replayed and a
failed attempt burns its challenge. The checks that the library performs in
one go are first classified here (origin, RP id, user presence and
verification), so that each refusal carries its own code for the audit log;
the library still performs every check itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    parse_attestation_object,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorData,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CollectedClientData,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from netfin.core.clock import NS_PER_SECOND, Clock
from netfin.core.errors import ConfigurationError, InvalidInput, LimitExceeded, invariant
from netfin.core.ids import IdSource, id_to_bytes
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
    BINDING_BYTES,
    CHALLENGE_BYTES,
    CHALLENGE_BYTES_MAX,
    CHALLENGE_TTL_S_DEFAULT,
    CHALLENGE_TTL_S_MAX,
    CREDENTIAL_ID_BYTES_MAX,
    CREDENTIAL_JSON_BYTES_MAX,
    LABEL_LENGTH_MAX,
    ORIGINS_MAX,
    PASSKEYS_PER_PARTY_MAX,
    PASSWORD_FAILURES_MAX,
    PASSWORD_LENGTH_MAX,
    PASSWORD_LENGTH_MIN,
    PASSWORD_LOCKOUT_S,
    PUBLIC_KEY_BYTES_MAX,
    TRANSPORTS_MAX,
    USER_NAME_LENGTH_MAX,
    AuthResult,
    ChallengePurpose,
    ChallengeStatus,
    PasskeyCredential,
    normalize_password,
    sign_count_advanced,
)
from netfin.identity.credentials.store import CredentialStore

CredentialJson = str | dict[str, Any]

# Malformed input makes py_webauthn's parsers raise their own exceptions, or
# ValueError / TypeError / KeyError from base64 and JSON decoding underneath.
_PARSE_ERRORS = (WebAuthnException, ValueError, TypeError, KeyError)


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A response taken apart far enough to find its challenge and classify it."""

    client_data: CollectedClientData
    authenticator_data: AuthenticatorData


class Credentials:
    """Passkeys and passwords of customer parties, on one engine.

    ``rp_id`` is the WebAuthn relying-party id (a registrable domain, or
    ``localhost`` in development) and ``origins`` the exact origins the
    browser may report. ``password_hasher`` defaults to argon2-cffi's
    RFC 9106 low-memory argon2id profile; tests pass cheaper parameters.
    ``ids`` completes the constructor shape every service shares; nothing
    here mints ids, since passkeys are keyed by their WebAuthn credential id.
    Raises ``ConfigurationError`` (``webauthn_rp_invalid``,
    ``webauthn_origin_invalid``, ``challenge_ttl_invalid``).
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        clock: Clock,
        ids: IdSource,
        rp_id: str,
        rp_name: str,
        origins: Sequence[str],
        challenge_ttl_s: int = CHALLENGE_TTL_S_DEFAULT,
        password_hasher: PasswordHasher | None = None,
    ) -> None:
        _check_relying_party(rp_id, rp_name, origins)
        if not 1 <= challenge_ttl_s <= CHALLENGE_TTL_S_MAX:
            raise ConfigurationError(
                f"challenge_ttl_s must be 1..{CHALLENGE_TTL_S_MAX}", code="challenge_ttl_invalid"
            )
        self._store = CredentialStore(engine)
        self._clock = clock
        self._ids = ids
        self._rp_id = rp_id
        self._rp_name = rp_name
        self._origins = list(origins)
        self._rp_id_hash = hashlib.sha256(rp_id.encode("utf-8")).digest()
        self._challenge_ttl_ns = challenge_ttl_s * NS_PER_SECOND
        self._hasher = password_hasher if password_hasher is not None else PasswordHasher()
        # Parties without a password are checked against a dummy hash, so that an
        # unknown party costs as much time as a wrong password. Made on first use:
        # an argon2id hash costs a fifth of a second, and most processes never need it.
        self._dummy: str | None = None

    @property
    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(24))
        return self._dummy

    @property
    def store(self) -> CredentialStore:
        return self._store

    # Passkey registration

    def begin_registration(self, party_id: int, user_name: str, display_name: str = "") -> dict[str, Any]:
        """Options for ``navigator.credentials.create()``; the challenge is stored for one use."""
        _check_text("user_name", user_name, USER_NAME_LENGTH_MAX, allow_empty=False)
        _check_text("display_name", display_name, USER_NAME_LENGTH_MAX, allow_empty=True)
        existing = self._store.list_passkeys(party_id)
        if len(existing) >= PASSKEYS_PER_PARTY_MAX:
            raise LimitExceeded(
                f"a party holds at most {PASSKEYS_PER_PARTY_MAX} passkeys", code="passkeys_per_party_exceeded"
            )
        challenge = self._issue_challenge(ChallengePurpose.REGISTER, party_id)
        options = generate_registration_options(
            rp_id=self._rp_id,
            rp_name=self._rp_name,
            user_name=user_name,
            user_id=id_to_bytes(party_id),
            user_display_name=display_name or user_name,
            challenge=challenge,
            timeout=self._challenge_ttl_ns // 1_000_000,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[_descriptor(credential) for credential in existing],
        )
        return _json_object(options_to_json(options))

    def finish_registration(
        self, party_id: int, credential_json: CredentialJson, label: str = ""
    ) -> PasskeyCredential:
        """Verify the authenticator's attestation and store the new passkey.

        Raises the ``CredentialRejected`` family (``credential_malformed``,
        ``challenge_*``, ``origin_mismatch``, ``rp_id_mismatch``,
        ``user_presence_missing``, ``user_verification_missing``,
        ``registration_invalid``), ``CredentialAlreadyRegistered`` and
        ``LimitExceeded`` (``passkeys_per_party_exceeded``).
        """
        _check_text("label", label, LABEL_LENGTH_MAX, allow_empty=True)
        credential, parsed = _parse_registration(credential_json)
        self._consume(parsed.client_data.challenge, ChallengePurpose.REGISTER, party_id)
        self._classify(parsed)
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=parsed.client_data.challenge,
                expected_rp_id=self._rp_id,
                expected_origin=self._origins,
                require_user_verification=True,
            )
        except WebAuthnException as error:
            raise RegistrationInvalid(f"attestation does not verify: {error}") from None
        if len(verified.credential_id) > CREDENTIAL_ID_BYTES_MAX:
            raise RegistrationInvalid(f"credential id longer than {CREDENTIAL_ID_BYTES_MAX} bytes")
        if len(verified.credential_public_key) > PUBLIC_KEY_BYTES_MAX:
            raise RegistrationInvalid(f"public key longer than {PUBLIC_KEY_BYTES_MAX} bytes")
        if self._store.count_passkeys(party_id) >= PASSKEYS_PER_PARTY_MAX:
            raise LimitExceeded(
                f"a party holds at most {PASSKEYS_PER_PARTY_MAX} passkeys", code="passkeys_per_party_exceeded"
            )
        transports = credential.response.transports or []
        passkey = PasskeyCredential(
            credential_id=verified.credential_id,
            party_id=party_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=tuple(transport.value for transport in transports[:TRANSPORTS_MAX]),
            aaguid=verified.aaguid,
            backed_up=verified.credential_backed_up,
            created_ns=self._clock.now_ns(),
            last_used_ns=None,
            label=label,
        )
        if not self._store.insert_passkey(passkey):
            raise CredentialAlreadyRegistered("this passkey is already registered")
        return passkey

    # Passkey authentication

    def begin_authentication(self, party_id: int | None = None) -> dict[str, Any]:
        """Options for ``navigator.credentials.get()``.

        With a party, ``allowCredentials`` lists its passkeys and only they are
        accepted; without one, the authenticator offers its discoverable
        credentials and the credential found decides the party. A party with
        no passkeys gets the same shape of answer, so the options do not tell
        whether a party exists.
        """
        allowed = [] if party_id is None else self._store.list_passkeys(party_id)
        challenge = self._issue_challenge(ChallengePurpose.AUTHENTICATE, party_id)
        options = generate_authentication_options(
            rp_id=self._rp_id,
            challenge=challenge,
            timeout=self._challenge_ttl_ns // 1_000_000,
            allow_credentials=[_descriptor(credential) for credential in allowed],
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return _json_object(options_to_json(options))

    def finish_authentication(self, credential_json: CredentialJson) -> AuthResult:
        """Verify an assertion and advance the credential's sign counter.

        Raises the ``CredentialRejected`` family: ``credential_malformed``,
        ``challenge_invalid`` / ``challenge_expired`` / ``challenge_replayed``,
        ``credential_unknown``, ``credential_not_allowed``, ``user_handle_mismatch``,
        ``origin_mismatch``, ``rp_id_mismatch``, ``user_presence_missing``,
        ``user_verification_missing``, ``assertion_invalid``, ``sign_count_stale``.
        """
        credential, parsed = _parse_assertion(credential_json)
        use_party = self._consume(parsed.client_data.challenge, ChallengePurpose.AUTHENTICATE, None)
        passkey = self._store.get_passkey(credential.raw_id)
        if passkey is None:
            raise CredentialUnknown("no passkey is registered with this id")
        if use_party is not None and use_party != passkey.party_id:
            raise CredentialNotAllowed("this passkey is not among the ones the challenge allows")
        handle = credential.response.user_handle
        if handle is not None and handle != id_to_bytes(passkey.party_id):
            raise UserHandleMismatch("the assertion's user handle is not the passkey owner's")
        self._classify(parsed)
        self._verify_assertion(credential, parsed, passkey)
        new_count = parsed.authenticator_data.sign_count
        recorded = self._store.record_passkey_use(
            passkey.credential_id,
            stored_count=passkey.sign_count,
            new_count=new_count,
            backed_up=parsed.authenticator_data.flags.bs,
            now_ns=self._clock.now_ns(),
        )
        if not recorded:
            if self._store.get_passkey(passkey.credential_id) is None:
                raise CredentialUnknown("the passkey was removed during authentication")
            raise SignCountStale("another assertion advanced the sign counter first")
        return AuthResult(
            party_id=passkey.party_id,
            credential_id=passkey.credential_id,
            new_sign_count=new_count,
            user_verified=parsed.authenticator_data.flags.uv,
        )

    # Transaction confirmation (dynamic linking)

    def begin_confirmation(self, party_id: int, binding: bytes) -> dict[str, Any]:
        """Options for an assertion that confirms one transaction.

        The challenge is 16 fresh random bytes followed by the 32-byte
        ``binding`` (a digest of the amount and payee), so the signed client
        data names exactly what is being confirmed: an assertion made for
        one payment cannot confirm another.
        """
        if not isinstance(binding, bytes) or len(binding) != BINDING_BYTES:
            raise InvalidInput(f"a binding is {BINDING_BYTES} bytes", code="binding_invalid")
        allowed = self._store.list_passkeys(party_id)
        if not allowed:
            raise CredentialUnknown("the party has no passkey to confirm with")
        challenge = secrets.token_bytes(16) + binding
        now_ns = self._clock.now_ns()
        self._store.insert_challenge(
            challenge,
            party_id=party_id,
            purpose=ChallengePurpose.CONFIRM,
            created_ns=now_ns,
            expires_ns=now_ns + self._challenge_ttl_ns,
        )
        options = generate_authentication_options(
            rp_id=self._rp_id,
            challenge=challenge,
            timeout=self._challenge_ttl_ns // 1_000_000,
            allow_credentials=[_descriptor(credential) for credential in allowed],
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return _json_object(options_to_json(options))

    def finish_confirmation(
        self, credential_json: CredentialJson, party_id: int, binding: bytes
    ) -> AuthResult:
        """Verify a confirmation assertion for ``binding`` by ``party_id``'s own passkey.

        Raises what ``finish_authentication`` raises, and ``binding_mismatch``
        when the assertion was made for another transaction. User
        verification (biometric or PIN) is required.
        """
        credential, parsed = _parse_assertion(credential_json)
        challenge = parsed.client_data.challenge
        if len(challenge) != 16 + BINDING_BYTES or not hmac.compare_digest(challenge[16:], binding):
            raise BindingMismatch("the assertion confirms another transaction")
        self._consume(challenge, ChallengePurpose.CONFIRM, party_id)
        passkey = self._store.get_passkey(credential.raw_id)
        if passkey is None:
            raise CredentialUnknown("no passkey is registered with this id")
        if passkey.party_id != party_id:
            raise CredentialNotAllowed("this passkey is not the payer's")
        self._classify(parsed)
        if not parsed.authenticator_data.flags.uv:
            raise UserVerificationMissing("confirming a payment needs user verification")
        self._verify_assertion(credential, parsed, passkey)
        new_count = parsed.authenticator_data.sign_count
        if not self._store.record_passkey_use(
            passkey.credential_id,
            stored_count=passkey.sign_count,
            new_count=new_count,
            backed_up=parsed.authenticator_data.flags.bs,
            now_ns=self._clock.now_ns(),
        ):
            raise SignCountStale("another assertion advanced the sign counter first")
        return AuthResult(
            party_id=party_id,
            credential_id=passkey.credential_id,
            new_sign_count=new_count,
            user_verified=True,
        )

    def _verify_assertion(
        self, credential: AuthenticationCredential, parsed: _Parsed, passkey: PasskeyCredential
    ) -> None:
        """Run py_webauthn's full check against the stored counter.

        When it fails and the counter did not advance, the signature decides
        the code: only a validly signed assertion is reported as a stale
        counter (a cloned authenticator); a forged one is ``assertion_invalid``.
        """
        try:
            self._library_verify(credential, parsed, passkey.public_key, passkey.sign_count)
        except WebAuthnException as error:
            stale = not sign_count_advanced(passkey.sign_count, parsed.authenticator_data.sign_count)
            if stale and self._signature_valid(credential, parsed, passkey):
                raise SignCountStale(
                    f"sign counter {parsed.authenticator_data.sign_count} did not advance past "
                    f"{passkey.sign_count}"
                ) from None
            raise AssertionInvalid(f"assertion does not verify: {error}") from None

    def _signature_valid(
        self, credential: AuthenticationCredential, parsed: _Parsed, passkey: PasskeyCredential
    ) -> bool:
        try:
            self._library_verify(credential, parsed, passkey.public_key, 0)
        except WebAuthnException:
            return False
        return True

    def _library_verify(
        self, credential: AuthenticationCredential, parsed: _Parsed, public_key: bytes, sign_count: int
    ) -> None:
        verify_authentication_response(
            credential=credential,
            expected_challenge=parsed.client_data.challenge,
            expected_rp_id=self._rp_id,
            expected_origin=self._origins,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=True,
        )

    # Passkey management

    def list_passkeys(self, party_id: int) -> list[PasskeyCredential]:
        return self._store.list_passkeys(party_id)

    def remove_passkey(self, party_id: int, credential_id: bytes) -> None:
        """Remove one of the party's passkeys; ``CredentialNotFound`` if it has none with this id."""
        if not self._store.delete_passkey(party_id, credential_id):
            raise CredentialNotFound("the party has no passkey with this id")

    def purge_challenges(self) -> int:
        """Delete expired challenges; returns how many. Safe to run at any time."""
        return self._store.purge_challenges(now_ns=self._clock.now_ns())

    # Passwords

    def set_password(self, party_id: int, password: str) -> None:
        """Store an argon2id hash of ``password``; clears failures and any lock."""
        normalized = normalize_password(password)
        if len(normalized) < PASSWORD_LENGTH_MIN:
            raise PasswordRejected(
                f"a password has at least {PASSWORD_LENGTH_MIN} characters", code="password_too_short"
            )
        if len(normalized) > PASSWORD_LENGTH_MAX:
            raise PasswordRejected(
                f"a password has at most {PASSWORD_LENGTH_MAX} characters", code="password_too_long"
            )
        self._store.upsert_password(party_id, self._hasher.hash(normalized), now_ns=self._clock.now_ns())

    def has_password(self, party_id: int) -> bool:
        return self._store.get_password(party_id) is not None

    def remove_password(self, party_id: int) -> None:
        if not self._store.delete_password(party_id):
            raise CredentialNotFound("the party has no password", code="password_not_found")

    def verify_password(self, party_id: int, password: str) -> None:
        """Return if ``password`` is the party's; raise ``PasswordInvalid`` or ``PasswordLocked``.

        ``PASSWORD_FAILURES_MAX`` failures in a row lock the password for
        ``PASSWORD_LOCKOUT_S``; the failure that reaches the maximum is still
        reported as ``password_invalid``, later attempts as ``password_locked``
        until the lock ends. A hash made with older parameters is upgraded on
        success.
        """
        normalized = normalize_password(password)
        record = self._store.get_password(party_id)
        locked_until_ns = None if record is None else record.locked_until_ns
        if locked_until_ns is not None and self._clock.now_ns() < locked_until_ns:
            raise PasswordLocked("too many failed attempts; try again later", locked_until_ns=locked_until_ns)
        if len(normalized) > PASSWORD_LENGTH_MAX or record is None:
            # Hash anyway, so neither a missing password nor an oversized guess
            # answers faster than a wrong password does.
            self._matches(self._dummy_hash, normalized[:PASSWORD_LENGTH_MAX])
            if record is not None:
                self._record_failure(party_id)
            raise PasswordInvalid("wrong password")
        if not self._matches(record.hash, normalized):
            self._record_failure(party_id)
            raise PasswordInvalid("wrong password")
        upgraded = self._hasher.hash(normalized) if self._hasher.check_needs_rehash(record.hash) else None
        self._store.record_password_success(party_id, new_hash=upgraded, now_ns=self._clock.now_ns())

    def _matches(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except VerificationError:
            return False

    def _record_failure(self, party_id: int) -> None:
        self._store.record_password_failure(
            party_id,
            failures_max=PASSWORD_FAILURES_MAX,
            lockout_ns=PASSWORD_LOCKOUT_S * NS_PER_SECOND,
            now_ns=self._clock.now_ns(),
        )

    # Challenges and classification

    def _issue_challenge(self, purpose: ChallengePurpose, party_id: int | None) -> bytes:
        challenge = secrets.token_bytes(CHALLENGE_BYTES)
        now_ns = self._clock.now_ns()
        self._store.insert_challenge(
            challenge,
            party_id=party_id,
            purpose=purpose,
            created_ns=now_ns,
            expires_ns=now_ns + self._challenge_ttl_ns,
        )
        return challenge

    def _consume(self, challenge: bytes, purpose: ChallengePurpose, party_id: int | None) -> int | None:
        """Consume the challenge or raise the ``challenge_*`` rejection; returns its party."""
        if not 0 < len(challenge) <= CHALLENGE_BYTES_MAX:
            raise ChallengeInvalid("the challenge was not issued here")
        use = self._store.consume_challenge(
            challenge, purpose=purpose, party_id=party_id, now_ns=self._clock.now_ns()
        )
        if use.status is ChallengeStatus.CONSUMED:
            return use.party_id
        if use.status is ChallengeStatus.REPLAYED:
            raise ChallengeReplayed("the challenge was already used")
        if use.status is ChallengeStatus.EXPIRED:
            raise ChallengeExpired("the challenge has expired")
        raise ChallengeInvalid("the challenge was not issued here for this ceremony")

    def _classify(self, parsed: _Parsed) -> None:
        """Raise the specific rejection for the checks that py_webauthn would refuse in bulk."""
        if parsed.client_data.origin not in self._origins:
            raise OriginMismatch(f"origin {parsed.client_data.origin[:200]!r} is not one of ours")
        if parsed.authenticator_data.rp_id_hash != self._rp_id_hash:
            raise RpIdMismatch("the authenticator signed for another relying party")
        if not parsed.authenticator_data.flags.up:
            raise UserPresenceMissing("the authenticator did not confirm the user's presence")
        if not parsed.authenticator_data.flags.uv:
            raise UserVerificationMissing("the authenticator did not verify the user")


def _check_relying_party(rp_id: str, rp_name: str, origins: Sequence[str]) -> None:
    if not rp_id or not rp_name:
        raise ConfigurationError("rp_id and rp_name must not be empty", code="webauthn_rp_invalid")
    if isinstance(origins, str) or not 1 <= len(origins) <= ORIGINS_MAX:
        raise ConfigurationError(
            f"origins must be a list of 1..{ORIGINS_MAX} origins", code="webauthn_origin_invalid"
        )
    for origin in origins:
        parts = urlsplit(origin)
        secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname == "localhost")
        if not secure or not parts.hostname or parts.path or parts.query or parts.fragment:
            # Browsers expose WebAuthn only to secure contexts, and clientDataJSON
            # carries a bare origin (scheme, host, port).
            raise ConfigurationError(
                f"origin {origin!r} is not an https origin (or http://localhost)",
                code="webauthn_origin_invalid",
            )


def _check_text(name: str, value: str, length_max: int, *, allow_empty: bool) -> None:
    if not allow_empty and not value:
        raise InvalidInput(f"{name} must not be empty", code=f"{name}_empty")
    if len(value) > length_max:
        raise InvalidInput(f"{name} has at most {length_max} characters", code=f"{name}_too_long")


def _descriptor(credential: PasskeyCredential) -> PublicKeyCredentialDescriptor:
    known = {transport.value: transport for transport in AuthenticatorTransport}
    return PublicKeyCredentialDescriptor(
        id=credential.credential_id,
        transports=[known[name] for name in credential.transports if name in known],
    )


def _json_object(text: str) -> dict[str, Any]:
    value = orjson.loads(text)
    invariant(isinstance(value, dict), "WebAuthn options serialise to a JSON object")
    return dict(value)


def _bounded(credential_json: CredentialJson) -> CredentialJson:
    size = len(credential_json.encode("utf-8")) if isinstance(credential_json, str) else None
    if size is None:
        try:
            size = len(orjson.dumps(credential_json))
        except (TypeError, orjson.JSONEncodeError):
            raise CredentialMalformed("the credential is not JSON") from None
    if size > CREDENTIAL_JSON_BYTES_MAX:
        raise LimitExceeded(
            f"a credential response has at most {CREDENTIAL_JSON_BYTES_MAX} bytes",
            code="credential_json_too_large",
        )
    return credential_json


def _parse_registration(credential_json: CredentialJson) -> tuple[RegistrationCredential, _Parsed]:
    try:
        credential = parse_registration_credential_json(_bounded(credential_json))
        client_data = parse_client_data_json(credential.response.client_data_json)
        attestation = parse_attestation_object(credential.response.attestation_object)
    except _PARSE_ERRORS as error:
        raise CredentialMalformed(f"not a registration response: {error}") from None
    return credential, _Parsed(client_data, attestation.auth_data)


def _parse_assertion(credential_json: CredentialJson) -> tuple[AuthenticationCredential, _Parsed]:
    try:
        credential = parse_authentication_credential_json(_bounded(credential_json))
        client_data = parse_client_data_json(credential.response.client_data_json)
        authenticator_data = parse_authenticator_data(credential.response.authenticator_data)
    except _PARSE_ERRORS as error:
        raise CredentialMalformed(f"not an authentication response: {error}") from None
    if len(credential.raw_id) > CREDENTIAL_ID_BYTES_MAX:
        raise CredentialMalformed(f"credential id longer than {CREDENTIAL_ID_BYTES_MAX} bytes")
    return credential, _Parsed(client_data, authenticator_data)
