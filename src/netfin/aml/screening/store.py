"""Tables of screening: the list versions loaded and every screening result with its candidates.

A result row keeps what compliance needs to decide without re-running
anything: the subject, why it was screened, the list versions it was
screened against, the top candidates with their scores and evidence (JSON),
and the status compliance gave it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from netfin.aml.screening.model import ScreeningReason, ScreeningStatus, SubjectKind
from netfin.storage import metadata

aml_screening_list_versions = sa.Table(
    "aml_screening_list_versions",
    metadata,
    sa.Column("list_id", sa.String(32), primary_key=True),
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("entries", sa.Integer, nullable=False),
    sa.Column("names", sa.Integer, nullable=False),
    sa.Column("loaded_ns", sa.BigInteger, nullable=False),
)

aml_screening_results = sa.Table(
    "aml_screening_results",
    metadata,
    sa.Column("result_id", sa.String(40), primary_key=True),
    sa.Column("subject_kind", sa.String(16), nullable=False),
    sa.Column("subject_id", sa.String(128), nullable=False),
    sa.Column("reason", sa.String(16), nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("list_versions", sa.JSON, nullable=False),
    sa.Column("config_version", sa.String(40), nullable=False),
    sa.Column("top_score", sa.Float, nullable=False),
    sa.Column("candidates", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("screened_ns", sa.BigInteger, nullable=False),
    sa.Column("decided_by", sa.String(128), nullable=True),
    sa.Column("decided_ns", sa.BigInteger, nullable=True),
    sa.Column("note", sa.String(500), nullable=True),
    sa.CheckConstraint(
        "status IN ('clear', 'potential_match', 'confirmed', 'false_positive')", name="screening_status"
    ),
    sa.Index("ix_aml_screening_results_subject", "subject_kind", "subject_id", "screened_ns"),
    sa.Index("ix_aml_screening_results_status", "status", "screened_ns"),
)

TABLES = (aml_screening_list_versions, aml_screening_results)


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    """One stored screening of one subject."""

    result_id: str
    subject_kind: SubjectKind
    subject_id: str
    reason: ScreeningReason
    name: str
    list_versions: dict[str, str]
    config_version: str
    top_score: float
    candidates: list[dict[str, Any]]
    status: ScreeningStatus
    screened_ns: int
    decided_by: str | None = None
    decided_ns: int | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "result_id": self.result_id,
            "subject_kind": self.subject_kind.value,
            "subject_id": self.subject_id,
            "reason": self.reason.value,
            "name": self.name,
            "list_versions": self.list_versions,
            "config_version": self.config_version,
            "top_score": self.top_score,
            "candidates": self.candidates,
            "status": self.status.value,
            "screened_ns": self.screened_ns,
            "decided_by": self.decided_by,
            "decided_ns": self.decided_ns,
            "note": self.note,
        }


def _result(row: sa.Row[Any]) -> ScreeningResult:
    return ScreeningResult(
        result_id=row.result_id,
        subject_kind=SubjectKind(row.subject_kind),
        subject_id=row.subject_id,
        reason=ScreeningReason(row.reason),
        name=row.name,
        list_versions=dict(row.list_versions),
        config_version=row.config_version,
        top_score=row.top_score,
        candidates=list(row.candidates),
        status=ScreeningStatus(row.status),
        screened_ns=row.screened_ns,
        decided_by=row.decided_by,
        decided_ns=row.decided_ns,
        note=row.note,
    )


def _values(result: ScreeningResult) -> dict[str, Any]:
    body = result.as_dict()
    body["subject_kind"] = result.subject_kind.value
    return body


class ScreeningStore:
    """Screening's rows on one engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def record_list_version(
        self, list_id: str, version: str, source: str, entries: int, names: int, now_ns: int
    ) -> bool:
        """Remember a list version; False when it was already known."""
        with self.engine.begin() as connection:
            known = connection.execute(
                sa.select(aml_screening_list_versions.c.version).where(
                    aml_screening_list_versions.c.list_id == list_id,
                    aml_screening_list_versions.c.version == version,
                )
            ).first()
            if known is not None:
                return False
            connection.execute(
                aml_screening_list_versions.insert().values(
                    list_id=list_id,
                    version=version,
                    source=source,
                    entries=entries,
                    names=names,
                    loaded_ns=now_ns,
                )
            )
        return True

    def list_versions(self) -> list[dict[str, Any]]:
        table = aml_screening_list_versions
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(table).order_by(table.c.loaded_ns, table.c.list_id)).all()
        return [dict(row._mapping) for row in rows]

    def insert_results(self, results: Sequence[ScreeningResult]) -> None:
        if results:
            with self.engine.begin() as connection:
                connection.execute(aml_screening_results.insert(), [_values(r) for r in results])

    def get(self, result_id: str) -> ScreeningResult | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(aml_screening_results).where(aml_screening_results.c.result_id == result_id)
            ).first()
        return None if row is None else _result(row)

    def latest_for(self, subject_kind: SubjectKind, subject_id: str) -> ScreeningResult | None:
        table = aml_screening_results
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(table)
                .where(table.c.subject_kind == subject_kind.value, table.c.subject_id == subject_id)
                .order_by(table.c.screened_ns.desc(), table.c.result_id.desc())
                .limit(1)
            ).first()
        return None if row is None else _result(row)

    def by_status(self, status: ScreeningStatus, limit: int) -> list[ScreeningResult]:
        table = aml_screening_results
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(table)
                .where(table.c.status == status.value)
                .order_by(table.c.screened_ns, table.c.result_id)
                .limit(limit)
            ).all()
        return [_result(r) for r in rows]

    def decide(
        self,
        result_id: str,
        expected: ScreeningStatus,
        status: ScreeningStatus,
        by: str,
        note: str | None,
        now_ns: int,
    ) -> bool:
        """Move a result from ``expected`` to ``status``; False when it was not in ``expected``."""
        table = aml_screening_results
        with self.engine.begin() as connection:
            updated = connection.execute(
                table.update()
                .where(table.c.result_id == result_id, table.c.status == expected.value)
                .values(status=status.value, decided_by=by, decided_ns=now_ns, note=note)
            )
        return bool(updated.rowcount == 1)
