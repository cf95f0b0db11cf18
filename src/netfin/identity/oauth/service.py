"""OAuth2 for third parties and signed session tokens: the use cases.

``OAuth`` registers TPP clients, runs the token endpoint (client credentials
and authorization code grants, clients authenticated by ``private_key_jwt``
or, in development, by a client secret), issues authorization codes for the
consent flow, and issues and verifies the platform's access and session
tokens. All JOSE work is done by joserfc over cryptography; secrets are
hashed with argon2.
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote_plus

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jwk, jws, jwt
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError
from joserfc.jwa import JWSAlgModel
from joserfc.jws import JWSRegistry

from netfin.core.clock import NS_PER_SECOND, Clock
from netfin.core.errors import ConfigurationError, LimitExceeded, invariant
from netfin.core.ids import IdSource, format_id, parse_id
from netfin.core.limits import UINT128_MAX
from netfin.identity.oauth import keys
from netfin.identity.oauth.errors import (
    ClientMetadataInvalid,
    ClientNotFound,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    RedirectUriInvalid,
    TokenRejected,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from netfin.identity.oauth.keys import checked_client_jwks
from netfin.identity.oauth.model import (
    ACCESS_TOKEN_CACHE_SIZE_MAX,
    ACCESS_TOKEN_TTL_S_MAX,
    ACCESS_TOKEN_TYPE,
    AMR_VALUES,
    AMR_VALUES_MAX,
    ASSERTION_CLOCK_SKEW_S,
    ASSERTION_LIFETIME_MAX_S,
    AUTHORIZATION_HEADER_LENGTH_MAX,
    CLIENT_ASSERTION_ALGORITHMS,
    CLIENT_ASSERTION_TYPE_JWT_BEARER,
    CLIENT_KEY_SETS_CACHE_SIZE_MAX,
    CLIENT_NAME_LENGTH_MAX,
    CLIENT_SECRET_BYTES,
    CLIENT_STATUS_CACHE_SIZE_MAX,
    CLIENT_STATUS_CACHE_TTL_S,
    CODE_BYTES,
    CODE_LENGTH_MAX,
    CODE_TTL_S_MAX,
    GRANT_AUTHORIZATION_CODE,
    GRANT_CLIENT_CREDENTIALS,
    JTI_LENGTH_MAX,
    PLATFORM_SIGNING_ALGORITHM,
    REDIRECT_URIS_MAX,
    ROLES,
    ROLES_MAX,
    SCOPE_LENGTH_MAX,
    SCOPES,
    SECRET_AUTH_METHODS,
    SESSION_TOKEN_TYPE,
    SESSION_TTL_S_MAX,
    TOKEN_FORM_FIELDS_MAX,
    TOKEN_FORM_VALUE_LENGTH_MAX,
    TOKEN_LEEWAY_S,
    TOKEN_LENGTH_MAX,
    AccessClaims,
    AuthMethod,
    AuthorizationCode,
    ClientRegistration,
    ClientStatus,
    OAuthClient,
    SessionClaims,
    SessionToken,
    TokenResponse,
    format_scope,
    is_code_challenge,
    is_code_verifier,
    is_consent_id,
    issuer_problem,
    parse_scope,
    redirect_uri_problem,
    resource_audience,
)
from netfin.identity.oauth.store import OAuthStore, _client_from_row, oauth_clients

# joserfc raises its own errors for most malformed tokens, but a header or
# payload that is valid JSON of the wrong shape can surface as one of these.
CLIENTS_PAGE_MAX = 200
_MALFORMED_TOKEN_ERRORS = (JoseError, ValueError, TypeError, KeyError, AttributeError)


class _ClientAssertionRegistry(JWSRegistry):
    """The algorithms a client assertion may use, without a deprecation warning
    for "EdDSA": RFC 9864 renames it "Ed25519" but TPP libraries still send
    the old name. Registered OKP client keys are Ed25519 only, so both names
    mean the same algorithm here."""

    def get_alg(self, name: str) -> JWSAlgModel:
        if name == "EdDSA" and self.allowed is not None and name in self.allowed:
            return self.algorithms[name]
        return super().get_alg(name)


_PLATFORM_REGISTRY = JWSRegistry(algorithms=[PLATFORM_SIGNING_ALGORITHM])
_ASSERTION_REGISTRY = _ClientAssertionRegistry(algorithms=list(CLIENT_ASSERTION_ALGORITHMS))


class OAuth:
    """The authorization server and token verifier of one issuer."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        clock: Clock,
        ids: IdSource,
        issuer: str,
        signing_key: Ed25519PrivateKey,
        access_token_ttl_s: int = 300,
        session_ttl_s: int = 900,
        code_ttl_s: int = 60,
        allow_client_secret: bool = False,
        password_hasher: PasswordHasher | None = None,
    ) -> None:
        problem = issuer_problem(issuer)
        if problem is not None:
            raise ConfigurationError(problem, code="oauth_issuer_invalid")
        _check_ttl("access_token_ttl_s", access_token_ttl_s, ACCESS_TOKEN_TTL_S_MAX)
        _check_ttl("session_ttl_s", session_ttl_s, SESSION_TTL_S_MAX)
        _check_ttl("code_ttl_s", code_ttl_s, CODE_TTL_S_MAX)
        if not isinstance(signing_key, Ed25519PrivateKey):
            raise ConfigurationError(
                "signing_key must be an Ed25519 private key", code="api_signing_key_invalid"
            )
        self._store = OAuthStore(engine)
        self._engine = engine
        self._clock = clock
        self._ids = ids
        self.issuer = issuer
        self.audience = resource_audience(issuer)
        self._access_token_ttl_s = access_token_ttl_s
        self._session_ttl_s = session_ttl_s
        self._code_ttl_s = code_ttl_s
        self._allow_client_secret = allow_client_secret
        # Parsed once: verification runs on every API request.
        self._signing_jwk = jwk.OKPKey.import_key(signing_key)
        self._verifying_jwk = jwk.OKPKey.import_key(signing_key.public_key())
        self._kid = keys.key_id(signing_key.public_key())
        self._jwks = keys.jwks(signing_key)
        self._hasher = password_hasher if password_hasher is not None else PasswordHasher()
        self._status_cache: dict[str, tuple[ClientStatus | None, int]] = {}
        self._key_sets: dict[str, jwk.KeySet | None] = {}
        # token -> (claims, exp, the earliest second it is valid: max(iat, nbf)); see verify_access_token.
        self._access_cache: dict[str, tuple[AccessClaims, int, int]] = {}
        self._dummy_hash: str | None = None  # made on first use, with this hasher's parameters
        self._access_claims = jwt.JWTClaimsRegistry(
            now=self._now_s, leeway=TOKEN_LEEWAY_S, **_platform_claims(issuer, self.audience, "client_id")
        )
        self._session_claims = jwt.JWTClaimsRegistry(
            now=self._now_s, leeway=TOKEN_LEEWAY_S, **_platform_claims(issuer, self.audience, "auth_time")
        )

    def _dummy_secret_hash(self) -> str:
        """A hash of a random secret: an unknown client costs as much time as a wrong secret."""
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(CLIENT_SECRET_BYTES))
        return self._dummy_hash

    def _now_s(self) -> int:
        return self._clock.now_ns() // NS_PER_SECOND

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set of the platform signing key (for ``/jwks.json``)."""
        return copy.deepcopy(self._jwks)

    # -- clients -----------------------------------------------------------------------

    def register_client(
        self,
        name: str,
        *,
        auth_method: AuthMethod | str,
        jwks: Mapping[str, Any] | None = None,
        scopes: Iterable[str],
        redirect_uris: Sequence[str] = (),
    ) -> ClientRegistration:
        """Register a TPP. A ``private_key_jwt`` client gives its public JWKS;
        a secret client (only when secrets are allowed) gets a secret once."""
        checked_name = _checked_client_name(name)
        method = _checked_auth_method(auth_method)
        if method in SECRET_AUTH_METHODS:
            if not self._allow_client_secret:
                raise ClientMetadataInvalid(
                    "client secrets are allowed only in development", code="client_secret_not_allowed"
                )
            if jwks is not None:
                raise ClientMetadataInvalid("a secret client registers no JWKS", code="jwks_not_allowed")
            public_jwks = None
        else:
            public_jwks = checked_client_jwks(jwks)
        granted = _checked_registered_scopes(scopes)
        uris = _checked_redirect_uris(redirect_uris)
        secret = secrets.token_urlsafe(CLIENT_SECRET_BYTES) if method in SECRET_AUTH_METHODS else None
        client = OAuthClient(
            client_id=format_id(self._ids.new_id()),
            name=checked_name,
            auth_method=method,
            jwks=public_jwks,
            scopes=granted,
            redirect_uris=uris,
            status=ClientStatus.ACTIVE,
            created_ns=self._clock.now_ns(),
            secret_hash=None if secret is None else self._hasher.hash(secret),
        )
        self._store.insert_client(client)
        return ClientRegistration(client_id=client.client_id, client_secret=secret)

    def get_client(self, client_id: str) -> OAuthClient:
        client = self._store.load_client(client_id) if isinstance(client_id, str) else None
        if client is None:
            raise ClientNotFound(f"no OAuth client {client_id!r}")
        return client

    def client_key_set(self, client_id: str) -> jwk.KeySet | None:
        """The public keys ``client_id`` registered, imported (None when it registered none).

        Kept in memory after the first read: a client's JWKS is fixed at registration.
        Raises ClientNotFound for an unknown client (never cached).
        """
        if client_id in self._key_sets:
            return self._key_sets[client_id]
        client = self.get_client(client_id)
        key_set = jwk.KeySet.import_key_set(client.jwks) if client.jwks else None  # type: ignore[arg-type]
        if len(self._key_sets) >= CLIENT_KEY_SETS_CACHE_SIZE_MAX:
            self._key_sets.clear()
        self._key_sets[client_id] = key_set
        return key_set

    def list_clients(self, *, limit: int = 100) -> list[OAuthClient]:
        """Registered clients, newest first, for staff consoles (read-only; secret hashes left out)."""
        if type(limit) is not int or not 1 <= limit <= CLIENTS_PAGE_MAX:
            raise LimitExceeded(f"limit must be 1..{CLIENTS_PAGE_MAX}", code="page_limit_exceeded")
        statement = (
            sa.select(oauth_clients)
            .order_by(oauth_clients.c.created_ns.desc(), oauth_clients.c.client_id)
            .limit(limit)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(statement).all()
        return [dataclasses.replace(_client_from_row(row._mapping), secret_hash=None) for row in rows]

    def suspend_client(self, client_id: str) -> None:
        """Suspend a client: its tokens are refused at once in this process and
        within ``CLIENT_STATUS_CACHE_TTL_S`` seconds in every other one."""
        self._set_status(client_id, ClientStatus.SUSPENDED)

    def reactivate_client(self, client_id: str) -> None:
        self._set_status(client_id, ClientStatus.ACTIVE)

    def _set_status(self, client_id: str, status: ClientStatus) -> None:
        if not isinstance(client_id, str) or not self._store.set_client_status(client_id, status):
            raise ClientNotFound(f"no OAuth client {client_id!r}")
        self._status_cache.pop(client_id, None)

    def purge_expired(self) -> int:
        """Drop expired client assertion ids and authorization codes (a periodic job)."""
        return self._store.purge_expired(self._clock.now_ns() - ASSERTION_CLOCK_SKEW_S * NS_PER_SECOND)

    # -- the token endpoint -------------------------------------------------------------

    def token(
        self, form: Mapping[str, str], *, token_endpoint: str, authorization_header: str | None
    ) -> TokenResponse:
        """Answer an RFC 6749 token request (the decoded form body).

        The HTTP layer must refuse a body that repeats a field (RFC 6749 §3.2)
        before calling this. Raises an ``OAuthError`` subclass.
        """
        invariant(isinstance(token_endpoint, str) and bool(token_endpoint), "token_endpoint must be our URL")
        fields = _checked_form(form, authorization_header)
        grant_type = fields.get("grant_type")
        if not grant_type:
            raise InvalidRequest("grant_type is required", code="grant_type_missing")
        if grant_type not in (GRANT_CLIENT_CREDENTIALS, GRANT_AUTHORIZATION_CODE):
            raise UnsupportedGrantType(f"grant_type {grant_type!r} is not supported")
        client = self._authenticate_client(fields, token_endpoint, authorization_header)
        if grant_type == GRANT_CLIENT_CREDENTIALS:
            scopes = _granted_scopes(parse_scope(fields.get("scope", "")), client.scopes)
            return self._issue_access_token(client.client_id, scopes)
        return self._redeem_code(client, fields)

    def _authenticate_client(
        self, fields: Mapping[str, str], token_endpoint: str, authorization_header: str | None
    ) -> OAuthClient:
        by_assertion = "client_assertion" in fields or "client_assertion_type" in fields
        by_post = "client_secret" in fields
        by_basic = authorization_header is not None
        if by_assertion + by_post + by_basic > 1:
            raise InvalidRequest(
                "use exactly one client authentication method", code="client_authentication_ambiguous"
            )
        if by_assertion:
            return self._authenticate_assertion(fields, token_endpoint)
        if not (by_post or by_basic):
            raise InvalidClient("client authentication is required", code="client_authentication_missing")
        if not self._allow_client_secret:
            raise InvalidClient(
                "client secrets are not accepted; use private_key_jwt", code="client_secret_not_allowed"
            )
        if by_basic:
            client_id, secret = _parse_basic_credentials(authorization_header or "")
            if fields.get("client_id", client_id) != client_id:
                raise InvalidClient("client_id does not match the credentials", code="client_id_mismatch")
            return self._authenticate_secret(client_id, secret, AuthMethod.CLIENT_SECRET_BASIC)
        return self._authenticate_secret(
            fields.get("client_id", ""), fields["client_secret"], AuthMethod.CLIENT_SECRET_POST
        )

    def _authenticate_secret(self, client_id: str, secret: str, method: AuthMethod) -> OAuthClient:
        client = self._store.load_client(client_id) if client_id else None
        if client is None or client.secret_hash is None:
            # Spend the same argon2 work as for a known client, so that timing
            # does not tell a caller which client ids exist.
            _verify_secret(self._hasher, self._dummy_secret_hash(), secret)
            raise InvalidClient("client authentication failed", code="client_authentication_failed")
        if not _verify_secret(self._hasher, client.secret_hash, secret):
            raise InvalidClient("client authentication failed", code="client_secret_invalid")
        if client.auth_method != method:
            raise InvalidClient(
                f"this client authenticates with {client.auth_method.value}",
                code="client_auth_method_mismatch",
            )
        _require_active(client)
        return client

    def _authenticate_assertion(self, fields: Mapping[str, str], token_endpoint: str) -> OAuthClient:
        if fields.get("client_assertion_type") != CLIENT_ASSERTION_TYPE_JWT_BEARER:
            raise InvalidClient(
                "client_assertion_type must be the RFC 7523 JWT bearer type",
                code="client_assertion_type_unsupported",
            )
        assertion = fields.get("client_assertion", "")
        if not assertion:
            raise InvalidRequest("client_assertion is required", code="client_assertion_missing")
        client_id = _unverified_issuer(assertion)
        if fields.get("client_id", client_id) != client_id:
            raise InvalidClient("client_id does not match the assertion", code="client_assertion_invalid")
        client = self._store.load_client(client_id)
        if client is None or client.auth_method != AuthMethod.PRIVATE_KEY_JWT or client.jwks is None:
            raise InvalidClient("client assertion refused", code="client_assertion_invalid")
        claims = self._verified_assertion_claims(assertion, client, token_endpoint)
        _require_active(client)
        expires_ns = (claims["exp"] + ASSERTION_CLOCK_SKEW_S) * NS_PER_SECOND
        recorded = self._store.record_assertion_jti(
            client.client_id, claims["jti"], expires_ns=expires_ns, now_ns=self._clock.now_ns()
        )
        if not recorded:
            raise InvalidClient("client assertion was already used", code="client_assertion_replayed")
        return client

    def _verified_assertion_claims(
        self, assertion: str, client: OAuthClient, token_endpoint: str
    ) -> dict[str, Any]:
        try:
            key_set = jwk.KeySet.import_key_set(client.jwks)  # type: ignore[arg-type]
            decoded = jwt.decode(assertion, key_set, registry=_ASSERTION_REGISTRY)
        except _MALFORMED_TOKEN_ERRORS:
            raise InvalidClient("client assertion refused", code="client_assertion_invalid") from None
        now_s = self._now_s()
        registry = jwt.JWTClaimsRegistry(
            now=now_s,
            leeway=ASSERTION_CLOCK_SKEW_S,
            iss={"essential": True, "value": client.client_id},
            sub={"essential": True, "value": client.client_id},
            aud={"essential": True, "values": [token_endpoint, self.issuer]},
            exp={"essential": True},
            jti={"essential": True},
        )
        claims = decoded.claims
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise InvalidClient("client assertion has expired", code="client_assertion_expired") from None
        except ClaimError as error:
            raise InvalidClient(
                f"client assertion claim {error.claim!r} is invalid", code="client_assertion_invalid"
            ) from None
        if type(claims["exp"]) is not int or len(claims["jti"]) > JTI_LENGTH_MAX:
            raise InvalidClient("client assertion refused", code="client_assertion_invalid")
        if claims["exp"] > now_s + ASSERTION_LIFETIME_MAX_S + ASSERTION_CLOCK_SKEW_S:
            raise InvalidClient(
                f"client assertion may live at most {ASSERTION_LIFETIME_MAX_S} s",
                code="client_assertion_lifetime_too_long",
            )
        return claims

    def _redeem_code(self, client: OAuthClient, fields: Mapping[str, str]) -> TokenResponse:
        if not client.redirect_uris:
            raise UnauthorizedClient("this client registered no redirect URI", code="grant_not_allowed")
        code = fields.get("code", "")
        redirect_uri = fields.get("redirect_uri", "")
        if not code or not redirect_uri:
            raise InvalidRequest("code and redirect_uri are required", code="code_or_redirect_uri_missing")
        code_hash = hashlib.sha256(code.encode("utf-8")).digest()
        stored = self._store.load_code(code_hash) if len(code) <= CODE_LENGTH_MAX else None
        if stored is None:
            raise InvalidGrant("authorization code is invalid", code="code_invalid")
        if stored.client_id != client.client_id:
            raise InvalidGrant("authorization code was issued to another client", code="code_client_mismatch")
        if stored.used_ns is not None:
            raise InvalidGrant("authorization code was already used", code="code_used")
        now_ns = self._clock.now_ns()
        if now_ns >= stored.expires_ns:
            raise InvalidGrant("authorization code has expired", code="code_expired")
        if stored.redirect_uri != redirect_uri:
            raise InvalidGrant(
                "redirect_uri differs from the authorization request", code="code_redirect_uri_mismatch"
            )
        _check_code_verifier(stored.code_challenge, fields.get("code_verifier"))
        if not self._store.mark_code_used(code_hash, now_ns):
            raise InvalidGrant("authorization code was already used", code="code_used")
        return self._issue_access_token(
            client.client_id,
            parse_scope(stored.scope),
            consent_id=stored.consent_id,
            party_id=stored.party_id,
        )

    def _issue_access_token(
        self,
        client_id: str,
        scopes: frozenset[str],
        *,
        consent_id: str | None = None,
        party_id: int | None = None,
    ) -> TokenResponse:
        now_s = self._now_s()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": client_id if party_id is None else format_id(party_id),
            "client_id": client_id,
            "scope": format_scope(scopes),
            "iat": now_s,
            "exp": now_s + self._access_token_ttl_s,
            "jti": format_id(self._ids.new_id()),
        }
        if consent_id is not None and party_id is not None:
            claims["consent_id"] = consent_id
            claims["party_id"] = format_id(party_id)
        token = self._sign(ACCESS_TOKEN_TYPE, claims)
        return TokenResponse(access_token=token, expires_in=self._access_token_ttl_s, scope=claims["scope"])

    def _sign(self, token_type: str, claims: dict[str, Any]) -> str:
        header = {"alg": PLATFORM_SIGNING_ALGORITHM, "typ": token_type, "kid": self._kid}
        return jwt.encode(header, claims, self._signing_jwk, registry=_PLATFORM_REGISTRY, default_type=None)

    # -- authorization codes ------------------------------------------------------------

    def issue_authorization_code(
        self,
        *,
        client_id: str,
        consent_id: str,
        party_id: int,
        redirect_uri: str,
        scope: str,
        code_challenge: str | None = None,
    ) -> str:
        """A single-use code for the consent the customer just authorised.

        The code is 256 random bits; only its SHA-256 is stored. A
        ``code_challenge`` (RFC 7636, method S256) binds the code to the
        client's verifier.
        """
        client = self.get_client(client_id)
        _require_active(client, error=UnauthorizedClient)
        if redirect_uri not in client.redirect_uris:
            raise InvalidRequest(
                "redirect_uri is not registered for this client", code="redirect_uri_not_registered"
            )
        if not is_consent_id(consent_id):
            raise InvalidRequest("consent_id is malformed", code="consent_id_invalid")
        if type(party_id) is not int or not 0 < party_id < UINT128_MAX:
            raise InvalidRequest("party_id must be a 128-bit id", code="party_id_invalid")
        if code_challenge is not None and not is_code_challenge(code_challenge):
            raise InvalidRequest("code_challenge must be an S256 challenge", code="code_challenge_invalid")
        if not isinstance(scope, str):
            raise InvalidScope("scope must be a string", code="scope_invalid")
        scopes = _granted_scopes(parse_scope(scope), client.scopes, required=True)
        code = secrets.token_urlsafe(CODE_BYTES)
        self._store.insert_code(
            AuthorizationCode(
                code_hash=hashlib.sha256(code.encode("ascii")).digest(),
                client_id=client.client_id,
                consent_id=consent_id,
                party_id=party_id,
                redirect_uri=redirect_uri,
                scope=format_scope(scopes),
                expires_ns=self._clock.now_ns() + self._code_ttl_s * NS_PER_SECOND,
                used_ns=None,
                code_challenge=code_challenge,
            )
        )
        return code

    # -- access token verification ------------------------------------------------------

    def verify_access_token(self, token: str) -> AccessClaims:
        """Verify an access token on an API request. Raises ``TokenRejected``.

        A token verified before is recognised by its exact text and only its time
        window (``exp``, ``iat``/``nbf``, with the same leeway as the full check)
        and its client's status are checked again: a TPP sends the same token on
        every request of its life, and the signature check is the dearest part.
        """
        cached = self._cached_access(token) if isinstance(token, str) else None
        if cached is None:
            return self._verify_access_token(token)
        result, expired = cached
        if expired:
            self._access_cache.pop(token, None)
            raise TokenRejected("token has expired", code="token_expired")
        self._require_active(result.client_id)
        return result

    def _cached_access(self, token: str) -> tuple[AccessClaims, bool] | None:
        """(claims, expired) of a token verified before, by the same time checks and leeway as
        the full verification; ``None`` when it was not verified before or would now be refused
        as issued in the future (the full verification then says why)."""
        cached = self._access_cache.get(token)
        if cached is None:
            return None
        result, expires_s, earliest_s = cached
        now_s = self._now_s()
        if earliest_s > now_s + TOKEN_LEEWAY_S:
            return None
        return result, expires_s <= now_s - TOKEN_LEEWAY_S

    def recognised_access_token(self, token: str) -> AccessClaims | None:
        """The claims of an access token that needs nothing but memory to accept.

        ``verify_access_token`` would accept it without reading anything: its
        client is known active from the status cache, and it was verified
        before and is inside its time window, or it is new and its signature and
        claims verify (computation only: a payment's consent-bound token is new
        on its one request). ``None`` means "ask ``verify_access_token``", never
        "refused": the API calls this on its event loop and only goes to a worker
        thread when it returns ``None``; a refusal is decided and audited there.
        """
        if not isinstance(token, str):
            return None
        cached = self._cached_access(token)
        if cached is not None:
            return None if cached[1] or not self._known_active(cached[0].client_id) else cached[0]
        if token in self._access_cache:  # verified, but not yet valid: the full check says why
            return None
        try:
            result, expires_s, earliest_s = self._access_token_claims(token)
        except TokenRejected:
            return None
        if not self._known_active(result.client_id):
            return None
        self._remember_access(token, result, expires_s, earliest_s)
        return result

    def _known_active(self, client_id: str) -> bool:
        """The status cache holds ``client_id`` as active (and its entry is still fresh)."""
        status = self._status_cache.get(client_id)
        return status is not None and self._clock.now_ns() < status[1] and status[0] is ClientStatus.ACTIVE

    def _verify_access_token(self, token: str) -> AccessClaims:
        result, expires_s, earliest_s = self._access_token_claims(token)
        self._require_active(result.client_id)
        self._remember_access(token, result, expires_s, earliest_s)
        return result

    def _remember_access(self, token: str, result: AccessClaims, expires_s: int, earliest_s: int) -> None:
        if len(self._access_cache) >= ACCESS_TOKEN_CACHE_SIZE_MAX:
            self._access_cache.clear()
        self._access_cache[token] = (result, expires_s, earliest_s)

    def _access_token_claims(self, token: str) -> tuple[AccessClaims, int, int]:
        """An access token's claims, its ``exp`` and the earliest second it is valid, once its
        signature and claims verify (no I/O). Raises ``TokenRejected``."""
        claims = self._verified_platform_claims(token, ACCESS_TOKEN_TYPE, self._access_claims)
        try:
            client_id = _string(claims["client_id"])
            scopes = parse_scope(_string(claims["scope"]))
            consent_id = claims.get("consent_id")
            party_text = claims.get("party_id")
            if (consent_id is None) != (party_text is None):
                raise ValueError("consent_id and party_id come together")
            party_id = None if party_text is None else parse_id(_string(party_text))
            result = AccessClaims(
                client_id=client_id,
                scopes=scopes,
                consent_id=None if consent_id is None else _string(consent_id),
                party_id=party_id,
                jti=_string(claims["jti"]),
                expires_ns=_integer(claims["exp"]) * NS_PER_SECOND,
            )
            earliest_s = max(_integer(claims["iat"]), _integer(claims.get("nbf", claims["iat"])))
            expires_s = _integer(claims["exp"])
        except (KeyError, ValueError, TypeError):
            raise TokenRejected("access token claims are malformed", code="token_invalid") from None
        return result, expires_s, earliest_s

    def _require_active(self, client_id: str) -> None:
        status = self._client_status(client_id)
        if status is None:
            raise TokenRejected("access token names an unknown client", code="token_invalid")
        if status is not ClientStatus.ACTIVE:
            raise TokenRejected("the client of this access token is suspended", code="client_suspended")

    def _client_status(self, client_id: str) -> ClientStatus | None:
        now_ns = self._clock.now_ns()
        cached = self._status_cache.get(client_id)
        if cached is not None and now_ns < cached[1]:
            return cached[0]
        status = self._store.client_status(client_id)
        if len(self._status_cache) >= CLIENT_STATUS_CACHE_SIZE_MAX:
            self._status_cache.clear()
        self._status_cache[client_id] = (status, now_ns + CLIENT_STATUS_CACHE_TTL_S * NS_PER_SECOND)
        return status

    def _verified_platform_claims(
        self, token: str, token_type: str, registry: jwt.JWTClaimsRegistry
    ) -> dict[str, Any]:
        if not isinstance(token, str) or not token or len(token) > TOKEN_LENGTH_MAX:
            raise TokenRejected("token is missing or too long", code="token_invalid")
        try:
            decoded = jwt.decode(token, self._verifying_jwk, registry=_PLATFORM_REGISTRY)
        except _MALFORMED_TOKEN_ERRORS:
            raise TokenRejected("token signature or encoding is invalid", code="token_invalid") from None
        if decoded.header.get("kid") != self._kid:
            raise TokenRejected("token names an unknown key", code="token_invalid")
        if decoded.header.get("typ") != token_type:
            raise TokenRejected(f"token is not of type {token_type}", code="token_type_invalid")
        try:
            registry.validate(decoded.claims)
        except ExpiredTokenError:
            raise TokenRejected("token has expired", code="token_expired") from None
        except ClaimError as error:
            raise _claim_rejection(error) from None
        return decoded.claims

    # -- sessions ---------------------------------------------------------------------

    def issue_session(
        self, *, party_id: int, roles: Sequence[str], amr: Sequence[str], auth_time_ns: int
    ) -> SessionToken:
        """A short-lived session token for a customer or staff member who has
        just authenticated (``amr`` says how, RFC 8176)."""
        now_ns = self._clock.now_ns()
        if type(party_id) is not int or not 0 < party_id < UINT128_MAX:
            raise InvalidRequest("party_id must be a 128-bit id", code="party_id_invalid")
        checked_roles = _checked_members("roles", roles, ROLES, ROLES_MAX)
        checked_amr = _checked_members("amr", amr, AMR_VALUES, AMR_VALUES_MAX)
        if type(auth_time_ns) is not int or not 0 < auth_time_ns <= now_ns:
            raise InvalidRequest("auth_time_ns must be a past instant", code="auth_time_invalid")
        now_s = now_ns // NS_PER_SECOND
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": format_id(party_id),
            "roles": list(checked_roles),
            "amr": list(checked_amr),
            "auth_time": auth_time_ns // NS_PER_SECOND,
            "iat": now_s,
            "exp": now_s + self._session_ttl_s,
            "jti": format_id(self._ids.new_id()),
        }
        return SessionToken(token=self._sign(SESSION_TOKEN_TYPE, claims), expires_in=self._session_ttl_s)

    def verify_session(self, token: str) -> SessionClaims:
        """Verify a session token. ``auth_time_ns`` comes back whole seconds,
        as the ``auth_time`` claim holds it. Raises ``TokenRejected``."""
        claims = self._verified_platform_claims(token, SESSION_TOKEN_TYPE, self._session_claims)
        try:
            return SessionClaims(
                party_id=parse_id(_string(claims["sub"])),
                roles=tuple(_string(role) for role in _list(claims["roles"])),
                amr=tuple(_string(value) for value in _list(claims["amr"])),
                auth_time_ns=_integer(claims["auth_time"]) * NS_PER_SECOND,
                expires_ns=_integer(claims["exp"]) * NS_PER_SECOND,
                jti=_string(claims["jti"]),
            )
        except (KeyError, ValueError, TypeError):
            raise TokenRejected("session token claims are malformed", code="token_invalid") from None


# -- rules and checks ---------------------------------------------------------------------


def _check_ttl(name: str, value: int, maximum: int) -> None:
    if type(value) is not int or not 0 < value <= maximum:
        raise ConfigurationError(f"{name} must be between 1 and {maximum} seconds", code="oauth_ttl_invalid")


def _platform_claims(issuer: str, audience: str, extra: str) -> dict[str, Any]:
    essential = {"essential": True}
    return {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": audience},
        "exp": essential,
        "iat": essential,
        "jti": essential,
        "sub": essential,
        extra: essential,
    }


def _claim_rejection(error: ClaimError) -> TokenRejected:
    if error.claim == "iss":
        return TokenRejected("token was issued by another issuer", code="token_issuer_invalid")
    if error.claim == "aud":
        return TokenRejected("token is meant for another audience", code="token_audience_invalid")
    return TokenRejected(f"token claim {error.claim!r} is invalid", code="token_invalid")


def _checked_form(form: Mapping[str, str], authorization_header: str | None) -> dict[str, str]:
    if not isinstance(form, Mapping) or len(form) > TOKEN_FORM_FIELDS_MAX:
        raise InvalidRequest(
            f"the token request has more than {TOKEN_FORM_FIELDS_MAX} fields", code="token_request_too_large"
        )
    fields: dict[str, str] = {}
    for name, value in form.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidRequest("token request fields must be strings", code="token_request_malformed")
        if len(value) > TOKEN_FORM_VALUE_LENGTH_MAX:
            raise InvalidRequest(f"field {name[:40]!r} is too long", code="token_request_too_large")
        fields[name] = value
    if authorization_header is not None and (
        not isinstance(authorization_header, str)
        or len(authorization_header) > AUTHORIZATION_HEADER_LENGTH_MAX
    ):
        raise InvalidRequest("the Authorization header is too long", code="token_request_too_large")
    if len(fields.get("scope", "")) > SCOPE_LENGTH_MAX:
        raise InvalidRequest("scope is too long", code="scope_too_long")
    return fields


def _parse_basic_credentials(header: str) -> tuple[str, str]:
    """RFC 6749 §2.3.1: Base64 of the form-encoded id, a colon, the form-encoded secret."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise InvalidClient("the Authorization header must use Basic", code="client_authentication_malformed")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient(
            "the Basic credentials are malformed", code="client_authentication_malformed"
        ) from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id or not secret:
        raise InvalidClient("the Basic credentials are malformed", code="client_authentication_malformed")
    return unquote_plus(client_id), unquote_plus(secret)


def _verify_secret(hasher: PasswordHasher, secret_hash: str, secret: str) -> bool:
    try:
        return hasher.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def _require_active(client: OAuthClient, *, error: Callable[..., Exception] = InvalidClient) -> None:
    if client.status is not ClientStatus.ACTIVE:
        raise error("this client is suspended", code="client_suspended")


def _unverified_issuer(assertion: str) -> str:
    """The ``iss`` of a client assertion before its signature is checked: it
    only says which client's keys to verify the signature with."""
    try:
        payload = json.loads(jws.extract_compact(assertion.encode("utf-8")).payload)
        issuer = payload["iss"]
    except _MALFORMED_TOKEN_ERRORS:
        raise InvalidClient("client assertion is malformed", code="client_assertion_invalid") from None
    if not isinstance(issuer, str) or not issuer or len(issuer) > JTI_LENGTH_MAX:
        raise InvalidClient("client assertion has no valid iss", code="client_assertion_invalid")
    return issuer


def _granted_scopes(
    requested: frozenset[str], registered: frozenset[str], *, required: bool = False
) -> frozenset[str]:
    """The scopes to grant: the requested ones, all registered if none are
    requested (unless ``required``); unknown or unregistered ones are refused."""
    unknown = requested - SCOPES
    if unknown:
        raise InvalidScope(f"unknown scope {sorted(unknown)[0]!r}", code="scope_unknown")
    if not requested:
        if required:
            raise InvalidScope("a scope is required", code="scope_missing")
        return registered
    if not requested <= registered:
        raise InvalidScope("scope exceeds what the client registered", code="scope_not_allowed")
    return requested


def _check_code_verifier(challenge: str | None, verifier: str | None) -> None:
    if challenge is None:
        if verifier is not None:
            # RFC 9700 §2.1.1: a verifier without a challenge may be a PKCE downgrade.
            raise InvalidGrant("code_verifier without a code_challenge", code="code_verifier_unexpected")
        return
    if not is_code_verifier(verifier):
        raise InvalidGrant("code_verifier is missing or malformed", code="code_verifier_invalid")
    digest = hashlib.sha256(str(verifier).encode("ascii")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    if not hmac.compare_digest(computed, challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge", code="code_verifier_invalid")


def _checked_client_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > CLIENT_NAME_LENGTH_MAX:
        raise ClientMetadataInvalid(
            f"client name must have 1 to {CLIENT_NAME_LENGTH_MAX} characters", code="client_name_invalid"
        )
    if not name.isprintable():
        raise ClientMetadataInvalid("client name must be printable", code="client_name_invalid")
    return name.strip()


def _checked_auth_method(method: object) -> AuthMethod:
    try:
        return AuthMethod(str(method))
    except ValueError:
        raise ClientMetadataInvalid(
            f"token_endpoint_auth_method {method!r} is not supported", code="auth_method_unsupported"
        ) from None


def _checked_registered_scopes(scopes: Iterable[str]) -> frozenset[str]:
    if isinstance(scopes, str):
        scopes = parse_scope(scopes)
    names = frozenset(scopes)
    if not names or not all(isinstance(name, str) for name in names) or not names <= SCOPES:
        raise ClientMetadataInvalid(
            f"scopes must be a non-empty subset of {sorted(SCOPES)}", code="scope_unknown"
        )
    return names


def _checked_redirect_uris(uris: Sequence[str]) -> tuple[str, ...]:
    if isinstance(uris, str) or len(uris) > REDIRECT_URIS_MAX:
        raise ClientMetadataInvalid(
            f"redirect_uris must be a list of at most {REDIRECT_URIS_MAX}", code="redirect_uris_invalid"
        )
    for uri in uris:
        problem = redirect_uri_problem(uri)
        if problem is not None:
            raise RedirectUriInvalid(problem)
    return tuple(dict.fromkeys(uris))


def _checked_members(
    name: str, values: Sequence[str], allowed: frozenset[str], count_max: int
) -> tuple[str, ...]:
    if isinstance(values, str) or not 0 < len(values) <= count_max:
        raise InvalidRequest(f"{name} must list 1 to {count_max} values", code=f"{name}_invalid")
    for value in values:
        if value not in allowed:
            raise InvalidRequest(f"{name} value {str(value)[:40]!r} is not known", code=f"{name}_invalid")
    return tuple(dict.fromkeys(values))


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _integer(value: object) -> int:
    if type(value) is not int:
        raise TypeError("expected an integer")
    return value


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("expected a list")
    return value
