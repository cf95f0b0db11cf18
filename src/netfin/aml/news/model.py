"""Domain types of news early warning: items, entities, mentions, sentiment scores and warnings.

Every type is a frozen dataclass checked when it is built, so a value that
reaches the scorer, the linker or the store is already within its limits.
"""

from __future__ import annotations

import enum
import hashlib
import unicodedata
from dataclasses import dataclass, field

from netfin.aml.news.errors import NewsItemInvalid, NewsLimitExceeded

# Limits, checked at the boundary (ingest, service, CLI).
TITLE_LENGTH_MAX = 1_000
TEXT_LENGTH_MAX = 20_000
SOURCE_LENGTH_MAX = 200
URL_LENGTH_MAX = 2_000
ITEM_ID_LENGTH_MAX = 64
ENTITY_ID_LENGTH_MAX = 64
ENTITY_NAME_LENGTH_MAX = 200
ENTITY_NAMES_MAX = 20
ENTITIES_MAX = 100_000
BATCH_ITEMS_MAX = 10_000
EVIDENCE_WORDS_MAX = 12
WARNING_ITEMS_MAX = 50
# 1970-01-01 to 2262-04-11: a published time must fit a signed 64-bit nanosecond count.
PUBLISHED_NS_MAX = 2**63 - 1

LANGUAGES = frozenset({"en", "zh"})


class EntityKind(enum.StrEnum):
    CUSTOMER = "customer"
    COUNTERPARTY = "counterparty"


class SentimentLabel(enum.StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class WarningStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"


def _check_text(name: str, value: str, length_max: int, *, required: bool) -> None:
    if not isinstance(value, str):
        raise NewsItemInvalid(f"{name} must be text")
    if required and not value.strip():
        raise NewsItemInvalid(f"{name} must not be empty")
    if len(value) > length_max:
        raise NewsLimitExceeded(f"{name} is longer than {length_max} characters")


def content_hash(title: str, text: str) -> str:
    """A stable digest of an item's words, so the same story from two feeds is stored once."""
    folded = unicodedata.normalize("NFKC", f"{title}\n{text}").casefold()
    return hashlib.sha256(" ".join(folded.split()).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewsItem:
    """A headline or a post: where it came from, when, and what it says."""

    item_id: str
    source: str
    published_ns: int
    title: str
    text: str = ""
    language: str = "en"
    url: str = ""

    def __post_init__(self) -> None:
        _check_text("item_id", self.item_id, ITEM_ID_LENGTH_MAX, required=True)
        _check_text("source", self.source, SOURCE_LENGTH_MAX, required=True)
        _check_text("title", self.title, TITLE_LENGTH_MAX, required=False)
        _check_text("text", self.text, TEXT_LENGTH_MAX, required=False)
        _check_text("url", self.url, URL_LENGTH_MAX, required=False)
        if not (self.title.strip() or self.text.strip()):
            raise NewsItemInvalid("an item needs a title or a text")
        if isinstance(self.published_ns, bool) or not isinstance(self.published_ns, int):
            raise NewsItemInvalid("published_ns must be an integer")
        if not 0 <= self.published_ns <= PUBLISHED_NS_MAX:
            raise NewsItemInvalid("published_ns is out of range")
        if self.language not in LANGUAGES:
            raise NewsItemInvalid(f"language must be one of {sorted(LANGUAGES)}")

    @property
    def body(self) -> str:
        """Title and text together, as the scorer and the linker read them."""
        return f"{self.title}\n{self.text}".strip()

    @property
    def content_hash(self) -> str:
        return content_hash(self.title, self.text)


@dataclass(frozen=True, slots=True)
class Entity:
    """A customer or counterparty the bank watches, with every name it is known by."""

    entity_id: str
    kind: EntityKind
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_text("entity_id", self.entity_id, ENTITY_ID_LENGTH_MAX, required=True)
        if not isinstance(self.kind, EntityKind):
            raise NewsItemInvalid("kind must be customer or counterparty")
        if not self.names:
            raise NewsItemInvalid(f"entity {self.entity_id} has no name")
        if len(self.names) > ENTITY_NAMES_MAX:
            raise NewsLimitExceeded(f"entity {self.entity_id} has more than {ENTITY_NAMES_MAX} names")
        for name in self.names:
            _check_text("name", name, ENTITY_NAME_LENGTH_MAX, required=True)


@dataclass(frozen=True, slots=True)
class Mention:
    """An item names an entity: which name matched, and how closely (1.0 is exact)."""

    item_id: str
    entity_id: str
    entity_kind: EntityKind
    matched_name: str
    match_score: float


@dataclass(frozen=True, slots=True)
class SentimentScore:
    """An item's tone in [-1, 1], its label, the scorer that said so and the words that did."""

    value: float
    label: SentimentLabel
    scorer: str
    version: str
    evidence: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not -1.0 <= self.value <= 1.0:
            raise NewsItemInvalid("a sentiment value must lie in [-1, 1]")


@dataclass(frozen=True, slots=True)
class SentimentPoint:
    """One scored mention of an entity at a time: the series a warning is read from."""

    item_id: str
    published_ns: int
    value: float


@dataclass(frozen=True, slots=True)
class EarlyWarning:
    """An entity's recent sentiment fell sharply below its own baseline."""

    warning_id: str
    entity_id: str
    entity_kind: EntityKind
    raised_ns: int
    window_start_ns: int
    window_end_ns: int
    baseline: float
    recent: float
    drop: float
    recent_items: int
    baseline_items: int
    item_ids: tuple[str, ...]
    config_version: str
    status: WarningStatus = WarningStatus.OPEN
    acknowledged_by: str | None = None
    acknowledged_ns: int | None = None
    note: str = field(default="")
