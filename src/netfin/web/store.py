"""A customer's portal preferences (elder mode, language), kept server-side per party."""

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
