"""UK Open Banking v4.0 resources: AIS, PIS, CBPII and event subscriptions.

Thin: each route turns the document into a service call and the result into
the v4.0 response shape. Consent checks, auditing and refusals live in
``netfin.openbanking.service``; error documents in ``netfin.api.errors``.

Request signatures (``x-jws-signature``, see ``netfin.api.openbanking.jws``):
the v4.0 files mark the header required on the payment-initiation POSTs and
on the event-subscriptions POST and PUT, so those refuse a request without
one (400 ``jws_signature_missing``). On the other POSTs the header is
optional, and checked when sent. A signature that does not verify against
the caller's registered JWKS over the exact body bytes is refused (400
``jws_signature_invalid``). Every refusal is audited as ``auth.jws_signature``.
Response signatures are added by ``netfin.api.middleware``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from starlette.responses import Response

from netfin.api.deps import AisAccess, BankDep, CbpiiAccess, EventsAccess, PisAccess
from netfin.api.middleware import raw_body
from netfin.api.openbanking import jws, render, schemas
from netfin.api.v1 import render as v1
from netfin.audit.model import SUBJECT_ID_LENGTH_MAX
from netfin.core.clock import NS_PER_SECOND, ns_from_datetime
from netfin.core.errors import InvalidInput, NetfinError, NotFound
from netfin.core.ids import format_id
from netfin.identity.consents import ConsentKind
from netfin.identity.service import answer_after_audit
from netfin.openbanking.service import TppAccess
from netfin.payments import CreditorAccount, DomesticInitiation, DomesticPayment, parse_amount
from netfin.storage.idempotency import RidingCompletion, StoredResponse, fingerprint

if TYPE_CHECKING:
    from netfin.bank import Bank

BASE = "/open-banking/v4.0"
TRANSACTIONS_PAGE_SIZE_MAX = 500
ID_LENGTH_MAX = 128
ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
IdText = Annotated[str, Path(min_length=1, max_length=ID_LENGTH_MAX, pattern=ID_PATTERN)]
IDEMPOTENCY_KEY_LENGTH_MAX = 40
IDEMPOTENCY_KEY_PATTERN = r"^\S(?:.*\S)?$"
IdempotencyHeader = Annotated[
    str | None,
    Header(alias="x-idempotency-key", max_length=IDEMPOTENCY_KEY_LENGTH_MAX, pattern=IDEMPOTENCY_KEY_PATTERN),
]
IdempotencyKeyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=IDEMPOTENCY_KEY_LENGTH_MAX)
]
BOOKING_DATETIME_LENGTH_MAX = 40
BookingDateTime = Annotated[str | None, Query(max_length=BOOKING_DATETIME_LENGTH_MAX)]
JwsSignatureHeader = Annotated[
    str | None,
    Header(
        alias=jws.SIGNATURE_HEADER,
        description="A detached JWS (RFC 7515 Appendix F) over the body, made with a key of the TPP's JWKS.",
    ),
]

ais = APIRouter(prefix=BASE + "/aisp", tags=["open banking: accounts"])
pis = APIRouter(prefix=BASE + "/pisp", tags=["open banking: payments"])
cbpii = APIRouter(prefix=BASE + "/cbpii", tags=["open banking: funds confirmation"])
events = APIRouter(prefix=BASE, tags=["open banking: events"])


def routers() -> list[APIRouter]:
    return [ais, pis, cbpii, events]


def _ns(moment: datetime | None) -> int | None:
    return None if moment is None else ns_from_datetime(moment)


def _booking_ns(text: str | None) -> int | None:
    """A booking date-time filter as the v4.0 file defines it: UTC, ISO 8601.

    The file says the time component is optional (a bare date means
    00:00:00) and that a time zone in the value must be ignored, so the
    wall-clock reading is taken as UTC whatever offset follows it.
    """
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            "booking date-times must be ISO 8601 (YYYY-MM-DD or YYYY-MM-DDThh:mm:ss)",
            code="booking_datetime_invalid",
        ) from None
    return ns_from_datetime(moment.replace(tzinfo=UTC))


def _document(status: int, data: Any, request: Request, **extra: Any) -> StoredResponse:
    body = {"Data": data, **extra, "Links": render.links(request), "Meta": {}}
    return v1.stored_json(status, body)


def _idempotent(
    request: Request,
    bank: BankDep,
    access: TppAccess,
    key: str | None,
    payload: schemas.OBModel,
    run: Callable[[], StoredResponse],
    *,
    required: bool = False,
) -> Response:
    if key is None and required:
        raise InvalidInput("x-idempotency-key is required on this request", code="idempotency_key_required")
    print_ = fingerprint(request.method, request.url.path, payload.model_dump(mode="json", exclude_none=True))
    return v1.stored(bank.idempotency.run("tpp:" + access.client_id, key, print_, run))


class _AnswerWithOutcome:
    """A payment's idempotency completion as the ``FinalWrite`` of its last statement: the
    answer, built from the finished order, commits with the outcome (PostgreSQL)."""

    def __init__(self, bank: Bank, answer: Callable[[DomesticPayment], StoredResponse]) -> None:
        self._bank = bank
        self._answer = answer
        self._riding: RidingCompletion | None = None
        self.answered: StoredResponse | None = None  # set once stored with the outcome

    def statement(self, done: DomesticPayment) -> tuple[str, dict[str, Any]] | None:
        self._riding = self._bank.idempotency.riding_completion(lambda: self._answer(done))
        return None if self._riding is None else (self._riding.sql, self._riding.params)

    def committed(self) -> None:
        if self._riding is not None:
            self._riding.committed()
            self.answered = self._riding.response


def _key(ob_key: str | None, plain_key: str | None) -> str | None:
    return ob_key if ob_key is not None else plain_key


def _check_signature(
    request: Request, bank: BankDep, access: TppAccess, signature: str | None, *, required: bool
) -> None:
    """Verify the caller's ``x-jws-signature`` over the raw body; audit and raise a refusal."""
    try:
        if signature is None:
            if required:
                raise jws.JwsSignatureMissing(f"{jws.SIGNATURE_HEADER} is required on this request")
            return
        key_set = bank.oauth.client_key_set(access.client_id)
        if key_set is None:
            raise jws.JwsSignatureInvalid("the client registered no public keys to verify a signature with")
        jws.verify_detached(
            signature, raw_body(request), key_set, client_id=access.client_id,
            now_s=bank.clock.now_ns() // NS_PER_SECOND,
        )  # fmt: skip
    except NetfinError as error:
        endpoint = f"{request.method} {request.url.path}"
        _audit_refusal(bank, access, "auth.jws_signature", ("endpoint", endpoint), error)
        raise


def _audit_refusal(
    bank: BankDep, access: TppAccess, action: str, subject: tuple[str, str], error: NetfinError
) -> None:
    """Record a refusal made here rather than inside an audited service call."""
    subject_id = subject[1][:SUBJECT_ID_LENGTH_MAX] if subject[1].isprintable() else ""
    bank.audit.record(
        actor_kind="tpp", actor_id=access.client_id, action=action, outcome="refused",
        subject_kind=subject[0], subject_id=subject_id, consent_id=access.consent_id,
        interaction_id=access.interaction_id, reason=error.code,
    )  # fmt: skip


def _require_bound_consent(bank: BankDep, access: TppAccess, consent_id: str, action: str) -> None:
    """The ConsentId in the body must be the consent the token is bound to (audited when not)."""
    if access.consent_id == consent_id:
        return
    refusal = NotFound("no such consent", code="consent_not_found")
    _audit_refusal(bank, access, action, ("consent", consent_id), refusal)
    raise refusal


# --- account information ----------------------------------------------------------


@ais.post("/account-access-consents", status_code=201, response_model=schemas.OBReadConsentResponse1)
def create_account_access_consent(
    request: Request, body: schemas.OBReadConsent1, access: AisAccess, bank: BankDep,
    ob_key: IdempotencyHeader = None, key: IdempotencyKeyHeader = None,
    signature: JwsSignatureHeader = None,
) -> Response:  # fmt: skip
    _check_signature(request, bank, access, signature, required=False)

    def run() -> StoredResponse:
        data = body.Data
        consent = bank.openbanking.audited(
            access, "ais.consent.create", ("client", access.client_id),
            lambda: bank.consents.create_account_access(
                access.actor, access.client_id, permissions=[p.value for p in data.Permissions],
                expiration_ns=_ns(data.ExpirationDateTime),
                transaction_from_ns=_ns(data.TransactionFromDateTime),
                transaction_to_ns=_ns(data.TransactionToDateTime),
            ),
        )  # fmt: skip
        return _document(201, render.account_access_consent(consent), request, Risk={})

    return _idempotent(request, bank, access, _key(ob_key, key), body, run)


@ais.get("/account-access-consents/{ConsentId}", response_model=schemas.OBReadConsentResponse1)
def get_account_access_consent(
    ConsentId: IdText, request: Request, access: AisAccess, bank: BankDep
) -> Response:
    consent = bank.openbanking.payment_consent(access, ConsentId, ConsentKind.ACCOUNT_ACCESS)
    return v1.stored(_document(200, render.account_access_consent(consent), request, Risk={}))


@ais.delete("/account-access-consents/{ConsentId}", status_code=204)
def delete_account_access_consent(ConsentId: IdText, access: AisAccess, bank: BankDep) -> Response:
    bank.openbanking.audited(
        access, "ais.consent.delete", ("consent", ConsentId),
        lambda: bank.consents.delete_by_client(
            access.actor, access.client_id, ConsentId, ConsentKind.ACCOUNT_ACCESS
        ),
    )  # fmt: skip
    return Response(status_code=204)


@ais.get("/accounts", response_model=schemas.OBReadAccount6)
def list_accounts(request: Request, access: AisAccess, bank: BankDep) -> Response:
    consent, accounts = bank.openbanking.accounts(access)
    data = {"Account": [render.account(a, consent, bank.identity.bank) for a in accounts]}
    return v1.stored(_document(200, data, request))


@ais.get("/accounts/{AccountId}", response_model=schemas.OBReadAccount6)
def get_account(AccountId: IdText, request: Request, access: AisAccess, bank: BankDep) -> Response:
    consent, account = bank.openbanking.account(access, AccountId)
    return v1.stored(
        _document(200, {"Account": [render.account(account, consent, bank.identity.bank)]}, request)
    )


@ais.get("/accounts/{AccountId}/balances", response_model=schemas.OBReadBalance1)
def get_balances(AccountId: IdText, request: Request, access: AisAccess, bank: BankDep) -> Response:
    balance = bank.openbanking.balances(access, AccountId)
    data = {"Balance": render.balances(balance, bank.clock.now_ns())}
    return v1.stored(_document(200, data, request))


@ais.get("/accounts/{AccountId}/transactions", response_model=schemas.OBReadTransaction6)
def get_transactions(
    AccountId: IdText,
    request: Request,
    access: AisAccess,
    bank: BankDep,
    fromBookingDateTime: BookingDateTime = None,
    toBookingDateTime: BookingDateTime = None,
    cursor: Annotated[str | None, Query(max_length=32, pattern=r"^[0-9]+$")] = None,
    pageSize: Annotated[int, Query(ge=1, le=TRANSACTIONS_PAGE_SIZE_MAX)] = 100,
) -> Response:
    low, high = _booking_ns(fromBookingDateTime), _booking_ns(toBookingDateTime)
    page = bank.openbanking.transactions(
        access, AccountId, from_ns=low, to_ns=high, cursor=cursor, limit=pageSize
    )  # fmt: skip
    data = {"Transaction": [render.transaction(t, page) for t in page.transfers]}
    body = {
        "Data": data,
        "Links": {**render.links(request), **render.next_link(request, page.next_cursor)},
        "Meta": {},
    }
    return v1.json_response(200, body)


# --- payment initiation -----------------------------------------------------------


def _initiation(model: schemas.OBDomesticInitiation) -> DomesticInitiation:
    amount = model.InstructedAmount
    unstructured = None
    if model.RemittanceInformation is not None and model.RemittanceInformation.Unstructured:
        unstructured = model.RemittanceInformation.Unstructured[0]
    return DomesticInitiation(
        instruction_identification=model.InstructionIdentification,
        end_to_end_identification=model.EndToEndIdentification,
        amount_minor=parse_amount(amount.Amount, amount.Currency),
        currency=amount.Currency,
        creditor=CreditorAccount(
            model.CreditorAccount.SchemeName, model.CreditorAccount.Identification, model.CreditorAccount.Name
        ),
        unstructured=unstructured,
    )


@pis.post(
    "/domestic-payment-consents", status_code=201, response_model=schemas.OBWriteDomesticConsentResponse5
)
def create_domestic_payment_consent(
    request: Request, body: schemas.OBWriteDomesticConsent4, access: PisAccess, bank: BankDep,
    ob_key: IdempotencyHeader = None, key: IdempotencyKeyHeader = None,
    signature: JwsSignatureHeader = None,
) -> Response:  # fmt: skip
    _check_signature(request, bank, access, signature, required=True)

    def run() -> StoredResponse:
        initiation = _initiation(body.Data.Initiation)
        dumped = body.Data.Initiation.model_dump(mode="json", exclude_none=True)
        payload = {
            "Initiation": dumped,
            "Risk": body.Risk.model_dump(mode="json", exclude_none=True),
            "AmountMinor": initiation.amount_minor,
        }
        if body.Data.Initiation.DebtorAccount is not None:
            payload["DebtorAccount"] = dumped["DebtorAccount"]
        consent = bank.openbanking.create_payment_consent(access, payload, initiation)
        return _document(201, render.payment_consent(consent), request, Risk=payload["Risk"])

    return _idempotent(request, bank, access, _key(ob_key, key), body, run, required=True)


@pis.get("/domestic-payment-consents/{ConsentId}", response_model=schemas.OBWriteDomesticConsentResponse5)
def get_domestic_payment_consent(
    ConsentId: IdText, request: Request, access: PisAccess, bank: BankDep
) -> Response:
    consent = bank.openbanking.payment_consent(access, ConsentId, ConsentKind.DOMESTIC_PAYMENT)
    return v1.stored(_document(200, render.payment_consent(consent), request, Risk=consent.payload["Risk"]))


@pis.get(
    "/domestic-payment-consents/{ConsentId}/funds-confirmation",
    response_model=schemas.OBWriteFundsConfirmationResponse1,
)
def get_payment_funds(ConsentId: IdText, request: Request, access: PisAccess, bank: BankDep) -> Response:
    _, available = bank.openbanking.payment_funds_available(access, ConsentId)
    from netfin.core.clock import iso_from_ns

    result = {"FundsAvailableDateTime": iso_from_ns(bank.clock.now_ns()), "FundsAvailable": available}
    return v1.stored(_document(200, {"FundsAvailableResult": result}, request))


@pis.post("/domestic-payments", status_code=201, response_model=schemas.OBWriteDomesticResponse5)
def create_domestic_payment(
    request: Request, body: schemas.OBWriteDomestic2, access: PisAccess, bank: BankDep,
    ob_key: IdempotencyHeader = None, key: IdempotencyKeyHeader = None,
    signature: JwsSignatureHeader = None,
) -> Response:  # fmt: skip
    _check_signature(request, bank, access, signature, required=True)

    def run() -> StoredResponse:
        _require_bound_consent(bank, access, body.Data.ConsentId, "pis.payment.create")
        initiation = _initiation(body.Data.Initiation)
        dumped = body.Data.Initiation.model_dump(mode="json", exclude_none=True)

        def answer(payment: DomesticPayment) -> StoredResponse:
            location = f"{BASE}/pisp/domestic-payments/{payment.payment_id}"
            body_json = {"Data": render.payment(payment, dumped), "Links": {"Self": str(request.url_for(
                "get_domestic_payment", DomesticPaymentId=payment.payment_id))}, "Meta": {}}  # fmt: skip
            return v1.stored_json(201, body_json, location)

        # The answer is stored with the payment's outcome, in one statement where it can be.
        riding = _AnswerWithOutcome(bank, answer)
        payment = bank.openbanking.initiate_payment(access, {"Initiation": dumped}, initiation, riding)
        return riding.answered if riding.answered is not None else answer(payment)

    # The payment's audit entries commit while the idempotency record is completed; the
    # answer still leaves only once they are committed.
    with answer_after_audit():
        return _idempotent(request, bank, access, _key(ob_key, key), body, run, required=True)


@pis.get("/domestic-payments/{DomesticPaymentId}", response_model=schemas.OBWriteDomesticResponse5)
def get_domestic_payment(
    DomesticPaymentId: IdText, request: Request, access: PisAccess, bank: BankDep
) -> Response:
    payment = bank.openbanking.payment(access, DomesticPaymentId)
    consent = bank.consents.get(payment.consent_id)
    return v1.stored(_document(200, render.payment(payment, consent.payload["Initiation"]), request))


@pis.get(
    "/domestic-payments/{DomesticPaymentId}/payment-details",
    response_model=schemas.OBWritePaymentDetailsResponse1,
)
def get_payment_details(
    DomesticPaymentId: IdText, request: Request, access: PisAccess, bank: BankDep
) -> Response:
    from netfin.core.clock import iso_from_ns

    payment = bank.openbanking.payment(access, DomesticPaymentId)
    detail = {
        "PaymentTransactionId": format_id(payment.transfer_id),
        "Status": payment.status.value,
        "StatusUpdateDateTime": iso_from_ns(payment.status_updated_ns),
    }
    return v1.stored(_document(200, {"PaymentStatus": [detail]}, request))


# --- confirmation of funds ----------------------------------------------------------


@cbpii.post(
    "/funds-confirmation-consents",
    status_code=201,
    response_model=schemas.OBFundsConfirmationConsentResponse1,
)
def create_funds_consent(
    request: Request, body: schemas.OBFundsConfirmationConsent1, access: CbpiiAccess, bank: BankDep,
    ob_key: IdempotencyHeader = None, key: IdempotencyKeyHeader = None,
    signature: JwsSignatureHeader = None,
) -> Response:  # fmt: skip
    _check_signature(request, bank, access, signature, required=False)

    def run() -> StoredResponse:
        payload = {"DebtorAccount": body.Data.DebtorAccount.model_dump(mode="json", exclude_none=True)}
        consent = bank.openbanking.audited(
            access, "cbpii.consent.create", ("client", access.client_id),
            lambda: bank.consents.create_funds_confirmation(
                access.actor, access.client_id, payload=payload,
                expiration_ns=_ns(body.Data.ExpirationDateTime),
            ),
        )  # fmt: skip
        return _document(201, render.funds_consent(consent), request)

    return _idempotent(request, bank, access, _key(ob_key, key), body, run)


@cbpii.get(
    "/funds-confirmation-consents/{ConsentId}", response_model=schemas.OBFundsConfirmationConsentResponse1
)
def get_funds_consent(ConsentId: IdText, request: Request, access: CbpiiAccess, bank: BankDep) -> Response:
    consent = bank.openbanking.payment_consent(access, ConsentId, ConsentKind.FUNDS_CONFIRMATION)
    return v1.stored(_document(200, render.funds_consent(consent), request))


@cbpii.delete("/funds-confirmation-consents/{ConsentId}", status_code=204)
def delete_funds_consent(ConsentId: IdText, access: CbpiiAccess, bank: BankDep) -> Response:
    bank.openbanking.audited(
        access, "cbpii.consent.delete", ("consent", ConsentId),
        lambda: bank.consents.delete_by_client(
            access.actor, access.client_id, ConsentId, ConsentKind.FUNDS_CONFIRMATION
        ),
    )  # fmt: skip
    return Response(status_code=204)


@cbpii.post("/funds-confirmations", status_code=201, response_model=schemas.OBFundsConfirmationResponse1)
def confirm_funds(
    request: Request, body: schemas.OBFundsConfirmation1, access: CbpiiAccess, bank: BankDep,
    ob_key: IdempotencyHeader = None, key: IdempotencyKeyHeader = None,
    signature: JwsSignatureHeader = None,
) -> Response:  # fmt: skip
    _check_signature(request, bank, access, signature, required=False)
    from netfin.core.clock import iso_from_ns

    def run() -> StoredResponse:
        _require_bound_consent(bank, access, body.Data.ConsentId, "cbpii.funds.confirm")
        instructed = body.Data.InstructedAmount
        minor = parse_amount(instructed.Amount, instructed.Currency)
        _, available = bank.openbanking.confirm_funds(access, minor, instructed.Currency)
        data = {
            "FundsConfirmationId": "fc-" + format_id(bank.ids.new_id()),
            "ConsentId": body.Data.ConsentId,
            "CreationDateTime": iso_from_ns(bank.clock.now_ns()),
            "FundsAvailable": available,
            "Reference": body.Data.Reference,
            "InstructedAmount": instructed.model_dump(mode="json", exclude_none=True),
        }
        return _document(201, data, request)

    return _idempotent(request, bank, access, _key(ob_key, key), body, run)


# --- event subscriptions --------------------------------------------------------------


def _event_types(listed: list[str] | None) -> list[str] | None:
    """Absent means every event type (v4.0); an empty list is passed on to be refused."""
    return None if listed is None else list(listed)


def _subscription(s: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"EventSubscriptionId": s.subscription_id, "Version": s.version}
    if s.callback_url:
        data["CallbackUrl"] = s.callback_url
    if s.event_types:
        data["EventTypes"] = list(s.event_types)
    return data


@events.post("/event-subscriptions", status_code=201, response_model=schemas.OBEventSubscriptionResponse1)
def create_subscription(
    request: Request, body: schemas.OBEventSubscription1, access: EventsAccess, bank: BankDep,
    ob_key: IdempotencyHeader = None, key: IdempotencyKeyHeader = None,
    signature: JwsSignatureHeader = None,
) -> Response:  # fmt: skip
    _check_signature(request, bank, access, signature, required=True)

    def run() -> StoredResponse:
        subscription = bank.openbanking.audited(
            access, "events.subscription.create", ("client", access.client_id),
            lambda: bank.notifications.subscribe(
                access.client_id, callback_url=body.Data.CallbackUrl, version=body.Data.Version,
                event_types=_event_types(body.Data.EventTypes),
            ),
        )  # fmt: skip
        return _document(201, _subscription(subscription), request)

    return _idempotent(request, bank, access, _key(ob_key, key), body, run)


@events.get("/event-subscriptions", response_model=schemas.OBEventSubscriptionsResponse1)
def list_subscriptions(request: Request, access: EventsAccess, bank: BankDep) -> Response:
    found = bank.notifications.list_subscriptions(access.client_id)
    return v1.stored(_document(200, {"EventSubscription": [_subscription(s) for s in found]}, request))


@events.put("/event-subscriptions/{EventSubscriptionId}", response_model=schemas.OBEventSubscriptionResponse1)
def update_subscription(
    EventSubscriptionId: IdText,
    request: Request,
    body: schemas.OBEventSubscriptionResponse1,
    access: EventsAccess,
    bank: BankDep,
    signature: JwsSignatureHeader = None,
) -> Response:
    _check_signature(request, bank, access, signature, required=True)
    if body.Data.EventSubscriptionId != EventSubscriptionId:
        raise InvalidInput(
            "EventSubscriptionId in the body differs from the path", code="subscription_id_mismatch"
        )
    subscription = bank.openbanking.audited(
        access, "events.subscription.update", ("subscription", EventSubscriptionId),
        lambda: bank.notifications.update_subscription(
            access.client_id, EventSubscriptionId, callback_url=body.Data.CallbackUrl,
            version=body.Data.Version,
            event_types=_event_types(body.Data.EventTypes),
        ),
    )  # fmt: skip
    return v1.stored(_document(200, _subscription(subscription), request))


@events.delete("/event-subscriptions/{EventSubscriptionId}", status_code=204)
def delete_subscription(EventSubscriptionId: IdText, access: EventsAccess, bank: BankDep) -> Response:
    bank.openbanking.audited(
        access, "events.subscription.delete", ("subscription", EventSubscriptionId),
        lambda: bank.notifications.delete_subscription(access.client_id, EventSubscriptionId),
    )  # fmt: skip
    return Response(status_code=204)
