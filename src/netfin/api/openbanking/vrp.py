"""UK Open Banking v4.0 domestic variable recurring payments, over device mandates.

TPP resources (scope ``payments``, under ``/open-banking/v4.0/pisp``):

- ``POST /domestic-vrp-consents``: create a consent (``AWAU``);
- ``GET``/``DELETE /domestic-vrp-consents/{ConsentId}``: read it; withdraw it
  (``CANC``, and its mandate revoked);
- ``POST /domestic-vrps``: a device-signed payment under the consent the
  access token is bound to; ``GET /domestic-vrps/{DomesticVRPId}``.

The customer's side (a signed-in customer, under ``/v1``), the same
authorisation-code journey as the other consents: ``GET /me/vrp-consents/{id}``
to review, ``POST .../authorise/options`` for a passkey challenge, ``POST
.../authorise`` with a fresh assertion and the chosen ``account_id`` (the
consent becomes a device mandate; the answer holds the authorization code
for the TPP's redirect), ``POST .../reject``.

Both POSTs of the TPP require ``x-jws-signature`` and ``x-idempotency-key``,
as the VRP file declares. netfin's members in ``SupplementaryData`` and what
the device signs are described in ``netfin.openbanking.vrp``. A refusal of
the device's request keeps its code (``device_counter_replayed``,
``mandate_periodic_limit_exceeded``, ...) at the head of the OB error
``Message``, with the ISO 20022 reason in ``ErrorCode`` (``VRP_REASONS``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from netfin.api.deps import BankDep, Customer, PisAccess, Principal, bank_of, interaction_id
from netfin.api.openbanking import vrp_schemas as vs
from netfin.api.openbanking.routes import (
    BASE,
    IdempotencyHeader,
    IdempotencyKeyHeader,
    IdText,
    JwsSignatureHeader,
    _check_signature,
    _document,
    _idempotent,
    _key,
)
from netfin.api.v1 import render as v1
from netfin.core.clock import iso_from_ns
from netfin.core.errors import Forbidden, InvalidInput, NetfinError, Unauthenticated
from netfin.core.ids import format_id
from netfin.identity.model import Actor
from netfin.openbanking import vrp as service
from netfin.payments import parse_amount
from netfin.payments.orders import OrderStatus
from netfin.storage.idempotency import StoredResponse, fingerprint

T = TypeVar("T")
IBAN_SCHEME = "UK.OBIE.IBAN"
SIGNATURE_BYTES = 64
# A mandate's refusal of a device request, as the ISO 20022 reason an OB client reads in ErrorCode.
VRP_REASONS = {
    "mandate_individual_limit_exceeded": "AM14",  # AmountExceedsAgreedLimit
    "mandate_periodic_limit_exceeded": "AM14",
    "mandate_currency_mismatch": "AM03",  # NotAllowedCurrency
    "mandate_revoked": "AG01",  # TransactionForbidden
    "mandate_expired": "AG01",
    "mandate_not_yet_valid": "AG01",
    "device_counter_replayed": "DU03",  # DuplicateTransaction
    "device_counter_invalid": "NARR",
    "device_signature_invalid": "NARR",
}
_PAYMENT_STATUS = {
    OrderStatus.CREATED: "PDNG",
    OrderStatus.SCREENED: "PDNG",
    OrderStatus.STEP_UP: "PDNG",
    OrderStatus.AUTHORISED: "ACSP",
    OrderStatus.SETTLED: "ACSC",
    OrderStatus.RETURNED: "ACSC",
    OrderStatus.REJECTED: "RJCT",
    OrderStatus.EXPIRED: "RJCT",
}

pis_vrp = APIRouter(prefix=BASE + "/pisp", tags=["open banking: variable recurring payments"])
me_vrp = APIRouter(prefix="/v1", tags=["customers"])


def routers() -> list[APIRouter]:
    return [pis_vrp, me_vrp]


def vrps_of(request: Request) -> service.DomesticVrps:
    """The bank's VRP use cases: stateless, over the bank's engine, mandates and audit."""
    bank = bank_of(request)
    return service.DomesticVrps(
        bank.engine, mandates=bank.mandates, orders=bank.orders, identity=bank.identity,
        openbanking=bank.openbanking, audit=bank.audit, clock=bank.clock, ids=bank.ids,
    )  # fmt: skip


VrpsDep = Annotated[service.DomesticVrps, Depends(vrps_of)]
ConsentPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]


# --- rendering ----------------------------------------------------------------------


def _json(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


def _debtor(vrps: service.DomesticVrps, consent: service.VrpConsent) -> dict[str, str] | None:
    found = vrps.debtor_account(consent)
    if found is None:
        return None
    account, name = found
    return {"SchemeName": IBAN_SCHEME, "Identification": account.iban, "Name": name[:70]}


def _consent_data(vrps: service.DomesticVrps, consent: service.VrpConsent) -> dict[str, Any]:
    controls = dict(consent.control_parameters)
    if consent.mandate_id is not None:
        supplementary = dict(controls.get("SupplementaryData") or {})
        supplementary[service.MANDATE_ID_MEMBER] = consent.mandate_id
        controls["SupplementaryData"] = supplementary
    data: dict[str, Any] = {
        "ConsentId": consent.consent_id,
        "CreationDateTime": iso_from_ns(consent.created_ns),
        "Status": consent.status.value,
        "StatusUpdateDateTime": iso_from_ns(consent.status_updated_ns),
        "ControlParameters": controls,
        "Initiation": consent.initiation,
    }
    debtor = _debtor(vrps, consent)
    if debtor is not None:
        data["DebtorAccount"] = debtor
    return data


def _payment_body(
    vrps: service.DomesticVrps, payment: service.VrpPayment, request: Request
) -> dict[str, Any]:
    order = payment.order
    status = _PAYMENT_STATUS[order.status]
    document = payment.document
    data: dict[str, Any] = {
        "DomesticVRPId": payment.payment_id,
        "ConsentId": payment.consent_id,
        "CreationDateTime": iso_from_ns(payment.created_ns),
        "Status": status,
        "StatusUpdateDateTime": iso_from_ns(order.updated_ns),
        "Initiation": document["Data"]["Initiation"],
        "Instruction": document["Data"]["Instruction"],
    }
    if status == "RJCT" and order.status_reason:
        reason = "AM04" if order.status_reason in ("exceeds_credits", "insufficient_funds") else "NARR"
        data["StatusReason"] = [{"StatusReasonCode": reason, "StatusReasonDescription": order.status_reason}]
    debtor = _debtor(vrps, vrps.get(payment.consent_id))
    if debtor is not None:
        data["DebtorAccount"] = debtor
    self_url = str(request.url_for("get_domestic_vrp", DomesticVRPId=payment.payment_id))
    return {"Data": data, "Risk": document["Risk"], "Links": {"Self": self_url}, "Meta": {}}


# --- the TPP's side -----------------------------------------------------------------


@pis_vrp.post("/domestic-vrp-consents", status_code=201, response_model=vs.OBDomesticVRPConsentResponse)
def create_domestic_vrp_consent(
    request: Request, body: vs.OBDomesticVRPConsentRequest, access: PisAccess, bank: BankDep,
    vrps: VrpsDep, ob_key: IdempotencyHeader = None, key: IdempotencyKeyHeader = None,
    signature: JwsSignatureHeader = None,
) -> Response:  # fmt: skip
    """Create a domestic VRP consent awaiting the customer's authorisation."""
    _check_signature(request, bank, access, signature, required=True)

    def run() -> StoredResponse:
        data = body.Data
        consent = vrps.create_consent(
            access, _json(data.ControlParameters), _json(data.Initiation), _json(body.Risk)
        )
        return _document(201, _consent_data(vrps, consent), request, Risk=consent.risk)

    return _idempotent(request, bank, access, _key(ob_key, key), body, run, required=True)


@pis_vrp.get("/domestic-vrp-consents/{ConsentId}", response_model=vs.OBDomesticVRPConsentResponse)
def get_domestic_vrp_consent(
    ConsentId: IdText, request: Request, access: PisAccess, vrps: VrpsDep
) -> Response:
    """The consent as it stands; once authorised, with its mandate id and debtor account."""
    consent = vrps.consent_for_client(access, ConsentId)
    return v1.stored(_document(200, _consent_data(vrps, consent), request, Risk=consent.risk))


@pis_vrp.delete("/domestic-vrp-consents/{ConsentId}", status_code=204)
def delete_domestic_vrp_consent(ConsentId: IdText, access: PisAccess, vrps: VrpsDep) -> Response:
    """Withdraw the consent; an authorised one's mandate is revoked with it."""
    vrps.delete_consent(access, ConsentId)
    return Response(status_code=204)


def _payment_request(body: vs.OBDomesticVRPRequest) -> service.VrpPaymentRequest:
    data = body.Data
    instruction = data.Instruction
    supplementary = instruction.SupplementaryData or {}
    counter = supplementary.get(service.DEVICE_COUNTER_MEMBER)
    if type(counter) is not int:
        raise InvalidInput(
            f"Instruction.SupplementaryData.{service.DEVICE_COUNTER_MEMBER} is a positive integer",
            code="device_counter_invalid",
        )
    signature = service.decode_base64url(
        supplementary.get(service.DEVICE_SIGNATURE_MEMBER), length=SIGNATURE_BYTES,
        code="device_signature_invalid",
        what=f"Instruction.SupplementaryData.{service.DEVICE_SIGNATURE_MEMBER}",
    )  # fmt: skip
    amount = instruction.InstructedAmount
    return service.VrpPaymentRequest(
        consent_id=data.ConsentId, initiation=_json(data.Initiation), vrp_type=data.VRPType.value,
        creditor=_json(instruction.CreditorAccount),
        amount_minor=parse_amount(amount.Amount, amount.Currency), currency=amount.Currency,
        reference=instruction.EndToEndIdentification, counter=counter, signature=signature,
        document={"Data": _json(data), "Risk": _json(body.Risk)},
    )  # fmt: skip


def _as_ob_refusal(run: Callable[[], T]) -> T:
    """Run a device request; a mandate's refusal keeps its code and gains its ISO 20022 reason.

    A bad device signature is the request's fault, not the caller's
    credentials, so it is answered 400 rather than 401.
    """
    try:
        return run()
    except NetfinError as error:
        reason = VRP_REASONS.get(error.code)
        if reason is None:
            raise
        refusal = (
            InvalidInput(error.message, code=error.code) if isinstance(error, Unauthenticated) else error
        )
        message = f"{error.code}: {error.message}"[:500]
        refusal.problem_extra = {"Errors": [{"ErrorCode": reason, "Message": message}]}  # type: ignore[attr-defined]
        if refusal is error:
            raise
        raise refusal from error


@pis_vrp.post("/domestic-vrps", status_code=201, response_model=vs.OBDomesticVRPResponse)
def create_domestic_vrp(
    request: Request, body: vs.OBDomesticVRPRequest, access: PisAccess, bank: BankDep, vrps: VrpsDep,
    ob_key: IdempotencyHeader = None, key: IdempotencyKeyHeader = None,
    signature: JwsSignatureHeader = None,
) -> Response:  # fmt: skip
    """Pay under the consent the token is bound to, as the device's signed request asks."""
    _check_signature(request, bank, access, signature, required=True)

    def run() -> StoredResponse:
        payment = _as_ob_refusal(lambda: vrps.pay(access, _payment_request(body)))
        document = _payment_body(vrps, payment, request)
        return v1.stored_json(201, document, document["Links"]["Self"])

    return _idempotent(request, bank, access, _key(ob_key, key), body, run, required=True)


@pis_vrp.get("/domestic-vrps/{DomesticVRPId}", response_model=vs.OBDomesticVRPResponse)
def get_domestic_vrp(DomesticVRPId: IdText, request: Request, access: PisAccess, vrps: VrpsDep) -> Response:
    """A payment this TPP made, with its order's status now."""
    payment = vrps.payment_for_client(access, DomesticVRPId)
    return v1.stored(v1.stored_json(200, _payment_body(vrps, payment, request)))


# --- the customer's side ------------------------------------------------------------


class VrpAuthoriseIn(BaseModel):
    """The customer's approval: the account to pay from and a fresh passkey assertion."""

    model_config = ConfigDict(extra="forbid", strict=True)
    account_id: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._:-]+$")]
    credential: dict[str, Any]


def _actor(principal: Principal) -> Actor:
    return Actor(principal.kind, format_id(principal.party_id), None, principal.interaction_id)


def _customer_view(consent: service.VrpConsent) -> dict[str, Any]:
    return {
        "consent_id": consent.consent_id,
        "client_id": consent.client_id,
        "status": consent.status.value,
        "control_parameters": consent.control_parameters,
        "initiation": consent.initiation,
        "mandate_id": consent.mandate_id,
        "debtor_account_id": consent.debtor_account_id,
    }


def _on_consent(request: Request, bank: BankDep, principal: Principal, action: str, consent_id: str,
                run: Callable[[], T]) -> T:  # fmt: skip
    """Run a customer's consent step; a refusal (a probe of someone else's id) is audited."""
    try:
        return run()
    except NetfinError as error:
        bank.audit.record(
            actor_kind="customer", actor_id=format_id(principal.party_id), action=action,
            outcome="refused", subject_kind="consent", subject_id=consent_id[:128],
            consent_id=consent_id[:128], interaction_id=interaction_id(request), reason=error.code,
        )  # fmt: skip
        raise


def _customer_idempotent(request: Request, bank: BankDep, principal: Principal, key: str | None,
                         payload: object, run: Callable[[], StoredResponse]) -> Response:  # fmt: skip
    print_ = fingerprint(request.method, request.url.path, payload)
    return v1.stored(bank.idempotency.run("party:" + format_id(principal.party_id), key, print_, run))


@me_vrp.get("/me/vrp-consents/{consent_id}")
def my_vrp_consent(
    request: Request, consent_id: ConsentPath, principal: Customer, bank: BankDep, vrps: VrpsDep
) -> Response:
    """What the customer is asked to authorise (or has authorised)."""
    consent = _on_consent(request, bank, principal, "vrp.consent.read", consent_id,
                          lambda: vrps.consent_for_party(principal.party_id, consent_id))  # fmt: skip
    return v1.json_response(200, _customer_view(consent))


@me_vrp.post("/me/vrp-consents/{consent_id}/authorise/options")
def vrp_authorise_options(
    request: Request, consent_id: ConsentPath, principal: Customer, bank: BankDep, vrps: VrpsDep,
    key: IdempotencyKeyHeader = None,
) -> Response:  # fmt: skip
    """A passkey challenge for authorising this consent (the step-up)."""

    def run() -> StoredResponse:
        _on_consent(request, bank, principal, "vrp.consent.authorise.options", consent_id,
                    lambda: vrps.consent_for_party(principal.party_id, consent_id))  # fmt: skip
        return v1.stored_json(200, bank.credentials.begin_authentication(principal.party_id))

    return _customer_idempotent(request, bank, principal, key, None, run)


@me_vrp.post("/me/vrp-consents/{consent_id}/authorise")
def vrp_authorise(
    request: Request, consent_id: ConsentPath, body: VrpAuthoriseIn, principal: Customer, bank: BankDep,
    vrps: VrpsDep, key: IdempotencyKeyHeader = None,
) -> Response:  # fmt: skip
    """Authorise with a fresh passkey assertion; returns the code for the TPP's redirect."""

    def approve() -> StoredResponse:
        result = bank.credentials.finish_authentication(body.credential)
        if result.party_id != principal.party_id:
            raise Forbidden("the passkey belongs to someone else", code="passkey_party_mismatch")
        consent = vrps.authorise(_actor(principal), principal.party_id, consent_id, body.account_id)
        client = bank.oauth.get_client(consent.client_id)
        redirect_uri = client.redirect_uris[0] if client.redirect_uris else None
        code = bank.oauth.issue_authorization_code(
            client_id=consent.client_id, consent_id=consent.consent_id, party_id=principal.party_id,
            redirect_uri=redirect_uri or "", scope="payments",
        )  # fmt: skip
        return v1.stored_json(200, {
            "consent": _customer_view(consent), "authorization_code": code, "redirect_uri": redirect_uri,
        })  # fmt: skip

    def run() -> StoredResponse:
        return _on_consent(request, bank, principal, "vrp.consent.authorise", consent_id, approve)

    return _customer_idempotent(request, bank, principal, key, body.model_dump(mode="json"), run)


@me_vrp.post("/me/vrp-consents/{consent_id}/reject")
def vrp_reject(
    request: Request, consent_id: ConsentPath, principal: Customer, bank: BankDep, vrps: VrpsDep,
    key: IdempotencyKeyHeader = None,
) -> Response:  # fmt: skip
    """Decline the consent: ``RJCT``, and no mandate is made."""

    def run() -> StoredResponse:
        consent = _on_consent(
            request, bank, principal, "vrp.consent.reject", consent_id,
            lambda: vrps.reject(_actor(principal), principal.party_id, consent_id),
        )  # fmt: skip
        return v1.stored_json(200, _customer_view(consent))

    return _customer_idempotent(request, bank, principal, key, None, run)
