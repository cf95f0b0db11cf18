"""EMV® merchant-presented QR codes: generate and parse the payload text.

The payload follows the EMV® QR Code Specification for Payment Systems,
Merchant-Presented Mode: a string of data objects, each a two-digit ID, a
two-digit length and a value. Some IDs hold templates, whose value is itself
such a string. The payload starts with the payload format indicator (ID 00,
"01") and ends with the CRC (ID 63): CRC-16/CCITT-FALSE (polynomial 0x1021,
initial value 0xFFFF, no reflection, no final XOR) over the UTF-8 bytes of
everything before the CRC value, "6304" included, as four hex digits. The
standard library's ``binascii.crc_hqx(data, 0xFFFF)`` is exactly that CRC,
so no third-party CRC package is needed.

Invariants:
- Money is exact: the transaction amount (54) and the fixed convenience fee
  (56) become integer minor units of the currency named by ID 53 (an ISO 4217
  numeric code, mapped to the alphabetic code by the ``iso4217`` package). A
  value with more decimals than the currency has is refused, never rounded;
  the percentage fee (57) is a ``Decimal``.
- Lengths count characters, not bytes (the specification's rule). Values are
  in the specification's common character set (printable ASCII), except the
  alternate-language name and city (template 64), which may be any printable
  Unicode.
- ``parse_payload`` either returns a fully valid ``MerchantQr`` or raises
  ``InvalidInput`` with a ``qr_*`` code; ``generate_payload`` of any
  ``MerchantQr`` parses back to an equal value. Generated payloads list data
  objects by ascending ID with the CRC last; the parser accepts any order
  after ID 00.
- IDs 02-25 are primitive network account values (a card network's merchant
  PAN, for example); IDs 26-51 and 80-99 are templates whose sub-ID 00 is a
  globally unique identifier. IDs 65-79 are reserved for future use: a
  conforming payload has none, but a parsed one keeps them verbatim.

Refusal codes: ``qr_payload_too_long``, ``qr_characters_invalid``,
``qr_id_not_numeric``, ``qr_length_not_numeric``, ``qr_length_invalid``,
``qr_tlv_truncated``, ``qr_crc_not_last``, ``qr_crc_mismatch``,
``qr_tag_duplicate``, ``qr_tag_missing``, ``qr_payload_format_invalid``,
``qr_merchant_account_missing``, ``qr_amount_invalid``,
``qr_currency_unknown``, ``qr_value_invalid``.

Public names: ``MerchantQr``, ``NetworkAccount``, ``Template``,
``AdditionalData``, ``MerchantLanguage``, ``PointOfInitiation``,
``TipIndicator``, ``generate_payload``, ``parse_payload``, ``compute_crc``,
``currency_from_numeric``, ``currency_to_numeric``, ``PAYLOAD_LENGTH_MAX``.
"""

from __future__ import annotations

import binascii
import enum
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import TypeVar

import iso4217

from netfin.core.errors import InvalidInput, invariant
from netfin.core.money import currency_exponent, is_currency
from netfin.payments.model import format_amount

PAYLOAD_LENGTH_MAX = 512
VALUE_LENGTH_MAX = 99
AMOUNT_LENGTH_MAX = 13
PERCENTAGE_LENGTH_MAX = 5
GLOBALLY_UNIQUE_IDENTIFIER_LENGTH_MAX = 32
MERCHANT_NAME_LENGTH_MAX = 25
MERCHANT_CITY_LENGTH_MAX = 15
POSTAL_CODE_LENGTH_MAX = 10
PAYLOAD_FORMAT_INDICATOR = "01"
CRC_LENGTH = 4

_PAYLOAD_FORMAT = "00"
_POINT_OF_INITIATION = "01"
_MERCHANT_CATEGORY = "52"
_CURRENCY = "53"
_AMOUNT = "54"
_TIP_INDICATOR = "55"
_FEE_FIXED = "56"
_FEE_PERCENTAGE = "57"
_COUNTRY = "58"
_MERCHANT_NAME = "59"
_MERCHANT_CITY = "60"
_POSTAL_CODE = "61"
_ADDITIONAL_DATA = "62"
_CRC = "63"
_LANGUAGE = "64"
_MANDATORY = (_PAYLOAD_FORMAT, _MERCHANT_CATEGORY, _CURRENCY, _COUNTRY, _MERCHANT_NAME, _MERCHANT_CITY)

# ID ranges, inclusive, as integers.
_NETWORK_ACCOUNT_IDS = range(2, 26)
_ACCOUNT_TEMPLATE_IDS = range(26, 52)
_RESERVED_IDS = range(65, 80)
_UNRESERVED_TEMPLATE_IDS = range(80, 100)

_DIGITS = re.compile(r"[0-9]+")
_AMOUNT_TEXT = re.compile(r"([0-9]+)(?:\.([0-9]*))?")
_PERCENTAGE_TEXT = re.compile(r"[0-9]{1,2}(?:\.[0-9]{1,2})?")
_COUNTRY_CODE = re.compile(r"[A-Z]{2}")
_LANGUAGE_CODE = re.compile(r"[A-Za-z]{2}")
_PERCENTAGE_MIN = Decimal("0.01")
_PERCENTAGE_MAX = Decimal("99.99")
_HUNDREDTH = Decimal("0.01")
_E = TypeVar("_E", bound=enum.StrEnum)


class PointOfInitiation(enum.StrEnum):
    """ID 01: a static code is shown for many payments, a dynamic one for one."""

    STATIC = "11"
    DYNAMIC = "12"


class TipIndicator(enum.StrEnum):
    """ID 55: how the consumer's app adds a tip or convenience fee."""

    PROMPT = "01"  # the app asks the consumer for a tip
    FIXED_FEE = "02"  # ID 56 holds a fixed fee
    PERCENTAGE_FEE = "03"  # ID 57 holds a percentage of the amount


def _refuse(message: str, code: str) -> InvalidInput:
    return InvalidInput(message, code=code)


def _is_common(text: str) -> bool:
    """The specification's common character set: printable ASCII, space included."""
    return all(" " <= character <= "~" for character in text)


def _check_text(value: object, name: str, length_max: int, *, unicode: bool = False) -> None:
    if not isinstance(value, str):
        raise _refuse(f"{name} must be text", "qr_value_invalid")
    if not 1 <= len(value) <= length_max:
        raise _refuse(f"{name} must be 1 to {length_max} characters, not {len(value)}", "qr_length_invalid")
    if not (value.isprintable() if unicode else _is_common(value)):
        raise _refuse(f"{name} has characters outside the allowed set", "qr_characters_invalid")


def _check_id(value: object, name: str, allowed: range) -> None:
    if not isinstance(value, str) or not _DIGITS.fullmatch(value) or len(value) != 2:
        raise _refuse(f"{name} {value!r} must be two digits", "qr_id_not_numeric")
    if int(value) not in allowed:
        raise _refuse(
            f"{name} {value} must be from {allowed.start:02d} to {allowed.stop - 1:02d}", "qr_value_invalid"
        )


def _sorted_fields(
    fields: tuple[tuple[str, str], ...], name: str, allowed: range
) -> tuple[tuple[str, str], ...]:
    """Validate (ID, value) pairs and return them ordered by ID; IDs must be unique."""
    if not isinstance(fields, tuple):
        raise _refuse(f"{name} must be a tuple of (ID, value) pairs", "qr_value_invalid")
    seen: set[str] = set()
    for pair in fields:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise _refuse(f"{name} must be a tuple of (ID, value) pairs", "qr_value_invalid")
        _check_id(pair[0], f"{name} ID", allowed)
        _check_text(pair[1], f"{name} {pair[0]}", VALUE_LENGTH_MAX)
        if pair[0] in seen:
            raise _refuse(f"{name} repeats ID {pair[0]}", "qr_tag_duplicate")
        seen.add(pair[0])
    return tuple(sorted(fields))


def _normalise(obj: object, attribute: str, value: object) -> None:
    """Store a normalised value (ordered, enum-typed) on a frozen dataclass in its ``__post_init__``."""
    object.__setattr__(obj, attribute, value)


def _tlv(tag: str, value: str) -> str:
    invariant(1 <= len(value) <= VALUE_LENGTH_MAX, f"data object {tag} has {len(value)} characters")
    return f"{tag}{len(value):02d}{value}"


def _check_template_length(content: str, name: str) -> None:
    if len(content) > VALUE_LENGTH_MAX:
        raise _refuse(
            f"{name} encodes to {len(content)} characters; at most {VALUE_LENGTH_MAX}", "qr_length_invalid"
        )


@dataclass(frozen=True, slots=True)
class NetworkAccount:
    """IDs 02-25: a payment network's own merchant identifier, as one primitive value."""

    tag: str
    value: str

    def __post_init__(self) -> None:
        _check_id(self.tag, "network account ID", _NETWORK_ACCOUNT_IDS)
        _check_text(self.value, f"network account {self.tag}", VALUE_LENGTH_MAX)

    def encode(self) -> str:
        return _tlv(self.tag, self.value)


@dataclass(frozen=True, slots=True)
class Template:
    """A template with a globally unique identifier (sub-ID 00) and further sub-IDs 01-99.

    Used for merchant account information (IDs 26-51) and unreserved
    templates (IDs 80-99). ``fields`` is normalised to ascending sub-ID.
    """

    tag: str
    globally_unique_identifier: str
    fields: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        _check_id(self.tag, "template ID", range(100))
        _check_text(
            self.globally_unique_identifier,
            f"template {self.tag} globally unique identifier",
            GLOBALLY_UNIQUE_IDENTIFIER_LENGTH_MAX,
        )
        _normalise(self, "fields", _sorted_fields(self.fields, f"template {self.tag}", range(1, 100)))
        _check_template_length(self.content(), f"template {self.tag}")

    def content(self) -> str:
        return _tlv("00", self.globally_unique_identifier) + "".join(_tlv(k, v) for k, v in self.fields)

    def encode(self) -> str:
        return _tlv(self.tag, self.content())


# Sub-IDs of the additional data field template (ID 62): attribute and maximum length.
_ADDITIONAL_DATA_FIELDS: dict[str, tuple[str, int]] = {
    "01": ("bill_number", 25),
    "02": ("mobile_number", 25),
    "03": ("store_label", 25),
    "04": ("loyalty_number", 25),
    "05": ("reference_label", 25),
    "06": ("customer_label", 25),
    "07": ("terminal_label", 25),
    "08": ("purpose", 25),
    "09": ("consumer_data_request", 3),
    "10": ("merchant_tax_id", 20),
    "11": ("merchant_channel", 3),
}
_ADDITIONAL_DATA_OTHER_IDS = range(12, 100)
_CONSUMER_DATA_REQUESTS = frozenset("AME")  # address, mobile number, email


@dataclass(frozen=True, slots=True)
class AdditionalData:
    """ID 62. ``other`` holds sub-IDs 12-99 (reserved and payment-system specific) verbatim.

    A value of "***" asks the consumer's app to prompt for it (bill number,
    reference label and the like).
    """

    bill_number: str | None = None
    mobile_number: str | None = None
    store_label: str | None = None
    loyalty_number: str | None = None
    reference_label: str | None = None
    customer_label: str | None = None
    terminal_label: str | None = None
    purpose: str | None = None
    consumer_data_request: str | None = None
    merchant_tax_id: str | None = None
    merchant_channel: str | None = None
    other: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for sub_id, (attribute, length_max) in _ADDITIONAL_DATA_FIELDS.items():
            value = getattr(self, attribute)
            if value is not None:
                _check_text(value, f"additional data {sub_id} ({attribute})", length_max)
        request = self.consumer_data_request
        if request is not None and (
            set(request) - _CONSUMER_DATA_REQUESTS or len(set(request)) != len(request)
        ):
            raise _refuse("consumer data request is a set of the letters A, M and E", "qr_value_invalid")
        if self.merchant_channel is not None and len(self.merchant_channel) != 3:
            raise _refuse("merchant channel is exactly 3 characters", "qr_length_invalid")
        _normalise(self, "other", _sorted_fields(self.other, "additional data", _ADDITIONAL_DATA_OTHER_IDS))
        content = self.content()
        if not content:
            raise _refuse("additional data template is empty", "qr_length_invalid")
        _check_template_length(content, "additional data template")

    def content(self) -> str:
        parts = [
            _tlv(sub_id, value)
            for sub_id, (attribute, _) in _ADDITIONAL_DATA_FIELDS.items()
            if (value := getattr(self, attribute)) is not None
        ]
        return "".join(parts) + "".join(_tlv(k, v) for k, v in self.other)


@dataclass(frozen=True, slots=True)
class MerchantLanguage:
    """ID 64: the merchant's name (and city) in another language; ``other`` holds sub-IDs 03-99."""

    language: str
    merchant_name: str
    merchant_city: str | None = None
    other: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.language, str) or not _LANGUAGE_CODE.fullmatch(self.language):
            raise _refuse("language preference is a two-letter ISO 639-1 code", "qr_value_invalid")
        _check_text(self.merchant_name, "alternate merchant name", MERCHANT_NAME_LENGTH_MAX, unicode=True)
        if self.merchant_city is not None:
            _check_text(self.merchant_city, "alternate merchant city", MERCHANT_CITY_LENGTH_MAX, unicode=True)
        _normalise(self, "other", _sorted_fields(self.other, "language template", range(3, 100)))
        _check_template_length(self.content(), "language template")

    def content(self) -> str:
        parts = [_tlv("00", self.language), _tlv("01", self.merchant_name)]
        if self.merchant_city is not None:
            parts.append(_tlv("02", self.merchant_city))
        return "".join(parts) + "".join(_tlv(k, v) for k, v in self.other)


@dataclass(frozen=True, slots=True)
class MerchantQr:
    """One merchant-presented payload, decoded. Amounts are integer minor units of ``currency``."""

    merchant_accounts: tuple[NetworkAccount | Template, ...]
    merchant_category_code: str
    currency: str
    country_code: str
    merchant_name: str
    merchant_city: str
    point_of_initiation: PointOfInitiation | None = None
    amount_minor: int | None = None
    tip_indicator: TipIndicator | None = None
    convenience_fee_fixed_minor: int | None = None
    convenience_fee_percentage: Decimal | None = None
    postal_code: str | None = None
    additional_data: AdditionalData | None = None
    language: MerchantLanguage | None = None
    unreserved_templates: tuple[Template, ...] = ()
    reserved_fields: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        self._check_accounts()
        if not isinstance(self.merchant_category_code, str) or not re.fullmatch(
            r"[0-9]{4}", self.merchant_category_code
        ):
            raise _refuse("merchant category code is 4 digits (ISO 18245)", "qr_value_invalid")
        if not isinstance(self.currency, str) or not is_currency(self.currency):
            raise _refuse(f"unknown ISO 4217 currency {self.currency!r}", "qr_currency_unknown")
        if not isinstance(self.country_code, str) or not _COUNTRY_CODE.fullmatch(self.country_code):
            raise _refuse("country code is two capital letters (ISO 3166-1 alpha-2)", "qr_value_invalid")
        _check_text(self.merchant_name, "merchant name", MERCHANT_NAME_LENGTH_MAX)
        _check_text(self.merchant_city, "merchant city", MERCHANT_CITY_LENGTH_MAX)
        if self.postal_code is not None:
            _check_text(self.postal_code, "postal code", POSTAL_CODE_LENGTH_MAX)
        if self.point_of_initiation is not None:
            _normalise(self, "point_of_initiation", _enum(PointOfInitiation, self.point_of_initiation))
        if self.amount_minor is not None:
            _check_amount(self.amount_minor, self.currency, "transaction amount")
        self._check_tip()
        if self.additional_data is not None and not isinstance(self.additional_data, AdditionalData):
            raise _refuse("additional_data must be an AdditionalData", "qr_value_invalid")
        if self.language is not None and not isinstance(self.language, MerchantLanguage):
            raise _refuse("language must be a MerchantLanguage", "qr_value_invalid")
        self._check_extensions()

    def _check_accounts(self) -> None:
        accounts = self.merchant_accounts
        if not isinstance(accounts, tuple) or not accounts:
            raise _refuse(
                "at least one merchant account (IDs 02-51) is needed", "qr_merchant_account_missing"
            )
        for account in accounts:
            if isinstance(account, NetworkAccount):
                continue
            if not isinstance(account, Template) or int(account.tag) not in _ACCOUNT_TEMPLATE_IDS:
                raise _refuse(
                    "merchant accounts are NetworkAccount (IDs 02-25) or Template (IDs 26-51)",
                    "qr_value_invalid",
                )
        _check_unique_tags([account.tag for account in accounts], "merchant account")
        _normalise(self, "merchant_accounts", tuple(sorted(accounts, key=lambda account: account.tag)))

    def _check_tip(self) -> None:
        indicator = self.tip_indicator
        if indicator is not None:
            indicator = _enum(TipIndicator, indicator)
            _normalise(self, "tip_indicator", indicator)
        fixed, percentage = self.convenience_fee_fixed_minor, self.convenience_fee_percentage
        if (fixed is not None) != (indicator is TipIndicator.FIXED_FEE):
            raise _refuse(
                "a fixed convenience fee goes with tip indicator 02, and only with it", "qr_value_invalid"
            )
        if (percentage is not None) != (indicator is TipIndicator.PERCENTAGE_FEE):
            raise _refuse("a percentage fee goes with tip indicator 03, and only with it", "qr_value_invalid")
        if fixed is not None:
            _check_amount(fixed, self.currency, "convenience fee")
        if percentage is not None:
            _check_percentage(percentage)

    def _check_extensions(self) -> None:
        templates = self.unreserved_templates
        if not isinstance(templates, tuple) or not all(
            isinstance(template, Template) and int(template.tag) in _UNRESERVED_TEMPLATE_IDS
            for template in templates
        ):
            raise _refuse("unreserved templates are Templates with IDs 80-99", "qr_value_invalid")
        _check_unique_tags([template.tag for template in templates], "unreserved template")
        _normalise(self, "unreserved_templates", tuple(sorted(templates, key=lambda template: template.tag)))
        _normalise(self, "reserved_fields", _sorted_fields(self.reserved_fields, "reserved", _RESERVED_IDS))


def _check_unique_tags(tags: list[str], name: str) -> None:
    if len(set(tags)) != len(tags):
        raise _refuse(f"{name} IDs repeat: {sorted(tags)}", "qr_tag_duplicate")


def _enum(kind: type[_E], value: object) -> _E:
    if not isinstance(value, str):
        raise _refuse(f"{value!r} is not a {kind.__name__} value", "qr_value_invalid")
    try:
        return kind(value)
    except ValueError:
        raise _refuse(f"{value!r} is not a {kind.__name__} value", "qr_value_invalid") from None


def _check_amount(minor: object, currency: str, name: str) -> None:
    if type(minor) is not int or minor <= 0:
        raise _refuse(f"{name} must be a positive integer of minor units", "qr_amount_invalid")
    if len(format_amount(minor, currency)) > AMOUNT_LENGTH_MAX:
        raise _refuse(f"{name} does not fit in {AMOUNT_LENGTH_MAX} characters", "qr_amount_invalid")


def _check_percentage(value: object) -> None:
    if (
        not isinstance(value, Decimal)
        or not value.is_finite()
        or not _PERCENTAGE_MIN <= value <= _PERCENTAGE_MAX
        or value != value.quantize(_HUNDREDTH)
    ):
        raise _refuse("percentage fee is a Decimal from 0.01 to 99.99, in hundredths", "qr_value_invalid")


# Currencies ----------------------------------------------------------------


@lru_cache(maxsize=1)
def _numeric_to_alpha() -> dict[str, str]:
    return {f"{currency.number:03d}": currency.code for currency in iso4217.Currency}


def currency_to_numeric(currency: str) -> str:
    """ISO 4217 alphabetic code -> the three-digit numeric code ID 53 carries ("CNY" -> "156")."""
    if not isinstance(currency, str) or not is_currency(currency):
        raise _refuse(f"unknown ISO 4217 currency {currency!r}", "qr_currency_unknown")
    return f"{iso4217.Currency(currency).number:03d}"


def currency_from_numeric(numeric: str) -> str:
    """Three-digit ISO 4217 numeric code -> alphabetic code; refuses codes without minor units."""
    alpha = _numeric_to_alpha().get(numeric) if isinstance(numeric, str) else None
    if alpha is None or not is_currency(alpha):
        raise _refuse(f"unknown ISO 4217 numeric currency {numeric!r}", "qr_currency_unknown")
    return alpha


# Generation ----------------------------------------------------------------


def compute_crc(text: str) -> str:
    """CRC-16/CCITT-FALSE of the UTF-8 text as four upper-case hex digits."""
    return f"{binascii.crc_hqx(text.encode('utf-8'), 0xFFFF):04X}"


def generate_payload(qr: MerchantQr) -> str:
    """The payload text: data objects by ascending ID, the CRC last."""
    parts = [_tlv(_PAYLOAD_FORMAT, PAYLOAD_FORMAT_INDICATOR)]
    if qr.point_of_initiation is not None:
        parts.append(_tlv(_POINT_OF_INITIATION, qr.point_of_initiation.value))
    parts.extend(account.encode() for account in qr.merchant_accounts)
    parts.append(_tlv(_MERCHANT_CATEGORY, qr.merchant_category_code))
    parts.append(_tlv(_CURRENCY, currency_to_numeric(qr.currency)))
    if qr.amount_minor is not None:
        parts.append(_tlv(_AMOUNT, format_amount(qr.amount_minor, qr.currency)))
    if qr.tip_indicator is not None:
        parts.append(_tlv(_TIP_INDICATOR, qr.tip_indicator.value))
    if qr.convenience_fee_fixed_minor is not None:
        parts.append(_tlv(_FEE_FIXED, format_amount(qr.convenience_fee_fixed_minor, qr.currency)))
    if qr.convenience_fee_percentage is not None:
        parts.append(_tlv(_FEE_PERCENTAGE, f"{qr.convenience_fee_percentage.quantize(_HUNDREDTH):f}"))
    parts.append(_tlv(_COUNTRY, qr.country_code))
    parts.append(_tlv(_MERCHANT_NAME, qr.merchant_name))
    parts.append(_tlv(_MERCHANT_CITY, qr.merchant_city))
    if qr.postal_code is not None:
        parts.append(_tlv(_POSTAL_CODE, qr.postal_code))
    if qr.additional_data is not None:
        parts.append(_tlv(_ADDITIONAL_DATA, qr.additional_data.content()))
    if qr.language is not None:
        parts.append(_tlv(_LANGUAGE, qr.language.content()))
    parts.extend(_tlv(tag, value) for tag, value in qr.reserved_fields)
    parts.extend(template.encode() for template in qr.unreserved_templates)
    body = "".join(parts) + _CRC + f"{CRC_LENGTH:02d}"
    if len(body) + CRC_LENGTH > PAYLOAD_LENGTH_MAX:
        raise _refuse(
            f"payload would be {len(body) + CRC_LENGTH} characters; at most {PAYLOAD_LENGTH_MAX}",
            "qr_payload_too_long",
        )
    return body + compute_crc(body)


# Parsing -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Element:
    tag: str
    value: str


def _split(text: str, where: str) -> list[_Element]:
    """Cut text into data objects; every character must belong to one."""
    elements: list[_Element] = []
    position = 0
    while position < len(text):
        if position + 4 > len(text):
            raise _refuse(f"{where}: the data object at {position} is cut short", "qr_tlv_truncated")
        tag, length_text = text[position : position + 2], text[position + 2 : position + 4]
        if not _DIGITS.fullmatch(tag):
            raise _refuse(f"{where}: ID {tag!r} at {position} is not two digits", "qr_id_not_numeric")
        if not _DIGITS.fullmatch(length_text):
            raise _refuse(
                f"{where}: length {length_text!r} of ID {tag} is not two digits", "qr_length_not_numeric"
            )
        length = int(length_text)
        if length == 0:
            raise _refuse(f"{where}: ID {tag} has length 00", "qr_length_invalid")
        end = position + 4 + length
        if end > len(text):
            raise _refuse(f"{where}: ID {tag} claims {length} characters; fewer remain", "qr_tlv_truncated")
        elements.append(_Element(tag, text[position + 4 : end]))
        position = end
    return elements


def _index(elements: list[_Element], where: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for element in elements:
        if element.tag in values:
            raise _refuse(f"{where}: ID {element.tag} appears twice", "qr_tag_duplicate")
        values[element.tag] = element.value
    return values


def _check_crc(payload: str, elements: list[_Element]) -> None:
    crc_count = sum(element.tag == _CRC for element in elements)
    if crc_count == 0:
        raise _refuse("the CRC (ID 63) is missing", "qr_tag_missing")
    if elements[-1].tag != _CRC:
        raise _refuse("the CRC (ID 63) must be the last data object", "qr_crc_not_last")
    if crc_count > 1:
        raise _refuse("the CRC (ID 63) appears twice", "qr_tag_duplicate")
    value = elements[-1].value
    if len(value) != CRC_LENGTH:
        raise _refuse(f"the CRC (ID 63) is {CRC_LENGTH} characters, not {len(value)}", "qr_length_invalid")
    expected = compute_crc(payload[:-CRC_LENGTH])
    # Hex digits are compared without regard to case: the number is the same.
    if value.upper() != expected:
        raise _refuse(f"CRC {value!r} does not match the payload ({expected})", "qr_crc_mismatch")


def parse_payload(payload: str) -> MerchantQr:
    """Decode and validate a merchant-presented payload; refusals raise ``InvalidInput``."""
    if not isinstance(payload, str):
        raise _refuse("a payload is text", "qr_characters_invalid")
    if len(payload) > PAYLOAD_LENGTH_MAX:
        raise _refuse(
            f"payload is {len(payload)} characters; at most {PAYLOAD_LENGTH_MAX}", "qr_payload_too_long"
        )
    if not payload.isprintable():
        raise _refuse("payload has control or unprintable characters", "qr_characters_invalid")
    elements = _split(payload, "payload")
    _check_crc(payload, elements)
    fields = _index(elements[:-1], "payload")
    for tag in _MANDATORY:
        if tag not in fields:
            raise _refuse(f"mandatory ID {tag} is missing", "qr_tag_missing")
    if elements[0].tag != _PAYLOAD_FORMAT or fields[_PAYLOAD_FORMAT] != PAYLOAD_FORMAT_INDICATOR:
        raise _refuse('the payload must start with ID 00 of value "01"', "qr_payload_format_invalid")
    return _decode(fields)


def _decode(fields: dict[str, str]) -> MerchantQr:
    currency = currency_from_numeric(fields[_CURRENCY])
    accounts: list[NetworkAccount | Template] = []
    unreserved: list[Template] = []
    reserved: list[tuple[str, str]] = []
    for tag, value in fields.items():
        number = int(tag)
        if number in _NETWORK_ACCOUNT_IDS:
            accounts.append(NetworkAccount(tag, value))
        elif number in _ACCOUNT_TEMPLATE_IDS:
            accounts.append(_decode_template(tag, value))
        elif number in _UNRESERVED_TEMPLATE_IDS:
            unreserved.append(_decode_template(tag, value))
        elif number in _RESERVED_IDS:
            reserved.append((tag, value))
    percentage = fields.get(_FEE_PERCENTAGE)
    return MerchantQr(
        merchant_accounts=tuple(accounts),
        merchant_category_code=fields[_MERCHANT_CATEGORY],
        currency=currency,
        country_code=fields[_COUNTRY],
        merchant_name=fields[_MERCHANT_NAME],
        merchant_city=fields[_MERCHANT_CITY],
        point_of_initiation=_optional_enum(PointOfInitiation, fields.get(_POINT_OF_INITIATION)),
        amount_minor=_decode_amount(fields.get(_AMOUNT), currency, "transaction amount"),
        tip_indicator=_optional_enum(TipIndicator, fields.get(_TIP_INDICATOR)),
        convenience_fee_fixed_minor=_decode_amount(fields.get(_FEE_FIXED), currency, "convenience fee"),
        convenience_fee_percentage=None if percentage is None else _decode_percentage(percentage),
        postal_code=fields.get(_POSTAL_CODE),
        additional_data=_decode_additional_data(fields.get(_ADDITIONAL_DATA)),
        language=_decode_language(fields.get(_LANGUAGE)),
        unreserved_templates=tuple(unreserved),
        reserved_fields=tuple(reserved),
    )


def _optional_enum(kind: type[_E], value: str | None) -> _E | None:
    return None if value is None else _enum(kind, value)


def _decode_template(tag: str, value: str) -> Template:
    fields = _index(_split(value, f"template {tag}"), f"template {tag}")
    identifier = fields.pop("00", None)
    if identifier is None:
        raise _refuse(f"template {tag} has no globally unique identifier (sub-ID 00)", "qr_tag_missing")
    return Template(tag, identifier, tuple(fields.items()))


def _decode_additional_data(value: str | None) -> AdditionalData | None:
    if value is None:
        return None
    fields = _index(_split(value, "additional data"), "additional data")
    named = {
        attribute: fields.pop(sub_id)
        for sub_id, (attribute, _) in _ADDITIONAL_DATA_FIELDS.items()
        if sub_id in fields
    }
    return AdditionalData(**named, other=tuple(fields.items()))


def _decode_language(value: str | None) -> MerchantLanguage | None:
    if value is None:
        return None
    fields = _index(_split(value, "language template"), "language template")
    for sub_id in ("00", "01"):
        if sub_id not in fields:
            raise _refuse(f"language template lacks mandatory sub-ID {sub_id}", "qr_tag_missing")
    language, name, city = fields.pop("00"), fields.pop("01"), fields.pop("02", None)
    return MerchantLanguage(language, name, city, tuple(fields.items()))


def _decode_amount(text: str | None, currency: str, name: str) -> int | None:
    """ "23.72" -> 2372 in a two-decimal currency, exactly; more decimals than the currency has is refused."""
    if text is None:
        return None
    if len(text) > AMOUNT_LENGTH_MAX:
        raise _refuse(f"{name} is at most {AMOUNT_LENGTH_MAX} characters", "qr_length_invalid")
    match = _AMOUNT_TEXT.fullmatch(text)
    if match is None:
        raise _refuse(f"{name} {text!r} is not digits with an optional '.'", "qr_amount_invalid")
    exponent = currency_exponent(currency)
    whole, decimals = match.group(1), match.group(2) or ""
    if len(decimals) > exponent:
        raise _refuse(f"{currency} has {exponent} decimal places; {text!r} has more", "qr_amount_invalid")
    minor = int(whole + decimals.ljust(exponent, "0"))
    if minor <= 0:
        raise _refuse(f"{name} must be more than zero", "qr_amount_invalid")
    return minor


def _decode_percentage(text: str) -> Decimal:
    if not _PERCENTAGE_TEXT.fullmatch(text):
        raise _refuse(f"percentage fee {text!r} is not a number like 5 or 12.50", "qr_value_invalid")
    return Decimal(text)
