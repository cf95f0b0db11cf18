"""UK Open Banking Read/Write API v4.0 documents, as pydantic models.

Each model mirrors the component of the official OpenAPI file that carries
the same name (``OBReadConsent1``, ``OBWriteDomestic2`` ...). Objects that the
files declare inline get the name of their parent plus the member
(``OBReadConsent1Data``) or, when one inline shape recurs in several documents,
a short descriptive name whose docstring gives the path in the files
(``OBDomesticInitiation``).

Conventions kept throughout:

* Attribute names are the official JSON member names (PascalCase), with no
  aliases, so ``model_dump`` and ``model_validate`` speak the wire format and a
  type checker sees the same names as the specification.
* Every model forbids unknown members. Request documents also refuse explicit
  JSON ``null`` (the files never declare a member nullable), while response
  documents omit every member whose value is ``None`` when serialised.
* Amounts are strings matching ``^\\d{1,13}$|^\\d{1,13}\\.\\d{1,5}$`` (ASCII
  digits only); a JSON number is refused, never coerced. Booleans and
  integers are strict. Date-times are RFC 3339 strings with an offset.
* Where a file leaves a request string or list unbounded, netfin bounds it
  with a named maximum below (``CODE_LENGTH_MAX``, ``TEXT_LENGTH_MAX``,
  ``REQUEST_LIST_ITEMS_MAX``); every bound the files do state is kept exactly.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import partial
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from netfin.core.errors import InvalidInput
from netfin.core.money import Money, currency_exponent

# Longest namespaced code (``UK.OBIE.SortCodeAccountNumber``) or event type
# URN netfin accepts where the files give no maximum.
CODE_LENGTH_MAX: Final = 128
# Longest free text netfin accepts where the files give no maximum.
TEXT_LENGTH_MAX: Final = 2048
# Longest absolute URI (callback URLs, links).
URI_LENGTH_MAX: Final = 2048
# Most items in a request list that the files leave unbounded.
REQUEST_LIST_ITEMS_MAX: Final = 100
# ``format: int32`` in the files.
INT32_MAX: Final = 2**31 - 1
# ``OBActiveCurrencyAndAmount_SimpleType``: at most 13 integer digits.
AMOUNT_INTEGER_DIGITS_MAX: Final = 13

AMOUNT_PATTERN: Final = r"^\d{1,13}$|^\d{1,13}\.\d{1,5}$"
CURRENCY_PATTERN: Final = r"^[A-Z]{3,3}$"
COUNTRY_PATTERN: Final = r"^[A-Z]{2,2}$"
# The payment-initiation file's LEI pattern (the account-info file differs).
LEI_PATTERN: Final = r"^[0-9]{4}[0]{2}[A-Z0-9]{12}[0-9]{2}"
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)

# ISO 20022 ExternalPurpose1Code, as enumerated by the payment-initiation file.
EXTERNAL_PURPOSE_CODES: Final[frozenset[str]] = frozenset(
    """
    BKDF BKFE BKFM BKIP BKPP CBLK CDCB CDCD CDCS CDDP CDOC CDQC ETUP FCOL MTUP ACCT CASH COLL
    CSDB DEPT INTC INTP LIMA NETT BFWD CCIR CCPC CCPM CCSM CRDS CRPR CRSP CRTL EQPT EQUS EXPT
    EXTD FIXI FWBC FWCC FWSB FWSC MARG MBSB MBSC MGCC MGSC OCCC OPBC OPCC OPSB OPSC OPTN OTCD
    REPO RPBC RPCC RPSB RPSC RVPO SBSC SCIE SCIR SCRP SHBC SHCC SHSL SLEB SLOA SWBC SWCC SWPT
    SWSB SWSC TBAS TBBC TBCC TRCP AGRT AREN BEXP BOCE COMC CPYR GDDS GDSV GSCB LICF MP2B POPE
    ROYA SCVE SERV SUBS SUPP TRAD CHAR COMT MP2P ECPG ECPR ECPU EPAY CLPR COMP DBTC GOVI HLRP
    HLST INPC INPR INSC INSU INTE LBRI LIFI LOAN LOAR PENO PPTI RELG RINP TRFD FORW FXNT ADMG
    ADVA BCDM BCFG BLDM BNET CBFF CBFR CCRD CDBL CFEE CGDD CORT COST CPKC DCRD DSMT DVPM EDUC
    FACT FAND FCPM FEES GIFT GOVT ICCP IDCP IHRP INSM IVPT MCDM MCFG MSVC NOWS OCDM OCFG OFEE
    OTHR PADD PTSP RCKE RCPT REBT REFU RENT REOD RIMB RPNT RRBN RRCT RRTP RVPM SLPI SPLT STDY
    TBAN TBIL TCSC TELI TMPG TPRI TPRP TRNC TRVC WEBI IPAY IPCA IPDO IPEA IPEC IPEW IPPS IPRT
    IPU2 IPUW ANNI CAFI CFDI CMDT DERI DIVD FREX HEDG INVS PRME SAVG SECU SEPI TREA UNIT FNET
    FUTR ANTS CVCF DMEQ DNTS HLTC HLTI HSPC ICRF LTCF MAFC MARF MDCS VIEW CDEP SWFP SWPP SWRS
    SWUF ADCS AEMP ALLW ALMY BBSC BECH BENE BONU CCHD COMM CSLP GFRP GVEA GVEB GVEC GVED GWLT
    HREC PAYR PEFC PENS PRCP RHBS SALA SPSP SSBE LBIN LCOL LFEE LMEQ LMFI LMRK LREB LREV LSFL
    ESTX FWLV GSTX HSTX INTX NITX PTXP RDTX TAXS VATX WHLD TAXR B112 BR12 TLRF TLRR AIRB BUSB
    FERB RLWY TRPT CBTV ELEC ENRG GASB NWCH NWCM OTLC PHON UBIL WTER BOND CABD CAEQ CBCR DBCR
    DICL EQTS FLCR EFTC EFTD MOMA RAPI GAMB LOTT AMEX SASW AUCO PCOM PDEP PLDS PLRF GAFA GAHO
    CPEN DEPD RETL DEBT
    """.split()
)

# ISO 20022 ExternalCategoryPurpose1Code, as enumerated by the payment-initiation file.
EXTERNAL_CATEGORY_PURPOSE_CODES: Final[frozenset[str]] = frozenset(
    """
    BONU CASH CBLK CCRD CGWV CIPC CONC CORT DCRD DIVI DVPM EPAY FCDT FCIN FCOL GOVT GP2P HEDG
    ICCP IDCP INTC INTE LBOX LOAN MP2B MP2P OTHR PENS RPRE RRCT RVPM SALA SECU SSBE SUPP SWEP
    TAXS TOPG TRAD TREA VATX VOST WHLD ZABA
    """.split()
)


# --- scalar types -------------------------------------------------------------


def _ascii_digits(value: str) -> str:
    # ``\d`` also matches non-ASCII digits; an amount is only ever ASCII.
    if not value.isascii():
        raise ValueError("amount must use ASCII digits")
    return value


def _rfc3339_text(value: object) -> object:
    # Pydantic would read a number as a Unix time; the files allow only an
    # RFC 3339 string, so anything else is refused before parsing.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or _RFC3339.fullmatch(value) is None:
        raise ValueError("date-time must be an RFC 3339 string with an offset")
    return value


def _absolute_uri(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URI")
    if any(character.isspace() or ord(character) < 0x20 for character in value):
        raise ValueError("URI must not contain whitespace or control characters")
    return value


def _member_of(value: str, *, codes: frozenset[str], code_set: str) -> str:
    if value not in codes:
        raise ValueError(f"{value!r} is not a {code_set} value")
    return value


def _text(min_length: int, max_length: int) -> StringConstraints:
    return StringConstraints(min_length=min_length, max_length=max_length)


Text4 = Annotated[str, _text(1, 4)]
Text16 = Annotated[str, _text(1, 16)]
Text34 = Annotated[str, _text(1, 34)]
Text35 = Annotated[str, _text(1, 35)]
Text40 = Annotated[str, _text(1, 40)]
Text70 = Annotated[str, _text(1, 70)]
Text128 = Annotated[str, _text(1, 128)]
Text140 = Annotated[str, _text(1, 140)]
Text210 = Annotated[str, _text(1, 210)]
Text256 = Annotated[str, _text(1, 256)]
Text350 = Annotated[str, _text(1, 350)]
Text500 = Annotated[str, _text(1, 500)]
Text2048 = Annotated[str, _text(1, 2048)]
# A namespaced code (``x-namespaced-enum`` in the files): open-ended, so a string.
NamespacedCode = Annotated[str, StringConstraints(max_length=CODE_LENGTH_MAX)]
FreeText = Annotated[str, StringConstraints(max_length=TEXT_LENGTH_MAX)]
AmountText = Annotated[str, StringConstraints(pattern=AMOUNT_PATTERN), AfterValidator(_ascii_digits)]
CurrencyCodeText = Annotated[str, StringConstraints(pattern=CURRENCY_PATTERN)]
CountryCodeText = Annotated[str, StringConstraints(pattern=COUNTRY_PATTERN)]
LEIText = Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=LEI_PATTERN)]
ISODateTime = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]
AbsoluteUri = Annotated[
    str,
    StringConstraints(max_length=URI_LENGTH_MAX),
    AfterValidator(_absolute_uri),
    WithJsonSchema({"type": "string", "format": "uri", "maxLength": URI_LENGTH_MAX}),
]
Int32 = Annotated[StrictInt, Field(ge=-(2**31), le=INT32_MAX)]
Count32 = Annotated[StrictInt, Field(ge=0, le=INT32_MAX)]
PurposeCodeText = Annotated[
    str,
    AfterValidator(partial(_member_of, codes=EXTERNAL_PURPOSE_CODES, code_set="ExternalPurpose1Code")),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": 4, "enum": sorted(EXTERNAL_PURPOSE_CODES)}
    ),
]
CategoryPurposeCodeText = Annotated[
    str,
    AfterValidator(
        partial(_member_of, codes=EXTERNAL_CATEGORY_PURPOSE_CODES, code_set="ExternalCategoryPurpose1Code")
    ),
    WithJsonSchema({"type": "string", "enum": sorted(EXTERNAL_CATEGORY_PURPOSE_CODES)}),
]
# Free-form extension data (``OBSupplementaryData1``: any JSON object).
OBSupplementaryData1 = dict[str, JsonValue]


# --- enumerations ------------------------------------------------------------


class OBInternalPermissions1Code(StrEnum):
    """Account access permissions (``OBReadConsent1.Data.Permissions``)."""

    ReadAccountsBasic = "ReadAccountsBasic"
    ReadAccountsDetail = "ReadAccountsDetail"
    ReadBalances = "ReadBalances"
    ReadBeneficiariesBasic = "ReadBeneficiariesBasic"
    ReadBeneficiariesDetail = "ReadBeneficiariesDetail"
    ReadDirectDebits = "ReadDirectDebits"
    ReadOffers = "ReadOffers"
    ReadPAN = "ReadPAN"
    ReadParty = "ReadParty"
    ReadPartyPSU = "ReadPartyPSU"
    ReadProducts = "ReadProducts"
    ReadScheduledPaymentsBasic = "ReadScheduledPaymentsBasic"
    ReadScheduledPaymentsDetail = "ReadScheduledPaymentsDetail"
    ReadStandingOrdersBasic = "ReadStandingOrdersBasic"
    ReadStandingOrdersDetail = "ReadStandingOrdersDetail"
    ReadStatementsBasic = "ReadStatementsBasic"
    ReadStatementsDetail = "ReadStatementsDetail"
    ReadTransactionsBasic = "ReadTransactionsBasic"
    ReadTransactionsCredits = "ReadTransactionsCredits"
    ReadTransactionsDebits = "ReadTransactionsDebits"
    ReadTransactionsDetail = "ReadTransactionsDetail"


class AccountAccessConsentStatus(StrEnum):
    """``OBInternalConsentStatus1Code`` values an account-access consent may take."""

    AWAU = "AWAU"  # awaiting authorisation
    RJCT = "RJCT"  # rejected
    AUTH = "AUTH"  # authorised
    EXPD = "EXPD"  # expired
    CANC = "CANC"  # cancelled (revoked)


class DomesticPaymentConsentStatus(StrEnum):
    """``OBInternalConsentStatus1Code`` values a domestic-payment consent may take.

    A payment consent is never revoked or expired in v4.0; once used it stays
    ``AUTH`` and the payment resource carries the progress.
    """

    AWAU = "AWAU"
    RJCT = "RJCT"
    AUTH = "AUTH"
    COND = "COND"  # consumed


class FundsConfirmationConsentStatus(StrEnum):
    """``OBInternalConsentStatus1Code`` values a funds-confirmation consent may take."""

    AWAU = "AWAU"
    RJCT = "RJCT"
    AUTH = "AUTH"
    CANC = "CANC"
    EXPD = "EXPD"


class DomesticPaymentStatus(StrEnum):
    """ISO 20022 ExternalPaymentTransactionStatus1Code (``OBWriteDomesticResponse5``)."""

    RCVD = "RCVD"  # received
    PDNG = "PDNG"  # pending
    ACTC = "ACTC"  # accepted technical validation
    PATC = "PATC"  # partially accepted technical
    ACCP = "ACCP"  # accepted customer profile
    ACFC = "ACFC"  # accepted funds checked
    ACSP = "ACSP"  # accepted settlement in process
    ACWC = "ACWC"  # accepted with change
    ACSC = "ACSC"  # accepted settlement completed (debtor)
    ACWP = "ACWP"  # accepted without posting
    ACCC = "ACCC"  # accepted settlement completed (creditor)
    BLCK = "BLCK"  # blocked
    RJCT = "RJCT"  # rejected


class PaymentDetailsStatus(StrEnum):
    """Status values of ``OBWritePaymentDetails1`` (the payment statuses less ``RCVD``)."""

    PDNG = "PDNG"
    ACTC = "ACTC"
    PATC = "PATC"
    ACCP = "ACCP"
    ACFC = "ACFC"
    ACSP = "ACSP"
    ACWC = "ACWC"
    ACSC = "ACSC"
    ACWP = "ACWP"
    ACCC = "ACCC"
    BLCK = "BLCK"
    RJCT = "RJCT"


class OBCreditDebitCode(StrEnum):
    Credit = "Credit"
    Debit = "Debit"


class OBBalanceType1Code(StrEnum):
    CLAV = "CLAV"  # closing available
    CLBD = "CLBD"  # closing booked
    FWAV = "FWAV"  # forward available
    INFO = "INFO"  # information
    ITAV = "ITAV"  # interim available
    ITBD = "ITBD"  # interim booked
    OPAV = "OPAV"  # opening available
    OPBD = "OPBD"  # opening booked
    PRCD = "PRCD"  # previously closed booked
    XPCD = "XPCD"  # expected


class OBExternalBalanceSubType1Code(StrEnum):
    BCUR = "BCUR"  # base currency
    LCUR = "LCUR"  # local currency


class OBCreditLineType(StrEnum):
    Available = "Available"
    Credit = "Credit"
    Emergency = "Emergency"
    PreAgreed = "Pre-Agreed"
    Temporary = "Temporary"


class ExternalEntryStatus1Code(StrEnum):
    BOOK = "BOOK"
    FUTR = "FUTR"
    INFO = "INFO"
    PDNG = "PDNG"
    RJCT = "RJCT"


class OBInternalTransactionMutability1Code(StrEnum):
    Mutable = "Mutable"
    Immutable = "Immutable"


class OBInternalAccountStatus1Code(StrEnum):
    Deleted = "Deleted"
    Disabled = "Disabled"
    Enabled = "Enabled"
    Pending = "Pending"
    ProForma = "ProForma"


class OBInternalAccountType1Code(StrEnum):
    Business = "Business"
    Personal = "Personal"


class OBExternalAccountSubType1Code(StrEnum):
    CACC = "CACC"  # current
    CARD = "CARD"
    CASH = "CASH"
    CHAR = "CHAR"
    CISH = "CISH"
    COMM = "COMM"
    CPAC = "CPAC"
    LLSV = "LLSV"
    LOAN = "LOAN"
    MGLD = "MGLD"
    MOMA = "MOMA"
    NREX = "NREX"
    ODFT = "ODFT"
    ONDP = "ONDP"
    OTHR = "OTHR"
    SACC = "SACC"
    SLRY = "SLRY"
    SVGS = "SVGS"  # savings
    TAXE = "TAXE"
    TRAN = "TRAN"
    TRAS = "TRAS"
    VACC = "VACC"
    NFCA = "NFCA"
    MORT = "MORT"
    WALT = "WALT"  # wallet


class OBAddressType2Code(StrEnum):
    BIZZ = "BIZZ"
    DLVY = "DLVY"
    MLTO = "MLTO"
    PBOX = "PBOX"
    ADDR = "ADDR"
    HOME = "HOME"
    CORR = "CORR"
    STAT = "STAT"


class ExternalProxyAccountType1Code(StrEnum):
    TELE = "TELE"
    EMAL = "EMAL"
    DNAM = "DNAM"
    CINC = "CINC"
    COTX = "COTX"
    COID = "COID"
    CUST = "CUST"
    DRLC = "DRLC"
    EIDN = "EIDN"
    EWAL = "EWAL"
    PVTX = "PVTX"
    LEIC = "LEIC"
    MBNO = "MBNO"
    NIDN = "NIDN"
    CCPT = "CCPT"
    SHID = "SHID"
    SOSE = "SOSE"
    TOKN = "TOKN"
    UBIL = "UBIL"
    VIPN = "VIPN"
    BIID = "BIID"


class OBReadRefundAccount(StrEnum):
    No = "No"
    Yes = "Yes"


class OBAuthorisationType(StrEnum):
    Any = "Any"
    Single = "Single"


class OBRequestedSCAExemptionType(StrEnum):
    BillPayment = "BillPayment"
    ContactlessTravel = "ContactlessTravel"
    EcommerceGoods = "EcommerceGoods"
    EcommerceServices = "EcommerceServices"
    Kiosk = "Kiosk"
    Parking = "Parking"
    PartyToParty = "PartyToParty"


class OBAppliedAuthenticationApproach(StrEnum):
    CA = "CA"
    SCA = "SCA"


class OBPaymentContextCode(StrEnum):
    BillingGoodsAndServicesInAdvance = "BillingGoodsAndServicesInAdvance"
    BillingGoodsAndServicesInArrears = "BillingGoodsAndServicesInArrears"
    EcommerceMerchantInitiatedPayment = "EcommerceMerchantInitiatedPayment"
    FaceToFacePointOfSale = "FaceToFacePointOfSale"
    TransferToSelf = "TransferToSelf"
    TransferToThirdParty = "TransferToThirdParty"


class OBInternalExtendedAccountType1Code(StrEnum):
    Business = "Business"
    BusinessSavingsAccount = "BusinessSavingsAccount"
    Charity = "Charity"
    Collection = "Collection"
    Corporate = "Corporate"
    Ewallet = "Ewallet"
    Government = "Government"
    Investment = "Investment"
    ISA = "ISA"
    JointPersonal = "JointPersonal"
    Pension = "Pension"
    Personal = "Personal"
    PersonalSavingsAccount = "PersonalSavingsAccount"
    Premier = "Premier"
    Wealth = "Wealth"


class OBDebitCreditReportingIndicator(StrEnum):
    CRED = "CRED"
    DEBT = "DEBT"
    BOTH = "BOTH"


class ExternalDocumentType1Code(StrEnum):
    CINV = "CINV"
    CNFA = "CNFA"
    CONT = "CONT"
    CREN = "CREN"
    DEBN = "DEBN"
    DISP = "DISP"
    DNFA = "DNFA"
    HIRI = "HIRI"
    INVS = "INVS"
    MSIN = "MSIN"
    PROF = "PROF"
    PUOR = "PUOR"
    QUOT = "QUOT"
    SBIN = "SBIN"
    SPRR = "SPRR"
    TISH = "TISH"


class ExternalCreditorReferenceType1Code(StrEnum):
    DISP = "DISP"
    FXDR = "FXDR"
    PUOR = "PUOR"
    RPIN = "RPIN"
    RADM = "RADM"
    SCOR = "SCOR"


class OBInternalChargeBearerType1Code(StrEnum):
    BorneByCreditor = "BorneByCreditor"
    BorneByDebtor = "BorneByDebtor"
    FollowingServiceLevel = "FollowingServiceLevel"
    Shared = "Shared"


# --- bases -------------------------------------------------------------------


def _is_none(value: object) -> bool:
    return value is None


def _absent() -> Any:
    """Default for an optional member: ``None``, left out when serialised."""
    return Field(default=None, exclude_if=_is_none)


def _find_null(value: object, path: str) -> str | None:
    if isinstance(value, dict):
        for key, item in value.items():
            if item is None:
                return f"{path}.{key}" if path else str(key)
            found = _find_null(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_null(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


class OBModel(BaseModel):
    """Base of every document and nested object: closed, immutable, strict money."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class OBRequestDocument(OBModel):
    """Base of the request bodies a TPP sends.

    The files declare no member nullable, so a JSON ``null`` anywhere in the
    document is refused with its path rather than read as "absent".
    """

    @model_validator(mode="before")
    @classmethod
    def _refuse_null(cls, data: Any) -> Any:
        found = _find_null(data, "")
        if found is not None:
            raise ValueError(f"{found} is null; omit the member instead")
        return data


# --- shared objects ----------------------------------------------------------


class Links(OBModel):
    """Links relevant to the payload; ``Self`` is the absolute URL of the resource."""

    Self: AbsoluteUri
    First: AbsoluteUri | None = _absent()
    Prev: AbsoluteUri | None = _absent()
    Next: AbsoluteUri | None = _absent()
    Last: AbsoluteUri | None = _absent()


class Meta(OBModel):
    """Meta data relevant to the payload (page count, available date range)."""

    TotalPages: Count32 | None = _absent()
    FirstAvailableDateTime: ISODateTime | None = _absent()
    LastAvailableDateTime: ISODateTime | None = _absent()


# Members named ``Links`` and ``Meta`` would shadow the classes inside a model
# body, so the annotations use these aliases.
_Links = Links
_Meta = Meta


class OBError1(OBModel):
    ErrorCode: Annotated[str, _text(4, 4)]
    Message: Text500 | None = _absent()
    Path: Text500 | None = _absent()
    Url: str | None = _absent()


class OBErrorResponse1(OBModel):
    """The OB error document; netfin sends its members inside an RFC 9457 problem."""

    Id: Text40 | None = _absent()
    Code: Text40 | None = _absent()
    Message: Text500 | None = _absent()
    Errors: Annotated[list[OBError1], Field(min_length=1)]


class OBStatusReason(OBModel):
    StatusReasonCode: Text4 | None = _absent()
    StatusReasonDescription: Text500 | None = _absent()
    Path: Text500 | None = _absent()


class OBActiveOrHistoricCurrencyAndAmount(OBModel):
    """An amount as a decimal string in major units, with its ISO 4217 currency."""

    Amount: AmountText
    Currency: CurrencyCodeText

    @classmethod
    def from_money(cls, money: Money) -> OBActiveOrHistoricCurrencyAndAmount:
        """Render non-negative minor units as the OB string (``1234`` GBP → ``"12.34"``)."""
        if money.amount_minor < 0:
            raise InvalidInput("an Open Banking amount is never negative", code="amount_invalid")
        exponent = currency_exponent(money.currency)
        text = f"{money.to_decimal():.{exponent}f}"
        if len(text.partition(".")[0]) > AMOUNT_INTEGER_DIGITS_MAX:
            raise InvalidInput("amount exceeds the Open Banking range", code="amount_invalid")
        return cls(Amount=text, Currency=money.currency)

    def to_money(self) -> Money:
        """Exact minor units; refuses an amount finer than the currency's minor unit."""
        exponent = currency_exponent(self.Currency)
        try:
            minor = Decimal(self.Amount).scaleb(exponent)
        except InvalidOperation:
            raise InvalidInput("amount is not a decimal", code="amount_invalid") from None
        if minor != minor.to_integral_value():
            raise InvalidInput(
                f"amount has more decimals than {self.Currency} allows", code="amount_precision_invalid"
            )
        return Money(int(minor), self.Currency)


def credit_debit_amount(money: Money) -> tuple[OBCreditDebitCode, OBActiveOrHistoricCurrencyAndAmount]:
    """Split a signed balance into the OB indicator and a non-negative amount.

    Zero is reported as ``Credit``, the convention for an empty account.
    """
    indicator = OBCreditDebitCode.Debit if money.amount_minor < 0 else OBCreditDebitCode.Credit
    magnitude = Money(abs(money.amount_minor), money.currency)
    return indicator, OBActiveOrHistoricCurrencyAndAmount.from_money(magnitude)


class OBPostalAddress7(OBModel):
    AddressType: OBAddressType2Code | None = _absent()
    Department: Text70 | None = _absent()
    SubDepartment: Text70 | None = _absent()
    StreetName: Text140 | None = _absent()
    BuildingNumber: Text16 | None = _absent()
    BuildingName: Text140 | None = _absent()
    Floor: Text70 | None = _absent()
    UnitNumber: Text16 | None = _absent()
    Room: Text70 | None = _absent()
    PostBox: Text16 | None = _absent()
    TownLocationName: Text140 | None = _absent()
    DistrictName: Text140 | None = _absent()
    CareOf: Text140 | None = _absent()
    PostCode: Text16 | None = _absent()
    TownName: Text140 | None = _absent()
    CountrySubDivision: Text35 | None = _absent()
    Country: CountryCodeText | None = _absent()
    AddressLine: Annotated[list[Text70], Field(min_length=0, max_length=7)] | None = _absent()


class OBProxy1(OBModel):
    Identification: Text2048
    Code: ExternalProxyAccountType1Code
    Type: Text35 | None = _absent()


# --- account information (aisp) ----------------------------------------------


class OBRisk2(OBModel):
    """The AIS risk block: the v4.0 file defines it as an empty, closed object."""


class OBReadConsent1Data(OBModel):
    Permissions: Annotated[
        list[OBInternalPermissions1Code], Field(min_length=1, max_length=REQUEST_LIST_ITEMS_MAX)
    ]
    ExpirationDateTime: ISODateTime | None = _absent()
    TransactionFromDateTime: ISODateTime | None = _absent()
    TransactionToDateTime: ISODateTime | None = _absent()


class OBReadConsent1(OBRequestDocument):
    """POST /account-access-consents request."""

    Data: OBReadConsent1Data
    Risk: OBRisk2


class OBReadConsentResponse1Data(OBModel):
    ConsentId: Text128
    CreationDateTime: ISODateTime
    Status: AccountAccessConsentStatus
    StatusReason: list[OBStatusReason] | None = _absent()
    StatusUpdateDateTime: ISODateTime
    Permissions: Annotated[list[OBInternalPermissions1Code], Field(min_length=1)]
    ExpirationDateTime: ISODateTime | None = _absent()
    TransactionFromDateTime: ISODateTime | None = _absent()
    TransactionToDateTime: ISODateTime | None = _absent()


class OBReadConsentResponse1(OBModel):
    """POST and GET /account-access-consents[/{ConsentId}] response."""

    Data: OBReadConsentResponse1Data
    Risk: OBRisk2 = Field(default_factory=OBRisk2)
    Links: _Links
    Meta: _Meta = Field(default_factory=Meta)


class OBAccount6Account(OBModel):
    """An identification of the account (``OBAccount6.Account[]``)."""

    SchemeName: str
    Identification: Text256
    Name: Text350 | None = _absent()
    SecondaryIdentification: Text34 | None = _absent()


class OBBranchAndFinancialInstitutionIdentification5(OBModel):
    """The servicing institution (``OBAccount6.Servicer``)."""

    SchemeName: str
    Identification: Text35
    Name: Text140 | None = _absent()


class OBAccount6(OBModel):
    """An account as netfin reports it (statement preferences and switching omitted)."""

    AccountId: Text40
    Status: OBInternalAccountStatus1Code | None = _absent()
    StatusUpdateDateTime: ISODateTime | None = _absent()
    Currency: CurrencyCodeText | None = _absent()
    AccountCategory: OBInternalAccountType1Code | None = _absent()
    AccountTypeCode: OBExternalAccountSubType1Code | None = _absent()
    Description: Text35 | None = _absent()
    Nickname: Text70 | None = _absent()
    OpeningDate: ISODateTime | None = _absent()
    MaturityDate: ISODateTime | None = _absent()
    Account: list[OBAccount6Account] | None = _absent()
    Servicer: OBBranchAndFinancialInstitutionIdentification5 | None = _absent()


class OBReadAccount6Data(OBModel):
    Account: list[OBAccount6] | None = _absent()


class OBReadAccount6(OBModel):
    """GET /accounts and GET /accounts/{AccountId} response."""

    Data: OBReadAccount6Data
    Links: _Links
    Meta: _Meta = Field(default_factory=Meta)


class OBReadBalance1DataBalanceAmount(OBModel):
    """``Balance[].Amount`` and ``Balance[].LocalAmount``: an amount with a currency role."""

    Amount: AmountText
    Currency: CurrencyCodeText
    SubType: OBExternalBalanceSubType1Code | None = _absent()


class OBReadBalance1DataBalanceCreditLine(OBModel):
    Included: StrictBool
    Type: OBCreditLineType | None = _absent()
    Amount: OBActiveOrHistoricCurrencyAndAmount | None = _absent()


class OBReadBalance1DataBalance(OBModel):
    AccountId: Text40
    CreditDebitIndicator: OBCreditDebitCode
    Type: OBBalanceType1Code
    DateTime: ISODateTime
    Amount: OBReadBalance1DataBalanceAmount
    CreditLine: list[OBReadBalance1DataBalanceCreditLine] | None = _absent()
    LocalAmount: OBReadBalance1DataBalanceAmount | None = _absent()


class OBReadBalance1Data(OBModel):
    Balance: Annotated[list[OBReadBalance1DataBalance], Field(min_length=1)]
    TotalValue: OBActiveOrHistoricCurrencyAndAmount | None = _absent()


class OBReadBalance1(OBModel):
    """GET /accounts/{AccountId}/balances response."""

    Data: OBReadBalance1Data
    Links: _Links
    Meta: _Meta = Field(default_factory=Meta)


class OBBankTransactionCodeStructure1(OBModel):
    Code: str
    SubCode: str


class ProprietaryBankTransactionCodeStructure1(OBModel):
    Code: Text35
    Issuer: Text35 | None = _absent()


class OBTransactionCashBalance(OBModel):
    """The account balance after the transaction (``OBTransaction6.Balance``)."""

    CreditDebitIndicator: OBCreditDebitCode
    Type: OBBalanceType1Code
    Amount: OBActiveOrHistoricCurrencyAndAmount


class OBMerchantDetails1(OBModel):
    MerchantName: Text350 | None = _absent()
    MerchantCategoryCode: Annotated[str, _text(3, 4)] | None = _absent()


class OBBranchAndFinancialInstitutionIdentification6(OBModel):
    """A creditor or debtor agent of a transaction (LEI and address omitted)."""

    SchemeName: str | None = _absent()
    Identification: Text35 | None = _absent()
    Name: Text140 | None = _absent()


class OBCashAccount6(OBModel):
    """A creditor or debtor account of a transaction (proxy omitted)."""

    SchemeName: str | None = _absent()
    Identification: Text256 | None = _absent()
    Name: Text350 | None = _absent()
    SecondaryIdentification: Text34 | None = _absent()


class OBTransaction6(OBModel):
    """A transaction as netfin reports it (cards, FX, purposes and ultimate parties omitted)."""

    AccountId: Text40
    TransactionId: Text210 | None = _absent()
    TransactionReference: Text210 | None = _absent()
    StatementReference: list[Text35] | None = _absent()
    CreditDebitIndicator: OBCreditDebitCode
    Status: ExternalEntryStatus1Code
    TransactionMutability: OBInternalTransactionMutability1Code | None = _absent()
    BookingDateTime: ISODateTime
    ValueDateTime: ISODateTime | None = _absent()
    TransactionInformation: Text500 | None = _absent()
    AddressLine: Text70 | None = _absent()
    Amount: OBActiveOrHistoricCurrencyAndAmount
    ChargeAmount: OBActiveOrHistoricCurrencyAndAmount | None = _absent()
    BankTransactionCode: OBBankTransactionCodeStructure1 | None = _absent()
    ProprietaryBankTransactionCode: ProprietaryBankTransactionCodeStructure1 | None = _absent()
    Balance: OBTransactionCashBalance | None = _absent()
    MerchantDetails: OBMerchantDetails1 | None = _absent()
    CreditorAgent: OBBranchAndFinancialInstitutionIdentification6 | None = _absent()
    CreditorAccount: OBCashAccount6 | None = _absent()
    DebtorAgent: OBBranchAndFinancialInstitutionIdentification6 | None = _absent()
    DebtorAccount: OBCashAccount6 | None = _absent()
    SupplementaryData: OBSupplementaryData1 | None = _absent()


class OBReadDataTransaction6(OBModel):
    Transaction: list[OBTransaction6] | None = _absent()


class OBReadTransaction6(OBModel):
    """GET /accounts/{AccountId}/transactions response."""

    Data: OBReadDataTransaction6
    Links: _Links
    Meta: _Meta = Field(default_factory=Meta)


# --- payment initiation (pisp) -----------------------------------------------


class OBInitiationDebtorAccount(OBModel):
    """``Data.Initiation.DebtorAccount`` of the domestic payment documents."""

    SchemeName: NamespacedCode
    Identification: Text256
    Name: Text350 | None = _absent()
    SecondaryIdentification: Text34 | None = _absent()
    Proxy: OBProxy1 | None = _absent()


class OBInitiationCreditorAccount(OBModel):
    """``Data.Initiation.CreditorAccount``: unlike the debtor, the name is required."""

    SchemeName: NamespacedCode
    Identification: Text256
    Name: Text350
    SecondaryIdentification: Text34 | None = _absent()
    Proxy: OBProxy1 | None = _absent()


class OBInitiationCreditorAgent(OBModel):
    """``Data.Initiation.CreditorAgent``."""

    SchemeName: NamespacedCode | None = _absent()
    Identification: Text35 | None = _absent()
    Name: Text140 | None = _absent()
    LEI: LEIText | None = _absent()
    PostalAddress: OBPostalAddress7 | None = _absent()


class OBUltimateCreditor1(OBModel):
    Name: Text140 | None = _absent()
    Identification: Text256 | None = _absent()
    LEI: LEIText | None = _absent()
    SchemeName: NamespacedCode | None = _absent()
    PostalAddress: OBPostalAddress7 | None = _absent()


class OBUltimateDebtor1(OBModel):
    Name: Text140 | None = _absent()
    Identification: Text256 | None = _absent()
    LEI: LEIText | None = _absent()
    SchemeName: NamespacedCode | None = _absent()
    PostalAddress: OBPostalAddress7 | None = _absent()


class OBRegulatoryAuthority2(OBModel):
    Name: Text140 | None = _absent()
    CountryCode: CountryCodeText | None = _absent()


class OBStructuredRegulatoryReporting3(OBModel):
    Type: Text35 | None = _absent()
    Date: ISODateTime | None = _absent()
    Country: CountryCodeText | None = _absent()
    Amount: OBActiveOrHistoricCurrencyAndAmount | None = _absent()
    Information: Annotated[list[Text35], Field(max_length=REQUEST_LIST_ITEMS_MAX)] | None = _absent()


class OBRegulatoryReporting1(OBModel):
    DebitCreditReportingIndicator: OBDebitCreditReportingIndicator | None = _absent()
    Authority: OBRegulatoryAuthority2 | None = _absent()
    Details: (
        Annotated[list[OBStructuredRegulatoryReporting3], Field(max_length=REQUEST_LIST_ITEMS_MAX)] | None
    ) = _absent()


class OBReferredDocumentInformation(OBModel):
    Code: ExternalDocumentType1Code | None = _absent()
    Issuer: Text35 | None = _absent()
    Number: Text35 | None = _absent()
    RelatedDate: ISODateTime | None = _absent()
    LineDetails: Annotated[list[FreeText], Field(max_length=REQUEST_LIST_ITEMS_MAX)] | None = _absent()


class OBCreditorReferenceInformation(OBModel):
    """``OBRemittanceInformationStructured.CreditorReferenceInformation``."""

    Code: ExternalCreditorReferenceType1Code | None = _absent()
    Issuer: Text35 | None = _absent()
    Reference: Text35 | None = _absent()


class OBRemittanceInformationStructured(OBModel):
    ReferredDocumentInformation: (
        Annotated[list[OBReferredDocumentInformation], Field(max_length=REQUEST_LIST_ITEMS_MAX)] | None
    ) = _absent()
    ReferredDocumentAmount: Int32 | None = _absent()
    CreditorReferenceInformation: OBCreditorReferenceInformation | None = _absent()
    Invoicer: Text256 | None = _absent()
    Invoicee: Text256 | None = _absent()
    TaxRemittance: Text140 | None = _absent()
    AdditionalRemittanceInformation: Annotated[list[Text140], Field(max_length=3)] | None = _absent()


class OBRemittanceInformation2(OBModel):
    Structured: (
        Annotated[list[OBRemittanceInformationStructured], Field(max_length=REQUEST_LIST_ITEMS_MAX)] | None
    ) = _absent()
    Unstructured: Annotated[list[Text140], Field(max_length=REQUEST_LIST_ITEMS_MAX)] | None = _absent()


class OBDomesticInitiation(OBModel):
    """``Data.Initiation``, identical in the consent, the payment and both responses.

    A domestic payment must repeat its consent's initiation member for member,
    so one model serves all four documents and equality is ``==``.
    """

    InstructionIdentification: Text35
    EndToEndIdentification: Text35
    LocalInstrument: NamespacedCode | None = _absent()
    InstructedAmount: OBActiveOrHistoricCurrencyAndAmount
    DebtorAccount: OBInitiationDebtorAccount | None = _absent()
    CreditorAgent: OBInitiationCreditorAgent | None = _absent()
    CreditorAccount: OBInitiationCreditorAccount
    CreditorPostalAddress: OBPostalAddress7 | None = _absent()
    UltimateCreditor: OBUltimateCreditor1 | None = _absent()
    UltimateDebtor: OBUltimateDebtor1 | None = _absent()
    RegulatoryReporting: Annotated[list[OBRegulatoryReporting1], Field(max_length=10)] | None = _absent()
    RemittanceInformation: OBRemittanceInformation2 | None = _absent()
    SupplementaryData: OBSupplementaryData1 | None = _absent()


class OBDomesticAuthorisation(OBModel):
    """``OBWriteDomesticConsent4.Data.Authorisation``."""

    AuthorisationType: OBAuthorisationType
    CompletionDateTime: ISODateTime | None = _absent()


class OBSCASupportData1(OBModel):
    RequestedSCAExemptionType: OBRequestedSCAExemptionType | None = _absent()
    AppliedAuthenticationApproach: OBAppliedAuthenticationApproach | None = _absent()
    ReferencePaymentOrderId: Text40 | None = _absent()


class OBRisk1(OBModel):
    """The payment risk block the TPP sends for the ASPSP's risk scoring."""

    PaymentContextCode: OBPaymentContextCode | None = _absent()
    MerchantCategoryCode: Annotated[str, _text(3, 4)] | None = _absent()
    MerchantCustomerIdentification: Text70 | None = _absent()
    ContractPresentIndicator: StrictBool | None = _absent()
    BeneficiaryPrepopulatedIndicator: StrictBool | None = _absent()
    PaymentPurposeCode: PurposeCodeText | None = _absent()
    CategoryPurposeCode: CategoryPurposeCodeText | None = _absent()
    BeneficiaryAccountType: OBInternalExtendedAccountType1Code | None = _absent()
    DeliveryAddress: OBPostalAddress7 | None = _absent()


class OBWriteDomesticConsent4Data(OBModel):
    ReadRefundAccount: OBReadRefundAccount | None = _absent()
    Initiation: OBDomesticInitiation
    Authorisation: OBDomesticAuthorisation | None = _absent()
    SCASupportData: OBSCASupportData1 | None = _absent()


class OBWriteDomesticConsent4(OBRequestDocument):
    """POST /domestic-payment-consents request."""

    Data: OBWriteDomesticConsent4Data
    Risk: OBRisk1


class OBCharge(OBModel):
    """One charge (``Data.Charges[]`` of the domestic payment responses)."""

    ChargeBearer: OBInternalChargeBearerType1Code
    Type: str
    Amount: OBActiveOrHistoricCurrencyAndAmount


class OBCashAccountDebtor4(OBModel):
    """The debtor account the PSU chose at authorisation (LEI omitted)."""

    SchemeName: str | None = _absent()
    Identification: str | None = _absent()
    Name: str | None = _absent()
    SecondaryIdentification: str | None = _absent()


class OBWriteDomesticConsentResponse5Data(OBModel):
    ConsentId: Text128
    CreationDateTime: ISODateTime
    Status: DomesticPaymentConsentStatus
    StatusReason: list[OBStatusReason] | None = _absent()
    StatusUpdateDateTime: ISODateTime
    ReadRefundAccount: OBReadRefundAccount | None = _absent()
    CutOffDateTime: ISODateTime | None = _absent()
    ExpectedExecutionDateTime: ISODateTime | None = _absent()
    ExpectedSettlementDateTime: ISODateTime | None = _absent()
    Charges: list[OBCharge] | None = _absent()
    Initiation: OBDomesticInitiation
    Authorisation: OBDomesticAuthorisation | None = _absent()
    SCASupportData: OBSCASupportData1 | None = _absent()
    Debtor: OBCashAccountDebtor4 | None = _absent()


class OBWriteDomesticConsentResponse5(OBModel):
    """POST and GET /domestic-payment-consents[/{ConsentId}] response."""

    Data: OBWriteDomesticConsentResponse5Data
    Risk: OBRisk1
    Links: _Links
    Meta: _Meta = Field(default_factory=Meta)


class OBFundsAvailableResult(OBModel):
    """``OBWriteFundsConfirmationResponse1.Data.FundsAvailableResult``."""

    FundsAvailableDateTime: ISODateTime
    FundsAvailable: StrictBool


class OBWriteFundsConfirmationResponse1Data(OBModel):
    FundsAvailableResult: OBFundsAvailableResult | None = _absent()
    SupplementaryData: OBSupplementaryData1 | None = _absent()


class OBWriteFundsConfirmationResponse1(OBModel):
    """GET /domestic-payment-consents/{ConsentId}/funds-confirmation response."""

    Data: OBWriteFundsConfirmationResponse1Data
    Links: _Links
    Meta: _Meta = Field(default_factory=Meta)


class OBWriteDomestic2Data(OBModel):
    ConsentId: Text128
    Initiation: OBDomesticInitiation


class OBWriteDomestic2(OBRequestDocument):
    """POST /domestic-payments request."""

    Data: OBWriteDomestic2Data
    Risk: OBRisk1


class OBDomesticRefundAccount(OBModel):
    """``OBWriteDomesticResponse5.Data.Refund.Account``."""

    SchemeName: str
    Identification: Text256
    Name: Text350
    SecondaryIdentification: Text34 | None = _absent()


class OBDomesticRefund(OBModel):
    Account: OBDomesticRefundAccount


class OBWriteDomesticResponse5Data(OBModel):
    DomesticPaymentId: Text40
    ConsentId: Text128
    CreationDateTime: ISODateTime
    Status: DomesticPaymentStatus
    StatusUpdateDateTime: ISODateTime
    StatusReason: list[OBStatusReason] | None = _absent()
    ExpectedExecutionDateTime: ISODateTime | None = _absent()
    ExpectedSettlementDateTime: ISODateTime | None = _absent()
    Refund: OBDomesticRefund | None = _absent()
    Charges: list[OBCharge] | None = _absent()
    Initiation: OBDomesticInitiation
    Debtor: OBCashAccountDebtor4 | None = _absent()


class OBWriteDomesticResponse5(OBModel):
    """POST /domestic-payments and GET /domestic-payments/{DomesticPaymentId} response."""

    Data: OBWriteDomesticResponse5Data
    Links: _Links
    Meta: _Meta = Field(default_factory=Meta)


class OBWritePaymentDetails1StatusDetail(OBModel):
    LocalInstrument: str | None = _absent()
    Status: PaymentDetailsStatus
    StatusReason: Text4 | None = _absent()
    StatusReasonDescription: Text256 | None = _absent()


class OBWritePaymentDetails1(OBModel):
    PaymentTransactionId: Text210
    Status: PaymentDetailsStatus
    StatusUpdateDateTime: ISODateTime
    StatusDetail: OBWritePaymentDetails1StatusDetail | None = _absent()


class OBWritePaymentDetailsResponse1Data(OBModel):
    PaymentStatus: list[OBWritePaymentDetails1] | None = _absent()


class OBWritePaymentDetailsResponse1(OBModel):
    """GET /domestic-payments/{DomesticPaymentId}/payment-details response."""

    Data: OBWritePaymentDetailsResponse1Data
    Links: _Links
    Meta: _Meta = Field(default_factory=Meta)


# --- confirmation of funds (cbpii) -------------------------------------------


class OBFundsConfirmationDebtorAccount(OBModel):
    """``Data.DebtorAccount`` of the funds-confirmation consent documents."""

    SchemeName: NamespacedCode
    Identification: Text256
    Name: Text350 | None = _absent()
    SecondaryIdentification: Text34 | None = _absent()
    Proxy: OBProxy1 | None = _absent()


class OBFundsConfirmationConsent1Data(OBModel):
    ExpirationDateTime: ISODateTime | None = _absent()
    DebtorAccount: OBFundsConfirmationDebtorAccount


class OBFundsConfirmationConsent1(OBRequestDocument):
    """POST /funds-confirmation-consents request."""

    Data: OBFundsConfirmationConsent1Data


class OBFundsConfirmationConsentResponse1Data(OBModel):
    ConsentId: Text128
    CreationDateTime: ISODateTime
    Status: FundsConfirmationConsentStatus
    StatusReason: list[OBStatusReason] | None = _absent()
    StatusUpdateDateTime: ISODateTime
    ExpirationDateTime: ISODateTime | None = _absent()
    DebtorAccount: OBFundsConfirmationDebtorAccount


class OBFundsConfirmationConsentResponse1(OBModel):
    """POST and GET /funds-confirmation-consents[/{ConsentId}] response."""

    Data: OBFundsConfirmationConsentResponse1Data
    Links: _Links
    Meta: _Meta = Field(default_factory=Meta)


class OBFundsConfirmation1Data(OBModel):
    ConsentId: Text128
    Reference: Text35
    InstructedAmount: OBActiveOrHistoricCurrencyAndAmount


class OBFundsConfirmation1(OBRequestDocument):
    """POST /funds-confirmations request."""

    Data: OBFundsConfirmation1Data


class OBFundsConfirmationResponse1Data(OBModel):
    FundsConfirmationId: Text40
    ConsentId: Text128
    CreationDateTime: ISODateTime
    FundsAvailable: StrictBool
    Reference: Text35
    InstructedAmount: OBActiveOrHistoricCurrencyAndAmount


class OBFundsConfirmationResponse1(OBModel):
    """POST /funds-confirmations response."""

    Data: OBFundsConfirmationResponse1Data
    Links: _Links
    Meta: _Meta = Field(default_factory=Meta)


# --- event subscriptions -----------------------------------------------------

EventTypeList = Annotated[list[NamespacedCode], Field(max_length=REQUEST_LIST_ITEMS_MAX)]


class OBEventSubscription1Data(OBModel):
    CallbackUrl: AbsoluteUri | None = _absent()
    Version: Annotated[str, _text(1, 10)]
    EventTypes: EventTypeList | None = _absent()


class OBEventSubscription1(OBRequestDocument):
    """POST /event-subscriptions request."""

    Data: OBEventSubscription1Data


class OBEventSubscriptionResponse1Data(OBModel):
    EventSubscriptionId: Text40
    CallbackUrl: AbsoluteUri | None = _absent()
    Version: Annotated[str, _text(1, 10)]
    EventTypes: EventTypeList | None = _absent()


class OBEventSubscriptionResponse1(OBModel):
    """POST /event-subscriptions and PUT /event-subscriptions/{Id} response.

    The file also uses this document as the PUT request body, so ``Links`` and
    ``Meta`` stay optional here, as the file has them.
    """

    Data: OBEventSubscriptionResponse1Data
    Links: _Links | None = _absent()
    Meta: _Meta | None = _absent()


class OBEventSubscriptionsResponse1Data(OBModel):
    EventSubscription: list[OBEventSubscriptionResponse1Data] | None = _absent()


class OBEventSubscriptionsResponse1(OBModel):
    """GET /event-subscriptions response."""

    Data: OBEventSubscriptionsResponse1Data
    Links: _Links
    Meta: _Meta = Field(default_factory=Meta)


REQUEST_DOCUMENTS: Final[tuple[type[OBRequestDocument], ...]] = (
    OBReadConsent1,
    OBWriteDomesticConsent4,
    OBWriteDomestic2,
    OBFundsConfirmationConsent1,
    OBFundsConfirmation1,
    OBEventSubscription1,
)
RESPONSE_DOCUMENTS: Final[tuple[type[OBModel], ...]] = (
    OBReadConsentResponse1,
    OBReadAccount6,
    OBReadBalance1,
    OBReadTransaction6,
    OBWriteDomesticConsentResponse5,
    OBWriteFundsConfirmationResponse1,
    OBWriteDomesticResponse5,
    OBWritePaymentDetailsResponse1,
    OBFundsConfirmationConsentResponse1,
    OBFundsConfirmationResponse1,
    OBEventSubscriptionResponse1,
    OBEventSubscriptionsResponse1,
    OBErrorResponse1,
)
