"""Domestic VRP consents over device mandates, through the HTTP API, on both stores.

A TPP creates a consent carrying an EV charger's Ed25519 key, Alice
authorises it over her account, and the charger pays Bob within the
consent's limits. Each exchange under ``/open-banking`` is checked against
the official VRP file (``vrp-openapi.yaml``) with the conformance harness;
where ``../shared/`` is absent those checks skip with the harness's reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from netfin.core.clock import NS_PER_SECOND
from netfin.identity.model import Actor
from netfin.payments.mandates import MandateStatus
from netfin.sim import openbanking as ob
from netfin.sim import vrp
from netfin.sim.device import SoftwareDevice

from .. import obspec
from .conftest import World

VRP_SPEC = "vrp"
PISP = vrp.PISP
# (method, the file's path template, status) -> why netfin answers a status the file omits.
DEVIATIONS = {
    ("GET", "/domestic-vrp-consents/{ConsentId}", 404): "one answer whether the id exists or is another's",
    ("DELETE", "/domestic-vrp-consents/{ConsentId}", 404): "one answer whether the id exists or is another's",
    ("POST", "/domestic-vrps", 404): "a ConsentId the token is not bound to reads as not found",
    ("GET", "/domestic-vrps/{DomesticVRPId}", 404): "one answer whether the id exists or is another's",
}


@pytest.fixture
def vrp_world(world: World) -> Iterator[World]:
    """The world (VRP routes are part of the app; the harness loads the VRP file)."""
    yield world


def _checked(response: Any, *, check_request: bool = True) -> Any:
    """Validate the exchange against the VRP file (skip where it is absent), then return it."""
    if not (obspec.SPEC_DIR / f"{VRP_SPEC}-openapi.yaml").is_file():
        return response
    request = response.request
    template = obspec.operation_template(VRP_SPEC, request.method, request.url.path)
    undeclared = (request.method, template, response.status_code) in DEVIATIONS
    obspec.validate_exchange(VRP_SPEC, response, check_request=check_request, undeclared_status=undeclared)
    return response


def _iso(world: World, days: int) -> str:
    moment = datetime.fromtimestamp(world.clock.now_ns() // NS_PER_SECOND, tz=UTC) + timedelta(days=days)
    return moment.isoformat().replace("+00:00", "Z")


def _controls(world: World, device: SoftwareDevice, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "currency": "GBP", "max_individual": "20.00",
        "periodic_limits": [("Day", "Calendar", "30.00"), ("Month", "Consent", "60.00")],
        "valid_to": _iso(world, 30),
    }  # fmt: skip
    values.update(changes)
    return vrp.control_parameters(device, **values)


def _set_up(world: World, device: SoftwareDevice) -> vrp.VrpSetup:
    return vrp.set_up(
        world.http, world.tpp_a, world.alice, world.token_url, device=device,
        account_id=world.alice.account_ids[0], creditor_iban=world.bob.ibans[0],
        controls=_controls(world, device),
    )  # fmt: skip


def _pay(world: World, setup: vrp.VrpSetup, device: SoftwareDevice, amount: str, **kwargs: Any) -> Any:
    key = kwargs.pop("idempotency_key", None)
    signed_instruction = vrp.instruction(device, amount, "GBP", world.bob.ibans[0], **kwargs)
    document = vrp.payment_document(setup.consent_id, setup.initiation, signed_instruction)
    return _checked(vrp.submit_payment(world.http, world.tpp_a, setup.token, document, idempotency_key=key))


def _balance(world: World, account_id: str) -> int:
    account = world.bank.identity.get_account(account_id)
    [found] = world.bank.ledger.lookup_accounts([account.ledger_account_id])
    return int(found.credits_posted - found.debits_posted)


def _ob_error(response: Any) -> tuple[str, str]:
    [error] = response.json()["Errors"]
    return error["ErrorCode"], error["Message"]


def test_consent_authorised_then_a_device_payment_settles(vrp_world: World) -> None:
    world, device = vrp_world, SoftwareDevice("charger-1")
    setup = _set_up(world, device)
    consent = setup.consent["Data"]
    assert consent["Status"] == "AUTH"
    assert consent["DebtorAccount"]["Identification"] == world.alice.ibans[0]
    assert world.bank.mandates.get(setup.mandate_id).client_id == world.tpp_a.client_id
    bob_before = _balance(world, world.bob.account_ids[0])

    paid = _pay(world, setup, device, "12.50")

    assert paid.status_code == 201, paid.text
    body = paid.json()["Data"]
    assert body["Status"] == "ACSC" and body["ConsentId"] == setup.consent_id
    assert body["Instruction"]["InstructedAmount"] == {"Amount": "12.50", "Currency": "GBP"}
    assert _balance(world, world.bob.account_ids[0]) - bob_before == 1250
    read = _checked(world.http.get(f"{PISP}/domestic-vrps/{body['DomesticVRPId']}",
                                   headers=ob.bearer(setup.token)))  # fmt: skip
    assert read.status_code == 200 and read.json()["Data"]["Status"] == "ACSC"
    fetched = _checked(world.http.get(f"{PISP}/domestic-vrp-consents/{setup.consent_id}",
                                      headers=ob.bearer(setup.token)))  # fmt: skip
    assert fetched.json()["Data"]["Status"] == "AUTH"


def test_the_create_and_read_exchanges_conform(vrp_world: World) -> None:
    world, device = vrp_world, SoftwareDevice("meter-1")
    grant = world.tpp_a.client_credentials(world.http, world.token_url, "payments")
    document = vrp.consent_document(_controls(world, device), world.bob.ibans[0])
    created = _checked(vrp.create_consent(world.http, world.tpp_a, grant, document))
    assert created.status_code == 201, created.text
    data = created.json()["Data"]
    assert data["Status"] == "AWAU" and "DebtorAccount" not in data
    read = _checked(world.http.get(f"{PISP}/domestic-vrp-consents/{data['ConsentId']}",
                                   headers=ob.bearer(grant)))  # fmt: skip
    assert read.json()["Data"]["ControlParameters"] == data["ControlParameters"]


def test_over_the_caps_refused_with_the_mandate_code(vrp_world: World) -> None:
    world, device = vrp_world, SoftwareDevice("charger-2")
    setup = _set_up(world, device)

    over_individual = _pay(world, setup, device, "20.01")
    assert over_individual.status_code == 400
    assert _ob_error(over_individual)[0] == "AM14"
    assert _ob_error(over_individual)[1].startswith("mandate_individual_limit_exceeded:")

    assert _pay(world, setup, device, "20.00").status_code == 201
    over_day = _pay(world, setup, device, "10.01")
    assert over_day.status_code == 400
    assert _ob_error(over_day)[1].startswith("mandate_periodic_limit_exceeded:")
    assert _pay(world, setup, device, "10.00").status_code == 201  # exactly the day's cap


def test_a_replayed_counter_and_a_bad_signature_are_refused(vrp_world: World) -> None:
    world, device = vrp_world, SoftwareDevice("charger-3")
    setup = _set_up(world, device)
    assert _pay(world, setup, device, "1.00").status_code == 201
    replayed = _pay(world, setup, device, "1.00", counter=device.counter)
    assert replayed.status_code == 409
    code, message = _ob_error(replayed)
    assert code == "DU03" and message.startswith("device_counter_replayed:")
    forged = _pay(world, setup, device, "1.00", corrupt_signature=True)
    assert forged.status_code == 400 and forged.json()["code"] == "device_signature_invalid"


def test_a_deleted_consent_revokes_its_mandate_and_pays_nothing(vrp_world: World) -> None:
    world, device = vrp_world, SoftwareDevice("charger-4")
    setup = _set_up(world, device)
    url = f"{PISP}/domestic-vrp-consents/{setup.consent_id}"
    deleted = _checked(world.http.delete(url, headers=ob.bearer(setup.token)))
    assert deleted.status_code == 204
    assert world.bank.mandates.get(setup.mandate_id).status is MandateStatus.REVOKED
    assert _checked(world.http.get(url, headers=ob.bearer(setup.token))).json()["Data"]["Status"] == "CANC"

    refused = _pay(world, setup, device, "1.00")
    assert refused.status_code == 403 and refused.json()["code"] == "consent_revoked"
    assert _ob_error(refused)[0] == "AG01"


def test_a_mandate_revoked_by_the_customer_shows_on_the_consent(vrp_world: World) -> None:
    world, device = vrp_world, SoftwareDevice("charger-5")
    setup = _set_up(world, device)
    party_id = int(world.alice.party_id, 16)
    world.bank.mandates.revoke(Actor("customer", world.alice.party_id), party_id, setup.mandate_id)
    url = f"{PISP}/domestic-vrp-consents/{setup.consent_id}"
    assert world.http.get(url, headers=ob.bearer(setup.token)).json()["Data"]["Status"] == "CANC"
    assert _pay(world, setup, device, "1.00").status_code == 403


def test_another_tpp_can_neither_read_nor_use_the_consent(vrp_world: World) -> None:
    world, device = vrp_world, SoftwareDevice("charger-6")
    setup = _set_up(world, device)
    paid = _pay(world, setup, device, "2.00")
    other = world.tpp_b.client_credentials(world.http, world.token_url, "payments")
    url = f"{PISP}/domestic-vrp-consents/{setup.consent_id}"

    assert _checked(world.http.get(url, headers=ob.bearer(other))).status_code == 404
    assert _checked(world.http.delete(url, headers=ob.bearer(other))).status_code == 404
    payment_url = f"{PISP}/domestic-vrps/{paid.json()['Data']['DomesticVRPId']}"
    assert _checked(world.http.get(payment_url, headers=ob.bearer(other))).status_code == 404
    signed_instruction = vrp.instruction(device, "1.00", "GBP", world.bob.ibans[0])
    document = vrp.payment_document(setup.consent_id, setup.initiation, signed_instruction)
    stolen = _checked(vrp.submit_payment(world.http, world.tpp_b, other, document))
    assert stolen.status_code == 404 and stolen.json()["code"] == "consent_not_found"
    assert world.bank.mandates.get(setup.mandate_id).status is MandateStatus.AUTHORISED


def test_posts_are_idempotent(vrp_world: World) -> None:
    world, device = vrp_world, SoftwareDevice("charger-7")
    grant = world.tpp_a.client_credentials(world.http, world.token_url, "payments")
    document = vrp.consent_document(_controls(world, device), world.bob.ibans[0])
    key = uuid.uuid4().hex
    first = vrp.create_consent(world.http, world.tpp_a, grant, document, idempotency_key=key)
    again = vrp.create_consent(world.http, world.tpp_a, grant, document, idempotency_key=key)
    assert first.status_code == again.status_code == 201
    assert first.json()["Data"]["ConsentId"] == again.json()["Data"]["ConsentId"]
    changed = vrp.consent_document(_controls(world, device, max_individual="5.00"), world.bob.ibans[0])
    reused = vrp.create_consent(world.http, world.tpp_a, grant, changed, idempotency_key=key)
    assert reused.status_code == 409

    setup = _set_up(world, device)
    signed_instruction = vrp.instruction(device, "3.00", "GBP", world.bob.ibans[0])
    payment = vrp.payment_document(setup.consent_id, setup.initiation, signed_instruction)
    key = uuid.uuid4().hex
    once = vrp.submit_payment(world.http, world.tpp_a, setup.token, payment, idempotency_key=key)
    twice = vrp.submit_payment(world.http, world.tpp_a, setup.token, payment, idempotency_key=key)
    assert once.status_code == twice.status_code == 201
    assert once.json()["Data"]["DomesticVRPId"] == twice.json()["Data"]["DomesticVRPId"]
    assert len(world.bank.mandates.payments_for_party(int(world.alice.party_id, 16), setup.mandate_id)) == 1


def test_the_consent_post_needs_a_key_and_the_device_key(vrp_world: World) -> None:
    world, device = vrp_world, SoftwareDevice("charger-8")
    grant = world.tpp_a.client_credentials(world.http, world.token_url, "payments")
    controls = _controls(world, device)
    controls["SupplementaryData"] = {}
    keyless = vrp.create_consent(
        world.http, world.tpp_a, grant, vrp.consent_document(controls, world.bob.ibans[0])
    )
    assert keyless.status_code == 400 and keyless.json()["code"] == "device_public_key_invalid"
    document = vrp.consent_document(_controls(world, device), world.bob.ibans[0])
    unkeyed = world.http.post(
        f"{PISP}/domestic-vrp-consents", **ob.signed(world.tpp_a, document, **ob.bearer(grant))
    )
    assert unkeyed.status_code == 400 and unkeyed.json()["code"] == "idempotency_key_required"


def test_a_rejected_or_unauthorised_consent_pays_nothing(vrp_world: World) -> None:
    world, device = vrp_world, SoftwareDevice("charger-9")
    grant = world.tpp_a.client_credentials(world.http, world.token_url, "payments")
    document = vrp.consent_document(_controls(world, device), world.bob.ibans[0])
    consent_id = vrp.create_consent(world.http, world.tpp_a, grant, document).json()["Data"]["ConsentId"]
    headers = ob.bearer(world.alice.session)
    rejected = world.http.post(f"/v1/me/vrp-consents/{consent_id}/reject", headers=headers)
    assert rejected.status_code == 200 and rejected.json()["status"] == "RJCT"
    url = f"{PISP}/domestic-vrp-consents/{consent_id}"
    assert world.http.get(url, headers=ob.bearer(grant)).json()["Data"]["Status"] == "RJCT"
    again = world.http.post(f"/v1/me/vrp-consents/{consent_id}/authorise/options", headers=headers)
    assert again.status_code == 200  # the challenge is issued; the approval itself is refused
    with pytest.raises(ob.StepFailed, match="consent_not_awaiting_authorisation"):
        vrp.authorise(world.http, world.alice, consent_id, world.alice.account_ids[0])
    assert world.bank.mandates.list_for_party(int(world.alice.party_id, 16)) == []
