"""A party's payment history: the orders it paid or received, searched and paged.

The search is bounded (``HISTORY_PAGE_MAX`` orders a page, a text of at most
``HISTORY_TEXT_MAX`` characters, matched case-insensitively as a literal, never
as a pattern) and pages by ``(created_ns, order_id)`` from newest to oldest, so a
page is stable while new orders arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from netfin.core.errors import InvalidInput
from netfin.payments.orders import store
from netfin.payments.orders.model import Endpoint, OrderStatus, PaymentOrder
from netfin.payments.orders.store import b16

HISTORY_PAGE_MAX = 100
HISTORY_TEXT_MAX = 64
ENDPOINTS_MAX = 200


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """What to look for: ``text`` in the reference, payee name or ids; an amount and time range."""

    text: str = ""
    min_minor: int | None = None
    max_minor: int | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    statuses: tuple[OrderStatus, ...] = ()
    before: tuple[int, str] | None = None
    limit: int = 50

    def check(self) -> None:
        if not 1 <= self.limit <= HISTORY_PAGE_MAX:
            raise InvalidInput(f"limit is 1..{HISTORY_PAGE_MAX}", code="limit_invalid")
        if len(self.text) > HISTORY_TEXT_MAX:
            raise InvalidInput(f"search text is at most {HISTORY_TEXT_MAX} characters", code="text_too_long")
        if self.min_minor is not None and self.max_minor is not None and self.min_minor > self.max_minor:
            raise InvalidInput("the smallest amount is above the largest", code="amount_range_invalid")


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def history_statement(
    party_id: int, endpoints: Sequence[Endpoint], query: HistoryQuery
) -> sa.Select[tuple[object, ...]]:
    """The SELECT for one page of ``query`` over the orders ``party_id`` paid or ``endpoints`` received."""
    query.check()
    if len(endpoints) > ENDPOINTS_MAX:
        raise InvalidInput(f"at most {ENDPOINTS_MAX} endpoints", code="endpoints_too_many")
    t = store.payment_orders
    received = [sa.and_(t.c.payee_kind == e.kind.value, t.c.payee_id == e.id) for e in endpoints]
    where: list[sa.ColumnElement[bool]] = [sa.or_(t.c.payer_party_id == b16(party_id), *received)]
    text = query.text.strip()
    if text:
        pattern = _like(text)
        where.append(
            sa.or_(*(sa.func.lower(column).like(pattern, escape="\\")
                     for column in (t.c.reference, t.c.payee_name, t.c.payee_id, t.c.order_id)))
        )  # fmt: skip
    if query.min_minor is not None:
        where.append(t.c.amount_minor >= query.min_minor)
    if query.max_minor is not None:
        where.append(t.c.amount_minor <= query.max_minor)
    if query.since_ns is not None:
        where.append(t.c.created_ns >= query.since_ns)
    if query.until_ns is not None:
        where.append(t.c.created_ns < query.until_ns)
    if query.statuses:
        where.append(t.c.status.in_([s.value for s in query.statuses]))
    if query.before is not None:
        created_ns, order_id = query.before
        where.append(sa.or_(t.c.created_ns < created_ns,
                            sa.and_(t.c.created_ns == created_ns, t.c.order_id < order_id)))  # fmt: skip
    return sa.select(t).where(*where).order_by(t.c.created_ns.desc(), t.c.order_id.desc()).limit(query.limit)


def search(
    engine: sa.Engine, party_id: int, endpoints: Sequence[Endpoint], query: HistoryQuery
) -> list[PaymentOrder]:
    with engine.connect() as connection:
        rows = connection.execute(history_statement(party_id, endpoints, query)).all()
    return [store.order_from_row(r) for r in rows]
