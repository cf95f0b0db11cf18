"""Payment versus payment (PvP): two currency legs that settle together or not at all.

Purpose: party A pays ``X`` in currency 1 to party B while party B pays
``Y`` in currency 2 to party A, in the manner of the multi-CBDC bridge
(mBridge): neither party can end up having paid without being paid.

Two phases on the ledger:

1. ``hold``: both legs as PENDING transfers with a timeout, in one linked
   chain (both holds are placed or neither is). State ``held``.
2. ``settle`` posts both (POST_PENDING) in one linked chain; ``void`` voids
   both. State ``settled`` or ``voided``. A pending transfer whose timeout
   passed can no longer be posted or voided: the ledger has released it, so
   the state is ``expired`` and neither leg moved.

Durability: the row is written (state ``opening``) before phase 1, and the
decision (``post`` or ``void``, with ``decided_ns``) is written before phase
2, so a process that dies at any point leaves enough to finish. ``recover``
finishes every settlement left ``opening`` or ``held``: with a recorded
``post`` decision it posts both (or finds them posted, or expired); without
one it voids both (or finds them voided, expired, or never placed). Every
ledger transfer id is fixed in advance (see ``netfin.payments.fx.store``), so
running a phase twice can never move money twice.

Invariants:
- Both legs are in one linked chain in each phase: after any crash and
  ``recover``, either both legs are posted or neither is.
- A ``post`` decision is recorded only for a ``held`` settlement and never
  replaced; a settlement decided ``void`` is never posted.
- No hold outlives its timeout: the ledger expires it, and ``recover`` voids
  undecided holds at once.

Public names: ``PvpSettlements``, ``PvpSettlement``, ``PvpLeg``, ``PvpState``,
``CODE_PVP_LEG``, ``PVP_TIMEOUT_SECONDS_DEFAULT``, ``PVP_TIMEOUT_SECONDS_MAX``,
``RECOVER_BATCH_MAX``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from netfin.core.clock import NS_PER_SECOND, Clock
from netfin.core.errors import Conflict, Forbidden, InvalidInput, NotFound, invariant
from netfin.core.ids import IdSource, format_id
from netfin.core.limits import INT64_MAX
from netfin.identity.model import AccountStatus, Actor, CustomerAccount
from netfin.identity.service import AuditSink, Identity
from netfin.ledger import CreateTransferResult, Ledger, Transfer, TransferFlags
from netfin.payments.fx.store import b16, i16, pvp_settlements

CODE_PVP_LEG = 310
PVP_TIMEOUT_SECONDS_DEFAULT = 60
PVP_TIMEOUT_SECONDS_MAX = 3600
# Settlements ``recover`` finishes per call; call it again while it returns this many.
RECOVER_BATCH_MAX = 1000
# Offsets of the finishing transfers from each leg's pending id (see ``store``).
_POST_OFFSET = 2
_VOID_OFFSET = 4

_R = CreateTransferResult


class PvpState(enum.StrEnum):
    OPENING = "opening"  # recorded; phase 1 not yet confirmed
    HELD = "held"
    SETTLED = "settled"
    VOIDED = "voided"
    EXPIRED = "expired"
    REJECTED = "rejected"  # the ledger refused phase 1 (e.g. insufficient funds)


_UNFINISHED = (PvpState.OPENING.value, PvpState.HELD.value)


@dataclass(frozen=True, slots=True)
class PvpLeg:
    """One leg: ``amount_minor`` from the debtor's account to the creditor's (one currency)."""

    debtor_account_id: str
    creditor_account_id: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class PvpSettlement:
    settlement_id: int
    state: PvpState
    decision: str | None  # "post", "void" or None while undecided
    leg_a_pending_id: int
    leg_b_pending_id: int
    party_a_id: int
    party_b_id: int
    leg_a: PvpLeg
    leg_a_currency: str
    leg_b: PvpLeg
    leg_b_currency: str
    timeout_seconds: int
    expires_ns: int
    reason: str | None
    created_ns: int
    updated_ns: int
    decided_ns: int | None

    def finishing_ids(self, *, post: bool) -> tuple[int, int]:
        """The fixed ids of the two post (or void) transfers."""
        offset = _POST_OFFSET if post else _VOID_OFFSET
        return self.leg_a_pending_id + offset, self.leg_b_pending_id + offset


class PvpSettlements:
    """Two-phase PvP on the ledger; see the module docstring."""

    def __init__(
        self,
        engine: sa.Engine,
        ledger: Ledger,
        identity: Identity,
        audit: AuditSink,
        *,
        clock: Clock,
        ids: IdSource,
    ) -> None:
        self.engine = engine
        self.ledger = ledger
        self.identity = identity
        self.audit = audit
        self.clock = clock
        self.ids = ids

    # -- phase 1 -------------------------------------------------------------

    def hold(
        self,
        actor: Actor,
        leg_a: PvpLeg,
        leg_b: PvpLeg,
        *,
        timeout_seconds: int = PVP_TIMEOUT_SECONDS_DEFAULT,
    ) -> PvpSettlement:
        """Place both holds together. Leg A is party A paying party B, leg B the
        reverse; a refusal of the ledger gives a ``rejected`` settlement."""
        if type(timeout_seconds) is not int or not 0 < timeout_seconds <= PVP_TIMEOUT_SECONDS_MAX:
            raise InvalidInput(f"timeout must be 1..{PVP_TIMEOUT_SECONDS_MAX} s", code="pvp_timeout_invalid")
        a_debtor, a_creditor = self._leg_accounts(leg_a, "leg A")
        b_debtor, b_creditor = self._leg_accounts(leg_b, "leg B")
        if a_debtor.party_id != b_creditor.party_id or a_creditor.party_id != b_debtor.party_id:
            raise InvalidInput("leg B must pay back the party that pays leg A", code="pvp_parties_mismatch")
        now_ns = self.clock.now_ns()
        base = self.ids.new_id()
        settlement_id = self.ids.new_id()
        values = {
            "settlement_id": b16(settlement_id),
            "state": PvpState.OPENING.value,
            "decision": None,
            "leg_a_pending_id": b16(base),
            "leg_b_pending_id": b16(base + 1),
            "party_a_id": b16(a_debtor.party_id),
            "party_b_id": b16(b_debtor.party_id),
            "leg_a_debtor_account_id": leg_a.debtor_account_id,
            "leg_a_creditor_account_id": leg_a.creditor_account_id,
            "leg_a_amount_minor": leg_a.amount_minor,
            "leg_a_currency": a_debtor.currency,
            "leg_b_debtor_account_id": leg_b.debtor_account_id,
            "leg_b_creditor_account_id": leg_b.creditor_account_id,
            "leg_b_amount_minor": leg_b.amount_minor,
            "leg_b_currency": b_debtor.currency,
            "timeout_seconds": timeout_seconds,
            "expires_ns": now_ns + timeout_seconds * NS_PER_SECOND,
            "reason": None,
            "created_ns": now_ns,
            "updated_ns": now_ns,
            "decided_ns": None,
        }
        with self.engine.begin() as connection:
            connection.execute(sa.insert(pvp_settlements), [values])
        holds = [
            self._pending(
                base, a_debtor, a_creditor, leg_a.amount_minor, timeout_seconds, settlement_id, True
            ),
            self._pending(
                base + 1, b_debtor, b_creditor, leg_b.amount_minor, timeout_seconds, settlement_id, False
            ),
        ]
        results = self.ledger.create_transfers(holds)
        if all(r is _R.OK for r in results):
            state, reason = PvpState.HELD, None
        else:
            state, reason = PvpState.REJECTED, _first_cause(results)
        if not self._move(settlement_id, (PvpState.OPENING.value,), state, reason):
            # ``recover`` in another process voided this settlement while phase 1
            # was in flight; void whatever phase 1 placed so no hold lingers.
            self._conclude(self.get(settlement_id), post=False)
        settlement = self.get(settlement_id)
        self._audit(actor, "pvp.hold", settlement)
        return settlement

    # -- phase 2 -------------------------------------------------------------

    def settle(self, actor: Actor, settlement_id: int) -> PvpSettlement:
        """Record the decision to post, then post both legs together.

        Returns the settlement ``settled``, or ``expired`` when the holds timed
        out first (then neither leg moved). Posting a settled one again returns it.
        """
        settlement = self._decide(settlement_id, "post")
        if settlement.state is not PvpState.HELD:
            return settlement
        settlement = self._finish(settlement)
        self._audit(actor, "pvp.settle", settlement)
        return settlement

    def void(self, actor: Actor, settlement_id: int) -> PvpSettlement:
        """Record the decision to void, then void both legs together."""
        settlement = self._decide(settlement_id, "void")
        if settlement.state not in (PvpState.OPENING, PvpState.HELD):
            return settlement
        settlement = self._finish(settlement)
        self._audit(actor, "pvp.void", settlement)
        return settlement

    def recover(self, actor: Actor | None = None) -> list[PvpSettlement]:
        """Finish every settlement a crash left ``opening`` or ``held``: post the
        ones decided ``post``, void the rest. Returns the settlements it finished.

        Run it when a process (re)starts: it voids every undecided settlement,
        since whoever was to decide it has gone. A settlement whose phase 1 is
        still in flight elsewhere is safe too: ``hold`` sees it voided and voids
        the holds it placed."""
        actor = actor or Actor.system("pvp-recovery")
        finished = []
        for settlement in self.unfinished():
            # Undecided after a crash: nobody chose to post, so release the holds.
            settlement = self._record_decision(settlement, "void")
            if settlement.state in (PvpState.OPENING, PvpState.HELD):
                settlement = self._finish(settlement)
            self._audit(actor, "pvp.recover", settlement)
            finished.append(settlement)
        return finished

    def unfinished(self) -> list[PvpSettlement]:
        """Settlements still ``opening`` or ``held``, oldest first (at most ``RECOVER_BATCH_MAX``)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(pvp_settlements)
                .where(pvp_settlements.c.state.in_(_UNFINISHED))
                .order_by(pvp_settlements.c.created_ns)
                .limit(RECOVER_BATCH_MAX)
            ).all()
        return [_settlement_from_row(row) for row in rows]

    def get(self, settlement_id: int) -> PvpSettlement:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(pvp_settlements).where(pvp_settlements.c.settlement_id == b16(settlement_id))
            ).first()
        if row is None:
            raise NotFound("no such PvP settlement", code="pvp_settlement_not_found")
        return _settlement_from_row(row)

    # -- internals ------------------------------------------------------------

    def _leg_accounts(self, leg: PvpLeg, where: str) -> tuple[CustomerAccount, CustomerAccount]:
        if not isinstance(leg, PvpLeg):
            raise InvalidInput(f"{where} must be a PvpLeg", code="pvp_leg_invalid")
        amount = leg.amount_minor
        if type(amount) is not int or not 0 < amount <= INT64_MAX:
            raise InvalidInput(
                f"{where}: amount must be a positive integer of minor units", code="amount_invalid"
            )
        debtor = self.identity.get_account(leg.debtor_account_id)
        creditor = self.identity.get_account(leg.creditor_account_id)
        for account in (debtor, creditor):
            if account.status is not AccountStatus.ENABLED:
                raise Conflict(f"{where}: the account is not enabled", code="account_not_enabled")
        if debtor.currency != creditor.currency:
            raise InvalidInput(f"{where}: both accounts must hold one currency", code="pvp_currency_mismatch")
        if debtor.party_id == creditor.party_id:
            raise Forbidden(f"{where}: a leg pays another party", code="pvp_same_party")
        return debtor, creditor

    @staticmethod
    def _pending(
        transfer_id: int,
        debtor: CustomerAccount,
        creditor: CustomerAccount,
        amount_minor: int,
        timeout_seconds: int,
        settlement_id: int,
        linked: bool,
    ) -> Transfer:
        flags = TransferFlags.PENDING | (TransferFlags.LINKED if linked else TransferFlags.NONE)
        return Transfer(
            transfer_id,
            debtor.ledger_account_id,
            creditor.ledger_account_id,
            amount_minor,
            debtor.currency,
            CODE_PVP_LEG,
            flags=flags,
            timeout=timeout_seconds,
            user_data_128=settlement_id,
        )

    def _decide(self, settlement_id: int, decision: str) -> PvpSettlement:
        """Record ``decision`` durably unless one is recorded already; return the
        settlement as it now stands. Refuses to contradict a recorded decision."""
        settlement = self.get(settlement_id)
        if settlement.state is PvpState.REJECTED:
            raise Conflict("the ledger refused the holds", code="pvp_settlement_rejected")
        if decision == "post" and settlement.decision is None and settlement.state is not PvpState.HELD:
            raise Conflict("phase 1 has not completed", code="pvp_settlement_not_held")
        settlement = self._record_decision(settlement, decision)
        if settlement.decision != decision:
            raise Conflict(f"the settlement was decided {settlement.decision}", code="pvp_settlement_decided")
        return settlement

    def _record_decision(self, settlement: PvpSettlement, decision: str) -> PvpSettlement:
        """Compare-and-set the decision of an undecided, unfinished settlement;
        returns the settlement with whichever decision won."""
        if settlement.decision is not None or settlement.state not in (PvpState.OPENING, PvpState.HELD):
            return settlement
        now_ns = self.clock.now_ns()
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(pvp_settlements)
                .where(
                    pvp_settlements.c.settlement_id == b16(settlement.settlement_id),
                    pvp_settlements.c.decision.is_(None),
                    pvp_settlements.c.state.in_(_UNFINISHED),
                )
                .values(decision=decision, decided_ns=now_ns, updated_ns=now_ns)
            )
        return self.get(settlement.settlement_id)

    def _finish(self, settlement: PvpSettlement) -> PvpSettlement:
        """Phase 2 for a recorded decision, then the final state."""
        invariant(settlement.decision is not None, "phase 2 runs only after a recorded decision")
        state, reason = self._conclude(settlement, post=settlement.decision == "post")
        self._move(settlement.settlement_id, _UNFINISHED, state, reason)
        return self.get(settlement.settlement_id)

    def _conclude(self, settlement: PvpSettlement, *, post: bool) -> tuple[PvpState, str | None]:
        """Post (or void) both legs in one linked chain with their fixed ids; idempotent."""
        done = PvpState.SETTLED if post else PvpState.VOIDED
        finishing = settlement.finishing_ids(post=post)
        found = self.ledger.lookup_transfers(list(finishing))
        if found:
            invariant(len(found) == 2, "both legs finish in one chain")
            return done, None
        pendings = self.ledger.lookup_transfers([settlement.leg_a_pending_id, settlement.leg_b_pending_id])
        if not pendings:
            invariant(not post, "a post decision is recorded only after phase 1")
            return PvpState.VOIDED, "nothing_held"
        invariant(len(pendings) == 2, "both holds are placed in one chain")
        flag = TransferFlags.POST_PENDING if post else TransferFlags.VOID_PENDING
        chain = [
            Transfer(
                finishing_id,
                p.debit_account_id,
                p.credit_account_id,
                p.amount,
                p.currency,
                p.code,
                flags=flag | (TransferFlags.LINKED if k == 0 else TransferFlags.NONE),
                pending_id=p.id,
                user_data_128=p.user_data_128,
            )
            for k, (finishing_id, p) in enumerate(zip(finishing, pendings, strict=True))
        ]
        results = self.ledger.create_transfers(chain)
        if all(r is _R.OK for r in results):
            return done, None
        cause = _first_cause(results)
        if cause == _R.PENDING_TRANSFER_EXPIRED.value:
            # Both holds share one timeout; make sure the other one is released too.
            self.ledger.expire_pending()
            return PvpState.EXPIRED, cause
        # Otherwise only a concurrent finisher booking the same chain first is possible.
        invariant(
            cause == _R.EXISTS.value and len(self.ledger.lookup_transfers(list(finishing))) == 2,
            f"phase 2 was refused by the ledger: {cause}",
        )
        return done, None

    def _move(
        self, settlement_id: int, from_states: Sequence[str], state: PvpState, reason: str | None
    ) -> bool:
        """Compare-and-set the state; False when another process moved it first."""
        with self.engine.begin() as connection:
            moved = connection.execute(
                sa.update(pvp_settlements)
                .where(
                    pvp_settlements.c.settlement_id == b16(settlement_id),
                    pvp_settlements.c.state.in_(list(from_states)),
                )
                .values(state=state.value, reason=reason, updated_ns=self.clock.now_ns())
            ).rowcount
        return bool(moved)

    def _audit(self, actor: Actor, action: str, settlement: PvpSettlement) -> None:
        failed = settlement.state in (PvpState.REJECTED, PvpState.EXPIRED)
        self.audit.record(
            actor_kind=actor.kind,
            actor_id=actor.id,
            action=action,
            outcome="failed" if failed else "succeeded",
            subject_kind="pvp_settlement",
            subject_id=format_id(settlement.settlement_id),
            consent_id=actor.consent_id,
            interaction_id=actor.interaction_id,
            reason=settlement.reason,
            detail={
                "state": settlement.state.value,
                "decision": settlement.decision,
                "leg_a_currency": settlement.leg_a_currency,
                "leg_a_amount_minor": settlement.leg_a.amount_minor,
                "leg_b_currency": settlement.leg_b_currency,
                "leg_b_amount_minor": settlement.leg_b.amount_minor,
            },
        )


def _first_cause(results: Sequence[CreateTransferResult]) -> str:
    """The result that broke the chain (the others say ``linked_event_failed``)."""
    for result in results:
        if result not in (_R.OK, _R.LINKED_EVENT_FAILED):
            return result.value
    return _R.LINKED_EVENT_FAILED.value


def _settlement_from_row(row: sa.Row[Any]) -> PvpSettlement:
    return PvpSettlement(
        settlement_id=i16(row.settlement_id),
        state=PvpState(row.state),
        decision=row.decision,
        leg_a_pending_id=i16(row.leg_a_pending_id),
        leg_b_pending_id=i16(row.leg_b_pending_id),
        party_a_id=i16(row.party_a_id),
        party_b_id=i16(row.party_b_id),
        leg_a=PvpLeg(row.leg_a_debtor_account_id, row.leg_a_creditor_account_id, row.leg_a_amount_minor),
        leg_a_currency=row.leg_a_currency,
        leg_b=PvpLeg(row.leg_b_debtor_account_id, row.leg_b_creditor_account_id, row.leg_b_amount_minor),
        leg_b_currency=row.leg_b_currency,
        timeout_seconds=row.timeout_seconds,
        expires_ns=row.expires_ns,
        reason=row.reason,
        created_ns=row.created_ns,
        updated_ns=row.updated_ns,
        decided_ns=row.decided_ns,
    )
