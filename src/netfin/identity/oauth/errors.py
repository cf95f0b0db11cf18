"""Rejections of the OAuth2 token endpoint, client registration and token checks.

Each ``OAuthError`` carries two names: ``error``, the RFC 6749 §5.2 (or
RFC 7591 §3.2.2) error code a client library understands, and ``code``, the
netfin rule that was broken (``client_assertion_replayed``). The HTTP layer
may answer with either an RFC 6749 JSON error or an RFC 9457 problem.
``InvalidClient`` is an ``Unauthenticated`` rejection (HTTP 401); the others
are ``InvalidInput`` (HTTP 400).
"""

from __future__ import annotations

from netfin.core.errors import InvalidInput, NetfinError, NotFound, Unauthenticated


class OAuthError(NetfinError):
    """A refusal at the token or authorization endpoint, with its RFC 6749 name."""

    error: str = "invalid_request"

    @property
    def error_description(self) -> str:
        return self.message


class InvalidClient(OAuthError, Unauthenticated):
    """Client authentication failed: unknown client, bad assertion or secret."""

    error = "invalid_client"
    code = "client_authentication_failed"


class InvalidGrant(OAuthError, InvalidInput):
    """The authorization code is invalid, expired, used or bound elsewhere."""

    error = "invalid_grant"
    code = "grant_invalid"


class InvalidScope(OAuthError, InvalidInput):
    error = "invalid_scope"
    code = "scope_invalid"


class InvalidRequest(OAuthError, InvalidInput):
    """The request is malformed: a missing or repeated field, or one too long."""

    error = "invalid_request"
    code = "request_invalid"


class UnsupportedGrantType(OAuthError, InvalidInput):
    error = "unsupported_grant_type"
    code = "grant_type_unsupported"


class UnauthorizedClient(OAuthError, InvalidInput):
    """The client is authenticated but may not use this grant."""

    error = "unauthorized_client"
    code = "grant_not_allowed"


class ClientMetadataInvalid(OAuthError, InvalidInput):
    """A registration was refused (RFC 7591 §3.2.2)."""

    error = "invalid_client_metadata"
    code = "client_metadata_invalid"


class RedirectUriInvalid(ClientMetadataInvalid):
    """A redirect URI is not absolute HTTPS, has a fragment, or is too long."""

    error = "invalid_redirect_uri"
    code = "redirect_uri_invalid"


class ClientNotFound(NotFound):
    code = "client_not_found"


class TokenRejected(Unauthenticated):
    """An access or session token was refused. Codes: ``token_invalid``,
    ``token_expired``, ``token_audience_invalid``, ``token_issuer_invalid``,
    ``token_type_invalid``, ``client_suspended``."""

    code = "token_invalid"
