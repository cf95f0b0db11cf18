"""``netfin supervision …``: penetrating supervision: the ownership graph and ultimate beneficial owners.

Every command that scripts read takes ``--json`` and then prints exactly one
JSON document on stdout. Every command acts as ``--actor`` (``kind:id``,
by default the platform itself) and leaves its audit record.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import typer
from rich.table import Table

from netfin.aml.ownership import (
    EdgeDraft,
    HolderKind,
    OwnershipChain,
    OwnershipService,
    OwnershipStore,
    ShareKind,
    UboReport,
)
from netfin.aml.ownership.model import EDGES_PER_BATCH_MAX, parse_share
from netfin.audit import AuditLog
from netfin.cli.common import DbOption, JsonOption, emit, out, refuse
from netfin.core.clock import SystemClock
from netfin.core.errors import InvalidInput, LimitExceeded, NetfinError
from netfin.core.ids import Uuid7Ids
from netfin.identity.model import Actor
from netfin.storage import open_engine

supervision_app = typer.Typer(
    help="Penetrating supervision: the ownership graph and ultimate beneficial owners.", no_args_is_help=True
)
FILE_BYTES_MAX = 64 * 1024 * 1024
CSV_COLUMNS = ("owner", "owned", "share")
ActorOption = typer.Option("system:netfin-cli", "--actor", help="Who acts, as kind:id (e.g. regulator:rg-7).")
AsOfOption = typer.Option(None, "--as-of", help="The date to look at, YYYY-MM-DD (default: today, UTC).")


def _actor(text: str) -> Actor:
    kind, _, actor_id = text.partition(":")
    if not kind or not actor_id:
        raise InvalidInput("--actor must be kind:id, such as compliance:officer-1", code="actor_malformed")
    return Actor(kind=kind, id=actor_id)


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date (YYYY-MM-DD)", code="date_malformed") from None


@contextmanager
def _service(db: str | None) -> Iterator[OwnershipService]:
    engine = open_engine(db or os.environ.get("NETFIN_DATABASE_URL") or "sqlite:///netfin.db")
    clock = SystemClock()
    audit = AuditLog(engine, clock=clock, ids=Uuid7Ids())
    try:
        yield OwnershipService(OwnershipStore(engine), audit=audit, clock=clock, ids=Uuid7Ids())
    finally:
        audit.close()
        engine.dispose()


def report_json(report: UboReport) -> dict[str, Any]:
    return {
        "entity_id": report.entity_id,
        "as_of": report.as_of.isoformat(),
        "kind": report.kind.value,
        "threshold": f"{report.threshold:f}",
        "method": report.method,
        "owners": [
            {
                "person_id": o.person_id,
                "effective_share": f"{o.effective_share:f}",
                "above_threshold": o.above_threshold,
                "majority_control": o.majority_control,
                "paths": [{"holders": list(p.holders), "product": f"{p.product:f}"} for p in o.paths],
            }
            for o in report.owners
        ],
        "persons_total": report.persons_total,
        "persons_share": f"{report.persons_share:f}",
        "unresolved_share": f"{report.unresolved_share:f}",
        "control_chain": list(report.control_chain),
        "paths_truncated": report.paths_truncated,
    }


def chain_json(chain: OwnershipChain) -> dict[str, Any]:
    edges = [
        {"edge_id": e.edge_id, "owner": e.owner_id, "owner_kind": e.owner_kind.value, "owned": e.owned_id,
         "share": str(e.share), "kind": e.kind.value, "valid_from": e.valid_from.isoformat(),
         "valid_to": None if e.valid_to is None else e.valid_to.isoformat(), "source": e.source,
         "recorded_by": e.recorded_by}
        for e in chain.edges
    ]  # fmt: skip
    return {"entity_id": chain.entity_id, "as_of": chain.as_of.isoformat(), "edges": edges}


@supervision_app.command("ubo")
def ubo_command(
    entity: str = typer.Argument(..., help="The enterprise's id in the ownership register."),
    threshold: str = typer.Option(
        "0.25", "--threshold", help="Effective share that makes an owner, in (0, 1]."
    ),
    kind: ShareKind = typer.Option(ShareKind.EQUITY, "--kind", help="Count equity or voting shares."),
    as_of: str | None = AsOfOption,
    db: str | None = DbOption,
    actor: str = ActorOption,
    json: bool = JsonOption,
) -> None:
    """The ultimate beneficial owners of an enterprise, with the chains that make them."""
    try:
        with _service(db) as service:
            report = service.ubo(entity, _actor(actor), threshold, as_of=_date(as_of), kind=kind)
    except NetfinError as error:
        refuse(error, json)
    if json:
        emit(report_json(report))
        return
    table = Table(title=f"Beneficial owners of {entity} on {report.as_of} (threshold {report.threshold})")
    for column in ("person", "effective share", "≥ threshold", "majority chain", "strongest path"):
        table.add_column(column)
    for o in report.owners:
        path = " → ".join(o.paths[0].holders) if o.paths else ""
        table.add_row(o.person_id, f"{o.effective_share * 100:.4f}%", "yes" if o.above_threshold else "no",
                      "yes" if o.majority_control else "no", path)  # fmt: skip
    out.print(table)
    unresolved = f"{report.unresolved_share * 100:.4f}%"
    out.print(f"{report.persons_total} persons hold {report.persons_share * 100:.4f}%; {unresolved} is held "
              f"through holders nobody recorded ({report.method}).")  # fmt: skip


@supervision_app.command("chain")
def chain_command(
    entity: str = typer.Argument(..., help="The enterprise's id in the ownership register."),
    as_of: str | None = AsOfOption,
    db: str | None = DbOption,
    actor: str = ActorOption,
    json: bool = JsonOption,
) -> None:
    """Every ownership edge upstream of an enterprise: what its UBO result is made of."""
    try:
        with _service(db) as service:
            chain = service.chain(entity, _actor(actor), as_of=_date(as_of))
    except NetfinError as error:
        refuse(error, json)
    if json:
        emit(chain_json(chain))
        return
    table = Table(title=f"Ownership upstream of {entity} on {chain.as_of}")
    for column in ("owner", "kind", "owned", "share", "from", "to"):
        table.add_column(column)
    for e in chain.edges:
        table.add_row(e.owner_id, e.owner_kind.value, e.owned_id, str(e.share), e.valid_from.isoformat(),
                      "" if e.valid_to is None else e.valid_to.isoformat())  # fmt: skip
    out.print(table)


def read_edges(path: Path, valid_from: date, source: str) -> list[EdgeDraft]:
    """Edges from a CSV with columns owner, owned, share (a fraction such as 0.25).

    Optional columns: owner_kind (person or enterprise), kind (equity or
    voting), valid_from, valid_to, source. Without owner_kind, an owner is an
    enterprise when the file also names it as owned, and a person otherwise.
    """
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}", code="file_missing")
    if path.stat().st_size > FILE_BYTES_MAX:
        raise LimitExceeded(f"{path} is larger than {FILE_BYTES_MAX} bytes", code="file_too_large")
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    if len(rows) > EDGES_PER_BATCH_MAX:
        raise LimitExceeded(
            f"{len(rows)} rows; at most {EDGES_PER_BATCH_MAX}", code="ownership_batch_too_large"
        )
    missing = [c for c in CSV_COLUMNS if rows and c not in rows[0]]
    if missing or not rows:
        raise InvalidInput(f"the file needs the columns {', '.join(CSV_COLUMNS)} and at least one row",
                           code="ownership_file_malformed")  # fmt: skip
    owned = {row["owned"] for row in rows}
    drafts = []
    for line, row in enumerate(rows, start=2):
        try:
            drafts.append(_draft(row, owned, valid_from, source))
        except (NetfinError, ValueError) as error:
            raise InvalidInput(
                f"line {line}: {error}", code=getattr(error, "code", "ownership_file_malformed")
            ) from None
    return drafts


def _draft(row: dict[str, str], owned: set[str], valid_from: date, source: str) -> EdgeDraft:
    default_kind = HolderKind.ENTERPRISE if row["owner"] in owned else HolderKind.PERSON
    return EdgeDraft(
        owner_id=row["owner"],
        owner_kind=HolderKind(row.get("owner_kind") or default_kind),
        owned_id=row["owned"],
        share=parse_share(row["share"]),
        valid_from=_date(row.get("valid_from") or None) or valid_from,
        valid_to=_date(row.get("valid_to") or None),
        kind=ShareKind(row.get("kind") or ShareKind.EQUITY),
        source=row.get("source") or source,
    )


@supervision_app.command("load-ownership")
def load_ownership_command(
    file: Path = typer.Option(
        ..., "--file", help="CSV with columns owner, owned, share (and optional ones)."
    ),
    valid_from: str | None = typer.Option(None, "--valid-from", help="Start date for rows without one."),
    db: str | None = DbOption,
    actor: str = ActorOption,
    json: bool = JsonOption,
) -> None:
    """Record every edge of a CSV file in the ownership register, all or none."""
    try:
        start = _date(valid_from) or datetime.now(tz=UTC).date()
        drafts = read_edges(file, start, source=file.name[:200])
        with _service(db) as service:
            recorded = service.record_edges(_actor(actor), drafts)
    except NetfinError as error:
        refuse(error, json)
    except sa.exc.OperationalError as error:
        refuse(InvalidInput(str(error.orig).splitlines()[0], code="database_unavailable"), json)
    body = {"file": str(file), "edges": len(recorded), "enterprises": len({e.owned_id for e in recorded})}
    emit(body) if json else out.print(
        f"recorded {body['edges']:,} edges into {body['enterprises']:,} enterprises"
    )
