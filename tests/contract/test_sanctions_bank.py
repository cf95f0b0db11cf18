"""Sanctions screening in the bank: at onboarding, each cross-border payee, everyone again on a new list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from shared_data import skip_unless

from netfin.aml.screening import ScreeningStatus
from netfin.bank import Bank, BankSettings
from netfin.core.clock import ManualClock
from netfin.core.errors import InvalidInput
from netfin.core.ids import format_id
from netfin.identity.model import Actor, PartyKind
from netfin.payments.orders import Endpoint, EndpointKind, OrderKind, OrderRequest, OrderStatus
from netfin.payments.orders.service import AllowAll

LISTS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "sanctions"
OPERATOR = Actor("operator", "operator-1")
OFFICER = Actor("compliance", "officer-1")
pytestmark = skip_unless(LISTS.is_dir(), "sanctions lists not in ../shared/data/sanctions")


@pytest.fixture
def bank(store_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bank]:
    monkeypatch.setenv("NETFIN_SANCTIONS_DIR", str(LISTS))
    opened = Bank(BankSettings(database_url=store_url), clock=clock)
    opened.orders.sca = type(opened.orders.sca)(
        threshold_minor={}, default_threshold_minor=10**12, new_payee=False
    )
    opened.orders.risk.inner = AllowAll()  # type: ignore[attr-defined]
    try:
        yield opened
    finally:
        opened.close()


def test_onboarding_screens_each_new_party(bank: Bank) -> None:
    assert bank.screening is not None
    listed = bank.identity.register_party(
        OPERATOR, kind=PartyKind.PERSON, display_name="Kim Jong Un", phone="+8613900000001"
    )
    clean = bank.identity.register_party(
        OPERATOR, kind=PartyKind.PERSON, display_name="Olivia Brennan", phone="+8613900000002"
    )
    found = {r.subject_id: r for r in bank.screening.potential_matches(OFFICER, limit=50)}
    assert format_id(listed.party_id) in found
    assert format_id(clean.party_id) not in found
    assert found[format_id(listed.party_id)].status is ScreeningStatus.POTENTIAL_MATCH


def _cross_border(bank: Bank, name: str, key: str) -> OrderStatus:
    party = bank.identity.register_party(
        OPERATOR, kind=PartyKind.PERSON, display_name="Li Lei", phone="+8613900000003"
    )
    account = bank.identity.open_account(OPERATOR, party.party_id, currency="CNY")
    bank.identity.deposit_cash(OPERATOR, account.account_id, 1_000_000)
    request = OrderRequest(
        OrderKind.CROSS_BORDER,
        Endpoint(EndpointKind.ACCOUNT, account.account_id),
        Endpoint(EndpointKind.EXTERNAL, "DE89370400440532013000"),
        10_000,
        "CNY",
        payee_name=name,
    )
    order = bank.orders.submit(OPERATOR, party.party_id, request, idempotency_key=key)
    return order.status if order.status is not OrderStatus.REJECTED else order.status_reason  # type: ignore[return-value]


def test_a_cross_border_payee_on_a_list_is_held(bank: Bank) -> None:
    assert _cross_border(bank, "Kim Jong Un", "k1") == "sanctions_hold"
    assert bank.screening is not None
    held = [
        r
        for r in bank.screening.potential_matches(OFFICER, limit=50)
        if r.subject_kind.value == "counterparty"
    ]
    assert held


def test_a_cross_border_payment_must_name_its_payee() -> None:
    request = OrderRequest(
        OrderKind.CROSS_BORDER,
        Endpoint(EndpointKind.ACCOUNT, "a1"),
        Endpoint(EndpointKind.EXTERNAL, "DE89370400440532013000"),
        10_000,
        "CNY",
    )
    with pytest.raises(InvalidInput) as refused:
        request.check()
    assert refused.value.code == "payee_name_required"


def test_a_new_list_version_rescreens_everyone(bank: Bank, tmp_path: Path) -> None:
    for i, name in enumerate(["Zhang Wei", "Maria Lopez", "Kim Jong Un"]):
        bank.identity.register_party(
            OPERATOR, kind=PartyKind.PERSON, display_name=name, phone=f"+861390000010{i}"
        )
    unchanged = bank.update_sanctions_lists(OFFICER, str(LISTS))
    assert unchanged is None  # same versions: nobody screened again
    changed = tmp_path / "lists"
    changed.mkdir()
    (changed / "ofac_sdn_2024-05-04.csv").write_text(
        (LISTS / "ofac_sdn_2024-05-03.csv").read_text(encoding="utf-8")
        + '99999,"ZHANG, Wei",individual,SDGT,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n',
        encoding="utf-8",
    )
    summary = bank.update_sanctions_lists(OFFICER, str(changed))
    assert summary is not None and summary.screened >= 3
    assert bank.screening is not None
    names = {r.subject_id for r in bank.screening.potential_matches(OFFICER, limit=100)}
    zhang = next(p for p in bank.identity.iter_parties() if p.display_name == "Zhang Wei")
    assert format_id(zhang.party_id) in names
