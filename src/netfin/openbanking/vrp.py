"""Domestic variable-recurring-payment (VRP) consents over device mandates (UK OB v4.0).

A TPP creates a domestic VRP consent naming the control parameters
(``MaximumIndividualAmount``, ``PeriodicLimits``, ``ValidFromDateTime``,
``ValidToDateTime``, ``VRPType``), the creditor, and the Ed25519 public key
of the device that will sign each payment. The OB files have no member for
that key, so it travels in ``Data.ControlParameters.SupplementaryData``:

- ``NetfinDevicePublicKey``: the raw 32-byte Ed25519 public key, base64url
  without padding (required);
- ``NetfinDeviceId``: a label for the device, 1 to 64 printable characters
  (optional; the consent id when absent).

When the customer authorises the consent over one of their accounts, the
consent becomes a device mandate (``DeviceMandates.grant``): from then on the
mandate counts the limits and checks each request's signature and counter,
and the consent's status is the mandate's (``AUTH``, ``CANC``, ``EXPD``). The
consent then shows ``NetfinMandateId`` in ``ControlParameters.SupplementaryData``:
the id the device signs over (``payment_message``).

Each ``POST /domestic-vrps`` carries the device's request in
``Data.Instruction.SupplementaryData``: ``NetfinDeviceCounter`` (a positive
integer above the last one used) and ``NetfinDeviceSignature`` (the 64-byte
Ed25519 signature, base64url without padding) over ``payment_message`` of the
mandate id, the counter, ``InstructedAmount`` in minor units, its currency
and ``EndToEndIdentification`` as the reference.

Invariants:
- a consent is authorised once: ``AWAU`` moves to ``AUTH`` by compare-and-set,
  together with its mandate id; a mandate granted for a consent that lost
  that race is revoked at once;
- a consent of another client reads as not found, and a payment is accepted
  only under the consent the access token is bound to;
- every TPP operation, allowed or refused, is audited with its consent
  (``OpenBanking.audited``); the customer's decisions are audited too.

Public names: ``DomesticVrps``, ``VrpConsent``, ``VrpConsentStatus``,
``VrpControls``, ``VrpPaymentRequest``, ``VrpPayment``, ``controls_of``,
``decode_base64url``, ``encode_base64url`` and the member names below.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from netfin.core.clock import Clock, ns_from_datetime
from netfin.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from netfin.core.ids import IdSource, format_id
from netfin.identity.model import Actor, CustomerAccount, validate_iban
from netfin.identity.service import AuditSink, Identity, audit_change
from netfin.openbanking import vrp_store as store
from netfin.openbanking.service import OpenBanking, TppAccess
from netfin.payments import parse_amount
from netfin.payments.mandates import (
    DeviceMandates,
    DevicePaymentRequest,
    MandateStatus,
    MandateTerms,
    PeriodAlignment,
    PeriodicLimit,
    PeriodType,
)
from netfin.payments.orders import Endpoint, EndpointKind, PaymentOrder, PaymentOrders

DEVICE_PUBLIC_KEY_MEMBER = "NetfinDevicePublicKey"
DEVICE_ID_MEMBER = "NetfinDeviceId"
MANDATE_ID_MEMBER = "NetfinMandateId"
DEVICE_COUNTER_MEMBER = "NetfinDeviceCounter"
DEVICE_SIGNATURE_MEMBER = "NetfinDeviceSignature"
CONSENT_ID_PREFIX = "vrp-"
PAYMENT_ID_PREFIX = "dvrp-"
BASE64URL_LENGTH_MAX = 128  # a 64-byte signature is 86 characters


class VrpConsentStatus(enum.StrEnum):
    """``OBDomesticVRPConsentResponse.Data.Status``."""

    AWAITING_AUTHORISATION = "AWAU"
    REJECTED = "RJCT"
    AUTHORISED = "AUTH"
    REVOKED = "CANC"
    EXPIRED = "EXPD"


_REFUSAL_WORD = {
    VrpConsentStatus.AWAITING_AUTHORISATION: "awaiting_authorisation",
    VrpConsentStatus.REJECTED: "rejected",
    VrpConsentStatus.REVOKED: "revoked",
    VrpConsentStatus.EXPIRED: "expired",
}
_OF_MANDATE = {
    MandateStatus.AUTHORISED: VrpConsentStatus.AUTHORISED,
    MandateStatus.REVOKED: VrpConsentStatus.REVOKED,
    MandateStatus.EXPIRED: VrpConsentStatus.EXPIRED,
}


@dataclass(frozen=True, slots=True)
class VrpControls:
    """The control parameters of a consent, read into the mandate's terms."""

    currency: str
    max_individual_minor: int
    periodic_limits: tuple[PeriodicLimit, ...]
    valid_from_ns: int | None
    valid_to_ns: int
    vrp_types: tuple[str, ...]
    device_public_key: bytes
    device_id: str | None


@dataclass(frozen=True, slots=True)
class VrpConsent:
    consent_id: str
    client_id: str
    party_id: int | None
    control_parameters: dict[str, Any]
    initiation: dict[str, Any]
    risk: dict[str, Any]
    device_public_key: bytes
    status: VrpConsentStatus
    debtor_account_id: str | None
    mandate_id: str | None
    created_ns: int
    status_updated_ns: int


@dataclass(frozen=True, slots=True)
class VrpPaymentRequest:
    """A ``POST /domestic-vrps``: the members the bank checks, and the document as sent."""

    consent_id: str
    initiation: dict[str, Any]
    vrp_type: str
    creditor: dict[str, Any]
    amount_minor: int
    currency: str
    reference: str
    counter: int
    signature: bytes
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class VrpPayment:
    payment_id: str
    consent_id: str
    client_id: str
    mandate_id: str
    counter: int
    order: PaymentOrder
    document: dict[str, Any]
    created_ns: int


def encode_base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_base64url(text: object, *, length: int, code: str, what: str) -> bytes:
    """Exactly ``length`` bytes from unpadded base64url text, or a refusal with ``code``."""
    if not isinstance(text, str) or not 0 < len(text) <= BASE64URL_LENGTH_MAX or "=" in text:
        raise InvalidInput(f"{what} is unpadded base64url text", code=code)
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{what} is unpadded base64url text", code=code) from None
    if len(raw) != length or encode_base64url(raw) != text:
        raise InvalidInput(f"{what} is {length} bytes in unpadded base64url", code=code)
    return raw


def _ns_of(text: object) -> int | None:
    if text is None:
        return None
    try:
        return ns_from_datetime(datetime.fromisoformat(str(text)))
    except ValueError:
        raise InvalidInput("date-times carry an offset", code="datetime_invalid") from None


def controls_of(control_parameters: Mapping[str, Any]) -> VrpControls:
    """Read ``OBDomesticVRPControlParameters`` (as JSON) into the mandate's terms; refuse what cannot be."""
    maximum = control_parameters["MaximumIndividualAmount"]
    currency = str(maximum["Currency"])
    limits = []
    for item in control_parameters["PeriodicLimits"]:
        if item["Currency"] != currency:
            raise InvalidInput("every periodic limit is in the currency of MaximumIndividualAmount",
                               code="vrp_currency_mismatch")  # fmt: skip
        try:
            kind, alignment = PeriodType(item["PeriodType"]), PeriodAlignment(item["PeriodAlignment"])
        except ValueError:
            raise InvalidInput("unknown PeriodType or PeriodAlignment",
                               code="mandate_periodic_limits_invalid") from None  # fmt: skip
        limits.append(PeriodicLimit(kind, alignment, parse_amount(str(item["Amount"]), currency)))
    valid_to = _ns_of(control_parameters.get("ValidToDateTime"))
    if valid_to is None:
        raise InvalidInput("a VRP consent here names its ValidToDateTime", code="vrp_valid_to_required")
    supplementary = control_parameters.get("SupplementaryData") or {}
    device_id = supplementary.get(DEVICE_ID_MEMBER)
    if device_id is not None and not isinstance(device_id, str):
        raise InvalidInput(f"{DEVICE_ID_MEMBER} is a string", code="device_id_invalid")
    public_key = decode_base64url(
        supplementary.get(DEVICE_PUBLIC_KEY_MEMBER), length=32, code="device_public_key_invalid",
        what=f"ControlParameters.SupplementaryData.{DEVICE_PUBLIC_KEY_MEMBER}",
    )  # fmt: skip
    return VrpControls(
        currency=currency,
        max_individual_minor=parse_amount(str(maximum["Amount"]), currency),
        periodic_limits=tuple(limits),
        valid_from_ns=_ns_of(control_parameters.get("ValidFromDateTime")),
        valid_to_ns=valid_to,
        vrp_types=tuple(str(t) for t in control_parameters.get("VRPType", ())),
        device_public_key=public_key,
        device_id=device_id,
    )


def _compact_iban(creditor: Mapping[str, Any]) -> str:
    if not str(creditor.get("SchemeName", "")).endswith("IBAN"):
        raise InvalidInput("a VRP creditor is named by UK.OBIE.IBAN", code="creditor_scheme_unsupported")
    return str(creditor.get("Identification", "")).replace(" ", "").upper()


class DomesticVrps:
    """The use cases behind the domestic VRP resources, for TPPs and for the customer."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        mandates: DeviceMandates,
        orders: PaymentOrders,
        identity: Identity,
        openbanking: OpenBanking,
        audit: AuditSink,
        clock: Clock,
        ids: IdSource,
    ) -> None:
        self.engine = engine
        self.mandates = mandates
        self.orders = orders
        self.identity = identity
        self.openbanking = openbanking
        self.audit = audit
        self.clock = clock
        self.ids = ids

    # The TPP's side ------------------------------------------------------------

    def create_consent(
        self, access: TppAccess, control_parameters: dict[str, Any], initiation: dict[str, Any],
        risk: dict[str, Any],
    ) -> VrpConsent:  # fmt: skip
        """Record a consent awaiting the customer; refuse terms no mandate could ever hold."""

        def run() -> VrpConsent:
            controls = controls_of(control_parameters)
            consent_id = CONSENT_ID_PREFIX + format_id(self.ids.new_id())
            # The payer is chosen by the customer later; a placeholder lets the terms be checked now.
            placeholder = Endpoint(EndpointKind.ACCOUNT, "")
            self._terms(controls, consent_id, access.client_id, placeholder, initiation).check(
                self.clock.now_ns()
            )
            now = self.clock.now_ns()
            consent = VrpConsent(
                consent_id, access.client_id, None, control_parameters, initiation, risk,
                controls.device_public_key, VrpConsentStatus.AWAITING_AUTHORISATION, None, None, now, now,
            )  # fmt: skip
            with self.engine.begin() as connection:
                connection.execute(sa.insert(store.vrp_consents), [_values(consent)])
            return consent

        return self.openbanking.audited(access, "vrp.consent.create", ("client", access.client_id), run)

    def consent_for_client(self, access: TppAccess, consent_id: str) -> VrpConsent:
        return self.openbanking.audited(
            access, "vrp.consent.read", ("consent", consent_id), lambda: self._own(access, consent_id)
        )

    def delete_consent(self, access: TppAccess, consent_id: str) -> None:
        """The TPP withdraws the consent: ``CANC``, and its mandate revoked; repeating changes nothing."""

        def run() -> None:
            consent = self._own(access, consent_id)
            if consent.status not in (VrpConsentStatus.AWAITING_AUTHORISATION, VrpConsentStatus.AUTHORISED):
                return
            if consent.mandate_id is not None and consent.party_id is not None:
                self.mandates.revoke(access.actor, consent.party_id, consent.mandate_id)
            self._move(consent, VrpConsentStatus.REVOKED)

        self.openbanking.audited(access, "vrp.consent.delete", ("consent", consent_id), run)

    def pay(self, access: TppAccess, request: VrpPaymentRequest) -> VrpPayment:
        """A device-signed payment under the consent the token is bound to."""

        def run() -> VrpPayment:
            if access.consent_id != request.consent_id:
                raise NotFound("no such consent", code="consent_not_found")
            consent = self._own(access, request.consent_id)
            if consent.status is not VrpConsentStatus.AUTHORISED or consent.mandate_id is None:
                word = _REFUSAL_WORD.get(consent.status, "unusable")
                raise Forbidden(f"the consent is {consent.status.value}", code=f"consent_{word}")
            _require_match(consent, request)
            order = self.mandates.pay(DevicePaymentRequest(
                consent.mandate_id, request.counter, request.amount_minor, request.currency,
                request.reference, request.signature,
            ))  # fmt: skip
            payment = VrpPayment(
                PAYMENT_ID_PREFIX + format_id(self.ids.new_id()), consent.consent_id, access.client_id,
                consent.mandate_id, request.counter, order, request.document, self.clock.now_ns(),
            )  # fmt: skip
            with self.engine.begin() as connection:
                connection.execute(sa.insert(store.vrp_payments), [_payment_values(payment)])
            return payment

        return self.openbanking.audited(access, "vrp.payment.create", ("consent", request.consent_id), run)

    def payment_for_client(self, access: TppAccess, payment_id: str) -> VrpPayment:
        """A payment the caller made; anyone else's reads as not found."""

        def run() -> VrpPayment:
            p = store.vrp_payments
            with self.engine.connect() as connection:
                row = connection.execute(
                    sa.select(p).where(p.c.payment_id == payment_id, p.c.client_id == access.client_id)
                ).first()
            if row is None:
                raise NotFound("no such payment", code="payment_not_found")
            return VrpPayment(
                row.payment_id, row.consent_id, row.client_id, row.mandate_id, row.counter,
                self.orders.get(row.order_id), json.loads(row.document), row.created_ns,
            )  # fmt: skip

        return self.openbanking.audited(access, "vrp.payment.read", ("payment", payment_id), run)

    # The customer's side -------------------------------------------------------

    def consent_for_party(self, party_id: int, consent_id: str) -> VrpConsent:
        """A customer sees consents awaiting anyone (they hold the id from the redirect) and their own."""
        consent = self.get(consent_id)
        if consent.party_id is not None and consent.party_id != party_id:
            raise NotFound("no such consent", code="consent_not_found")
        return consent

    def authorise(self, actor: Actor, party_id: int, consent_id: str, account_id: str) -> VrpConsent:
        """The customer approves over one of their accounts: the consent becomes a device mandate."""
        consent = self._awaiting(party_id, consent_id)
        account = self.identity.get_account(account_id)
        if account.party_id != party_id:
            raise NotFound("no such account", code="account_not_found")
        _require_debtor(consent, account)
        controls = controls_of(consent.control_parameters)
        payer = Endpoint(EndpointKind.ACCOUNT, account.account_id)
        terms = self._terms(controls, consent.consent_id, consent.client_id, payer, consent.initiation)
        mandate = self.mandates.grant(actor, party_id, terms)
        now = self.clock.now_ns()
        c = store.vrp_consents
        with self.engine.begin() as connection:
            moved = connection.execute(
                sa.update(c).where(c.c.consent_id == consent_id, c.c.status == consent.status.value)
                .values(status=VrpConsentStatus.AUTHORISED.value, party_id=store.b16(party_id),
                        debtor_account_id=account.account_id, mandate_id=mandate.mandate_id,
                        status_updated_ns=now)
            ).rowcount  # fmt: skip
        if moved != 1:
            self.mandates.revoke(actor, party_id, mandate.mandate_id)
            raise Conflict("the consent was decided meanwhile", code="consent_not_awaiting_authorisation")
        detail = {"mandate_id": mandate.mandate_id, "account_id": account.account_id,
                  "client_id": consent.client_id}  # fmt: skip
        audit_change(self.audit, actor, "vrp.consent.authorise", "consent", consent_id, detail)
        return self.get(consent_id)

    def reject(self, actor: Actor, party_id: int, consent_id: str) -> VrpConsent:
        """The customer declines: ``RJCT``, and no mandate is made."""
        consent = self._awaiting(party_id, consent_id)
        if not self._move(consent, VrpConsentStatus.REJECTED):
            raise Conflict("the consent was decided meanwhile", code="consent_not_awaiting_authorisation")
        audit_change(self.audit, actor, "vrp.consent.reject", "consent", consent_id, {})
        return self.get(consent_id)

    # Reading -------------------------------------------------------------------

    def get(self, consent_id: str) -> VrpConsent:
        """A consent as its reader sees it: once authorised, its status is its mandate's."""
        c = store.vrp_consents
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(c).where(c.c.consent_id == consent_id)).first()
        if row is None:
            raise NotFound("no such consent", code="consent_not_found")
        consent = _consent_of(row)
        now = self.clock.now_ns()
        if consent.status is VrpConsentStatus.AUTHORISED and consent.mandate_id is not None:
            mandate = self.mandates.get(consent.mandate_id)
            status = _OF_MANDATE[mandate.status_at(now)]
            if status is VrpConsentStatus.AUTHORISED:
                return consent
            return replace(consent, status=status,
                           status_updated_ns=max(consent.status_updated_ns, mandate.updated_ns))  # fmt: skip
        if consent.status is VrpConsentStatus.AWAITING_AUTHORISATION:
            valid_to = _ns_of(consent.control_parameters.get("ValidToDateTime"))
            if valid_to is not None and now >= valid_to:
                return replace(consent, status=VrpConsentStatus.EXPIRED)
        return consent

    def debtor_account(self, consent: VrpConsent) -> tuple[CustomerAccount, str] | None:
        """The account the customer chose and its holder's name, once authorised."""
        if consent.debtor_account_id is None:
            return None
        account = self.identity.get_account(consent.debtor_account_id)
        return account, self.identity.get_party(account.party_id).display_name

    # Internals -----------------------------------------------------------------

    def _own(self, access: TppAccess, consent_id: str) -> VrpConsent:
        if not consent_id.startswith(CONSENT_ID_PREFIX):
            raise NotFound("no such consent", code="consent_not_found")
        consent = self.get(consent_id)
        if consent.client_id != access.client_id:
            raise NotFound("no such consent", code="consent_not_found")
        return consent

    def _awaiting(self, party_id: int, consent_id: str) -> VrpConsent:
        consent = self.consent_for_party(party_id, consent_id)
        if consent.status is not VrpConsentStatus.AWAITING_AUTHORISATION:
            raise Conflict(
                f"the consent is {consent.status.value}", code="consent_not_awaiting_authorisation"
            )
        return consent

    def _move(self, consent: VrpConsent, target: VrpConsentStatus) -> bool:
        """Compare-and-set the stored status from the one read; False when someone moved it first."""
        c = store.vrp_consents
        stored = VrpConsentStatus.AUTHORISED if consent.mandate_id is not None else consent.status
        with self.engine.begin() as connection:
            moved = connection.execute(
                sa.update(c).where(c.c.consent_id == consent.consent_id, c.c.status == stored.value)
                .values(status=target.value, status_updated_ns=self.clock.now_ns())
            ).rowcount  # fmt: skip
        return bool(moved == 1)

    def _terms(
        self, controls: VrpControls, consent_id: str, client_id: str, payer: Endpoint,
        initiation: Mapping[str, Any],
    ) -> MandateTerms:  # fmt: skip
        return MandateTerms(
            payer=payer, payee=self._payee(initiation), currency=controls.currency,
            max_individual_minor=controls.max_individual_minor, periodic_limits=controls.periodic_limits,
            valid_to_ns=controls.valid_to_ns, device_id=controls.device_id or consent_id,
            device_public_key=controls.device_public_key, valid_from_ns=controls.valid_from_ns,
            client_id=client_id,
        )  # fmt: skip

    def _payee(self, initiation: Mapping[str, Any]) -> Endpoint:
        creditor = initiation.get("CreditorAccount")
        if not isinstance(creditor, Mapping):
            raise InvalidInput("a VRP consent here names its CreditorAccount", code="vrp_creditor_required")
        iban = _compact_iban(creditor)
        account = self.identity.find_account_by_iban(iban)
        if account is None:
            validate_iban(iban)
            return Endpoint(EndpointKind.EXTERNAL, iban)
        return Endpoint(EndpointKind.ACCOUNT, account.account_id)


def _require_match(consent: VrpConsent, request: VrpPaymentRequest) -> None:
    """The payment repeats the consent's Initiation, pays its creditor and is of a consented type."""
    if request.initiation != consent.initiation:
        raise InvalidInput("the payment's Initiation differs from the consent's", code="consent_mismatch")
    if _compact_iban(request.creditor) != _compact_iban(consent.initiation.get("CreditorAccount") or {}):
        raise InvalidInput(
            "the Instruction pays another creditor than the consent's", code="consent_mismatch"
        )
    if request.vrp_type not in consent.control_parameters.get("VRPType", ()):
        raise InvalidInput("the consent does not allow this VRPType", code="consent_mismatch")


def _require_debtor(consent: VrpConsent, account: CustomerAccount) -> None:
    debtor = consent.initiation.get("DebtorAccount")
    if isinstance(debtor, Mapping) and _compact_iban(debtor) != account.iban:
        raise InvalidInput(
            "the chosen account is not the consent's debtor account", code="debtor_account_mismatch"
        )


def _values(consent: VrpConsent) -> dict[str, Any]:
    return {
        "consent_id": consent.consent_id, "client_id": consent.client_id, "party_id": None,
        "control_parameters": json.dumps(consent.control_parameters),
        "initiation": json.dumps(consent.initiation), "risk": json.dumps(consent.risk),
        "device_public_key": consent.device_public_key, "status": consent.status.value,
        "debtor_account_id": None, "mandate_id": None, "created_ns": consent.created_ns,
        "status_updated_ns": consent.status_updated_ns,
    }  # fmt: skip


def _payment_values(payment: VrpPayment) -> dict[str, Any]:
    return {
        "payment_id": payment.payment_id, "consent_id": payment.consent_id, "client_id": payment.client_id,
        "mandate_id": payment.mandate_id, "counter": payment.counter, "order_id": payment.order.order_id,
        "document": json.dumps(payment.document), "created_ns": payment.created_ns,
    }  # fmt: skip


def _consent_of(row: Any) -> VrpConsent:
    return VrpConsent(
        consent_id=row.consent_id, client_id=row.client_id, party_id=store.from_b16(row.party_id),
        control_parameters=json.loads(row.control_parameters), initiation=json.loads(row.initiation),
        risk=json.loads(row.risk), device_public_key=bytes(row.device_public_key),
        status=VrpConsentStatus(row.status), debtor_account_id=row.debtor_account_id,
        mandate_id=row.mandate_id, created_ns=row.created_ns, status_updated_ns=row.status_updated_ns,
    )  # fmt: skip


__all__ = [
    "DEVICE_COUNTER_MEMBER",
    "DEVICE_ID_MEMBER",
    "DEVICE_PUBLIC_KEY_MEMBER",
    "DEVICE_SIGNATURE_MEMBER",
    "MANDATE_ID_MEMBER",
    "DomesticVrps",
    "VrpConsent",
    "VrpConsentStatus",
    "VrpControls",
    "VrpPayment",
    "VrpPaymentRequest",
    "controls_of",
    "decode_base64url",
    "encode_base64url",
]
