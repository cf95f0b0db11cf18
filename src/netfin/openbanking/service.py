"""Open-banking use cases: what a TPP may read or do under a consent, and the
customer's side of authorising it.

Each TPP operation loads the consent afresh (so a revocation or expiry is
effective on the next request), checks it with the pure rules of
``identity.consents.model`` and writes an audit entry whether it is allowed
or refused, naming the consent and the refusal code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from netfin.core.clock import Clock
from netfin.core.errors import Forbidden, InvalidInput, NetfinError, NotFound
from netfin.core.limits import PAGE_LIMIT_MAX
from netfin.identity.consents import Consent, ConsentKind, Consents, Permission
from netfin.identity.consents.model import (
    require_account,
    require_permission,
    require_usable,
    transaction_window,
)
from netfin.identity.model import Actor, CustomerAccount
from netfin.identity.service import AuditSink, Identity, wait_or_defer
from netfin.ledger import Account, Ledger, Transfer, TransferFlags
from netfin.payments import DomesticInitiation, DomesticPayment, Payments
from netfin.payments.service import UNRESOLVED, FinalWrite

T = TypeVar("T")
TRANSACTIONS_PAGE_MAX = min(PAGE_LIMIT_MAX, 1000)
_VOID = int(TransferFlags.VOID_PENDING)


@dataclass(frozen=True, slots=True)
class TppAccess:
    """What an access token says: which client, under which consent (if any)."""

    client_id: str
    consent_id: str | None
    interaction_id: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor("tpp", self.client_id, self.consent_id, self.interaction_id)


@dataclass(frozen=True, slots=True)
class Balance:
    account: CustomerAccount
    ledger_account: Account

    @property
    def booked_minor(self) -> int:
        return self.ledger_account.credits_posted - self.ledger_account.debits_posted

    @property
    def available_minor(self) -> int:
        return self.booked_minor - self.ledger_account.debits_pending


@dataclass(frozen=True, slots=True)
class TransactionPage:
    account: CustomerAccount
    consent: Consent
    transfers: list[Transfer]
    payments: dict[int, DomesticPayment]
    next_cursor: str | None


class Allowed:
    """Records an operation's "allowed" audit entry once, when ``now()`` is first called."""

    __slots__ = ("_record", "recorded")

    def __init__(self, record: Callable[[], None]) -> None:
        self._record = record
        self.recorded = False

    def now(self) -> None:
        if not self.recorded:
            self.recorded = True
            self._record()


class OpenBanking:
    def __init__(
        self,
        *,
        identity: Identity,
        consents: Consents,
        payments: Payments,
        ledger: Ledger,
        audit: AuditSink,
        clock: Clock,
    ) -> None:
        self.identity = identity
        self.consents = consents
        self.payments = payments
        self.ledger = ledger
        self.audit = audit
        self.clock = clock

    # Auditing ----------------------------------------------------------------

    def audited(self, access: TppAccess, action: str, subject: tuple[str, str], run: Callable[[], T]) -> T:
        """Run one TPP operation and record it, allowed or refused, with its consent."""
        return self.audited_early(access, action, subject, lambda _allowed: run())

    def audited_early(
        self, access: TppAccess, action: str, subject: tuple[str, str], run: Callable[[Allowed], T]
    ) -> T:
        """``audited`` for an operation that knows it is allowed before it ends (a payment,
        once its order exists): it calls ``allowed.now()`` then, and the entry commits while
        it goes on. An error after that is recorded too, as a refusal with its code."""
        allowed = Allowed(lambda: self._record(access, action, subject, "allowed", None))
        try:
            result = run(allowed)
        except NetfinError as error:
            self._record(access, action, subject, "refused", error.code)
            raise
        allowed.now()
        return result

    def _record(
        self, access: TppAccess, action: str, subject: tuple[str, str], outcome: str, reason: str | None
    ) -> None:
        # Waited for here, or where the request answers (identity.service.answer_after_audit).
        wait_or_defer(
            self.audit.submit(
                actor_kind="tpp",
                actor_id=access.client_id,
                action=action,
                outcome=outcome,
                subject_kind=subject[0],
                subject_id=subject[1],
                consent_id=access.consent_id,
                interaction_id=access.interaction_id,
                reason=reason,
            )
        )

    def _consent(self, access: TppAccess, kind: ConsentKind) -> Consent:
        return self._usable(access, kind, self.consents.get(_consent_id(access)))

    def _usable(self, access: TppAccess, kind: ConsentKind, consent: Consent) -> Consent:
        require_usable(consent, client_id=access.client_id, kind=kind, now_ns=self.clock.now_ns())
        return consent

    # Account information -----------------------------------------------------

    def accounts(self, access: TppAccess) -> tuple[Consent, list[CustomerAccount]]:
        def run() -> tuple[Consent, list[CustomerAccount]]:
            consent = self._consent(access, ConsentKind.ACCOUNT_ACCESS)
            require_permission(consent, Permission.READ_ACCOUNTS_BASIC, Permission.READ_ACCOUNTS_DETAIL)
            return consent, self.identity.get_accounts(consent.account_ids)

        return self.audited(access, "ais.accounts.list", ("consent", access.consent_id or ""), run)

    def account(self, access: TppAccess, account_id: str) -> tuple[Consent, CustomerAccount]:
        def run() -> tuple[Consent, CustomerAccount]:
            consent = self._consent(access, ConsentKind.ACCOUNT_ACCESS)
            require_account(consent, account_id)
            require_permission(consent, Permission.READ_ACCOUNTS_BASIC, Permission.READ_ACCOUNTS_DETAIL)
            return consent, self.identity.get_account(account_id)

        return self.audited(access, "ais.account.read", ("account", account_id), run)

    def balances(self, access: TppAccess, account_id: str) -> Balance:
        def run() -> Balance:
            # The hottest TPP read: the consent and the account in one round trip.
            consent, account = self.consents.get_with_account(_consent_id(access), account_id)
            self._usable(access, ConsentKind.ACCOUNT_ACCESS, consent)
            require_account(consent, account_id)
            require_permission(consent, Permission.READ_BALANCES)
            if account is None:
                raise NotFound("no such account", code="account_not_found")
            return self._balance(account)

        return self.audited(access, "ais.balances.read", ("account", account_id), run)

    def _balance(self, account: CustomerAccount) -> Balance:
        found = self.ledger.lookup_accounts([account.ledger_account_id])
        if not found:
            raise NotFound("no such account", code="account_not_found")
        return Balance(account, found[0])

    def transactions(
        self,
        access: TppAccess,
        account_id: str,
        *,
        from_ns: int | None,
        to_ns: int | None,
        cursor: str | None,
        limit: int,
    ) -> TransactionPage:
        def run() -> TransactionPage:
            consent = self._consent(access, ConsentKind.ACCOUNT_ACCESS)
            require_account(consent, account_id)
            require_permission(
                consent, Permission.READ_TRANSACTIONS_BASIC, Permission.READ_TRANSACTIONS_DETAIL
            )
            return self._transactions(consent, account_id, from_ns, to_ns, cursor, limit)

        return self.audited(access, "ais.transactions.read", ("account", account_id), run)

    def _transactions(
        self,
        consent: Consent,
        account_id: str,
        from_ns: int | None,
        to_ns: int | None,
        cursor: str | None,
        limit: int,
    ) -> TransactionPage:
        if not 1 <= limit <= TRANSACTIONS_PAGE_MAX:
            raise InvalidInput(f"page size must be 1..{TRANSACTIONS_PAGE_MAX}", code="page_size_invalid")
        account = self.identity.get_account(account_id)
        low, high = transaction_window(consent, from_ns, to_ns)
        if low > high:
            return TransactionPage(account, consent, [], {}, None)
        page = self.ledger.account_transfers(
            account.ledger_account_id,
            cursor=cursor,
            limit=limit,
            timestamp_min=max(low, 1),
            timestamp_max=min(high, 2**63 - 2),
            debits=Permission.READ_TRANSACTIONS_DEBITS in consent.permissions,
            credits=Permission.READ_TRANSACTIONS_CREDITS in consent.permissions,
        )
        shown = [t for t in page.transfers if not t.flags & _VOID]
        payments = {}
        if Permission.READ_TRANSACTIONS_DETAIL in consent.permissions:
            payments = self.payments.by_transfer_ids([t.id for t in shown])
        return TransactionPage(account, consent, shown, payments, page.next_cursor)

    # Payment initiation ------------------------------------------------------

    def create_payment_consent(
        self, access: TppAccess, payload: dict[str, Any], initiation: DomesticInitiation
    ) -> Consent:
        def run() -> Consent:
            self.payments.resolve_creditor(initiation)  # refuse an unsupported scheme at once
            return self.consents.create_domestic_payment(access.actor, access.client_id, payload=payload)

        return self.audited(access, "pis.consent.create", ("client", access.client_id), run)

    def initiate_payment(
        self,
        access: TppAccess,
        payload: dict[str, Any],
        initiation: DomesticInitiation,
        final_write: FinalWrite | None = None,
    ) -> DomesticPayment:
        """Initiate a domestic payment under the access token's consent (``final_write``: see
        ``Payments.initiate_domestic``)."""

        def run(allowed: Allowed) -> DomesticPayment:
            try:
                iban = self.payments.creditor_iban(initiation)
            except InvalidInput:  # refused where it was before: after the consent's checks
                iban, looked_up = None, False
            else:
                looked_up = True
            # The consent, its debtor account and the creditor's account: one round trip.
            consent, debtors, creditor = self.consents.get_for_payment(_consent_id(access), iban)
            self._usable(access, ConsentKind.DOMESTIC_PAYMENT, consent)
            if payload.get("Initiation") != consent.payload.get("Initiation"):
                raise InvalidInput(
                    "the payment's Initiation differs from the consent's", code="consent_mismatch"
                )
            [debtor] = debtors
            return self.payments.initiate_domestic(
                access.actor, consent=consent, debtor=debtor, initiation=initiation,
                creditor=creditor if looked_up else UNRESOLVED, on_order=allowed.now,
                final_write=final_write,
            )  # fmt: skip

        return self.audited_early(access, "pis.payment.create", ("consent", access.consent_id or ""), run)

    def payment(self, access: TppAccess, payment_id: str) -> DomesticPayment:
        return self.audited(
            access, "pis.payment.read", ("payment", payment_id),
            lambda: self.payments.get_for_client(access.client_id, payment_id),
        )  # fmt: skip

    def payment_consent(self, access: TppAccess, consent_id: str, kind: ConsentKind) -> Consent:
        return self.audited(
            access, "consent.read", ("consent", consent_id),
            lambda: self.consents.get_for_client(access.client_id, consent_id, kind),
        )  # fmt: skip

    def payment_funds_available(self, access: TppAccess, consent_id: str) -> tuple[Consent, bool]:
        """PIS funds check for an authorised payment consent (GET .../funds-confirmation)."""

        def run() -> tuple[Consent, bool]:
            consent = self.consents.get_for_client(access.client_id, consent_id, ConsentKind.DOMESTIC_PAYMENT)
            if access.consent_id != consent_id:
                raise NotFound("no such consent", code="consent_not_found")
            require_usable(
                consent,
                client_id=access.client_id,
                kind=ConsentKind.DOMESTIC_PAYMENT,
                now_ns=self.clock.now_ns(),
            )
            [debtor] = self.identity.get_accounts(consent.account_ids)
            amount = int(consent.payload["AmountMinor"])
            return consent, self._balance(debtor).available_minor >= amount

        return self.audited(access, "pis.funds.read", ("consent", consent_id), run)

    # Confirmation of funds ---------------------------------------------------

    def confirm_funds(self, access: TppAccess, amount_minor: int, currency: str) -> tuple[Consent, bool]:
        def run() -> tuple[Consent, bool]:
            consent = self._consent(access, ConsentKind.FUNDS_CONFIRMATION)
            [account] = self.identity.get_accounts(consent.account_ids)
            if account.currency != currency:
                raise InvalidInput("the account holds another currency", code="currency_mismatch")
            return consent, self._balance(account).available_minor >= amount_minor

        return self.audited(access, "cbpii.funds.confirm", ("consent", access.consent_id or ""), run)

    # The customer's side -----------------------------------------------------

    def customer_accounts(self, party_id: int) -> list[Balance]:
        return [self._balance(a) for a in self.identity.accounts_of(party_id)]

    def customer_account(self, party_id: int, account_id: str) -> Balance:
        account = self.identity.get_account(account_id)
        if account.party_id != party_id:
            raise NotFound("no such account", code="account_not_found")
        return self._balance(account)

    def consent_accounts_match(self, consent: Consent, account_ids: Sequence[str]) -> None:
        """A payment or funds consent that names its debtor account may only be
        authorised over that very account."""
        debtor = consent.payload.get("DebtorAccount") or consent.payload.get("Initiation", {}).get(
            "DebtorAccount"
        )
        if not debtor:
            return
        accounts = self.identity.get_accounts(list(account_ids))
        wanted = str(debtor.get("Identification", "")).replace(" ", "").upper()
        if not any(a.iban == wanted for a in accounts):
            raise InvalidInput(
                "the chosen account is not the consent's debtor account", code="debtor_account_mismatch"
            )


def _consent_id(access: TppAccess) -> str:
    if access.consent_id is None:
        raise Forbidden("this token is not bound to a consent", code="consent_required")
    return access.consent_id
