"""ISO 20022 use cases: book a pain.001 as payment orders; write pacs.002, pacs.008 and camt.053.

``Iso20022Service.import_pain001`` takes a customer's pain.001 file from a
corporate channel (``sender``) through these steps:

1. ``read_pain001``: hardened parsing, the XSD and every business rule of
   the message itself; a refused file is refused whole (``MessageRefused``
   with each problem's code and line) and nothing is written;
2. the bank's own checks, also whole-file: each PmtInf's debtor IBAN is an
   account held here, all of one party (``debtor_account_unknown``
   otherwise: an account of another party is not disclosed), in the
   currency of every transfer it pays (``currency_mismatch``);
3. the MsgId is registered for the sender in its own transaction
   (``iso20022_messages``, primary key (sender, MsgId)): a second file with
   the same MsgId is refused (``message_id_duplicate``), also when both
   arrive at once;
4. every credit transfer becomes a payment order (payee: the account held
   here with the creditor IBAN, else ``EXTERNAL``, booked to the bank's
   clearing account), submitted with ``PaymentOrders.submit_many`` in chunks,
   pre-authorised by the file channel (``pre_authorised_by="pain001:<MsgId>"``);
   each settles or is rejected on its own (insufficient funds, a closed
   account), so the outcome is per transaction;
5. each outcome is stored (``iso20022_transactions``), the message is
   marked ``booked`` with its counts and totals, the import is audited, and
   a pacs.002 status report lists every transaction as ACSC (settled), ACSP
   (accepted, settlement in process) or RJCT with its reason.

Invariants:
- a refused file books nothing and registers no MsgId, so the sender can
  correct it and send it again under the same MsgId;
- money moves at most once per transaction: the idempotency key of its
  order is derived from (sender, MsgId, PmtInfId, EndToEndId), so booking
  the same file again (an import interrupted between steps 3 and 5 and
  re-sent after ``IMPORT_STALE_S``) returns the orders already made;
- amounts stay integer minor units from the file to the ledger and back.

``statement`` writes a camt.053.001.08 for a customer account from the
ledger's history (opening and closing booked balances, one entry per posted
transfer); ``pacs008_for`` writes the pacs.008 that forwards settled orders
paid to accounts elsewhere.

Public names: ``Iso20022Service``, ``ImportResult``, ``TransactionOutcome``,
``idempotency_key_for``, ``IMPORT_CHUNK_MAX``, ``IMPORT_STALE_S``,
``STATUS_REASON_CODES``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from netfin.core.clock import NS_PER_SECOND, Clock
from netfin.core.errors import InvalidInput, LimitExceeded, NetfinError, invariant
from netfin.core.ids import IdSource, format_id
from netfin.core.limits import PAGE_LIMIT_MAX
from netfin.identity.model import Actor, CustomerAccount
from netfin.identity.service import AuditSink, Identity, audit_change
from netfin.ledger.model import Transfer, TransferFlags
from netfin.payments.iso20022 import store
from netfin.payments.iso20022.camt053 import STATEMENT_ENTRIES_MAX, build_camt053
from netfin.payments.iso20022.document import local_name, parse_document, text_of
from netfin.payments.iso20022.errors import MessageRefused, SchemaUnavailable
from netfin.payments.iso20022.model import (
    Balance,
    BankTransactionCode,
    CreditDebit,
    CreditTransfer,
    EmittedMessage,
    Entry,
    EntryTransaction,
    InterbankTransfer,
    Pacs008Message,
    Pain001Message,
    PaymentInstruction,
    Problem,
    Statement,
    StatementAccount,
    StatementMessage,
    StatusReason,
    StatusReport,
    TransactionStatus,
)
from netfin.payments.iso20022.pacs002 import PACS002_VERSION, build_pacs002, status_report_for_refusal
from netfin.payments.iso20022.pacs008 import INTERBANK_TRANSFERS_MAX, build_pacs008
from netfin.payments.iso20022.pain001 import read_pain001
from netfin.payments.iso20022.xsd import SchemaSet, default_schemas
from netfin.payments.orders import (
    Endpoint,
    EndpointKind,
    OrderKind,
    OrderRequest,
    OrderStatus,
    PaymentOrder,
    PaymentOrders,
)

# Orders per submit_many call. Every order of a file is one ledger event (a
# customer account pays an account or the clearing account; no wallet legs),
# and the orders service books a whole call in one ledger batch, which holds
# at most 8,190 events: 5,000 keeps well inside it and splits 10,000 evenly.
IMPORT_CHUNK_MAX = 5_000
# A message left ``booking`` this long (a crash between registering and
# finishing) may be taken over by the same file sent again.
IMPORT_STALE_S = 600
SENDER_LENGTH_MAX = 140
# The audit entry's detail is small and flat: totals of a few currencies, the first problems.
AUDITED_CURRENCIES_MAX = 6
AUDITED_TEXT_MAX = 1_500
REFERENCE_LENGTH_MAX = 140
_ID_PREFIX = "NF"
_KEY_PREFIX = "p1:"
_SCA_CHANNEL = "pain001:"

# A netfin rejection code -> ExternalStatusReason1Code; the code itself goes in AddtlInf.
STATUS_REASON_CODES: dict[str, str] = {
    "insufficient_funds": "AM04",
    "account_not_enabled": "AC06",
    "payer_not_found": "AC01",
    "payee_not_found": "AC01",
    "iban_invalid": "AC01",
    "creditor_account_unsupported": "AC01",
    "currency_mismatch": "AM03",
    "currency_invalid": "AM03",
    "amount_invalid": "AM12",
    "idempotency_key_reused": "AM05",
    "risk_rejected": "AG01",
    "risk_step_up_unavailable": "AG01",
}

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class TransactionOutcome:
    """What became of one credit transfer: its ISO status and, when refused, why."""

    payment_information_id: str
    end_to_end_id: str
    instruction_id: str | None
    amount_minor: int
    currency: str
    status: str  # ACSC, ACSP or RJCT
    reason: str | None  # the netfin rejection code
    order_id: str | None
    transfer_id: int | None = None  # the ledger transfer that moved the money, once settled


@dataclass(frozen=True, slots=True)
class ImportResult:
    """A booked pain.001: every transaction's outcome and the pacs.002 that reports them.

    ``totals`` maps a currency to ``instructed_minor``, ``settled_minor``,
    ``in_process_minor`` and ``rejected_minor``. ``durations_ns`` splits the
    time spent: ``read`` (parse, XSD, message rules), ``check`` (accounts and
    MsgId), ``book`` (orders and ledger), ``report`` (pacs.002 and records).
    """

    sender: str
    message_id: str
    message_name: str
    party_id: int
    group_status: str
    transactions: tuple[TransactionOutcome, ...]
    settled: int
    in_process: int
    rejected: int
    totals: dict[str, dict[str, int]]
    status_report: EmittedMessage
    durations_ns: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Checked:
    party_id: int
    debtors: dict[str, CustomerAccount]


def idempotency_key_for(sender: str, message_id: str, payment_id: str, transfer_ref: str) -> str:
    """The order's idempotency key: 64 characters of [A-Za-z0-9._:-], the same for the same file."""
    body = "\x1f".join((sender, message_id, payment_id, transfer_ref)).encode()
    return _KEY_PREFIX + hashlib.sha256(body).hexdigest()[: 64 - len(_KEY_PREFIX)]


def _transfer_ref(transfer: CreditTransfer, ordinal: int) -> str:
    """EndToEndId, unique in the file unless it is the NOTPROVIDED placeholder;
    then the InstrId (unique too when given), else the position in the PmtInf."""
    if transfer.end_to_end_id != "NOTPROVIDED":
        return "e:" + transfer.end_to_end_id
    if transfer.instruction_id is not None:
        return "i:" + transfer.instruction_id
    return f"n:{ordinal}"


def _datetime_from_ns(ns: int) -> datetime:
    moment = datetime.fromtimestamp(ns // NS_PER_SECOND, tz=UTC)
    return moment.replace(microsecond=(ns % NS_PER_SECOND) // 1_000)


def _printable(text: str, length_max: int) -> str:
    return "".join(c if ord(c) >= 32 else " " for c in text)[:length_max]


class Iso20022Service:
    """Books pain.001 files as payment orders and writes the messages that follow."""

    def __init__(
        self,
        engine: sa.Engine,
        orders: PaymentOrders,
        identity: Identity,
        audit: AuditSink,
        *,
        clock: Clock,
        ids: IdSource,
        schemas: SchemaSet | None = None,
        bank_bic: str | None = None,
    ) -> None:
        self.engine = engine
        self.orders = orders
        self.identity = identity
        self.ledger = orders.ledger
        self.audit = audit
        self.clock = clock
        self.ids = ids
        self.schemas = schemas or default_schemas()
        self.bank_bic = bank_bic

    # pain.001 -> payment orders ---------------------------------------------

    def import_pain001(
        self,
        actor: Actor,
        data: bytes,
        *,
        sender: str,
        party_id: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> ImportResult:
        """Book every credit transfer of a pain.001; ``MessageRefused`` refuses the file whole.

        ``party_id``, when the channel knows whose file it is, must own every
        debtor account; otherwise the first PmtInf's account names the party.
        ``progress(done, total)`` is called after each chunk of orders.
        """
        if not sender or len(sender) > SENDER_LENGTH_MAX or any(ord(c) < 32 for c in sender):
            raise InvalidInput(f"a sender is 1 to {SENDER_LENGTH_MAX} characters", code="sender_invalid")
        if not self.schemas.has(PACS002_VERSION):
            # Checked before anything is booked: the status report must be writable afterwards.
            raise SchemaUnavailable(f"{PACS002_VERSION}.xsd is needed to report on a booked file")
        started = time.perf_counter_ns()
        try:
            message = read_pain001(data, schemas=self.schemas)
            read_done = time.perf_counter_ns()
            checked = self._check_debtors(message, data, party_id)
            self._register(sender, message, hashlib.sha256(data).hexdigest(), checked.party_id)
        except MessageRefused as refusal:
            self._audit_refusal(actor, sender, refusal)
            raise
        checked_done = time.perf_counter_ns()
        outcomes = self._book(actor, sender, message, checked, progress)
        booked_done = time.perf_counter_ns()
        result = self._finish(actor, sender, message, checked.party_id, outcomes)
        finished = time.perf_counter_ns()
        durations = {
            "read": read_done - started,
            "check": checked_done - read_done,
            "book": booked_done - checked_done,
            "report": finished - booked_done,
        }
        return replace(result, durations_ns=durations)

    def refusal_report(self, refusal: MessageRefused) -> EmittedMessage | None:
        """The pacs.002 group rejection of a refused file; None when its MsgId was unreadable."""
        if refusal.message_id is None:
            return None
        report = status_report_for_refusal(
            refusal, message_id=self._message_id(), creation_time=_datetime_from_ns(self.clock.now_ns())
        )
        return build_pacs002(report, schemas=self.schemas)

    def _check_debtors(self, message: Pain001Message, data: bytes, party_id: int | None) -> _Checked:
        """Whole-file checks of the debtor accounts; ``MessageRefused`` with lines otherwise."""
        found: dict[str, CustomerAccount | None] = {}
        by_payment: list[tuple[str, str, str]] = []  # (PmtInfId, code, sentence), lines looked up later
        problems: list[Problem] = []
        party = party_id
        for payment in message.payments:
            iban = (payment.debtor_iban or "").replace(" ", "").upper()
            if iban not in found:
                found[iban] = self._account_held_here(iban)
            account = found[iban]
            if account is not None and party is None:
                party = account.party_id
            if account is None or account.party_id != party:
                shown = iban or payment.debtor_account_other or "none"
                sentence = f"debtor account {shown!r} is not an account of this customer held here"
                by_payment.append((payment.payment_information_id, "debtor_account_unknown", sentence))
                continue
            declared = payment.debtor_account_currency
            if declared is not None and declared != account.currency:
                sentence = f"DbtrAcct/Ccy {declared} but the account is in {account.currency}"
                by_payment.append((payment.payment_information_id, "currency_mismatch", sentence))
            problems.extend(_currency_problems(payment, account.currency))
        if by_payment:
            lines = _debtor_account_lines(data)
            problems.extend(Problem(code, text, line=lines.get(pid)) for pid, code, text in by_payment)
        if problems or party is None:
            raise MessageRefused(message.message_name, problems, message_id=message.message_id)
        debtors = {iban: account for iban, account in found.items() if account is not None}
        return _Checked(party, debtors)

    def _account_held_here(self, iban: str) -> CustomerAccount | None:
        """The customer account with this IBAN, looked up only when the IBAN is in this bank's range.

        This bank numbers its accounts ``country, check digits, bank code +
        sort code, number`` (``identity.bank``), so an IBAN outside that range
        is held elsewhere without asking the database.
        """
        profile = self.identity.bank
        in_range = iban.startswith(profile.country) and iban[4:].startswith(
            profile.bank_code + profile.sort_code
        )
        if not in_range:
            return None
        return self.identity.find_account_by_iban(iban)

    def _register(self, sender: str, message: Pain001Message, digest: str, party_id: int) -> None:
        """Register the MsgId (its own transaction); refuse a repeat unless it resumes a stale import."""
        now = self.clock.now_ns()
        registered = store.register_message(
            self.engine,
            sender=sender,
            message_id=message.message_id,
            kind="pain.001",
            message_name=message.message_name,
            digest=digest,
            party_id=party_id,
            transactions=sum(len(p.transactions) for p in message.payments),
            received_ns=now,
        )
        if registered:
            return
        found = store.load_message(self.engine, sender, message.message_id)
        stale = (
            found is not None
            and found.status == store.STATUS_BOOKING
            and found.digest == digest
            and now - found.received_ns >= IMPORT_STALE_S * NS_PER_SECOND
        )
        if stale and found is not None and store.reclaim_message(self.engine, found, now_ns=now):
            return
        problem = Problem("message_id_duplicate", f"message id {message.message_id!r} was already received")
        raise MessageRefused(message.message_name, [problem], message_id=message.message_id)

    def _book(
        self,
        actor: Actor,
        sender: str,
        message: Pain001Message,
        checked: _Checked,
        progress: ProgressCallback | None,
    ) -> list[TransactionOutcome]:
        """Submit every transfer as an order, in chunks; one outcome per transfer, in file order."""
        creditors = self._creditor_accounts(message)
        items: list[tuple[OrderRequest, str]] = []
        positions: list[int] = []  # index in ``rows`` of each submitted item
        rows: list[tuple[PaymentInstruction, CreditTransfer, PaymentOrder | NetfinError | None]] = []
        for payment in message.payments:
            debtor = checked.debtors[(payment.debtor_iban or "").replace(" ", "").upper()]
            for ordinal, transfer in enumerate(payment.transactions):
                payee = _payee(transfer, creditors)
                if isinstance(payee, NetfinError):
                    rows.append((payment, transfer, payee))
                    continue
                request = OrderRequest(
                    OrderKind.ACCOUNT_TO_ACCOUNT,
                    Endpoint(EndpointKind.ACCOUNT, debtor.account_id),
                    payee,
                    transfer.amount_minor,
                    transfer.currency,
                    reference=_reference(transfer),
                )
                ref = _transfer_ref(transfer, ordinal)
                key = idempotency_key_for(sender, message.message_id, payment.payment_information_id, ref)
                items.append((request, key))
                positions.append(len(rows))
                rows.append((payment, transfer, None))
        authorised_by = _SCA_CHANNEL + message.message_id
        for start in range(0, len(items), IMPORT_CHUNK_MAX):
            chunk = items[start : start + IMPORT_CHUNK_MAX]
            results = self.orders.submit_many(actor, checked.party_id, chunk, pre_authorised_by=authorised_by)
            invariant(len(results) == len(chunk), "submit_many returns one result per item")
            for offset, outcome in enumerate(results):
                payment, transfer, _ = rows[positions[start + offset]]
                rows[positions[start + offset]] = (payment, transfer, outcome)
            if progress is not None:
                progress(min(start + IMPORT_CHUNK_MAX, len(items)), len(items))
        return [_outcome(payment, transfer, result) for payment, transfer, result in rows]

    def _creditor_accounts(self, message: Pain001Message) -> dict[str, CustomerAccount]:
        """Customer accounts held here that the file's creditor IBANs name (each looked up once)."""
        found: dict[str, CustomerAccount] = {}
        seen: set[str] = set()
        for _, transfer in message.transactions():
            iban = (transfer.creditor_iban or "").replace(" ", "").upper()
            if iban and iban not in seen:
                seen.add(iban)
                account = self._account_held_here(iban)
                if account is not None:
                    found[iban] = account
        return found

    def _finish(
        self,
        actor: Actor,
        sender: str,
        message: Pain001Message,
        party_id: int,
        outcomes: list[TransactionOutcome],
    ) -> ImportResult:
        """Write the pacs.002, store every outcome, mark the message booked and audit it."""
        statuses = {o.status for o in outcomes}
        group_status = statuses.pop() if len(statuses) == 1 else "PART"
        report = StatusReport(
            message_id=self._message_id(),
            creation_time=_datetime_from_ns(self.clock.now_ns()),
            original_message_id=message.message_id,
            original_message_name=message.message_name,
            group_status=group_status,
            transactions=tuple(_transaction_status(o) for o in outcomes),
            original_creation_time=message.creation_time,
            original_number_of_transactions=message.number_of_transactions,
            original_control_sum=message.control_sum,
        )
        emitted = build_pacs002(report, schemas=self.schemas)
        counts = {
            "settled": sum(o.status == "ACSC" for o in outcomes),
            "in_process": sum(o.status == "ACSP" for o in outcomes),
            "rejected": sum(o.status == "RJCT" for o in outcomes),
        }
        totals = _totals(outcomes)
        records = _transaction_records(sender, message, outcomes)
        store.finish_message(
            self.engine,
            sender=sender,
            message_id=message.message_id,
            counts=counts,
            totals=totals,
            report_message_id=report.message_id,
            transactions=records,
            finished_ns=self.clock.now_ns(),
        )
        detail: dict[str, Any] = {
            "message_name": message.message_name,
            "group_status": group_status,
            **counts,
        }
        for currency, sums in list(totals.items())[:AUDITED_CURRENCIES_MAX]:
            detail.update({f"{currency}_{name}": amount for name, amount in sums.items()})
        subject = f"{sender}/{message.message_id}"
        audit_change(self.audit, actor, "iso20022.pain001.book", "iso20022_message", subject, detail)
        return ImportResult(
            sender=sender,
            message_id=message.message_id,
            message_name=message.message_name,
            party_id=party_id,
            group_status=group_status,
            transactions=tuple(outcomes),
            totals=totals,
            status_report=emitted,
            settled=counts["settled"],
            in_process=counts["in_process"],
            rejected=counts["rejected"],
        )

    def _audit_refusal(self, actor: Actor, sender: str, refusal: MessageRefused) -> None:
        self.audit.record(
            actor_kind=actor.kind,
            actor_id=actor.id,
            action="iso20022.pain001.book",
            outcome="refused",
            subject_kind="iso20022_message",
            subject_id=f"{sender}/{refusal.message_id or ''}",
            consent_id=actor.consent_id,
            interaction_id=actor.interaction_id,
            reason=refusal.code,
            detail={
                "problem_count": len(refusal.problems),
                "problems": "; ".join(p.describe() for p in refusal.problems[:10])[:AUDITED_TEXT_MAX],
            },
        )

    def _message_id(self) -> str:
        """A new id for a message written here (Max35Text)."""
        return _ID_PREFIX + format_id(self.ids.new_id())

    # camt.053 -------------------------------------------------------------------

    def statement(self, account_id: str, from_ns: int, to_ns: int) -> bytes:
        """A camt.053.001.08 of a customer account for transfers posted in [from_ns, to_ns].

        Balances are the ledger's posted balances (credits minus debits):
        opening booked (OPBD) just before ``from_ns`` and closing booked
        (CLBD) at ``to_ns``; their difference is the sum of the entries.
        Pending transfers and voids are not entries (they change no posted
        balance). More than ``STATEMENT_ENTRIES_MAX`` entries is
        ``statement_too_large``: ask for a shorter period.
        """
        if not 0 < from_ns <= to_ns:
            raise InvalidInput("the period must be 0 < from <= to", code="statement_period_invalid")
        account = self.identity.get_account(account_id)
        opening = self._posted_balance(account.ledger_account_id, from_ns - 1)
        closing = self._posted_balance(account.ledger_account_id, to_ns)
        transfers = self._posted_transfers(account.ledger_account_id, from_ns, to_ns)
        details = store.transactions_by_transfer(self.engine, (t.id for t in transfers))
        entries = tuple(_entry(account, t, details.get(t.id)) for t in transfers)
        moved = sum(e.signed_minor for e in entries)
        invariant(opening + moved == closing, "opening balance plus entries is the closing balance")
        owner = self.identity.get_party(account.party_id).display_name
        statement = Statement(
            statement_id=self._message_id(),
            account=StatementAccount(
                iban=account.iban or None,
                other_id=None if account.iban else account.account_id,
                currency=account.currency,
                owner_name=owner,
                servicer_bic=self.bank_bic,
            ),
            balances=(
                _balance("OPBD", opening, account.currency, _datetime_from_ns(from_ns)),
                _balance("CLBD", closing, account.currency, _datetime_from_ns(to_ns)),
            ),
            entries=entries,
            creation_time=_datetime_from_ns(self.clock.now_ns()),
            from_time=_datetime_from_ns(from_ns),
            to_time=_datetime_from_ns(to_ns),
        )
        message = StatementMessage(
            message_id=self._message_id(),
            creation_time=_datetime_from_ns(self.clock.now_ns()),
            statements=(statement,),
        )
        return build_camt053(message, schemas=self.schemas).xml

    def _posted_balance(self, ledger_account_id: int, at_ns: int) -> int:
        """Credits minus debits posted up to ``at_ns`` (0 before the account's first transfer)."""
        if at_ns <= 0:
            return 0
        page = self.ledger.account_balances(ledger_account_id, timestamp_max=at_ns, reverse=True, limit=1)
        if not page.balances:
            return 0
        last = page.balances[0]
        return last.credits_posted - last.debits_posted

    def _posted_transfers(self, ledger_account_id: int, from_ns: int, to_ns: int) -> list[Transfer]:
        found: list[Transfer] = []
        cursor: str | None = None
        while True:
            page = self.ledger.account_transfers(
                ledger_account_id,
                cursor=cursor,
                limit=PAGE_LIMIT_MAX,
                timestamp_min=from_ns,
                timestamp_max=to_ns,
            )
            found.extend(t for t in page.transfers if not t.flags & _NOT_POSTED)
            if len(found) > STATEMENT_ENTRIES_MAX:
                raise LimitExceeded(
                    f"more than {STATEMENT_ENTRIES_MAX} entries; ask for a shorter period",
                    code="statement_too_large",
                )
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    # pacs.008 ------------------------------------------------------------------

    def pacs008_for(self, order_ids: Sequence[str]) -> bytes:
        """The pacs.008.001.09 forwarding settled orders paid to accounts at other banks.

        Refused (``InvalidInput``): an order that is not paid to an external
        IBAN (``order_not_external``) or not settled (``order_not_settled``),
        a creditor agent that neither the file named nor the IBAN's bank
        registry knows (``creditor_agent_missing``), no debtor agent BIC
        (``debtor_agent_missing``: the file's DbtrAgt, else ``bank_bic``).
        """
        unique_ids = list(dict.fromkeys(order_ids))
        if not 1 <= len(unique_ids) <= INTERBANK_TRANSFERS_MAX:
            raise LimitExceeded(
                f"a pacs.008 forwards 1 to {INTERBANK_TRANSFERS_MAX} orders", code="transfer_count_invalid"
            )
        orders = [self.orders.get(order_id) for order_id in unique_ids]
        details = store.transactions_by_order(self.engine, unique_ids)
        debtors = {a.account_id: a for a in self.identity.get_accounts([o.payer.id for o in orders])}
        names: dict[int, str] = {}
        now = self.clock.now_ns()
        transfers = []
        for order in orders:
            if order.payee.kind is not EndpointKind.EXTERNAL:
                raise InvalidInput(f"order {order.order_id} is not paid elsewhere", code="order_not_external")
            if order.status is not OrderStatus.SETTLED:
                raise InvalidInput(f"order {order.order_id} is not settled", code="order_not_settled")
            debtor = debtors[order.payer.id]
            if debtor.party_id not in names:
                names[debtor.party_id] = self.identity.get_party(debtor.party_id).display_name
            detail = details.get(order.order_id)
            transfers.append(self._interbank_transfer(order, debtor, names[debtor.party_id], detail, now))
        message = Pacs008Message(
            message_id=self._message_id(), creation_time=_datetime_from_ns(now), transfers=tuple(transfers)
        )
        return build_pacs008(message, schemas=self.schemas).xml

    def _interbank_transfer(
        self, order: PaymentOrder, debtor: CustomerAccount, debtor_name: str, detail: Any, now_ns: int
    ) -> InterbankTransfer:
        creditor_bic = (detail.creditor_agent_bic if detail is not None else None) or _bic_of(order.payee.id)
        if creditor_bic is None:
            raise InvalidInput(
                f"no creditor agent BIC for order {order.order_id}", code="creditor_agent_missing"
            )
        debtor_bic = (detail.debtor_agent_bic if detail is not None else None) or self.bank_bic
        if debtor_bic is None:
            raise InvalidInput("no debtor agent BIC is configured", code="debtor_agent_missing")
        remittance = detail.remittance if detail is not None else (order.reference or None)
        return InterbankTransfer(
            end_to_end_id=detail.end_to_end_id if detail is not None else "NOTPROVIDED",
            amount_minor=order.amount_minor,
            currency=order.currency,
            settlement_date=_datetime_from_ns(now_ns).date(),
            debtor_agent_bic=debtor_bic,
            creditor_agent_bic=creditor_bic,
            charge_bearer=(detail.charge_bearer if detail is not None else None) or "SLEV",
            instruction_id=detail.instruction_id if detail is not None else None,
            transaction_id=order.order_id[-35:],
            uetr=detail.uetr if detail is not None else None,
            debtor_name=debtor_name[:140],
            debtor_iban=debtor.iban or None,
            debtor_account_other=None if debtor.iban else debtor.account_id,
            creditor_name=detail.creditor_name if detail is not None else None,
            creditor_iban=order.payee.id,
            instructing_agent_bic=self.bank_bic,
            remittance_unstructured=(remittance,) if remittance else (),
            creditor_reference=detail.creditor_reference if detail is not None else None,
        )


# --- helpers -----------------------------------------------------------------------------------

_NOT_POSTED = TransferFlags.PENDING | TransferFlags.VOID_PENDING


def _currency_problems(payment: PaymentInstruction, currency: str) -> list[Problem]:
    return [
        Problem(
            "currency_mismatch",
            f"transfer in {transfer.transfer_currency} from an account in {currency}",
            line=transfer.source_line,
            end_to_end_id=transfer.end_to_end_id,
        )
        for transfer in payment.transactions
        if transfer.currency != currency or transfer.transfer_currency != currency
    ]


def _debtor_account_lines(data: bytes) -> dict[str, int]:
    """PmtInfId -> line of its DbtrAcct (or of the PmtInf), read again only for a refusal."""
    document = parse_document(data, expected="pain.001").document
    lines: dict[str, int] = {}
    for element in document.iter():
        if not isinstance(element.tag, str) or local_name(element) != "PmtInf":
            continue
        children = {local_name(c): c for c in element if isinstance(c.tag, str)}
        payment_id = text_of(children.get("PmtInfId")) or ""
        where = children.get("DbtrAcct", element)
        lines.setdefault(payment_id, int(where.sourceline or 0))
    return lines


def _payee(transfer: CreditTransfer, creditors: dict[str, CustomerAccount]) -> Endpoint | NetfinError:
    iban = (transfer.creditor_iban or "").replace(" ", "").upper()
    if not iban:
        return InvalidInput(
            "only creditor accounts identified by IBAN can be paid", code="creditor_account_unsupported"
        )
    account = creditors.get(iban)
    if account is not None:
        return Endpoint(EndpointKind.ACCOUNT, account.account_id)
    return Endpoint(EndpointKind.EXTERNAL, iban)


def _reference(transfer: CreditTransfer) -> str:
    text = transfer.creditor_reference or " ".join(transfer.remittance_unstructured) or transfer.end_to_end_id
    return _printable(text, REFERENCE_LENGTH_MAX)


def _outcome(
    payment: PaymentInstruction, transfer: CreditTransfer, result: PaymentOrder | NetfinError | None
) -> TransactionOutcome:
    invariant(result is not None, "every transfer has an outcome")
    order_id, transfer_id = None, None
    if isinstance(result, PaymentOrder):
        order_id = result.order_id
        if result.status is OrderStatus.SETTLED:
            status, reason, transfer_id = "ACSC", None, result.first_transfer_id
        elif result.status is OrderStatus.AUTHORISED:
            status, reason = "ACSP", None
        else:
            status, reason = "RJCT", result.status_reason or result.status.value
    else:
        status, reason = "RJCT", (result.code if result is not None else None) or "rejected"
    return TransactionOutcome(
        payment_information_id=payment.payment_information_id,
        end_to_end_id=transfer.end_to_end_id,
        instruction_id=transfer.instruction_id,
        amount_minor=transfer.amount_minor,
        currency=transfer.currency,
        status=status,
        reason=reason,
        order_id=order_id,
        transfer_id=transfer_id,
    )


def _transaction_status(outcome: TransactionOutcome) -> TransactionStatus:
    reasons: tuple[StatusReason, ...] = ()
    if outcome.reason is not None:
        code = STATUS_REASON_CODES.get(outcome.reason, "NARR")
        reasons = (StatusReason(code=code, additional_information=(outcome.reason[:105],)),)
    return TransactionStatus(
        outcome.status,
        original_end_to_end_id=outcome.end_to_end_id,
        original_instruction_id=outcome.instruction_id,
        reasons=reasons,
    )


def _totals(outcomes: Sequence[TransactionOutcome]) -> dict[str, dict[str, int]]:
    """Per currency: instructed, settled, in-process and rejected amounts (minor units)."""
    totals: dict[str, dict[str, int]] = {}
    column = {"ACSC": "settled_minor", "ACSP": "in_process_minor", "RJCT": "rejected_minor"}
    for outcome in outcomes:
        sums = totals.setdefault(
            outcome.currency,
            {"instructed_minor": 0, "settled_minor": 0, "in_process_minor": 0, "rejected_minor": 0},
        )
        sums["instructed_minor"] += outcome.amount_minor
        sums[column[outcome.status]] += outcome.amount_minor
    return totals


def _transaction_records(
    sender: str, message: Pain001Message, outcomes: Sequence[TransactionOutcome]
) -> list[dict[str, Any]]:
    records = []
    pairs = zip(message.transactions(), outcomes, strict=True)
    for seq, ((payment, transfer), outcome) in enumerate(pairs):
        remittance = " ".join(transfer.remittance_unstructured)
        records.append(
            {
                "sender": sender,
                "message_id": message.message_id,
                "seq": seq,
                "payment_information_id": payment.payment_information_id,
                "end_to_end_id": transfer.end_to_end_id,
                "instruction_id": transfer.instruction_id,
                "uetr": transfer.uetr,
                "amount_minor": transfer.amount_minor,
                "currency": transfer.currency,
                "status": outcome.status,
                "reason": None if outcome.reason is None else outcome.reason[:64],
                "order_id": outcome.order_id,
                "transfer_id": None if outcome.transfer_id is None else store.b16(outcome.transfer_id),
                "debtor_agent_bic": payment.debtor_agent_bic,
                "creditor_name": None if transfer.creditor_name is None else transfer.creditor_name[:140],
                "creditor_iban": transfer.creditor_iban,
                "creditor_agent_bic": transfer.creditor_agent_bic,
                "charge_bearer": transfer.charge_bearer,
                "remittance": _printable(remittance, 140) or None,
                "creditor_reference": transfer.creditor_reference,
            }
        )
    return records


def _balance(type_code: str, signed_minor: int, currency: str, at: datetime) -> Balance:
    side = CreditDebit.CREDIT if signed_minor >= 0 else CreditDebit.DEBIT
    return Balance(type_code, abs(signed_minor), currency, side, at)


def _entry(account: CustomerAccount, transfer: Transfer, detail: Any) -> Entry:
    credit = transfer.credit_account_id == account.ledger_account_id
    booked = _datetime_from_ns(transfer.timestamp)
    reference = format_id(transfer.id)
    transactions: tuple[EntryTransaction, ...] = ()
    if detail is not None:
        transactions = (
            EntryTransaction(
                account_servicer_reference=reference,
                payment_information_id=detail.payment_information_id,
                instruction_id=detail.instruction_id,
                end_to_end_id=detail.end_to_end_id,
                creditor_name=detail.creditor_name,
                creditor_iban=detail.creditor_iban,
                remittance_unstructured=(detail.remittance,) if detail.remittance else (),
            ),
        )
    return Entry(
        amount_minor=transfer.amount,
        currency=transfer.currency,
        credit_debit=CreditDebit.CREDIT if credit else CreditDebit.DEBIT,
        status="BOOK",
        bank_transaction_code=BankTransactionCode(
            domain="PMNT",
            family="RCDT" if credit else "ICDT",
            sub_family="OTHR",
            proprietary_code=str(transfer.code),
            proprietary_issuer="netfin",
        ),
        booking_date=booked,
        value_date=booked.date(),
        account_servicer_reference=reference,
        batch_message_id=detail.message_id if detail is not None else None,
        transactions=transactions,
    )


def _bic_of(iban: str) -> str | None:
    """The BIC of an IBAN's bank from schwifty's bank registry, when it knows one."""
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    try:
        bic = IBAN(iban).bic
    except SchwiftyException:
        return None
    return None if bic is None else str(bic.compact)
