"""What the web layer keeps server-side: each party's preferences (elder mode, language) and the
web sessions that were signed out before they expired."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from netfin.core.ids import format_id
from netfin.storage import metadata

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

web_preferences = sa.Table(
    "web_preferences",
    metadata,
    sa.Column("party_id", sa.String(32), primary_key=True),
    sa.Column("elder_mode", sa.Boolean, nullable=False, default=False),
    sa.Column("lang", sa.String(8), nullable=True),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
)


# A signed-out session's token id stays here until the token would have expired anyway.
web_signed_out = sa.Table(
    "web_signed_out",
    metadata,
    sa.Column("jti", sa.String(64), primary_key=True),
    sa.Column("expires_ns", sa.BigInteger, nullable=False, index=True),
)
SIGNED_OUT_PURGE_MAX = 1_000


@dataclass(frozen=True, slots=True)
class Preferences:
    elder_mode: bool = False
    lang: str | None = None


class PreferenceStore:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def get(self, party_id: int) -> Preferences:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(web_preferences.c.elder_mode, web_preferences.c.lang).where(
                    web_preferences.c.party_id == format_id(party_id)
                )
            ).first()
        if row is None:
            return Preferences()
        return Preferences(bool(row.elder_mode), row.lang if row.lang in LANGUAGES else None)

    def put(self, party_id: int, preferences: Preferences, now_ns: int) -> None:
        key = format_id(party_id)
        values = {"elder_mode": preferences.elder_mode, "lang": preferences.lang, "updated_ns": now_ns}
        with self.engine.begin() as connection:
            changed = connection.execute(
                sa.update(web_preferences).where(web_preferences.c.party_id == key).values(**values)
            ).rowcount
            if not changed:
                connection.execute(sa.insert(web_preferences).values(party_id=key, **values))


class SignedOutSessions:
    """Session token ids signed out early: a token listed here no longer opens a page."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def add(self, jti: str, expires_ns: int, now_ns: int) -> None:
        """List ``jti`` until ``expires_ns``; drop (a bounded number of) entries already past theirs."""
        t = web_signed_out
        with self.engine.begin() as connection:
            stale = sa.select(t.c.jti).where(t.c.expires_ns <= now_ns).limit(SIGNED_OUT_PURGE_MAX)
            connection.execute(sa.delete(t).where(t.c.jti.in_(stale.scalar_subquery())))
            exists = connection.execute(sa.select(t.c.jti).where(t.c.jti == jti)).first()
            if exists is None and expires_ns > now_ns:
                connection.execute(sa.insert(t).values(jti=jti, expires_ns=expires_ns))

    def contains(self, jti: str) -> bool:
        with self.engine.connect() as connection:
            found = connection.execute(
                sa.select(web_signed_out.c.jti).where(web_signed_out.c.jti == jti)
            ).first()
        return found is not None
