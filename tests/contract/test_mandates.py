"""Device mandates through the service layer, on SQLite and PostgreSQL.

A customer grants an EV charger a mandate to pay the charging operator's
account; the charger (``SoftwareDevice``) signs each payment. Each test
checks a named outcome: the refusal code, the order's status, the usage
counted per period, the money in the ledger.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
import sqlalchemy as sa

from netfin.bank import Bank, BankSettings
from netfin.core.clock import NS_PER_SECOND, ManualClock
from netfin.core.errors import Conflict, InvalidInput, LimitExceeded, NetfinError, NotFound, Unauthenticated
from netfin.core.ids import format_id
from netfin.identity.model import Actor, PartyKind
from netfin.payments.mandates import (
    DeviceMandates,
    DevicePaymentRequest,
    Mandate,
    MandatePaymentState,
    MandateStatus,
    MandateTerms,
    PeriodAlignment,
    PeriodicLimit,
    PeriodType,
)
from netfin.payments.mandates import store as mandate_store
from netfin.payments.orders import (
    Endpoint,
    EndpointKind,
    OrderKind,
    OrderRequest,
    OrderStatus,
    PaymentOrder,
    RiskAction,
    RiskDecision,
    ScaPolicy,
)
from netfin.payments.wallets.model import Wallet, WalletStatus
from netfin.sim.device import SoftwareDevice

OPERATOR = Actor("operator", "operator-1")
YUAN = 100  # minor units
DAY_S = 86_400
CAP_INDIVIDUAL = 50 * YUAN
CAP_DAY = 120 * YUAN
CAP_MONTH = 1_000 * YUAN


@pytest.fixture
def bank(store_url: str, clock: ManualClock) -> Iterator[Bank]:
    opened = Bank(BankSettings(database_url=store_url), clock=clock)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def mandates(bank: Bank) -> DeviceMandates:
    return bank.mandates


@dataclass
class Holder:
    party_id: int
    account_id: str
    actor: Actor


def _party(bank: Bank, name: str, phone: str, *, funds: int = 0) -> Holder:
    party = bank.identity.register_party(OPERATOR, kind=PartyKind.PERSON, display_name=name, phone=phone)
    account = bank.identity.open_account(OPERATOR, party.party_id, currency="CNY")
    if funds:
        bank.identity.deposit_cash(OPERATOR, account.account_id, funds)
    return Holder(party.party_id, account.account_id, Actor("customer", format_id(party.party_id)))


def _account(account_id: str) -> Endpoint:
    return Endpoint(EndpointKind.ACCOUNT, account_id)


def _balance(bank: Bank, account_id: str) -> int:
    account = bank.identity.get_account(account_id)
    [found] = bank.ledger.lookup_accounts([account.ledger_account_id])
    return found.balance()


def _terms(
    customer: Holder, operator: Holder, device: SoftwareDevice, clock: ManualClock, **changes: object
) -> MandateTerms:
    values: dict[str, object] = {
        "payer": _account(customer.account_id),
        "payee": _account(operator.account_id),
        "currency": "CNY",
        "max_individual_minor": CAP_INDIVIDUAL,
        "periodic_limits": (
            PeriodicLimit(PeriodType.DAY, PeriodAlignment.CALENDAR, CAP_DAY),
            PeriodicLimit(PeriodType.MONTH, PeriodAlignment.CONSENT, CAP_MONTH),
        ),
        "valid_to_ns": clock.now_ns() + 30 * DAY_S * NS_PER_SECOND,
        "device_id": device.device_id,
        "device_public_key": device.public_key,
    }
    values.update(changes)
    return MandateTerms(**values)  # type: ignore[arg-type]


@dataclass
class Setup:
    customer: Holder
    operator: Holder
    device: SoftwareDevice
    mandate: Mandate


def _setup(bank: Bank, mandates: DeviceMandates, clock: ManualClock, *, funds: int = 2_000 * YUAN,
           **changes: object) -> Setup:  # fmt: skip
    customer = _party(bank, "An Ming", "+8613800000001", funds=funds)
    operator = _party(bank, "Volt Charging", "+8613800000002")
    device = SoftwareDevice("charger-7")
    mandate = mandates.grant(
        customer.actor, customer.party_id, _terms(customer, operator, device, clock, **changes)
    )
    device.bind(mandate.mandate_id)
    return Setup(customer, operator, device, mandate)


def _refused(mandates: DeviceMandates, request: DevicePaymentRequest) -> str:
    with pytest.raises(NetfinError) as refused:
        mandates.pay(request)
    return refused.value.code


def _used(mandates: DeviceMandates, s: Setup) -> list[int]:
    return [u.used_minor for u in mandates.usage_for_party(s.customer.party_id, s.mandate.mandate_id)]


# Granting, reading, revoking -----------------------------------------------------------------


def test_grant_list_and_revoke(bank: Bank, mandates: DeviceMandates, clock: ManualClock) -> None:
    s = _setup(bank, mandates, clock)
    assert s.mandate.mandate_id.startswith("md-") and len(s.mandate.mandate_id) == 35
    assert s.mandate.status is MandateStatus.AUTHORISED and s.mandate.last_counter == 0
    assert s.mandate.valid_from_ns == clock.now_ns()
    assert mandates.list_for_party(s.customer.party_id) == [s.mandate]
    assert mandates.get_for_party(s.customer.party_id, s.mandate.mandate_id) == s.mandate
    assert mandates.list_for_party(s.operator.party_id) == []
    for attempt in (mandates.get_for_party, lambda p, m: mandates.revoke(s.operator.actor, p, m)):
        with pytest.raises(NotFound) as hidden:
            attempt(s.operator.party_id, s.mandate.mandate_id)
        assert hidden.value.code == "mandate_not_found"
    revoked = mandates.revoke(s.customer.actor, s.customer.party_id, s.mandate.mandate_id)
    assert revoked.status is MandateStatus.REVOKED
    assert (
        mandates.revoke(s.customer.actor, s.customer.party_id, s.mandate.mandate_id).status
        is MandateStatus.REVOKED
    )
    assert mandates.list_for_party(s.customer.party_id)[0].status is MandateStatus.REVOKED
    assert _refused(mandates, s.device.request(10 * YUAN, "CNY")) == "mandate_revoked"
    [granted] = bank.audit.query(action="mandate.grant").entries
    assert granted.subject_id == s.mandate.mandate_id and granted.actor_kind == "customer"
    assert len(bank.audit.query(action="mandate.revoke").entries) == 1  # the repeated revoke changed nothing


def test_grant_checks_the_endpoints_and_the_count(
    bank: Bank, mandates: DeviceMandates, clock: ManualClock
) -> None:
    s = _setup(bank, mandates, clock)
    device = SoftwareDevice("meter-1")
    with pytest.raises(NotFound) as not_theirs:
        mandates.grant(s.operator.actor, s.operator.party_id, _terms(s.customer, s.operator, device, clock))
    assert not_theirs.value.code == "payer_not_found"
    wallet = bank.wallets.open(OPERATOR, s.customer.party_id)
    with pytest.raises(InvalidInput) as currency:
        mandates.grant(s.customer.actor, s.customer.party_id, _terms(
            s.customer, s.operator, device, clock, payer=Endpoint(EndpointKind.WALLET, wallet.wallet_id),
            currency="GBP"))  # fmt: skip
    assert currency.value.code == "currency_mismatch"
    with pytest.raises(InvalidInput) as key:
        mandates.grant(s.customer.actor, s.customer.party_id,
                       _terms(s.customer, s.operator, device, clock, device_public_key=b"short"))  # fmt: skip
    assert key.value.code == "device_public_key_invalid"
    two = DeviceMandates(bank.engine, bank.orders, bank.identity, bank.wallets, bank.audit, clock=clock,
                         ids=bank.ids, mandates_per_party_max=2)  # fmt: skip
    second = two.grant(s.customer.actor, s.customer.party_id, _terms(s.customer, s.operator, device, clock))
    with pytest.raises(LimitExceeded) as too_many:
        two.grant(s.customer.actor, s.customer.party_id, _terms(s.customer, s.operator, device, clock))
    assert too_many.value.code == "mandates_too_many"
    two.revoke(s.customer.actor, s.customer.party_id, second.mandate_id)
    two.grant(s.customer.actor, s.customer.party_id, _terms(s.customer, s.operator, device, clock))


# Paying ------------------------------------------------------------------------------------


def test_a_device_payment_settles_and_counts(
    bank: Bank, mandates: DeviceMandates, clock: ManualClock
) -> None:
    s = _setup(bank, mandates, clock)
    order = mandates.pay(s.device.request(30 * YUAN, "CNY", "session 1"))
    assert order.status is OrderStatus.SETTLED and order.kind is OrderKind.ACCOUNT_TO_ACCOUNT
    assert (
        order.idempotency_key == f"{s.mandate.mandate_id}:1" and order.payer_party_id == s.customer.party_id
    )
    assert (order.payer, order.payee) == (s.mandate.payer, s.mandate.payee)
    assert _balance(bank, s.customer.account_id) == 1_970 * YUAN
    assert _balance(bank, s.operator.account_id) == 30 * YUAN
    assert _used(mandates, s) == [30 * YUAN, 30 * YUAN]
    [payment] = mandates.payments_for_party(s.customer.party_id, s.mandate.mandate_id)
    assert (payment.counter, payment.state, payment.order_id) == (
        1,
        MandatePaymentState.SETTLED,
        order.order_id,
    )
    assert mandates.get(s.mandate.mandate_id).last_counter == 1
    [audited] = bank.audit.query(action="mandate.payment").entries
    assert audited.consent_id == s.mandate.mandate_id and audited.outcome == "succeeded"


def _wallet_setup(bank: Bank, mandates: DeviceMandates, clock: ManualClock) -> tuple[Setup, Wallet, Wallet]:
    customer = _party(bank, "An Ming", "+8613800000001", funds=500 * YUAN)
    operator = _party(bank, "Volt Charging", "+8613800000002")
    payer = bank.wallets.open(OPERATOR, customer.party_id)
    payee = bank.wallets.open(OPERATOR, operator.party_id)
    top_up = OrderRequest(OrderKind.ACCOUNT_TO_ACCOUNT, _account(customer.account_id),
                          Endpoint(EndpointKind.WALLET, payer.wallet_id), 100 * YUAN, "CNY")  # fmt: skip
    assert bank.orders.submit(OPERATOR, customer.party_id, top_up, idempotency_key="top-up").status is (
        OrderStatus.SETTLED
    )
    device = SoftwareDevice("meter-1")
    mandate = mandates.grant(customer.actor, customer.party_id, _terms(
        customer, operator, device, clock, payer=Endpoint(EndpointKind.WALLET, payer.wallet_id),
        payee=Endpoint(EndpointKind.WALLET, payee.wallet_id)))  # fmt: skip
    device.bind(mandate.mandate_id)
    return Setup(customer, operator, device, mandate), payer, payee


def test_wallet_mandates_pay_wallet_to_wallet(
    bank: Bank, mandates: DeviceMandates, clock: ManualClock
) -> None:
    s, payer, payee = _wallet_setup(bank, mandates, clock)
    order = mandates.pay(s.device.request(20 * YUAN, "CNY"))
    assert order.kind is OrderKind.WALLET_TO_WALLET and order.status is OrderStatus.SETTLED
    assert (bank.wallets.balance(payer).balance, bank.wallets.balance(payee).balance) == (
        80 * YUAN,
        20 * YUAN,
    )


def test_an_order_refused_before_it_exists_gives_its_usage_back(
    bank: Bank, mandates: DeviceMandates, clock: ManualClock
) -> None:
    s, payer, _ = _wallet_setup(bank, mandates, clock)
    bank.wallets.set_status(OPERATOR, payer.wallet_id, WalletStatus.FROZEN, reason="reported stolen phone")
    assert _refused(mandates, s.device.request(30 * YUAN, "CNY")) == "wallet_not_active"
    assert _used(mandates, s) == [0, 0]
    [payment] = mandates.payments_for_party(s.customer.party_id, s.mandate.mandate_id)
    assert payment.state is MandatePaymentState.RELEASED and payment.order_id is None
    assert payment.reason == "wallet_not_active"


def test_each_refusal_has_its_code(bank: Bank, mandates: DeviceMandates, clock: ManualClock) -> None:
    s = _setup(bank, mandates, clock)
    stranger = SoftwareDevice("stranger")
    stranger.bind("md-" + "f" * 32)
    assert _refused(mandates, stranger.request(10 * YUAN, "CNY")) == "mandate_not_found"
    assert (
        _refused(mandates, s.device.request(10 * YUAN, "CNY", corrupt_signature=True))
        == "device_signature_invalid"
    )
    assert _refused(mandates, s.device.request(40 * YUAN, "CNY", signed_amount_minor=4 * YUAN)) == (
        "device_signature_invalid"
    )
    imposter = SoftwareDevice("imposter")
    imposter.bind(s.mandate.mandate_id)
    assert _refused(mandates, imposter.request(10 * YUAN, "CNY", counter=99)) == "device_signature_invalid"
    assert mandates.get(s.mandate.mandate_id).last_counter == 0  # unsigned requests move nothing
    paid = s.device.request(10 * YUAN, "CNY")
    assert mandates.pay(paid).status is OrderStatus.SETTLED
    assert _refused(mandates, paid) == "device_counter_replayed"
    assert (
        _refused(mandates, s.device.request(10 * YUAN, "CNY", counter=paid.counter - 1))
        == "device_counter_replayed"
    )
    assert _refused(mandates, s.device.request(10 * YUAN, "USD")) == "mandate_currency_mismatch"
    assert (
        _refused(mandates, s.device.request(CAP_INDIVIDUAL + 1, "CNY")) == "mandate_individual_limit_exceeded"
    )
    refused = bank.audit.query(action="mandate.payment", outcome="refused").entries
    assert [e.reason for e in refused] == [
        "device_signature_invalid", "device_signature_invalid", "device_signature_invalid",
        "device_counter_replayed", "device_counter_replayed", "mandate_currency_mismatch",
        "mandate_individual_limit_exceeded",
    ]  # fmt: skip
    history = mandates.payments_for_party(s.customer.party_id, s.mandate.mandate_id)
    states = {p.counter: (p.state, p.reason) for p in history}
    assert states[paid.counter + 1] == (MandatePaymentState.REFUSED, "mandate_currency_mismatch")


def test_validity_window(bank: Bank, mandates: DeviceMandates, clock: ManualClock) -> None:
    start = clock.now_ns() + DAY_S * NS_PER_SECOND
    s = _setup(bank, mandates, clock, valid_from_ns=start, valid_to_ns=start + 2 * DAY_S * NS_PER_SECOND)
    assert _refused(mandates, s.device.request(10 * YUAN, "CNY")) == "mandate_not_yet_valid"
    clock.advance(seconds=DAY_S)
    assert mandates.pay(s.device.request(10 * YUAN, "CNY")).status is OrderStatus.SETTLED
    clock.advance(seconds=2 * DAY_S)
    assert mandates.get_for_party(s.customer.party_id, s.mandate.mandate_id).status is MandateStatus.EXPIRED
    assert _refused(mandates, s.device.request(10 * YUAN, "CNY")) == "mandate_expired"
    with bank.engine.connect() as connection:  # the refusal recorded the expiry
        stored = connection.execute(sa.select(mandate_store.mandates.c.status)).scalar_one()
    assert stored == "EXPD"
    assert [e.subject_id for e in bank.audit.query(action="mandate.expire").entries] == [s.mandate.mandate_id]


def test_expire_due_sweeps_lapsed_mandates(bank: Bank, mandates: DeviceMandates, clock: ManualClock) -> None:
    s = _setup(bank, mandates, clock, valid_to_ns=clock.now_ns() + DAY_S * NS_PER_SECOND)
    assert mandates.expire_due() == 0
    clock.advance(seconds=DAY_S)
    assert mandates.expire_due() == 1 and mandates.expire_due() == 0
    assert (
        mandates.revoke(s.customer.actor, s.customer.party_id, s.mandate.mandate_id).status
        is MandateStatus.EXPIRED
    )


def test_periodic_caps_refuse_without_counting(
    bank: Bank, mandates: DeviceMandates, clock: ManualClock
) -> None:
    s = _setup(bank, mandates, clock)
    for _ in range(2):
        assert mandates.pay(s.device.request(50 * YUAN, "CNY")).status is OrderStatus.SETTLED
    over = s.device.request(30 * YUAN, "CNY")
    with pytest.raises(LimitExceeded) as refused:
        mandates.pay(over)
    assert refused.value.code == "mandate_periodic_limit_exceeded"
    assert _used(mandates, s) == [100 * YUAN, 100 * YUAN]
    assert _refused(mandates, over) == "device_counter_replayed"  # a refused request cannot come back later
    assert mandates.pay(s.device.request(20 * YUAN, "CNY")).status is OrderStatus.SETTLED  # exactly the cap
    clock.advance(seconds=DAY_S)  # a new calendar day: the day's cap is free again, the month's is not
    assert mandates.pay(s.device.request(50 * YUAN, "CNY")).status is OrderStatus.SETTLED
    assert _used(mandates, s) == [50 * YUAN, 170 * YUAN]
    assert _balance(bank, s.operator.account_id) == 170 * YUAN


def test_a_rejected_payment_gives_its_usage_back(
    bank: Bank, mandates: DeviceMandates, clock: ManualClock
) -> None:
    s = _setup(bank, mandates, clock, funds=20 * YUAN)
    order = mandates.pay(s.device.request(30 * YUAN, "CNY"))
    assert order.status is OrderStatus.REJECTED and order.status_reason == "insufficient_funds"
    assert _used(mandates, s) == [0, 0]
    [payment] = mandates.payments_for_party(s.customer.party_id, s.mandate.mandate_id)
    assert (payment.state, payment.reason, payment.order_id) == (
        MandatePaymentState.RELEASED, "insufficient_funds", order.order_id)  # fmt: skip
    bank.identity.deposit_cash(OPERATOR, s.customer.account_id, 200 * YUAN)
    for _ in range(4):
        assert mandates.pay(s.device.request(30 * YUAN, "CNY")).status is OrderStatus.SETTLED
    assert _used(mandates, s) == [CAP_DAY, CAP_DAY]


def test_reconcile_finishes_what_a_crash_left(
    bank: Bank, mandates: DeviceMandates, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _setup(bank, mandates, clock)

    def crash(*args: object, **kwargs: object) -> PaymentOrder:
        raise ConnectionError("the database went away")

    with monkeypatch.context() as patched:
        patched.setattr(bank.orders, "submit", crash)
        with pytest.raises(ConnectionError):
            mandates.pay(s.device.request(30 * YUAN, "CNY"))
    [payment] = mandates.payments_for_party(s.customer.party_id, s.mandate.mandate_id)
    assert payment.state is MandatePaymentState.RESERVED and _used(mandates, s) == [30 * YUAN, 30 * YUAN]
    assert mandates.reconcile() == 0  # too recent: it may still be in flight
    clock.advance(seconds=60)
    assert mandates.reconcile() == 1
    [payment] = mandates.payments_for_party(s.customer.party_id, s.mandate.mandate_id)
    assert payment.state is MandatePaymentState.SETTLED and payment.order_id is not None
    assert bank.orders.get(payment.order_id).idempotency_key == f"{s.mandate.mandate_id}:1"
    assert _balance(bank, s.operator.account_id) == 30 * YUAN
    clock.advance(seconds=60)
    assert mandates.reconcile() == 0


def test_the_mandate_stands_in_for_sca_but_a_risk_step_up_rejects(
    bank: Bank, mandates: DeviceMandates, clock: ManualClock
) -> None:
    """A device cannot answer a passkey prompt: SCA is exempt, a risk step-up rejects and frees the usage."""
    s = _setup(bank, mandates, clock)
    bank.orders.sca = ScaPolicy()  # a first payment to a new payee would ask a person for a passkey
    order = mandates.pay(s.device.request(30 * YUAN, "CNY"))
    assert order.status is OrderStatus.SETTLED and order.sca_reasons == ()
    [created] = bank.audit.query(action="payment_order.create", subject_id=order.order_id).entries
    assert created.detail["exemption"] == f"mandate:{s.mandate.mandate_id}"

    class StepUp:
        def decide(self, order: PaymentOrder) -> RiskDecision:
            return RiskDecision(RiskAction.STEP_UP, ("unusual_hour",))

    bank.orders.risk = StepUp()
    refused = mandates.pay(s.device.request(20 * YUAN, "CNY"))
    assert refused.status is OrderStatus.REJECTED and refused.status_reason == "risk_step_up_unavailable"
    assert _used(mandates, s) == [30 * YUAN, 30 * YUAN]


# Concurrency -----------------------------------------------------------------------------------


def test_concurrent_requests_never_pass_the_periodic_cap(
    bank: Bank, mandates: DeviceMandates, clock: ManualClock
) -> None:
    """20 threads share one device; a thread whose counter was overtaken signs again with a new one."""
    s = _setup(bank, mandates, clock)
    amount = 10 * YUAN
    start = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        start.wait()
        for _ in range(200):
            try:
                outcome = mandates.pay(s.device.request(amount, "CNY")).status.value
            except (Conflict, LimitExceeded) as error:
                if error.code == "device_counter_replayed":
                    continue
                outcome = error.code
            with lock:
                outcomes.append(outcome)
            return

    threads = [threading.Thread(target=run) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == 20
    assert outcomes.count("settled") == CAP_DAY // amount
    assert outcomes.count("mandate_periodic_limit_exceeded") == 20 - CAP_DAY // amount
    assert _used(mandates, s) == [CAP_DAY, CAP_DAY]
    assert _balance(bank, s.operator.account_id) == CAP_DAY
    counters = [p.counter for p in mandates.payments_for_party(s.customer.party_id, s.mandate.mandate_id)]
    assert len(counters) == len(set(counters)) >= 20


def test_signatures_cover_the_whole_request(bank: Bank, mandates: DeviceMandates, clock: ManualClock) -> None:
    s = _setup(bank, mandates, clock)
    signed = s.device.request(10 * YUAN, "CNY", "session 9")
    for forged in (replace(signed, reference="session 8"), replace(signed, counter=signed.counter + 1)):
        with pytest.raises(Unauthenticated):
            mandates.pay(forged)
    assert mandates.pay(signed).status is OrderStatus.SETTLED
