"""FX quote execution and PvP settlement through the service layer, on SQLite and PostgreSQL.

Each test books real quotes or PvP legs on a fresh bank and checks the
ledger's balances to the minor unit, then that the ledger still verifies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from netfin.bank import Bank, BankSettings
from netfin.core.clock import ManualClock
from netfin.core.errors import Conflict, Forbidden, InvalidInput
from netfin.core.ids import SeededIds
from netfin.identity.model import Actor, PartyKind
from netfin.ledger import Account, Ledger, TransferFlags
from netfin.payments.fx import FxDesk, FxQuoteExpired, ReferenceRates, parse_profile
from netfin.payments.fx.execute import (
    CODE_FX_CONVERSION_IN,
    CODE_FX_CONVERSION_OUT,
    CODE_FX_FEE,
    ExecutionStatus,
    FxExecution,
    FxQuoteUsed,
)
from netfin.payments.fx.pvp import CODE_PVP_LEG, PvpLeg, PvpSettlements, PvpState

OPERATOR = Actor("operator", "operator-1")
DAY = date(2026, 1, 1)  # the ManualClock's first day
RATES = ReferenceRates(
    {DAY: {"USD": Decimal("1.1684"), "GBP": Decimal("0.87058"), "INR": Decimal("109.047")}}
)
# One hub, so GBP -> INR must go through EUR; both corridors charge a fixed fee.
PROFILE = """
[routing]
hubs = ["EUR"]
legs_max = 2
quote_ttl_seconds = 30
rates_age_days_max = 5

[default]
spread_bps = "40"
fee_minor = 0

[[corridors]]
source = "GBP"
target = "EUR"
spread_bps = "12"
fee_minor = 50

[[corridors]]
source = "EUR"
target = "INR"
spread_bps = "40"
fee_minor = 100
"""


@dataclass
class Desk:
    bank: Bank
    clock: ManualClock
    fx: FxDesk
    execution: FxExecution
    pvp: PvpSettlements


@pytest.fixture
def desk(store_url: str, clock: ManualClock) -> Iterator[Desk]:
    bank = Bank(BankSettings(database_url=store_url), clock=clock)
    try:
        fx = FxDesk(RATES, parse_profile(PROFILE, name="test"), clock=clock, ids=SeededIds(clock, seed=3))
        services = (bank.engine, bank.ledger, bank.identity, bank.audit)
        yield Desk(
            bank,
            clock,
            fx,
            FxExecution(*services, clock=clock, ids=bank.ids),
            PvpSettlements(*services, clock=clock, ids=bank.ids),
        )
        assert bank.ledger.verify().ok
    finally:
        bank.close()


def _party(bank: Bank, name: str, phone: str) -> int:
    party = bank.identity.register_party(OPERATOR, kind=PartyKind.PERSON, display_name=name, phone=phone)
    return party.party_id


def _account(bank: Bank, party_id: int, currency: str, funds: int = 0) -> str:
    account = bank.identity.open_account(OPERATOR, party_id, currency=currency)
    if funds:
        bank.identity.deposit_cash(OPERATOR, account.account_id, funds)
    return account.account_id


def _ledger_account(bank: Bank, account_id: str) -> Account:
    [account] = bank.ledger.lookup_accounts([bank.identity.get_account(account_id).ledger_account_id])
    return account


def _balance(bank: Bank, account_id: str) -> int:
    return _ledger_account(bank, account_id).balance()


def _bank_balance(bank: Bank, currency: str, purpose: str) -> int:
    [account] = bank.ledger.lookup_accounts([bank.identity.bank_account(currency, purpose)])
    return account.balance()


def _pending_total(ledger: Ledger, ids: list[int]) -> int:
    return sum(a.debits_pending + a.credits_pending for a in ledger.lookup_accounts(ids))


# Quote execution ---------------------------------------------------------------


def test_a_two_leg_route_books_one_chain_with_the_quoted_amounts(desk: Desk) -> None:
    bank = desk.bank
    payer = _party(bank, "Alice", "+447700900001")
    payee = _party(bank, "Bharat", "+919800000001")
    gbp = _account(bank, payer, "GBP", funds=200_000)
    inr = _account(bank, payee, "INR")
    quote = desk.fx.quote("GBP", "INR", 100_000)
    # By hand: (100_000 - 50) pence = 999.50 GBP x 1.147281122922792 = 1146.7074... EUR -> 114_670
    # cents; (114_670 - 100) cents = 1145.70 EUR x 108.6108120 = 124_435.4073... INR -> 12_443_540.
    assert quote.route == ("GBP", "EUR", "INR")
    assert [(leg.fee_minor, leg.target_amount_minor) for leg in quote.legs] == [
        (50, 114_670),
        (100, 12_443_540),
    ]

    record = desk.execution.execute(
        OPERATOR, quote, party_id=payer, debtor_account_id=gbp, creditor_account_id=inr
    )

    assert record.status is ExecutionStatus.EXECUTED and record.reason is None
    assert record.quote_id == quote.quote_id
    assert _balance(bank, gbp) == 200_000 - 100_000
    assert _balance(bank, inr) == 12_443_540
    # The bank's positions: it took 1,000 GBP (fee included), paid out 124,435.40 INR,
    # and its EUR position and the EUR hop netted to zero.
    assert _bank_balance(bank, "GBP", "fx_position") == 100_000
    assert _bank_balance(bank, "INR", "fx_position") == -12_443_540
    assert _bank_balance(bank, "EUR", "fx_position") == 114_670 - 114_670
    assert _bank_balance(bank, "EUR", "clearing") == 0
    transfers = bank.ledger.lookup_transfers(list(record.transfer_ids))
    assert [(t.code, t.amount, t.currency) for t in transfers] == [
        (CODE_FX_CONVERSION_IN, 99_950, "GBP"),
        (CODE_FX_FEE, 50, "GBP"),
        (CODE_FX_CONVERSION_OUT, 114_670, "EUR"),
        (CODE_FX_CONVERSION_IN, 114_570, "EUR"),
        (CODE_FX_FEE, 100, "EUR"),
        (CODE_FX_CONVERSION_OUT, 12_443_540, "INR"),
    ]
    assert [bool(t.flags & TransferFlags.LINKED) for t in transfers] == [True] * 5 + [False]
    assert {t.user_data_128 for t in transfers} == {quote.quote_id}
    assert desk.execution.get(quote.quote_id) == record


def test_insufficient_funds_moves_nothing_and_the_record_says_rejected(desk: Desk) -> None:
    bank = desk.bank
    payer = _party(bank, "Alice", "+447700900001")
    payee = _party(bank, "Bharat", "+919800000001")
    gbp = _account(bank, payer, "GBP", funds=99_999)
    inr = _account(bank, payee, "INR")
    quote = desk.fx.quote("GBP", "INR", 100_000)

    record = desk.execution.execute(
        OPERATOR, quote, party_id=payer, debtor_account_id=gbp, creditor_account_id=inr
    )

    assert record.status is ExecutionStatus.REJECTED
    assert record.reason == "exceeds_credits"
    assert bank.ledger.lookup_transfers(list(record.transfer_ids)) == []
    assert _balance(bank, gbp) == 99_999 and _balance(bank, inr) == 0
    for currency in ("GBP", "EUR", "INR"):
        assert _bank_balance(bank, currency, "fx_position") == 0
    [entry] = bank.audit.query(action="fx.execute").entries
    assert (entry.outcome, entry.reason) == ("failed", "exceeds_credits")


def test_a_quote_is_executed_once_and_then_refused(desk: Desk) -> None:
    bank = desk.bank
    payer = _party(bank, "Carol", "+12025550101")
    payee = _party(bank, "Dieter", "+4915100000001")
    usd = _account(bank, payer, "USD", funds=500_000)
    eur = _account(bank, payee, "EUR")
    quote = desk.fx.quote("USD", "EUR", 100_000)
    first = desk.execution.execute(
        OPERATOR, quote, party_id=payer, debtor_account_id=usd, creditor_account_id=eur
    )
    assert first.status is ExecutionStatus.EXECUTED

    with pytest.raises(FxQuoteUsed) as used:
        desk.execution.execute(
            OPERATOR, quote, party_id=payer, debtor_account_id=usd, creditor_account_id=eur
        )

    assert used.value.code == "fx_quote_used"
    assert _balance(bank, usd) == 400_000
    assert _balance(bank, eur) == quote.target_amount_minor == 85_244


def test_an_expired_quote_moves_nothing(desk: Desk) -> None:
    bank = desk.bank
    payer = _party(bank, "Carol", "+12025550101")
    payee = _party(bank, "Dieter", "+4915100000001")
    usd = _account(bank, payer, "USD", funds=500_000)
    eur = _account(bank, payee, "EUR")
    quote = desk.fx.quote("USD", "EUR", 100_000)
    desk.clock.advance(seconds=30)  # the quote lives 30 s: honoured while now < expires

    with pytest.raises(FxQuoteExpired) as expired:
        desk.execution.execute(
            OPERATOR, quote, party_id=payer, debtor_account_id=usd, creditor_account_id=eur
        )

    assert expired.value.code == "fx_quote_expired"
    assert _balance(bank, usd) == 500_000 and _balance(bank, eur) == 0


def test_accounts_must_match_the_quote_and_belong_to_the_payer(desk: Desk) -> None:
    bank = desk.bank
    payer = _party(bank, "Carol", "+12025550101")
    other = _party(bank, "Dieter", "+4915100000001")
    usd = _account(bank, payer, "USD", funds=500_000)
    eur = _account(bank, other, "EUR")
    quote = desk.fx.quote("USD", "EUR", 100_000)
    with pytest.raises(InvalidInput) as currency:
        desk.execution.execute(
            OPERATOR, quote, party_id=payer, debtor_account_id=eur, creditor_account_id=usd
        )
    assert currency.value.code == "fx_account_currency_mismatch"
    with pytest.raises(Forbidden) as owner:
        desk.execution.execute(
            OPERATOR, quote, party_id=other, debtor_account_id=usd, creditor_account_id=eur
        )
    assert owner.value.code == "account_not_owned"
    # Refused before anything was recorded: the quote is still good.
    record = desk.execution.execute(
        OPERATOR, quote, party_id=payer, debtor_account_id=usd, creditor_account_id=eur
    )
    assert record.status is ExecutionStatus.EXECUTED


def test_recover_books_an_execution_a_crash_left_recorded_exactly_once(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = desk.bank
    payer = _party(bank, "Alice", "+447700900001")
    payee = _party(bank, "Bharat", "+919800000001")
    gbp = _account(bank, payer, "GBP", funds=200_000)
    inr = _account(bank, payee, "INR")
    quote = desk.fx.quote("GBP", "INR", 100_000)

    def crash(transfers: object) -> object:
        raise ConnectionError("the process lost its database before the ledger answered")

    with monkeypatch.context() as patch:
        patch.setattr(desk.execution.ledger, "create_transfers", crash)
        with pytest.raises(ConnectionError):
            desk.execution.execute(
                OPERATOR, quote, party_id=payer, debtor_account_id=gbp, creditor_account_id=inr
            )
    assert desk.execution.get(quote.quote_id).status is ExecutionStatus.BOOKING
    assert _balance(bank, gbp) == 200_000
    desk.clock.advance(seconds=60)  # recorded in time, so honoured after the quote's expiry

    [recovered] = desk.execution.recover()

    assert recovered.status is ExecutionStatus.EXECUTED
    assert desk.execution.recover() == []
    with pytest.raises(FxQuoteUsed):
        desk.execution.execute(
            OPERATOR, quote, party_id=payer, debtor_account_id=gbp, creditor_account_id=inr
        )
    assert _balance(bank, gbp) == 100_000 and _balance(bank, inr) == 12_443_540


# Payment versus payment --------------------------------------------------------


@dataclass
class Pair:
    a_usd: str
    a_eur: str
    b_usd: str
    b_eur: str

    def legs(self, usd_minor: int = 100_000, eur_minor: int = 92_000) -> tuple[PvpLeg, PvpLeg]:
        """A pays USD to B; B pays EUR to A."""
        return PvpLeg(self.a_usd, self.b_usd, usd_minor), PvpLeg(self.b_eur, self.a_eur, eur_minor)


@pytest.fixture
def pair(desk: Desk) -> Pair:
    bank = desk.bank
    a = _party(bank, "Carol", "+12025550101")
    b = _party(bank, "Dieter", "+4915100000001")
    return Pair(
        a_usd=_account(bank, a, "USD", funds=300_000),
        a_eur=_account(bank, a, "EUR"),
        b_usd=_account(bank, b, "USD"),
        b_eur=_account(bank, b, "EUR", funds=300_000),
    )


def _balances(bank: Bank, pair: Pair) -> tuple[int, int, int, int]:
    return (
        _balance(bank, pair.a_usd),
        _balance(bank, pair.a_eur),
        _balance(bank, pair.b_usd),
        _balance(bank, pair.b_eur),
    )


def _ledger_ids(bank: Bank, pair: Pair) -> list[int]:
    ids = (pair.a_usd, pair.a_eur, pair.b_usd, pair.b_eur)
    return [bank.identity.get_account(x).ledger_account_id for x in ids]


def test_pvp_holds_both_legs_then_posts_both(desk: Desk, pair: Pair) -> None:
    bank = desk.bank
    held = desk.pvp.hold(OPERATOR, *pair.legs(), timeout_seconds=60)
    assert held.state is PvpState.HELD and held.decision is None
    assert _ledger_account(bank, pair.a_usd).debits_pending == 100_000
    assert _ledger_account(bank, pair.b_eur).debits_pending == 92_000
    holds = bank.ledger.lookup_transfers([held.leg_a_pending_id, held.leg_b_pending_id])
    assert [(t.code, t.timeout, t.currency) for t in holds] == [
        (CODE_PVP_LEG, 60, "USD"),
        (CODE_PVP_LEG, 60, "EUR"),
    ]
    assert _balances(bank, pair) == (300_000, 0, 0, 300_000)

    settled = desk.pvp.settle(OPERATOR, held.settlement_id)

    assert settled.state is PvpState.SETTLED and settled.decision == "post"
    assert settled.decided_ns is not None
    assert _balances(bank, pair) == (200_000, 92_000, 100_000, 208_000)
    assert _pending_total(bank.ledger, _ledger_ids(bank, pair)) == 0
    assert desk.pvp.settle(OPERATOR, held.settlement_id) == settled  # idempotent
    with pytest.raises(Conflict) as decided:
        desk.pvp.void(OPERATOR, held.settlement_id)
    assert decided.value.code == "pvp_settlement_decided"


def test_pvp_void_releases_both_holds(desk: Desk, pair: Pair) -> None:
    bank = desk.bank
    held = desk.pvp.hold(OPERATOR, *pair.legs())

    voided = desk.pvp.void(OPERATOR, held.settlement_id)

    assert voided.state is PvpState.VOIDED and voided.decision == "void"
    assert _balances(bank, pair) == (300_000, 0, 0, 300_000)
    assert _pending_total(bank.ledger, _ledger_ids(bank, pair)) == 0
    with pytest.raises(Conflict) as decided:
        desk.pvp.settle(OPERATOR, held.settlement_id)
    assert decided.value.code == "pvp_settlement_decided"


def test_pvp_holds_past_their_timeout_can_no_longer_be_posted(desk: Desk, pair: Pair) -> None:
    bank = desk.bank
    held = desk.pvp.hold(OPERATOR, *pair.legs(), timeout_seconds=60)
    desk.clock.advance(seconds=61)

    late = desk.pvp.settle(OPERATOR, held.settlement_id)

    assert late.state is PvpState.EXPIRED and late.reason == "pending_transfer_expired"
    assert _balances(bank, pair) == (300_000, 0, 0, 300_000)
    assert _pending_total(bank.ledger, _ledger_ids(bank, pair)) == 0


def test_pvp_with_one_leg_unfunded_holds_neither(desk: Desk, pair: Pair) -> None:
    bank = desk.bank
    rejected = desk.pvp.hold(OPERATOR, *pair.legs(eur_minor=300_001))

    assert rejected.state is PvpState.REJECTED and rejected.reason == "exceeds_credits"
    assert bank.ledger.lookup_transfers([rejected.leg_a_pending_id, rejected.leg_b_pending_id]) == []
    assert _pending_total(bank.ledger, _ledger_ids(bank, pair)) == 0
    with pytest.raises(Conflict) as refused:
        desk.pvp.settle(OPERATOR, rejected.settlement_id)
    assert refused.value.code == "pvp_settlement_rejected"


def test_pvp_legs_must_pay_each_other_in_one_currency_each(desk: Desk, pair: Pair) -> None:
    leg_a, _ = pair.legs()
    with pytest.raises(InvalidInput) as currency:
        desk.pvp.hold(OPERATOR, leg_a, PvpLeg(pair.b_eur, pair.a_usd, 1))
    assert currency.value.code == "pvp_currency_mismatch"
    with pytest.raises(InvalidInput) as parties:
        desk.pvp.hold(OPERATOR, leg_a, PvpLeg(pair.a_eur, pair.b_eur, 1))
    assert parties.value.code == "pvp_parties_mismatch"
    with pytest.raises(Forbidden) as same:
        desk.pvp.hold(OPERATOR, PvpLeg(pair.a_usd, pair.a_usd, 1), leg_a)
    assert same.value.code == "pvp_same_party"
