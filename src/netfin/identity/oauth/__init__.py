"""netfin.identity.oauth: OAuth2 for third parties and signed session tokens.

Third-party providers (TPPs) register as OAuth2 clients and obtain access
tokens at the token endpoint by the client credentials grant or, after a
customer authorised a consent, by the authorization code grant. Clients
authenticate with ``private_key_jwt`` (RFC 7523; EdDSA, ES256 or PS256) or,
only where ``allow_client_secret`` is set for development, with an
argon2-hashed client secret. Customers and staff get short-lived session
tokens. Both kinds of token are JWTs signed by the platform's Ed25519 key
(``keys.load_api_signing_key``), published as a JWKS with an RFC 7638 ``kid``.

Invariants: a client assertion is accepted once (its ``jti`` is kept until it
expires); an authorization code is redeemed once, by the client it was issued
to, with the same redirect URI, before it expires; only the SHA-256 of a code
and the argon2 hash of a secret are stored; registered JWKS hold public keys
only; access tokens (``typ`` at+jwt, RFC 9068) and session tokens (``typ``
netfin-session+jwt) never pass for each other; a token that is tampered
with, expired, for another audience or issuer, signed by another key, or
held by a suspended client is refused with ``TokenRejected``.

Public names: OAuth, OAuthClient, ClientRegistration, TokenResponse,
AccessClaims, SessionToken, SessionClaims, AuthMethod, ClientStatus, SCOPES,
OAuthError, InvalidClient, InvalidGrant, InvalidScope, InvalidRequest,
UnsupportedGrantType, UnauthorizedClient, ClientMetadataInvalid,
RedirectUriInvalid, ClientNotFound, TokenRejected, load_api_signing_key,
jwks, resource_audience.
"""

from netfin.identity.oauth.errors import (
    ClientMetadataInvalid,
    ClientNotFound,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    OAuthError,
    RedirectUriInvalid,
    TokenRejected,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from netfin.identity.oauth.keys import jwks, load_api_signing_key
from netfin.identity.oauth.model import (
    SCOPES,
    AccessClaims,
    AuthMethod,
    ClientRegistration,
    ClientStatus,
    OAuthClient,
    SessionClaims,
    SessionToken,
    TokenResponse,
    resource_audience,
)
from netfin.identity.oauth.service import OAuth

__all__ = [
    "SCOPES",
    "AccessClaims",
    "AuthMethod",
    "ClientMetadataInvalid",
    "ClientNotFound",
    "ClientRegistration",
    "ClientStatus",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "OAuth",
    "OAuthClient",
    "OAuthError",
    "RedirectUriInvalid",
    "SessionClaims",
    "SessionToken",
    "TokenRejected",
    "TokenResponse",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "jwks",
    "load_api_signing_key",
    "resource_audience",
]
