"""``/v1/risk`` on both stores: analysts block a payee, see the decline with its reasons, label it."""

from __future__ import annotations

from netfin.core.ids import parse_id
from netfin.identity.model import Actor, Role
from netfin.payments.orders.model import Endpoint, EndpointKind, OrderKind, OrderRequest, OrderStatus
from netfin.sim import openbanking as ob
from netfin.sim.openbanking import bearer

from .conftest import World


def _pay(world: World, amount: int, key: str) -> OrderStatus:
    alice = world.alice
    request = OrderRequest(
        OrderKind.ACCOUNT_TO_ACCOUNT, Endpoint(EndpointKind.ACCOUNT, alice.account_ids[0]),
        Endpoint(EndpointKind.ACCOUNT, world.bob.account_ids[0]), amount, "GBP",
    )  # fmt: skip
    order = world.bank.orders.submit(Actor("customer", alice.party_id), parse_id(alice.party_id), request,
                                     idempotency_key=key)  # fmt: skip
    return order.status


def test_an_analyst_blocks_a_payee_sees_the_decline_and_labels_it(world: World) -> None:
    analyst = ob.staff_session(world.bank, roles=(Role.RISK_ANALYST,), name="Risk")
    payee = f"account:{world.bob.account_ids[0]}"
    body = {"kind": "block", "reason": "reported mule account"}
    assert (
        world.http.put(
            f"/v1/risk/overrides/{payee}", json=body, headers=bearer(world.alice.session)
        ).status_code
        == 403
    )
    put = world.http.put(f"/v1/risk/overrides/{payee}", json=body, headers=bearer(analyst))
    assert put.status_code == 200 and put.json()["kind"] == "block"
    assert _pay(world, 150, "k1") is OrderStatus.REJECTED

    queue = world.http.get("/v1/risk/review-queue", headers=bearer(analyst))
    assert queue.status_code == 200
    (decision,) = queue.json()["decisions"]
    assert decision["action"] == "decline" and decision["reasons"][0]["code"] == "override_block"
    assert decision["features"]["payer_count_1h"] >= 1
    for other in (world.auditor, world.alice.session):
        assert world.http.get("/v1/risk/review-queue", headers=bearer(other)).status_code == 403

    path = f"/v1/risk/decisions/{decision['decision_id']}"
    bad = world.http.put(path + "/label", json={"outcome": "probably"}, headers=bearer(analyst))
    assert bad.status_code == 400
    labelled = world.http.put(path + "/label", json={"outcome": "confirmed_fraud", "note": "victim called"},
                              headers=bearer(analyst))  # fmt: skip
    assert labelled.status_code == 200 and labelled.json()["outcome"] == "confirmed_fraud"
    assert world.http.get("/v1/risk/review-queue", headers=bearer(analyst)).json()["decisions"] == []
    assert world.http.get(path, headers=bearer(analyst)).json()["decision_id"] == decision["decision_id"]
    assert world.http.get("/v1/risk/decisions/rd-" + "0" * 32, headers=bearer(analyst)).status_code == 404

    assert world.http.delete(f"/v1/risk/overrides/{payee}", headers=bearer(analyst)).status_code == 204
    assert _pay(world, 150, "k2") is OrderStatus.STEP_UP  # unblocked: only the new-payee passkey remains


def test_open_banking_payments_pass_the_risk_engine_too(world: World) -> None:
    analyst = ob.staff_session(world.bank, roles=(Role.RISK_ANALYST,), name="Risk")
    payee = f"account:{world.bob.account_ids[0]}"
    body = {"kind": "block", "reason": "reported mule account"}
    assert (
        world.http.put(f"/v1/risk/overrides/{payee}", json=body, headers=bearer(analyst)).status_code == 200
    )
    payment = ob.domestic_payment(
        world.http, world.tpp_a, world.alice, world.token_url, debtor_account_id=world.alice.account_ids[0],
        payment=ob.initiation("3.00", "GBP", world.bob.ibans[0], reference="rent"),
    )  # fmt: skip
    assert payment["Data"]["Status"] == "RJCT"
    queue = world.http.get("/v1/risk/review-queue", headers=bearer(analyst)).json()["decisions"]
    assert queue[0]["order_id"] == payment["Data"]["DomesticPaymentId"]
    assert queue[0]["reasons"][0]["code"] == "override_block"
    assert world.http.delete(f"/v1/risk/overrides/{payee}", headers=bearer(analyst)).status_code == 204
    again = ob.domestic_payment(
        world.http, world.tpp_a, world.alice, world.token_url, debtor_account_id=world.alice.account_ids[0],
        payment=ob.initiation("3.00", "GBP", world.bob.ibans[0], reference="rent"),
    )  # fmt: skip
    assert again["Data"]["Status"] == "ACSC"
