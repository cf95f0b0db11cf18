"""pacs.002 status reports for imported and refused pain.001 files."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from iso20022_support import CBPR_PACS002, LT_SEPA, SIX_CH, repaired, sample

from netfin.core.errors import InvalidInput
from netfin.payments.iso20022 import (
    MessageRefused,
    SchemaSet,
    StatusReport,
    TransactionStatus,
    build_pacs002,
    read_pacs002,
    read_pain001,
    status_report_for_pain001,
    status_report_for_refusal,
)

pytestmark = pytest.mark.usefixtures("samples_available")
CREATED = datetime(2026, 4, 13, 8, 10, tzinfo=UTC)


def refusal_of(data: bytes, schemas: SchemaSet) -> MessageRefused:
    with pytest.raises(MessageRefused) as refused:
        read_pain001(data, schemas=schemas)
    return refused.value


def test_acceptance_report_for_an_imported_pain001(schemas: SchemaSet) -> None:
    message = read_pain001(repaired(SIX_CH), schemas=schemas)
    report = status_report_for_pain001(message, message_id="STS-1", creation_time=CREATED)
    emitted = build_pacs002(report, schemas=schemas)
    assert emitted.message_name == "pacs.002.001.11" and emitted.schema_validated
    back = read_pacs002(emitted.xml, schemas=schemas)
    assert (back.original_message_id, back.original_message_name) == ("MsgId-001", "pain.001.001.03.ch.02")
    assert back.group_status == "ACCP"
    assert back.original_number_of_transactions == 8
    assert [(t.status, t.original_end_to_end_id) for t in back.transactions][:2] == [
        ("ACCP", "EndToEndId-01-01"),
        ("ACCP", "EndToEndId-02-01"),
    ]
    assert back.transactions == report.transactions
    assert b"<OrgnlCtrlSum>38.00</OrgnlCtrlSum>" in emitted.xml


def test_rejection_report_carries_iso_reason_codes(schemas: SchemaSet) -> None:
    # The published Swiss sample: NbOfTxs wrong (AM18) and two bad IBANs (AC01).
    refused = refusal_of(sample(SIX_CH), schemas)
    report = status_report_for_refusal(refused, message_id="STS-2", creation_time=CREATED)
    emitted = build_pacs002(report, schemas=schemas)
    assert emitted.schema_validated
    back = read_pacs002(emitted.xml, schemas=schemas)
    assert back.group_status == "RJCT"
    assert back.original_message_id == "MsgId-001"
    assert [r.code for r in back.group_reasons] == ["AM18", "AC01", "AC01"]
    assert (
        back.group_reasons[0].additional_information[0].startswith("line 7: number_of_transactions_mismatch")
    )
    assert [(t.status, t.original_end_to_end_id, [r.code for r in t.reasons]) for t in back.transactions] == [
        ("RJCT", "EndToEndId-03-02", ["AC01"]),
        ("RJCT", "EndToEndId-04-01", ["AC01"]),
    ]


def test_rejection_of_an_unreadable_file_needs_the_original_id(schemas: SchemaSet) -> None:
    refused = refusal_of(b"<Document><unclosed></Document>", schemas)
    assert refused.message_id is None
    with pytest.raises(InvalidInput) as unknown:
        status_report_for_refusal(refused, message_id="STS-3", creation_time=CREATED)
    assert unknown.value.code == "original_message_id_unknown"
    report = status_report_for_refusal(
        refused, message_id="STS-3", creation_time=CREATED, original_message_id="upload-42"
    )
    back = read_pacs002(build_pacs002(report, schemas=schemas).xml, schemas=schemas)
    assert [r.code for r in back.group_reasons] == ["FF01"]


def test_a_rejected_amount_maps_to_am12(schemas: SchemaSet) -> None:
    data = repaired(LT_SEPA).replace(b">99.99</InstdAmt>", b">99.999</InstdAmt>")
    report = status_report_for_refusal(refusal_of(data, schemas), message_id="STS-4", creation_time=CREATED)
    assert [r.code for r in report.group_reasons] == ["AM12"]
    assert build_pacs002(report, schemas=schemas).schema_validated


def test_the_cbpr_sample_reads(schemas: SchemaSet) -> None:
    report = read_pacs002(sample(CBPR_PACS002), schemas=schemas, require_schema=False)
    assert report.message_id == "P002-20260413-9102"
    assert (report.original_message_id, report.original_message_name) == (
        "P008-20260412-4410",
        "pacs.008.001.08",
    )
    [transaction] = report.transactions
    assert (transaction.status, transaction.original_end_to_end_id) == ("ACSP", "E2E-04127823")
    assert transaction.original_uetr == "d4e5f6a7-b8c9-4123-9efa-234567890123"


def test_an_unknown_status_is_refused(schemas: SchemaSet) -> None:
    report = StatusReport(
        "STS-5", CREATED, "M1", "pain.001.001.03", transactions=(TransactionStatus("DONE", "E1"),)
    )
    with pytest.raises(InvalidInput) as refused:
        build_pacs002(report, schemas=schemas)
    assert refused.value.code == "status_invalid"


def test_control_sum_is_written_exactly(schemas: SchemaSet) -> None:
    report = StatusReport(
        "STS-6", CREATED, "M1", "pain.001.001.03", "ACCP", original_control_sum=Decimal("1E+2")
    )
    assert b"<OrgnlCtrlSum>100</OrgnlCtrlSum>" in build_pacs002(report, schemas=schemas).xml
