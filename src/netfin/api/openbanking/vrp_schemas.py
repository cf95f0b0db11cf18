"""UK Open Banking v4.0 domestic VRP documents (``vrp-openapi.yaml``), as pydantic models.

Each model mirrors the component of the official VRP file with the same
name; objects the file declares inline take their parent's name plus the
member (``OBDomesticVRPConsentRequestData``). The conventions of
``netfin.api.openbanking.schemas`` hold here too, and the shared objects
(amounts, risk, postal address, remittance information, links, meta) are
that module's: the VRP file declares them member for member the same.

netfin's own members ride in ``SupplementaryData`` (see
``netfin.openbanking.vrp`` for their names and encodings).

Public names: requests ``OBDomesticVRPConsentRequest``, ``OBDomesticVRPRequest``;
responses ``OBDomesticVRPConsentResponse``, ``OBDomesticVRPResponse``; objects
``OBDomesticVRPControlParameters``, ``OBDomesticVRPPeriodicLimit``,
``OBDomesticVRPInitiation``, ``OBDomesticVRPInstruction``,
``OBCashAccountDebtorWithName``, ``OBCashAccountCreditor3``; enumerations
``OBVRPConsentType``, ``OBVRPAuthenticationMethods``, ``OBVRPInteractionTypes``,
``VRPPeriodType``, ``VRPPeriodAlignment``, ``DomesticVRPConsentStatus``,
``DomesticVRPStatus``; ``REQUEST_DOCUMENTS`` and ``RESPONSE_DOCUMENTS``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import Field

from netfin.api.openbanking.schemas import (
    REQUEST_LIST_ITEMS_MAX,
    AmountText,
    CurrencyCodeText,
    ISODateTime,
    Links,
    Meta,
    NamespacedCode,
    OBActiveOrHistoricCurrencyAndAmount,
    OBModel,
    OBPostalAddress7,
    OBProxy1,
    OBReadRefundAccount,
    OBRegulatoryReporting1,
    OBRemittanceInformation2,
    OBRequestDocument,
    OBRisk1,
    OBStatusReason,
    OBSupplementaryData1,
    OBUltimateCreditor1,
    OBUltimateDebtor1,
    Text34,
    Text35,
    Text40,
    Text70,
    Text128,
    Text256,
)

_Links = Links
_Meta = Meta


def _is_none(value: object) -> bool:
    return value is None


def _absent() -> Any:
    """Default for an optional member: ``None``, left out when serialised."""
    return Field(default=None, exclude_if=_is_none)


class OBVRPConsentType(StrEnum):
    Sweeping = "UK.OBIE.VRPType.Sweeping"
    Other = "UK.OBIE.VRPType.Other"


class OBVRPAuthenticationMethods(StrEnum):
    SCA = "UK.OBIE.SCA"
    SCANotRequired = "UK.OBIE.SCANotRequired"


class OBVRPInteractionTypes(StrEnum):
    InSession = "InSession"
    OffSession = "OffSession"


class VRPPeriodType(StrEnum):
    Day = "Day"
    Week = "Week"
    Fortnight = "Fortnight"
    Month = "Month"
    HalfYear = "Half-year"
    Year = "Year"


class VRPPeriodAlignment(StrEnum):
    Consent = "Consent"
    Calendar = "Calendar"


class DomesticVRPConsentStatus(StrEnum):
    AWAU = "AWAU"
    RJCT = "RJCT"
    AUTH = "AUTH"
    CANC = "CANC"
    EXPD = "EXPD"


class DomesticVRPStatus(StrEnum):
    RCVD = "RCVD"
    RJCT = "RJCT"
    CANC = "CANC"
    PDNG = "PDNG"
    ACTC = "ACTC"
    ACCP = "ACCP"
    ACFC = "ACFC"
    ACSP = "ACSP"
    ACWC = "ACWC"
    ACSC = "ACSC"
    ACWP = "ACWP"
    ACCC = "ACCC"
    BLCK = "BLCK"


class OBDomesticVRPPeriodicLimit(OBModel):
    """One item of ``OBDomesticVRPControlParameters.PeriodicLimits``."""

    PeriodType: VRPPeriodType
    PeriodAlignment: VRPPeriodAlignment
    Amount: AmountText
    Currency: CurrencyCodeText


class OBDomesticVRPControlParameters(OBModel):
    ValidFromDateTime: ISODateTime | None = _absent()
    ValidToDateTime: ISODateTime | None = _absent()
    MaximumIndividualAmount: OBActiveOrHistoricCurrencyAndAmount
    PeriodicLimits: Annotated[
        list[OBDomesticVRPPeriodicLimit], Field(min_length=1, max_length=REQUEST_LIST_ITEMS_MAX)
    ]
    VRPType: Annotated[list[OBVRPConsentType], Field(min_length=1, max_length=REQUEST_LIST_ITEMS_MAX)]
    PSUAuthenticationMethods: Annotated[
        list[OBVRPAuthenticationMethods], Field(min_length=1, max_length=REQUEST_LIST_ITEMS_MAX)
    ]
    PSUInteractionTypes: (
        Annotated[list[OBVRPInteractionTypes], Field(max_length=REQUEST_LIST_ITEMS_MAX)] | None
    ) = _absent()
    SupplementaryData: OBSupplementaryData1 | None = _absent()


class OBCashAccountDebtorWithName(OBModel):
    SchemeName: NamespacedCode
    Identification: Text256
    Name: Text70
    SecondaryIdentification: Text34 | None = _absent()
    Proxy: OBProxy1 | None = _absent()


class OBCashAccountCreditor3(OBModel):
    SchemeName: NamespacedCode
    Identification: Text256
    Name: Text70
    SecondaryIdentification: Text34 | None = _absent()
    Proxy: OBProxy1 | None = _absent()


class OBDomesticVRPInitiation(OBModel):
    """``Data.Initiation``: the same in the consent, the payment and both responses."""

    DebtorAccount: OBCashAccountDebtorWithName | None = _absent()
    CreditorAccount: OBCashAccountCreditor3 | None = _absent()
    CreditorPostalAddress: OBPostalAddress7 | None = _absent()
    UltimateCreditor: OBUltimateCreditor1 | None = _absent()
    UltimateDebtor: OBUltimateDebtor1 | None = _absent()
    RemittanceInformation: OBRemittanceInformation2 | None = _absent()
    RegulatoryReporting: Annotated[list[OBRegulatoryReporting1], Field(max_length=10)] | None = _absent()


class OBDomesticVRPInstruction(OBModel):
    InstructionIdentification: Text35
    EndToEndIdentification: Text35
    RemittanceInformation: OBRemittanceInformation2 | None = _absent()
    LocalInstrument: NamespacedCode | None = _absent()
    InstructedAmount: OBActiveOrHistoricCurrencyAndAmount
    CreditorPostalAddress: OBPostalAddress7 | None = _absent()
    CreditorAccount: OBCashAccountCreditor3
    UltimateCreditor: OBUltimateCreditor1 | None = _absent()
    SupplementaryData: OBSupplementaryData1 | None = _absent()


class OBDomesticVRPConsentRequestData(OBModel):
    ReadRefundAccount: OBReadRefundAccount | None = _absent()
    ControlParameters: OBDomesticVRPControlParameters
    Initiation: OBDomesticVRPInitiation


class OBDomesticVRPConsentRequest(OBRequestDocument):
    Data: OBDomesticVRPConsentRequestData
    Risk: OBRisk1


class OBDomesticVRPConsentResponseData(OBModel):
    ReadRefundAccount: OBReadRefundAccount | None = _absent()
    ConsentId: Text128
    CreationDateTime: ISODateTime
    Status: DomesticVRPConsentStatus
    StatusReason: list[OBStatusReason] | None = _absent()
    StatusUpdateDateTime: ISODateTime
    ControlParameters: OBDomesticVRPControlParameters
    Initiation: OBDomesticVRPInitiation
    DebtorAccount: OBCashAccountDebtorWithName | None = _absent()


class OBDomesticVRPConsentResponse(OBModel):
    Data: OBDomesticVRPConsentResponseData
    Risk: OBRisk1
    Links: _Links
    Meta: _Meta


class OBDomesticVRPRequestData(OBModel):
    ConsentId: Text128
    PSUAuthenticationMethod: OBVRPAuthenticationMethods
    PSUInteractionType: OBVRPInteractionTypes | None = _absent()
    VRPType: OBVRPConsentType
    Initiation: OBDomesticVRPInitiation
    Instruction: OBDomesticVRPInstruction


class OBDomesticVRPRequest(OBRequestDocument):
    Data: OBDomesticVRPRequestData
    Risk: OBRisk1


class OBDomesticVRPResponseData(OBModel):
    DomesticVRPId: Text40
    ConsentId: Text128
    CreationDateTime: ISODateTime
    Status: DomesticVRPStatus
    StatusReason: list[OBStatusReason] | None = _absent()
    StatusUpdateDateTime: ISODateTime
    ExpectedExecutionDateTime: ISODateTime | None = _absent()
    ExpectedSettlementDateTime: ISODateTime | None = _absent()
    Initiation: OBDomesticVRPInitiation
    Instruction: OBDomesticVRPInstruction
    DebtorAccount: OBCashAccountDebtorWithName | None = _absent()


class OBDomesticVRPResponse(OBModel):
    Data: OBDomesticVRPResponseData
    Risk: OBRisk1
    Links: _Links
    Meta: _Meta


REQUEST_DOCUMENTS: Final[tuple[type[OBRequestDocument], ...]] = (
    OBDomesticVRPConsentRequest,
    OBDomesticVRPRequest,
)
RESPONSE_DOCUMENTS: Final[tuple[type[OBModel], ...]] = (
    OBDomesticVRPConsentResponse,
    OBDomesticVRPResponse,
)
