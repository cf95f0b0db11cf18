"""A software third-party provider (TPP): its signing key, client assertions and tokens.

Used by the demo, the tests and the benchmarks to act as a TPP against the
HTTP API exactly as a real one would (``private_key_jwt``, RFC 7523), and to
sign request bodies for ``x-jws-signature`` as the UK Open Banking JWS
profile asks: a detached JWS (RFC 7515 Appendix F) over the exact body
bytes, with the critical header claims ``http://openbanking.org.uk/iat``,
``/iss`` (the TPP's ``client_id``) and ``/tan``. The TPP builds it on its own,
with joserfc, as any client would; it shares no code with the bank that
verifies it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from joserfc import jws, jwt
from joserfc.jwk import ECKey
from joserfc.registry import HeaderParameter

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_S = 60
OB_IAT = "http://openbanking.org.uk/iat"
OB_ISS = "http://openbanking.org.uk/iss"
OB_TAN = "http://openbanking.org.uk/tan"
# The trust anchor a UK Open Banking participant names in its signatures.
OB_TRUST_ANCHOR = "openbanking.org.uk"
_SIGNATURE_REGISTRY = jws.JWSRegistry(
    header_registry={
        OB_IAT: HeaderParameter("Issued at", "int", True),
        OB_ISS: HeaderParameter("Issuer", "str", True),
        OB_TAN: HeaderParameter("Trust anchor", "str", True),
    },
    algorithms=["ES256"],
)


# Any client with httpx's post: fastapi.testclient.TestClient, httpx.Client.
HttpClient = Any


@dataclass
class SoftwareTpp:
    """A TPP with an EC P-256 key; register ``public_jwks`` with the bank, then ask for tokens."""

    name: str
    key: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256", private=True))
    client_id: str = ""
    kid: str = field(default_factory=lambda: uuid.uuid4().hex)
    trust_anchor: str = OB_TRUST_ANCHOR

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

    def sign_body(self, body: bytes, *, now_s: int | None = None) -> str:
        """The ``x-jws-signature`` value for a request body: ``<header>..<signature>``."""
        header = {
            "alg": "ES256",
            "kid": self.kid,
            "typ": "JOSE",
            "cty": "application/json",
            "crit": [OB_IAT, OB_ISS, OB_TAN],
            OB_IAT: int(time.time()) if now_s is None else now_s,
            OB_ISS: self.client_id,
            OB_TAN: self.trust_anchor,
        }
        compact = jws.serialize_compact(header, body, self.key, registry=_SIGNATURE_REGISTRY)
        return jws.detach_content(compact)

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
        form = self.token_form(
            token_url, grant_type="authorization_code", code=code, redirect_uri=redirect_uri
        )
        response = http.post(token_url, data=form)
        response.raise_for_status()
        return str(response.json()["access_token"])
