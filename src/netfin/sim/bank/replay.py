"""The synthetic bank through the real payment path: parties, accounts and payment orders.

``replay(bank, config)`` opens a party and a funded CNY account for every
person, business, merchant and biller of the simulated population, then
submits each simulated payment as a payment order at its simulated time
(the bank's ``ManualClock`` follows the stream), with the channel's device,
place and merchant category set for the risk engine. Payments abroad are
left out (they need a correspondent, not an account here); so is nothing
else. The replay stands in for the customer: it confirms nothing, so the
SCA policy is the caller's to set; an order that asks for a passkey stays
in ``step_up``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from netfin.core.clock import ManualClock
from netfin.core.errors import NetfinError
from netfin.identity.model import Actor, PartyKind
from netfin.payments.orders.model import Endpoint, EndpointKind, OrderKind, OrderRequest
from netfin.payments.orders.risk import CHANNEL, Channel
from netfin.risk.events import PayeeKind, RiskEvent
from netfin.sim.bank.config import BankConfig
from netfin.sim.bank.stream import iter_events

OPENING_BALANCE_MINOR = 50_000_000  # CNY 500,000: the simulated balances are not the ledger's
ACTOR = Actor.system("synthetic-bank")


@dataclass
class ReplaySummary:
    submitted: int = 0
    skipped: int = 0  # payments abroad
    statuses: Counter[str] = field(default_factory=Counter)
    frauds: Counter[str] = field(default_factory=Counter)  # "scenario:status"
    accounts: int = 0


class _Accounts:
    """Each simulated id's party and account, opened the first time the id appears."""

    def __init__(self, bank: object) -> None:
        self.bank = bank
        self.found: dict[str, tuple[int, str]] = {}

    def of(self, sim_id: str) -> tuple[int, str]:
        known = self.found.get(sim_id)
        if known is not None:
            return known
        identity = self.bank.identity  # type: ignore[attr-defined]
        person = sim_id.startswith("c")
        party = identity.register_party(
            ACTOR, kind=PartyKind.PERSON if person else PartyKind.ENTERPRISE, display_name=f"sim {sim_id}",
            phone=f"+86139{len(self.found):08d}",
        )  # fmt: skip
        for step in ("remote_id_check", "bank_card"):
            identity.raise_kyc(ACTOR, party.party_id, evidence=step, reference=f"sim-{sim_id}-{step}")
        account = identity.open_account(ACTOR, party.party_id, currency="CNY")
        identity.deposit_cash(ACTOR, account.account_id, OPENING_BALANCE_MINOR)
        self.found[sim_id] = (party.party_id, account.account_id)
        return self.found[sim_id]


def _kind(event: RiskEvent) -> OrderKind:
    return OrderKind.MERCHANT_QR if event.payee_kind == PayeeKind.MERCHANT else OrderKind.ACCOUNT_TO_ACCOUNT


def replay(
    bank: object, config: BankConfig, *, clock: ManualClock, events_max: int | None = None,
    progress: Callable[[int], None] | None = None, events: Iterator[RiskEvent] | None = None,
) -> ReplaySummary:  # fmt: skip
    """Submit the simulated payments as orders, one at a time, in stream order."""
    summary = ReplaySummary()
    accounts = _Accounts(bank)
    orders = bank.orders  # type: ignore[attr-defined]
    for event in events if events is not None else iter_events(config):
        if events_max is not None and summary.submitted >= events_max:
            break
        if event.payee_kind == PayeeKind.EXTERNAL:
            summary.skipped += 1
            continue
        (payer_party, source), (_, target) = accounts.of(event.payer), accounts.of(event.payee)
        clock.set(max(clock.now_ns(), event.ts_ms * 1_000_000))
        request = OrderRequest(_kind(event), Endpoint(EndpointKind.ACCOUNT, source),
                               Endpoint(EndpointKind.ACCOUNT, target), event.amount_minor, "CNY")  # fmt: skip
        token = CHANNEL.set(Channel(event.device, event.lat, event.lon, event.mcc, event.country,
                                    event.channel or "app", event.segment or "person"))  # fmt: skip
        try:
            status = orders.submit(
                ACTOR, payer_party, request, idempotency_key=f"sim-{event.seq}"
            ).status.value
        except NetfinError as refused:
            status = f"refused:{refused.code}"
        finally:
            CHANNEL.reset(token)
        summary.submitted += 1
        summary.statuses[status] += 1
        if event.label:
            summary.frauds[f"{event.scenario}:{status}"] += 1
        if progress is not None:
            progress(summary.submitted)
    summary.accounts = len(accounts.found)
    return summary
