"""Domestic VRP journeys over the HTTP API: a TPP, a customer and a paying device.

The TPP creates a domestic VRP consent carrying the device's public key, the
customer authorises it over one of their accounts (a passkey step-up, then
the authorization code for the TPP), the TPP reads the consent back to learn
the mandate id the device signs over, and each payment goes out with the
device's counter and signature in ``Instruction.SupplementaryData`` (see
``netfin.openbanking.vrp``). Any client with httpx's ``get``/``post``/``delete``
works (``fastapi.testclient.TestClient`` in-process, or ``httpx.Client``).

Public names: ``VrpSetup``, ``control_parameters``, ``consent_document``,
``create_consent``, ``authorise``, ``consent_token``, ``instruction``,
``payment_document``, ``submit_payment``, ``set_up``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netfin.openbanking.vrp import (
    DEVICE_COUNTER_MEMBER,
    DEVICE_PUBLIC_KEY_MEMBER,
    DEVICE_SIGNATURE_MEMBER,
    MANDATE_ID_MEMBER,
    encode_base64url,
)
from netfin.payments import parse_amount
from netfin.sim.device import SoftwareDevice
from netfin.sim.openbanking import OB, Customer, Http, bearer, expect, signed
from netfin.sim.tpp import SoftwareTpp

PISP = f"{OB}/pisp"
SWEEPING = "UK.OBIE.VRPType.Sweeping"
SCA_NOT_REQUIRED = "UK.OBIE.SCANotRequired"


def control_parameters(
    device: SoftwareDevice, *, currency: str, max_individual: str,
    periodic_limits: Sequence[tuple[str, str, str]], valid_to: str, valid_from: str | None = None,
    vrp_types: Sequence[str] = (SWEEPING,),
) -> dict[str, Any]:  # fmt: skip
    """``OBDomesticVRPControlParameters`` with the device's key; limits are (type, alignment, amount)."""
    document: dict[str, Any] = {
        "ValidToDateTime": valid_to,
        "MaximumIndividualAmount": {"Amount": max_individual, "Currency": currency},
        "PeriodicLimits": [
            {"PeriodType": kind, "PeriodAlignment": alignment, "Amount": amount, "Currency": currency}
            for kind, alignment, amount in periodic_limits
        ],
        "VRPType": list(vrp_types),
        "PSUAuthenticationMethods": [SCA_NOT_REQUIRED],
        "SupplementaryData": {DEVICE_PUBLIC_KEY_MEMBER: encode_base64url(device.public_key)},
    }
    if valid_from is not None:
        document["ValidFromDateTime"] = valid_from
    return document


def creditor(iban: str, name: str = "Payee") -> dict[str, str]:
    return {"SchemeName": "UK.OBIE.IBAN", "Identification": iban, "Name": name}


def consent_document(controls: dict[str, Any], creditor_iban: str) -> dict[str, Any]:
    """An ``OBDomesticVRPConsentRequest`` paying ``creditor_iban``."""
    initiation = {"CreditorAccount": creditor(creditor_iban)}
    return {"Data": {"ControlParameters": controls, "Initiation": initiation}, "Risk": {}}


def create_consent(
    http: Http, tpp: SoftwareTpp, grant: str, document: dict[str, Any], *, idempotency_key: str | None = None
) -> Any:
    """``POST /domestic-vrp-consents``, signed; returns the raw response."""
    headers = bearer(grant, **{"x-idempotency-key": idempotency_key or uuid.uuid4().hex})
    return http.post(f"{PISP}/domestic-vrp-consents", **signed(tpp, document, **headers))


def authorise(http: Http, customer: Customer, consent_id: str, account_id: str) -> dict[str, Any]:
    """The customer approves the consent over ``account_id`` with a fresh passkey assertion."""
    headers = bearer(customer.session)
    base = f"/v1/me/vrp-consents/{consent_id}/authorise"
    options = expect(http.post(f"{base}/options", headers=headers), 200)
    body = {"account_id": account_id, "credential": customer.authenticator.get(options)}
    return expect(http.post(base, json=body, headers=headers), 200)  # type: ignore[no-any-return]


def consent_token(http: Http, tpp: SoftwareTpp, token_url: str, approval: dict[str, Any]) -> str:
    return tpp.exchange_code(http, token_url, approval["authorization_code"], approval["redirect_uri"])


def instruction(
    device: SoftwareDevice, amount: str, currency: str, creditor_iban: str, *, counter: int | None = None,
    corrupt_signature: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """``OBDomesticVRPInstruction`` signed by the device (the reference signed is EndToEndIdentification)."""
    end_to_end = uuid.uuid4().hex[:35]
    request = device.request(
        parse_amount(amount, currency), currency, end_to_end, counter=counter,
        corrupt_signature=corrupt_signature,
    )  # fmt: skip
    return {
        "InstructionIdentification": uuid.uuid4().hex[:35],
        "EndToEndIdentification": end_to_end,
        "InstructedAmount": {"Amount": amount, "Currency": currency},
        "CreditorAccount": creditor(creditor_iban),
        "SupplementaryData": {
            DEVICE_COUNTER_MEMBER: request.counter,
            DEVICE_SIGNATURE_MEMBER: encode_base64url(request.signature),
        },
    }


def payment_document(
    consent_id: str, initiation: dict[str, Any], signed_instruction: dict[str, Any], *,
    vrp_type: str = SWEEPING,
) -> dict[str, Any]:  # fmt: skip
    """An ``OBDomesticVRPRequest``; ``initiation`` must repeat the consent's."""
    data = {
        "ConsentId": consent_id,
        "PSUAuthenticationMethod": SCA_NOT_REQUIRED,
        "VRPType": vrp_type,
        "Initiation": initiation,
        "Instruction": signed_instruction,
    }
    return {"Data": data, "Risk": {}}


def submit_payment(
    http: Http, tpp: SoftwareTpp, token: str, document: dict[str, Any], *, idempotency_key: str | None = None
) -> Any:
    """``POST /domestic-vrps``, signed; returns the raw response."""
    headers = bearer(token, **{"x-idempotency-key": idempotency_key or uuid.uuid4().hex})
    return http.post(f"{PISP}/domestic-vrps", **signed(tpp, document, **headers))


@dataclass
class VrpSetup:
    consent_id: str
    token: str
    mandate_id: str
    initiation: dict[str, Any]
    consent: dict[str, Any]


def set_up(
    http: Http, tpp: SoftwareTpp, customer: Customer, token_url: str, *, device: SoftwareDevice,
    account_id: str, creditor_iban: str, controls: dict[str, Any],
) -> VrpSetup:  # fmt: skip
    """The whole dance: consent, customer authorisation, code exchange, the device bound to its mandate."""
    grant = tpp.client_credentials(http, token_url, "payments")
    document = consent_document(controls, creditor_iban)
    created = expect(create_consent(http, tpp, grant, document), 201)
    consent_id = created["Data"]["ConsentId"]
    token = consent_token(http, tpp, token_url, authorise(http, customer, consent_id, account_id))
    consent = expect(http.get(f"{PISP}/domestic-vrp-consents/{consent_id}", headers=bearer(token)), 200)
    mandate_id = consent["Data"]["ControlParameters"]["SupplementaryData"][MANDATE_ID_MEMBER]
    device.bind(mandate_id)
    return VrpSetup(consent_id, token, mandate_id, document["Data"]["Initiation"], consent)


__all__ = [
    "VrpSetup",
    "authorise",
    "consent_document",
    "consent_token",
    "control_parameters",
    "create_consent",
    "creditor",
    "instruction",
    "payment_document",
    "set_up",
    "submit_payment",
]
