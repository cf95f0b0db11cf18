"""Persistence of OAuth clients, used client assertion ids and authorization codes.

Three tables on the shared platform ``metadata``, portable to SQLite and
PostgreSQL: ids as strings or 16-byte big-endian binaries, instants as
nanoseconds since the epoch, lists and key sets as JSON.

- ``oauth_clients``: one row per registered third party; public keys only,
  the client secret only as an argon2 hash.
- ``oauth_assertion_jtis``: the ``jti`` of every accepted client assertion
  until it expires, so that an assertion is accepted once (RFC 7523 §3).
- ``oauth_codes``: authorization codes by the SHA-256 of the code; the code
  itself is never stored. ``used_ns`` is set once, by a conditional update.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from netfin.core.ids import id_from_bytes, id_to_bytes
from netfin.identity.oauth.model import (
    CONSENT_ID_LENGTH_MAX,
    JTI_LENGTH_MAX,
    REDIRECT_URI_LENGTH_MAX,
    SCOPE_LENGTH_MAX,
    AuthMethod,
    AuthorizationCode,
    ClientStatus,
    OAuthClient,
)
from netfin.storage import metadata

CLIENT_ID_LENGTH_MAX = 64

oauth_clients = sa.Table(
    "oauth_clients",
    metadata,
    sa.Column("client_id", sa.String(CLIENT_ID_LENGTH_MAX), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("auth_method", sa.String(32), nullable=False),
    sa.Column("jwks", sa.JSON, nullable=True),
    sa.Column("secret_hash", sa.String(256), nullable=True),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("redirect_uris", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.CheckConstraint(
        "auth_method IN ('private_key_jwt', 'client_secret_basic', 'client_secret_post')",
        name="auth_method",
    ),
    sa.CheckConstraint("status IN ('active', 'suspended')", name="status"),
)

oauth_assertion_jtis = sa.Table(
    "oauth_assertion_jtis",
    metadata,
    sa.Column(
        "client_id",
        sa.String(CLIENT_ID_LENGTH_MAX),
        sa.ForeignKey("oauth_clients.client_id"),
        primary_key=True,
    ),
    sa.Column("jti", sa.String(JTI_LENGTH_MAX), primary_key=True),
    sa.Column("expires_ns", sa.BigInteger, nullable=False, index=True),
)

oauth_codes = sa.Table(
    "oauth_codes",
    metadata,
    sa.Column("code_hash", sa.LargeBinary(32), primary_key=True),
    sa.Column(
        "client_id", sa.String(CLIENT_ID_LENGTH_MAX), sa.ForeignKey("oauth_clients.client_id"), nullable=False
    ),
    sa.Column("consent_id", sa.String(CONSENT_ID_LENGTH_MAX), nullable=False),
    sa.Column("party_id", sa.LargeBinary(16), nullable=False),
    sa.Column("redirect_uri", sa.String(REDIRECT_URI_LENGTH_MAX), nullable=False),
    sa.Column("scope", sa.String(SCOPE_LENGTH_MAX), nullable=False),
    sa.Column("expires_ns", sa.BigInteger, nullable=False, index=True),
    sa.Column("used_ns", sa.BigInteger, nullable=True),
    sa.Column("code_challenge", sa.String(64), nullable=True),
)

TABLES = (oauth_clients, oauth_assertion_jtis, oauth_codes)


class OAuthStore:
    """Queries on the three OAuth tables; each method is one short transaction."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    # -- clients -------------------------------------------------------------------

    def insert_client(self, client: OAuthClient) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                oauth_clients.insert().values(
                    client_id=client.client_id,
                    name=client.name,
                    auth_method=client.auth_method.value,
                    jwks=client.jwks,
                    secret_hash=client.secret_hash,
                    scopes=sorted(client.scopes),
                    redirect_uris=list(client.redirect_uris),
                    status=client.status.value,
                    created_ns=client.created_ns,
                )
            )

    def load_client(self, client_id: str) -> OAuthClient | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                oauth_clients.select().where(oauth_clients.c.client_id == client_id)
            ).one_or_none()
        return None if row is None else _client_from_row(row._mapping)

    def client_status(self, client_id: str) -> ClientStatus | None:
        with self._engine.connect() as connection:
            value = connection.execute(
                sa.select(oauth_clients.c.status).where(oauth_clients.c.client_id == client_id)
            ).scalar_one_or_none()
        return None if value is None else ClientStatus(value)

    def set_client_status(self, client_id: str, status: ClientStatus) -> bool:
        with self._engine.begin() as connection:
            result = connection.execute(
                oauth_clients.update()
                .where(oauth_clients.c.client_id == client_id)
                .values(status=status.value)
            )
        return result.rowcount == 1

    # -- client assertion ids --------------------------------------------------------

    def record_assertion_jti(self, client_id: str, jti: str, *, expires_ns: int, now_ns: int) -> bool:
        """Remember ``jti`` until ``expires_ns``; False if it is already remembered.

        The client's expired ids are dropped in the same transaction, so the
        table holds at most the assertions that could still be replayed.
        """
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    oauth_assertion_jtis.delete().where(
                        oauth_assertion_jtis.c.client_id == client_id,
                        oauth_assertion_jtis.c.expires_ns < now_ns,
                    )
                )
                connection.execute(
                    oauth_assertion_jtis.insert().values(client_id=client_id, jti=jti, expires_ns=expires_ns)
                )
        except sa.exc.IntegrityError:
            return False
        return True

    # -- authorization codes -----------------------------------------------------------

    def insert_code(self, code: AuthorizationCode) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                oauth_codes.insert().values(
                    code_hash=code.code_hash,
                    client_id=code.client_id,
                    consent_id=code.consent_id,
                    party_id=id_to_bytes(code.party_id),
                    redirect_uri=code.redirect_uri,
                    scope=code.scope,
                    expires_ns=code.expires_ns,
                    used_ns=code.used_ns,
                    code_challenge=code.code_challenge,
                )
            )

    def load_code(self, code_hash: bytes) -> AuthorizationCode | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                oauth_codes.select().where(oauth_codes.c.code_hash == code_hash)
            ).one_or_none()
        if row is None:
            return None
        values = row._mapping
        return AuthorizationCode(
            code_hash=bytes(values["code_hash"]),
            client_id=values["client_id"],
            consent_id=values["consent_id"],
            party_id=id_from_bytes(bytes(values["party_id"])),
            redirect_uri=values["redirect_uri"],
            scope=values["scope"],
            expires_ns=values["expires_ns"],
            used_ns=values["used_ns"],
            code_challenge=values["code_challenge"],
        )

    def mark_code_used(self, code_hash: bytes, now_ns: int) -> bool:
        """Set ``used_ns`` if the code is unused; False if another request won."""
        with self._engine.begin() as connection:
            result = connection.execute(
                oauth_codes.update()
                .where(oauth_codes.c.code_hash == code_hash, oauth_codes.c.used_ns.is_(None))
                .values(used_ns=now_ns)
            )
        return result.rowcount == 1

    def purge_expired(self, now_ns: int) -> int:
        """Delete expired assertion ids and codes; returns the number of rows deleted."""
        with self._engine.begin() as connection:
            jtis = connection.execute(
                oauth_assertion_jtis.delete().where(oauth_assertion_jtis.c.expires_ns < now_ns)
            )
            codes = connection.execute(oauth_codes.delete().where(oauth_codes.c.expires_ns < now_ns))
        return int(jtis.rowcount) + int(codes.rowcount)


def _client_from_row(values: Any) -> OAuthClient:
    return OAuthClient(
        client_id=values["client_id"],
        name=values["name"],
        auth_method=AuthMethod(values["auth_method"]),
        jwks=values["jwks"],
        scopes=frozenset(values["scopes"]),
        redirect_uris=tuple(values["redirect_uris"]),
        status=ClientStatus(values["status"]),
        created_ns=values["created_ns"],
        secret_hash=values["secret_hash"],
    )
