"""Wallets and payment orders through the service layer, on SQLite and PostgreSQL.

Limits are the ledger's: each test drives a wallet to a limit and checks the
order that would pass it is rejected with the limit's own reason, and that
the balances in the ledger agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from netfin.bank import Bank, BankSettings
from netfin.core.clock import ManualClock
from netfin.core.errors import Conflict, Forbidden, InvalidInput, LimitExceeded, NetfinError, NotFound
from netfin.identity.credentials import BindingMismatch
from netfin.identity.model import Actor, PartyKind
from netfin.payments.orders import (
    Endpoint,
    EndpointKind,
    OrderKind,
    OrderRequest,
    OrderStatus,
    RiskAction,
    RiskDecision,
)
from netfin.payments.orders.model import PaymentOrder
from netfin.payments.orders.service import AllowAll
from netfin.payments.wallets.model import Wallet
from netfin.sim.authenticator import SoftwareAuthenticator

OPERATOR = Actor("operator", "operator-1")
YUAN = 100  # minor units


@pytest.fixture
def bank(store_url: str, clock: ManualClock) -> Iterator[Bank]:
    opened = Bank(BankSettings(database_url=store_url), clock=clock)
    try:
        yield opened
    finally:
        opened.close()


@dataclass
class Holder:
    party_id: int
    account_id: str
    wallet: Wallet


def _person(bank: Bank, name: str, phone: str, *, kyc: int = 1, funds: int = 0) -> Holder:
    party = bank.identity.register_party(OPERATOR, kind=PartyKind.PERSON, display_name=name, phone=phone)
    evidence = ["remote_id_check", "bank_card", "in_person_check"]
    for step in evidence[: kyc - 1]:
        bank.identity.raise_kyc(OPERATOR, party.party_id, evidence=step, reference=f"ref-{step}")
    account = bank.identity.open_account(OPERATOR, party.party_id, currency="CNY")
    if funds:
        bank.identity.deposit_cash(OPERATOR, account.account_id, funds)
    wallet = bank.wallets.open(OPERATOR, party.party_id)
    return Holder(party.party_id, account.account_id, wallet)


def _w(wallet: Wallet) -> Endpoint:
    return Endpoint(EndpointKind.WALLET, wallet.wallet_id)


def _a(account_id: str) -> Endpoint:
    return Endpoint(EndpointKind.ACCOUNT, account_id)


def _top_up(bank: Bank, holder: Holder, amount: int, key: str) -> PaymentOrder:
    """Account -> own wallet; the first one to a new payee needs SCA, so mark the payee known."""
    request = OrderRequest(
        OrderKind.ACCOUNT_TO_ACCOUNT, _a(holder.account_id), _w(holder.wallet), amount, "CNY"
    )
    return bank.orders.submit(OPERATOR, holder.party_id, request, idempotency_key=key)


@pytest.fixture
def no_sca(bank: Bank) -> None:
    """No step-up from the SCA policy or the risk engine, for tests about something else."""
    bank.orders.sca = type(bank.orders.sca)(
        threshold_minor={}, default_threshold_minor=10**12, new_payee=False
    )
    bank.orders.risk = AllowAll()


def _balance(bank: Bank, wallet: Wallet) -> int:
    return bank.wallets.balance(wallet).balance


# Wallet classes ------------------------------------------------------------


def test_wallet_class_follows_kyc_and_anonymous_wallets_show_a_pseudonym(bank: Bank) -> None:
    anon = _person(bank, "An Ming", "+8613800000001", kyc=1)
    known = _person(bank, "Bai Lu", "+8613800000002", kyc=4)
    assert anon.wallet.class_no == 4 and anon.wallet.anonymous
    assert known.wallet.class_no == 1 and not known.wallet.anonymous
    assert anon.wallet.counterparty_name("An Ming") == anon.wallet.pseudonym != "An Ming"
    assert known.wallet.counterparty_name("Bai Lu") == "Bai Lu"
    with pytest.raises(Forbidden) as refused:
        bank.wallets.open(OPERATOR, anon.party_id, class_no=2)
    assert refused.value.code == "kyc_level_too_low"


def test_only_a_regulator_with_a_reason_links_a_pseudonym_to_a_person(bank: Bank) -> None:
    anon = _person(bank, "An Ming", "+8613800000001")
    with pytest.raises(Forbidden) as refused:
        bank.wallets.reveal_holder(OPERATOR, anon.wallet.pseudonym, reason="curious about this one")
    assert refused.value.code == "regulator_only"
    regulator = Actor("regulator", "pboc-examiner")
    with pytest.raises(InvalidInput) as short:
        bank.wallets.reveal_holder(regulator, anon.wallet.pseudonym, reason="why")
    assert short.value.code == "reason_required"
    party = bank.wallets.reveal_holder(
        regulator, anon.wallet.pseudonym, reason="court order 2026-117 (fraud case)"
    )
    assert party.party_id == anon.party_id
    [refusal, revealed] = bank.audit.query(action="wallet.reveal").entries
    assert refusal.outcome == "refused" and refusal.actor_id == "operator-1"
    assert revealed.actor_id == "pboc-examiner" and revealed.subject_id == anon.wallet.wallet_id


# Limits, enforced by the ledger ----------------------------------------------


def test_balance_limit_refuses_the_credit_that_would_pass_it(bank: Bank, no_sca: None) -> None:
    holder = _person(bank, "An Ming", "+8613800000001", funds=20_000 * YUAN)
    assert _top_up(bank, holder, 9_000 * YUAN, "t1").status is OrderStatus.SETTLED
    over = _top_up(bank, holder, 1_001 * YUAN, "t2")
    assert over.status is OrderStatus.REJECTED and over.status_reason == "payee_wallet_balance_limit_exceeded"
    assert _top_up(bank, holder, 1_000 * YUAN, "t3").status is OrderStatus.SETTLED
    assert _balance(bank, holder.wallet) == 10_000 * YUAN
    assert bank.wallets.balance(holder.wallet).balance_room == 0


def test_per_payment_daily_and_annual_limits(bank: Bank, clock: ManualClock, no_sca: None) -> None:
    payer = _person(bank, "An Ming", "+8613800000001", funds=60_000 * YUAN)
    payee = _person(bank, "Bai Lu", "+8613800000002", kyc=4)
    with pytest.raises(LimitExceeded) as single:
        bank.orders.submit(
            OPERATOR,
            payer.party_id,
            OrderRequest(OrderKind.WALLET_TO_WALLET, _w(payer.wallet), _w(payee.wallet), 2_001 * YUAN, "CNY"),
            idempotency_key="p0",
        )
    assert single.value.code == "wallet_per_payment_limit_exceeded"
    spent = 0
    for day in range(14):
        if _balance(bank, payer.wallet) < 6_000 * YUAN:
            _top_up(bank, payer, 6_000 * YUAN - _balance(bank, payer.wallet), f"top-{day}")
        for n in range(3):
            order = bank.orders.submit(
                OPERATOR,
                payer.party_id,
                OrderRequest(
                    OrderKind.WALLET_TO_WALLET, _w(payer.wallet), _w(payee.wallet), 2_000 * YUAN, "CNY"
                ),
                idempotency_key=f"d{day}-{n}",
            )
            if order.status is OrderStatus.SETTLED:
                spent += order.amount_minor
            elif n == 2 and spent < 50_000 * YUAN:
                assert order.status_reason == "wallet_daily_limit_exceeded"  # 3 x 2,000 > 5,000 a day
            else:
                assert order.status_reason in ("wallet_annual_limit_exceeded", "wallet_daily_limit_exceeded")
        clock.advance(seconds=86_400 + 1)  # a rolling window: exactly one day after each payment
    assert spent == 50_000 * YUAN  # the annual limit of a class-4 wallet
    assert _balance(bank, payee.wallet) == spent


def test_a_downgrade_waits_until_the_balance_fits(bank: Bank, no_sca: None) -> None:
    holder = _person(bank, "Bai Lu", "+8613800000002", kyc=4, funds=30_000 * YUAN)
    _top_up(bank, holder, 15_000 * YUAN, "t1")
    with pytest.raises(Conflict) as blocked:
        bank.wallets.change_class(OPERATOR, holder.wallet.wallet_id, 4)
    assert blocked.value.code == "wallet_balance_above_limit"
    back = OrderRequest(
        OrderKind.ACCOUNT_TO_ACCOUNT, _w(holder.wallet), _a(holder.account_id), 6_000 * YUAN, "CNY"
    )
    assert (
        bank.orders.submit(OPERATOR, holder.party_id, back, idempotency_key="b1").status
        is OrderStatus.SETTLED
    )
    with pytest.raises(Conflict) as recent:
        bank.wallets.change_class(OPERATOR, holder.wallet.wallet_id, 4)  # 6,000 spent today > 5,000
    assert recent.value.code == "wallet_recent_spend_above_limit"
    changed = bank.wallets.change_class(OPERATOR, holder.wallet.wallet_id, 2)
    assert (
        changed.class_no == 2 and bank.wallets.balance(changed).balance_room == 500_000 * YUAN - 9_000 * YUAN
    )


def test_sub_wallets_share_their_roots_limits(bank: Bank, no_sca: None) -> None:
    holder = _person(bank, "Bai Lu", "+8613800000002", kyc=2, funds=30_000 * YUAN)
    sub = bank.wallets.open_sub_wallet(OPERATOR, holder.wallet.wallet_id, nickname="transit")
    _top_up(bank, holder, 15_000 * YUAN, "t1")
    move = OrderRequest(OrderKind.WALLET_TO_WALLET, _w(holder.wallet), _w(sub), 5_000 * YUAN, "CNY")
    assert (
        bank.orders.submit(OPERATOR, holder.party_id, move, idempotency_key="m1").status
        is OrderStatus.SETTLED
    )
    into_sub = OrderRequest(OrderKind.ACCOUNT_TO_ACCOUNT, _a(holder.account_id), _w(sub), 5_001 * YUAN, "CNY")
    refused = bank.orders.submit(OPERATOR, holder.party_id, into_sub, idempotency_key="s1")
    assert refused.status_reason == "payee_wallet_balance_limit_exceeded"  # class 3: 20,000 for the family


# Orders ------------------------------------------------------------------------


def test_idempotency_and_refusal_codes(bank: Bank, no_sca: None) -> None:
    holder = _person(bank, "An Ming", "+8613800000001", funds=100 * YUAN)
    first = _top_up(bank, holder, 10 * YUAN, "same-key")
    assert _top_up(bank, holder, 10 * YUAN, "same-key") == first
    with pytest.raises(Conflict) as reused:
        _top_up(bank, holder, 11 * YUAN, "same-key")
    assert reused.value.code == "idempotency_key_reused"
    other = _person(bank, "Bai Lu", "+8613800000002")
    with pytest.raises(NotFound) as not_theirs:
        bank.orders.submit(
            OPERATOR,
            other.party_id,
            OrderRequest(OrderKind.ACCOUNT_TO_ACCOUNT, _a(holder.account_id), _a(other.account_id), 1, "CNY"),
            idempotency_key="steal",
        )
    assert not_theirs.value.code == "payer_not_found"
    bad = [
        (
            OrderRequest(OrderKind.ACCOUNT_TO_ACCOUNT, _a(holder.account_id), _a(other.account_id), 0, "CNY"),
            "amount_invalid",
        ),
        (
            OrderRequest(OrderKind.ACCOUNT_TO_ACCOUNT, _a(holder.account_id), _a(other.account_id), 1, "XXQ"),
            "currency_invalid",
        ),
        (
            OrderRequest(OrderKind.ACCOUNT_TO_ACCOUNT, _a(holder.account_id), _a(other.account_id), 1, "EUR"),
            "currency_mismatch",
        ),
        (
            OrderRequest(
                OrderKind.ACCOUNT_TO_ACCOUNT, _a(holder.account_id), _a(holder.account_id), 1, "CNY"
            ),
            "accounts_must_be_different",
        ),
        (
            OrderRequest(OrderKind.ACCOUNT_TO_ACCOUNT, _a(holder.account_id), _a("nope"), 1, "CNY"),
            "payee_not_found",
        ),
        (
            OrderRequest(OrderKind.BILL, _a(holder.account_id), _a(other.account_id), 1, "CNY"),
            "bill_reference_required",
        ),
    ]
    results = bank.orders.submit_many(
        OPERATOR, holder.party_id, [(r, f"bad-{i}") for i, (r, _) in enumerate(bad)]
    )
    codes = [r.code if isinstance(r, NetfinError) else r for r in results]
    assert codes == [code for _, code in bad]
    poor = bank.orders.submit(
        OPERATOR,
        holder.party_id,
        OrderRequest(
            OrderKind.ACCOUNT_TO_ACCOUNT, _a(holder.account_id), _a(other.account_id), 1_000 * YUAN, "CNY"
        ),
        idempotency_key="poor",
    )
    assert poor.status is OrderStatus.REJECTED and poor.status_reason == "insufficient_funds"


def test_sca_is_bound_to_amount_and_payee(bank: Bank) -> None:
    holder = _person(bank, "Bai Lu", "+8613800000002", kyc=4, funds=5_000 * YUAN)
    other = _person(bank, "Chen Yu", "+8613800000003")
    authenticator = SoftwareAuthenticator(bank.settings.rp_id, bank.settings.origins[0], seed=7)
    options = bank.credentials.begin_registration(holder.party_id, "bailu")
    bank.credentials.finish_registration(holder.party_id, authenticator.create(options))
    pay = OrderRequest(
        OrderKind.ACCOUNT_TO_ACCOUNT, _a(holder.account_id), _a(other.account_id), 20 * YUAN, "CNY"
    )
    order = bank.orders.submit(OPERATOR, holder.party_id, pay, idempotency_key="sca-1")
    assert order.status is OrderStatus.STEP_UP and order.sca_reasons == ("new_payee",)
    second = bank.orders.submit(
        OPERATOR,
        holder.party_id,
        OrderRequest(
            OrderKind.ACCOUNT_TO_ACCOUNT, _a(holder.account_id), _a(other.account_id), 30 * YUAN, "CNY"
        ),
        idempotency_key="sca-2",
    )
    # An assertion over the first order's challenge cannot authorise the second.
    assertion = authenticator.get(bank.orders.begin_confirmation(holder.party_id, order.order_id))
    with pytest.raises(BindingMismatch):
        bank.orders.confirm(OPERATOR, holder.party_id, second.order_id, assertion)
    settled = bank.orders.confirm(OPERATOR, holder.party_id, order.order_id, assertion)
    assert settled.status is OrderStatus.SETTLED
    assert (
        bank.identity.ledger.lookup_accounts([bank.identity.get_account(other.account_id).ledger_account_id])[
            0
        ].balance()
        == 20 * YUAN
    )
    trail = [(e.from_status, e.to_status) for e in bank.orders.events(order.order_id)]
    assert trail == [
        (None, OrderStatus.CREATED),
        (OrderStatus.CREATED, OrderStatus.SCREENED),
        (OrderStatus.SCREENED, OrderStatus.STEP_UP),
        (OrderStatus.STEP_UP, OrderStatus.AUTHORISED),
        (OrderStatus.AUTHORISED, OrderStatus.SETTLED),
    ]
    # Now a known payee: a small payment needs no step-up.
    third = bank.orders.submit(
        OPERATOR,
        holder.party_id,
        OrderRequest(
            OrderKind.ACCOUNT_TO_ACCOUNT, _a(holder.account_id), _a(other.account_id), 5 * YUAN, "CNY"
        ),
        idempotency_key="sca-3",
    )
    assert third.status is OrderStatus.SETTLED
    big = bank.orders.submit(
        OPERATOR,
        holder.party_id,
        OrderRequest(
            OrderKind.ACCOUNT_TO_ACCOUNT, _a(holder.account_id), _a(other.account_id), 1_001 * YUAN, "CNY"
        ),
        idempotency_key="sca-4",
    )
    assert big.status is OrderStatus.STEP_UP and big.sca_reasons == ("amount_above_threshold",)


def test_step_up_orders_expire(bank: Bank, clock: ManualClock) -> None:
    holder = _person(bank, "Bai Lu", "+8613800000002", kyc=4, funds=100 * YUAN)
    other = _person(bank, "Chen Yu", "+8613800000003")
    order = bank.orders.submit(
        OPERATOR,
        holder.party_id,
        OrderRequest(
            OrderKind.ACCOUNT_TO_ACCOUNT, _a(holder.account_id), _a(other.account_id), 1 * YUAN, "CNY"
        ),
        idempotency_key="e1",
    )
    assert order.status is OrderStatus.STEP_UP
    clock.advance(seconds=16 * 60)
    assert bank.housekeeping()["orders_expired"] == 1
    assert bank.orders.get(order.order_id).status is OrderStatus.EXPIRED
    types = [e["type"] for e in bank.orders.outbox()]
    assert types == ["payment.step_up", "payment.expired"]


def test_risk_rejection_is_recorded(bank: Bank, no_sca: None) -> None:
    class Deny:
        def decide(self, order: PaymentOrder) -> RiskDecision:
            return RiskDecision(RiskAction.REJECT, ("mule_pattern",))

    holder = _person(bank, "An Ming", "+8613800000001", funds=100 * YUAN)
    bank.orders.risk = Deny()
    order = _top_up(bank, holder, 1 * YUAN, "r1")
    assert order.status is OrderStatus.REJECTED and order.status_reason == "risk_rejected"
    assert _balance(bank, holder.wallet) == 0


def test_refunds_never_exceed_the_original_and_point_to_it(bank: Bank, no_sca: None) -> None:
    shopper = _person(bank, "An Ming", "+8613800000001", funds=1_000 * YUAN)
    shop = _person(bank, "Dong Shop", "+8613800000004", kyc=4)
    _top_up(bank, shopper, 500 * YUAN, "t")
    sale = bank.orders.submit(
        OPERATOR,
        shopper.party_id,
        OrderRequest(OrderKind.MERCHANT_QR, _w(shopper.wallet), _w(shop.wallet), 300 * YUAN, "CNY"),
        idempotency_key="sale",
    )
    assert sale.status is OrderStatus.SETTLED
    part = bank.orders.refund(OPERATOR, shop.party_id, sale.order_id, 100 * YUAN, idempotency_key="rf1")
    assert part.status is OrderStatus.SETTLED and part.original_order_id == sale.order_id
    [transfer] = bank.ledger.lookup_transfers([part.first_transfer_id])
    assert transfer.user_data_128 == sale.first_transfer_id
    with pytest.raises(Conflict) as over:
        bank.orders.refund(OPERATOR, shop.party_id, sale.order_id, 201 * YUAN, idempotency_key="rf2")
    assert over.value.code == "refund_exceeds_original"
    rest = bank.orders.refund(OPERATOR, shop.party_id, sale.order_id, 200 * YUAN, idempotency_key="rf3")
    assert rest.status is OrderStatus.SETTLED
    assert bank.orders.get(sale.order_id).refunded_minor == 300 * YUAN
    assert _balance(bank, shopper.wallet) == 500 * YUAN and _balance(bank, shop.wallet) == 0


def test_bill_payment_checks_the_billers_reference(bank: Bank, no_sca: None) -> None:
    payer = _person(bank, "An Ming", "+8613800000001", funds=1_000 * YUAN)
    hospital = bank.identity.register_party(
        OPERATOR, kind=PartyKind.ENTERPRISE, display_name="City Hospital", phone="+8602000000000"
    )
    account = bank.identity.open_account(OPERATOR, hospital.party_id, currency="CNY")
    biller = bank.orders.register_biller(
        OPERATOR,
        name="City Hospital",
        category="hospital",
        account_id=account.account_id,
        reference_pattern=r"MRN[0-9]{8}",
    )
    bill = Endpoint(EndpointKind.BILLER, biller.biller_id)
    wrong = OrderRequest(
        OrderKind.BILL, _a(payer.account_id), bill, 50 * YUAN, "CNY", payee_reference="12345"
    )
    with pytest.raises(InvalidInput) as refused:
        bank.orders.submit(OPERATOR, payer.party_id, wrong, idempotency_key="bill-0")
    assert refused.value.code == "bill_reference_invalid"
    right = OrderRequest(
        OrderKind.BILL, _a(payer.account_id), bill, 50 * YUAN, "CNY", payee_reference="MRN00012345"
    )
    assert (
        bank.orders.submit(OPERATOR, payer.party_id, right, idempotency_key="bill-1").status
        is OrderStatus.SETTLED
    )


def test_resume_finishes_an_order_left_authorised(bank: Bank, clock: ManualClock, no_sca: None) -> None:
    holder = _person(bank, "An Ming", "+8613800000001", funds=100 * YUAN)
    other = _person(bank, "Bai Lu", "+8613800000002")
    original = bank.orders._settle
    bank.orders._settle = lambda pending: {}  # type: ignore[method-assign]  # the process dies before step 2
    order = bank.orders.submit(
        OPERATOR,
        holder.party_id,
        OrderRequest(
            OrderKind.ACCOUNT_TO_ACCOUNT, _a(holder.account_id), _a(other.account_id), 10 * YUAN, "CNY"
        ),
        idempotency_key="crash",
    )
    assert order.status is OrderStatus.AUTHORISED
    bank.orders._settle = original  # type: ignore[method-assign]
    clock.advance(seconds=60)
    assert bank.orders.resume() == 1
    assert bank.orders.resume() == 0
    assert bank.orders.get(order.order_id).status is OrderStatus.SETTLED
    assert bank.ledger.verify().ok


def test_a_batch_larger_than_one_ledger_call_settles_whole_chains(bank: Bank, no_sca: None) -> None:
    """1,700 wallet payments are 8,500 ledger events: more than one call takes, split between chains."""
    payer = _person(bank, "Bai Lu", "+8613800000002", kyc=4, funds=100_000 * YUAN)
    payee = _person(bank, "Chen Yu", "+8613800000003", kyc=4)
    _top_up(bank, payer, 50_000 * YUAN, "t")
    items = [
        (
            OrderRequest(OrderKind.WALLET_TO_WALLET, _w(payer.wallet), _w(payee.wallet), 1 * YUAN, "CNY"),
            f"b{n}",
        )
        for n in range(1_700)
    ]
    results = bank.orders.submit_many(OPERATOR, payer.party_id, items)
    assert {getattr(r, "status", r) for r in results} == {OrderStatus.SETTLED}
    assert _balance(bank, payee.wallet) == 1_700 * YUAN


def test_the_gateway_books_concurrent_callers_together_each_gets_its_own_result(
    bank: Bank, no_sca: None
) -> None:
    import threading

    payers = [
        _person(bank, f"Payer {n}", f"+86138000001{n:02d}", kyc=4, funds=1_000 * YUAN) for n in range(8)
    ]
    shop = _person(bank, "Dong Shop", "+8613800000099", kyc=4)
    for n, payer in enumerate(payers):
        _top_up(bank, payer, 500 * YUAN, f"t{n}")
    calls: list[int] = []
    original = bank.orders.submit_mixed

    def counting(submissions):  # type: ignore[no-untyped-def]
        calls.append(len(submissions))
        return original(submissions)

    bank.orders.submit_mixed = counting  # type: ignore[method-assign]
    results: dict[tuple[int, int], object] = {}
    start = threading.Barrier(8 * 5)

    def pay(n: int, k: int) -> None:
        payer = payers[n]
        amount = (k + 1) * YUAN if k < 4 else 10_000 * YUAN  # the fifth is over the wallet's balance
        request = OrderRequest(OrderKind.WALLET_TO_WALLET, _w(payer.wallet), _w(shop.wallet), amount, "CNY")
        start.wait()
        results[(n, k)] = bank.order_gateway.submit(
            OPERATOR, payer.party_id, request, idempotency_key=f"g{k}"
        )

    threads = [threading.Thread(target=pay, args=(n, k)) for n in range(8) for k in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(calls) == 40 and len(calls) < 40  # booked in fewer batches than callers
    for (n, k), order in results.items():
        assert isinstance(order, PaymentOrder) and order.payer_party_id == payers[n].party_id
        assert order.idempotency_key == f"g{k}"
        expected = (OrderStatus.SETTLED, None) if k < 4 else (OrderStatus.REJECTED, "insufficient_funds")
        assert (order.status, order.status_reason) == expected
    assert _balance(bank, shop.wallet) == 8 * (1 + 2 + 3 + 4) * YUAN
    with pytest.raises(Conflict) as reused:  # the same key with another request, through the gateway
        bank.order_gateway.submit(OPERATOR, payers[0].party_id, OrderRequest(
            OrderKind.WALLET_TO_WALLET, _w(payers[0].wallet), _w(shop.wallet), 7 * YUAN, "CNY"),
            idempotency_key="g0")  # fmt: skip
    assert reused.value.code == "idempotency_key_reused"
