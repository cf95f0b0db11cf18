"""UK Open Banking Read/Write API v4.0: the documents netfin's OB routers speak.

Purpose: pydantic models mirroring the official v4.0 OpenAPI components for
account information (account-access-consents, accounts, balances,
transactions), payment initiation (domestic-payment-consents and their
funds-confirmation, domestic-payments and their payment-details),
confirmation of funds (funds-confirmation-consents, funds-confirmations),
event-subscriptions, and the OB error document.

Invariants: attribute names are the official PascalCase member names; every
object refuses unknown members; request documents refuse JSON ``null``;
responses never serialise a ``None`` member; amounts are decimal strings
matching the file's pattern, never numbers; date-times carry an offset;
every bound stated by the files is kept exactly.

Public names (in ``netfin.api.openbanking.schemas``): requests
OBReadConsent1, OBWriteDomesticConsent4, OBWriteDomestic2,
OBFundsConfirmationConsent1, OBFundsConfirmation1, OBEventSubscription1;
responses OBReadConsentResponse1, OBReadAccount6, OBReadBalance1,
OBReadTransaction6, OBWriteDomesticConsentResponse5,
OBWriteFundsConfirmationResponse1, OBWriteDomesticResponse5,
OBWritePaymentDetailsResponse1, OBFundsConfirmationConsentResponse1,
OBFundsConfirmationResponse1, OBEventSubscriptionResponse1,
OBEventSubscriptionsResponse1, OBErrorResponse1, OBError1; shared Links, Meta,
OBActiveOrHistoricCurrencyAndAmount (``from_money``/``to_money``),
credit_debit_amount, OBRisk1, OBRisk2, OBDomesticInitiation; status and code
enumerations (AccountAccessConsentStatus, DomesticPaymentConsentStatus,
FundsConfirmationConsentStatus, DomesticPaymentStatus, PaymentDetailsStatus,
OBInternalPermissions1Code, OBCreditDebitCode, OBBalanceType1Code, ...);
REQUEST_DOCUMENTS and RESPONSE_DOCUMENTS.
"""
