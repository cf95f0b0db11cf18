"""Persistence of passkeys, WebAuthn challenges and password hashes (SQLAlchemy Core).

Tables live on the platform ``metadata`` so that one Alembic history covers
them. Ids are 16-byte big-endian ``LargeBinary`` and times are nanoseconds in
``BigInteger``, which both SQLite and PostgreSQL store natively.

Every method runs in its own short transaction: no transaction is held while
a password is hashed or a signature is checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from netfin.core.errors import invariant
from netfin.core.ids import id_from_bytes, id_to_bytes
from netfin.identity.credentials.model import (
    CHALLENGE_BYTES_MAX,
    CREDENTIAL_ID_BYTES_MAX,
    LABEL_LENGTH_MAX,
    PASSKEYS_PER_PARTY_MAX,
    ChallengePurpose,
    ChallengeStatus,
    ChallengeUse,
    PasskeyCredential,
    PasswordRecord,
)
from netfin.storage import metadata

passkey_credentials = sa.Table(
    "passkey_credentials",
    metadata,
    sa.Column("credential_id", sa.LargeBinary(CREDENTIAL_ID_BYTES_MAX), primary_key=True),
    sa.Column("party_id", sa.LargeBinary(16), nullable=False, index=True),
    sa.Column("public_key", sa.LargeBinary, nullable=False),
    sa.Column("sign_count", sa.BigInteger, nullable=False),
    sa.Column("transports", sa.JSON, nullable=False),
    sa.Column("aaguid", sa.String(36), nullable=False),
    sa.Column("backed_up", sa.Boolean, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("last_used_ns", sa.BigInteger, nullable=True),
    sa.Column("label", sa.String(LABEL_LENGTH_MAX), nullable=False),
)

webauthn_challenges = sa.Table(
    "webauthn_challenges",
    metadata,
    sa.Column("challenge", sa.LargeBinary(CHALLENGE_BYTES_MAX), primary_key=True),
    sa.Column("party_id", sa.LargeBinary(16), nullable=True),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("expires_ns", sa.BigInteger, nullable=False, index=True),
    sa.Column("used_ns", sa.BigInteger, nullable=True),
    sa.CheckConstraint("purpose IN ('register', 'authenticate', 'confirm')", name="purpose_known"),
)

password_credentials = sa.Table(
    "password_credentials",
    metadata,
    sa.Column("party_id", sa.LargeBinary(16), primary_key=True),
    sa.Column("hash", sa.String(255), nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.Column("failed_attempts", sa.Integer, nullable=False),
    sa.Column("locked_until_ns", sa.BigInteger, nullable=True),
)

TABLES: tuple[sa.Table, ...] = (passkey_credentials, webauthn_challenges, password_credentials)


class CredentialStore:
    """Queries on the credential tables of one engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    # Challenges

    def insert_challenge(
        self,
        challenge: bytes,
        *,
        party_id: int | None,
        purpose: ChallengePurpose,
        created_ns: int,
        expires_ns: int,
    ) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                webauthn_challenges.insert().values(
                    challenge=challenge,
                    party_id=None if party_id is None else id_to_bytes(party_id),
                    purpose=purpose.value,
                    created_ns=created_ns,
                    expires_ns=expires_ns,
                    used_ns=None,
                )
            )

    def consume_challenge(
        self, challenge: bytes, *, purpose: ChallengePurpose, party_id: int | None, now_ns: int
    ) -> ChallengeUse:
        """Mark the challenge used if it is unused, unexpired and issued for this purpose
        (and this party when ``party_id`` is given).

        The conditional UPDATE is the single point of consumption: of two
        concurrent responses carrying one challenge, the database lets exactly
        one UPDATE match (PostgreSQL re-evaluates the WHERE after the row lock,
        SQLite serialises writers), so the other sees it as replayed.
        """
        table = webauthn_challenges
        conditions = [
            table.c.challenge == challenge,
            table.c.purpose == purpose.value,
            table.c.used_ns.is_(None),
            table.c.expires_ns > now_ns,
        ]
        if party_id is not None:
            conditions.append(table.c.party_id == id_to_bytes(party_id))
        with self._engine.begin() as connection:
            consumed = connection.execute(table.update().where(*conditions).values(used_ns=now_ns))
            row = connection.execute(
                sa.select(table.c.party_id, table.c.purpose, table.c.expires_ns, table.c.used_ns).where(
                    table.c.challenge == challenge
                )
            ).one_or_none()
        owner = None if row is None or row.party_id is None else id_from_bytes(bytes(row.party_id))
        if consumed.rowcount == 1:
            return ChallengeUse(ChallengeStatus.CONSUMED, owner)
        if row is None:
            return ChallengeUse(ChallengeStatus.UNKNOWN)
        status = _refusal(
            issued_for=row.purpose,
            used=row.used_ns is not None,
            expires_ns=int(row.expires_ns),
            purpose=purpose,
            party_matches=party_id is None or owner == party_id,
            now_ns=now_ns,
        )
        return ChallengeUse(status, owner)

    def purge_challenges(self, *, now_ns: int) -> int:
        """Delete expired challenges; a replay of one afterwards reads as unknown."""
        with self._engine.begin() as connection:
            result = connection.execute(
                webauthn_challenges.delete().where(webauthn_challenges.c.expires_ns <= now_ns)
            )
        return int(result.rowcount)

    # Passkeys

    def insert_passkey(self, credential: PasskeyCredential) -> bool:
        """Store a new passkey; False when the credential id is already registered."""
        try:
            with self._engine.begin() as connection:
                connection.execute(passkey_credentials.insert().values(**_passkey_row(credential)))
        except sa.exc.IntegrityError:
            return False
        return True

    def count_passkeys(self, party_id: int) -> int:
        with self._engine.connect() as connection:
            value = connection.execute(
                sa.select(sa.func.count())
                .select_from(passkey_credentials)
                .where(passkey_credentials.c.party_id == id_to_bytes(party_id))
            ).scalar_one()
        return int(value)

    def get_passkey(self, credential_id: bytes) -> PasskeyCredential | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(passkey_credentials).where(passkey_credentials.c.credential_id == credential_id)
            ).one_or_none()
        return None if row is None else _passkey(row)

    def list_passkeys(self, party_id: int) -> list[PasskeyCredential]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(passkey_credentials)
                .where(passkey_credentials.c.party_id == id_to_bytes(party_id))
                .order_by(passkey_credentials.c.created_ns, passkey_credentials.c.credential_id)
                .limit(PASSKEYS_PER_PARTY_MAX)
            ).all()
        return [_passkey(row) for row in rows]

    def delete_passkey(self, party_id: int, credential_id: bytes) -> bool:
        with self._engine.begin() as connection:
            result = connection.execute(
                passkey_credentials.delete().where(
                    passkey_credentials.c.credential_id == credential_id,
                    passkey_credentials.c.party_id == id_to_bytes(party_id),
                )
            )
        return int(result.rowcount) == 1

    def record_passkey_use(
        self, credential_id: bytes, *, stored_count: int, new_count: int, backed_up: bool, now_ns: int
    ) -> bool:
        """Advance the counter only if it still holds ``stored_count`` (compare and set).

        Two assertions checked against one stored counter cannot both win, so a
        cloned authenticator racing the genuine one is caught here too.
        """
        with self._engine.begin() as connection:
            result = connection.execute(
                passkey_credentials.update()
                .where(
                    passkey_credentials.c.credential_id == credential_id,
                    passkey_credentials.c.sign_count == stored_count,
                )
                .values(sign_count=new_count, backed_up=backed_up, last_used_ns=now_ns)
            )
        return int(result.rowcount) == 1

    # Passwords

    def get_password(self, party_id: int) -> PasswordRecord | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(password_credentials).where(
                    password_credentials.c.party_id == id_to_bytes(party_id)
                )
            ).one_or_none()
        if row is None:
            return None
        return PasswordRecord(
            party_id=party_id,
            hash=str(row.hash),
            updated_ns=int(row.updated_ns),
            failed_attempts=int(row.failed_attempts),
            locked_until_ns=None if row.locked_until_ns is None else int(row.locked_until_ns),
        )

    def upsert_password(self, party_id: int, password_hash: str, *, now_ns: int) -> None:
        """Set the party's hash and clear any failures and lock."""
        values = {
            "party_id": id_to_bytes(party_id),
            "hash": password_hash,
            "updated_ns": now_ns,
            "failed_attempts": 0,
            "locked_until_ns": None,
        }
        insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        statement = insert(password_credentials).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[password_credentials.c.party_id],
            set_={key: statement.excluded[key] for key in values if key != "party_id"},
        )
        with self._engine.begin() as connection:
            connection.execute(statement)

    def delete_password(self, party_id: int) -> bool:
        with self._engine.begin() as connection:
            result = connection.execute(
                password_credentials.delete().where(password_credentials.c.party_id == id_to_bytes(party_id))
            )
        return int(result.rowcount) == 1

    def record_password_failure(
        self, party_id: int, *, failures_max: int, lockout_ns: int, now_ns: int
    ) -> int | None:
        """Count one failure; lock the password when the count reaches ``failures_max``.

        Returns the lock's end when this failure locked it, else None. A lock
        that has run out starts a fresh count. The increment is a single
        UPDATE so that concurrent failures are all counted.
        """
        table = password_credentials
        key = table.c.party_id == id_to_bytes(party_id)
        with self._engine.begin() as connection:
            connection.execute(
                table.update()
                .where(key, table.c.locked_until_ns.is_not(None), table.c.locked_until_ns <= now_ns)
                .values(failed_attempts=0, locked_until_ns=None)
            )
            connection.execute(table.update().where(key).values(failed_attempts=table.c.failed_attempts + 1))
            failures = connection.execute(sa.select(table.c.failed_attempts).where(key)).scalar_one_or_none()
            if failures is None or int(failures) < failures_max:
                return None
            locked_until_ns = now_ns + lockout_ns
            connection.execute(
                table.update().where(key).values(failed_attempts=0, locked_until_ns=locked_until_ns)
            )
        return locked_until_ns

    def record_password_success(self, party_id: int, *, new_hash: str | None, now_ns: int) -> None:
        """Clear the failure count; store ``new_hash`` when the hash was upgraded."""
        values: dict[str, Any] = {"failed_attempts": 0, "locked_until_ns": None}
        if new_hash is not None:
            values.update(hash=new_hash, updated_ns=now_ns)
        with self._engine.begin() as connection:
            connection.execute(
                password_credentials.update()
                .where(password_credentials.c.party_id == id_to_bytes(party_id))
                .values(**values)
            )


def _refusal(
    *,
    issued_for: str,
    used: bool,
    expires_ns: int,
    purpose: ChallengePurpose,
    party_matches: bool,
    now_ns: int,
) -> ChallengeStatus:
    """Why an existing challenge could not be consumed."""
    if issued_for != purpose.value:
        return ChallengeStatus.WRONG_PURPOSE
    if not party_matches:
        return ChallengeStatus.WRONG_PARTY
    if used:
        return ChallengeStatus.REPLAYED
    invariant(expires_ns <= now_ns, "an unconsumed challenge must be used or expired")
    return ChallengeStatus.EXPIRED


def _passkey_row(credential: PasskeyCredential) -> dict[str, Any]:
    return {
        "credential_id": credential.credential_id,
        "party_id": id_to_bytes(credential.party_id),
        "public_key": credential.public_key,
        "sign_count": credential.sign_count,
        "transports": list(credential.transports),
        "aaguid": credential.aaguid,
        "backed_up": credential.backed_up,
        "created_ns": credential.created_ns,
        "last_used_ns": credential.last_used_ns,
        "label": credential.label,
    }


def _passkey(row: sa.Row[Any]) -> PasskeyCredential:
    transports: Sequence[Any] = row.transports or ()
    return PasskeyCredential(
        credential_id=bytes(row.credential_id),
        party_id=id_from_bytes(bytes(row.party_id)),
        public_key=bytes(row.public_key),
        sign_count=int(row.sign_count),
        transports=tuple(str(value) for value in transports),
        aaguid=str(row.aaguid),
        backed_up=bool(row.backed_up),
        created_ns=int(row.created_ns),
        last_used_ns=None if row.last_used_ns is None else int(row.last_used_ns),
        label=str(row.label),
    )
