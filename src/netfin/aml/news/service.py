"""News early warning's use cases: watch entities, ingest news, read and acknowledge warnings.

``NewsService.ingest(items, actor)``:

1. scores every item (the default scorer picks English or Chinese by script);
2. stores the items not seen before (by id and by content);
3. links each new item to the watched customers and counterparties;
4. for every entity named, replays its sentiment series at each new item's
   time and raises a warning where the early-warning rule says so (one open
   warning per entity per recent window);
5. records the ingest and every warning in the audit log.

Staff roles read warnings; risk analysts and compliance acknowledge them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from netfin.aml.news.early_warning import WarningConfig, evaluate, load_config
from netfin.aml.news.errors import NewsLimitExceeded, WarningNotFound
from netfin.aml.news.linking import THRESHOLD_DEFAULT, Linker, default_fold
from netfin.aml.news.model import (
    BATCH_ITEMS_MAX,
    ENTITIES_MAX,
    EarlyWarning,
    Entity,
    EntityKind,
    Mention,
    NewsItem,
    SentimentScore,
    WarningStatus,
)
from netfin.aml.news.sentiment import Scorer, default_scorer
from netfin.aml.news.store import NewsStore
from netfin.audit import AuditLog
from netfin.audit.model import DetailValue
from netfin.core.clock import Clock
from netfin.core.errors import Conflict, Forbidden, InvalidInput
from netfin.core.ids import IdSource, format_id
from netfin.identity.model import Actor, Role

READERS = frozenset({Role.RISK_ANALYST, Role.COMPLIANCE, Role.REGULATOR, Role.AUDITOR, "system"})
ACKNOWLEDGERS = frozenset({Role.RISK_ANALYST, Role.COMPLIANCE})
INGESTERS = frozenset({Role.RISK_ANALYST, Role.COMPLIANCE, Role.OPERATOR, "system"})
WARNINGS_PAGE_MAX = 1_000
SERIES_POINTS_MAX = 100_000
NOTE_LENGTH_MAX = 500


@dataclass(frozen=True, slots=True)
class IngestReport:
    received: int
    stored: int
    duplicates: int
    mentions: int
    negative_items: int
    warnings: tuple[EarlyWarning, ...] = field(default=())


class NewsService:
    def __init__(
        self,
        store: NewsStore,
        *,
        clock: Clock,
        ids: IdSource,
        audit: AuditLog | None = None,
        scorer: Scorer | None = None,
        config: WarningConfig | None = None,
        fold: Callable[[str], str] = default_fold,
        threshold: float = THRESHOLD_DEFAULT,
    ) -> None:
        self.store = store
        self.clock = clock
        self.ids = ids
        self.audit = audit
        self.scorer: Scorer = scorer or default_scorer()
        self.config = config or load_config()
        self.fold = fold
        self.threshold = threshold

    # --- use cases ----------------------------------------------------------

    def score(self, text: str) -> SentimentScore:
        return self.scorer.score(text)

    def watch(self, entities: Sequence[Entity], actor: Actor) -> int:
        """Replace the watch list (customers and counterparties whose news is followed)."""
        _require(actor, INGESTERS, "change the news watch list")
        if len(entities) > ENTITIES_MAX:
            raise NewsLimitExceeded(f"more than {ENTITIES_MAX} entities to watch")
        if len({e.entity_id for e in entities}) != len(entities):
            raise InvalidInput("an entity appears twice in the watch list", code="news_entity_duplicate")
        self.store.put_watchlist(entities, self.clock.now_ns())
        self._audit(actor, "news.watchlist_replaced", "news_watchlist", "", {"entities": len(entities)})
        return len(entities)

    def ingest(
        self, items: Sequence[NewsItem], actor: Actor, entities: Sequence[Entity] | None = None
    ) -> IngestReport:
        """Score, store, link and assess a batch of items; raise the warnings it causes."""
        _require(actor, INGESTERS, "ingest news")
        if len(items) > BATCH_ITEMS_MAX:
            raise NewsLimitExceeded(f"more than {BATCH_ITEMS_MAX} items in one batch")
        watched = list(entities) if entities is not None else self.store.watchlist(ENTITIES_MAX)
        scored = [(item, self.scorer.score(item.body)) for item in items]
        stored = self.store.put_items(scored, self.clock.now_ns())
        fresh = []
        for item, score in scored:
            if item.item_id in stored:
                stored.discard(item.item_id)  # an id repeated within the batch counts once
                fresh.append((item, score))
        linker = Linker(watched, fold=self.fold, threshold=self.threshold)
        mentions = [(m, item.published_ns, score.value) for item, score in fresh for m in linker.link(item)]
        self.store.put_mentions(mentions)
        warnings = self._assess(mentions)
        counts = {"received": len(items), "stored": len(fresh), "mentions": len(mentions)}
        self._audit(actor, "news.items_ingested", "news_batch", "", {**counts, "warnings": len(warnings)})
        for w in warnings:
            detail: dict[str, DetailValue] = {
                "entity_id": w.entity_id,
                "drop": str(w.drop),
                "recent_items": w.recent_items,
            }
            self._audit(actor, "news.warning_raised", "news_warning", w.warning_id, detail)
        return IngestReport(
            received=len(items),
            stored=len(fresh),
            duplicates=len(items) - len(fresh),
            mentions=len(mentions),
            negative_items=sum(1 for _, s in fresh if s.value < 0),
            warnings=tuple(warnings),
        )

    def warnings(
        self, actor: Actor, *, status: WarningStatus | None = WarningStatus.OPEN, limit: int = 100
    ) -> list[EarlyWarning]:
        """Warnings, newest first (open ones by default); staff roles only."""
        _require(actor, READERS, "read news warnings")
        if not 1 <= limit <= WARNINGS_PAGE_MAX:
            raise InvalidInput(f"limit must lie in [1, {WARNINGS_PAGE_MAX}]", code="news_page_size_invalid")
        found = self.store.warnings(status, limit)
        self._audit(actor, "news.warnings_read", "news_warning", "", {"count": len(found)})
        return found

    def acknowledge(self, warning_id: str, actor: Actor, note: str = "") -> EarlyWarning:
        """An analyst has looked at the warning; it stops blocking a new one for its entity."""
        _require(actor, ACKNOWLEDGERS, "acknowledge news warnings")
        if len(note) > NOTE_LENGTH_MAX:
            raise NewsLimitExceeded(f"a note is at most {NOTE_LENGTH_MAX} characters")
        if self.store.warning(warning_id) is None:
            raise WarningNotFound(f"no news warning {warning_id}")
        if not self.store.acknowledge(warning_id, actor.id, self.clock.now_ns(), note):
            raise Conflict(f"news warning {warning_id} is already acknowledged", code="news_warning_not_open")
        self._audit(actor, "news.warning_acknowledged", "news_warning", warning_id, {"note": note[:200]})
        acknowledged = self.store.warning(warning_id)
        if acknowledged is None:  # deleted between two statements: rows are never deleted
            raise WarningNotFound(f"no news warning {warning_id}")
        return acknowledged

    # --- internals ------------------------------------------------------------

    def _assess(self, mentions: Sequence[tuple[Mention, int, float]]) -> list[EarlyWarning]:
        """Replay each named entity's series at every new item's time, oldest first."""
        now_ns = self.clock.now_ns()
        times: dict[str, set[int]] = defaultdict(set)
        kinds: dict[str, EntityKind] = {}
        for mention, published_ns, _ in mentions:
            if mention.match_score >= self.config.match_score_min:
                times[mention.entity_id].add(min(published_ns, now_ns))
                kinds[mention.entity_id] = mention.entity_kind
        raised: list[EarlyWarning] = []
        span_ns = self.config.recent_ns + self.config.baseline_ns
        for entity_id in sorted(times):
            moments = sorted(times[entity_id])
            points = self.store.series(
                entity_id, moments[0] - span_ns, moments[-1], self.config.match_score_min, SERIES_POINTS_MAX
            )
            open_raised_ns = self.store.latest_open_raised_ns(entity_id)
            for as_of_ns in moments:
                warning = evaluate(
                    warning_id=format_id(self.ids.new_id()), entity_id=entity_id,
                    entity_kind=kinds[entity_id], points=points, as_of_ns=as_of_ns, config=self.config,
                    open_raised_ns=open_raised_ns,
                )  # fmt: skip
                if warning is not None:
                    self.store.put_warning(warning)
                    raised.append(warning)
                    open_raised_ns = warning.raised_ns
        return raised

    def _audit(
        self, actor: Actor, action: str, subject_kind: str, subject_id: str, detail: Mapping[str, DetailValue]
    ) -> None:
        if self.audit is not None:
            self.audit.record(
                actor_kind=actor.kind, actor_id=actor.id, action=action, outcome="succeeded",
                subject_kind=subject_kind, subject_id=subject_id, detail=dict(detail),
            )  # fmt: skip


def _require(actor: Actor, kinds: frozenset[str], what: str) -> None:
    if actor.kind not in kinds:
        raise Forbidden(f"a {actor.kind} may not {what}", code="news_role_required")
