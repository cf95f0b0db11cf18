"""Unit tests: EMV merchant-presented QR payloads (CRC, known payloads, exact amounts, refusals).

The CRC is checked three ways: against the catalogued check value of
CRC-16/CCITT-FALSE ("123456789" -> 0x29B1), against a bit-by-bit reference
implementation written here from the polynomial, and against the worked
example in EMVCo's Merchant-Presented Mode specification (CRC A13A), whose
language template holds Chinese text and so also fixes that lengths count
characters while the CRC runs over UTF-8 bytes.
"""

from __future__ import annotations

import binascii
from decimal import Decimal

import pytest

from netfin.core.errors import InvalidInput
from netfin.payments.qr import (
    PAYLOAD_LENGTH_MAX,
    AdditionalData,
    MerchantLanguage,
    MerchantQr,
    NetworkAccount,
    PointOfInitiation,
    Template,
    TipIndicator,
    compute_crc,
    currency_from_numeric,
    currency_to_numeric,
    generate_payload,
    parse_payload,
)


def reference_crc(data: bytes) -> int:
    """CRC-16/CCITT-FALSE bit by bit: polynomial 0x1021, init 0xFFFF, MSB first, no final XOR."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def with_crc(body: str) -> str:
    """Close a payload body (everything before "6304") with its CRC, computed by the reference."""
    head = body + "6304"
    return head + f"{reference_crc(head.encode('utf-8')):04X}"


# The worked example of the EMVCo specification: two merchant account templates
# (29, 31), a dynamic code, a prompted tip, additional data, a Chinese language
# template and an unreserved template (91).
EMVCO_EXAMPLE = (
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678"
    "520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京"
    "540523.7253031565502016233030412340603***0708A60086670902ME"
    "91320016A0112233449988770708123456786304A13A"
)

# A payload written out by hand, data object by data object, in ascending ID order.
HAND_BODY = (
    "000201"  # payload format indicator "01"
    "010211"  # static
    "2634"  # merchant account template 26, 34 characters:
    "0015com.example.pay"  #   globally unique identifier (15)
    "0111MERCHANT123"  #   sub-ID 01, merchant id (11)
    "52045812"  # MCC 5812 (restaurants)
    "5303156"  # CNY
    "540588.80"  # 88.80
    "5802CN"
    "5911NETFIN CAFE"
    "6008SHANGHAI"
    "6106200000"
    "6236"  # additional data, 36 characters:
    "0108INV-0001"  #   bill number
    "0505REF42"  #   reference label
    "0702T1"  #   terminal label
    "0805Lunch"  #   purpose
)
HAND_PAYLOAD = with_crc(HAND_BODY)
HAND_QR = MerchantQr(
    merchant_accounts=(Template("26", "com.example.pay", (("01", "MERCHANT123"),)),),
    merchant_category_code="5812",
    currency="CNY",
    country_code="CN",
    merchant_name="NETFIN CAFE",
    merchant_city="SHANGHAI",
    point_of_initiation=PointOfInitiation.STATIC,
    amount_minor=8880,
    postal_code="200000",
    additional_data=AdditionalData(
        bill_number="INV-0001", reference_label="REF42", terminal_label="T1", purpose="Lunch"
    ),
)

# A minimal valid body; each refusal test changes one thing in it.
BASE = "000201" + "0204VISA" + "52045411" + "5303156" + "5802CN" + "5904SHOP" + "6007BEIJING"


def refused(payload: str, code: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_payload(payload)
    assert caught.value.code == code, caught.value
    return caught.value


# -- CRC ---------------------------------------------------------------------------


def test_crc_check_value_of_ccitt_false() -> None:
    assert reference_crc(b"123456789") == 0x29B1
    assert binascii.crc_hqx(b"123456789", 0xFFFF) == 0x29B1
    assert compute_crc("123456789") == "29B1"


def test_crc_agrees_with_the_reference_on_the_example_payloads() -> None:
    for payload in (EMVCO_EXAMPLE, HAND_PAYLOAD):
        head = payload[:-4]
        assert compute_crc(head) == f"{reference_crc(head.encode('utf-8')):04X}" == payload[-4:]
    assert EMVCO_EXAMPLE.endswith("A13A")


def test_crc_is_four_upper_case_hex_digits() -> None:
    assert compute_crc("") == "FFFF"
    assert compute_crc("0002016304") == f"{reference_crc(b'0002016304'):04X}"
    assert all(len(compute_crc(str(n))) == 4 for n in range(200))


# -- known payloads ------------------------------------------------------------------


def test_emvco_example_parses() -> None:
    qr = parse_payload(EMVCO_EXAMPLE)
    assert qr.merchant_accounts == (
        Template("29", "D15600000000", (("05", "A93FO3230Q"),)),
        Template("31", "D15600000001", (("03", "12345678"),)),
    )
    assert qr.point_of_initiation is PointOfInitiation.DYNAMIC
    assert (qr.merchant_category_code, qr.currency, qr.amount_minor) == ("4111", "CNY", 2372)
    assert (qr.country_code, qr.merchant_name, qr.merchant_city) == ("CN", "BEST TRANSPORT", "BEIJING")
    assert qr.tip_indicator is TipIndicator.PROMPT
    assert qr.additional_data == AdditionalData(
        store_label="1234", customer_label="***", terminal_label="A6008667", consumer_data_request="ME"
    )
    assert qr.language == MerchantLanguage("ZH", "最佳运输", "北京")
    assert qr.unreserved_templates == (Template("91", "A011223344998877", (("07", "12345678"),)),)


def test_emvco_example_regenerates_in_id_order_and_parses_back() -> None:
    qr = parse_payload(EMVCO_EXAMPLE)
    payload = generate_payload(qr)
    assert payload != EMVCO_EXAMPLE  # re-ordered by ID, so a new CRC
    assert payload.startswith("000201010212") and payload[-8:-4] == "6304"
    assert parse_payload(payload) == qr


def test_hand_written_payload_parses_and_generates_byte_for_byte() -> None:
    assert parse_payload(HAND_PAYLOAD) == HAND_QR
    assert generate_payload(HAND_QR) == HAND_PAYLOAD


def test_crc_hex_digits_are_read_without_regard_to_case() -> None:
    lower = EMVCO_EXAMPLE[:-4] + "a13a"
    assert parse_payload(lower) == parse_payload(EMVCO_EXAMPLE)


def test_reserved_ids_are_kept_verbatim() -> None:
    qr = parse_payload(with_crc(BASE + "6503RFU"))
    assert qr.reserved_fields == (("65", "RFU"),)
    assert parse_payload(generate_payload(qr)) == qr


def test_network_account_is_a_primitive_value() -> None:
    qr = parse_payload(with_crc("000201" + "02164000123456789012" + BASE[14:]))
    assert qr.merchant_accounts == (NetworkAccount("02", "4000123456789012"),)


# -- currencies and exact amounts ------------------------------------------------------


@pytest.mark.parametrize(
    ("alpha", "numeric"), [("CNY", "156"), ("JPY", "392"), ("BHD", "048"), ("USD", "840")]
)
def test_currency_codes_map_both_ways(alpha: str, numeric: str) -> None:
    assert currency_to_numeric(alpha) == numeric
    assert currency_from_numeric(numeric) == alpha


@pytest.mark.parametrize(
    ("numeric", "amount", "minor"),
    [
        ("156", "23.72", 2372),
        ("156", "98.7", 9870),
        ("156", "98", 9800),
        ("156", "98.", 9800),
        ("156", "0.01", 1),
        ("156", "0023.72", 2372),
        ("392", "1500", 1500),
        ("048", "1.234", 1234),
        ("048", "1.2", 1200),
        ("156", "9999999999.99", 999_999_999_999),
    ],
)
def test_amount_is_exact_minor_units(numeric: str, amount: str, minor: int) -> None:
    body = BASE.replace("5303156", f"5303{numeric}") + f"54{len(amount):02d}{amount}"
    assert parse_payload(with_crc(body)).amount_minor == minor


@pytest.mark.parametrize(
    ("currency", "minor", "text"),
    [("CNY", 2372, "23.72"), ("CNY", 5, "0.05"), ("JPY", 1500, "1500"), ("BHD", 1234, "1.234")],
)
def test_amount_is_written_with_the_currency_decimals(currency: str, minor: int, text: str) -> None:
    qr = MerchantQr(
        (NetworkAccount("02", "VISA"),), "5411", currency, "CN", "SHOP", "BEIJING", amount_minor=minor
    )
    assert f"54{len(text):02d}{text}" in generate_payload(qr)
    assert parse_payload(generate_payload(qr)).amount_minor == minor


@pytest.mark.parametrize(
    ("numeric", "amount"),
    [
        ("156", "10.005"),  # more decimals than CNY has
        ("392", "1500.5"),  # JPY has none
        ("156", "0"),
        ("156", "0.00"),
        ("156", ".50"),
        ("156", "1e3"),
        ("156", "-1"),
        ("156", "+1"),
        ("156", "1,00"),
        ("156", "1.2.3"),
        ("156", " 12"),
        ("156", "١٢"),  # Arabic-Indic digits are digits to Python, not to the specification
    ],
)
def test_bad_amount_is_refused(numeric: str, amount: str) -> None:
    body = BASE.replace("5303156", f"5303{numeric}") + f"54{len(amount):02d}{amount}"
    refused(with_crc(body), "qr_amount_invalid")


def test_amount_longer_than_13_characters_is_refused() -> None:
    refused(with_crc(BASE + "541412345678901.00"), "qr_length_invalid")


@pytest.mark.parametrize("numeric", ["999", "959", "000", "15X", "1560"])
def test_unknown_currency_is_refused(numeric: str) -> None:
    """999 (XXX) and 959 (gold) exist in ISO 4217 but have no minor unit and cannot be paid."""
    body = BASE.replace("5303156", f"53{len(numeric):02d}{numeric}")
    refused(with_crc(body), "qr_currency_unknown")


def test_unknown_alphabetic_currency_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        MerchantQr((NetworkAccount("02", "VISA"),), "5411", "ZZZ", "CN", "SHOP", "BEIJING")
    assert caught.value.code == "qr_currency_unknown"


# -- tips and fees -----------------------------------------------------------------------


def test_fixed_and_percentage_fees_round_trip() -> None:
    fixed = parse_payload(with_crc(BASE + "550202" + "56041.50"))
    assert (fixed.tip_indicator, fixed.convenience_fee_fixed_minor) == (TipIndicator.FIXED_FEE, 150)
    percent = parse_payload(with_crc(BASE + "550203" + "57045.25"))
    assert (percent.tip_indicator, percent.convenience_fee_percentage) == (
        TipIndicator.PERCENTAGE_FEE,
        Decimal("5.25"),
    )
    for qr in (fixed, percent):
        assert parse_payload(generate_payload(qr)) == qr


@pytest.mark.parametrize(
    "extra",
    [
        "550202",  # fixed fee indicator without ID 56
        "550203",  # percentage indicator without ID 57
        "56041.50",  # fixed fee without its indicator
        "550201" + "56041.50",  # fixed fee with the prompt indicator
        "550203" + "5703100",  # 100 per cent
        "550203" + "57040.00",
        "550203" + "57055.255",
        "550204",  # no such indicator
        "010213",  # no such point of initiation
    ],
)
def test_tip_and_initiation_rules(extra: str) -> None:
    refused(with_crc(BASE + extra), "qr_value_invalid")


def test_fee_amount_follows_the_amount_rules() -> None:
    refused(with_crc(BASE + "550202" + "56051.505"), "qr_amount_invalid")


# -- refusals, one code each ------------------------------------------------------------------


def test_crc_mismatch() -> None:
    good = with_crc(BASE)
    wrong = "0000" if good[-4:] != "0000" else "0001"
    error = refused(good[:-4] + wrong, "qr_crc_mismatch")
    assert good[-4:] in error.message
    refused(with_crc(BASE).replace("SHOP", "SHIP"), "qr_crc_mismatch")
    refused(good[:-4] + "ZZZZ", "qr_crc_mismatch")


def test_crc_not_last() -> None:
    refused(with_crc(BASE) + "6102AB", "qr_crc_not_last")
    refused(with_crc(BASE)[:-8] + "63041234" + "6102AB", "qr_crc_not_last")


def test_truncated_payload() -> None:
    refused(with_crc(BASE)[:-2], "qr_tlv_truncated")  # the CRC value cut short
    refused(with_crc(BASE)[:-7], "qr_tlv_truncated")  # the CRC's own ID and length cut short


def test_crc_twice_is_a_duplicate() -> None:
    refused(with_crc(BASE + "63041234"), "qr_tag_duplicate")


def test_crc_of_wrong_length() -> None:
    head = BASE + "6305"
    refused(head + compute_crc(head) + "0", "qr_length_invalid")


def test_payload_too_long() -> None:
    padding = "".join(f"{tag}99{'X' * 99}" for tag in ("80", "81", "82", "83", "84"))
    payload = with_crc(BASE + padding)
    assert len(payload) > PAYLOAD_LENGTH_MAX
    refused(payload, "qr_payload_too_long")
    refused("0" * (PAYLOAD_LENGTH_MAX + 1), "qr_payload_too_long")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (BASE + "61", "qr_tlv_truncated"),  # ID without a length
        (BASE + "6205" + "0110X", "qr_tlv_truncated"),  # inside a template
        (BASE + "A102AB", "qr_id_not_numeric"),
        (BASE + "6A02AB", "qr_id_not_numeric"),
        (BASE + "61X2AB", "qr_length_not_numeric"),
        (BASE + "6100", "qr_length_invalid"),
        (BASE.replace("5904SHOP", "5926" + "S" * 26), "qr_length_invalid"),  # name > 25
        (BASE.replace("6007BEIJING", "6016" + "C" * 16), "qr_length_invalid"),  # city > 15
        (BASE + "6111" + "1" * 11, "qr_length_invalid"),  # postal code > 10
        (BASE + "6230" + "0126" + "B" * 26, "qr_length_invalid"),  # bill number > 25
        (BASE.replace("52045411", "5203541"), "qr_value_invalid"),  # MCC of 3 digits
        (BASE.replace("52045411", "520454A1"), "qr_value_invalid"),
        (BASE.replace("5802CN", "5802cn"), "qr_value_invalid"),
        (BASE.replace("5802CN", "5803CHN"), "qr_value_invalid"),
        (BASE.replace("5904SHOP", "5904SHÖP"), "qr_characters_invalid"),
        (BASE + "6207" + "0903AMX", "qr_value_invalid"),  # consumer data request letters
        (BASE + "6207" + "1103ONL" + "0", "qr_tlv_truncated"),
    ],
)
def test_malformed_data_objects(body: str, code: str) -> None:
    refused(with_crc(body), code)


@pytest.mark.parametrize("tag", ["00", "52", "53", "58", "59", "60"])
def test_missing_mandatory_id(tag: str) -> None:
    body = "".join(element for element in _elements(BASE) if element[:2] != tag)
    error = refused(with_crc(body), "qr_tag_missing")
    assert tag in error.message


def test_missing_crc() -> None:
    refused(BASE, "qr_tag_missing")
    refused("", "qr_tag_missing")


def test_missing_merchant_account() -> None:
    refused(with_crc(BASE.replace("0204VISA", "")), "qr_merchant_account_missing")


def test_template_needs_its_globally_unique_identifier() -> None:
    refused(with_crc(BASE + "2608" + "0104ABCD"), "qr_tag_missing")
    refused(with_crc(BASE + "8008" + "0104ABCD"), "qr_tag_missing")


def test_language_template_needs_language_and_name() -> None:
    refused(with_crc(BASE + "6406" + "0002ZH"), "qr_tag_missing")
    refused(with_crc(BASE + "6408" + "0104SHOP"), "qr_tag_missing")
    refused(with_crc(BASE + "6414" + "00021X" + "0104SHOP"), "qr_value_invalid")


@pytest.mark.parametrize(
    "body",
    [
        BASE + "5904SHOP",  # a top-level ID twice
        BASE + "0204CARD",  # a merchant account twice
        BASE + "2624" + "0004GUID" + "0104ABCD" + "0104EFGH",  # a sub-ID twice in a template
        BASE + "6216" + "0104ABCD" + "0104EFGH",  # a sub-ID twice in additional data
    ],
)
def test_duplicate_ids(body: str) -> None:
    refused(with_crc(body), "qr_tag_duplicate")


def test_payload_format_indicator_must_be_first_and_01() -> None:
    refused(with_crc(BASE.replace("000201", "000202")), "qr_payload_format_invalid")
    refused(with_crc(BASE[6:14] + "000201" + BASE[14:]), "qr_payload_format_invalid")


def test_control_characters_are_refused() -> None:
    refused(with_crc(BASE.replace("5904SHOP", "5904SH\nP")), "qr_characters_invalid")


def test_non_text_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_payload(b"000201")  # type: ignore[arg-type]
    assert caught.value.code == "qr_characters_invalid"


# -- building a MerchantQr ---------------------------------------------------------------


def _qr(**changes: object) -> MerchantQr:
    fields: dict[str, object] = {
        "merchant_accounts": (NetworkAccount("02", "VISA"),),
        "merchant_category_code": "5411",
        "currency": "CNY",
        "country_code": "CN",
        "merchant_name": "SHOP",
        "merchant_city": "BEIJING",
    }
    fields.update(changes)
    return MerchantQr(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"merchant_accounts": ()}, "qr_merchant_account_missing"),
        ({"merchant_accounts": (Template("80", "GUID"),)}, "qr_value_invalid"),
        ({"merchant_accounts": (NetworkAccount("02", "A"), NetworkAccount("02", "B"))}, "qr_tag_duplicate"),
        ({"unreserved_templates": (Template("26", "GUID"),)}, "qr_value_invalid"),
        ({"amount_minor": 0}, "qr_amount_invalid"),
        ({"amount_minor": -5}, "qr_amount_invalid"),
        ({"amount_minor": 10**13}, "qr_amount_invalid"),  # "100000000000.00" is 15 characters
        ({"amount_minor": Decimal("1")}, "qr_amount_invalid"),
        ({"merchant_name": ""}, "qr_length_invalid"),
        ({"postal_code": ""}, "qr_length_invalid"),
        ({"point_of_initiation": "13"}, "qr_value_invalid"),
        ({"tip_indicator": TipIndicator.FIXED_FEE}, "qr_value_invalid"),
        ({"reserved_fields": (("80", "X"),)}, "qr_value_invalid"),
    ],
)
def test_merchant_qr_validates_itself(changes: dict[str, object], code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        _qr(**changes)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (lambda: NetworkAccount("26", "VISA"), "qr_value_invalid"),
        (lambda: NetworkAccount("2", "VISA"), "qr_id_not_numeric"),
        (lambda: Template("26", ""), "qr_length_invalid"),
        (lambda: Template("26", "G" * 33), "qr_length_invalid"),
        (lambda: Template("26", "GUID", (("00", "X"),)), "qr_value_invalid"),
        (lambda: Template("26", "GUID", (("01", "X" * 90),)), "qr_length_invalid"),
        (lambda: Template("26", "GUID", (("01", "A"), ("01", "B"))), "qr_tag_duplicate"),
        (lambda: AdditionalData(), "qr_length_invalid"),
        (lambda: AdditionalData(consumer_data_request="AA"), "qr_value_invalid"),
        (lambda: AdditionalData(merchant_channel="AB"), "qr_length_invalid"),
        (lambda: AdditionalData(other=(("11", "X"),)), "qr_value_invalid"),
        (lambda: MerchantLanguage("ZHO", "NAME"), "qr_value_invalid"),
        (lambda: MerchantLanguage("ZH", "名" * 26), "qr_length_invalid"),
        (lambda: MerchantLanguage("ZH", "NAME\x00"), "qr_characters_invalid"),
    ],
)
def test_parts_validate_themselves(build: object, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        build()  # type: ignore[operator]
    assert caught.value.code == code


def test_parts_are_put_in_id_order() -> None:
    qr = _qr(
        merchant_accounts=(Template("30", "GUID", (("02", "B"), ("01", "A"))), NetworkAccount("04", "MC")),
    )
    assert [account.tag for account in qr.merchant_accounts] == ["04", "30"]
    template = qr.merchant_accounts[1]
    assert isinstance(template, Template) and template.fields == (("01", "A"), ("02", "B"))
    assert parse_payload(generate_payload(qr)) == qr


def test_generation_refuses_a_payload_over_512_characters() -> None:
    templates = tuple(Template(str(tag), "G" * 32, (("01", "X" * 59),)) for tag in range(80, 85))
    with pytest.raises(InvalidInput) as caught:
        generate_payload(_qr(unreserved_templates=templates))
    assert caught.value.code == "qr_payload_too_long"


def _elements(body: str) -> list[str]:
    """Split a flat body into its data objects (test helper; no templates nested here)."""
    parts, position = [], 0
    while position < len(body):
        length = int(body[position + 2 : position + 4])
        parts.append(body[position : position + 4 + length])
        position += 4 + length
    return parts
