"""The /v1 payment routes end to end, on each store: wallets, payment orders with passkey
step-up, merchant QR codes, bills, refunds, device mandates, FX quotes, and the staff and
regulator tools. Every refusal is checked as a problem document with its own code."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netfin.api.app import create_app
from netfin.api.v1 import payments
from netfin.bank import Bank
from netfin.identity.model import Role
from netfin.payments.qr import MerchantQr, NetworkAccount, Template, generate_payload
from netfin.sim import openbanking as ob
from netfin.sim.authenticator import SoftwareAuthenticator
from netfin.sim.device import SoftwareDevice

from .conftest import BASE_URL, ORIGIN, World
from .test_security_support import assert_problem, assert_same_refusal

bearer = ob.bearer


@pytest.fixture
def client(bank: Bank) -> Iterator[TestClient]:
    """The application (its payment routers included)."""
    app = create_app(bank)
    with TestClient(app, base_url=BASE_URL) as http:
        yield http


@pytest.fixture
def no_sca(world: World) -> None:
    """Payments settle at once (no new-payee or amount step-up), for tests about something else."""
    world.bank.orders.sca = type(world.bank.orders.sca)(
        threshold_minor={}, default_threshold_minor=10**12, new_payee=False
    )


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def _post(world: World, path: str, body: Any, token: str, status: int) -> Any:
    return ob.expect(world.http.post(path, json=body, headers=bearer(token, **_key())), status)


def _get(world: World, path: str, token: str) -> Any:
    return ob.expect(world.http.get(path, headers=bearer(token)), 200)


def _cny_account(world: World, customer: ob.Customer, amount: str) -> str:
    return ob.open_funded_account(world.http, customer, world.operator, "CNY", amount)


def _wallet(world: World, customer: ob.Customer) -> dict[str, Any]:
    return _post(world, "/v1/wallets", {"nickname": "daily"}, customer.session, 201)  # type: ignore[no-any-return]


def _pay(world: World, customer: ob.Customer, body: dict[str, Any], status: int = 201) -> Any:
    return _post(world, "/v1/payment-orders", body, customer.session, status)


def _a2a(payer: str, payee: str, amount: str, currency: str, kind: str = "account") -> dict[str, Any]:
    return {
        "kind": "a2a",
        "payer": {"kind": "account", "id": payer},
        "payee": {"kind": kind, "id": payee},
        "amount": amount,
        "currency": currency,
    }


# Wallets -------------------------------------------------------------------------


def test_wallets_open_list_show_with_limits_and_sub_wallets(world: World) -> None:
    alice, bob = world.alice, world.bob
    # KYC level 1 gives the anonymous class 4 of the e-CNY profile, which has no sub-wallets.
    anonymous = _wallet(world, bob)
    assert (anonymous["class_no"], anonymous["anonymous"], anonymous["currency"]) == (4, True, "CNY")
    assert anonymous["pseudonym"].startswith("W")
    refused = world.http.post(
        f"/v1/wallets/{anonymous['wallet_id']}/sub-wallets", json={}, headers=bearer(bob.session)
    )
    assert_problem(refused, 400, "sub_wallets_too_many")
    kyc = {"evidence": "remote_id_check", "reference": "check-1"}
    _post(world, f"/v1/parties/{alice.party_id}/kyc", kyc, world.operator, 200)
    wallet = _wallet(world, alice)
    assert (wallet["class_no"], wallet["anonymous"]) == (3, False)
    assert wallet["limits"]["per_payment"] == {"amount": "5000.00", "currency": "CNY"}
    assert wallet["limits"]["annual"] is None
    shown = _get(world, f"/v1/wallets/{wallet['wallet_id']}", alice.session)
    assert shown["balance"] == {"amount": "0.00", "currency": "CNY"}
    assert shown["remaining"]["balance"] == {"amount": "20000.00", "currency": "CNY"}
    sub = _post(world, f"/v1/wallets/{wallet['wallet_id']}/sub-wallets", {}, alice.session, 201)
    assert sub["parent_wallet_id"] == wallet["wallet_id"]
    listed = _get(world, "/v1/wallets", alice.session)["wallets"]
    assert [w["wallet_id"] for w in listed] == [wallet["wallet_id"], sub["wallet_id"]]
    assert [w["wallet_id"] for w in _get(world, "/v1/wallets", bob.session)["wallets"]] == [
        anonymous["wallet_id"]
    ]

    # Someone else's wallet is refused exactly as one that does not exist.
    theirs = world.http.get(f"/v1/wallets/{wallet['wallet_id']}", headers=bearer(bob.session))
    nobody = world.http.get("/v1/wallets/w-" + "0" * 32, headers=bearer(bob.session))
    assert_same_refusal(theirs, nobody, 404, "wallet_not_found")
    stolen = world.http.post(
        f"/v1/wallets/{wallet['wallet_id']}/sub-wallets", json={}, headers=bearer(bob.session)
    )
    assert_problem(stolen, 404, "wallet_not_found")
    staff = world.http.get("/v1/wallets", headers=bearer(world.operator))
    assert_problem(staff, 403, "role_missing")
    assert_problem(world.http.get("/v1/wallets"), 401, "token_missing")


# Payment orders: step-up, events, ownership ---------------------------------------------


def test_a_new_payee_needs_a_passkey_confirmation_bound_to_the_order(world: World) -> None:
    http, alice, bob = world.http, world.alice, world.bob
    account = _cny_account(world, alice, "1000.00")
    wallet, bobs = _wallet(world, alice), _wallet(world, bob)
    # Topping up one's own wallet needs no step-up; paying someone new does.
    top_up = _pay(world, alice, _a2a(account, wallet["wallet_id"], "500.00", "CNY", kind="wallet"))
    assert (top_up["status"], top_up["sca_reasons"]) == ("settled", [])
    w2w = {
        "kind": "w2w",
        "payer": {"kind": "wallet", "id": wallet["wallet_id"]},
        "payee": {"kind": "wallet", "id": bobs["wallet_id"]},
        "amount": "200.00",
        "currency": "CNY",
    }
    order = _pay(world, alice, w2w)
    assert (order["status"], order["sca_reasons"]) == ("step_up", ["new_payee"])
    other = _pay(world, alice, {**w2w, "amount": "300.00"})
    path = f"/v1/payment-orders/{order['order_id']}"

    options = _post(world, path + "/confirmation-options", None, alice.session, 200)
    assertion = alice.authenticator.get(options)
    # The assertion over this order's challenge cannot confirm the other order.
    mismatch = http.post(
        f"/v1/payment-orders/{other['order_id']}/confirmation",
        json={"credential": assertion},
        headers=bearer(alice.session),
    )
    assert_problem(mismatch, 401, "binding_mismatch")
    # The payee may read the order but never confirm it.
    by_payee = http.post(path + "/confirmation-options", headers=bearer(bob.session))
    assert_problem(by_payee, 403, "order_payer_only")

    settled = _post(world, path + "/confirmation", {"credential": assertion}, alice.session, 200)
    assert settled["status"] == "settled"
    trail = [(e["from_status"], e["to_status"]) for e in settled["events"]]
    assert trail == [
        (None, "created"),
        ("created", "screened"),
        ("screened", "step_up"),
        ("step_up", "authorised"),
        ("authorised", "settled"),
    ]
    assert _get(world, path, alice.session)["events"] == settled["events"]
    shown = _get(world, f"/v1/wallets/{wallet['wallet_id']}", alice.session)
    assert shown["balance"] == {"amount": "300.00", "currency": "CNY"}
    assert _get(world, f"/v1/wallets/{bobs['wallet_id']}", bob.session)["balance"]["amount"] == "200.00"
    # The payee reads the order it received; a stranger cannot.
    assert _get(world, path, bob.session)["status"] == "settled"
    carol = ob.sign_up(http, SoftwareAuthenticator("localhost", ORIGIN), name="Carol", phone="+447700900125")
    assert_problem(http.get(path, headers=bearer(carol.session)), 404, "order_not_found")
    again = http.post(path + "/confirmation-options", headers=bearer(alice.session))
    assert_problem(again, 409, "order_not_awaiting_confirmation")


def test_a_repeated_post_replays_and_a_reused_key_is_refused(world: World, no_sca: None) -> None:
    http, alice, bob = world.http, world.alice, world.bob
    body = _a2a(alice.account_ids[0], bob.account_ids[0], "10.00", "GBP")
    headers = bearer(alice.session, **_key())
    first = http.post("/v1/payment-orders", json=body, headers=headers)
    second = http.post("/v1/payment-orders", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() and first.json()["status"] == "settled"
    assert second.headers["idempotent-replayed"] == "true"
    assert first.headers["location"] == f"/v1/payment-orders/{first.json()['order_id']}"
    reused = http.post("/v1/payment-orders", json={**body, "amount": "11.00"}, headers=headers)
    assert_problem(reused, 409, "idempotency_key_reused")
    accounts = _get(world, "/v1/me/accounts", alice.session)
    assert accounts[0]["booked"] == {"amount": "90.00", "currency": "GBP"}


_REFUSED_ORDERS: list[tuple[dict[str, Any], int, str]] = [
    ({"payer": {"kind": "account", "id": "0" * 32}}, 404, "payer_not_found"),
    ({"payee": {"kind": "account", "id": "0" * 32}}, 404, "payee_not_found"),
    ({"currency": "CNY"}, 400, "currency_mismatch"),
    ({"amount": "1.001"}, 400, "amount_precision_invalid"),
    ({"payee": None}, 400, "payee_required"),
    ({"amount": None}, 400, "amount_required"),
    ({"qr_payload": "000201"}, 400, "qr_payload_unexpected"),
    ({"kind": "w2w"}, 400, "endpoint_kind_invalid"),
    ({"kind": "bill"}, 400, "bill_reference_required"),
    ({"surprise": 1}, 400, "request_invalid"),
]


def test_each_refused_order_names_its_rule(world: World) -> None:
    base = _a2a(world.alice.account_ids[0], world.bob.account_ids[0], "1.00", "GBP")
    for change, status, code in _REFUSED_ORDERS:
        body = {k: v for k, v in {**base, **change}.items() if v is not None}
        refused = world.http.post(
            "/v1/payment-orders", json=body, headers=bearer(world.alice.session, **_key())
        )
        assert_problem(refused, status, code, code)


def test_someone_elses_account_cannot_pay_and_the_refusal_is_audited(world: World) -> None:
    body = _a2a(world.bob.account_ids[0], world.alice.account_ids[0], "1.00", "GBP")
    refused = world.http.post("/v1/payment-orders", json=body, headers=bearer(world.alice.session))
    assert_problem(refused, 404, "payer_not_found")
    entries = _get(world, "/v1/audit?action=payment_order.submit&outcome=refused", world.auditor)["entries"]
    assert [e["reason"] for e in entries] == ["payer_not_found"]
    assert entries[0]["actor_id"] == world.alice.party_id


# Merchant QR, refunds, bills ------------------------------------------------------------


def _merchant_qr(payee: str, amount_minor: int | None, *, netfin: bool = True) -> str:
    account: NetworkAccount | Template = (
        Template("26", payments.NETFIN_QR_GUID, (("01", payee),)) if netfin else NetworkAccount("02", "4111")
    )
    qr = MerchantQr(
        merchant_accounts=(account,),
        merchant_category_code="5812",
        currency="GBP",
        country_code="GB",
        merchant_name="Bob's Cafe",
        merchant_city="London",
        amount_minor=amount_minor,
    )
    return generate_payload(qr)


def test_a_merchant_qr_pays_the_account_its_code_names_and_the_payee_refunds(
    world: World, no_sca: None
) -> None:
    http, alice, bob = world.http, world.alice, world.bob
    payer = {"kind": "account", "id": alice.account_ids[0]}
    payload = _merchant_qr(bob.account_ids[0], 1234)
    order = _pay(world, alice, {"kind": "merchant_qr", "payer": payer, "qr_payload": payload})
    assert (order["status"], order["kind"]) == ("settled", "merchant_qr")
    assert order["payee"] == {"kind": "account", "id": bob.account_ids[0]}
    assert order["amount"] == {"amount": "12.34", "currency": "GBP"}
    assert order["reference"] == "Bob's Cafe"
    assert _get(world, "/v1/me/accounts", bob.session)[0]["booked"]["amount"] == "12.34"
    # The payee reads it too, and refunds part of it; the payer cannot refund.
    path = f"/v1/payment-orders/{order['order_id']}"
    assert _get(world, path, bob.session)["order_id"] == order["order_id"]
    refund = _post(world, path + "/refunds", {"amount": "2.00"}, bob.session, 201)
    assert (refund["kind"], refund["status"], refund["original_order_id"]) == (
        "refund",
        "settled",
        order["order_id"],
    )
    assert _get(world, path, alice.session)["refunded"]["amount"] == "2.00"
    by_payer = http.post(path + "/refunds", json={"amount": "1.00"}, headers=bearer(alice.session))
    assert_problem(by_payer, 403, "refund_payee_only")
    over = http.post(path + "/refunds", json={"amount": "10.35"}, headers=bearer(bob.session))
    assert_problem(over, 409, "refund_exceeds_original")

    open_amount = _merchant_qr(bob.account_ids[0], None)
    for body, status, code in [
        ({"qr_payload": payload, "amount": "1.00"}, 400, "qr_amount_mismatch"),
        ({"qr_payload": payload, "currency": "EUR"}, 400, "qr_currency_mismatch"),
        ({"qr_payload": open_amount}, 400, "amount_required"),
        (
            {"qr_payload": _merchant_qr(bob.account_ids[0], 100, netfin=False)},
            400,
            "qr_netfin_account_missing",
        ),
        ({"qr_payload": payload[:-1] + ("0" if payload[-1] != "0" else "1")}, 400, "qr_crc_mismatch"),
        ({}, 400, "qr_payload_required"),
    ]:
        refused = http.post(
            "/v1/payment-orders",
            json={"kind": "merchant_qr", "payer": payer, **body},
            headers=bearer(alice.session),
        )
        assert_problem(refused, status, code, code)
    chosen = _pay(
        world, alice, {"kind": "merchant_qr", "payer": payer, "qr_payload": open_amount, "amount": "3.00"}
    )
    assert chosen["amount"]["amount"] == "3.00"


def test_staff_register_a_biller_that_customers_pay_by_reference(world: World, no_sca: None) -> None:
    http, alice, bob = world.http, world.alice, world.bob
    body = {
        "name": "City Council",
        "category": "government",
        "account_id": bob.account_ids[0],
        "reference_pattern": "CT[0-9]{6}",
    }
    refused = http.post("/v1/billers", json=body, headers=bearer(alice.session))
    assert_problem(refused, 403, "role_missing")
    biller = _post(world, "/v1/billers", body, world.operator, 201)
    assert _get(world, "/v1/billers", alice.session)["billers"] == [biller]
    bill = {
        "kind": "bill",
        "payer": {"kind": "account", "id": alice.account_ids[0]},
        "payee": {"kind": "biller", "id": biller["biller_id"]},
        "amount": "25.00",
        "currency": "GBP",
        "payee_reference": "12345",
    }
    wrong = http.post("/v1/payment-orders", json=bill, headers=bearer(alice.session))
    assert_problem(wrong, 400, "bill_reference_invalid")
    paid = _pay(world, alice, {**bill, "payee_reference": "CT123456"})
    assert (paid["status"], paid["payee_reference"]) == ("settled", "CT123456")


# Device mandates ----------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _device_body(device: SoftwareDevice, amount_minor: int, **kwargs: Any) -> dict[str, Any]:
    signed = device.request(amount_minor, "GBP", "charge", **kwargs)
    return {
        "counter": signed.counter,
        "amount": f"{signed.amount_minor // 100}.{signed.amount_minor % 100:02d}",
        "currency": "GBP",
        "reference": "charge",
        "signature": _b64(signed.signature),
    }


def _grant(world: World, device: SoftwareDevice) -> dict[str, Any]:
    body = {
        "payer": {"kind": "account", "id": world.alice.account_ids[0]},
        "payee": {"kind": "account", "id": world.bob.account_ids[0]},
        "currency": "GBP",
        "max_individual_amount": "20.00",
        "periodic_limits": [{"period_type": "Day", "period_alignment": "Calendar", "amount": "30.00"}],
        "valid_to": "2030-01-01T00:00:00Z",
        "device_id": device.device_id,
        "device_public_key": _b64(device.public_key),
    }
    mandate: dict[str, Any] = _post(world, "/v1/mandates", body, world.alice.session, 201)
    device.bind(mandate["mandate_id"])
    return mandate


def test_a_device_pays_under_its_mandate_by_signature_alone(world: World) -> None:
    http, alice, bob = world.http, world.alice, world.bob
    device = SoftwareDevice("charger-7")
    mandate = _grant(world, device)
    assert (mandate["status"], mandate["max_individual_amount"]["amount"]) == ("AUTH", "20.00")
    assert [m["mandate_id"] for m in _get(world, "/v1/mandates", alice.session)["mandates"]] == [
        mandate["mandate_id"]
    ]
    path = f"/v1/mandates/{mandate['mandate_id']}/payments"
    paid = ob.expect(http.post(path, json=_device_body(device, 1500)), 201)
    assert (paid["status"], paid["amount"]["amount"]) == ("settled", "15.00")
    shown = _get(world, f"/v1/mandates/{mandate['mandate_id']}", alice.session)
    assert shown["usage"][0]["used"]["amount"] == "15.00" and shown["last_counter"] == 1

    replayed = http.post(path, json=_device_body(device, 500, counter=1))
    assert_problem(replayed, 409, "device_counter_replayed")
    forged = http.post(path, json=_device_body(device, 500, corrupt_signature=True))
    assert_problem(forged, 401, "device_signature_invalid")
    claimed = http.post(path, json=_device_body(device, 1900, signed_amount_minor=100))
    assert_problem(claimed, 401, "device_signature_invalid")
    too_big = http.post(path, json=_device_body(device, 1600))
    assert_problem(too_big, 400, "mandate_periodic_limit_exceeded")
    garbled = http.post(path, json={**_device_body(device, 100), "signature": "AAAA"})
    assert_problem(garbled, 401, "device_signature_invalid")
    unknown = http.post("/v1/mandates/md-" + "0" * 32 + "/payments", json=_device_body(device, 100))
    assert_problem(unknown, 404, "mandate_not_found")

    # Bob cannot see or revoke Alice's mandate; to him it does not exist.
    for response in (
        http.get(f"/v1/mandates/{mandate['mandate_id']}", headers=bearer(bob.session)),
        http.delete(f"/v1/mandates/{mandate['mandate_id']}", headers=bearer(bob.session)),
    ):
        assert_problem(response, 404, "mandate_not_found")
    revoked = ob.expect(
        http.delete(f"/v1/mandates/{mandate['mandate_id']}", headers=bearer(alice.session)), 200
    )
    assert revoked["status"] == "CANC"
    assert_problem(http.post(path, json=_device_body(device, 100)), 409, "mandate_revoked")
    entries = _get(world, "/v1/audit?action=mandate.payment&outcome=refused", world.auditor)["entries"]
    reasons = {e["reason"] for e in entries}
    assert {"device_counter_replayed", "device_signature_invalid", "mandate_not_found"} <= reasons


def test_a_mandate_with_a_bad_device_key_is_refused(world: World) -> None:
    device = SoftwareDevice("meter-1")
    body = {
        "payer": {"kind": "account", "id": world.alice.account_ids[0]},
        "payee": {"kind": "account", "id": world.bob.account_ids[0]},
        "currency": "GBP",
        "max_individual_amount": "20.00",
        "periodic_limits": [{"period_type": "Day", "period_alignment": "Calendar", "amount": "30.00"}],
        "valid_to": "2030-01-01T00:00:00Z",
        "device_id": device.device_id,
        "device_public_key": _b64(b"short"),
    }
    refused = world.http.post("/v1/mandates", json=body, headers=bearer(world.alice.session))
    assert_problem(refused, 400, "device_public_key_invalid")
    theirs = {
        **body,
        "payer": {"kind": "account", "id": world.bob.account_ids[0]},
        "payee": {"kind": "account", "id": world.alice.account_ids[1]},
    }
    theirs["device_public_key"] = _b64(device.public_key)
    assert_problem(
        world.http.post("/v1/mandates", json=theirs, headers=bearer(world.alice.session)),
        404,
        "payer_not_found",
    )


# Staff and regulator -----------------------------------------------------------------


def test_staff_change_class_and_freeze_with_a_reason_and_a_regulator_reveals_a_holder(
    world: World,
) -> None:
    http, alice = world.http, world.alice
    wallet = _wallet(world, alice)
    wallet_path = f"/v1/wallets/{wallet['wallet_id']}"
    upgrade = http.post(wallet_path + "/class", json={"class_no": 3}, headers=bearer(world.operator))
    assert_problem(upgrade, 403, "kyc_level_too_low")
    by_customer = http.post(wallet_path + "/freeze", json={"reason": "x" * 20}, headers=bearer(alice.session))
    assert_problem(by_customer, 403, "role_missing")
    no_reason = http.post(wallet_path + "/freeze", json={"reason": "fraud"}, headers=bearer(world.operator))
    assert_problem(no_reason, 400, "reason_required")
    frozen = _post(world, wallet_path + "/freeze", {"reason": "reported stolen phone"}, world.operator, 200)
    assert frozen["status"] == "frozen"
    account = _cny_account(world, alice, "10.00")
    refused = http.post(
        "/v1/payment-orders",
        json=_a2a(account, wallet["wallet_id"], "1.00", "CNY", kind="wallet"),
        headers=bearer(alice.session),
    )
    assert_problem(refused, 409, "wallet_not_active")
    thawed = _post(
        world, wallet_path + "/unfreeze", {"reason": "phone recovered, checked"}, world.operator, 200
    )
    assert thawed["status"] == "active"

    regulator = ob.staff_session(world.bank, roles=(Role.REGULATOR,), name="Regulator")
    lookup = {"pseudonym": wallet["pseudonym"], "reason": "court order 2026/117 for fraud case"}
    by_operator = http.post("/v1/regulator/pseudonym-lookups", json=lookup, headers=bearer(world.operator))
    assert_problem(by_operator, 403, "role_missing")
    short = http.post(
        "/v1/regulator/pseudonym-lookups", json={**lookup, "reason": "why"}, headers=bearer(regulator)
    )
    assert_problem(short, 400, "reason_required")
    unknown = http.post(
        "/v1/regulator/pseudonym-lookups", json={**lookup, "pseudonym": "WNOSUCH"}, headers=bearer(regulator)
    )
    assert_problem(unknown, 404, "wallet_not_found")
    found = _post(world, "/v1/regulator/pseudonym-lookups", lookup, regulator, 200)
    assert (found["party_id"], found["display_name"]) == (alice.party_id, "Alice")
    entries = _get(world, "/v1/audit?action=wallet.reveal", world.auditor)["entries"]
    outcomes = sorted((e["outcome"], e["reason"]) for e in entries)
    assert ("refused", "reason_required") in outcomes and ("refused", "wallet_not_found") in outcomes
    assert any(o == "succeeded" for o, _ in outcomes)


# FX quotes ----------------------------------------------------------------------------

_RATES = "Date,USD,GBP,CNY,\n2026-04-13,1.1684,0.87058,7.9827,\n"


def test_fx_quote_prices_the_best_route_and_answers_503_without_rates(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    http = world.http
    monkeypatch.setenv(payments.FX_RATES_VARIABLE, str(tmp_path / "missing.csv"))
    missing = http.get(
        "/v1/fx/quote",
        params={"from": "GBP", "to": "USD", "amount": "100.00"},
        headers=bearer(world.alice.session),
    )
    assert_problem(missing, 503, "fx_rates_unavailable")
    rates = tmp_path / "rates.csv"
    rates.write_text(_RATES)
    monkeypatch.setenv(payments.FX_RATES_VARIABLE, str(rates))
    params = {"from": "GBP", "to": "USD", "amount": "100.00", "on": "2026-04-14"}
    quote = _get(
        world, "/v1/fx/quote?" + "&".join(f"{k}={v}" for k, v in params.items()), world.alice.session
    )
    assert quote["source"] == {"amount": "100.00", "currency": "GBP"}
    assert quote["target"]["currency"] == "USD" and quote["route"][0] == "GBP" and quote["route"][-1] == "USD"
    # 100 GBP is about 134 USD at these mid rates; spreads only take from it.
    assert 130 < int(quote["target"]["amount"].split(".")[0]) < 135
    assert quote["rates_date"] == "2026-04-13"
    for bad, code in [({"amount": "1.001"}, "amount_precision_invalid"), ({"to": "usd"}, "request_invalid")]:
        refused = http.get("/v1/fx/quote", params={**params, **bad}, headers=bearer(world.alice.session))
        assert_problem(refused, 400, code)


def test_the_openapi_document_lists_the_payment_routes_with_problem_responses(world: World) -> None:
    document = ob.expect(world.http.get("/openapi.json"), 200)
    for path in (
        "/v1/payment-orders",
        "/v1/mandates/{mandate_id}/payments",
        "/v1/regulator/pseudonym-lookups",
    ):
        for operation in document["paths"][path].values():
            assert "application/problem+json" in operation["responses"]["default"]["content"]
