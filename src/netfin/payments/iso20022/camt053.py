"""camt.053 (bank to customer statement): read .02, .04 and .08; write .08.

``read_camt053`` reads the three versions into one model: the elements that
moved between versions (``BIC``/``BICFI``, ``Sts`` as text or as a code
choice, related parties with or without a ``Pty`` wrapper, a transaction
amount in ``TxDtls/Amt`` or ``AmtDtls/TxAmt/Amt``) are looked up in both
places. A version is validated when its XSD is configured; camt.053.001.02
and .04 are not among the configured XSDs, so reading them needs
``require_schema=False`` and the result says ``schema_validated=False``.
Amounts go to minor units and are refused, never rounded, when they have
more decimal places than their currency.

``build_camt053`` writes camt.053.001.08 and validates it before returning.

What the model carries (and so what survives a read-write round trip):
statement ids, sequence numbers and period; the account (IBAN or other id,
currency, owner name, servicer BIC); balances (type, amount, credit/debit,
date); entries (reference, amount, credit/debit, reversal, status, booking
and value dates, servicer reference, bank transaction code, batch ids,
additional information) and their transaction details (references, amount,
parties' names, accounts and agents, remittance). Interest, credit lines,
charges, currency exchange details and transaction summaries are not read.

Public names: ``read_camt053``, ``build_camt053``, ``CAMT053_READABLE_VERSIONS``.
"""

from __future__ import annotations

from datetime import date, datetime

from netfin.core.errors import InvalidInput
from netfin.core.money import is_currency
from netfin.payments.iso20022.document import (
    ISO_NAMESPACE_PREFIX,
    Builder,
    Element,
    Paths,
    line_of,
    message_name_of,
    parse_document,
    text_at,
    texts_at,
)
from netfin.payments.iso20022.errors import MessageRefused
from netfin.payments.iso20022.model import (
    Balance,
    BankTransactionCode,
    CreditDebit,
    DateOrDateTime,
    EmittedMessage,
    Entry,
    EntryTransaction,
    Problem,
    Statement,
    StatementAccount,
    StatementMessage,
    date_from_text,
    datetime_from_text,
    minor_units_from_text,
    text_from_datetime,
    text_from_minor_units,
)
from netfin.payments.iso20022.xsd import SchemaSet, default_schemas

CAMT053_READABLE_VERSIONS = ("camt.053.001.02", "camt.053.001.04", "camt.053.001.08")
CAMT053_WRITTEN_VERSION = "camt.053.001.08"
# Entries written into one statement.
STATEMENT_ENTRIES_MAX = 100_000
_CREDIT_DEBIT = {c.value: c for c in CreditDebit}


def read_camt053(
    data: bytes, *, schemas: SchemaSet | None = None, require_schema: bool = True
) -> StatementMessage:
    """Read a camt.053.001.02/.04/.08; ``MessageRefused`` lists every problem."""
    received = parse_document(data, expected="camt.053")
    name = message_name_of(received.namespace)
    if name not in CAMT053_READABLE_VERSIONS:
        problem = Problem(
            "message_version_unsupported",
            f"namespace {received.namespace!r} is not one of {', '.join(CAMT053_READABLE_VERSIONS)}",
            line_of(received.document),
        )
        raise MessageRefused("camt.053", [problem])
    p = Paths(received.namespace)
    message_id = text_at(received.document, p("BkToCstmrStmt/GrpHdr/MsgId"))
    validated = (schemas or default_schemas()).check_received(
        received.document, name, require_schema=require_schema, message_id=message_id
    )
    reader = _Reader(p)
    root = received.document.find(p("BkToCstmrStmt"))
    if root is None:
        raise MessageRefused(name, [Problem("element_missing", "BkToCstmrStmt is missing", 1)])
    header = root.find(p("GrpHdr"))
    creation_time = reader.datetime_at(header, "CreDtTm", required=True)
    statements = tuple(reader.statement(element) for element in root.iterfind(p("Stmt")))
    if not message_id:
        reader.problem("element_missing", "GrpHdr/MsgId is missing", header)
    if reader.problems or creation_time is None:
        raise MessageRefused(name, reader.problems, message_id=message_id)
    return StatementMessage(
        message_id=message_id or "",
        creation_time=creation_time,
        statements=statements,
        message_name=name,
        schema_validated=validated,
    )


class _Reader:
    """Reads statements of any readable version, collecting every problem."""

    def __init__(self, paths: Paths) -> None:
        self.p = paths
        self.problems: list[Problem] = []

    def problem(self, code: str, message: str, element: Element | None) -> None:
        self.problems.append(Problem(code, message, line=line_of(element)))

    def statement(self, element: Element) -> Statement:
        p = self.p
        statement_id = text_at(element, p("Id"))
        if not statement_id:
            self.problem("element_missing", "Stmt/Id is missing", element)
        balances = tuple(self.balance(e) for e in element.iterfind(p("Bal")))
        if not balances:
            self.problem("balance_missing", "a statement needs at least one balance", element)
        return Statement(
            statement_id=statement_id or "",
            account=self.account(element.find(p("Acct")), element),
            balances=balances,
            entries=tuple(self.entry(e) for e in element.iterfind(p("Ntry"))),
            electronic_sequence_number=self.integer(element, "ElctrncSeqNb"),
            legal_sequence_number=self.integer(element, "LglSeqNb"),
            creation_time=self.datetime_at(element, "CreDtTm"),
            from_time=self.datetime_at(element, "FrToDt/FrDtTm"),
            to_time=self.datetime_at(element, "FrToDt/ToDtTm"),
        )

    def account(self, element: Element | None, statement: Element) -> StatementAccount:
        p = self.p
        if element is None:
            self.problem("element_missing", "Stmt/Acct is missing", statement)
            return StatementAccount()
        currency = text_at(element, p("Ccy"))
        if currency is not None and not is_currency(currency):
            self.problem("currency_unknown", f"{currency!r} is not an ISO 4217 currency", element)
        return StatementAccount(
            iban=text_at(element, p("Id/IBAN")),
            other_id=text_at(element, p("Id/Othr/Id")),
            currency=currency,
            owner_name=text_at(element, p("Ownr/Nm")),
            servicer_bic=self.bic(element, "Svcr"),
        )

    def balance(self, element: Element) -> Balance:
        p = self.p
        code = text_at(element, p("Tp/CdOrPrtry/Cd"))
        proprietary = text_at(element, p("Tp/CdOrPrtry/Prtry"))
        if code is None and proprietary is None:
            self.problem("element_missing", "Bal/Tp/CdOrPrtry is missing", element)
        amount_minor, currency = self.amount(element.find(p("Amt")), element)
        return Balance(
            type_code=code or proprietary or "",
            amount_minor=amount_minor,
            currency=currency,
            credit_debit=self.credit_debit(element) or CreditDebit.CREDIT,
            date=self.date_choice(element, "Dt", required=True) or date.min,
            type_is_proprietary=code is None and proprietary is not None,
        )

    def entry(self, element: Element) -> Entry:
        p = self.p
        amount_minor, currency = self.amount(element.find(p("Amt")), element)
        status = (
            text_at(element, p("Sts/Cd")) or text_at(element, p("Sts/Prtry")) or text_at(element, p("Sts"))
        )
        if not status:
            self.problem("element_missing", "Ntry/Sts is missing", element)
        reversal = text_at(element, p("RvslInd"))
        count = self.integer(element, "NtryDtls/Btch/NbOfTxs")
        return Entry(
            amount_minor=amount_minor,
            currency=currency,
            credit_debit=self.credit_debit(element) or CreditDebit.CREDIT,
            status=status or "",
            bank_transaction_code=self.bank_transaction_code(element),
            reference=text_at(element, p("NtryRef")),
            reversal=None if reversal is None else reversal in ("true", "1"),
            booking_date=self.date_choice(element, "BookgDt"),
            value_date=self.date_choice(element, "ValDt"),
            account_servicer_reference=text_at(element, p("AcctSvcrRef")),
            batch_message_id=text_at(element, p("NtryDtls/Btch/MsgId")),
            batch_payment_information_id=text_at(element, p("NtryDtls/Btch/PmtInfId")),
            batch_number_of_transactions=count,
            transactions=tuple(self.transaction(e) for e in element.iterfind(p("NtryDtls/TxDtls"))),
            additional_information=text_at(element, p("AddtlNtryInf")),
        )

    def bank_transaction_code(self, element: Element) -> BankTransactionCode:
        p = self.p
        return BankTransactionCode(
            domain=text_at(element, p("BkTxCd/Domn/Cd")),
            family=text_at(element, p("BkTxCd/Domn/Fmly/Cd")),
            sub_family=text_at(element, p("BkTxCd/Domn/Fmly/SubFmlyCd")),
            proprietary_code=text_at(element, p("BkTxCd/Prtry/Cd")),
            proprietary_issuer=text_at(element, p("BkTxCd/Prtry/Issr")),
        )

    def transaction(self, element: Element) -> EntryTransaction:
        p = self.p
        amount_element = element.find(p("Amt"))
        if amount_element is None:
            amount_element = element.find(p("AmtDtls/TxAmt/Amt"))
        amount_minor: int | None = None
        currency: str | None = None
        if amount_element is not None:
            amount_minor, currency = self.amount(amount_element, element)
        return EntryTransaction(
            amount_minor=amount_minor,
            currency=currency,
            credit_debit=self.credit_debit(element),
            account_servicer_reference=text_at(element, p("Refs/AcctSvcrRef")),
            payment_information_id=text_at(element, p("Refs/PmtInfId")),
            instruction_id=text_at(element, p("Refs/InstrId")),
            end_to_end_id=text_at(element, p("Refs/EndToEndId")),
            transaction_id=text_at(element, p("Refs/TxId")),
            debtor_name=self.party_name(element, "Dbtr"),
            debtor_iban=text_at(element, p("RltdPties/DbtrAcct/Id/IBAN")),
            debtor_account_other=text_at(element, p("RltdPties/DbtrAcct/Id/Othr/Id")),
            creditor_name=self.party_name(element, "Cdtr"),
            creditor_iban=text_at(element, p("RltdPties/CdtrAcct/Id/IBAN")),
            creditor_account_other=text_at(element, p("RltdPties/CdtrAcct/Id/Othr/Id")),
            debtor_agent_bic=self.bic(element, "RltdAgts/DbtrAgt"),
            creditor_agent_bic=self.bic(element, "RltdAgts/CdtrAgt"),
            remittance_unstructured=texts_at(element, p("RmtInf/Ustrd")),
            creditor_reference=text_at(element, p("RmtInf/Strd/CdtrRefInf/Ref")),
            additional_information=text_at(element, p("AddtlTxInf")),
        )

    def party_name(self, element: Element, role: str) -> str | None:
        # .08 wraps the party in Pty (Party40Choice); .02 and .04 do not.
        p = self.p
        return text_at(element, p(f"RltdPties/{role}/Pty/Nm")) or text_at(element, p(f"RltdPties/{role}/Nm"))

    def bic(self, element: Element, agent: str) -> str | None:
        p = self.p
        return text_at(element, p(f"{agent}/FinInstnId/BICFI")) or text_at(
            element, p(f"{agent}/FinInstnId/BIC")
        )

    def amount(self, element: Element | None, parent: Element) -> tuple[int, str]:
        if element is None:
            self.problem("element_missing", "Amt is missing", parent)
            return 0, ""
        currency = element.get("Ccy") or ""
        try:
            return minor_units_from_text(element.text, currency, zero_allowed=True), currency
        except InvalidInput as error:
            self.problem(error.code, error.message, element)
            return 0, currency

    def credit_debit(self, element: Element) -> CreditDebit | None:
        text = text_at(element, self.p("CdtDbtInd"))
        if text is None:
            return None
        found = _CREDIT_DEBIT.get(text)
        if found is None:
            self.problem("credit_debit_invalid", f"CdtDbtInd {text!r} is neither CRDT nor DBIT", element)
        return found

    def date_choice(self, element: Element, name: str, *, required: bool = False) -> DateOrDateTime | None:
        p = self.p
        try:
            date_text = text_at(element, p(f"{name}/Dt"))
            if date_text is not None:
                return date_from_text(date_text)
            time_text = text_at(element, p(f"{name}/DtTm"))
            if time_text is not None:
                return datetime_from_text(time_text)
        except ValueError as error:
            self.problem("date_invalid", str(error), element)
            return None
        if required:
            self.problem("element_missing", f"{name} is missing", element)
        return None

    def datetime_at(self, element: Element | None, path: str, *, required: bool = False) -> datetime | None:
        text = text_at(element, self.p(path)) if element is not None else None
        if text is None:
            if required:
                self.problem("element_missing", f"{path} is missing", element)
            return None
        try:
            return datetime_from_text(text)
        except ValueError as error:
            self.problem("date_invalid", str(error), element)
            return None

    def integer(self, element: Element, path: str) -> int | None:
        text = text_at(element, self.p(path))
        if text is None:
            return None
        if not text.isdigit():
            self.problem("number_invalid", f"{path} {text!r} is not a whole number", element)
            return None
        return int(text)


# --- writing ------------------------------------------------------------------------------------


def build_camt053(message: StatementMessage, *, schemas: SchemaSet | None = None) -> EmittedMessage:
    """Write ``message`` as camt.053.001.08, validated against its XSD."""
    _check_message(message)
    builder = Builder(ISO_NAMESPACE_PREFIX + CAMT053_WRITTEN_VERSION)
    document = builder.document()
    root = builder.add(document, "BkToCstmrStmt")
    header = builder.add(root, "GrpHdr")
    builder.add(header, "MsgId", message.message_id)
    builder.add(header, "CreDtTm", text_from_datetime(message.creation_time))
    for statement in message.statements:
        _add_statement(builder, root, statement)
    return (schemas or default_schemas()).emitted(document, CAMT053_WRITTEN_VERSION)


def _add_statement(builder: Builder, root: Element, statement: Statement) -> None:
    element = builder.add(root, "Stmt")
    builder.add(element, "Id", statement.statement_id)
    if statement.electronic_sequence_number is not None:
        builder.add(element, "ElctrncSeqNb", str(statement.electronic_sequence_number))
    if statement.legal_sequence_number is not None:
        builder.add(element, "LglSeqNb", str(statement.legal_sequence_number))
    if statement.creation_time is not None:
        builder.add(element, "CreDtTm", text_from_datetime(statement.creation_time))
    if statement.from_time is not None and statement.to_time is not None:
        period = builder.add(element, "FrToDt")
        builder.add(period, "FrDtTm", text_from_datetime(statement.from_time))
        builder.add(period, "ToDtTm", text_from_datetime(statement.to_time))
    _add_account(builder, element, statement.account)
    for balance in statement.balances:
        _add_balance(builder, element, balance)
    for entry in statement.entries:
        _add_entry(builder, element, entry)


def _add_account(builder: Builder, parent: Element, account: StatementAccount) -> None:
    element = builder.add(parent, "Acct")
    if account.iban is not None:
        builder.add_path(element, "Id/IBAN", account.iban)
    else:
        builder.add_path(element, "Id/Othr/Id", account.other_id or "")
    builder.add_optional(element, "Ccy", account.currency)
    if account.owner_name is not None:
        builder.add_path(element, "Ownr/Nm", account.owner_name)
    if account.servicer_bic is not None:
        builder.add_path(element, "Svcr/FinInstnId/BICFI", account.servicer_bic)


def _add_balance(builder: Builder, parent: Element, balance: Balance) -> None:
    element = builder.add(parent, "Bal")
    kind = "Prtry" if balance.type_is_proprietary else "Cd"
    builder.add_path(element, f"Tp/CdOrPrtry/{kind}", balance.type_code)
    amount_text = text_from_minor_units(balance.amount_minor, balance.currency)
    builder.add(element, "Amt", amount_text, currency=balance.currency)
    builder.add(element, "CdtDbtInd", balance.credit_debit.value)
    _add_date_choice(builder, element, "Dt", balance.date)


def _add_date_choice(builder: Builder, parent: Element, name: str, value: DateOrDateTime | None) -> None:
    if value is None:
        return
    if isinstance(value, datetime):
        builder.add_path(parent, f"{name}/DtTm", text_from_datetime(value))
    else:
        builder.add_path(parent, f"{name}/Dt", value.isoformat())


def _add_entry(builder: Builder, parent: Element, entry: Entry) -> None:
    element = builder.add(parent, "Ntry")
    builder.add_optional(element, "NtryRef", entry.reference)
    builder.add(
        element, "Amt", text_from_minor_units(entry.amount_minor, entry.currency), currency=entry.currency
    )
    builder.add(element, "CdtDbtInd", entry.credit_debit.value)
    if entry.reversal is not None:
        builder.add(element, "RvslInd", "true" if entry.reversal else "false")
    # ExternalEntryStatus1Code has at most four characters; anything longer is proprietary.
    builder.add_path(element, "Sts/Cd" if len(entry.status) <= 4 else "Sts/Prtry", entry.status)
    _add_date_choice(builder, element, "BookgDt", entry.booking_date)
    _add_date_choice(builder, element, "ValDt", entry.value_date)
    builder.add_optional(element, "AcctSvcrRef", entry.account_servicer_reference)
    _add_bank_transaction_code(builder, element, entry.bank_transaction_code)
    has_batch = any(
        v is not None
        for v in (
            entry.batch_message_id,
            entry.batch_payment_information_id,
            entry.batch_number_of_transactions,
        )
    )
    if has_batch or entry.transactions:
        details = builder.add(element, "NtryDtls")
        if has_batch:
            batch = builder.add(details, "Btch")
            builder.add_optional(batch, "MsgId", entry.batch_message_id)
            builder.add_optional(batch, "PmtInfId", entry.batch_payment_information_id)
            if entry.batch_number_of_transactions is not None:
                builder.add(batch, "NbOfTxs", str(entry.batch_number_of_transactions))
        for transaction in entry.transactions:
            _add_transaction(builder, details, transaction)
    builder.add_optional(element, "AddtlNtryInf", entry.additional_information)


def _add_bank_transaction_code(builder: Builder, parent: Element, code: BankTransactionCode) -> None:
    element = builder.add(parent, "BkTxCd")
    if code.domain is not None and code.family is not None and code.sub_family is not None:
        domain = builder.add(element, "Domn")
        builder.add(domain, "Cd", code.domain)
        family = builder.add(domain, "Fmly")
        builder.add(family, "Cd", code.family)
        builder.add(family, "SubFmlyCd", code.sub_family)
    if code.proprietary_code is not None:
        proprietary = builder.add(element, "Prtry")
        builder.add(proprietary, "Cd", code.proprietary_code)
        builder.add_optional(proprietary, "Issr", code.proprietary_issuer)


def _add_transaction(builder: Builder, parent: Element, transaction: EntryTransaction) -> None:
    element = builder.add(parent, "TxDtls")
    references = (
        ("AcctSvcrRef", transaction.account_servicer_reference),
        ("PmtInfId", transaction.payment_information_id),
        ("InstrId", transaction.instruction_id),
        ("EndToEndId", transaction.end_to_end_id),
        ("TxId", transaction.transaction_id),
    )
    if any(value is not None for _, value in references):
        refs = builder.add(element, "Refs")
        for name, value in references:
            builder.add_optional(refs, name, value)
    if transaction.amount_minor is not None and transaction.currency is not None:
        amount_text = text_from_minor_units(transaction.amount_minor, transaction.currency)
        builder.add(element, "Amt", amount_text, currency=transaction.currency)
    if transaction.credit_debit is not None:
        builder.add(element, "CdtDbtInd", transaction.credit_debit.value)
    _add_related_parties(builder, element, transaction)
    if transaction.debtor_agent_bic is not None or transaction.creditor_agent_bic is not None:
        agents = builder.add(element, "RltdAgts")
        for name, bic in (
            ("DbtrAgt", transaction.debtor_agent_bic),
            ("CdtrAgt", transaction.creditor_agent_bic),
        ):
            if bic is not None:
                builder.add_path(agents, f"{name}/FinInstnId/BICFI", bic)
    if transaction.remittance_unstructured or transaction.creditor_reference is not None:
        remittance = builder.add(element, "RmtInf")
        for line in transaction.remittance_unstructured:
            builder.add(remittance, "Ustrd", line)
        if transaction.creditor_reference is not None:
            builder.add_path(remittance, "Strd/CdtrRefInf/Ref", transaction.creditor_reference)
    builder.add_optional(element, "AddtlTxInf", transaction.additional_information)


def _add_related_parties(builder: Builder, parent: Element, transaction: EntryTransaction) -> None:
    sides = (
        ("Dbtr", transaction.debtor_name, transaction.debtor_iban, transaction.debtor_account_other),
        ("Cdtr", transaction.creditor_name, transaction.creditor_iban, transaction.creditor_account_other),
    )
    if all(name is None and iban is None and other is None for _, name, iban, other in sides):
        return
    parties = builder.add(parent, "RltdPties")
    for role, name, iban, other in sides:
        if name is not None:
            builder.add_path(parties, f"{role}/Pty/Nm", name)
        if iban is not None:
            builder.add_path(parties, f"{role}Acct/Id/IBAN", iban)
        elif other is not None:
            builder.add_path(parties, f"{role}Acct/Id/Othr/Id", other)


def _check_message(message: StatementMessage) -> None:
    """Refuse input the XSD would refuse, so that a schema failure after
    building can only be a bug."""
    if not message.statements:
        raise InvalidInput("a statement message needs at least one statement", code="statement_missing")
    for statement in message.statements:
        if not statement.balances:
            raise InvalidInput("a statement needs at least one balance", code="balance_missing")
        if len(statement.entries) > STATEMENT_ENTRIES_MAX:
            raise InvalidInput(f"more than {STATEMENT_ENTRIES_MAX} entries", code="statement_too_large")
        if statement.account.iban is None and not statement.account.other_id:
            raise InvalidInput("the statement account needs an IBAN or another id", code="account_missing")
        amounts = [(b.amount_minor, b.currency) for b in statement.balances]
        amounts += [(e.amount_minor, e.currency) for e in statement.entries]
        for amount_minor, currency in amounts:
            if type(amount_minor) is not int or amount_minor < 0 or not is_currency(currency):
                raise InvalidInput(
                    "amounts are non-negative minor units of an ISO 4217 currency", code="amount_invalid"
                )
        for entry in statement.entries:
            if not entry.status:
                raise InvalidInput("an entry needs a status", code="entry_status_missing")
