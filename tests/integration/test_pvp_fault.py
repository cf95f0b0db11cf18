"""PvP survives a process killed mid-settlement, on SQLite and PostgreSQL.

A child process (spawned, so it shares nothing with the parent but the
database) opens its own ``Bank``, starts a PvP and dies with ``os._exit`` at
an injected point: right after phase 1 reached the ledger, or right after
the decision to post was recorded but before phase 2 reached the ledger. The
parent then "restarts" (opens a new ``Bank``), runs ``recover()`` and checks
that the settlement is whole (both legs posted or neither), that balances
are conserved, and that no hold is left once its timeout has passed.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from netfin.bank import Bank, BankSettings
from netfin.core.clock import ManualClock
from netfin.core.errors import NotFound
from netfin.core.ids import SeededIds
from netfin.identity.model import Actor, PartyKind
from netfin.ledger import CreateTransferResult, Transfer, TransferFlags
from netfin.payments.fx import FxDesk, FxQuoteExpired, ReferenceRates, parse_profile
from netfin.payments.fx.execute import FxExecution
from netfin.payments.fx.pvp import PvpLeg, PvpSettlements, PvpState

OPERATOR = Actor("operator", "operator-1")
TIMEOUT_SECONDS = 60
USD_MINOR = 100_000
EUR_MINOR = 92_000
FUNDS_MINOR = 300_000
KILLED = 17  # the child's exit status when the injected fault fired
PROFILE = """
[routing]
hubs = ["EUR"]
legs_max = 1
quote_ttl_seconds = 30
rates_age_days_max = 5

[default]
spread_bps = "40"
fee_minor = 0
"""


@dataclass(frozen=True)
class Accounts:
    a_usd: str
    a_eur: str
    b_usd: str
    b_eur: str

    def legs(self) -> tuple[PvpLeg, PvpLeg]:
        return PvpLeg(self.a_usd, self.b_usd, USD_MINOR), PvpLeg(self.b_eur, self.a_eur, EUR_MINOR)


def _services(bank: Bank) -> PvpSettlements:
    return PvpSettlements(bank.engine, bank.ledger, bank.identity, bank.audit, clock=bank.clock, ids=bank.ids)


def _child(url: str, start_ns: int, accounts: Accounts, kill_point: str) -> None:
    """Start a PvP and die at ``kill_point`` without closing anything."""
    clock = ManualClock(start_ns)
    bank = Bank(BankSettings(database_url=url), clock=clock)
    ledger_create = bank.ledger.create_transfers

    def faulty(transfers: Sequence[Transfer]) -> list[CreateTransferResult]:
        if kill_point == "after_decision" and transfers[0].flags & TransferFlags.POST_PENDING:
            os._exit(KILLED)  # the decision is durable; phase 2 never reaches the ledger
        results = ledger_create(transfers)
        if kill_point == "after_phase_1" and transfers[0].flags & TransferFlags.PENDING:
            os._exit(KILLED)  # both holds are placed; the settlement row never hears of it
        return results

    bank.ledger.create_transfers = faulty  # type: ignore[method-assign]
    pvp = _services(bank)
    held = pvp.hold(OPERATOR, *accounts.legs(), timeout_seconds=TIMEOUT_SECONDS)
    pvp.settle(OPERATOR, held.settlement_id)
    os._exit(0)  # the fault did not fire: the parent fails the test


def _setup(url: str, clock: ManualClock) -> Accounts:
    with Bank(BankSettings(database_url=url), clock=clock) as bank:
        identity = bank.identity
        a = identity.register_party(
            OPERATOR, kind=PartyKind.PERSON, display_name="Carol", phone="+12025550101"
        )
        b = identity.register_party(
            OPERATOR, kind=PartyKind.PERSON, display_name="Dieter", phone="+4915100000001"
        )
        accounts = Accounts(
            a_usd=identity.open_account(OPERATOR, a.party_id, currency="USD").account_id,
            a_eur=identity.open_account(OPERATOR, a.party_id, currency="EUR").account_id,
            b_usd=identity.open_account(OPERATOR, b.party_id, currency="USD").account_id,
            b_eur=identity.open_account(OPERATOR, b.party_id, currency="EUR").account_id,
        )
        identity.deposit_cash(OPERATOR, accounts.a_usd, FUNDS_MINOR)
        identity.deposit_cash(OPERATOR, accounts.b_eur, FUNDS_MINOR)
    return accounts


def _run_child(url: str, start_ns: int, accounts: Accounts, kill_point: str) -> None:
    process = multiprocessing.get_context("spawn").Process(
        target=_child, args=(url, start_ns, accounts, kill_point)
    )
    process.start()
    process.join(timeout=120)
    assert process.exitcode == KILLED


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kill_point", "restart_late", "final", "moved"),
    [
        ("after_phase_1", False, PvpState.VOIDED, False),
        ("after_phase_1", True, PvpState.EXPIRED, False),
        ("after_decision", False, PvpState.SETTLED, True),
        ("after_decision", True, PvpState.EXPIRED, False),
    ],
)
def test_recover_after_a_crash_leaves_both_legs_posted_or_neither(
    store_url: str, kill_point: str, restart_late: bool, final: PvpState, moved: bool
) -> None:
    clock = ManualClock()
    accounts = _setup(store_url, clock)
    _run_child(store_url, clock.now_ns(), accounts, kill_point)
    if restart_late:
        clock.advance(seconds=TIMEOUT_SECONDS + 1)

    with Bank(BankSettings(database_url=store_url), clock=clock) as bank:
        pvp = _services(bank)
        # What the crash left behind: holds placed but unconfirmed, or held with a durable decision.
        [left] = pvp.unfinished()
        if kill_point == "after_phase_1":
            assert (left.state, left.decision) == (PvpState.OPENING, None)
        else:
            assert (left.state, left.decision) == (PvpState.HELD, "post")
        assert len(bank.ledger.lookup_transfers([left.leg_a_pending_id, left.leg_b_pending_id])) == 2

        [found] = pvp.recover()

        assert found.settlement_id == left.settlement_id
        assert found.decision == ("post" if kill_point == "after_decision" else "void")
        assert found.state is final
        assert found.reason == ("pending_transfer_expired" if final is PvpState.EXPIRED else None)
        assert pvp.get(found.settlement_id) == found
        assert pvp.recover() == []  # nothing left unfinished

        ledger_ids = [
            bank.identity.get_account(x).ledger_account_id
            for x in (accounts.a_usd, accounts.a_eur, accounts.b_usd, accounts.b_eur)
        ]
        balances = [a.balance() for a in bank.ledger.lookup_accounts(ledger_ids)]
        if moved:
            assert balances == [FUNDS_MINOR - USD_MINOR, EUR_MINOR, USD_MINOR, FUNDS_MINOR - EUR_MINOR]
        else:
            assert balances == [FUNDS_MINOR, 0, 0, FUNDS_MINOR]
        # Conserved per currency, and no hold survives (the late cases are past the timeout).
        assert balances[0] + balances[2] == FUNDS_MINOR and balances[1] + balances[3] == FUNDS_MINOR
        assert bank.ledger.expire_pending() == 0
        pending = [a.debits_pending + a.credits_pending for a in bank.ledger.lookup_accounts(ledger_ids)]
        assert pending == [0, 0, 0, 0]
        assert bank.ledger.verify().ok


def test_a_quote_used_after_its_expiry_is_refused_and_moves_nothing(store_url: str) -> None:
    clock = ManualClock()
    with Bank(BankSettings(database_url=store_url), clock=clock) as bank:
        rates = ReferenceRates({date(2026, 1, 1): {"USD": Decimal("1.1684")}})
        fx = FxDesk(rates, parse_profile(PROFILE, name="test"), clock=clock, ids=SeededIds(clock))
        execution = FxExecution(
            bank.engine, bank.ledger, bank.identity, bank.audit, clock=clock, ids=bank.ids
        )
        payer = bank.identity.register_party(
            OPERATOR, kind=PartyKind.PERSON, display_name="Carol", phone="+12025550101"
        )
        payee = bank.identity.register_party(
            OPERATOR, kind=PartyKind.PERSON, display_name="Dieter", phone="+4915100000001"
        )
        usd = bank.identity.open_account(OPERATOR, payer.party_id, currency="USD")
        eur = bank.identity.open_account(OPERATOR, payee.party_id, currency="EUR")
        bank.identity.deposit_cash(OPERATOR, usd.account_id, FUNDS_MINOR)
        quote = fx.quote("USD", "EUR", USD_MINOR)
        clock.set(quote.expires_ns)  # honoured while now < expires_ns, so this is one tick too late

        with pytest.raises(FxQuoteExpired) as expired:
            execution.execute(
                OPERATOR,
                quote,
                party_id=payer.party_id,
                debtor_account_id=usd.account_id,
                creditor_account_id=eur.account_id,
            )

        assert expired.value.code == "fx_quote_expired"
        with pytest.raises(NotFound) as missing:
            execution.get(quote.quote_id)  # refused before anything was recorded
        assert missing.value.code == "fx_execution_not_found"
        [payer_account, payee_account] = bank.ledger.lookup_accounts(
            [usd.ledger_account_id, eur.ledger_account_id]
        )
        assert (payer_account.balance(), payee_account.balance()) == (FUNDS_MINOR, 0)
