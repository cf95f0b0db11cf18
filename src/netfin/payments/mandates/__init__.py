"""Device mandates: a customer lets a device (an EV charger, a smart meter) pay within limits.

Purpose: a customer grants a device a standing authorisation to pay one
fixed payee from one of the customer's wallets or accounts, modelled on a
UK Open Banking v4.0 domestic variable-recurring-payment consent, so the API
can show it as one: ``MaximumIndividualAmount``, up to four
``PeriodicLimits`` (``Day``, ``Week``, ``Fortnight``, ``Month``, ``Half-year``,
``Year``; aligned to the ``Consent`` or the ``Calendar``),
``ValidFromDateTime``/``ValidToDateTime`` and the consent status codes
``AUTH``, ``CANC``, ``EXPD``. The device holds an Ed25519 key and a counter;
each payment it asks for is signed, checked against the mandate, and made
as a payment order (``PaymentOrders.submit``).

Invariants:
- a device request is decided once: its counter must be above the last one
  and moves ``last_counter`` up by compare-and-set, even when refused;
- the payments counted in any period never pass that period's limit, under
  any concurrency, on SQLite and PostgreSQL; a payment whose order ends
  rejected or expired is no longer counted;
- a mandate's endpoints and limits never change after grant; revoked and
  expired mandates pay nothing;
- a mandate the party does not hold reads as not found; every change is in
  the audit log.

Public names: ``DeviceMandates``, ``Mandate``, ``MandateTerms``, ``MandateStatus``,
``PeriodicLimit``, ``PeriodType``, ``PeriodAlignment``, ``Period``, ``PeriodUsage``,
``DevicePaymentRequest``, ``MandatePayment``, ``MandatePaymentState``,
``period_bounds``, ``payment_message``.
"""

from netfin.payments.mandates.model import (
    DevicePaymentRequest,
    Mandate,
    MandatePayment,
    MandatePaymentState,
    MandateStatus,
    MandateTerms,
    Period,
    PeriodAlignment,
    PeriodicLimit,
    PeriodType,
    PeriodUsage,
    payment_message,
    period_bounds,
)
from netfin.payments.mandates.service import DeviceMandates

__all__ = [
    "DeviceMandates",
    "DevicePaymentRequest",
    "Mandate",
    "MandatePayment",
    "MandatePaymentState",
    "MandateStatus",
    "MandateTerms",
    "Period",
    "PeriodAlignment",
    "PeriodType",
    "PeriodUsage",
    "PeriodicLimit",
    "payment_message",
    "period_bounds",
]
