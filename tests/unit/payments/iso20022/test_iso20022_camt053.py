"""camt.053: the published .02 and .04 statements read, written as .08, read back."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from iso20022_support import CAMT053_SAMPLES, sample

from netfin.core.errors import InvalidInput
from netfin.payments.iso20022 import (
    Balance,
    BankTransactionCode,
    CreditDebit,
    Entry,
    MessageRefused,
    SchemaSet,
    SchemaUnavailable,
    Statement,
    StatementAccount,
    StatementMessage,
    build_camt053,
    read_camt053,
)

pytestmark = pytest.mark.usefixtures("samples_available")


@pytest.mark.parametrize("name", CAMT053_SAMPLES)
def test_statement_round_trip_through_version_08(schemas: SchemaSet, name: str) -> None:
    original = read_camt053(sample(name), schemas=schemas, require_schema=False)
    assert not original.schema_validated
    emitted = build_camt053(original, schemas=schemas)
    assert emitted.message_name == "camt.053.001.08" and emitted.schema_validated
    back = read_camt053(emitted.xml, schemas=schemas)
    assert back.schema_validated and back.message_name == "camt.053.001.08"
    assert (back.message_id, back.creation_time) == (original.message_id, original.creation_time)
    for before, after in zip(original.statements, back.statements, strict=True):
        assert after.balances == before.balances
        assert after.entries == before.entries
        assert after == before


def test_lithuanian_statement_values(schemas: SchemaSet) -> None:
    message = read_camt053(sample(CAMT053_SAMPLES[0]), schemas=schemas, require_schema=False)
    assert message.message_name == "camt.053.001.02"
    [statement] = message.statements
    assert statement.statement_id == "201509302599406883"
    assert statement.electronic_sequence_number == 44
    assert statement.account.currency == "EUR" and statement.account.servicer_bic == "CBSBLT26XXX"
    assert statement.account.owner_name == 'UAB "TESTAVIMAS"'
    assert [(b.type_code, b.amount_minor, b.credit_debit) for b in statement.balances] == [
        ("OPAV", 276808, CreditDebit.CREDIT),
        ("CLAV", 0, CreditDebit.CREDIT),
    ]
    assert [e.signed_minor for e in statement.entries] == [-164, -273458, -3016, -170]
    first = statement.entries[0]
    assert first.bank_transaction_code == BankTransactionCode("PMNT", "MDOP", "FEES")
    assert first.booking_date == date(2015, 5, 11)
    [transaction] = first.transactions
    assert (transaction.instruction_id, transaction.end_to_end_id, transaction.transaction_id) == (
        "215431",
        "NOTPROVIDED",
        "514026627",
    )
    assert (transaction.amount_minor, transaction.currency) == (164, "EUR")
    assert transaction.creditor_name == 'UAB "TESTAVIMAS"'
    assert transaction.creditor_agent_bic == "CBSBLT26XXX"


def test_finnish_statement_batches_and_balances(schemas: SchemaSet) -> None:
    [statement] = read_camt053(sample(CAMT053_SAMPLES[1]), schemas=schemas, require_schema=False).statements
    assert statement.legal_sequence_number == 97
    assert statement.from_time == datetime.fromisoformat("2009-10-29T02:00:00+02:00")
    closing = next(b for b in statement.balances if b.type_code == "CLBD")
    assert (closing.amount_minor, closing.currency) == (2364483, "EUR")
    assert len(statement.entries) == 10
    salary = statement.entries[0]
    assert (
        salary.batch_message_id,
        salary.batch_payment_information_id,
        salary.batch_number_of_transactions,
    ) == (
        "MSGSALA0001",
        "CustRefForSalaBatch",
        4,
    )
    assert salary.bank_transaction_code.proprietary_code == "NTRF+701TransactionCodeText"
    batch = statement.entries[2]
    assert [t.amount_minor for t in batch.transactions] == [200002, 100001, 123002]
    assert batch.transactions[0].creditor_reference == "3900"
    assert batch.transactions[0].creditor_account_other == "29501800020582"


def test_postfinance_statement_values(schemas: SchemaSet) -> None:
    message = read_camt053(sample(CAMT053_SAMPLES[2]), schemas=schemas, require_schema=False)
    assert message.message_name == "camt.053.001.04"
    [statement] = message.statements
    assert statement.account.iban == "CH2909000000250094239"
    first = statement.entries[0]
    assert (first.reference, first.reversal, first.status, first.amount_minor) == (
        "41100000000872849",
        False,
        "BOOK",
        450,
    )
    assert first.additional_information is not None and "ZAHLUNGSEMPFÄNGERS" in first.additional_information
    assert first.transactions[0].credit_debit is CreditDebit.CREDIT


def test_a_version_without_its_xsd_needs_an_explicit_choice(schemas: SchemaSet) -> None:
    with pytest.raises(SchemaUnavailable):
        read_camt053(sample(CAMT053_SAMPLES[0]), schemas=schemas)


def test_an_amount_with_too_many_decimals_is_refused(schemas: SchemaSet) -> None:
    data = sample(CAMT053_SAMPLES[0]).replace(b'<Amt Ccy="EUR">1.64</Amt>', b'<Amt Ccy="EUR">1.645</Amt>', 1)
    with pytest.raises(MessageRefused) as refused:
        read_camt053(data, schemas=schemas, require_schema=False)
    assert [(p.code, p.line) for p in refused.value.problems] == [("amount_precision_invalid", 78)]


def test_an_unsupported_version_is_refused(schemas: SchemaSet) -> None:
    data = sample(CAMT053_SAMPLES[0]).replace(b"camt.053.001.02", b"camt.053.001.05")
    with pytest.raises(MessageRefused) as refused:
        read_camt053(data, schemas=schemas, require_schema=False)
    assert refused.value.code == "message_version_unsupported"


def test_date_times_and_proprietary_codes_round_trip(schemas: SchemaSet) -> None:
    booked = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    statement = Statement(
        statement_id="S1",
        account=StatementAccount(other_id="ACC-1", currency="JPY"),
        balances=(Balance("OWN-OPENING", 0, "JPY", CreditDebit.DEBIT, booked, type_is_proprietary=True),),
        entries=(
            Entry(1500, "JPY", CreditDebit.CREDIT, "BOOK", BankTransactionCode(), booking_date=booked),
            Entry(7, "JPY", CreditDebit.DEBIT, "PENDING-REVIEW", BankTransactionCode(proprietary_code="X1")),
        ),
    )
    message = StatementMessage("M-1", booked, (statement,))
    emitted = build_camt053(message, schemas=schemas)
    assert b'<Amt Ccy="JPY">1500</Amt>' in emitted.xml
    assert read_camt053(emitted.xml, schemas=schemas).statements == (statement,)


def test_a_statement_needs_a_balance(schemas: SchemaSet) -> None:
    statement = Statement("S1", StatementAccount(iban="CH2909000000250094239"), balances=())
    with pytest.raises(InvalidInput) as refused:
        build_camt053(StatementMessage("M-1", datetime(2026, 1, 5), (statement,)), schemas=schemas)
    assert refused.value.code == "balance_missing"
