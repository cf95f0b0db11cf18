"""pacs.008: built from imported pain.001 transfers, validated, read back."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from iso20022_support import (
    CBPR_PACS008,
    CBPR_PAIN001,
    LT_INTL_USD,
    LT_SEPA,
    SIX_CH,
    relabelled,
    repaired,
    sample,
)

from netfin.core.errors import InvalidInput
from netfin.payments.iso20022 import (
    InterbankTransfer,
    Pacs008Message,
    SchemaSet,
    SchemaUnavailable,
    build_pacs008,
    interbank_transfer_from_pain001,
    read_pacs008,
    read_pain001,
)

pytestmark = pytest.mark.usefixtures("samples_available")
CREATED = datetime(2026, 4, 13, 10, 30, tzinfo=UTC)
SETTLED = date(2026, 4, 14)


def pain001(name: str) -> bytes:
    if name == CBPR_PAIN001:
        return relabelled(repaired(name), "pain.001.001.09", "pain.001.001.10")
    return repaired(name)


def forwarded(name: str, schemas: SchemaSet) -> tuple[list[InterbankTransfer], list[str]]:
    """The pacs.008 transfers for a sample's transfers, and the codes of those that cannot go."""
    message = read_pain001(pain001(name), schemas=schemas)
    transfers, refused = [], []
    for number, (payment, transfer) in enumerate(message.transactions()):
        try:
            transfers.append(
                interbank_transfer_from_pain001(
                    payment, transfer, settlement_date=SETTLED, transaction_id=f"TX{number}"
                )
            )
        except InvalidInput as error:
            refused.append(error.code)
    return transfers, refused


@pytest.mark.parametrize("name", [LT_SEPA, LT_INTL_USD, CBPR_PAIN001])
def test_pain001_to_pacs008_and_back(schemas: SchemaSet, name: str) -> None:
    transfers, _ = forwarded(name, schemas)
    assert transfers
    message = Pacs008Message("P008-1", CREATED, tuple(transfers))
    emitted = build_pacs008(message, schemas=schemas)
    assert emitted.message_name == "pacs.008.001.09" and emitted.schema_validated
    back = read_pacs008(emitted.xml, schemas=schemas)
    assert back.schema_validated
    assert back.transfers == message.transfers
    assert (back.message_id, back.creation_time, back.settlement_method) == ("P008-1", CREATED, "INDA")


def test_the_international_usd_transfer_keeps_amount_and_ids(schemas: SchemaSet) -> None:
    [transfer], _ = forwarded(LT_INTL_USD, schemas)
    emitted = build_pacs008(Pacs008Message("P008-2", CREATED, (transfer,)), schemas=schemas)
    assert b'<IntrBkSttlmAmt Ccy="USD">111.11</IntrBkSttlmAmt>' in emitted.xml
    [back] = read_pacs008(emitted.xml, schemas=schemas).transfers
    assert (back.amount_minor, back.currency) == (11111, "USD")
    assert (back.end_to_end_id, back.creditor_account_other, back.creditor_agent_bic) == (
        "EndToEndId0002",
        "1234567890",
        "BKTRUS33",
    )


def test_transfers_that_cannot_be_forwarded_say_why(schemas: SchemaSet) -> None:
    transfers, refused = forwarded(SIX_CH, schemas)
    # Only the EUR transfer to Italy names a creditor agent, and its amount is a CHF equivalent.
    assert transfers == []
    assert sorted(set(refused)) == ["creditor_agent_missing", "currency_conversion_required"]


def test_amounts_are_written_exactly_in_each_currency(schemas: SchemaSet) -> None:
    base = InterbankTransfer("E1", 1, "EUR", SETTLED, "DEUTDEFFXXX", "BKTRUS33")
    cases = {"JPY": (1234, "1234"), "BHD": (1234, "1.234"), "EUR": (10**17, "1000000000000000.00")}
    transfers = tuple(
        InterbankTransfer(f"E-{code}", minor, code, SETTLED, "DEUTDEFFXXX", "BKTRUS33")
        for code, (minor, _) in cases.items()
    )
    emitted = build_pacs008(Pacs008Message("P008-3", CREATED, (base, *transfers)), schemas=schemas)
    for code, (_, text) in cases.items():
        assert f'Ccy="{code}">{text}<'.encode() in emitted.xml
    back = read_pacs008(emitted.xml, schemas=schemas)
    assert [(t.amount_minor, t.currency) for t in back.transfers[1:]] == [
        (m, c) for c, (m, _) in cases.items()
    ]


def test_version_08_needs_its_xsd_or_says_it_was_not_validated(schemas: SchemaSet) -> None:
    [transfer], _ = forwarded(LT_INTL_USD, schemas)
    message = Pacs008Message("P008-4", CREATED, (transfer,), message_name="pacs.008.001.08")
    with pytest.raises(SchemaUnavailable):
        build_pacs008(message, schemas=schemas)
    emitted = build_pacs008(message, schemas=schemas, require_schema=False)
    assert not emitted.schema_validated
    assert b"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08" in emitted.xml
    back = read_pacs008(emitted.xml, schemas=schemas, require_schema=False)
    assert back.transfers == (transfer,) and not back.schema_validated


def test_the_cbpr_sample_reads(schemas: SchemaSet) -> None:
    published = read_pacs008(sample(CBPR_PACS008), schemas=schemas, require_schema=False)
    assert published.message_name == "pacs.008.001.08"
    [transfer] = published.transfers
    assert (transfer.amount_minor, transfer.currency, transfer.charge_bearer) == (75_000_000, "EUR", "DEBT")
    assert transfer.uetr == "a1b2c3d4-e5f6-4890-abcd-ef1234567890"
    assert (transfer.debtor_agent_bic, transfer.creditor_agent_bic) == ("FNTXDE2X", "GLPBES2X")
    validated = read_pacs008(
        relabelled(sample(CBPR_PACS008), "pacs.008.001.08", "pacs.008.001.09"), schemas=schemas
    )
    assert validated.schema_validated and validated.transfers == published.transfers


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"uetr": "A1B2C3D4-E5F6-4890-ABCD-EF1234567890"}, "uetr_invalid"),
        ({"amount_minor": 0}, "amount_not_positive"),
        ({"currency": "XXX"}, "currency_unknown"),
        ({"creditor_agent_bic": "CBSBQQ26"}, "bic_invalid"),
        ({"end_to_end_id": "E" * 36}, "text_length_invalid"),
        ({"charge_bearer": "NONE"}, "charge_bearer_invalid"),
    ],
)
def test_input_the_xsd_would_refuse_is_refused_first(
    schemas: SchemaSet, change: dict[str, object], code: str
) -> None:
    fields: dict[str, object] = {
        "end_to_end_id": "E1",
        "amount_minor": 100,
        "currency": "EUR",
        "settlement_date": SETTLED,
        "debtor_agent_bic": "DEUTDEFFXXX",
        "creditor_agent_bic": "BKTRUS33",
        **change,
    }
    transfer = InterbankTransfer(**fields)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as refused:
        build_pacs008(Pacs008Message("P008-5", CREATED, (transfer,)), schemas=schemas)
    assert refused.value.code == code
