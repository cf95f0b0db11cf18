"""The payment path's side of risk control: an order becomes a risk event, a decision an action.

``EngineRiskHook`` is the ``RiskHook`` the bank gives ``PaymentOrders`` when a
risk engine runs. The mapping of the engine's four actions onto what a
payment can do: ``approve`` lets it through (SCA policy still applies),
``step_up`` asks for a passkey, ``review`` asks for a passkey and puts the
decision in the analysts' queue, ``decline`` rejects the order.
"""

from __future__ import annotations

import itertools
import math
import threading
from contextvars import ContextVar
from dataclasses import dataclass

from netfin.payments.model import DomesticPayment
from netfin.payments.orders.model import EndpointKind, OrderKind, PaymentOrder, RiskAction, RiskDecision
from netfin.risk.decisions import Action
from netfin.risk.events import EventKind, PayeeKind, RiskEvent
from netfin.risk.service import RiskEngine

_ACTIONS = {
    Action.APPROVE: RiskAction.ALLOW,
    Action.STEP_UP: RiskAction.STEP_UP,
    Action.REVIEW: RiskAction.STEP_UP,
    Action.DECLINE: RiskAction.REJECT,
}

_KINDS = {
    OrderKind.ACCOUNT_TO_ACCOUNT: (EventKind.P2P, PayeeKind.PERSON),
    OrderKind.WALLET_TO_WALLET: (EventKind.P2P, PayeeKind.PERSON),
    OrderKind.MERCHANT_QR: (EventKind.PURCHASE, PayeeKind.MERCHANT),
    OrderKind.BILL: (EventKind.BILL, PayeeKind.BILLER),
    OrderKind.REFUND: (EventKind.OTHER, PayeeKind.PERSON),
    OrderKind.RETURN: (EventKind.OTHER, PayeeKind.PERSON),
    OrderKind.CROSS_BORDER: (EventKind.CROSS_BORDER, PayeeKind.EXTERNAL),
}


@dataclass(frozen=True, slots=True)
class Channel:
    """What the channel knows about a payment beyond the order: device, place, merchant category."""

    device: str = ""
    lat: float = math.nan
    lon: float = math.nan
    mcc: str = ""
    country: str = ""
    channel: str = "api"
    segment: str = "person"


# Set by whoever submits in this thread (the replay of the synthetic bank, a channel adapter) for the
# orders it submits next; orders booked by the gateway's thread see the default.
CHANNEL: ContextVar[Channel] = ContextVar("netfin_payment_channel", default=Channel())  # noqa: B039 - frozen


def order_event(order: PaymentOrder, seq: int) -> RiskEvent:
    """The order as risk control sees it: the payer is the party, the payee the endpoint paid."""
    kind, payee_kind = _KINDS[order.kind]
    channel = CHANNEL.get()
    if order.payee.kind is EndpointKind.EXTERNAL and kind is EventKind.P2P:
        payee_kind = PayeeKind.EXTERNAL
    return RiskEvent(
        seq=seq,
        ts_ms=order.created_ns // 1_000_000,
        payer=f"{order.payer_party_id:032x}",
        payee=f"{order.payee.kind.value}:{order.payee.id}",
        payee_kind=payee_kind.value,
        kind=kind.value,
        amount_minor=order.amount_minor,
        currency=order.currency,
        mcc=channel.mcc,
        device=channel.device,
        lat=channel.lat,
        lon=channel.lon,
        country=channel.country,
        channel=channel.channel,
        segment=channel.segment,
    )


def domestic_event(payment: DomesticPayment, seq: int) -> RiskEvent:
    """An open-banking domestic payment as risk control sees it."""
    i = payment.initiation
    internal = payment.internal_creditor_account_id
    channel = CHANNEL.get()
    return RiskEvent(
        seq=seq,
        ts_ms=payment.created_ns // 1_000_000,
        payer=f"{payment.party_id:032x}",
        payee=f"account:{internal}" if internal else f"external:{i.creditor.identification.replace(' ', '')}",
        payee_kind=(PayeeKind.PERSON if internal else PayeeKind.EXTERNAL).value,
        kind=EventKind.P2P.value,
        amount_minor=i.amount_minor,
        currency=i.currency,
        device=channel.device,
        lat=channel.lat,
        lon=channel.lon,
        country=channel.country,
        channel="open_banking",
        segment=channel.segment,
    )


class EngineRiskHook:
    """Asks the risk engine about every order, in arrival order."""

    def __init__(self, engine: RiskEngine) -> None:
        self.engine = engine
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def decide(self, order: PaymentOrder) -> RiskDecision:
        with self._lock:
            event = order_event(order, next(self._seq))
            decision = self.engine.decide(event, order_id=order.order_id)
        return RiskDecision(_ACTIONS[decision.action], tuple(decision.reason_codes()))

    def screen_domestic(self, payment: DomesticPayment) -> str | None:
        """The screen for open-banking payments: only a decline stops one (its consent was SCA'd)."""
        with self._lock:
            event = domestic_event(payment, next(self._seq))
            decision = self.engine.decide(event, order_id=payment.payment_id)
        return "risk_rejected" if decision.action is Action.DECLINE else None
