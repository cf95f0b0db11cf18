"""A filing as the case workflow fills it: who reports, about whom, which transactions, and why (pure).

Amounts are integer minor units plus an ISO 4217 currency; nothing here is
a float. Every text has a maximum length and every list a maximum count,
checked when the dataclass is built, so a renderer only ever sees a filing
that can become a valid document.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from netfin.core.errors import InvalidInput, LimitExceeded
from netfin.core.money import is_currency

TRANSACTIONS_PER_FILING_MAX = 1_000
INDICATORS_PER_FILING_MAX = 32
APPROVERS_MIN = 2  # four eyes: whoever prepared a filing is not the only one who approved it
APPROVERS_MAX = 5
NAME_LENGTH_MAX = 256
TEXT_LENGTH_MAX = 4_000
SHORT_TEXT_LENGTH_MAX = 255
AMOUNT_MINOR_MAX = 10**17  # below 2^63 with room for daily totals
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_REGION = re.compile(r"[0-9]{6}")
_INDICATOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,31}")
_PHONE = re.compile(r"\+?[0-9][0-9 \-]{3,24}")


class ReportInvalid(InvalidInput):
    """A filing that cannot become a valid report; ``errors`` lists every reason."""

    code = "report_invalid"

    def __init__(self, message: str, errors: tuple[str, ...] = (), *, code: str | None = None) -> None:
        super().__init__(message if not errors else f"{message}: {'; '.join(errors[:20])}", code=code)
        self.errors = errors


class FilingKind(enum.StrEnum):
    LARGE_VALUE = "large_value"  # 大额交易报告
    SUSPICIOUS = "suspicious"  # 可疑交易报告


class PartyKind(enum.StrEnum):
    PERSON = "person"  # 自然人
    ENTITY = "entity"  # 非自然人 (法人、其他组织、个体工商户)


class Direction(enum.StrEnum):
    """资金收付标志, seen from the reported customer."""

    IN = "in"  # 收
    OUT = "out"  # 付


class Channel(enum.StrEnum):
    """交易方式."""

    CASH = "cash"
    TRANSFER = "transfer"
    CARD = "card"
    ONLINE = "online"
    MOBILE = "mobile"
    CHEQUE = "cheque"
    OTHER = "other"


class IdType(enum.StrEnum):
    """身份证件或者身份证明文件类型."""

    RESIDENT_ID = "resident_id"  # 居民身份证
    PASSPORT = "passport"  # 护照
    HK_MACAO_PERMIT = "hk_macao_permit"  # 港澳居民来往内地通行证
    TAIWAN_PERMIT = "taiwan_permit"  # 台湾居民来往大陆通行证
    FOREIGN_RESIDENCE = "foreign_residence"  # 外国人永久居留身份证
    CREDIT_CODE = "credit_code"  # 统一社会信用代码
    BUSINESS_LICENCE = "business_licence"  # 营业执照
    OTHER = "other"


class LargeValueCriterion(enum.StrEnum):
    """Which item of Article 5 of PBoC Order [2016] No. 3 a large-value transaction meets."""

    CASH = "0501"  # (1) cash >= CNY 50,000 or USD 10,000 equivalent, one day, single or total
    ENTITY_TRANSFER = "0502"  # (2) non-natural person's transfer >= CNY 2,000,000 or USD 200,000
    PERSON_DOMESTIC = "0503"  # (3) natural person's domestic transfer >= CNY 500,000 or USD 100,000
    PERSON_CROSS_BORDER = "0504"  # (4) natural person's cross-border transfer >= CNY 200,000 or USD 10,000


class ReportCount(enum.StrEnum):
    """报告次数标志: a first report, or a continued one on activity already reported."""

    FIRST = "first"
    CONTINUED = "continued"


class Urgency(enum.StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"  # e.g. suspected terrorist financing: reported at once


def check_text(name: str, value: object, length_max: int = NAME_LENGTH_MAX, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text", code="report_field_malformed")
    if required and not value.strip():
        raise InvalidInput(f"{name} is required", code="report_field_missing")
    if len(value) > length_max:
        raise LimitExceeded(f"{name} is longer than {length_max} characters", code="report_field_too_long")
    if any(ord(c) < 32 and c not in "\t\n\r" for c in value):
        raise InvalidInput(f"{name} holds control characters", code="report_field_malformed")
    return value


def _check_code(name: str, value: object) -> str:
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise InvalidInput(f"{name} must be 1 to 64 letters, digits or . _ -", code="report_field_malformed")
    return value


def _check_country(name: str, value: object) -> str:
    if not isinstance(value, str) or not _COUNTRY.fullmatch(value):
        raise InvalidInput(
            f"{name} must be an ISO 3166-1 alpha-2 code such as CN", code="report_country_malformed"
        )
    return value


def _check_aware(name: str, value: object) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{name} must be a datetime with its UTC offset", code="report_time_naive")
    return value


@dataclass(frozen=True, slots=True)
class ReportingEntity:
    """The reporting institution (报告机构) and the person who files for it."""

    institution_code: str  # 金融机构编码
    name: str
    region_code: str  # 所在地区编码, GB/T 2260 (six digits)
    reporter_name: str
    reporter_phone: str
    branch_code: str = ""  # 网点代码
    country: str = "CN"  # where the institution holds its customers' accounts (ISO 3166-1 alpha-2)
    goaml_rentity_id: int | None = None  # the FIU's number for this institution, for goAML
    reporter_family_name: str = ""  # goAML splits the reporting person's name
    reporter_given_name: str = ""

    def __post_init__(self) -> None:
        _check_code("institution_code", self.institution_code)
        check_text("institution name", self.name)
        if not isinstance(self.region_code, str) or not _REGION.fullmatch(self.region_code):
            raise InvalidInput("region_code must be six digits (GB/T 2260)", code="report_field_malformed")
        check_text("reporter_name", self.reporter_name)
        if not isinstance(self.reporter_phone, str) or not _PHONE.fullmatch(self.reporter_phone):
            raise InvalidInput("reporter_phone must be a telephone number", code="report_field_malformed")
        if self.branch_code:
            _check_code("branch_code", self.branch_code)
        _check_country("country", self.country)
        check_text("reporter_family_name", self.reporter_family_name, 100, required=False)
        check_text("reporter_given_name", self.reporter_given_name, 100, required=False)
        rentity = self.goaml_rentity_id
        if rentity is not None and (isinstance(rentity, bool) or not isinstance(rentity, int) or rentity < 1):
            raise InvalidInput("goaml_rentity_id must be a positive integer", code="report_field_malformed")


@dataclass(frozen=True, slots=True)
class Subject:
    """The customer reported on (客户): identity, nationality, contact, occupation or business."""

    subject_id: str  # the institution's customer number
    kind: PartyKind
    name: str
    id_type: IdType
    id_number: str
    nationality: str  # ISO 3166-1 alpha-2 (GB/T 2659); for an entity, its country of registration
    address: str
    phone: str
    occupation: str  # 职业 for a person, 行业 (line of business) for an entity
    account_number: str  # the customer's account the transactions move through
    family_name: str = ""  # goAML splits a person's name; PBoC takes it whole
    given_name: str = ""
    city: str = ""  # goAML addresses need a city

    def __post_init__(self) -> None:
        if not isinstance(self.subject_id, str) or not self.subject_id.strip():
            raise InvalidInput("the subject needs its customer id", code="report_subject_id_missing")
        _check_code("subject_id", self.subject_id)
        object.__setattr__(self, "kind", PartyKind(self.kind))
        object.__setattr__(self, "id_type", IdType(self.id_type))
        check_text("subject name", self.name)
        if not isinstance(self.id_number, str) or not self.id_number.strip():
            raise InvalidInput(
                "the subject needs an identity document number", code="report_subject_id_missing"
            )
        check_text("id_number", self.id_number, 64)
        _check_country("nationality", self.nationality)
        check_text("address", self.address, SHORT_TEXT_LENGTH_MAX)
        check_text("phone", self.phone, 50)
        check_text("occupation", self.occupation, SHORT_TEXT_LENGTH_MAX)
        _check_code("account_number", self.account_number)
        check_text("family_name", self.family_name, 100, required=False)
        check_text("given_name", self.given_name, 100, required=False)
        check_text("city", self.city, SHORT_TEXT_LENGTH_MAX, required=False)


@dataclass(frozen=True, slots=True)
class ReportTransaction:
    """One transaction of a filing, seen from the subject's account."""

    transaction_id: str
    occurred_at: datetime
    amount_minor: int
    currency: str
    direction: Direction
    channel: Channel
    counterparty_name: str
    counterparty_country: str
    purpose: str  # 资金用途
    counterparty_account: str = ""
    counterparty_institution: str = ""
    counterparty_institution_code: str = ""  # a BIC, or the domestic bank code
    counterparty_kind: PartyKind = PartyKind.ENTITY
    local_amount_minor: int | None = None  # the amount in the report's local currency, when it differs
    location: str = ""  # 交易发生地
    criterion: LargeValueCriterion | None = None  # for large-value filings

    def __post_init__(self) -> None:
        _check_code("transaction_id", self.transaction_id)
        _check_aware("occurred_at", self.occurred_at)
        _check_amount("amount_minor", self.amount_minor)
        if self.local_amount_minor is not None:
            _check_amount("local_amount_minor", self.local_amount_minor)
        if not is_currency(self.currency):
            raise InvalidInput(
                f"{self.currency!r} is not an ISO 4217 currency", code="report_currency_unknown"
            )
        object.__setattr__(self, "direction", Direction(self.direction))
        object.__setattr__(self, "channel", Channel(self.channel))
        object.__setattr__(self, "counterparty_kind", PartyKind(self.counterparty_kind))
        if self.criterion is not None:
            object.__setattr__(self, "criterion", LargeValueCriterion(self.criterion))
        check_text("counterparty_name", self.counterparty_name)
        _check_country("counterparty_country", self.counterparty_country)
        check_text("purpose", self.purpose, SHORT_TEXT_LENGTH_MAX)
        if self.counterparty_account:
            _check_code("counterparty_account", self.counterparty_account)
        check_text("counterparty_institution", self.counterparty_institution, required=False)
        if self.counterparty_institution_code:
            _check_code("counterparty_institution_code", self.counterparty_institution_code)
        check_text("location", self.location, SHORT_TEXT_LENGTH_MAX, required=False)


def _check_amount(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer number of minor units", code="report_amount_malformed")
    if value <= 0:
        raise InvalidInput(f"{name} must be positive, got {value}", code="report_amount_not_positive")
    if value > AMOUNT_MINOR_MAX:
        raise LimitExceeded(f"{name} is above {AMOUNT_MINOR_MAX}", code="report_amount_too_large")


@dataclass(frozen=True, slots=True)
class Filing:
    """One report to file, from one case: large-value or suspicious."""

    filing_id: str
    kind: FilingKind
    case_id: str
    created_at: datetime
    reporting_entity: ReportingEntity
    subject: Subject
    transactions: tuple[ReportTransaction, ...]
    approvers: tuple[str, ...]  # the preparer first, then whoever approved (four eyes)
    local_currency: str = "CNY"
    indicators: tuple[str, ...] = ()  # suspicious-transaction feature codes (可疑交易特征代码)
    reason: str = ""  # the analysis: why the activity is suspicious (可疑交易报告理由)
    action: str = ""  # measures taken (采取措施)
    suspected_offence: str = ""  # 疑似涉罪类型, when the analysis names one
    report_count: ReportCount = ReportCount.FIRST
    urgency: Urgency = Urgency.NORMAL

    def __post_init__(self) -> None:
        _check_code("filing_id", self.filing_id)
        _check_code("case_id", self.case_id)
        object.__setattr__(self, "kind", FilingKind(self.kind))
        object.__setattr__(self, "report_count", ReportCount(self.report_count))
        object.__setattr__(self, "urgency", Urgency(self.urgency))
        _check_aware("created_at", self.created_at)
        if not is_currency(self.local_currency):
            raise InvalidInput(f"{self.local_currency!r} is not a currency", code="report_currency_unknown")
        self._check_lists()
        check_text("reason", self.reason, TEXT_LENGTH_MAX, required=self.kind == FilingKind.SUSPICIOUS)
        check_text("action", self.action, TEXT_LENGTH_MAX, required=self.kind == FilingKind.SUSPICIOUS)
        check_text("suspected_offence", self.suspected_offence, SHORT_TEXT_LENGTH_MAX, required=False)
        self._check_kind_rules()

    def _check_lists(self) -> None:
        count = len(self.transactions)
        if count == 0:
            raise InvalidInput("a filing needs at least one transaction", code="report_transactions_missing")
        if count > TRANSACTIONS_PER_FILING_MAX:
            raise LimitExceeded(
                f"{count} transactions; a filing holds at most {TRANSACTIONS_PER_FILING_MAX}",
                code="report_too_many_transactions",
            )
        ids = [t.transaction_id for t in self.transactions]
        if len(set(ids)) != len(ids):
            raise InvalidInput(
                "a transaction appears twice in the filing", code="report_transaction_repeated"
            )
        if len(self.indicators) > INDICATORS_PER_FILING_MAX:
            raise LimitExceeded(
                f"at most {INDICATORS_PER_FILING_MAX} indicators", code="report_too_many_indicators"
            )
        for code in self.indicators:
            if not isinstance(code, str) or not _INDICATOR.fullmatch(code):
                raise InvalidInput(f"indicator {code!r} is malformed", code="report_indicator_malformed")
        people = [check_text("approver", a, 128) for a in self.approvers]
        if len(set(people)) < APPROVERS_MIN or len(people) > APPROVERS_MAX or len(set(people)) != len(people):
            raise InvalidInput(
                f"a filing needs {APPROVERS_MIN} to {APPROVERS_MAX} distinct approvers (four eyes)",
                code="report_four_eyes_missing",
            )

    def _check_kind_rules(self) -> None:
        if self.kind == FilingKind.SUSPICIOUS:
            if not self.indicators:
                raise InvalidInput(
                    "a suspicious filing names its feature codes", code="report_indicators_missing"
                )
            return
        for t in self.transactions:
            if t.criterion is None:
                raise InvalidInput(
                    f"transaction {t.transaction_id} needs its large-value criterion",
                    code="report_criterion_missing",
                )
            _check_criterion(t, self.subject.kind)


def _check_criterion(t: ReportTransaction, subject_kind: PartyKind) -> None:
    """The criterion must fit the transaction: cash for 0501, an entity for 0502, a person for 0503/0504."""
    criterion = t.criterion
    wrong = (
        (criterion == LargeValueCriterion.CASH and t.channel != Channel.CASH)
        or (criterion != LargeValueCriterion.CASH and t.channel == Channel.CASH)
        or (criterion == LargeValueCriterion.ENTITY_TRANSFER and subject_kind != PartyKind.ENTITY)
        or (criterion in (LargeValueCriterion.PERSON_DOMESTIC, LargeValueCriterion.PERSON_CROSS_BORDER)
            and subject_kind != PartyKind.PERSON)
    )  # fmt: skip
    if wrong:
        raise InvalidInput(
            f"criterion {criterion} does not fit transaction {t.transaction_id} "
            f"({t.channel}, a {subject_kind} customer)",
            code="report_criterion_mismatch",
        )
