"""A software third-party provider (TPP): its signing key, client assertions and tokens.

Used by the demo, the tests and the benchmarks to act as a TPP against the
HTTP API exactly as a real one would (``private_key_jwt``, RFC 7523).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from joserfc import jwt
from joserfc.jwk import ECKey

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_S = 60


class HttpClient(Protocol):
    def post(self, url: str, **kwargs: Any) -> Any: ...


@dataclass
class SoftwareTpp:
    """A TPP with an EC P-256 key; register ``public_jwks`` with the bank, then ask for tokens."""

    name: str
    key: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256", private=True))
    client_id: str = ""
    kid: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def public_jwks(self) -> dict[str, Any]:
        public = self.key.as_dict(private=False)
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "ES256"}]}

    def assertion(self, audience: str, *, now_s: int | None = None, jti: str | None = None) -> str:
        issued = int(time.time()) if now_s is None else now_s
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "iat": issued,
            "exp": issued + ASSERTION_LIFETIME_S,
            "jti": jti or uuid.uuid4().hex,
        }
        return jwt.encode({"alg": "ES256", "kid": self.kid}, claims, self.key)

    def token_form(self, audience: str, **fields: str) -> dict[str, str]:
        return {
            **fields,
            "client_id": self.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(audience),
        }

    def client_credentials(self, http: HttpClient, token_url: str, scope: str) -> str:
        response = http.post(
            token_url, data=self.token_form(token_url, grant_type="client_credentials", scope=scope)
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def exchange_code(self, http: HttpClient, token_url: str, code: str, redirect_uri: str) -> str:
        form = self.token_form(token_url, grant_type="authorization_code", code=code, redirect_uri=redirect_uri)
        response = http.post(token_url, data=form)
        response.raise_for_status()
        return str(response.json()["access_token"])
