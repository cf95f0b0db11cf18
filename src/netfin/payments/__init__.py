"""Payments: orders that move money between accounts, always through the ledger.

Purpose: accept a payment order (so far: a single immediate domestic payment
initiated by a TPP under a customer's consent), book it in the ledger and
report its status.

Invariants:
- A payment consent pays at most once (consumed atomically with the order).
- The ledger transfer id is fixed before the money moves, so a retry or a
  resume after a crash never books twice.
- Amounts are integer minor units; decimal strings with more places than the
  currency has are refused, never rounded.

Public names: ``Payments``, ``DomesticPayment``, ``DomesticInitiation``,
``CreditorAccount``, ``PaymentStatus``, ``parse_amount``, ``format_amount``.
"""

from netfin.payments.model import (
    CreditorAccount,
    DomesticInitiation,
    DomesticPayment,
    PaymentStatus,
    format_amount,
    parse_amount,
)
from netfin.payments.service import Payments

__all__ = [
    "CreditorAccount",
    "DomesticInitiation",
    "DomesticPayment",
    "PaymentStatus",
    "Payments",
    "format_amount",
    "parse_amount",
]
