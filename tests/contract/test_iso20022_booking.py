"""Booking pain.001 files as payment orders, on SQLite and PostgreSQL.

Each test builds a small pain.001.001.03 (one element per line, so a problem's
line is known), books it through ``Iso20022Service`` and checks the outcome
where it lands: the orders, the ledger balances, the stored message and the
XSD-validated pacs.002 / camt.053 / pacs.008. A refused file must leave the
orders, the ledger and the message registry exactly as they were.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from shared_data import skip_unless
from typer.testing import CliRunner

from netfin.bank import Bank, BankSettings
from netfin.cli.iso20022 import app
from netfin.core.clock import ManualClock
from netfin.core.errors import InvalidInput
from netfin.core.limits import PAGE_LIMIT_MAX
from netfin.identity.model import Actor, PartyKind
from netfin.payments.iso20022 import SchemaSet, read_camt053, read_pacs002, read_pacs008
from netfin.payments.iso20022 import store as iso_store
from netfin.payments.iso20022.errors import MessageRefused
from netfin.payments.iso20022.service import ImportResult, Iso20022Service, idempotency_key_for
from netfin.payments.orders.store import payment_orders

_SCHEMAS = SchemaSet()
pytestmark = skip_unless(
    all(
        _SCHEMAS.has(name)
        for name in ("pain.001.001.03", "pacs.002.001.11", "camt.053.001.08", "pacs.008.001.09")
    ),
    "the ISO 20022 XSDs are not configured (../shared/data/iso20022/xsd or NETFIN_ISO20022_XSD_DIR)",
)

OPERATOR = Actor("operator", "operator-1")
CHANNEL = Actor("system", "ebics-gateway")
EXTERNAL_DE = "DE89370400440532013000"
EXTERNAL_AT = "AT611904300234573201"
EURO = 100  # minor units


@pytest.fixture
def bank(store_url: str, clock: ManualClock) -> Iterator[Bank]:
    opened = Bank(BankSettings(database_url=store_url), clock=clock)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def service(bank: Bank) -> Iso20022Service:
    return Iso20022Service(
        bank.engine,
        bank.orders,
        bank.identity,
        bank.audit,
        clock=bank.clock,
        ids=bank.ids,
        schemas=_SCHEMAS,
        bank_bic="NTFNGB2LXXX",
    )


@dataclass
class Customer:
    party_id: int
    account_id: str
    iban: str
    ledger_account_id: int


def _customer(bank: Bank, name: str, phone: str, *, funds: int = 0) -> Customer:
    party = bank.identity.register_party(OPERATOR, kind=PartyKind.ENTERPRISE, display_name=name, phone=phone)
    account = bank.identity.open_account(OPERATOR, party.party_id, currency="EUR")
    if funds:
        bank.identity.deposit_cash(OPERATOR, account.account_id, funds)
    return Customer(party.party_id, account.account_id, account.iban, account.ledger_account_id)


@dataclass
class Tx:
    end_to_end_id: str
    amount: str
    creditor_iban: str
    currency: str = "EUR"


@dataclass
class Pmt:
    payment_id: str
    debtor_iban: str
    transactions: list[Tx]
    control_sum: str | None = None
    extra: list[str] = field(default_factory=list)


def _pain001(message_id: str, payments: list[Pmt], *, control_sum: str | None = None) -> bytes:
    """A pain.001.001.03, one element per line; sums are computed unless given."""
    count = sum(len(p.transactions) for p in payments)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">',
        "<CstmrCdtTrfInitn>",
        "<GrpHdr>",
        f"<MsgId>{message_id}</MsgId>",
        "<CreDtTm>2026-01-05T09:00:00</CreDtTm>",
        f"<NbOfTxs>{count}</NbOfTxs>",
        f"<CtrlSum>{control_sum or _sum(t for p in payments for t in p.transactions)}</CtrlSum>",
        "<InitgPty><Nm>Acme Corporate</Nm></InitgPty>",
        "</GrpHdr>",
    ]
    for p in payments:
        lines += [
            "<PmtInf>",
            f"<PmtInfId>{p.payment_id}</PmtInfId>",
            "<PmtMtd>TRF</PmtMtd>",
            f"<NbOfTxs>{len(p.transactions)}</NbOfTxs>",
            f"<CtrlSum>{p.control_sum or _sum(p.transactions)}</CtrlSum>",
            "<ReqdExctnDt>2026-01-06</ReqdExctnDt>",
            "<Dbtr><Nm>Acme Corporate</Nm></Dbtr>",
            "<DbtrAcct>",
            f"<Id><IBAN>{p.debtor_iban}</IBAN></Id>",
            "</DbtrAcct>",
            "<DbtrAgt><FinInstnId><BIC>NTFNGB2LXXX</BIC></FinInstnId></DbtrAgt>",
            "<ChrgBr>SLEV</ChrgBr>",
            *p.extra,
        ]
        for t in p.transactions:
            lines += [
                "<CdtTrfTxInf>",
                f"<PmtId><InstrId>I-{t.end_to_end_id}</InstrId><EndToEndId>{t.end_to_end_id}</EndToEndId></PmtId>",
                f'<Amt><InstdAmt Ccy="{t.currency}">{t.amount}</InstdAmt></Amt>',
                "<CdtrAgt><FinInstnId><BIC>COBADEFFXXX</BIC></FinInstnId></CdtrAgt>",
                f"<Cdtr><Nm>Creditor {t.end_to_end_id}</Nm></Cdtr>",
                f"<CdtrAcct><Id><IBAN>{t.creditor_iban}</IBAN></Id></CdtrAcct>",
                f"<RmtInf><Ustrd>Invoice {t.end_to_end_id}</Ustrd></RmtInf>",
                "</CdtTrfTxInf>",
            ]
        lines.append("</PmtInf>")
    lines += ["</CstmrCdtTrfInitn>", "</Document>"]
    return ("\n".join(lines) + "\n").encode()


def _sum(transactions: Iterable[Tx]) -> str:
    """The exact decimal sum of the amount texts (Decimal, never float)."""
    return str(sum((Decimal(t.amount) for t in transactions), Decimal(0)))


def _line_of(data: bytes, marker: str) -> int:
    for number, line in enumerate(data.decode().splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} is not in the file")


def _balance(bank: Bank, ledger_account_id: int) -> int:
    [account] = bank.ledger.lookup_accounts([ledger_account_id])
    return account.credits_posted - account.debits_posted


@dataclass(frozen=True)
class Footprint:
    orders: int
    transfers: int
    messages: int


def _footprint(bank: Bank) -> Footprint:
    with bank.engine.connect() as connection:
        orders = connection.execute(sa.select(sa.func.count()).select_from(payment_orders)).scalar_one()
        messages = connection.execute(
            sa.select(sa.func.count()).select_from(iso_store.iso20022_messages)
        ).scalar_one()
    transfers, cursor = 0, None
    while True:
        page = bank.ledger.list_transfers(cursor=cursor, limit=PAGE_LIMIT_MAX)
        transfers += len(page.transfers)
        if page.next_cursor is None:
            return Footprint(orders, transfers, messages)
        cursor = page.next_cursor


@pytest.fixture
def acme(bank: Bank) -> Customer:
    return _customer(bank, "Acme Corporate", "+441000000001", funds=1_000 * EURO)


@pytest.fixture
def supplier(bank: Bank) -> Customer:
    return _customer(bank, "Supplier Ltd", "+441000000002")


# Booking ------------------------------------------------------------------


def test_a_valid_file_books_every_transaction_and_reports_acsc(
    bank: Bank, service: Iso20022Service, acme: Customer, supplier: Customer
) -> None:
    data = _pain001(
        "MSG-1",
        [
            Pmt(
                "PMT-1",
                acme.iban,
                [
                    Tx("E2E-1", "100.00", supplier.iban),
                    Tx("E2E-2", "50.00", EXTERNAL_DE),
                    Tx("E2E-3", "25.50", supplier.iban),
                ],
            )
        ],
    )
    result = service.import_pain001(CHANNEL, data, sender="ebics:ACME")
    assert (result.group_status, result.settled, result.in_process, result.rejected) == ("ACSC", 3, 0, 0)
    assert result.party_id == acme.party_id
    assert result.totals == {
        "EUR": {
            "instructed_minor": 17_550,
            "settled_minor": 17_550,
            "in_process_minor": 0,
            "rejected_minor": 0,
        }
    }
    assert _balance(bank, acme.ledger_account_id) == 1_000 * EURO - 17_550
    assert _balance(bank, supplier.ledger_account_id) == 12_550
    clearing = bank.identity.bank_account("EUR", "clearing")
    [clearing_account] = bank.ledger.lookup_accounts([clearing])
    assert clearing_account.credits_posted == 5_000
    orders = [bank.orders.get(o.order_id or "") for o in result.transactions]
    assert [o.payee.kind.value for o in orders] == ["account", "external", "account"]
    assert orders[1].payee.id == EXTERNAL_DE
    key = idempotency_key_for("ebics:ACME", "MSG-1", "PMT-1", "e:E2E-1")
    assert orders[0].idempotency_key == key and len(key) <= 64
    report = read_pacs002(result.status_report.xml, schemas=_SCHEMAS)
    assert result.status_report.schema_validated
    assert report.original_message_id == "MSG-1" and report.group_status == "ACSC"
    assert [(t.original_end_to_end_id, t.status) for t in report.transactions] == [
        ("E2E-1", "ACSC"),
        ("E2E-2", "ACSC"),
        ("E2E-3", "ACSC"),
    ]
    stored = iso_store.load_message(bank.engine, "ebics:ACME", "MSG-1")
    assert stored is not None and stored.status == "booked" and stored.settled == 3
    [entry] = bank.audit.query(action="iso20022.pain001.book").entries
    assert entry.subject_id == "ebics:ACME/MSG-1" and entry.outcome == "succeeded"


def test_one_transaction_over_the_balance_is_rejected_alone(
    bank: Bank, service: Iso20022Service, supplier: Customer
) -> None:
    small = _customer(bank, "Small Shop", "+441000000003", funds=100 * EURO)
    data = _pain001(
        "MSG-MIXED",
        [
            Pmt(
                "PMT-1",
                small.iban,
                [
                    Tx("E2E-A", "60.00", supplier.iban),
                    Tx("E2E-B", "60.00", EXTERNAL_AT),
                    Tx("E2E-C", "30.00", EXTERNAL_DE),
                ],
            )
        ],
    )
    result = service.import_pain001(CHANNEL, data, sender="ebics:SMALL")
    assert [(o.end_to_end_id, o.status, o.reason) for o in result.transactions] == [
        ("E2E-A", "ACSC", None),
        ("E2E-B", "RJCT", "insufficient_funds"),
        ("E2E-C", "ACSC", None),
    ]
    assert (result.group_status, result.settled, result.rejected) == ("PART", 2, 1)
    assert result.totals["EUR"]["rejected_minor"] == 6_000
    assert _balance(bank, small.ledger_account_id) == 10 * EURO
    assert _balance(bank, supplier.ledger_account_id) == 60 * EURO
    report = read_pacs002(result.status_report.xml, schemas=_SCHEMAS)
    assert report.group_status == "PART"
    rejected = [t for t in report.transactions if t.status == "RJCT"]
    assert [(t.original_end_to_end_id, t.reasons[0].code) for t in rejected] == [("E2E-B", "AM04")]
    assert rejected[0].reasons[0].additional_information == ("insufficient_funds",)


def test_a_repeated_message_id_is_refused_and_books_nothing(
    bank: Bank, service: Iso20022Service, acme: Customer, supplier: Customer
) -> None:
    data = _pain001("MSG-DUP", [Pmt("PMT-1", acme.iban, [Tx("E2E-1", "10.00", supplier.iban)])])
    service.import_pain001(CHANNEL, data, sender="ebics:ACME")
    before = _footprint(bank)
    again = _pain001("MSG-DUP", [Pmt("PMT-9", acme.iban, [Tx("E2E-9", "20.00", supplier.iban)])])
    for attempt in (data, again):
        with pytest.raises(MessageRefused) as refused:
            service.import_pain001(CHANNEL, attempt, sender="ebics:ACME")
        assert refused.value.code == "message_id_duplicate"
    assert _footprint(bank) == before
    assert _balance(bank, supplier.ledger_account_id) == 10 * EURO
    report = service.refusal_report(refused.value)
    assert report is not None
    parsed = read_pacs002(report.xml, schemas=_SCHEMAS)
    assert parsed.group_status == "RJCT" and parsed.group_reasons[0].code == "DU01"
    # The same MsgId from another sender is another message.
    other = service.import_pain001(CHANNEL, data, sender="ebics:OTHER-CHANNEL")
    assert other.settled == 1


def test_concurrent_imports_of_one_message_id_book_it_once(
    bank: Bank, service: Iso20022Service, acme: Customer, supplier: Customer
) -> None:
    data = _pain001("MSG-RACE", [Pmt("PMT-1", acme.iban, [Tx("E2E-1", "10.00", supplier.iban)])])
    barrier = threading.Barrier(4)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        barrier.wait()
        try:
            result = service.import_pain001(CHANNEL, data, sender="ebics:ACME")
            outcome = result.group_status
        except MessageRefused as refusal:
            outcome = refusal.code or ""
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ACSC"] + ["message_id_duplicate"] * 3
    assert _balance(bank, supplier.ledger_account_id) == 10 * EURO


# Refused whole ----------------------------------------------------------------


def _refusal_cases(
    acme: Customer, supplier: Customer, stranger: Customer
) -> dict[str, tuple[bytes, str, str]]:
    """name -> (file, expected code, a text on the expected line)."""
    good = [Tx("E2E-1", "10.00", supplier.iban)]
    return {
        "bad creditor IBAN": (
            _pain001("M", [Pmt("P", acme.iban, [*good, Tx("E2E-2", "5.00", "DE89370400440532013001")])]),
            "iban_invalid",
            "DE89370400440532013001",
        ),
        "bad amount": (
            _pain001(
                "M", [Pmt("P", acme.iban, [*good, Tx("E2E-2", "5.001", supplier.iban)])], control_sum="15.001"
            ),
            "amount_precision_invalid",
            ">5.001<",
        ),
        "wrong control sum": (
            _pain001("M", [Pmt("P", acme.iban, good, control_sum="11.00")]),
            "control_sum_mismatch",
            "<CtrlSum>11.00</CtrlSum>",
        ),
        "schema invalid": (
            _pain001("M", [Pmt("P", acme.iban, good, extra=["<Unexpected>1</Unexpected>"])]),
            "schema_invalid",
            "<Unexpected>",
        ),
        "debtor not held here": (
            _pain001("M", [Pmt("P", EXTERNAL_DE, good)]),
            "debtor_account_unknown",
            f"<IBAN>{EXTERNAL_DE}</IBAN>",
        ),
        "debtor of another party": (
            _pain001(
                "M",
                [Pmt("P", acme.iban, good), Pmt("P2", stranger.iban, [Tx("E2E-3", "1.00", supplier.iban)])],
            ),
            "debtor_account_unknown",
            stranger.iban,
        ),
        "currency mismatch": (
            _pain001("M", [Pmt("P", acme.iban, [*good, Tx("E2E-2", "5.00", supplier.iban, currency="USD")])]),
            "currency_mismatch",
            "<EndToEndId>E2E-2<",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "bad creditor IBAN",
        "bad amount",
        "wrong control sum",
        "schema invalid",
        "debtor not held here",
        "debtor of another party",
        "currency mismatch",
    ],
)
def test_a_bad_file_is_refused_whole_with_its_line_and_books_nothing(
    bank: Bank, service: Iso20022Service, acme: Customer, supplier: Customer, case: str
) -> None:
    stranger = _customer(bank, "Stranger plc", "+441000000009", funds=50 * EURO)
    data, code, marker = _refusal_cases(acme, supplier, stranger)[case]
    # A debtor account problem is reported on its DbtrAcct line, just above the IBAN;
    # a transfer's currency on its CdtTrfTxInf line, just above its ids.
    shift = 1 if code in ("debtor_account_unknown", "currency_mismatch") else 0
    expected_line = _line_of(data, marker) - shift
    before = _footprint(bank)
    with pytest.raises(MessageRefused) as refused:
        service.import_pain001(CHANNEL, data, sender="ebics:ACME")
    assert code in refused.value.codes
    assert expected_line in [p.line for p in refused.value.problems if p.code == code]
    assert _footprint(bank) == before
    assert _balance(bank, acme.ledger_account_id) == 1_000 * EURO
    [entry] = bank.audit.query(action="iso20022.pain001.book").entries
    assert entry.outcome == "refused"
    # Nothing was registered: the corrected file is accepted under the same MsgId.
    fixed = _pain001("M", [Pmt("P", acme.iban, [Tx("E2E-1", "10.00", supplier.iban)])])
    assert service.import_pain001(CHANNEL, fixed, sender="ebics:ACME").settled == 1


def test_a_malformed_file_is_refused_with_its_line(
    bank: Bank, service: Iso20022Service, acme: Customer
) -> None:
    data = _pain001("M", [Pmt("P", acme.iban, [Tx("E2E-1", "1.00", EXTERNAL_DE)])]).replace(
        b"</Cdtr>", b"</Cdtor>"
    )
    before = _footprint(bank)
    with pytest.raises(MessageRefused) as refused:
        service.import_pain001(CHANNEL, data, sender="ebics:ACME")
    assert refused.value.code == "xml_malformed"
    assert refused.value.problems[0].line == _line_of(data, "</Cdtor>")
    assert _footprint(bank) == before


# Statements and interbank messages ------------------------------------------------


def _booked(bank: Bank, service: Iso20022Service, acme: Customer, supplier: Customer) -> ImportResult:
    data = _pain001(
        "MSG-ST",
        [Pmt("PMT-1", acme.iban, [Tx("E2E-1", "100.00", supplier.iban), Tx("E2E-2", "50.00", EXTERNAL_DE)])],
    )
    return service.import_pain001(CHANNEL, data, sender="ebics:ACME")


def test_the_statement_has_opening_and_closing_balances_and_validates(
    bank: Bank, service: Iso20022Service, clock: ManualClock, acme: Customer, supplier: Customer
) -> None:
    clock.advance(seconds=60)
    start = clock.now_ns()
    result = _booked(bank, service, acme, supplier)
    clock.advance(seconds=60)
    xml = service.statement(acme.account_id, start, clock.now_ns())
    message = read_camt053(xml, schemas=_SCHEMAS)
    assert message.schema_validated
    [statement] = message.statements
    assert statement.account.iban == acme.iban
    opening, closing = statement.balances
    assert (opening.type_code, opening.signed_minor) == ("OPBD", 1_000 * EURO)
    assert (closing.type_code, closing.signed_minor) == ("CLBD", 1_000 * EURO - 15_000)
    assert [(e.signed_minor, e.status) for e in statement.entries] == [(-10_000, "BOOK"), (-5_000, "BOOK")]
    assert [e.transactions[0].end_to_end_id for e in statement.entries] == ["E2E-1", "E2E-2"]
    assert statement.entries[0].batch_message_id == "MSG-ST"
    assert result.transactions[0].transfer_id is not None
    # The deposit before the period is in the opening balance, not an entry.
    whole = read_camt053(service.statement(acme.account_id, 1, clock.now_ns()), schemas=_SCHEMAS)
    assert [e.signed_minor for e in whole.statements[0].entries] == [1_000 * EURO, -10_000, -5_000]
    assert whole.statements[0].balances[0].signed_minor == 0


def test_pacs008_forwards_the_orders_paid_elsewhere(
    bank: Bank, service: Iso20022Service, acme: Customer, supplier: Customer
) -> None:
    result = _booked(bank, service, acme, supplier)
    internal, external = (o.order_id or "" for o in result.transactions)
    message = read_pacs008(service.pacs008_for([external]), schemas=_SCHEMAS)
    [transfer] = message.transfers
    assert (transfer.end_to_end_id, transfer.amount_minor, transfer.currency) == ("E2E-2", 5_000, "EUR")
    assert transfer.creditor_iban == EXTERNAL_DE and transfer.debtor_iban == acme.iban
    assert transfer.creditor_agent_bic == "COBADEFFXXX"
    with pytest.raises(InvalidInput) as refused:
        service.pacs008_for([internal])
    assert refused.value.code == "order_not_external"


# The command line -------------------------------------------------------------------


def test_the_cli_books_a_file_refuses_a_repeat_and_writes_a_statement(
    bank: Bank, store_url: str, acme: Customer, supplier: Customer, tmp_path: Path
) -> None:
    folder = tmp_path
    file = folder / "pain.xml"
    file.write_bytes(_pain001("MSG-CLI", [Pmt("PMT-1", acme.iban, [Tx("E2E-1", "10.00", supplier.iban)])]))
    runner = CliRunner()
    args = ["import", str(file), "--sender", "ebics:ACME", "--db", store_url]
    booked = runner.invoke(app, [*args, "--json", "--report", str(folder / "pacs002.xml")])
    assert booked.exit_code == 0, booked.output
    assert '"settled": 1' in booked.stdout
    assert read_pacs002((folder / "pacs002.xml").read_bytes(), schemas=_SCHEMAS).group_status == "ACSC"
    repeated = runner.invoke(app, [*args, "--json"])
    assert repeated.exit_code == 1 and "message_id_duplicate" in repeated.stdout
    out = folder / "camt053.xml"
    period = ["--from", "2000-01-01", "--to", "2100-01-01"]
    written = runner.invoke(
        app, ["statement", acme.account_id, *period, "--out", str(out), "--db", store_url]
    )
    assert written.exit_code == 0, written.output
    entries = read_camt053(out.read_bytes(), schemas=_SCHEMAS).statements[0].entries
    assert [e.signed_minor for e in entries] == [1_000 * EURO, -1_000]
