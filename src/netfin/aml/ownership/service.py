"""Use cases of the ownership register: record and end edges, ultimate beneficial owners, chains.

Compliance officers and operators (and the platform itself) write; staff
read; a regulator reads everything and writes nothing. Every write, every
read and every refusal is written to the audit log, so a regulator's look
at an enterprise's owners always leaves a record.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction

import sqlalchemy as sa

from netfin.aml.ownership.effective import OwnershipGraph, beneficial_owners, strong_groups
from netfin.aml.ownership.model import (
    EdgeDraft,
    OwnershipChain,
    OwnershipEdge,
    ShareKind,
    UboReport,
    check_batch_size,
    check_holder_id,
    check_holder_kinds,
    check_share_sums,
    parse_threshold,
)
from netfin.aml.ownership.store import OwnershipStore
from netfin.audit import AuditLog
from netfin.audit.model import DetailValue
from netfin.core.clock import NS_PER_SECOND, Clock
from netfin.core.errors import Forbidden, InvalidInput, LimitExceeded, NotFound
from netfin.core.ids import IdSource, format_id
from netfin.identity.model import Actor

WRITERS = frozenset({"compliance", "operator", "system"})
READERS = frozenset({"compliance", "operator", "risk_analyst", "auditor", "regulator", "system"})
VALIDITY_DATES_PER_BATCH_MAX = 64  # distinct start dates one batch may carry (each is checked for loops)


class OwnershipService:
    def __init__(self, store: OwnershipStore, *, audit: AuditLog, clock: Clock, ids: IdSource) -> None:
        self.store = store
        self.audit = audit
        self.clock = clock
        self.ids = ids

    # Writes --------------------------------------------------------------

    def record_edge(self, actor: Actor, draft: EdgeDraft) -> OwnershipEdge:
        return self.record_edges(actor, [draft])[0]

    def record_edges(self, actor: Actor, drafts: Sequence[EdgeDraft]) -> list[OwnershipEdge]:
        """Record a batch of edges at once, or none of them.

        Refuses (``OwnershipRejected``, ``ClosedOwnershipLoop``) when the
        batch, with what is stored, would make a person owned, give a holder
        two kinds, push an enterprise's shares of one kind past 1 on some
        date, or close a loop with no outside holder.
        """
        action = "aml.ownership.edges.record"
        self._require(actor, WRITERS, action, "", "")
        check_batch_size(len(drafts))
        if not drafts:
            raise InvalidInput("no edges to record", code="ownership_batch_empty")
        now_ns = self.clock.now_ns()
        who = f"{actor.kind}:{actor.id}"
        edges = [
            OwnershipEdge.of(d, edge_id=format_id(self.ids.new_id()), recorded_by=who, recorded_ns=now_ns)
            for d in drafts
        ]
        with self.store.writing() as connection:
            touched = {e.owner_id for e in edges} | {e.owned_id for e in edges}
            stored = self.store.edges_touching(connection, touched)
            check_holder_kinds([*stored, *edges])
            owned = {e.owned_id for e in edges}
            check_share_sums([*(e for e in stored if e.owned_id in owned), *edges])
            self._refuse_closed_loops(connection, edges)
            self.store.insert(connection, edges)
        subject = edges[0].owned_id if len(owned) == 1 else ""
        self._audit(actor, "aml.ownership.edges.recorded", "succeeded", subject, {"edges": len(edges)})
        return edges

    def end_edge(self, actor: Actor, edge_id: str, valid_to: date) -> OwnershipEdge:
        """End an edge on ``valid_to`` (exclusive); an end may move earlier, never later."""
        action = "aml.ownership.edge.end"
        self._require(actor, WRITERS, action, "ownership_edge", edge_id)
        with self.store.writing() as connection:
            edge = self.store.get(connection, edge_id)
            if edge is None:
                raise NotFound(f"no ownership edge {edge_id!r}", code="ownership_edge_unknown")
            if valid_to <= edge.valid_from:
                raise InvalidInput("an edge must end after it starts", code="ownership_dates_reversed")
            if edge.valid_to is not None and valid_to > edge.valid_to:
                raise InvalidInput(
                    f"edge {edge_id} already ends on {edge.valid_to}; an end may only move earlier",
                    code="ownership_end_later",
                )
            now_ns = self.clock.now_ns()
            who = f"{actor.kind}:{actor.id}"
            self.store.end(connection, edge_id, valid_to, who, now_ns)
        detail: dict[str, DetailValue] = {"valid_to": valid_to.isoformat(), "owned_id": edge.owned_id}
        self._audit(actor, "aml.ownership.edge.ended", "succeeded", edge_id, detail, "ownership_edge")
        return replace(edge, valid_to=valid_to, ended_by=who, ended_ns=now_ns)

    # Reads ---------------------------------------------------------------

    def ubo(
        self,
        entity_id: str,
        actor: Actor,
        threshold: Decimal | str | None = None,
        *,
        as_of: date | None = None,
        kind: ShareKind = ShareKind.EQUITY,
        exact: bool | None = None,
    ) -> UboReport:
        """The ultimate beneficial owners of ``entity_id`` on ``as_of`` (today by default)."""
        action = "aml.ownership.ubo.read"
        self._require(actor, READERS, action, "enterprise", entity_id)
        check_holder_id("entity_id", entity_id)
        limit = parse_threshold(threshold)
        day = as_of or self._today()
        edges = self._upstream(entity_id, day)
        report = beneficial_owners(
            OwnershipGraph.of(edges, day, ShareKind(kind)), entity_id, limit, exact=exact
        )
        detail: dict[str, DetailValue] = {
            "as_of": day.isoformat(),
            "threshold": str(limit),
            "kind": str(kind),
            "owners": len(report.owners),
        }
        self._audit(actor, "aml.ownership.ubo.read", "allowed", entity_id, detail)
        return report

    def chain(self, entity_id: str, actor: Actor, *, as_of: date | None = None) -> OwnershipChain:
        """Every edge upstream of ``entity_id`` on ``as_of``: what a UBO result is made of."""
        action = "aml.ownership.chain.read"
        self._require(actor, READERS, action, "enterprise", entity_id)
        check_holder_id("entity_id", entity_id)
        day = as_of or self._today()
        edges = self._upstream(entity_id, day)
        self._audit(actor, action, "allowed", entity_id, {"as_of": day.isoformat(), "edges": len(edges)})
        return OwnershipChain(entity_id=entity_id, as_of=day, edges=tuple(edges))

    # Internals -----------------------------------------------------------

    def _upstream(self, entity_id: str, day: date) -> list[OwnershipEdge]:
        with self.store.reading() as connection:
            edges = self.store.upstream(connection, [entity_id], day)
        if not any(e.owned_id == entity_id for e in edges):
            raise NotFound(
                f"no holders of {entity_id!r} are recorded on {day}", code="ownership_entity_unknown"
            )
        return edges

    def _refuse_closed_loops(self, connection: sa.Connection, edges: Sequence[OwnershipEdge]) -> None:
        """Check, on each start date in the batch, the graph upstream of what the batch touches."""
        days = sorted({e.valid_from for e in edges})
        if len(days) > VALIDITY_DATES_PER_BATCH_MAX:
            raise LimitExceeded(
                f"{len(days)} distinct start dates in one batch; at most {VALIDITY_DATES_PER_BATCH_MAX}",
                code="ownership_batch_dates_too_many",
            )
        extra: dict[str, list[OwnershipEdge]] = defaultdict(list)
        for edge in edges:
            extra[edge.owned_id].append(edge)
        roots = sorted(extra)
        for day in days:
            upstream = self.store.upstream(connection, roots, day, extra)
            for kind in ShareKind:
                holdings: dict[str, list[tuple[str, Fraction]]] = defaultdict(list)
                for e in upstream:
                    if e.kind == kind:
                        holdings[e.owned_id].append((e.owner_id, Fraction(e.share)))
                strong_groups(holdings)

    def _require(
        self, actor: Actor, kinds: frozenset[str], action: str, subject_kind: str, subject: str
    ) -> None:
        if actor.kind in kinds:
            return
        self._audit(actor, action, "refused", subject, {}, subject_kind)
        raise Forbidden(
            f"a {actor.kind} may not {action.rsplit('.', 1)[-1]} ownership", code="ownership_role_required"
        )

    def _audit(
        self,
        actor: Actor,
        action: str,
        outcome: str,
        subject_id: str,
        detail: dict[str, DetailValue],
        subject_kind: str = "enterprise",
    ) -> None:
        self.audit.record(
            actor_kind=actor.kind,
            actor_id=actor.id,
            action=action,
            outcome=outcome,
            subject_kind=subject_kind if subject_id else "",
            subject_id=subject_id,
            consent_id=actor.consent_id,
            interaction_id=actor.interaction_id,
            detail=detail,
        )

    def _today(self) -> date:
        return datetime.fromtimestamp(self.clock.now_ns() // NS_PER_SECOND, tz=UTC).date()
