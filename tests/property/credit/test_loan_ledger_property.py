"""A loan's receivable always equals what the customer owes, whatever happens to it (hypothesis).

Random walks over one loan's life: days pass (dues fall, penalties accrue),
the customer repays any amount (partial, exact, more than due: a prepayment),
the bank services the book. After every step the ledger's receivable equals
the position's outstanding principal, recognised dues and penalties, the
customer's money plus the income accounts plus the receivable balance out,
and the ledger verifies.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from netfin.bank import Bank, BankSettings
from netfin.core.clock import ManualClock
from netfin.core.errors import Conflict, InvalidInput
from netfin.core.money import Money
from netfin.credit.loans import LoanStatus
from netfin.credit.origination import Application
from netfin.credit.products import RepaymentMethod
from netfin.identity.model import Actor, PartyKind

OPERATOR = Actor("operator", "property")
FUNDS = 5_000_000
INCOME = ("interest_income", "fee_income", "penalty_income")


class LoanLife(RuleBasedStateMachine):
    @initialize(term=st.sampled_from([3, 6, 12]), method=st.sampled_from(["annuity", "equal_principal"]))
    def open_loan(self, term: int, method: str) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.clock = ManualClock()
        self.bank = Bank(
            BankSettings(database_url=f"sqlite:///{Path(self.tmp.name) / 'p.db'}"), clock=self.clock
        )
        party = self.bank.identity.register_party(
            OPERATOR, kind=PartyKind.PERSON, display_name="P", phone="+8613000000000"
        )
        self.bank.identity.raise_kyc(OPERATOR, party.party_id, evidence="remote_id_check", reference="r")
        self.account = self.bank.identity.open_account(OPERATOR, party.party_id, currency="CNY").account_id
        self.bank.identity.deposit_cash(OPERATOR, self.account, FUNDS)
        self.party = party.party_id
        outcome = self.bank.origination.apply(
            OPERATOR,
            Application(
                party.party_id,
                "personal_instalment",
                Money(600_000, "CNY"),
                term,
                Money(2_000_000, "CNY"),
                method=RepaymentMethod(method),
            ),
        )
        self.loan_id = self.bank.loans.accept(
            OPERATOR, outcome.application_id, party_id=party.party_id, settlement_account_id=self.account
        ).loan_id

    @rule(days=st.integers(1, 75))
    def days_pass(self, days: int) -> None:
        self.clock.advance(seconds=days * 86_400)
        self.bank.loans.service(OPERATOR, self.loan_id)

    @rule(amount=st.integers(1, 700_000))
    def repay(self, amount: int) -> None:
        try:
            self.bank.loans.repay(OPERATOR, self.loan_id, amount, party_id=self.party)
        except (Conflict, InvalidInput) as refused:  # closed, too little for a prepayment, no money
            assert refused.code in {
                "loan_not_active",
                "prepayment_below_accrued_interest",
                "loan_repayment_refused",
                "loan_nothing_owed",
            }

    def _credit_balance(self, ledger_id: int) -> int:
        [account] = self.bank.ledger.lookup_accounts([ledger_id])
        return account.credits_posted - account.debits_posted

    @invariant()
    def the_receivable_is_what_is_owed(self) -> None:
        if not hasattr(self, "loan_id"):
            return
        loan = self.bank.loans.get(self.loan_id)
        assert -self._credit_balance(loan.ledger_account_id) == loan.owed()
        customer = self._credit_balance(self.bank.identity.get_account(self.account).ledger_account_id)
        income = sum(self._credit_balance(self.bank.identity.bank_account("CNY", p)) for p in INCOME)
        # the customer holds the cash deposited less what the bank earned plus what is still owed
        assert customer + income - loan.owed() == FUNDS
        if loan.status is LoanStatus.CLOSED:
            assert loan.owed() == 0

    def teardown(self) -> None:
        if hasattr(self, "bank"):
            assert self.bank.ledger.verify().ok
            self.bank.close()
            self.tmp.cleanup()


LoanLife.TestCase.settings = settings(
    max_examples=8, stateful_step_count=6, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_a_loans_receivable_is_always_what_is_owed = LoanLife.TestCase
