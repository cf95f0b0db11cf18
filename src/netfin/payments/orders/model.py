"""Payment orders: kinds, the state machine, strong-customer-authentication binding (pure rules).

The state machine (every transition is compare-and-set on the stored status,
recorded in ``payment_order_events`` and the audit log)::

    created -> screened -> authorised -> settled -> returned
                   |            ^
                   v            |
                step_up --------+
    created | screened | step_up | authorised -> rejected
    created | screened | step_up -> expired

Refunds are new orders of kind ``refund`` that name the original; their sum
never exceeds the original amount.

Public names: ``OrderKind``, ``OrderStatus``, ``Endpoint``, ``EndpointKind``,
``OrderRequest``, ``PaymentOrder``, ``OrderEvent``, ``RiskAction``,
``RiskDecision``, ``ScaPolicy``, ``TRANSITIONS``, ``check_transition``,
``sca_binding``.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass, field

from netfin.core.errors import Conflict, InvalidInput
from netfin.core.limits import INT64_MAX
from netfin.core.money import is_currency

REFERENCE_LENGTH_MAX = 140
PAYEE_REFERENCE_LENGTH_MAX = 35
PAYEE_NAME_LENGTH_MAX = 140
IDEMPOTENCY_KEY_LENGTH_MAX = 64
ORDER_TTL_S_DEFAULT = 15 * 60
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class OrderKind(enum.StrEnum):
    ACCOUNT_TO_ACCOUNT = "a2a"
    WALLET_TO_WALLET = "w2w"
    MERCHANT_QR = "merchant_qr"
    BILL = "bill"
    REFUND = "refund"
    RETURN = "return"
    CROSS_BORDER = "cross_border"


class OrderStatus(enum.StrEnum):
    CREATED = "created"
    SCREENED = "screened"
    STEP_UP = "step_up"
    AUTHORISED = "authorised"
    SETTLED = "settled"
    REJECTED = "rejected"
    RETURNED = "returned"
    EXPIRED = "expired"


TERMINAL = frozenset({OrderStatus.REJECTED, OrderStatus.RETURNED, OrderStatus.EXPIRED})

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.CREATED: frozenset({OrderStatus.SCREENED, OrderStatus.REJECTED, OrderStatus.EXPIRED}),
    OrderStatus.SCREENED: frozenset(
        {OrderStatus.AUTHORISED, OrderStatus.STEP_UP, OrderStatus.REJECTED, OrderStatus.EXPIRED}
    ),
    OrderStatus.STEP_UP: frozenset({OrderStatus.AUTHORISED, OrderStatus.REJECTED, OrderStatus.EXPIRED}),
    OrderStatus.AUTHORISED: frozenset({OrderStatus.SETTLED, OrderStatus.REJECTED}),
    OrderStatus.SETTLED: frozenset({OrderStatus.RETURNED}),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.RETURNED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}


def check_transition(current: OrderStatus, target: OrderStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise Conflict(
            f"a payment order cannot go from {current} to {target}", code="order_transition_invalid"
        )


class EndpointKind(enum.StrEnum):
    WALLET = "wallet"
    ACCOUNT = "account"  # a customer account held here
    BILLER = "biller"  # a registered public-service payee
    EXTERNAL = "external"  # an account at another bank (booked to clearing)


@dataclass(frozen=True, slots=True)
class Endpoint:
    kind: EndpointKind
    id: str

    @property
    def key(self) -> str:
        return f"{self.kind.value}:{self.id}"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    kind: OrderKind
    payer: Endpoint
    payee: Endpoint
    amount_minor: int
    currency: str
    reference: str = ""
    payee_reference: str = ""  # a bill's reference at the biller (fee number, invoice, student id)
    original_order_id: str | None = None
    payee_name: str = ""  # the beneficiary's name: required abroad, where it is screened against sanctions

    def check(self) -> None:
        if not isinstance(self.amount_minor, int) or isinstance(self.amount_minor, bool):
            raise InvalidInput("amount must be an integer of minor units", code="amount_invalid")
        if not 0 < self.amount_minor <= INT64_MAX:
            raise InvalidInput("amount must be positive", code="amount_invalid")
        if not is_currency(self.currency):
            raise InvalidInput(f"unknown ISO 4217 currency {self.currency!r}", code="currency_invalid")
        if len(self.reference) > REFERENCE_LENGTH_MAX or _control(self.reference):
            raise InvalidInput(
                f"reference is at most {REFERENCE_LENGTH_MAX} printable characters", code="reference_invalid"
            )
        if len(self.payee_reference) > PAYEE_REFERENCE_LENGTH_MAX or _control(self.payee_reference):
            raise InvalidInput(
                f"payee reference is at most {PAYEE_REFERENCE_LENGTH_MAX} characters",
                code="payee_reference_invalid",
            )
        if len(self.payee_name) > PAYEE_NAME_LENGTH_MAX or _control(self.payee_name):
            raise InvalidInput(
                f"payee name is at most {PAYEE_NAME_LENGTH_MAX} printable characters",
                code="payee_name_invalid",
            )
        if self.kind is OrderKind.CROSS_BORDER and not self.payee_name.strip():
            raise InvalidInput(
                "a cross-border payment names its payee (screened against sanctions lists)",
                code="payee_name_required",
            )
        if self.payer == self.payee:
            raise InvalidInput("payer and payee must differ", code="accounts_must_be_different")
        if self.payer.kind not in (EndpointKind.WALLET, EndpointKind.ACCOUNT):
            raise InvalidInput("a payer is a wallet or an account", code="payer_invalid")
        refunding = self.kind in (OrderKind.REFUND, OrderKind.RETURN)
        if refunding != (self.original_order_id is not None):
            raise InvalidInput(
                "refunds and returns, and only they, name an original order", code="original_order_invalid"
            )
        if self.kind is OrderKind.BILL and (
            self.payee.kind is not EndpointKind.BILLER or not self.payee_reference
        ):
            raise InvalidInput(
                "a bill payment names a biller and the bill's reference", code="bill_reference_required"
            )
        if self.kind is OrderKind.WALLET_TO_WALLET and (
            self.payer.kind is not EndpointKind.WALLET or self.payee.kind is not EndpointKind.WALLET
        ):
            raise InvalidInput("a wallet payment is between two wallets", code="endpoint_kind_invalid")


def _control(text: str) -> bool:
    return not isinstance(text, str) or any(ord(c) < 32 for c in text)


def check_idempotency_key(key: str) -> str:
    if not isinstance(key, str) or not _IDEMPOTENCY_KEY.match(key):
        raise InvalidInput(
            "an idempotency key is 1 to 64 characters of [A-Za-z0-9._:-]", code="idempotency_key_invalid"
        )
    return key


@dataclass(frozen=True, slots=True)
class PaymentOrder:
    order_id: str
    kind: OrderKind
    status: OrderStatus
    payer_party_id: int
    payer: Endpoint
    payee: Endpoint
    amount_minor: int
    currency: str
    reference: str
    payee_reference: str
    original_order_id: str | None
    refunded_minor: int
    idempotency_key: str
    fingerprint: str
    first_transfer_id: int
    chain_length: int
    sca_required: bool
    sca_reasons: tuple[str, ...]
    risk_action: str
    status_reason: str | None
    created_ns: int
    updated_ns: int
    expires_ns: int
    payee_name: str = ""


@dataclass(frozen=True, slots=True)
class OrderEvent:
    order_id: str
    seq: int
    from_status: OrderStatus | None
    to_status: OrderStatus
    actor: str
    reason: str | None
    at_ns: int


class RiskAction(enum.StrEnum):
    ALLOW = "allow"
    STEP_UP = "step_up"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class RiskDecision:
    action: RiskAction
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScaPolicy:
    """When a payment needs a fresh passkey assertion (PSD2 RTS art. 4-5 style).

    ``threshold_minor`` maps a currency to the amount above which SCA is
    needed; a payee the payer has never paid before needs it too; and the
    risk decision may ask for it.
    """

    threshold_minor: dict[str, int] = field(
        default_factory=lambda: {"CNY": 100_000, "GBP": 10_000, "EUR": 10_000, "USD": 10_000}
    )
    default_threshold_minor: int = 10_000
    new_payee: bool = True

    def reasons(self, request: OrderRequest, *, payee_known: bool, risk: RiskDecision) -> tuple[str, ...]:
        found: list[str] = []
        if request.amount_minor > self.threshold_minor.get(request.currency, self.default_threshold_minor):
            found.append("amount_above_threshold")
        if self.new_payee and not payee_known and request.kind not in (OrderKind.REFUND, OrderKind.RETURN):
            found.append("new_payee")
        if risk.action is RiskAction.STEP_UP:
            found.append("risk_step_up")
        return tuple(found)


def sca_binding(order: PaymentOrder) -> bytes:
    """The bytes a payment's passkey challenge is bound to (dynamic linking).

    An assertion over a challenge made for one amount and payee cannot
    authorise another: the challenge carries a digest of exactly these.
    """
    text = "\x1f".join(
        (
            "netfin-sca-v1",
            order.order_id,
            order.payer.key,
            order.payee.key,
            str(order.amount_minor),
            order.currency,
        )
    )
    return hashlib.sha256(text.encode()).digest()
