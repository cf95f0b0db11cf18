"""Tables of news early warning: items with their scores, mentions, warnings and the watch list.

An item is stored once: its id is derived from its source and URL, and a
second item with the same words (the same story from another feed) is
skipped by a unique content hash. Inserts use ``ON CONFLICT DO NOTHING`` so
two workers ingesting the same feed at once store each item once.
Mentions carry their item's time and score, so an entity's series is read
from one indexed table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from netfin.aml.news.model import (
    EarlyWarning,
    Entity,
    EntityKind,
    Mention,
    NewsItem,
    SentimentPoint,
    SentimentScore,
    WarningStatus,
)
from netfin.storage import metadata

news_items = sa.Table(
    "news_items",
    metadata,
    sa.Column("item_id", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("published_ns", sa.BigInteger, nullable=False),
    sa.Column("title", sa.String(1000), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("sentiment", sa.Float, nullable=False),
    sa.Column("sentiment_label", sa.String(8), nullable=False),
    sa.Column("scorer", sa.String(40), nullable=False),
    sa.Column("scorer_version", sa.String(200), nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("ingested_ns", sa.BigInteger, nullable=False),
    sa.Index("ix_news_items_published", "published_ns"),
)

news_mentions = sa.Table(
    "news_mentions",
    metadata,
    sa.Column("item_id", sa.String(64), primary_key=True),
    sa.Column("entity_id", sa.String(64), primary_key=True),
    sa.Column("entity_kind", sa.String(16), nullable=False),
    sa.Column("matched_name", sa.String(200), nullable=False),
    sa.Column("match_score", sa.Float, nullable=False),
    sa.Column("published_ns", sa.BigInteger, nullable=False),
    sa.Column("sentiment", sa.Float, nullable=False),
    sa.Index("ix_news_mentions_entity_published", "entity_id", "published_ns"),
)

news_warnings = sa.Table(
    "news_warnings",
    metadata,
    sa.Column("warning_id", sa.String(40), primary_key=True),
    sa.Column("entity_id", sa.String(64), nullable=False),
    sa.Column("entity_kind", sa.String(16), nullable=False),
    sa.Column("raised_ns", sa.BigInteger, nullable=False),
    sa.Column("window_start_ns", sa.BigInteger, nullable=False),
    sa.Column("window_end_ns", sa.BigInteger, nullable=False),
    sa.Column("baseline", sa.Float, nullable=False),
    sa.Column("recent", sa.Float, nullable=False),
    sa.Column("sentiment_drop", sa.Float, nullable=False),
    sa.Column("recent_items", sa.Integer, nullable=False),
    sa.Column("baseline_items", sa.Integer, nullable=False),
    sa.Column("item_ids", sa.JSON, nullable=False),
    sa.Column("config_version", sa.String(80), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("acknowledged_by", sa.String(128), nullable=True),
    sa.Column("acknowledged_ns", sa.BigInteger, nullable=True),
    sa.Column("note", sa.String(500), nullable=False),
    sa.CheckConstraint("status IN ('open', 'acknowledged')", name="news_warning_status"),
    sa.Index("ix_news_warnings_entity_status", "entity_id", "status", "raised_ns"),
    sa.Index("ix_news_warnings_status_raised", "status", "raised_ns"),
)

news_watchlist = sa.Table(
    "news_watchlist",
    metadata,
    sa.Column("entity_id", sa.String(64), primary_key=True),
    sa.Column("entity_kind", sa.String(16), nullable=False),
    sa.Column("names", sa.JSON, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
)

TABLES = (news_items, news_mentions, news_warnings, news_watchlist)


def _insert_ignoring_duplicates(connection: sa.Connection, table: sa.Table) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def warning_from_row(r: sa.Row[Any]) -> EarlyWarning:
    return EarlyWarning(
        warning_id=r.warning_id,
        entity_id=r.entity_id,
        entity_kind=EntityKind(r.entity_kind),
        raised_ns=r.raised_ns,
        window_start_ns=r.window_start_ns,
        window_end_ns=r.window_end_ns,
        baseline=r.baseline,
        recent=r.recent,
        drop=r.sentiment_drop,
        recent_items=r.recent_items,
        baseline_items=r.baseline_items,
        item_ids=tuple(r.item_ids),
        config_version=r.config_version,
        status=WarningStatus(r.status),
        acknowledged_by=r.acknowledged_by,
        acknowledged_ns=r.acknowledged_ns,
        note=r.note,
    )


class NewsStore:
    """Reads and writes of the news tables on one engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def put_items(self, scored: Sequence[tuple[NewsItem, SentimentScore]], ingested_ns: int) -> set[str]:
        """Store the items not seen before; return the ids of those stored now."""
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for item, score in scored:
            digest = item.content_hash
            if item.item_id in seen or digest in seen:
                continue
            seen.update((item.item_id, digest))
            rows.append({
                "item_id": item.item_id, "source": item.source, "url": item.url, "content_hash": digest,
                "published_ns": item.published_ns, "title": item.title, "text": item.text,
                "language": item.language, "sentiment": score.value, "sentiment_label": score.label.value,
                "scorer": score.scorer, "scorer_version": score.version, "evidence": list(score.evidence),
                "ingested_ns": ingested_ns,
            })  # fmt: skip
        if not rows:
            return set()
        with self.engine.begin() as c:
            statement = _insert_ignoring_duplicates(c, news_items).returning(news_items.c.item_id)
            return {row.item_id for row in c.execute(statement, rows)}

    def put_mentions(self, mentions: Sequence[tuple[Mention, int, float]]) -> None:
        """Store mentions, each with its item's published time and sentiment."""
        rows = [
            {"item_id": m.item_id, "entity_id": m.entity_id, "entity_kind": m.entity_kind.value,
             "matched_name": m.matched_name, "match_score": m.match_score, "published_ns": published_ns,
             "sentiment": value}
            for m, published_ns, value in mentions
        ]  # fmt: skip
        if rows:
            with self.engine.begin() as c:
                c.execute(_insert_ignoring_duplicates(c, news_mentions), rows)

    def series(
        self, entity_id: str, since_ns: int, until_ns: int, match_score_min: float, limit: int
    ) -> list[SentimentPoint]:
        """An entity's scored mentions in ``(since_ns, until_ns]``, newest ``limit`` of them."""
        m = news_mentions
        query = (
            sa.select(m.c.item_id, m.c.published_ns, m.c.sentiment)
            .where(m.c.entity_id == entity_id, m.c.published_ns > since_ns, m.c.published_ns <= until_ns,
                   m.c.match_score >= match_score_min)
            .order_by(m.c.published_ns.desc(), m.c.item_id)
            .limit(limit)
        )  # fmt: skip
        with self.engine.connect() as c:
            return [SentimentPoint(r.item_id, r.published_ns, r.sentiment) for r in c.execute(query)]

    def item(self, item_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(news_items).where(news_items.c.item_id == item_id)).first()
        return None if row is None else dict(row._mapping)

    def mentions_of(self, item_id: str) -> list[Mention]:
        m = news_mentions
        with self.engine.connect() as c:
            rows = c.execute(sa.select(m).where(m.c.item_id == item_id).order_by(m.c.entity_id))
            return [
                Mention(r.item_id, r.entity_id, EntityKind(r.entity_kind), r.matched_name, r.match_score)
                for r in rows
            ]

    def latest_open_raised_ns(self, entity_id: str) -> int | None:
        w = news_warnings
        query = sa.select(sa.func.max(w.c.raised_ns)).where(
            w.c.entity_id == entity_id, w.c.status == WarningStatus.OPEN.value
        )
        with self.engine.connect() as c:
            value = c.execute(query).scalar()
        return None if value is None else int(value)

    def put_warning(self, warning: EarlyWarning) -> None:
        values = {
            "warning_id": warning.warning_id, "entity_id": warning.entity_id,
            "entity_kind": warning.entity_kind.value, "raised_ns": warning.raised_ns,
            "window_start_ns": warning.window_start_ns, "window_end_ns": warning.window_end_ns,
            "baseline": warning.baseline, "recent": warning.recent, "sentiment_drop": warning.drop,
            "recent_items": warning.recent_items, "baseline_items": warning.baseline_items,
            "item_ids": list(warning.item_ids), "config_version": warning.config_version,
            "status": warning.status.value, "acknowledged_by": warning.acknowledged_by,
            "acknowledged_ns": warning.acknowledged_ns, "note": warning.note,
        }  # fmt: skip
        with self.engine.begin() as c:
            c.execute(sa.insert(news_warnings), [values])

    def warning(self, warning_id: str) -> EarlyWarning | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(news_warnings).where(news_warnings.c.warning_id == warning_id)).first()
        return None if row is None else warning_from_row(row)

    def warnings(self, status: WarningStatus | None, limit: int) -> list[EarlyWarning]:
        """Warnings, newest first, optionally only those in one status."""
        w = news_warnings
        query = sa.select(w).order_by(w.c.raised_ns.desc(), w.c.warning_id.desc()).limit(limit)
        if status is not None:
            query = query.where(w.c.status == status.value)
        with self.engine.connect() as c:
            return [warning_from_row(r) for r in c.execute(query)]

    def acknowledge(self, warning_id: str, by: str, at_ns: int, note: str) -> bool:
        """Mark an open warning acknowledged; False when it is not open (or does not exist)."""
        w = news_warnings
        with self.engine.begin() as c:
            result = c.execute(
                sa.update(w)
                .where(w.c.warning_id == warning_id, w.c.status == WarningStatus.OPEN.value)
                .values(status=WarningStatus.ACKNOWLEDGED.value, acknowledged_by=by, acknowledged_ns=at_ns,
                        note=note)
            )  # fmt: skip
        return result.rowcount == 1

    def put_watchlist(self, entities: Sequence[Entity], updated_ns: int) -> None:
        """Replace the watch list with ``entities``."""
        rows = [
            {"entity_id": e.entity_id, "entity_kind": e.kind.value, "names": list(e.names),
             "updated_ns": updated_ns}
            for e in entities
        ]  # fmt: skip
        with self.engine.begin() as c:
            c.execute(sa.delete(news_watchlist))
            if rows:
                c.execute(sa.insert(news_watchlist), rows)

    def watchlist(self, limit: int) -> list[Entity]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(news_watchlist).order_by(news_watchlist.c.entity_id).limit(limit))
            return [Entity(r.entity_id, EntityKind(r.entity_kind), tuple(r.names)) for r in rows]
