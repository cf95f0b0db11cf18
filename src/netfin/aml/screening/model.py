"""Screening's domain types: list entries, subjects, candidates with evidence, and the configuration.

Everything here is pure and immutable; loaders build ``ListEntry`` values, the
index scores a ``ScreeningSubject`` against them and returns ``Candidate``
values, and the service stores those with a ``ScreeningStatus``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from netfin.core import yamltext
from netfin.core.errors import ConfigurationError, InvalidInput, LimitExceeded

# Limits checked at the boundary: a subject's name, its identifiers, a list's size.
NAME_LENGTH_MAX = 300
NAME_TOKENS_MAX = 16
IDENTIFIERS_MAX = 16
IDENTIFIER_LENGTH_MAX = 64
ENTRY_NAMES_MAX = 400
LIST_ENTRIES_MAX = 250_000
CANDIDATES_MAX = 50
RESCORE_MAX = 1000
BIRTH_YEAR_MIN = 1800
BIRTH_YEAR_MAX = 2200

_COUNTRY_CODE = re.compile(r"[A-Z]{2}")
_ALNUM = re.compile(r"[^0-9A-Za-z]+")


class ScreeningRejected(InvalidInput):
    """A subject or a list that can never be screened as given."""

    code = "screening_input_invalid"


class ListFileInvalid(InvalidInput):
    """A sanctions list file that is malformed, not schema-valid or too large."""

    code = "sanctions_list_invalid"


class EntryKind(enum.StrEnum):
    PERSON = "person"
    ENTITY = "entity"
    VESSEL = "vessel"
    AIRCRAFT = "aircraft"


class ListCategory(enum.StrEnum):
    """Why a list names someone: a sanction (payments to them are held) or a public office (PEP:
    enhanced due diligence at onboarding and review, never a payment hold)."""

    SANCTIONS = "sanctions"
    PEP = "pep"


class AliasQuality(enum.StrEnum):
    """How much a list trusts a name: ``strong`` names identify, ``weak`` ones only hint."""

    PRIMARY = "primary"
    STRONG = "strong"
    WEAK = "weak"
    FORMER = "former"


class Decision(enum.StrEnum):
    """What a score means at the configured thresholds."""

    CLEAR = "clear"
    REVIEW = "review"
    HIT = "hit"


class ScreeningStatus(enum.StrEnum):
    """A stored result's life: ``potential_match`` waits for compliance to confirm or dismiss it."""

    CLEAR = "clear"
    POTENTIAL_MATCH = "potential_match"
    CONFIRMED = "confirmed"
    FALSE_POSITIVE = "false_positive"


class ScreeningReason(enum.StrEnum):
    ONBOARDING = "onboarding"
    COUNTERPARTY = "counterparty"
    RESCREEN = "rescreen"


class SubjectKind(enum.StrEnum):
    PARTY = "party"
    COUNTERPARTY = "counterparty"


@dataclass(frozen=True, slots=True)
class BirthDate:
    """A date of birth as precise as the source gives it: a year, a year and month, or a day."""

    year: int
    month: int | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        if not BIRTH_YEAR_MIN <= self.year <= BIRTH_YEAR_MAX:
            raise ScreeningRejected(f"birth year {self.year} is out of range", code="birth_date_invalid")
        if self.day is not None and self.month is None:
            raise ScreeningRejected("a birth day needs a month", code="birth_date_invalid")
        if self.month is not None:
            try:
                date(self.year, self.month, self.day or 1)
            except ValueError as error:
                raise ScreeningRejected(str(error), code="birth_date_invalid") from error

    @classmethod
    def parse(cls, text: str) -> BirthDate:
        """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``."""
        parts = text.strip().split("-")
        if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts) or len(parts[0]) != 4:
            raise ScreeningRejected(f"not a date of birth: {text[:40]!r}", code="birth_date_invalid")
        numbers = [int(p) for p in parts]
        return cls(numbers[0], *(numbers[1:]))

    def compare(self, other: BirthDate) -> str:
        """``exact``, ``year`` (agree as far as both go, but only to the year), ``near`` or ``mismatch``."""
        if self.year != other.year:
            return "near" if abs(self.year - other.year) <= 1 else "mismatch"
        if self.month is None or other.month is None:
            return "year"
        if self.month != other.month:
            return "mismatch"
        if self.day is None or other.day is None:
            return "year"
        return "exact" if self.day == other.day else "mismatch"

    def __str__(self) -> str:
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"


def identifier_key(number: str) -> str:
    """An identifier's comparable form: letters and digits only, upper case."""
    return _ALNUM.sub("", number).upper()


@dataclass(frozen=True, slots=True)
class Identifier:
    """A document or registration number: passport, national id, IMO, tax or company number."""

    kind: str
    number: str
    country: str | None = None

    @property
    def key(self) -> str:
        return identifier_key(self.number)


@dataclass(frozen=True, slots=True)
class Alias:
    name: str
    quality: AliasQuality = AliasQuality.STRONG


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One listed person, entity, vessel or aircraft with every name it is known by."""

    list_id: str
    entry_id: str
    kind: EntryKind
    name: str
    aliases: tuple[Alias, ...] = ()
    birth_dates: tuple[BirthDate, ...] = ()
    countries: tuple[str, ...] = ()  # ISO 3166 alpha-2 where known
    identifiers: tuple[Identifier, ...] = ()
    programmes: tuple[str, ...] = ()
    listed_on: date | None = None
    original_script: tuple[str, ...] = ()
    category: ListCategory = ListCategory.SANCTIONS

    @property
    def key(self) -> str:
        return f"{self.list_id}:{self.entry_id}"

    def names(self) -> list[tuple[str, AliasQuality]]:
        """The primary name, then each alias; at most ``ENTRY_NAMES_MAX``."""
        named = [(self.name, AliasQuality.PRIMARY), *((a.name, a.quality) for a in self.aliases)]
        return named[:ENTRY_NAMES_MAX]


@dataclass(frozen=True, slots=True)
class ScreeningSubject:
    """Who is being screened: a name and, where known, a date of birth, a country and identifiers."""

    name: str
    birth_date: BirthDate | None = None
    country: str | None = None
    identifiers: tuple[Identifier, ...] = ()
    kind: EntryKind | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ScreeningRejected("the name is empty", code="name_empty")
        if len(self.name) > NAME_LENGTH_MAX:
            raise LimitExceeded(f"a name has at most {NAME_LENGTH_MAX} characters", code="name_too_long")
        if self.country is not None and not _COUNTRY_CODE.fullmatch(self.country):
            raise ScreeningRejected(
                f"country must be an ISO 3166 alpha-2 code, not {self.country[:8]!r}", code="country_invalid"
            )
        if len(self.identifiers) > IDENTIFIERS_MAX:
            raise LimitExceeded(f"at most {IDENTIFIERS_MAX} identifiers", code="identifiers_too_many")
        for identifier in self.identifiers:
            if not identifier.key or len(identifier.number) > IDENTIFIER_LENGTH_MAX:
                raise ScreeningRejected("an identifier is empty or too long", code="identifier_invalid")


@dataclass(frozen=True, slots=True)
class Evidence:
    """One reason behind a score: what was compared, what was found and how it moved the score."""

    code: str
    detail: str
    effect: float

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail, "effect": round(self.effect, 4)}


@dataclass(frozen=True, slots=True)
class Candidate:
    """A list entry that may be the subject, with its score in [0, 1] and the evidence for it."""

    entry: ListEntry
    score: float
    name_score: float
    matched_name: str
    evidence: tuple[Evidence, ...]
    decision: Decision

    def as_dict(self) -> dict[str, Any]:
        e = self.entry
        return {
            "list_id": e.list_id,
            "entry_id": e.entry_id,
            "kind": e.kind.value,
            "category": e.category.value,
            "name": e.name,
            "matched_name": self.matched_name,
            "score": round(self.score, 4),
            "name_score": round(self.name_score, 4),
            "decision": self.decision.value,
            "programmes": list(e.programmes),
            "evidence": [x.as_dict() for x in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each kind of evidence moves a name score (added, then clipped to [0, 1])."""

    birth_date_exact: float = 0.08
    birth_date_year: float = 0.04
    birth_date_near: float = 0.0
    birth_date_mismatch: float = -0.2
    country_match: float = 0.03
    country_mismatch: float = -0.05
    identifier_match: float = 0.3
    kind_mismatch: float = -0.15
    weak_alias: float = -0.08
    phonetic_agreement: float = 0.85  # the token similarity granted to two tokens with one phonetic key
    coverage_share: float = 0.7  # weight of the better-covered name when two or more tokens align


@dataclass(frozen=True, slots=True)
class ScreeningConfig:
    """Thresholds and weights; ``review`` below ``strong``, both in (0, 1]."""

    version: str = "default"
    review_threshold: float = 0.82
    strong_threshold: float = 0.93
    rescore_max: int = 12
    candidates_max: int = 10
    weights: Weights = field(default_factory=Weights)

    def __post_init__(self) -> None:
        if not 0.0 < self.review_threshold <= self.strong_threshold <= 1.0:
            raise ConfigurationError(
                "thresholds must satisfy 0 < review <= strong <= 1", code="screening_config_invalid"
            )
        if not 1 <= self.candidates_max <= CANDIDATES_MAX:
            raise ConfigurationError(
                f"candidates_max must be in 1..{CANDIDATES_MAX}", code="screening_config_invalid"
            )
        if not 1 <= self.rescore_max <= RESCORE_MAX:
            raise ConfigurationError(
                f"rescore_max must be in 1..{RESCORE_MAX}", code="screening_config_invalid"
            )

    def decide(self, score: float) -> Decision:
        if score >= self.strong_threshold:
            return Decision.HIT
        if score >= self.review_threshold:
            return Decision.REVIEW
        return Decision.CLEAR

    def with_thresholds(self, review: float, strong: float | None = None) -> ScreeningConfig:
        return ScreeningConfig(
            version=self.version,
            review_threshold=review,
            strong_threshold=max(review, self.strong_threshold) if strong is None else strong,
            rescore_max=self.rescore_max,
            candidates_max=self.candidates_max,
            weights=self.weights,
        )


DEFAULT_CONFIG_NAME = "default.yaml"


def load_config(path: Path | None = None) -> ScreeningConfig:
    """The screening configuration from a YAML file (default: the packaged ``config/default.yaml``)."""
    if path is None:
        text = (resources.files("netfin.aml.screening") / "config" / DEFAULT_CONFIG_NAME).read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    raw = yamltext.safe_load(text)
    if not isinstance(raw, dict):
        raise ConfigurationError(
            "the screening configuration is not a mapping", code="screening_config_invalid"
        )
    weights_raw = raw.pop("weights", {}) or {}
    version = str(raw.pop("version", "default"))
    try:
        weights = Weights(**{k: float(v) for k, v in weights_raw.items()})
        numbers: dict[str, Any] = {k: (int(v) if k.endswith("_max") else float(v)) for k, v in raw.items()}
        return ScreeningConfig(version=version, weights=weights, **numbers)
    except (TypeError, ValueError) as error:
        raise ConfigurationError(
            f"bad screening configuration: {error}", code="screening_config_invalid"
        ) from error
