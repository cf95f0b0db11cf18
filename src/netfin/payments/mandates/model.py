"""Device mandates: control parameters, the periods they count in, the signed request (pure rules).

A mandate mirrors the control parameters of a UK Open Banking v4.0 domestic
variable-recurring-payment consent (``OBDomesticVRPControlParameters``):
``MaximumIndividualAmount`` is ``max_individual_minor``, each entry of
``PeriodicLimits`` is a ``PeriodicLimit`` (``PeriodType``, ``PeriodAlignment``,
``Amount``; its ``Currency`` is the mandate's), ``ValidFromDateTime`` and
``ValidToDateTime`` are ``valid_from_ns`` and ``valid_to_ns``, and the status
uses the OB consent status codes (``AUTH``, ``CANC``, ``EXPD``).

Periods (``period_bounds``) are whole UTC days, ``[start_ns, end_ns)``:

- ``Calendar`` alignment: Day is the UTC day; Week the ISO week (Monday to
  Sunday); Month the calendar month; Half-year January-June or July-December;
  Year the calendar year. OB forbids ``Fortnight`` with ``Calendar`` (the ISO
  calendar has no fortnights), so that pair is refused.
- ``Consent`` alignment: "the period starts on the date of consent creation";
  here the date of ``valid_from_ns``. Day, Week and Fortnight are 1, 7 and
  14 days from that date; Month, Half-year and Year step 1, 6 and 12 months
  from it, keeping its day of the month, or the month's last day where the
  month is shorter (a mandate from 31 January counts from 28 or 29 February,
  then 31 March). Every period is computed from the anchor, never from the
  previous period, so the periods tile time without gaps or overlaps.

A device signs ``payment_message``: length-prefixed fields (a domain tag,
the mandate id, the counter, the amount, the currency, the reference), so no
two distinct requests share a message whatever their text holds.

Public names: ``Mandate``, ``MandateTerms``, ``MandateStatus``, ``PeriodicLimit``,
``PeriodType``, ``PeriodAlignment``, ``Period``, ``PeriodUsage``,
``DevicePaymentRequest``, ``MandatePayment``, ``MandatePaymentState``,
``period_bounds``, ``payment_message``, ``new_mandate_id`` and the limits
``MANDATES_PER_PARTY_MAX``, ``PERIODIC_LIMITS_MAX``, ``REFERENCE_LENGTH_MAX``,
``DEVICE_ID_LENGTH_MAX``, ``CLIENT_ID_LENGTH_MAX``, ``VALIDITY_S_MAX``,
``PUBLIC_KEY_BYTES``, ``SIGNATURE_BYTES``, ``COUNTER_MAX``.
"""

from __future__ import annotations

import calendar
import enum
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from netfin.core.clock import NS_PER_SECOND
from netfin.core.errors import Conflict, InvalidInput, LimitExceeded, NetfinError, NotFound, Unauthenticated
from netfin.core.ids import format_id
from netfin.core.limits import INT64_MAX
from netfin.core.money import is_currency
from netfin.payments.orders.model import Endpoint, EndpointKind

MANDATES_PER_PARTY_MAX = 20  # active (AUTH, not lapsed) mandates one party may hold at once
PERIODIC_LIMITS_MAX = 4
REFERENCE_LENGTH_MAX = 35  # OB RemittanceInformation.Reference
DEVICE_ID_LENGTH_MAX = 64
CLIENT_ID_LENGTH_MAX = 128
VALIDITY_S_MAX = 5 * 366 * 86_400
PUBLIC_KEY_BYTES = 32  # Ed25519, raw
SIGNATURE_BYTES = 64  # Ed25519
COUNTER_MAX = INT64_MAX
DAY_NS = 86_400 * NS_PER_SECOND
PAYMENT_MESSAGE_TAG = b"netfin.mandate.payment.v1"

_MANDATE_ID = re.compile(r"^md-[0-9a-f]{32}$")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_FIRST_MONDAY = date(1970, 1, 5)  # calendar weeks step from a Monday
_NEW_YEAR = date(1970, 1, 1)  # calendar days, months, half-years and years step from 1 January


class MandateStatus(enum.StrEnum):
    """OB ``OBInternalConsentStatus1Code`` values a granted mandate can have."""

    AUTHORISED = "AUTH"
    REVOKED = "CANC"
    EXPIRED = "EXPD"


class PeriodType(enum.StrEnum):
    DAY = "Day"
    WEEK = "Week"
    FORTNIGHT = "Fortnight"
    MONTH = "Month"
    HALF_YEAR = "Half-year"
    YEAR = "Year"


class PeriodAlignment(enum.StrEnum):
    CONSENT = "Consent"
    CALENDAR = "Calendar"


_DAY_STEPS = {PeriodType.DAY: 1, PeriodType.WEEK: 7, PeriodType.FORTNIGHT: 14}
_MONTH_STEPS = {PeriodType.MONTH: 1, PeriodType.HALF_YEAR: 6, PeriodType.YEAR: 12}


@dataclass(frozen=True, slots=True)
class Period:
    start_ns: int
    end_ns: int

    def contains(self, at_ns: int) -> bool:
        return self.start_ns <= at_ns < self.end_ns


def period_bounds(period_type: PeriodType, alignment: PeriodAlignment, anchor_ns: int, at_ns: int) -> Period:
    """The period of ``period_type`` that holds ``at_ns``; ``anchor_ns`` is the consent's start."""
    if period_type is PeriodType.FORTNIGHT and alignment is PeriodAlignment.CALENDAR:
        raise InvalidInput("a fortnight is aligned to the consent, never to the calendar",
                           code="mandate_period_alignment_invalid")  # fmt: skip
    if alignment is PeriodAlignment.CONSENT:
        anchor = _date_of(anchor_ns)
    else:
        anchor = _FIRST_MONDAY if period_type is PeriodType.WEEK else _NEW_YEAR
    today = _date_of(at_ns)
    if period_type in _DAY_STEPS:
        step = _DAY_STEPS[period_type]
        k = (today.toordinal() - anchor.toordinal()) // step
        start_ordinal = anchor.toordinal() + k * step
        return Period(_ns_of_ordinal(start_ordinal), _ns_of_ordinal(start_ordinal + step))
    step = _MONTH_STEPS[period_type]
    k = ((today.year - anchor.year) * 12 + today.month - anchor.month) // step
    start = _add_months(anchor, k * step)
    if start > today:  # the anchor's day of the month is still ahead in this month
        k -= 1
        start = _add_months(anchor, k * step)
    return Period(
        _ns_of_ordinal(start.toordinal()), _ns_of_ordinal(_add_months(anchor, (k + 1) * step).toordinal())
    )


def _date_of(at_ns: int) -> date:
    return date.fromordinal(_EPOCH_ORDINAL + at_ns // DAY_NS)


def _ns_of_ordinal(ordinal: int) -> int:
    return (ordinal - _EPOCH_ORDINAL) * DAY_NS


def _add_months(day: date, months: int) -> date:
    year, month_index = divmod(day.year * 12 + day.month - 1 + months, 12)
    month = month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class PeriodicLimit:
    """One OB ``PeriodicLimits`` entry; its currency is the mandate's."""

    period_type: PeriodType
    period_alignment: PeriodAlignment
    amount_minor: int

    def check(self) -> None:
        if not isinstance(self.period_type, PeriodType) or not isinstance(
            self.period_alignment, PeriodAlignment
        ):
            raise InvalidInput("a periodic limit names a PeriodType and a PeriodAlignment",
                               code="mandate_periodic_limits_invalid")  # fmt: skip
        if self.period_type is PeriodType.FORTNIGHT and self.period_alignment is PeriodAlignment.CALENDAR:
            raise InvalidInput("a fortnight is aligned to the consent, never to the calendar",
                               code="mandate_period_alignment_invalid")  # fmt: skip
        _check_amount(self.amount_minor)

    def period(self, anchor_ns: int, at_ns: int) -> Period:
        return period_bounds(self.period_type, self.period_alignment, anchor_ns, at_ns)


@dataclass(frozen=True, slots=True)
class MandateTerms:
    """What a customer grants: the endpoints, the control parameters and the device."""

    payer: Endpoint
    payee: Endpoint
    currency: str
    max_individual_minor: int
    periodic_limits: tuple[PeriodicLimit, ...]
    valid_to_ns: int
    device_id: str
    device_public_key: bytes
    valid_from_ns: int | None = None  # None: from now
    client_id: str | None = None  # the TPP that set the mandate up, when one did

    def check(self, now_ns: int) -> int:
        """Refuse terms that can never be valid; return the effective ``valid_from_ns``."""
        if self.payer.kind not in (EndpointKind.WALLET, EndpointKind.ACCOUNT):
            raise InvalidInput("a mandate's payer is a wallet or an account", code="mandate_payer_invalid")
        if self.payee.kind not in (EndpointKind.WALLET, EndpointKind.ACCOUNT, EndpointKind.EXTERNAL):
            raise InvalidInput("a mandate's payee is a wallet, an account or an external account",
                               code="mandate_payee_invalid")  # fmt: skip
        if self.payer == self.payee:
            raise InvalidInput("payer and payee must differ", code="accounts_must_be_different")
        if not is_currency(self.currency):
            raise InvalidInput(f"unknown ISO 4217 currency {self.currency!r}", code="currency_invalid")
        _check_amount(self.max_individual_minor)
        self._check_limits()
        valid_from = now_ns if self.valid_from_ns is None else self.valid_from_ns
        _check_validity(valid_from, self.valid_to_ns, now_ns)
        if not _is_label(self.device_id, DEVICE_ID_LENGTH_MAX):
            raise InvalidInput(f"a device id is 1 to {DEVICE_ID_LENGTH_MAX} printable characters",
                               code="device_id_invalid")  # fmt: skip
        if not isinstance(self.device_public_key, bytes) or len(self.device_public_key) != PUBLIC_KEY_BYTES:
            raise InvalidInput(f"a device key is a raw Ed25519 public key of {PUBLIC_KEY_BYTES} bytes",
                               code="device_public_key_invalid")  # fmt: skip
        if self.client_id is not None and not _is_label(self.client_id, CLIENT_ID_LENGTH_MAX):
            raise InvalidInput(f"a client id is 1 to {CLIENT_ID_LENGTH_MAX} printable characters",
                               code="client_id_invalid")  # fmt: skip
        return valid_from

    def _check_limits(self) -> None:
        limits = self.periodic_limits
        if not isinstance(limits, tuple) or not 1 <= len(limits) <= PERIODIC_LIMITS_MAX:
            raise InvalidInput(f"a mandate has 1 to {PERIODIC_LIMITS_MAX} periodic limits",
                               code="mandate_periodic_limits_invalid")  # fmt: skip
        for limit in limits:
            if not isinstance(limit, PeriodicLimit):
                raise InvalidInput(
                    "periodic limits are PeriodicLimit values", code="mandate_periodic_limits_invalid"
                )
            limit.check()
            if self.max_individual_minor > limit.amount_minor:
                raise InvalidInput("the individual maximum is above a periodic limit",
                                   code="mandate_individual_above_periodic")  # fmt: skip
        if len({(limit.period_type, limit.period_alignment) for limit in limits}) != len(limits):
            raise InvalidInput(
                "each period type and alignment appears once", code="mandate_periodic_limits_invalid"
            )


def _check_amount(amount_minor: object) -> None:
    if (
        not isinstance(amount_minor, int)
        or isinstance(amount_minor, bool)
        or not 0 < amount_minor <= INT64_MAX
    ):
        raise InvalidInput(
            "a mandate's amounts are positive integers of minor units", code="mandate_amount_invalid"
        )


def _check_validity(valid_from_ns: int, valid_to_ns: int, now_ns: int) -> None:
    for value in (valid_from_ns, valid_to_ns):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= INT64_MAX:
            raise InvalidInput(
                "validity times are nanoseconds since the epoch", code="mandate_validity_invalid"
            )
    if valid_to_ns <= valid_from_ns or valid_to_ns <= now_ns:
        raise InvalidInput("a mandate ends after it starts and after now", code="mandate_validity_invalid")
    if valid_to_ns - valid_from_ns > VALIDITY_S_MAX * NS_PER_SECOND:
        raise InvalidInput(f"a mandate lasts at most {VALIDITY_S_MAX // 86_400} days",
                           code="mandate_validity_too_long")  # fmt: skip


def _is_label(text: object, length_max: int) -> bool:
    return isinstance(text, str) and 1 <= len(text) <= length_max and all(32 <= ord(c) != 127 for c in text)


@dataclass(frozen=True, slots=True)
class Mandate:
    mandate_id: str
    party_id: int
    payer: Endpoint
    payee: Endpoint
    currency: str
    max_individual_minor: int
    periodic_limits: tuple[PeriodicLimit, ...]
    valid_from_ns: int
    valid_to_ns: int
    device_id: str
    device_public_key: bytes
    last_counter: int
    status: MandateStatus
    client_id: str | None
    created_ns: int
    updated_ns: int

    def status_at(self, now_ns: int) -> MandateStatus:
        """The status as a reader sees it: an authorised mandate past its end reads as expired."""
        if self.status is MandateStatus.AUTHORISED and now_ns >= self.valid_to_ns:
            return MandateStatus.EXPIRED
        return self.status

    def refusal(self, now_ns: int, amount_minor: int, currency: str) -> NetfinError | None:
        """Why this mandate cannot pay ``amount_minor`` now, before the periodic limits; None if it can."""
        status = self.status_at(now_ns)
        if status is MandateStatus.REVOKED:
            return Conflict("the mandate was revoked", code="mandate_revoked")
        if status is MandateStatus.EXPIRED:
            return Conflict("the mandate has expired", code="mandate_expired")
        if now_ns < self.valid_from_ns:
            return Conflict("the mandate is not valid yet", code="mandate_not_yet_valid")
        if currency != self.currency:
            return InvalidInput(f"the mandate pays in {self.currency}", code="mandate_currency_mismatch")
        if amount_minor > self.max_individual_minor:
            return LimitExceeded("the amount is above the mandate's maximum individual amount",
                                 code="mandate_individual_limit_exceeded")  # fmt: skip
        return None

    def periods(self, at_ns: int) -> list[Period]:
        """The current period of each periodic limit, in the limits' order."""
        return [limit.period(self.valid_from_ns, at_ns) for limit in self.periodic_limits]


@dataclass(frozen=True, slots=True)
class PeriodUsage:
    """How much of one periodic limit its current period has used."""

    limit: PeriodicLimit
    period: Period
    used_minor: int

    @property
    def remaining_minor(self) -> int:
        return self.limit.amount_minor - self.used_minor


def new_mandate_id(value: int) -> str:
    return "md-" + format_id(value)


def is_mandate_id(text: object) -> bool:
    return isinstance(text, str) and _MANDATE_ID.match(text) is not None


def payment_message(mandate_id: str, counter: int, amount_minor: int, currency: str, reference: str) -> bytes:
    """The exact bytes a device signs: length-prefixed fields after a domain tag."""
    fields: Sequence[bytes] = (
        PAYMENT_MESSAGE_TAG,
        mandate_id.encode(),
        struct.pack(">Q", counter),
        struct.pack(">Q", amount_minor),
        currency.encode(),
        reference.encode(),
    )
    return b"".join(struct.pack(">I", len(field)) + field for field in fields)


@dataclass(frozen=True, slots=True)
class DevicePaymentRequest:
    """A payment a device asks for under its mandate, signed with the device's key."""

    mandate_id: str
    counter: int
    amount_minor: int
    currency: str
    reference: str
    signature: bytes

    def check(self) -> None:
        if not is_mandate_id(self.mandate_id):
            raise NotFound("no such mandate", code="mandate_not_found")
        for value, code in ((self.counter, "device_counter_invalid"), (self.amount_minor, "amount_invalid")):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= INT64_MAX:
                raise InvalidInput("counters and amounts are positive 64-bit integers", code=code)
        if not is_currency(self.currency):
            raise InvalidInput(f"unknown ISO 4217 currency {self.currency!r}", code="currency_invalid")
        if (
            not isinstance(self.reference, str)
            or len(self.reference) > REFERENCE_LENGTH_MAX
            or any(not 32 <= ord(c) != 127 for c in self.reference)
        ):
            raise InvalidInput(f"a reference is at most {REFERENCE_LENGTH_MAX} printable characters",
                               code="reference_invalid")  # fmt: skip
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_BYTES:
            raise Unauthenticated("the device signature is not valid", code="device_signature_invalid")

    def message(self) -> bytes:
        return payment_message(
            self.mandate_id, self.counter, self.amount_minor, self.currency, self.reference
        )


class MandatePaymentState(enum.StrEnum):
    """What became of one signed device request (one counter value)."""

    RESERVED = "reserved"  # counted against the periodic limits; the order has no final outcome yet
    SETTLED = "settled"  # the order settled; the usage stays counted
    RELEASED = "released"  # the order was rejected or expired; the usage was given back
    REFUSED = "refused"  # the mandate refused it; nothing was counted


@dataclass(frozen=True, slots=True)
class MandatePayment:
    mandate_id: str
    counter: int
    amount_minor: int
    currency: str
    reference: str
    state: MandatePaymentState
    reason: str | None
    order_id: str | None
    requested_ns: int
    updated_ns: int
