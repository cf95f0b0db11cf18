"""pain.001 import: the published samples, every supported version, and the
duplicate message id across files."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from iso20022_support import (
    CBPR_PAIN001,
    LT_INTL_USD,
    LT_SEPA,
    SIX_CH,
    relabelled,
    repaired,
    sample,
    with_check_digits,
)

from netfin.payments.iso20022 import (
    InMemoryMessageIdRegistry,
    MessageRefused,
    SchemaSet,
    SchemaUnavailable,
    generate_pain001,
    import_pain001,
    read_pain001,
)

pytestmark = pytest.mark.usefixtures("samples_available")


def test_published_lt_sample_is_refused_for_its_placeholder_ibans(schemas: SchemaSet) -> None:
    # The Lithuanian samples use IBANs with check digits 00, which no IBAN has.
    with pytest.raises(MessageRefused) as refused:
        read_pain001(sample(LT_SEPA), schemas=schemas)
    assert refused.value.code == "iban_invalid"
    assert [(p.code, p.line) for p in refused.value.problems] == [("iban_invalid", 49), ("iban_invalid", 92)]
    assert refused.value.message_id == "MSGID0001"


def test_published_swiss_sample_is_refused_with_every_problem(schemas: SchemaSet) -> None:
    # It declares NbOfTxs 7 but holds 8 transfers, and two of its IBANs are invalid.
    with pytest.raises(MessageRefused) as refused:
        read_pain001(sample(SIX_CH), schemas=schemas)
    found = [(p.code, p.line) for p in refused.value.problems]
    assert found == [("number_of_transactions_mismatch", 7), ("iban_invalid", 216), ("iban_invalid", 269)]
    assert refused.value.message_name == "pain.001.001.03.ch.02"


def test_lt_sepa_sample_reads_into_the_model(schemas: SchemaSet) -> None:
    message = read_pain001(repaired(LT_SEPA), schemas=schemas)
    assert message.message_id == "MSGID0001"
    assert message.message_name == "pain.001.001.03"
    assert message.creation_time == datetime(2017, 8, 23, 10, 0, 0)
    assert message.initiating_party == "IMONE X"
    assert message.number_of_transactions == 1
    [payment] = message.payments
    assert payment.payment_information_id == "201708230001"
    assert payment.payment_method == "TRF"
    assert payment.requested_execution_date == date(2017, 8, 23)
    assert payment.debtor_name == "IMONE X"
    assert payment.debtor_iban == with_check_digits("LT007180000000000000")
    assert payment.debtor_account_currency == "EUR"
    assert payment.debtor_agent_bic == "CBSBLT26"
    [transfer] = payment.transactions
    assert transfer.instruction_id == "InstrId00001"
    assert transfer.end_to_end_id == "EndToEndId0001"
    assert (transfer.amount_minor, transfer.currency, transfer.transfer_currency) == (9999, "EUR", "EUR")
    assert transfer.creditor_name == "IMONE Z"
    assert transfer.creditor_iban == with_check_digits("LT007400000000000000")
    assert transfer.creditor_agent_bic == "SMPOLT22"
    assert transfer.charge_bearer == "SLEV"
    assert transfer.remittance_unstructured == ("Apmokama saskaita-faktura Nr. 1",)


def test_lt_international_usd_sample_has_another_account_id(schemas: SchemaSet) -> None:
    message = read_pain001(repaired(LT_INTL_USD), schemas=schemas)
    [transfer] = message.payments[0].transactions
    assert transfer.instruction_id is None
    assert (transfer.amount_minor, transfer.currency) == (11111, "USD")
    assert transfer.creditor_iban is None
    assert transfer.creditor_account_other == "1234567890"
    assert transfer.creditor_agent_bic == "BKTRUS33"
    assert transfer.charge_bearer == "SHAR"
    assert message.payments[0].debtor_agent_bic == "CBSBLT26XXX"


def test_swiss_sample_is_validated_against_the_base_schema(schemas: SchemaSet) -> None:
    message = read_pain001(repaired(SIX_CH), schemas=schemas)
    assert message.message_name == "pain.001.001.03.ch.02"
    assert [p.payment_information_id for p in message.payments] == [f"PmtInfId-0{i}" for i in range(1, 6)]
    transfers = [t for _, t in message.transactions()]
    assert len(transfers) == 8
    assert sum(t.amount_minor for t in transfers) == 3800
    assert message.control_sum is not None and str(message.control_sum) == "38.00"
    by_id = {t.end_to_end_id: t for t in transfers}
    equivalent = by_id["EndToEndId-04-01"]
    assert (equivalent.amount_minor, equivalent.currency, equivalent.transfer_currency) == (100, "CHF", "EUR")
    assert equivalent.is_equivalent_amount
    assert by_id["EndToEndId-02-01"].creditor_reference == "120000000000234478943216899"
    assert by_id["EndToEndId-02-01"].creditor_account_other == "014295803"
    assert by_id["EEndToEndId-05-01"].creditor_reference == "976471818744726494745968140"
    assert message.payments[3].payment_method == "TRA"


def test_pain001_001_10_in_a_swift_envelope(schemas: SchemaSet) -> None:
    # The CBPR+ sample is pain.001.001.09, whose XSD is not configured; its
    # content is also valid .10, which exercises the envelope and the .10 layout.
    data = relabelled(sample(CBPR_PAIN001), "pain.001.001.09", "pain.001.001.10")
    message = read_pain001(data, schemas=schemas)
    assert message.message_name == "pain.001.001.10"
    assert message.message_id == "PN01-20260413-2150"
    [payment] = message.payments
    assert payment.requested_execution_date == date(2026, 4, 14)
    assert payment.debtor_iban is None
    assert payment.debtor_account_other == "60438291"
    assert payment.debtor_agent_bic == "PTXNAU2S"
    [transfer] = payment.transactions
    assert (transfer.amount_minor, transfer.currency, transfer.transfer_currency) == (
        32_000_000,
        "AUD",
        "AUD",
    )
    assert transfer.uetr == "e5f6a7b8-c9d0-4234-ab12-345678901234"
    assert transfer.creditor_iban == "GB29NWBK60161331926819"
    assert transfer.creditor_agent_bic == "CVNBSGSX"


def test_a_version_without_its_xsd_is_schema_unavailable(schemas: SchemaSet) -> None:
    with pytest.raises(SchemaUnavailable) as unavailable:
        read_pain001(sample(CBPR_PAIN001), schemas=schemas)
    assert unavailable.value.code == "iso20022_schema_unavailable"
    assert "pain.001.001.09.xsd" in unavailable.value.message


def test_an_unsupported_version_is_refused(schemas: SchemaSet) -> None:
    data = relabelled(repaired(LT_SEPA), "pain.001.001.03", "pain.001.001.02")
    with pytest.raises(MessageRefused) as refused:
        read_pain001(data, schemas=schemas)
    assert refused.value.code == "message_version_unsupported"


def test_a_message_id_is_refused_the_second_time_per_sender(schemas: SchemaSet) -> None:
    registry = InMemoryMessageIdRegistry()
    data = repaired(LT_SEPA)
    first = import_pain001(data, sender="customer-1", registry=registry, schemas=schemas)
    assert first.message_id == "MSGID0001"
    with pytest.raises(MessageRefused) as refused:
        import_pain001(data, sender="customer-1", registry=registry, schemas=schemas)
    assert refused.value.code == "message_id_duplicate"
    assert refused.value.message_id == "MSGID0001"
    assert (
        import_pain001(data, sender="customer-2", registry=registry, schemas=schemas).message_id
        == "MSGID0001"
    )


def test_a_refused_file_does_not_use_up_its_message_id(schemas: SchemaSet) -> None:
    registry = InMemoryMessageIdRegistry()
    with pytest.raises(MessageRefused):
        import_pain001(sample(LT_SEPA), sender="customer-1", registry=registry, schemas=schemas)
    corrected = import_pain001(repaired(LT_SEPA), sender="customer-1", registry=registry, schemas=schemas)
    assert corrected.message_id == "MSGID0001"


def test_a_synthetic_file_reads_with_its_totals(schemas: SchemaSet) -> None:
    synthetic = generate_pain001(250, seed=7, transactions_per_payment=100)
    message = read_pain001(synthetic.xml, schemas=schemas)
    assert message.message_id == synthetic.message_id
    assert [len(p.transactions) for p in message.payments] == [100, 100, 50]
    assert sum(t.amount_minor for _, t in message.transactions()) == synthetic.total_minor
    assert generate_pain001(250, seed=7, transactions_per_payment=100).xml == synthetic.xml
    assert generate_pain001(250, seed=8, transactions_per_payment=100).xml != synthetic.xml
