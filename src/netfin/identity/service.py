"""Identity use cases: register parties, raise KYC levels, open customer accounts.

A customer account is bound one-to-one to a ledger account, created here in
the ledger first (an account with no money in it is harmless if the second
step fails) and then recorded in ``customer_accounts``. Every change is
written to the audit log with the actor who made it.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any, Protocol

import sqlalchemy as sa
from schwifty import IBAN

from netfin.core.clock import Clock
from netfin.core.errors import Conflict, Forbidden, InvalidInput, LimitExceeded, NotFound, invariant
from netfin.core.ids import IdSource, format_id
from netfin.identity import store
from netfin.identity.model import (
    ACCOUNTS_PER_PARTY_MAX,
    IDENTIFIERS_PER_PARTY_MAX,
    AccountStatus,
    Actor,
    BankProfile,
    CustomerAccount,
    Identifier,
    KycLevel,
    Party,
    PartyKind,
    PartyStatus,
    Role,
    next_kyc_level,
    validate_currency,
    validate_display_name,
    validate_identifier,
    validate_nickname,
    validate_phone,
)
from netfin.ledger import Account, AccountFlags, CreateAccountResult, Ledger, Transfer
from netfin.storage.reads import point_reads

# Chart of accounts (ledger ``code``) for the accounts identity opens.
CODE_CUSTOMER_DEPOSIT = 100
CODE_BANK_FUNDING = 900
CODE_BANK_CLEARING = 910
# The counterpart of the memo accounts that hold wallet limits (never real money).
CODE_BANK_LIMITS = 920
# The bank's position in one currency, the other side of every FX leg.
CODE_BANK_FX_POSITION = 930
# Credit: income and loss accounts of the lending book (the 940s).
CODE_BANK_INTEREST_INCOME = 940
CODE_BANK_FEE_INCOME = 941
CODE_BANK_PENALTY_INCOME = 942
CODE_BANK_LOAN_LOSS = 943
CODE_BANK_RECOVERY_INCOME = 944
CODE_CASH_DEPOSIT = 1
BANK_PURPOSES = {
    "funding": CODE_BANK_FUNDING,
    "clearing": CODE_BANK_CLEARING,
    "limits": CODE_BANK_LIMITS,
    "fx_position": CODE_BANK_FX_POSITION,
    "interest_income": CODE_BANK_INTEREST_INCOME,
    "fee_income": CODE_BANK_FEE_INCOME,
    "penalty_income": CODE_BANK_PENALTY_INCOME,
    "loan_loss": CODE_BANK_LOAN_LOSS,
    "recovery_income": CODE_BANK_RECOVERY_INCOME,
}
_IBAN_ATTEMPTS_MAX = 16


class AuditWait(Protocol):
    def wait(self) -> object: ...


# The audit waits a request handler defers to its answer (``answer_after_audit``).
_DEFERRED_AUDIT_WAITS: ContextVar[list[AuditWait] | None] = ContextVar(
    "netfin_deferred_audit_waits", default=None
)


@contextmanager
def answer_after_audit() -> Iterator[None]:
    """Inside the block, ``wait_or_defer`` keeps the audit entries it is handed and the block's
    end waits for every one of them, whether the block returned or raised: a handler that
    answers after the block still answers only once its entries are committed, but they
    commit while it finishes its other writes instead of one after another. When the
    block returned and an entry failed, the first failure is raised."""
    waits: list[AuditWait] = []
    token = _DEFERRED_AUDIT_WAITS.set(waits)
    failure: BaseException | None = None
    try:
        yield
    finally:
        _DEFERRED_AUDIT_WAITS.reset(token)
        for pending in waits:
            try:
                pending.wait()
            except Exception as error:  # noqa: BLE001 - every entry is waited for; the first failure is raised
                failure = failure or error
    if failure is not None:
        raise failure


def submitted_together(audit: AuditSink) -> AbstractContextManager[None]:
    """Entries this thread submits inside the block reach the writer together, at its end,
    where the sink can hold them (``AuditLog.together``: one append instead of one each)."""
    together: Callable[[], AbstractContextManager[None]] | None = getattr(audit, "together", None)
    return nullcontext() if together is None else together()


def wait_or_defer(pending: AuditWait) -> None:
    """Wait for the entry now, or at the end of the enclosing ``answer_after_audit`` block."""
    waits = _DEFERRED_AUDIT_WAITS.get()
    if waits is None:
        pending.wait()
    else:
        waits.append(pending)


class AuditSink(Protocol):
    def submit(
        self,
        *,
        actor_kind: str,
        actor_id: str,
        action: str,
        outcome: str,
        subject_kind: str = "",
        subject_id: str = "",
        consent_id: str | None = None,
        interaction_id: str | None = None,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditWait: ...

    def record(
        self,
        *,
        actor_kind: str,
        actor_id: str,
        action: str,
        outcome: str,
        subject_kind: str = "",
        subject_id: str = "",
        consent_id: str | None = None,
        interaction_id: str | None = None,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> object: ...

    def record_many(self, entries: Sequence[Mapping[str, Any]]) -> object: ...


def audit_changes(
    audit: AuditSink,
    actor: Actor,
    action: str,
    subject_kind: str,
    items: Sequence[tuple[str, dict[str, Any]]],
) -> None:
    """Audit one change per (subject id, detail), all recorded together with a single wait."""
    audit.record_many(
        [
            {
                "actor_kind": actor.kind,
                "actor_id": actor.id,
                "action": action,
                "outcome": "succeeded",
                "subject_kind": subject_kind,
                "subject_id": subject_id,
                "consent_id": actor.consent_id,
                "interaction_id": actor.interaction_id,
                "detail": detail,
            }
            for subject_id, detail in items
        ]
    )


def submit_change(
    audit: AuditSink,
    actor: Actor,
    action: str,
    subject_kind: str,
    subject_id: str,
    detail: dict[str, Any] | None = None,
) -> AuditWait:
    """``audit_change`` without the wait: the caller ``wait()``s before it answers."""
    return audit.submit(
        actor_kind=actor.kind,
        actor_id=actor.id,
        action=action,
        outcome="succeeded",
        subject_kind=subject_kind,
        subject_id=subject_id,
        consent_id=actor.consent_id,
        interaction_id=actor.interaction_id,
        detail=detail,
    )


def audit_change(
    audit: AuditSink,
    actor: Actor,
    action: str,
    subject_kind: str,
    subject_id: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record one change and return once it is committed."""
    submit_change(audit, actor, action, subject_kind, subject_id, detail).wait()


class Identity:
    def __init__(
        self,
        engine: sa.Engine,
        ledger: Ledger,
        audit: AuditSink,
        *,
        clock: Clock,
        ids: IdSource,
        bank: BankProfile | None = None,
    ) -> None:
        self.engine = engine
        self.ledger = ledger
        self.audit = audit
        self.clock = clock
        self.ids = ids
        self.bank = bank or BankProfile()
        # Told of every new party after it is stored (the bank screens it against sanctions lists).
        self.on_registered: Callable[[Party, Sequence[tuple[str, str]]], None] | None = None

    # Parties -------------------------------------------------------------

    def register_party(
        self,
        actor: Actor,
        *,
        kind: PartyKind,
        display_name: str,
        phone: str,
        roles: Iterable[Role] = (Role.CUSTOMER,),
        identifiers: Sequence[tuple[str, str]] = (),
    ) -> Party:
        """A new party at KYC level 1: the phone number is the first evidence."""
        role_set = frozenset(Role(r) for r in roles)
        if not role_set:
            raise InvalidInput("a party needs at least one role", code="roles_empty")
        if len(identifiers) > IDENTIFIERS_PER_PARTY_MAX:
            raise LimitExceeded(
                f"at most {IDENTIFIERS_PER_PARTY_MAX} identifiers", code="identifiers_too_many"
            )
        checked = [(scheme, validate_identifier(scheme, value)) for scheme, value in identifiers]
        now = self.clock.now_ns()
        party = Party(
            party_id=self.ids.new_id(),
            kind=PartyKind(kind),
            display_name=validate_display_name(display_name),
            phone=validate_phone(phone),
            kyc_level=KycLevel.PHONE_ONLY,
            roles=role_set,
            status=PartyStatus.ACTIVE,
            created_ns=now,
        )
        with self.engine.begin() as connection:
            connection.execute(sa.insert(store.parties), [store.party_values(party, now)])
            self._insert_identifiers(connection, party.party_id, checked, now)
            connection.execute(
                sa.insert(store.kyc_events),
                [
                    {
                        "party_id": store.b16(party.party_id),
                        "level": int(KycLevel.PHONE_ONLY),
                        "evidence": "phone",
                        "reference": party.phone[-4:],
                        "recorded_by": f"{actor.kind}:{actor.id}",
                        "at_ns": now,
                    }
                ],
            )
        audit_change(
            self.audit,
            actor,
            "party.register",
            "party",
            format_id(party.party_id),
            {"kind": party.kind.value},
        )
        if self.on_registered is not None:
            self.on_registered(party, checked)
        return party

    def _insert_identifiers(
        self, connection: sa.Connection, party_id: int, checked: Sequence[tuple[str, str]], now: int
    ) -> None:
        for scheme, value in checked:
            taken = connection.execute(
                sa.select(store.party_identifiers.c.party_id).where(
                    store.party_identifiers.c.scheme == scheme, store.party_identifiers.c.value == value
                )
            ).first()
            if taken is not None:
                raise Conflict(f"this {scheme} identifier belongs to another party", code="identifier_taken")
            connection.execute(
                sa.insert(store.party_identifiers),
                [{"scheme": scheme, "value": value, "party_id": store.b16(party_id), "created_ns": now}],
            )

    def add_identifier(self, actor: Actor, party_id: int, scheme: str, value: str) -> Identifier:
        compact = validate_identifier(scheme, value)
        with self.engine.begin() as connection:
            self._party_for_update(connection, party_id)
            count = connection.execute(
                sa.select(sa.func.count()).where(store.party_identifiers.c.party_id == store.b16(party_id))
            ).scalar_one()
            if count >= IDENTIFIERS_PER_PARTY_MAX:
                raise LimitExceeded(
                    f"at most {IDENTIFIERS_PER_PARTY_MAX} identifiers", code="identifiers_too_many"
                )
            self._insert_identifiers(connection, party_id, [(scheme, compact)], self.clock.now_ns())
        identifier = Identifier(party_id, scheme, compact)
        audit_change(
            self.audit,
            actor,
            "party.identifier.add",
            "party",
            format_id(party_id),
            {"scheme": scheme, "value": identifier.masked},
        )
        return identifier

    def identifiers(self, party_id: int) -> list[Identifier]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(store.party_identifiers)
                .where(store.party_identifiers.c.party_id == store.b16(party_id))
                .order_by(store.party_identifiers.c.scheme)
            )
            return [Identifier(party_id, r.scheme, r.value) for r in rows]

    def get_party(self, party_id: int) -> Party:
        with self.engine.connect() as connection:
            party = store.load_party(connection, party_id)
        if party is None:
            raise NotFound("no such party", code="party_not_found")
        return party

    def iter_parties(self, *, page: int = 1_000) -> Iterator[Party]:
        """Every party, in id order, a page at a time (for screening everyone again)."""
        after = b""
        t = store.parties
        while True:
            with self.engine.connect() as connection:
                rows = connection.execute(
                    sa.select(t).where(t.c.party_id > after).order_by(t.c.party_id).limit(page)
                ).all()
            yield from (store.party_from_row(r) for r in rows)
            if len(rows) < page:
                return
            after = rows[-1].party_id

    def raise_kyc(self, actor: Actor, party_id: int, *, evidence: str, reference: str) -> Party:
        """Record one piece of KYC evidence and lift the party one level."""
        if not isinstance(reference, str) or not 1 <= len(reference) <= 128:
            raise InvalidInput("evidence reference must be 1..128 characters", code="kyc_reference_invalid")
        now = self.clock.now_ns()
        with self.engine.begin() as connection:
            party = self._party_for_update(connection, party_id)
            level = next_kyc_level(party.kyc_level, evidence)
            connection.execute(
                sa.update(store.parties)
                .where(store.parties.c.party_id == store.b16(party_id))
                .values(kyc_level=int(level), updated_ns=now)
            )
            connection.execute(
                sa.insert(store.kyc_events),
                [
                    {
                        "party_id": store.b16(party_id),
                        "level": int(level),
                        "evidence": evidence,
                        "reference": reference,
                        "recorded_by": f"{actor.kind}:{actor.id}",
                        "at_ns": now,
                    }
                ],
            )
        audit_change(
            self.audit,
            actor,
            "party.kyc.raise",
            "party",
            format_id(party_id),
            {"level": int(level), "evidence": evidence},
        )
        return self.get_party(party_id)

    def set_status(self, actor: Actor, party_id: int, status: PartyStatus) -> Party:
        with self.engine.begin() as connection:
            self._party_for_update(connection, party_id)
            connection.execute(
                sa.update(store.parties)
                .where(store.parties.c.party_id == store.b16(party_id))
                .values(status=PartyStatus(status).value, updated_ns=self.clock.now_ns())
            )
        audit_change(self.audit, actor, "party.status", "party", format_id(party_id), {"status": str(status)})
        return self.get_party(party_id)

    def _party_for_update(self, connection: sa.Connection, party_id: int) -> Party:
        row = connection.execute(
            sa.select(store.parties).where(store.parties.c.party_id == store.b16(party_id)).with_for_update()
        ).first()
        if row is None:
            raise NotFound("no such party", code="party_not_found")
        return store.party_from_row(row)

    # Accounts ------------------------------------------------------------

    def open_account(
        self, actor: Actor, party_id: int, *, currency: str, nickname: str = ""
    ) -> CustomerAccount:
        """Open a deposit account: a ledger account whose debits may not exceed its credits."""
        currency = validate_currency(currency)
        nickname = validate_nickname(nickname)
        party = self.get_party(party_id)
        if party.status is not PartyStatus.ACTIVE:
            raise Forbidden("the party is not active", code="party_not_active")
        if len(self.accounts_of(party_id)) >= ACCOUNTS_PER_PARTY_MAX:
            raise LimitExceeded(
                f"at most {ACCOUNTS_PER_PARTY_MAX} accounts per party", code="accounts_too_many"
            )
        ledger_id = self.ids.new_id()
        flags = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.HISTORY
        [result] = self.ledger.create_accounts(
            [Account(ledger_id, currency, CODE_CUSTOMER_DEPOSIT, flags=flags)]
        )
        invariant(result is CreateAccountResult.OK, f"a fresh ledger account was refused: {result}")
        account = CustomerAccount(
            account_id=format_id(self.ids.new_id()),
            party_id=party_id,
            ledger_account_id=ledger_id,
            currency=currency,
            nickname=nickname,
            iban="",
            status=AccountStatus.ENABLED,
            created_ns=self.clock.now_ns(),
        )
        account = self._insert_account(account)
        audit_change(self.audit, actor, "account.open", "account", account.account_id, {"currency": currency})
        return account

    def _insert_account(self, account: CustomerAccount) -> CustomerAccount:
        """Give the account a fresh IBAN; retry on the rare collision of random numbers."""
        for _ in range(_IBAN_ATTEMPTS_MAX):
            number = f"{secrets.randbelow(10**8):08d}"
            iban = IBAN.generate(
                self.bank.country, bank_code=self.bank.bank_code + self.bank.sort_code, account_code=number
            )
            candidate = dataclasses.replace(account, iban=str(iban.compact))
            try:
                with self.engine.begin() as connection:
                    connection.execute(sa.insert(store.customer_accounts), [store.account_values(candidate)])
                return candidate
            except sa.exc.IntegrityError:
                continue
        raise Conflict("could not allocate a unique account number", code="account_number_exhausted")

    def accounts_of(self, party_id: int) -> list[CustomerAccount]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(store.customer_accounts)
                .where(store.customer_accounts.c.party_id == store.b16(party_id))
                .order_by(store.customer_accounts.c.created_ns, store.customer_accounts.c.account_id)
            )
            return [store.account_from_row(r) for r in rows]

    def get_accounts(self, account_ids: Sequence[str]) -> list[CustomerAccount]:
        reads = point_reads(self.engine)
        if reads is not None:
            return store.read_accounts(reads, account_ids)
        with self.engine.connect() as connection:
            return store.load_accounts(connection, account_ids)

    def get_account(self, account_id: str) -> CustomerAccount:
        accounts = self.get_accounts([account_id])
        if not accounts:
            raise NotFound("no such account", code="account_not_found")
        return accounts[0]

    def find_account_by_iban(self, iban: str) -> CustomerAccount | None:
        reads = point_reads(self.engine)
        if reads is not None:
            return store.read_account_by_iban(reads, iban)
        with self.engine.connect() as connection:
            return store.load_account_by_iban(connection, iban)

    # The bank's own accounts ---------------------------------------------

    def bank_account(self, currency: str, purpose: str) -> int:
        """The ledger id of the bank's ``purpose`` account in ``currency``, created on first use."""
        currency = validate_currency(currency)
        if purpose not in BANK_PURPOSES:
            raise InvalidInput(f"unknown bank account purpose {purpose!r}", code="bank_purpose_unknown")
        found = self._bank_account_row(currency, purpose)
        if found is not None:
            return found
        ledger_id = self.ids.new_id()
        [result] = self.ledger.create_accounts([Account(ledger_id, currency, BANK_PURPOSES[purpose])])
        invariant(result is CreateAccountResult.OK, f"a fresh bank account was refused: {result}")
        # Another process may have created the row first; then its account is the
        # bank's and ours stays empty and unused (an account with no money is harmless).
        with self.engine.begin() as connection:
            connection.execute(
                _insert_ignoring_duplicates(connection),
                [{"currency": currency, "purpose": purpose, "ledger_account_id": store.b16(ledger_id)}],
            )
        found = self._bank_account_row(currency, purpose)
        invariant(found is not None, "bank account row missing after insert")
        return found  # type: ignore[return-value]

    def _bank_account_row(self, currency: str, purpose: str) -> int | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(store.bank_accounts.c.ledger_account_id).where(
                    store.bank_accounts.c.currency == currency, store.bank_accounts.c.purpose == purpose
                )
            ).first()
        return None if row is None else store.i16(row[0])

    def deposit_cash(self, actor: Actor, account_id: str, amount_minor: int) -> int:
        """An operator books cash paid in at a branch: funding -> customer. Returns the transfer id."""
        if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or amount_minor <= 0:
            raise InvalidInput("amount must be a positive integer of minor units", code="amount_invalid")
        account = self.get_account(account_id)
        funding = self.bank_account(account.currency, "funding")
        transfer_id = self.ids.new_id()
        [result] = self.ledger.create_transfers(
            [
                Transfer(
                    transfer_id,
                    funding,
                    account.ledger_account_id,
                    amount_minor,
                    account.currency,
                    CODE_CASH_DEPOSIT,
                )
            ]
        )
        if result.value != "ok":
            raise InvalidInput(f"the ledger refused the deposit: {result.value}", code=result.value)
        audit_change(
            self.audit,
            actor,
            "account.deposit",
            "account",
            account_id,
            {"amount_minor": amount_minor, "transfer_id": format_id(transfer_id)},
        )
        return transfer_id


def _insert_ignoring_duplicates(connection: sa.Connection) -> sa.Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the connection's dialect."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(store.bank_accounts).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(store.bank_accounts).on_conflict_do_nothing()
