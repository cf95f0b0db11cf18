"""Revolving credit lines for small businesses, with a limit the risk engine moves inside a band.

Two ledger accounts per line:

- the receivable (code 411, ``credits_must_not_exceed_debits``): draws and
  charged interest debit it, repayments credit it: it holds what is owed;
- the limit memo (code 412, ``debits_must_not_exceed_credits``): funded from
  the bank's ``limits`` account with the limit. Every draw is linked to a memo
  debit of the same amount, every principal repayment to a memo credit, so the
  ledger itself refuses a draw beyond the unused limit (``credit_limit_exceeded``)
  in the same atomic chain that would move the money.

Moving the limit moves the memo: a raise is ``limits → memo``, a cut is
``memo → limits`` and fails while more than the new limit is drawn
(``credit_limit_below_drawn``). ``review_limits`` asks the risk engine's
``LimitPolicy`` for each line's new limit from the party's recent risk
signals, applies it, audits it and records it in ``risk_limit_changes``.

Interest accrues on each day's drawn balance (``servicing.revolving_statement``)
and is charged when a statement is cut (``charge_interest``); a repayment pays
charged interest first, then principal, which restores the limit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from netfin.core.clock import utc_date
from netfin.core.errors import Conflict, Forbidden, InvalidInput, NotFound, invariant
from netfin.core.ids import format_id
from netfin.core.money import Money
from netfin.credit.booking import (
    ContractBook,
    Planned,
    claim_offer,
    open_offer,
    usable_account,
)
from netfin.credit.products import RevolvingLineTerms
from netfin.credit.servicing import RevolvingStatement, revolving_statement
from netfin.credit.store import credit_lines, credit_loan_events
from netfin.identity.model import Actor, CustomerAccount
from netfin.ledger import Account, AccountFlags, CreateAccountResult
from netfin.risk.limits import LimitBand, LimitPolicy
from netfin.risk.store import record_limit_change, signals_of

CODE_LINE_RECEIVABLE = 411
CODE_LINE_LIMIT_MEMO = 412
CODE_LINE_DRAW = 421
CODE_LINE_LIMIT_USE = 422
CODE_LINE_REPAYMENT = 423
CODE_LINE_LIMIT_RESTORE = 424
CODE_LINE_INTEREST = 425
CODE_LINE_LIMIT_SET = 426
DRAW_MINOR_MAX = 10**15
LINES_PER_REVIEW_MAX = 10_000
DAY_NS = 86_400 * 10**9


@dataclass(frozen=True, slots=True)
class CreditLine:
    line_id: str
    party_id: str
    product: str
    currency: str
    limit_minor: int
    floor_minor: int
    ceiling_minor: int
    annual_rate: Decimal
    receivable: int
    memo: int
    settlement_account_id: str
    status: str
    drawn_minor: int
    interest_due_minor: int
    interest_through: date
    version: int

    @property
    def available_minor(self) -> int:
        return max(0, self.limit_minor - self.drawn_minor)

    def as_dict(self) -> dict[str, Any]:
        return {
            "line_id": self.line_id,
            "product": self.product,
            "currency": self.currency,
            "limit_minor": self.limit_minor,
            "drawn_minor": self.drawn_minor,
            "available_minor": self.available_minor,
            "interest_due_minor": self.interest_due_minor,
            "interest_through": self.interest_through.isoformat(),
            "annual_rate": str(self.annual_rate),
            "status": self.status,
        }


class CreditLines(ContractBook):
    table, key, subject_kind, action = credit_lines, "line_id", "credit_line", "credit.line"

    # -- opening ---------------------------------------------------------------------

    def open(
        self, actor: Actor, application_id: str, *, party_id: int, settlement_account_id: str
    ) -> CreditLine:
        """The customer accepts an approved line offer: the accounts are opened, the limit funded."""
        app = open_offer(self.engine, application_id, party_id, self.clock.now_ns())
        product = self.profile.product(app["product"])
        if product.kind != "revolving":
            raise InvalidInput("this application is not for a credit line", code="credit_not_a_line")
        settlement = self._account(settlement_account_id, app["currency"])
        if settlement.party_id != party_id:
            raise Forbidden("the settlement account is not the applicant's", code="account_not_owned")
        now = self.clock.now_ns()
        claim_offer(self.engine, application_id, now)
        receivable, memo = self._accounts(app["currency"])
        line_id = format_id(self.ids.new_id())
        row = {
            "line_id": line_id,
            "application_id": application_id,
            "party_id": app["party_id"],
            "product": product.code,
            "currency": app["currency"],
            "limit_minor": 0,
            "floor_minor": product.limit_floor,
            "ceiling_minor": product.limit_ceiling,
            "annual_rate": app["price"]["annual_rate"],
            "receivable_account_id": format_id(receivable),
            "limit_account_id": format_id(memo),
            "settlement_account_id": settlement.account_id,
            "status": "active",
            "drawn_minor": 0,
            "interest_due_minor": 0,
            "interest_through": utc_date(now).isoformat(),
            "version": 0,
            "created_ns": now,
            "updated_ns": now,
        }
        with self.engine.begin() as connection:
            connection.execute(sa.insert(credit_lines), [row])
        limit = min(max(int(app["amount_minor"]), product.limit_floor), product.limit_ceiling)
        return self.set_limit(actor, line_id, limit, reason="opened")

    def _accounts(self, currency: str) -> tuple[int, int]:
        receivable, memo = self.ids.new_id(), self.ids.new_id()
        results = self.ledger.create_accounts(
            [
                Account(
                    receivable,
                    currency,
                    CODE_LINE_RECEIVABLE,
                    flags=AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS | AccountFlags.HISTORY,
                ),
                Account(
                    memo, currency, CODE_LINE_LIMIT_MEMO, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
                ),
            ]
        )
        invariant(
            all(r is CreateAccountResult.OK for r in results), f"fresh line accounts refused: {results}"
        )
        return receivable, memo

    # -- money ------------------------------------------------------------------------

    def draw(self, actor: Actor, line_id: str, amount_minor: int, *, party_id: int) -> CreditLine:
        """Draw on the line into the settlement account; the ledger refuses a draw beyond the limit."""
        _check_amount(amount_minor)
        line = self._owned(line_id, party_id)
        if line.status != "active":
            raise Conflict(f"the line is {line.status}", code="credit_line_not_active")
        settlement = self._account(line.settlement_account_id, line.currency)
        limits = self.identity.bank_account(line.currency, "limits")
        plan = [
            Planned(line.receivable, settlement.ledger_account_id, amount_minor, CODE_LINE_DRAW),
            Planned(line.memo, limits, amount_minor, CODE_LINE_LIMIT_USE),
        ]
        after = replace(line, drawn_minor=line.drawn_minor + amount_minor)
        return self._commit(actor, line, "draw", plan, after, {"amount_minor": amount_minor}, over_limit=True)

    def repay(
        self,
        actor: Actor,
        line_id: str,
        amount_minor: int,
        *,
        party_id: int,
        from_account_id: str | None = None,
    ) -> CreditLine:
        """Charged interest first, then principal (which frees the limit again)."""
        _check_amount(amount_minor)
        line = self._owned(line_id, party_id)
        source = self._account(from_account_id or line.settlement_account_id, line.currency)
        if source.party_id != int(line.party_id, 16):
            raise Forbidden("the repayment account is not the borrower's", code="account_not_owned")
        owed = line.drawn_minor + line.interest_due_minor
        if not 0 < amount_minor <= owed:
            raise InvalidInput(
                f"the line owes {owed}; a repayment is 1..{owed}", code="credit_line_overpayment"
            )
        interest = min(amount_minor, line.interest_due_minor)
        principal = amount_minor - interest
        plan = [Planned(source.ledger_account_id, line.receivable, amount_minor, CODE_LINE_REPAYMENT)]
        if principal:
            limits = self.identity.bank_account(line.currency, "limits")
            plan.append(Planned(limits, line.memo, principal, CODE_LINE_LIMIT_RESTORE))
        after = replace(
            line,
            drawn_minor=line.drawn_minor - principal,
            interest_due_minor=line.interest_due_minor - interest,
        )
        detail = {"amount_minor": amount_minor, "interest_minor": interest, "principal_minor": principal}
        return self._commit(actor, line, "repayment", plan, after, detail)

    def charge_interest(self, actor: Actor, line_id: str, through: date | None = None) -> RevolvingStatement:
        """Cut a statement: interest on each day's drawn balance since the last one, charged to the line."""
        line = self.get(line_id)
        end = through or utc_date(self.clock.now_ns())
        if end <= line.interest_through:
            raise InvalidInput(
                f"interest is charged through {line.interest_through} already", code="as_of_in_the_past"
            )
        terms = RevolvingLineTerms(
            limit=Money(max(line.limit_minor, line.drawn_minor), line.currency),
            annual_rate=line.annual_rate,
            min_payment_rate=self.profile.product(line.product).min_payment_rate,
            min_payment_floor=Money(self.profile.product(line.product).min_payment_floor, line.currency),
            limit_floor=Money(0, line.currency),
            limit_ceiling=Money(max(line.limit_minor, line.drawn_minor), line.currency),
            day_count=self.profile.product(line.product).day_count,
        )
        events = self._movements(line, line.interest_through, end)
        opening = line.drawn_minor - sum(amount for _, amount in events)
        statement = revolving_statement(events, terms, (line.interest_through, end), opening_balance=opening)
        plan = []
        if statement.interest:
            income = self.identity.bank_account(line.currency, "interest_income")
            plan.append(Planned(line.receivable, income, statement.interest, CODE_LINE_INTEREST))
        after = replace(
            line, interest_due_minor=line.interest_due_minor + statement.interest, interest_through=end
        )
        detail = {
            "through": end.isoformat(),
            "interest_minor": statement.interest,
            "minimum_payment_minor": statement.minimum_payment,
        }
        self._commit(actor, line, "interest", plan, after, detail)
        return statement

    def _movements(self, line: CreditLine, start: date, end: date) -> list[tuple[date, int]]:
        """Draws (+) and principal repayments (-) booked in ``[start, end)``, by the day they were booked."""
        start_ns = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()) * 10**9
        end_ns = start_ns + (end - start).days * DAY_NS
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(
                    credit_loan_events.c.kind, credit_loan_events.c.detail, credit_loan_events.c.created_ns
                ).where(
                    credit_loan_events.c.loan_id == line.line_id,
                    credit_loan_events.c.status == "booked",
                    credit_loan_events.c.kind.in_(("draw", "repayment")),
                    credit_loan_events.c.created_ns >= start_ns,
                    credit_loan_events.c.created_ns < end_ns,
                )
            ).all()
        out = []
        for kind, detail, created_ns in rows:
            amount = detail["amount_minor"] if kind == "draw" else -detail["principal_minor"]
            if amount:
                out.append((utc_date(created_ns), int(amount)))
        return out

    # -- limits -------------------------------------------------------------------------

    def set_limit(self, actor: Actor, line_id: str, limit_minor: int, *, reason: str) -> CreditLine:
        """Move the limit inside the line's band; a cut below what is drawn is refused by the ledger."""
        line = self.get(line_id)
        if not line.floor_minor <= limit_minor <= line.ceiling_minor:
            raise InvalidInput(
                f"the limit must lie in {line.floor_minor}..{line.ceiling_minor}",
                code="credit_limit_out_of_band",
            )
        delta = limit_minor - line.limit_minor
        limits = self.identity.bank_account(line.currency, "limits")
        plan = []
        if delta > 0:
            plan.append(Planned(limits, line.memo, delta, CODE_LINE_LIMIT_SET))
        elif delta < 0:
            plan.append(Planned(line.memo, limits, -delta, CODE_LINE_LIMIT_SET))
        after = replace(line, limit_minor=limit_minor)
        detail = {"from_minor": line.limit_minor, "to_minor": limit_minor, "reason": reason}
        return self._commit(actor, line, "limit", plan, after, detail)

    def review_limits(
        self, actor: Actor, *, policy: LimitPolicy | None = None, window_days: int = 90
    ) -> list[dict[str, Any]]:
        """Ask the risk engine's limit policy about every active line; apply and record each change."""
        policy = policy or LimitPolicy()
        now = self.clock.now_ns()
        since = now - window_days * DAY_NS
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(credit_lines)
                .where(credit_lines.c.status == "active")
                .order_by(credit_lines.c.line_id)
                .limit(LINES_PER_REVIEW_MAX)
            ).all()
        changes = []
        for row in rows:
            line = _line(row)
            band = LimitBand(floor_minor=line.floor_minor, ceiling_minor=line.ceiling_minor)
            proposal = policy.propose(signals_of(self.engine, line.party_id, since), line.limit_minor, band)
            if proposal is None:
                continue
            target, reasons = max(proposal[0], line.drawn_minor), proposal[1]
            if target == line.limit_minor:
                continue
            try:
                self.set_limit(actor, line.line_id, target, reason=",".join(reasons))
            except Conflict:
                continue  # changed meanwhile: the next review takes it
            change = {
                "change_id": f"lc-{self.ids.new_id():032x}",
                "party": line.party_id,
                "limit_name": "credit_line",
                "currency": line.currency,
                "from_minor": line.limit_minor,
                "to_minor": target,
                "reasons": reasons,
                "changed_ns": now,
            }
            record_limit_change(self.engine, change)
            changes.append({**change, "line_id": line.line_id})
        return changes

    # -- reads and internals ---------------------------------------------------------------

    def get(self, line_id: str) -> CreditLine:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(credit_lines).where(credit_lines.c.line_id == line_id)).first()
        if row is None:
            raise NotFound("no such credit line", code="credit_line_not_found")
        return _line(row)

    def lines_of(self, party_id: int) -> list[CreditLine]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(credit_lines).where(credit_lines.c.party_id == format_id(party_id)).limit(100)
            ).all()
        return [_line(r) for r in rows]

    def _owned(self, line_id: str, party_id: int) -> CreditLine:
        line = self.get(line_id)
        if line.party_id != format_id(party_id):
            raise NotFound("no such credit line", code="credit_line_not_found")
        return line

    def _account(self, account_id: str, currency: str) -> CustomerAccount:
        return usable_account(self.identity, account_id, currency, "line")

    def _commit(
        self,
        actor: Actor,
        before: CreditLine,
        kind: str,
        plan: list[Planned],
        after: CreditLine,
        detail: dict[str, Any],
        *,
        over_limit: bool = False,
    ) -> CreditLine:
        values = {
            "limit_minor": after.limit_minor,
            "drawn_minor": after.drawn_minor,
            "interest_due_minor": after.interest_due_minor,
            "interest_through": after.interest_through.isoformat(),
        }
        reason = self.book_event(
            actor, (before.line_id, before.version, before.currency), kind, plan, detail, values
        )
        if reason == "exceeds_credits" and over_limit:
            raise Conflict("the draw exceeds the line's unused limit", code="credit_limit_exceeded")
        if reason == "exceeds_credits" and kind == "limit":
            raise Conflict("more than the new limit is drawn", code="credit_limit_below_drawn")
        if reason is not None:
            raise Conflict(f"the ledger refused the {kind}: {reason}", code=f"credit_line_{kind}_refused")
        return self.get(before.line_id)


def _check_amount(amount_minor: int) -> None:
    if type(amount_minor) is not int or not 0 < amount_minor <= DRAW_MINOR_MAX:
        raise InvalidInput("an amount is a positive integer of minor units", code="amount_invalid")


def _line(row: Any) -> CreditLine:
    return CreditLine(
        line_id=row.line_id,
        party_id=row.party_id,
        product=row.product,
        currency=row.currency,
        limit_minor=int(row.limit_minor),
        floor_minor=int(row.floor_minor),
        ceiling_minor=int(row.ceiling_minor),
        annual_rate=Decimal(row.annual_rate),
        receivable=int(row.receivable_account_id, 16),
        memo=int(row.limit_account_id, 16),
        settlement_account_id=row.settlement_account_id,
        status=row.status,
        drawn_minor=int(row.drawn_minor),
        interest_due_minor=int(row.interest_due_minor),
        interest_through=date.fromisoformat(row.interest_through),
        version=int(row.version),
    )


__all__ = ["CreditLine", "CreditLines"]
