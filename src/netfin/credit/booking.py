"""Booking a credit event: a linked ledger chain with fixed ids, recorded before it is submitted.

Shared by loans and revolving lines. An event row is written first with its
planned transfers and the version of the loan or line it was computed from;
``(loan_id, base_version)`` is unique, so two concurrent changes of one
contract cannot both book. The chain is linked (all or nothing) and its ids
are fixed, so a retry finds it booked rather than booking twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from netfin.core.clock import Clock
from netfin.core.errors import Conflict, InvalidInput, NotFound, invariant
from netfin.core.ids import IdSource, format_id
from netfin.credit.config import CreditProfile
from netfin.credit.store import credit_applications, credit_loan_events
from netfin.identity.model import AccountStatus, Actor, CustomerAccount
from netfin.identity.service import AuditSink, Identity
from netfin.ledger import CreateTransferResult, Ledger, Transfer, TransferFlags

# Application statuses (``origination.ApplicationStatus`` values) this module moves between.
APPROVED, ACCEPTED = "approved", "accepted"

_R = CreateTransferResult


@dataclass(frozen=True, slots=True)
class Planned:
    debit: int
    credit: int
    amount: int
    code: int


def plan_json(plan: Sequence[Planned]) -> list[list[Any]]:
    return [[format_id(p.debit), format_id(p.credit), p.amount, p.code] for p in plan]


def open_offer(engine: sa.Engine, application_id: str, party_id: int, now_ns: int) -> dict[str, Any]:
    """The party's approved, unexpired application (another's is "not found")."""
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(credit_applications).where(credit_applications.c.application_id == application_id)
        ).first()
    if row is None or row.party_id != format_id(party_id):
        raise NotFound("no such credit application", code="credit_application_not_found")
    if row.status != APPROVED:
        raise Conflict(f"the application is {row.status}, not approved", code="credit_offer_not_approved")
    if row.expires_ns < now_ns:
        raise Conflict("the offer has expired", code="credit_offer_expired")
    return dict(row._mapping)


def claim_offer(engine: sa.Engine, application_id: str, now_ns: int) -> None:
    """Mark the offer accepted; the first acceptance wins, a second is refused."""
    with engine.begin() as connection:
        moved = connection.execute(
            sa.update(credit_applications)
            .where(
                credit_applications.c.application_id == application_id,
                credit_applications.c.status == APPROVED,
            )
            .values(status=ACCEPTED, updated_ns=now_ns)
        ).rowcount
    if moved != 1:
        raise Conflict("the offer was accepted already", code="credit_offer_accepted")


def usable_account(identity: Identity, account_id: str, currency: str, role: str) -> CustomerAccount:
    """An enabled customer account in the contract's currency."""
    account = identity.get_account(account_id)
    if account.status is not AccountStatus.ENABLED:
        raise Conflict(f"the {role} account is not enabled", code="account_not_enabled")
    if account.currency != currency:
        raise InvalidInput(
            f"the {role} account holds {account.currency}, the contract {currency}",
            code="credit_account_currency_mismatch",
        )
    return account


def insert_event(engine: sa.Engine, event: dict[str, Any]) -> None:
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(credit_loan_events), [event])
    except sa.exc.IntegrityError:
        raise Conflict("the contract changed meanwhile; try again", code="credit_contract_changed") from None


def book_chain(ledger: Ledger, currency: str, first_id: int, plan: Sequence[Planned]) -> str | None:
    """Submit the chain; None when it is booked (now or before), else the ledger's reason."""
    if not plan or ledger.lookup_transfers([first_id]):
        return None
    last = len(plan) - 1
    transfers = [
        Transfer(
            first_id + k,
            p.debit,
            p.credit,
            p.amount,
            currency,
            p.code,
            flags=TransferFlags.NONE if k == last else TransferFlags.LINKED,
        )
        for k, p in enumerate(plan)
    ]
    results = ledger.create_transfers(transfers)
    if all(r is _R.OK for r in results) or ledger.lookup_transfers([first_id]):
        return None  # booked, by us or by a concurrent retry of the same event
    for result in results:
        if result not in (_R.OK, _R.LINKED_EVENT_FAILED):
            return result.value
    return _R.LINKED_EVENT_FAILED.value


def mark_event(connection: sa.Connection, event_id: str, reason: str | None) -> None:
    connection.execute(
        sa.update(credit_loan_events)
        .where(credit_loan_events.c.event_id == event_id)
        .values(status="rejected" if reason else "booked", reason=reason)
    )


def flat(detail: dict[str, Any], prefix: str = "") -> dict[str, str | int | None]:
    """Audit details are flat scalars: nested parts become ``parts_interest`` and the like."""
    out: dict[str, str | int | None] = {}
    for key, value in detail.items():
        if isinstance(value, dict):
            out |= flat(value, f"{prefix}{key}_")
        else:
            out[f"{prefix}{key}"] = value if value is None or isinstance(value, (str, int)) else str(value)
    return out


class ContractBook:
    """What loans and lines share: their services, and booking one event of a contract.

    A subclass names its table, the table's key column and what the audit calls
    the contract; ``book_event`` writes the event, submits its chain and moves
    the contract from ``version`` to ``version + 1`` (with ``after`` when the
    ledger booked it, alone when it refused), then audits the outcome.
    """

    table: sa.Table
    key: str
    subject_kind: str
    action: str

    def __init__(
        self,
        engine: sa.Engine,
        ledger: Ledger,
        identity: Identity,
        audit: AuditSink,
        profile: CreditProfile,
        *,
        clock: Clock,
        ids: IdSource,
    ) -> None:
        self.engine, self.ledger, self.identity, self.audit = engine, ledger, identity, audit
        self.profile, self.clock, self.ids = profile, clock, ids

    def book_event(
        self,
        actor: Actor,
        contract: tuple[str, int, str],
        kind: str,
        plan: Sequence[Planned],
        detail: dict[str, Any],
        after: dict[str, Any],
    ) -> str | None:
        """``contract`` is (id, version, currency); returns None when booked, else the ledger's reason."""
        contract_id, version, currency = contract
        first_id, event_id = self.ids.new_id(), format_id(self.ids.new_id())
        event = {
            "event_id": event_id,
            "loan_id": contract_id,
            "kind": kind,
            "base_version": version,
            "status": "booking",
            "amount_minor": sum(p.amount for p in plan),
            "first_transfer_id": format_id(first_id),
            "plan": plan_json(plan),
            "detail": {**detail, "after": after},
            "reason": None,
            "actor": f"{actor.kind}:{actor.id}"[:80],
            "created_ns": self.clock.now_ns(),
        }
        insert_event(self.engine, event)
        reason = book_chain(self.ledger, currency, first_id, plan)
        self.finish_event(event_id, contract_id, version, reason, after)
        self.audit.record(
            actor_kind=actor.kind,
            actor_id=actor.id,
            action=f"{self.action}.{kind}",
            outcome="failed" if reason else "succeeded",
            subject_kind=self.subject_kind,
            subject_id=contract_id,
            consent_id=actor.consent_id,
            interaction_id=actor.interaction_id,
            reason=reason,
            detail={
                "event_id": event_id,
                "amount_minor": event["amount_minor"],
                "transfers": len(plan),
                "first_transfer_id": event["first_transfer_id"],
                **flat(detail),
            },
        )
        return reason

    def finish_event(
        self, event_id: str, contract_id: str, version: int, reason: str | None, after: dict[str, Any]
    ) -> None:
        """Mark the event and move the contract one version on (with ``after`` only if booked)."""
        with self.engine.begin() as connection:
            mark_event(connection, event_id, reason)
            values = {"version": version + 1, "updated_ns": self.clock.now_ns(), **({} if reason else after)}
            key = self.table.c[self.key]
            moved = connection.execute(
                sa.update(self.table)
                .where(key == contract_id, self.table.c.version == version)
                .values(**values)
            ).rowcount
            invariant(moved == 1, "the event's unique version key makes the contract's update uncontested")
