"""pain.001 refusals: each bad file is refused whole, with its own code and line.

The bad files are the Lithuanian SEPA sample (IBANs repaired) edited in
memory, or small synthetic documents written here."""

from __future__ import annotations

from typing import Any

import pytest
from iso20022_support import LT_SEPA, duplicate_first_transfer, edit, find, repaired

from netfin.core.errors import InvalidInput
from netfin.payments.iso20022 import MessageRefused, Problem, SchemaSet, generate_pain001, read_pain001
from netfin.payments.iso20022.document import parse_document

# Lines of the LT SEPA sample.
GROUP_NB_OF_TXS_LINE, GROUP_CTRL_SUM_LINE = 7, 8
PAYMENT_NB_OF_TXS_LINE, PAYMENT_CTRL_SUM_LINE = 26, 27
DEBTOR_IBAN_LINE, DEBTOR_BIC_LINE, INSTRUCTION_ID_LINE, AMOUNT_LINE, CREDITOR_IBAN_LINE = 49, 55, 61, 65, 92


def refusal(data: bytes, schemas: SchemaSet) -> MessageRefused:
    with pytest.raises(MessageRefused) as refused:
        read_pain001(data, schemas=schemas)
    return refused.value


def codes_and_lines(refused: MessageRefused) -> list[tuple[str, int | None]]:
    return [(p.code, p.line) for p in refused.problems]


def set_text(path: str, text: str) -> Any:
    def change(document: Any, namespace: str) -> None:
        find(document, path).text = text

    return change


def set_amount(text: str, currency: str = "EUR") -> Any:
    def change(document: Any, namespace: str) -> None:
        amount = find(document, "//p:InstdAmt")
        amount.text = text
        amount.set("Ccy", currency)

    return change


def test_the_repaired_sample_is_accepted(schemas: SchemaSet) -> None:
    assert read_pain001(repaired(LT_SEPA), schemas=schemas).message_id == "MSGID0001"


def test_bad_creditor_iban(schemas: SchemaSet) -> None:
    data = edit(repaired(LT_SEPA), set_text("//p:CdtrAcct/p:Id/p:IBAN", "LT127400000000000000"))
    refused = refusal(data, schemas)
    assert codes_and_lines(refused) == [("iban_invalid", CREDITOR_IBAN_LINE)]
    assert refused.problems[0].end_to_end_id == "EndToEndId0001"
    assert "LT127400000000000000" in refused.problems[0].message


def test_bad_bic(schemas: SchemaSet) -> None:
    # Passes the XSD's pattern; QQ is not a country.
    data = edit(repaired(LT_SEPA), set_text("//p:DbtrAgt/p:FinInstnId/p:BIC", "CBSBQQ26"))
    assert codes_and_lines(refusal(data, schemas)) == [("bic_invalid", DEBTOR_BIC_LINE)]


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        ("99.999", "EUR", "amount_precision_invalid"),  # 3 decimals in a 2-decimal currency
        ("100.5", "JPY", "amount_precision_invalid"),  # JPY has no minor unit
        ("0.00", "EUR", "amount_not_positive"),
        ("-5.00", "EUR", "amount_not_positive"),  # the XSD refuses it; the code says why
        ("12,50", "EUR", "amount_not_a_number"),
        ("abc", "EUR", "amount_not_a_number"),
        ("10.00", "ABC", "currency_unknown"),
        ("10.00", "eur", "currency_unknown"),
    ],
)
def test_bad_amount(schemas: SchemaSet, amount: str, currency: str, code: str) -> None:
    refused = refusal(edit(repaired(LT_SEPA), set_amount(amount, currency)), schemas)
    assert codes_and_lines(refused) == [(code, AMOUNT_LINE)]
    assert refused.code == code


def test_wrong_group_control_sum(schemas: SchemaSet) -> None:
    data = edit(repaired(LT_SEPA), set_text("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", "100.00"))
    refused = refusal(data, schemas)
    assert codes_and_lines(refused) == [("control_sum_mismatch", GROUP_CTRL_SUM_LINE)]
    assert "99.99" in refused.problems[0].message


def test_wrong_payment_control_sum_is_compared_exactly(schemas: SchemaSet) -> None:
    data = edit(repaired(LT_SEPA), set_text("p:CstmrCdtTrfInitn/p:PmtInf/p:CtrlSum", "99.9900000000000001"))
    assert codes_and_lines(refusal(data, schemas)) == [("control_sum_mismatch", PAYMENT_CTRL_SUM_LINE)]


def test_a_control_sum_with_trailing_zeros_is_equal(schemas: SchemaSet) -> None:
    data = edit(repaired(LT_SEPA), set_text("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", "99.990"))
    assert read_pain001(data, schemas=schemas).control_sum is not None


def test_wrong_number_of_transactions(schemas: SchemaSet) -> None:
    def change(document: Any, namespace: str) -> None:
        find(document, "p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs").text = "2"
        find(document, "p:CstmrCdtTrfInitn/p:PmtInf/p:NbOfTxs").text = "3"

    refused = refusal(edit(repaired(LT_SEPA), change), schemas)
    assert codes_and_lines(refused) == [
        ("number_of_transactions_mismatch", GROUP_NB_OF_TXS_LINE),
        ("number_of_transactions_mismatch", PAYMENT_NB_OF_TXS_LINE),
    ]


def test_duplicate_end_to_end_and_instruction_ids(schemas: SchemaSet) -> None:
    refused = refusal(edit(repaired(LT_SEPA), duplicate_first_transfer), schemas)
    assert sorted(refused.codes) == ["end_to_end_id_duplicate", "instruction_id_duplicate"]
    assert all(p.line is not None and p.line > CREDITOR_IBAN_LINE for p in refused.problems)


def test_notprovided_end_to_end_ids_may_repeat(schemas: SchemaSet) -> None:
    def change(document: Any, namespace: str) -> None:
        find(document, "//p:EndToEndId").text = "NOTPROVIDED"
        duplicate_first_transfer(document, namespace)
        find(document, "(//p:CdtTrfTxInf)[2]/p:PmtId/p:InstrId").text = "InstrId00002"

    message = read_pain001(edit(repaired(LT_SEPA), change), schemas=schemas)
    assert [t.end_to_end_id for _, t in message.transactions()] == ["NOTPROVIDED", "NOTPROVIDED"]


def test_cheques_are_not_accepted(schemas: SchemaSet) -> None:
    data = edit(repaired(LT_SEPA), set_text("p:CstmrCdtTrfInitn/p:PmtInf/p:PmtMtd", "CHK"))
    assert refusal(data, schemas).codes == {"payment_method_unsupported"}


def test_a_transfer_without_creditor_account(schemas: SchemaSet) -> None:
    def change(document: Any, namespace: str) -> None:
        account = find(document, "//p:CdtrAcct")
        account.getparent().remove(account)

    assert refusal(edit(repaired(LT_SEPA), change), schemas).codes == {"creditor_account_missing"}


def test_every_problem_is_reported_in_line_order(schemas: SchemaSet) -> None:
    def change(document: Any, namespace: str) -> None:
        find(document, "//p:CdtrAcct/p:Id/p:IBAN").text = "LT127400000000000000"
        find(document, "//p:InstdAmt").text = "99.999"
        find(document, "p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs").text = "5"

    refused = refusal(edit(repaired(LT_SEPA), change), schemas)
    assert codes_and_lines(refused) == [
        ("number_of_transactions_mismatch", GROUP_NB_OF_TXS_LINE),
        ("amount_precision_invalid", AMOUNT_LINE),
        ("iban_invalid", CREDITOR_IBAN_LINE),
    ]
    assert refused.code == "number_of_transactions_mismatch"


def test_malformed_xml_reports_its_line(schemas: SchemaSet) -> None:
    data = repaired(LT_SEPA).replace(b"<InstrId>InstrId00001</InstrId>", b"<InstrId>InstrId00001</Instr>")
    refused = refusal(data, schemas)
    assert codes_and_lines(refused) == [("xml_malformed", INSTRUCTION_ID_LINE)]
    assert "InstrId" in refused.problems[0].message


def test_truncated_xml_is_malformed(schemas: SchemaSet) -> None:
    data = repaired(LT_SEPA)
    assert refusal(data[: len(data) // 2], schemas).code == "xml_malformed"


def test_schema_invalid_reports_line_and_reason(schemas: SchemaSet) -> None:
    # Without MsgId the first element of GrpHdr (CreDtTm, line 6) is unexpected.
    data = repaired(LT_SEPA).replace(b"<MsgId>MSGID0001</MsgId>", b"")
    refused = refusal(data, schemas)
    assert codes_and_lines(refused) == [("schema_invalid", 6)]
    assert "MsgId" in refused.problems[0].message and "CreDtTm" in refused.problems[0].message


def test_schema_errors_are_all_reported(schemas: SchemaSet) -> None:
    data = (
        repaired(LT_SEPA)
        .replace(b"<PmtMtd>TRF</PmtMtd>", b"<PmtMtd>XXX</PmtMtd>")
        .replace(b"<ChrgBr>SLEV</ChrgBr>", b"<ChrgBr>NONE</ChrgBr>")
    )
    refused = refusal(data, schemas)
    assert [p.code for p in refused.problems] == ["schema_invalid", "schema_invalid"]
    assert [p.line for p in refused.problems] == [25, 58]


def test_external_entities_are_refused(schemas: SchemaSet, tmp_path: Any) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    data = repaired(LT_SEPA).replace(
        b"<Document ",
        f'<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file://{secret}">]>\n<Document '.encode(),
        1,
    )
    data = data.replace(b"<Nm>IMONE Z</Nm>", b"<Nm>&xxe;</Nm>")
    refused = refusal(data, schemas)
    assert codes_and_lines(refused) == [("xml_doctype_forbidden", 2)]
    assert "TOP-SECRET-VALUE" not in str(refused)


def test_entity_expansion_is_refused(schemas: SchemaSet) -> None:
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    data = (
        f'<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY l0 "lol">{entities}]>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">&l9;</Document>'
    ).encode()
    assert refusal(data, schemas).code == "xml_doctype_forbidden"


def test_a_doctype_hidden_by_another_encoding_is_refused(schemas: SchemaSet) -> None:
    # UTF-16 hides the DOCTYPE from the byte scan; the parsed document still shows it.
    text = (
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE Document [<!ENTITY a "b">]>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">&a;</Document>'
    )
    assert refusal(text.encode("utf-16"), schemas).code == "xml_doctype_forbidden"


def test_a_file_over_the_size_limit_is_refused_before_parsing(schemas: SchemaSet) -> None:
    with pytest.raises(MessageRefused) as refused:
        parse_document(b"<Document/>" + b" " * 100, expected="pain.001", size_max=100)
    assert refused.value.code == "message_too_large"
    with pytest.raises(MessageRefused) as refused:
        read_pain001(generate_pain001(5).xml, schemas=schemas, size_max=1000)
    assert refused.value.code == "message_too_large"


def test_another_message_type_is_refused(schemas: SchemaSet) -> None:
    with pytest.raises(MessageRefused) as refused:
        read_pain001(b"<Invoice><Id>1</Id></Invoice>", schemas=schemas)
    assert refused.value.code == "message_type_unexpected"


def test_text_is_not_bytes(schemas: SchemaSet) -> None:
    with pytest.raises(InvalidInput) as refused:
        read_pain001("<Document/>", schemas=schemas)  # type: ignore[arg-type]
    assert refused.value.code == "message_not_bytes"


def test_a_refusal_keeps_at_most_a_thousand_problems() -> None:
    refused = MessageRefused(
        "pain.001.001.03", [Problem("iban_invalid", "bad", line=n) for n in range(1, 1500)]
    )
    assert len(refused.problems) == 1001
    assert refused.problems[-1].code == "problems_truncated"
    assert "499 more" in refused.problems[-1].message


def test_lines_beyond_65535_are_reported(schemas: SchemaSet) -> None:
    xml = generate_pain001(3000, seed=1).xml
    iban_at = xml.rfind(b"<IBAN>")
    amount_at = xml.rfind(b'<InstdAmt Ccy="EUR">')
    bad = xml[:amount_at] + b'<InstdAmt Ccy="EUR">-' + xml[amount_at + 20 : iban_at] + b"<IBAN>DE00"
    bad += xml[iban_at + 10 :]
    refused = refusal(bad, schemas)
    # The XSD refuses the negative amount before the business checks see the IBAN.
    assert codes_and_lines(refused) == [("amount_not_positive", xml.count(b"\n", 0, amount_at) + 1)]
    assert refused.problems[0].line is not None and refused.problems[0].line > 65535
    refused = refusal(xml[:iban_at] + b"<IBAN>DE00" + xml[iban_at + 10 :], schemas)
    assert codes_and_lines(refused) == [("iban_invalid", xml.count(b"\n", 0, iban_at) + 1)]
