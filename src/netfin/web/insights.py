"""What the home page draws: spending by category and an account's balance over time.

Both read what is already booked: settled payment orders for spending, the
ledger's own transfers for the balance (walked back from today's posted
balance, so the line ends exactly at the balance the page shows). Each is
bounded: at most ``ORDERS_SCANNED`` orders and ``TRANSFERS_SCANNED``
transfers are read, and the chart says so when the window was cut short.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from netfin.core.clock import NS_PER_SECOND
from netfin.ledger import Ledger, Transfer, TransferFlags
from netfin.payments.orders.model import OrderKind, OrderStatus, PaymentOrder

DAYS = 30
ORDERS_SCANNED = 100
TRANSFERS_SCANNED = 2_000
_PAGE = 500
_CATEGORY_OF_KIND = {
    OrderKind.ACCOUNT_TO_ACCOUNT: "people",
    OrderKind.WALLET_TO_WALLET: "people",
    OrderKind.MERCHANT_QR: "shops",
    OrderKind.CROSS_BORDER: "abroad",
}


def spending_by_category(
    orders: Sequence[PaymentOrder], party_id: int, currency: str, biller_categories: Mapping[str, str]
) -> dict[str, int]:
    """Minor units paid out in ``currency`` per category, largest first (settled orders only)."""
    totals: dict[str, int] = {}
    for order in orders:
        if order.payer_party_id != party_id or order.status is not OrderStatus.SETTLED:
            continue
        if order.currency != currency or order.kind in (OrderKind.REFUND, OrderKind.RETURN):
            continue
        if order.kind is OrderKind.BILL:
            category = biller_categories.get(order.payee.id, "other")
        else:
            category = _CATEGORY_OF_KIND.get(order.kind, "other")
        totals[category] = totals.get(category, 0) + order.amount_minor
    return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))


@dataclass(frozen=True, slots=True)
class BalanceSeries:
    days: tuple[date, ...]
    balances_minor: tuple[int, ...]
    complete: bool  # False when the scan stopped before the window's first day


def _posted_effect(transfer: Transfer, account_id: int) -> int:
    """What the transfer did to the account's posted balance (credits minus debits)."""
    if transfer.flags & (TransferFlags.PENDING | TransferFlags.VOID_PENDING):
        return 0
    if transfer.credit_account_id == account_id:
        return transfer.amount
    if transfer.debit_account_id == account_id:
        return -transfer.amount
    return 0


def balance_series(ledger: Ledger, account_id: int, posted_minor: int, today: date) -> BalanceSeries:
    """End-of-day posted balances for the last ``DAYS`` days up to ``today`` (UTC)."""
    days = tuple(today - timedelta(days=offset) for offset in range(DAYS - 1, -1, -1))
    day_end_ns = [
        int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() + 86_400) * NS_PER_SECOND for d in days
    ]
    balances = [0] * DAYS
    balance, index, scanned, cursor = posted_minor, DAYS - 1, 0, None
    complete = False
    while scanned < TRANSFERS_SCANNED:
        page = ledger.account_transfers(account_id, cursor=cursor, limit=_PAGE, reverse=True)
        for transfer in page.transfers:
            while index >= 0 and transfer.timestamp < day_end_ns[index]:
                balances[index] = balance
                index -= 1
            if index < 0:
                break
            balance -= _posted_effect(transfer, account_id)
            scanned += 1
        if index < 0 or page.next_cursor is None:
            complete = True
            break
        cursor = page.next_cursor
    while index >= 0:
        balances[index] = balance
        index -= 1
    return BalanceSeries(days, tuple(balances), complete)
