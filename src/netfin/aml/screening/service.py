"""Screening's use cases: screen at onboarding and per counterparty, rescreen on a list update, resolve.

``Screener`` is the in-memory half: the current index, swapped atomically
when new list versions arrive, and ``screen_counterparty`` for a payment's
synchronous path (no database, a bounded cache of recent names).
``ScreeningService`` is the stored half: every screening becomes a result
row and an audit entry; potential matches wait for compliance, who alone
may confirm or dismiss them; staff may read them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from netfin.aml.screening.index import ScreeningIndex
from netfin.aml.screening.lists import LoadedList
from netfin.aml.screening.model import (
    Candidate,
    Decision,
    ListCategory,
    ScreeningConfig,
    ScreeningReason,
    ScreeningRejected,
    ScreeningStatus,
    ScreeningSubject,
    SubjectKind,
)
from netfin.aml.screening.normalise import fold
from netfin.aml.screening.store import ScreeningResult, ScreeningStore
from netfin.audit import AuditLog
from netfin.core.clock import Clock
from netfin.core.errors import Conflict, Forbidden, InvalidInput, LimitExceeded, NotFound
from netfin.core.ids import IdSource
from netfin.identity.model import STAFF_ROLES, Actor, Role

SCREENERS = frozenset({"system", Role.OPERATOR.value, Role.COMPLIANCE.value, Role.RISK_ANALYST.value})
READERS = frozenset(role.value for role in STAFF_ROLES)
RESOLVERS = frozenset({Role.COMPLIANCE.value})
STORED_CANDIDATES_MAX = 10
RESCREEN_BATCH = 500
RESCREEN_SUBJECTS_MAX = 10_000_000
PAGE_MAX = 500
NOTE_LENGTH_MAX = 500
SUBJECT_ID_LENGTH_MAX = 128
COUNTERPARTY_CACHE_MAX = 50_000
COUNTERPARTY_CANDIDATES_MAX = 10  # sanctions and PEP candidates together; three of each kind count


def _require(actor: Actor, kinds: frozenset[str], what: str) -> None:
    if actor.kind not in kinds:
        raise Forbidden(f"a {actor.kind} may not {what}", code="screening_role_required")


@dataclass(frozen=True, slots=True)
class CounterpartyDecision:
    """The payment path's answer: hold the payment unless ``decision`` is clear.

    Only sanctions entries decide; a counterparty who matches a PEP list is
    not held (a public office is not a prohibition): ``peps`` names the PEP
    entries above the review threshold. The payment path neither holds nor
    stores them; a party's PEP status is reviewed where it is screened as a
    party (onboarding and every list update).
    """

    decision: Decision
    top_score: float
    entries: tuple[str, ...]
    list_versions: dict[str, str]
    peps: tuple[str, ...] = ()

    @property
    def hold(self) -> bool:
        return self.decision != Decision.CLEAR


class Screener:
    """The current index, swapped atomically on a list update; safe to share between threads."""

    def __init__(self, index: ScreeningIndex) -> None:
        self._index = index
        self._lock = threading.Lock()
        self._recent: OrderedDict[tuple[str, str | None], CounterpartyDecision] = OrderedDict()

    @classmethod
    def build(cls, lists: Sequence[LoadedList], config: ScreeningConfig) -> Screener:
        return cls(ScreeningIndex(lists, config))

    @property
    def index(self) -> ScreeningIndex:
        return self._index

    @property
    def versions(self) -> dict[str, str]:
        return dict(self._index.versions)

    def replace(self, index: ScreeningIndex) -> bool:
        """Swap in a new index; True when its list versions differ from the current ones."""
        with self._lock:
            changed = index.versions != self._index.versions
            self._index = index
            self._recent.clear()
        return changed

    def screen(self, subject: ScreeningSubject, limit: int | None = None) -> list[Candidate]:
        return self._index.screen(subject, limit)

    def screen_counterparty(self, name: str, country: str | None = None) -> CounterpartyDecision:
        """A cross-border counterparty's name and country against the lists, in memory (about 1 ms)."""
        subject = ScreeningSubject(name, country=country)
        key = (fold(name), country)
        with self._lock:
            index = self._index
            cached = self._recent.get(key)
            if cached is not None:
                self._recent.move_to_end(key)
                return cached
        candidates = index.screen(subject, limit=COUNTERPARTY_CANDIDATES_MAX)
        sanctioned = [c for c in candidates if c.entry.category is ListCategory.SANCTIONS][:3]
        found = CounterpartyDecision(
            index.decide(sanctioned),
            sanctioned[0].score if sanctioned else 0.0,
            tuple(c.entry.key for c in sanctioned if c.decision != Decision.CLEAR),
            dict(index.versions),
            tuple(
                c.entry.key
                for c in candidates
                if c.entry.category is ListCategory.PEP and c.decision != Decision.CLEAR
            ),
        )
        with self._lock:
            if index is self._index:
                self._recent[key] = found
                if len(self._recent) > COUNTERPARTY_CACHE_MAX:
                    self._recent.popitem(last=False)
        return found


@dataclass(frozen=True, slots=True)
class SubjectRecord:
    """Someone to screen again: who they are in the bank, and what they are known by."""

    subject_kind: SubjectKind
    subject_id: str
    subject: ScreeningSubject


@dataclass(frozen=True, slots=True)
class RescreenSummary:
    screened: int
    potential_matches: int
    list_versions: dict[str, str]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "screened": self.screened,
            "potential_matches": self.potential_matches,
            "list_versions": self.list_versions,
            "seconds": round(self.seconds, 3),
        }


class ScreeningService:
    def __init__(
        self,
        *,
        store: ScreeningStore,
        screener: Screener,
        clock: Clock,
        ids: IdSource,
        audit: AuditLog | None = None,
    ) -> None:
        self.store = store
        self.screener = screener
        self.clock = clock
        self.ids = ids
        self.audit = audit

    # --- lists ---------------------------------------------------------------------------------

    def load_lists(self, lists: Sequence[LoadedList], actor: Actor) -> list[str]:
        """Record each list version and swap in an index over ``lists``; the ids of new versions."""
        _require(actor, SCREENERS, "load sanctions lists")
        index = ScreeningIndex(lists, self.screener.index.config)
        now_ns = self.clock.now_ns()
        changed = [
            loaded.list_id
            for loaded in lists
            if self.store.record_list_version(
                loaded.list_id,
                loaded.version,
                loaded.source,
                len(loaded.entries),
                sum(1 + len(e.aliases) for e in loaded.entries),
                now_ns,
            )
        ]
        self.screener.replace(index)
        if self.audit is not None:
            self.audit.record(
                actor_kind=actor.kind,
                actor_id=actor.id,
                action="aml.screening.lists_loaded",
                outcome="succeeded",
                detail={"lists": ",".join(sorted(index.versions)), "new_versions": ",".join(changed)},
            )
        return changed

    def update_lists(
        self,
        lists: Sequence[LoadedList],
        subjects: Iterable[SubjectRecord],
        actor: Actor,
        progress: Callable[[int], None] | None = None,
    ) -> RescreenSummary | None:
        """Load new list versions and, when any list changed, screen every subject again."""
        before = self.screener.versions
        self.load_lists(lists, actor)
        if self.screener.versions == before:
            return None
        return self.rescreen_all(subjects, actor, progress)

    # --- screening -----------------------------------------------------------------------------

    def _result(
        self, record: SubjectRecord, reason: ScreeningReason, candidates: list[Candidate], now_ns: int
    ) -> ScreeningResult:
        if not record.subject_id or len(record.subject_id) > SUBJECT_ID_LENGTH_MAX:
            raise ScreeningRejected("subject_id must be 1..128 characters", code="subject_id_invalid")
        top = candidates[0] if candidates else None
        flagged = top is not None and top.decision != Decision.CLEAR
        return ScreeningResult(
            result_id=f"sr-{self.ids.new_id():032x}",
            subject_kind=record.subject_kind,
            subject_id=record.subject_id,
            reason=reason,
            name=record.subject.name,
            list_versions=self.screener.versions,
            config_version=self.screener.index.config.version,
            top_score=round(top.score, 4) if top is not None else 0.0,
            candidates=[c.as_dict() for c in candidates[:STORED_CANDIDATES_MAX]],
            status=ScreeningStatus.POTENTIAL_MATCH if flagged else ScreeningStatus.CLEAR,
            screened_ns=now_ns,
        )

    def _audit_entry(self, actor: Actor, result: ScreeningResult) -> dict[str, Any]:
        return {
            "actor_kind": actor.kind,
            "actor_id": actor.id,
            "action": "aml.screening.screened",
            "outcome": "succeeded",
            "subject_kind": result.subject_kind.value,
            "subject_id": result.subject_id,
            "detail": {
                "result_id": result.result_id,
                "reason": result.reason.value,
                "status": result.status.value,
                "top_score_bp": round(result.top_score * 10_000),
                "candidates": len(result.candidates),
            },
        }

    def screen(
        self,
        subject: ScreeningSubject,
        *,
        subject_kind: SubjectKind,
        subject_id: str,
        reason: ScreeningReason,
        actor: Actor,
    ) -> ScreeningResult:
        """Screen one subject, store the result (potential match or clear) and audit it."""
        _require(actor, SCREENERS, "screen names")
        candidates = self.screener.screen(subject)
        result = self._result(
            SubjectRecord(subject_kind, subject_id, subject), reason, candidates, self.clock.now_ns()
        )
        self.store.insert_results([result])
        if self.audit is not None:
            self.audit.record(**self._audit_entry(actor, result))
        return result

    def rescreen_all(
        self, subjects: Iterable[SubjectRecord], actor: Actor, progress: Callable[[int], None] | None = None
    ) -> RescreenSummary:
        """Screen everyone again (after a list update), in batches; ``progress`` gets the count so far."""
        _require(actor, SCREENERS, "rescreen subjects")
        started = time.perf_counter()
        screened = flagged = 0
        batch: list[ScreeningResult] = []
        for record in subjects:
            if screened >= RESCREEN_SUBJECTS_MAX:
                raise LimitExceeded(
                    f"at most {RESCREEN_SUBJECTS_MAX} subjects per rescreen", code="rescreen_too_large"
                )
            candidates = self.screener.screen(record.subject)
            batch.append(self._result(record, ScreeningReason.RESCREEN, candidates, self.clock.now_ns()))
            screened += 1
            flagged += batch[-1].status == ScreeningStatus.POTENTIAL_MATCH
            if len(batch) >= RESCREEN_BATCH:
                self._flush(batch, actor)
                if progress is not None:
                    progress(screened)
        self._flush(batch, actor)
        if progress is not None:
            progress(screened)
        return RescreenSummary(screened, flagged, self.screener.versions, time.perf_counter() - started)

    def _flush(self, batch: list[ScreeningResult], actor: Actor) -> None:
        self.store.insert_results(batch)
        if self.audit is not None and batch:
            self.audit.record_many([self._audit_entry(actor, r) for r in batch])
        batch.clear()

    def screen_counterparty(self, name: str, country: str | None = None) -> CounterpartyDecision:
        return self.screener.screen_counterparty(name, country)

    # --- compliance ----------------------------------------------------------------------------

    def resolve(
        self, result_id: str, status: ScreeningStatus, actor: Actor, note: str | None = None
    ) -> ScreeningResult:
        """Confirm a potential match or dismiss it as a false positive (compliance only)."""
        _require(actor, RESOLVERS, "resolve screening results")
        if status not in {ScreeningStatus.CONFIRMED, ScreeningStatus.FALSE_POSITIVE}:
            raise InvalidInput(
                "a result is resolved as confirmed or false_positive", code="screening_status_invalid"
            )
        if note is not None and len(note) > NOTE_LENGTH_MAX:
            raise LimitExceeded(f"a note has at most {NOTE_LENGTH_MAX} characters", code="note_too_long")
        current = self.store.get(result_id)
        if current is None:
            raise NotFound(f"no screening result {result_id}", code="screening_result_not_found")
        if not self.store.decide(
            result_id, ScreeningStatus.POTENTIAL_MATCH, status, actor.id, note, self.clock.now_ns()
        ):
            raise Conflict(
                f"the result is {current.status.value}, not potential_match",
                code="screening_already_resolved",
            )
        if self.audit is not None:
            self.audit.record(
                actor_kind=actor.kind,
                actor_id=actor.id,
                action="aml.screening.resolved",
                outcome="succeeded",
                subject_kind=current.subject_kind.value,
                subject_id=current.subject_id,
                detail={"result_id": result_id, "status": status.value},
            )
        resolved = self.store.get(result_id)
        if resolved is None:
            raise NotFound(f"no screening result {result_id}", code="screening_result_not_found")
        return resolved

    def get(self, result_id: str, actor: Actor) -> ScreeningResult:
        _require(actor, READERS, "read screening results")
        found = self.store.get(result_id)
        if found is None:
            raise NotFound(f"no screening result {result_id}", code="screening_result_not_found")
        return found

    def potential_matches(self, actor: Actor, limit: int = 100) -> list[ScreeningResult]:
        """The oldest results waiting for compliance."""
        _require(actor, READERS, "read screening results")
        if not 1 <= limit <= PAGE_MAX:
            raise LimitExceeded(f"limit must be 1..{PAGE_MAX}", code="page_too_large")
        return self.store.by_status(ScreeningStatus.POTENTIAL_MATCH, limit)
