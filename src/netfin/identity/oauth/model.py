"""OAuth2 and session domain types, named limits and pure rules.

No I/O here: the store persists these types and the service decides with
them. Every limit that the token endpoint, client registration and token
verification enforce is named below, so a reader finds them in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

# -- scopes, roles and authentication methods -------------------------------------

SCOPE_ACCOUNTS = "accounts"
SCOPE_PAYMENTS = "payments"
SCOPE_FUNDS_CONFIRMATIONS = "fundsconfirmations"
# The scopes of the UK Open Banking v4.0 profile: AISP, PISP and CBPII.
SCOPES = frozenset({SCOPE_ACCOUNTS, SCOPE_PAYMENTS, SCOPE_FUNDS_CONFIRMATIONS})

# The roles that issue 3 names; a session token carries a subset of them.
ROLES = frozenset({"customer", "tpp", "operator", "risk_analyst", "compliance", "auditor", "regulator"})

# Authentication Method Reference values registered by RFC 8176; "hwk" is a
# passkey, "pwd" the password fallback, "user" user presence or verification.
AMR_VALUES = frozenset(
    {
        "face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pop",
        "pwd", "rba", "retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia",
    }
)  # fmt: skip

GRANT_CLIENT_CREDENTIALS = "client_credentials"
GRANT_AUTHORIZATION_CODE = "authorization_code"
# RFC 7523 §2.2: the one client assertion type we accept.
CLIENT_ASSERTION_TYPE_JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

# JOSE "typ" headers: RFC 9068 for access tokens, our own media type for
# sessions, so that neither kind of token can ever pass as the other.
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (a media type)
SESSION_TOKEN_TYPE = "netfin-session+jwt"  # noqa: S105 (a media type)
# The platform signs with EdDSA over Ed25519, under its RFC 9864 fully
# specified algorithm name.
PLATFORM_SIGNING_ALGORITHM = "Ed25519"
# What a TPP may sign its client assertion with: EdDSA (both names), ES256 and
# PS256. Never "none", never an HMAC, never RSA PKCS#1 v1.5 (FAPI forbids it).
CLIENT_ASSERTION_ALGORITHMS = ("Ed25519", "EdDSA", "ES256", "PS256")


class AuthMethod(StrEnum):
    """Token endpoint client authentication methods (RFC 7591 §2)."""

    PRIVATE_KEY_JWT = "private_key_jwt"
    CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105 (a method name)
    CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105 (a method name)


SECRET_AUTH_METHODS = frozenset({AuthMethod.CLIENT_SECRET_BASIC, AuthMethod.CLIENT_SECRET_POST})


class ClientStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


# -- named limits -----------------------------------------------------------------

CLIENT_NAME_LENGTH_MAX = 200
CLIENT_JWKS_KEYS_MAX = 8
CLIENT_JWKS_BYTES_MAX = 32_768
REDIRECT_URIS_MAX = 8
REDIRECT_URI_LENGTH_MAX = 2_000
# RSA keys for PS256 must be at least this long (NIST SP 800-131A).
RSA_KEY_BITS_MIN = 2_048
RSA_KEY_BITS_MAX = 8_192

# The token request: fields, the length of any one value, the Authorization header.
TOKEN_FORM_FIELDS_MAX = 16
TOKEN_FORM_VALUE_LENGTH_MAX = 8_192
AUTHORIZATION_HEADER_LENGTH_MAX = 1_024
SCOPE_LENGTH_MAX = 256
JTI_LENGTH_MAX = 256
CONSENT_ID_LENGTH_MAX = 128
ROLES_MAX = 8
AMR_VALUES_MAX = 8
# A JWT longer than this is refused before it is parsed.
TOKEN_LENGTH_MAX = 8_192

# Client assertions: RFC 7523 leaves the lifetime to the server; FAPI 2.0
# expects a short one. Clock skew between a TPP and us is tolerated up to
# ASSERTION_CLOCK_SKEW_S in both directions.
ASSERTION_LIFETIME_MAX_S = 300
ASSERTION_CLOCK_SKEW_S = 60
# Our own tokens are verified with this leeway, for clock drift between the
# hosts of one deployment.
TOKEN_LEEWAY_S = 5
# How long a cached client status may be trusted by token verification in
# another process than the one that suspended the client.
CLIENT_STATUS_CACHE_TTL_S = 2
CLIENT_STATUS_CACHE_SIZE_MAX = 10_000
# Clients whose registered public keys are kept imported (a client's JWKS is fixed when it
# registers, so a cached key set is never stale).
CLIENT_KEY_SETS_CACHE_SIZE_MAX = 10_000
# Access tokens already verified, by their exact text: the signature, issuer,
# audience and claims are facts of those bytes, so a repeat is only re-checked
# for its time window (with the same leeway) and its client's status.
ACCESS_TOKEN_CACHE_SIZE_MAX = 4_096

# Lifetimes the service may be configured with (RFC 6749 §4.1.2 recommends at
# most ten minutes for an authorization code).
ACCESS_TOKEN_TTL_S_MAX = 3_600
SESSION_TTL_S_MAX = 3_600
CODE_TTL_S_MAX = 600

# 256 random bits, URL-safe Base64 without padding (43 characters).
CODE_BYTES = 32
CLIENT_SECRET_BYTES = 32
CODE_LENGTH_MAX = 128
# RFC 7636 §4.1: a code verifier has 43 to 128 unreserved characters.
CODE_VERIFIER_LENGTH_MIN = 43
CODE_VERIFIER_LENGTH_MAX = 128

_CONSENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_CODE_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_CODE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


# -- domain types ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """A registered third party. ``jwks`` holds public keys only."""

    client_id: str
    name: str
    auth_method: AuthMethod
    jwks: dict[str, Any] | None
    scopes: frozenset[str]
    redirect_uris: tuple[str, ...]
    status: ClientStatus
    created_ns: int
    secret_hash: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ClientRegistration:
    """The answer to a registration. ``client_secret`` is shown this once and
    is stored only as an argon2 hash."""

    client_id: str
    client_secret: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    """A stored authorization code: the hash of the code, never the code."""

    code_hash: bytes
    client_id: str
    consent_id: str
    party_id: int
    redirect_uri: str
    scope: str
    expires_ns: int
    used_ns: int | None
    code_challenge: str | None


@dataclass(frozen=True, slots=True)
class TokenResponse:
    access_token: str = field(repr=False)
    expires_in: int
    scope: str
    token_type: str = "Bearer"  # noqa: S105 (RFC 6750 token type)

    def as_json(self) -> dict[str, Any]:
        """The RFC 6749 §5.1 response body."""
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "scope": self.scope,
        }


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says. ``consent_id`` and ``party_id`` are
    set only for tokens obtained by the authorization code grant."""

    client_id: str
    scopes: frozenset[str]
    consent_id: str | None
    party_id: int | None
    jti: str
    expires_ns: int


@dataclass(frozen=True, slots=True)
class SessionToken:
    token: str = field(repr=False)
    expires_in: int


@dataclass(frozen=True, slots=True)
class SessionClaims:
    party_id: int
    roles: tuple[str, ...]
    amr: tuple[str, ...]
    auth_time_ns: int
    expires_ns: int
    jti: str


# -- pure rules --------------------------------------------------------------------


def parse_scope(text: str) -> frozenset[str]:
    """Split an RFC 6749 §3.3 scope string (space-delimited, order-free)."""
    return frozenset(part for part in text.split(" ") if part)


def format_scope(scopes: frozenset[str]) -> str:
    """The canonical scope string: sorted, so equal sets give equal strings."""
    return " ".join(sorted(scopes))


def is_consent_id(value: object) -> bool:
    return isinstance(value, str) and _CONSENT_ID.match(value) is not None


def is_code_verifier(value: object) -> bool:
    return isinstance(value, str) and _CODE_VERIFIER.match(value) is not None


def is_code_challenge(value: object) -> bool:
    """An RFC 7636 S256 challenge: 43 URL-safe Base64 characters."""
    return isinstance(value, str) and _CODE_CHALLENGE.match(value) is not None


def redirect_uri_problem(uri: object) -> str | None:
    """Why ``uri`` cannot be registered as a redirect URI, or None if it can.

    RFC 6749 §3.1.2 and FAPI 2.0: absolute, no fragment, HTTPS except on a
    loopback host during development.
    """
    if not isinstance(uri, str) or not uri or len(uri) > REDIRECT_URI_LENGTH_MAX:
        return "redirect URI must be a non-empty string of bounded length"
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "redirect URI is not a URL"
    if parts.fragment or "#" in uri:
        return "redirect URI must not contain a fragment"
    if not parts.hostname:
        return "redirect URI must be absolute"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return None
    return "redirect URI must use https (http only on a loopback host)"


def issuer_problem(issuer: object) -> str | None:
    """Why ``issuer`` is not a valid RFC 8414 issuer identifier, or None."""
    if not isinstance(issuer, str) or not issuer:
        return "issuer must be a non-empty URL"
    try:
        parts = urlsplit(issuer)
    except ValueError:
        return "issuer is not a URL"
    if parts.query or parts.fragment or not parts.hostname:
        return "issuer must be an absolute URL without query or fragment"
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS):
        return None
    return "issuer must use https (http only on a loopback host)"


def resource_audience(issuer: str) -> str:
    """The ``aud`` of every access and session token this issuer signs: the
    platform's HTTP API at ``<issuer>/api``. One audience for the whole API
    keeps verification to one comparison; the ``typ`` header and the claims
    keep the two kinds of token apart."""
    return issuer.rstrip("/") + "/api"
