"""Holders, ownership edges and the rules every edge obeys (pure; no I/O).

A holder is a person or an enterprise. An edge says that ``owner_id`` holds
``share`` (an exact fraction in (0, 1]) of ``owned_id``'s equity or votes
from ``valid_from`` (inclusive) to ``valid_to`` (exclusive, open when None).
Only enterprises are owned. At every date, the shares of one kind that an
enterprise's holders hold in it add up to at most 1; the rest is held by
holders nobody recorded.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from netfin.core.errors import InvalidInput, LimitExceeded

HOLDER_ID_LENGTH_MAX = 64
SOURCE_LENGTH_MAX = 200
SHARE_PLACES_MAX = 10  # a share is stored exactly, with at most this many decimal places
DEFAULT_THRESHOLD = Decimal("0.25")
EFFECTIVE_SHARE_PLACES = 8  # effective shares are reported rounded half-even to this many places
EDGES_PER_BATCH_MAX = 200_000
_HOLDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}")
_ONE = Decimal(1)
_HALF = Decimal("0.5")
_QUANTUM = Decimal(1).scaleb(-SHARE_PLACES_MAX)


class HolderKind(enum.StrEnum):
    PERSON = "person"
    ENTERPRISE = "enterprise"


class ShareKind(enum.StrEnum):
    """What an edge's share counts: a part of the equity, or of the votes."""

    EQUITY = "equity"
    VOTING = "voting"


class OwnershipRejected(InvalidInput):
    """An edge that breaks an ownership rule (the code names the rule)."""

    code = "ownership_rejected"


class ClosedOwnershipLoop(InvalidInput):
    """Enterprises that hold each other entirely, with no holder outside the loop.

    Effective ownership through such a loop never converges (the series
    A + A^2 + ... diverges), and no real enterprise is owned that way, so the
    edges are refused.
    """

    code = "ownership_closed_loop"


def check_holder_id(name: str, value: object) -> str:
    if not isinstance(value, str) or not _HOLDER_ID.fullmatch(value):
        raise InvalidInput(
            f"{name} must be 1 to {HOLDER_ID_LENGTH_MAX} letters, digits or . _ : - (got {value!r:.80})",
            code="ownership_holder_id_malformed",
        )
    return value


def parse_share(value: object, *, name: str = "share") -> Decimal:
    """An exact fraction in (0, 1] with at most ``SHARE_PLACES_MAX`` decimal places.

    Floats are refused: 0.1 as a float is not one tenth, and a share is
    stored and compared exactly.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidInput(f"{name} must be a Decimal or a string, not a float", code="ownership_share_float")
    if isinstance(value, str):
        if len(value) > 32:
            raise InvalidInput(f"{name} is too long", code="ownership_share_malformed")
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidInput(
                f"{name} {value!r} is not a number", code="ownership_share_malformed"
            ) from None
    if isinstance(value, int):
        value = Decimal(value)
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidInput(f"{name} must be a finite decimal", code="ownership_share_malformed")
    if not (0 < value <= _ONE):
        raise InvalidInput(f"{name} must be in (0, 1], got {value}", code="ownership_share_out_of_range")
    if value != value.quantize(_QUANTUM):
        raise InvalidInput(
            f"{name} has more than {SHARE_PLACES_MAX} decimal places", code="ownership_share_too_precise"
        )
    return value.normalize()


def parse_threshold(value: object | None) -> Decimal:
    if value is None:
        return DEFAULT_THRESHOLD
    return parse_share(value, name="threshold")


@dataclass(frozen=True, slots=True)
class EdgeDraft:
    """An edge as a caller proposes it, before it has an id."""

    owner_id: str
    owner_kind: HolderKind
    owned_id: str
    share: Decimal
    valid_from: date
    valid_to: date | None = None
    kind: ShareKind = ShareKind.EQUITY
    source: str = ""

    def __post_init__(self) -> None:
        check_holder_id("owner_id", self.owner_id)
        check_holder_id("owned_id", self.owned_id)
        object.__setattr__(self, "owner_kind", HolderKind(self.owner_kind))
        object.__setattr__(self, "kind", ShareKind(self.kind))
        object.__setattr__(self, "share", parse_share(self.share))
        if self.owner_id == self.owned_id:
            raise OwnershipRejected(f"{self.owner_id} cannot own itself", code="ownership_self_edge")
        if not isinstance(self.valid_from, date):
            raise InvalidInput("valid_from must be a date", code="ownership_date_malformed")
        if self.valid_to is not None and not self.valid_to > self.valid_from:
            raise InvalidInput("valid_to must be after valid_from", code="ownership_dates_reversed")
        if not isinstance(self.source, str) or len(self.source) > SOURCE_LENGTH_MAX:
            raise InvalidInput(
                f"source must be text of at most {SOURCE_LENGTH_MAX} characters",
                code="ownership_source_too_long",
            )


@dataclass(frozen=True, slots=True)
class OwnershipEdge:
    """A recorded edge: the draft plus who recorded it, when, and who ended it."""

    edge_id: str
    owner_id: str
    owner_kind: HolderKind
    owned_id: str
    share: Decimal
    kind: ShareKind
    valid_from: date
    valid_to: date | None
    source: str
    recorded_by: str
    recorded_ns: int
    ended_by: str | None = None
    ended_ns: int | None = None

    def active_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)

    @classmethod
    def of(cls, draft: EdgeDraft, *, edge_id: str, recorded_by: str, recorded_ns: int) -> OwnershipEdge:
        return cls(
            edge_id=edge_id,
            owner_id=draft.owner_id,
            owner_kind=draft.owner_kind,
            owned_id=draft.owned_id,
            share=draft.share,
            kind=draft.kind,
            valid_from=draft.valid_from,
            valid_to=draft.valid_to,
            source=draft.source,
            recorded_by=recorded_by,
            recorded_ns=recorded_ns,
        )


def check_batch_size(count: int) -> None:
    if count > EDGES_PER_BATCH_MAX:
        raise LimitExceeded(
            f"{count} edges in one batch; at most {EDGES_PER_BATCH_MAX}", code="ownership_batch_too_large"
        )


def check_share_sums(edges: Iterable[OwnershipEdge | EdgeDraft]) -> None:
    """Refuse when, on any date, one kind of share held in one enterprise adds up to more than 1.

    The total of overlapping intervals is a step function that only rises
    where an interval starts, so checking each start date is enough.
    """
    by_owned: dict[tuple[str, ShareKind], list[OwnershipEdge | EdgeDraft]] = {}
    for edge in edges:
        by_owned.setdefault((edge.owned_id, edge.kind), []).append(edge)
    for (owned_id, kind), group in by_owned.items():
        starts = sorted({edge.valid_from for edge in group})
        for day in starts:
            total = sum((e.share for e in group if _active(e, day)), Decimal(0))
            if total > _ONE:
                raise OwnershipRejected(
                    f"{kind} shares held in {owned_id} would add up to {total} on {day} (more than 1)",
                    code="ownership_shares_exceed_one",
                )


def check_holder_kinds(edges: Iterable[OwnershipEdge | EdgeDraft]) -> None:
    """A holder is one kind everywhere, and a person is never owned."""
    kinds: dict[str, HolderKind] = {}
    owned: set[str] = set()
    for edge in edges:
        known = kinds.setdefault(edge.owner_id, edge.owner_kind)
        if known != edge.owner_kind:
            raise OwnershipRejected(
                f"{edge.owner_id} is recorded both as a {known} and as a {edge.owner_kind}",
                code="ownership_holder_kind_conflict",
            )
        owned.add(edge.owned_id)
    persons_owned = sorted(h for h in owned if kinds.get(h) == HolderKind.PERSON)
    if persons_owned:
        raise OwnershipRejected(
            f"a person cannot be owned: {', '.join(persons_owned[:5])}", code="ownership_person_owned"
        )


def _active(edge: OwnershipEdge | EdgeDraft, day: date) -> bool:
    return edge.valid_from <= day and (edge.valid_to is None or day < edge.valid_to)


@dataclass(frozen=True, slots=True)
class OwnershipPath:
    """One chain of holdings from a person down to the entity, with the product of its shares."""

    holders: tuple[str, ...]  # the person first, the entity last
    product: Decimal


@dataclass(frozen=True, slots=True)
class BeneficialOwner:
    """A person who owns or controls the entity.

    ``effective_share`` is the sum over every path (loops included) of the
    product of its shares, rounded half-even to ``EFFECTIVE_SHARE_PLACES``;
    ``paths`` lists the strongest simple paths (no holder twice) that
    contribute; ``majority_control`` says the person holds more than half at
    every link of some chain down to the entity.
    """

    person_id: str
    effective_share: Decimal
    above_threshold: bool
    majority_control: bool
    paths: tuple[OwnershipPath, ...]


@dataclass(frozen=True, slots=True)
class UboReport:
    """Who ultimately owns or controls one enterprise on one date."""

    entity_id: str
    as_of: date
    kind: ShareKind
    threshold: Decimal
    method: str  # "exact" (rational arithmetic) or "numeric" (float64, see effective.TOLERANCE)
    owners: tuple[BeneficialOwner, ...]
    persons_total: int  # persons with any effective share, above the threshold or not
    persons_share: Decimal  # the effective shares of every person together
    unresolved_share: Decimal  # 1 - persons_share: held through enterprises whose owners nobody recorded
    control_chain: tuple[str, ...]  # the majority chain from its controlling person, empty when none
    paths_truncated: bool


@dataclass(frozen=True, slots=True)
class OwnershipChain:
    """Every edge upstream of an entity on one date, for explaining a result."""

    entity_id: str
    as_of: date
    edges: tuple[OwnershipEdge, ...]


def majority_chain(
    entity_id: str, holders_of: Mapping[str, Sequence[tuple[str, HolderKind, Decimal]]]
) -> tuple[str, ...]:
    """The chain of holders with more than half at every link, from a person down to ``entity_id``.

    Shares in one enterprise add up to at most 1, so each enterprise has at
    most one majority holder and the chain, when there is one, is unique.
    Empty when the chain ends at an enterprise with no majority holder, or
    turns back on itself.
    """
    chain = [entity_id]
    seen = {entity_id}
    current = entity_id
    while True:
        majority = [(h, k) for h, k, s in holders_of.get(current, ()) if s > _HALF]
        if not majority:
            return ()
        holder, kind = majority[0]
        if holder in seen:
            return ()
        chain.append(holder)
        if kind == HolderKind.PERSON:
            return tuple(reversed(chain))
        seen.add(holder)
        current = holder
