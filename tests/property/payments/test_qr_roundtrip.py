"""Properties of EMV merchant-presented QR payloads.

- Every valid ``MerchantQr`` generates a payload of at most 512 characters
  (or is refused as too long) that parses back to an equal value, with the
  amount in exact minor units.
- Changing any one character of a valid ASCII payload is always refused:
  a one-byte change is a burst of at most 8 bits, which CRC-16 always detects.
  (The one change that is not a change: the case of a hex letter in the CRC.)
- Arbitrary text, and valid payloads cut short, are refused with an
  ``InvalidInput`` and never with any other exception.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from netfin.core.errors import InvalidInput
from netfin.core.money import currency_exponent
from netfin.payments.model import format_amount
from netfin.payments.qr import (
    AMOUNT_LENGTH_MAX,
    PAYLOAD_LENGTH_MAX,
    AdditionalData,
    MerchantLanguage,
    MerchantQr,
    NetworkAccount,
    PointOfInitiation,
    Template,
    TipIndicator,
    generate_payload,
    parse_payload,
)

COMMON = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
CURRENCIES = st.sampled_from(["CNY", "JPY", "BHD", "USD", "EUR", "KWD", "SGD", "THB", "INR", "CLF"])


def text(size_max: int, alphabet: st.SearchStrategy[str] = COMMON) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=1, max_size=size_max)


def sub_ids(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


def pairs(low: int, high: int, size_max: int) -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    entries = st.dictionaries(sub_ids(low, high), text(12), max_size=size_max)
    return entries.map(lambda found: tuple(found.items()))


def templates(low: int, high: int) -> st.SearchStrategy[Template]:
    return st.builds(Template, sub_ids(low, high), text(20), pairs(1, 99, 3))


@st.composite
def amounts(draw: st.DrawFn, currency: str) -> int:
    """Positive minor units whose decimal text fits in 13 characters."""
    digits_max = AMOUNT_LENGTH_MAX - (1 if currency_exponent(currency) else 0)
    minor = draw(st.integers(1, 10**digits_max - 1))
    assume(len(format_amount(minor, currency)) <= AMOUNT_LENGTH_MAX)
    return minor


@st.composite
def merchant_qrs(draw: st.DrawFn, *, unicode_language: bool = True) -> MerchantQr:
    currency = draw(CURRENCIES)
    accounts = draw(
        st.lists(
            st.one_of(st.builds(NetworkAccount, sub_ids(2, 25), text(20)), templates(26, 51)),
            min_size=1,
            max_size=3,
            unique_by=lambda account: account.tag,
        )
    )
    tip = draw(st.none() | st.sampled_from(TipIndicator))
    language_text = st.text(
        st.characters(categories=("L", "N", "P"), include_characters=" ") if unicode_language else COMMON,
        min_size=1,
        max_size=10,
    )
    language = st.builds(MerchantLanguage, st.from_regex(r"[A-Za-z]{2}", fullmatch=True), language_text)
    additional = st.builds(
        AdditionalData,
        bill_number=text(25),  # one field at least: an empty template cannot be written
        reference_label=st.none() | text(25),
        terminal_label=st.none() | text(8),
        consumer_data_request=st.none() | st.sampled_from(["A", "ME", "AME", "EA"]),
        merchant_channel=st.none() | st.text(COMMON, min_size=3, max_size=3),
        other=pairs(12, 99, 1),
    )
    return MerchantQr(
        merchant_accounts=tuple(accounts),
        merchant_category_code=draw(st.from_regex(r"[0-9]{4}", fullmatch=True)),
        currency=currency,
        country_code=draw(st.from_regex(r"[A-Z]{2}", fullmatch=True)),
        merchant_name=draw(text(25)),
        merchant_city=draw(text(15)),
        point_of_initiation=draw(st.none() | st.sampled_from(PointOfInitiation)),
        amount_minor=draw(st.none() | amounts(currency)),
        tip_indicator=tip,
        convenience_fee_fixed_minor=draw(amounts(currency)) if tip is TipIndicator.FIXED_FEE else None,
        convenience_fee_percentage=(
            Decimal(draw(st.integers(1, 9999))).scaleb(-2) if tip is TipIndicator.PERCENTAGE_FEE else None
        ),
        postal_code=draw(st.none() | text(10)),
        additional_data=draw(st.none() | additional),
        language=draw(st.none() | language),
        unreserved_templates=tuple(draw(st.lists(templates(80, 99), max_size=1))),
        reserved_fields=draw(pairs(65, 79, 1)),
    )


def generate_or_none(qr: MerchantQr) -> str | None:
    """The payload, or None where the fields together pass 512 characters (a named refusal)."""
    try:
        return generate_payload(qr)
    except InvalidInput as error:
        assert error.code == "qr_payload_too_long"
        return None


@settings(max_examples=200, deadline=None)
@given(merchant_qrs())
def test_generate_then_parse_is_identity(qr: MerchantQr) -> None:
    payload = generate_or_none(qr)
    assume(payload is not None)
    assert payload is not None
    assert len(payload) <= PAYLOAD_LENGTH_MAX
    assert payload.startswith("000201") and payload[-8:-4] == "6304"
    parsed = parse_payload(payload)
    assert parsed == qr
    assert parsed.amount_minor == qr.amount_minor
    assert generate_payload(parsed) == payload


@settings(max_examples=150, deadline=None)
@given(merchant_qrs(unicode_language=False), st.data())
def test_any_single_character_change_is_refused(qr: MerchantQr, data: st.DataObject) -> None:
    payload = generate_or_none(qr)
    assume(payload is not None)
    assert payload is not None
    position = data.draw(st.integers(0, len(payload) - 1))
    original = payload[position]
    in_crc = position >= len(payload) - 4
    replacement = data.draw(
        COMMON.filter(lambda c: (c.upper() != original.upper()) if in_crc else (c != original))
    )
    changed = payload[:position] + replacement + payload[position + 1 :]
    try:
        parse_payload(changed)
    except InvalidInput:
        return
    raise AssertionError(f"a changed payload was accepted: {changed!r}")


@settings(max_examples=150, deadline=None)
@given(merchant_qrs(), st.data())
def test_cut_payloads_are_refused(qr: MerchantQr, data: st.DataObject) -> None:
    payload = generate_or_none(qr)
    assume(payload is not None)
    assert payload is not None
    end = data.draw(st.integers(0, len(payload) - 1))
    try:
        parse_payload(payload[:end])
    except InvalidInput:
        return
    raise AssertionError(f"a cut payload was accepted: {payload[:end]!r}")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600) | st.from_regex(r"(?:[0-9]{4}[ -~]{0,12}){1,12}", fullmatch=True))
def test_arbitrary_text_is_refused_cleanly(payload: str) -> None:
    try:
        parse_payload(payload)
    except InvalidInput as error:
        assert error.code.startswith("qr_")
