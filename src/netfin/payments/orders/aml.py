"""The payment path's side of AML: a settled order's outbox event becomes a monitoring ``Txn``.

Also the sanctions screen a cross-border payment passes before the risk
engine (``SanctionsScreenedRisk``).

The payer and payee are the order's endpoints (``wallet:…``, ``account:…``,
``biller:…``, ``external:…``); the payer's party is in the event so alerts
land on the customer's case. Billers are entities; another bank's account
is external (not ours to watch). A cross-border payee written as an IBAN
gives its country from the IBAN's first two letters.
"""

from __future__ import annotations

from typing import Any

from netfin.aml.monitoring.model import Channel, PartyKind, Txn
from netfin.aml.screening import ScreeningReason, ScreeningService, ScreeningSubject, SubjectKind
from netfin.identity.model import Actor
from netfin.payments.orders.model import OrderKind, PaymentOrder, RiskAction, RiskDecision
from netfin.payments.orders.service import RiskHook

_DST_KIND = {"biller": PartyKind.ENTITY.value, "external": PartyKind.EXTERNAL.value}


def txn_from_event(event: dict[str, Any], *, home_country: str) -> Txn | None:
    """A ``payment.settled`` outbox event as a monitoring transaction (None for any other event)."""
    if event.get("type") != "payment.settled":
        return None
    payload = event["payload"]
    payer, payee = str(payload["payer"]), str(payload["payee"])
    payee_kind = payee.split(":", 1)[0]
    cross = payload.get("kind") == OrderKind.CROSS_BORDER.value
    channel = Channel.CROSS_BORDER if cross else (
        Channel.CARD if payload.get("kind") == OrderKind.MERCHANT_QR.value else Channel.TRANSFER
    )  # fmt: skip
    return Txn(
        txn_id=str(event["order_id"]),
        ts_ms=int(event["created_ns"]) // 1_000_000,
        src=payer,
        dst=payee,
        amount_minor=int(payload["amount_minor"]),
        currency=str(payload["currency"]),
        channel=channel.value,
        src_kind=str(payload.get("payer_kind") or PartyKind.PERSON.value),
        dst_kind=_DST_KIND.get(payee_kind, PartyKind.PERSON.value),
        src_country=home_country if cross else "",
        dst_country=_country(payee) if cross else "",
    )


def _country(payee: str) -> str:
    ident = payee.split(":", 1)[-1].replace(" ", "").upper()
    if len(ident) >= 4 and ident[:2].isalpha() and ident[2:4].isdigit():
        return ident[:2]
    return ""


class SanctionsScreenedRisk:
    """The risk hook with sanctions screening in front of it for cross-border payments.

    A cross-border payee's name (and the country of its IBAN) is screened in
    memory before the risk engine decides (about a millisecond, repeated names
    from a cache); only a possible match pays for more: the full screening is
    stored for compliance (with every candidate and its evidence) and the
    payment is refused (``sanctions_hold``). Compliance may clear the result
    so the payment can be submitted again.
    """

    def __init__(self, inner: RiskHook, screening: ScreeningService) -> None:
        self.inner = inner
        self.screening = screening

    def decide(self, order: PaymentOrder) -> RiskDecision:
        if order.kind is OrderKind.CROSS_BORDER:
            country = _country(order.payee.key) or None
            verdict = self.screening.screen_counterparty(order.payee_name, country)
            if verdict.hold:
                self.screening.screen(
                    ScreeningSubject(order.payee_name, country=country),
                    subject_kind=SubjectKind.COUNTERPARTY,
                    subject_id=order.order_id,
                    reason=ScreeningReason.COUNTERPARTY,
                    actor=Actor.system("sanctions"),
                )
                return RiskDecision(RiskAction.REJECT, ("sanctions_hold",))
        return self.inner.decide(order)
