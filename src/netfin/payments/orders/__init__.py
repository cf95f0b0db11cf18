"""Payment orders: one state machine for every kind of payment, settled through the ledger.

Purpose: accept account, wallet, merchant-QR, bill, refund and return
payments; screen them (risk decision, strong customer authentication with a
passkey assertion bound to amount and payee); settle each as one linked
ledger chain that also enforces the wallets' limits; announce outcomes on
the payments outbox.

Invariants:
- money moves at most once per order (the chain's ids are fixed when the
  order is written; a repeat is ``exists`` in the ledger);
- every transition is a compare-and-set on the stored status and is
  recorded in ``payment_order_events`` and the audit log;
- refunds of an order never sum past its amount.

Public names: ``PaymentOrders``, ``PaymentOrder``, ``OrderRequest``, ``OrderKind``,
``OrderStatus``, ``Endpoint``, ``EndpointKind``, ``RiskDecision``, ``RiskAction``,
``RiskHook``, ``ScaPolicy``, ``Biller``.
"""

from netfin.payments.orders.model import (
    Endpoint,
    EndpointKind,
    OrderEvent,
    OrderKind,
    OrderRequest,
    OrderStatus,
    PaymentOrder,
    RiskAction,
    RiskDecision,
    ScaPolicy,
    sca_binding,
)
from netfin.payments.orders.service import AllowAll, Biller, PaymentOrders, RiskHook

__all__ = [
    "AllowAll",
    "Biller",
    "Endpoint",
    "EndpointKind",
    "OrderEvent",
    "OrderKind",
    "OrderRequest",
    "OrderStatus",
    "PaymentOrder",
    "PaymentOrders",
    "RiskAction",
    "RiskDecision",
    "RiskHook",
    "ScaPolicy",
    "sca_binding",
]
