"""Pure rules of device mandates: periods, terms, the refusal order, the signed message.

Properties of ``period_bounds`` (hypothesis), for every PeriodType and
PeriodAlignment OB allows:
- the period holds the instant, starts and ends at UTC midnight, and has
  the length its type says (a month 28-31 days, a half-year 181-184, a year
  365-366);
- periods tile time: every instant of a period gives the same period, and
  the instant at its end gives the next one, which starts there;
- calendar periods start on a Monday (weeks), the 1st (months), 1 January or
  1 July (half-years), 1 January (years);
- consent periods start on the consent's date plus whole steps, keeping the
  consent's day of the month where the month has it.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netfin.core.clock import NS_PER_SECOND, ns_from_datetime
from netfin.core.errors import InvalidInput, NotFound, Unauthenticated
from netfin.payments.mandates.model import (
    DAY_NS,
    PERIODIC_LIMITS_MAX,
    DevicePaymentRequest,
    Mandate,
    MandateStatus,
    MandateTerms,
    PeriodAlignment,
    PeriodicLimit,
    PeriodType,
    payment_message,
    period_bounds,
)
from netfin.payments.orders.model import Endpoint, EndpointKind

INSTANTS = st.integers(0, 8 * 10**18)  # 1970 to 2223
ALLOWED = [
    (period_type, alignment)
    for period_type in PeriodType
    for alignment in PeriodAlignment
    if not (period_type is PeriodType.FORTNIGHT and alignment is PeriodAlignment.CALENDAR)
]
DAYS = {
    PeriodType.DAY: (1, 1),
    PeriodType.WEEK: (7, 7),
    PeriodType.FORTNIGHT: (14, 14),
    PeriodType.MONTH: (28, 31),
    PeriodType.HALF_YEAR: (181, 184),
    PeriodType.YEAR: (365, 366),
}
MONTH_STEPS = {PeriodType.MONTH: 1, PeriodType.HALF_YEAR: 6, PeriodType.YEAR: 12}
DAY_STEPS = {PeriodType.DAY: 1, PeriodType.WEEK: 7, PeriodType.FORTNIGHT: 14}
NOW = ns_from_datetime(datetime(2026, 1, 1, tzinfo=UTC))
PAYER = Endpoint(EndpointKind.WALLET, "w-payer")
PAYEE = Endpoint(EndpointKind.ACCOUNT, "a-charger")


def _day(ns: int) -> date:
    return datetime.fromtimestamp(ns // NS_PER_SECOND, tz=UTC).date()


def _ns(year: int, month: int, day: int, hour: int = 0) -> int:
    return ns_from_datetime(datetime(year, month, day, hour, tzinfo=UTC))


# Periods ------------------------------------------------------------------------


@given(st.sampled_from(ALLOWED), INSTANTS, INSTANTS)
def test_a_period_holds_the_instant_and_has_its_length(
    kind: tuple[PeriodType, PeriodAlignment], anchor_ns: int, at_ns: int
) -> None:
    period = period_bounds(*kind, anchor_ns, at_ns)
    assert period.start_ns <= at_ns < period.end_ns and period.contains(at_ns)
    assert period.start_ns % DAY_NS == 0 and period.end_ns % DAY_NS == 0
    low, high = DAYS[kind[0]]
    assert low <= (period.end_ns - period.start_ns) // DAY_NS <= high


@given(st.sampled_from(ALLOWED), INSTANTS, INSTANTS)
def test_periods_tile_time(kind: tuple[PeriodType, PeriodAlignment], anchor_ns: int, at_ns: int) -> None:
    period = period_bounds(*kind, anchor_ns, at_ns)
    assert period_bounds(*kind, anchor_ns, period.start_ns) == period
    assert period_bounds(*kind, anchor_ns, period.end_ns - 1) == period
    following = period_bounds(*kind, anchor_ns, period.end_ns)
    assert following.start_ns == period.end_ns
    preceding = period_bounds(*kind, anchor_ns, period.start_ns - 1)
    assert preceding.end_ns == period.start_ns


@given(st.sampled_from([t for t, a in ALLOWED if a is PeriodAlignment.CALENDAR]), INSTANTS, INSTANTS)
def test_calendar_periods_line_up_with_the_calendar(
    period_type: PeriodType, anchor_ns: int, at_ns: int
) -> None:
    start = _day(period_bounds(period_type, PeriodAlignment.CALENDAR, anchor_ns, at_ns).start_ns)
    at = _day(at_ns)
    if period_type is PeriodType.DAY:
        assert start == at
    elif period_type is PeriodType.WEEK:
        assert start.weekday() == 0 and start.isocalendar()[:2] == at.isocalendar()[:2]
    elif period_type is PeriodType.MONTH:
        assert (start.year, start.month, start.day) == (at.year, at.month, 1)
    elif period_type is PeriodType.HALF_YEAR:
        assert (start.year, start.month, start.day) == (at.year, 1 if at.month <= 6 else 7, 1)
    else:
        assert (start.year, start.month, start.day) == (at.year, 1, 1)


@given(st.sampled_from(list(PeriodType)), INSTANTS, INSTANTS)
def test_consent_periods_step_from_the_consent_date(
    period_type: PeriodType, anchor_ns: int, at_ns: int
) -> None:
    start = _day(period_bounds(period_type, PeriodAlignment.CONSENT, anchor_ns, at_ns).start_ns)
    anchor = _day(anchor_ns)
    if period_type in DAY_STEPS:
        assert (start - anchor).days % DAY_STEPS[period_type] == 0
        return
    months = (start.year - anchor.year) * 12 + start.month - anchor.month
    assert months % MONTH_STEPS[period_type] == 0
    assert start.day == min(anchor.day, calendar.monthrange(start.year, start.month)[1])


def test_known_periods() -> None:
    consent, calendar_ = PeriodAlignment.CONSENT, PeriodAlignment.CALENDAR
    thursday = _ns(2026, 1, 1, 15)
    assert _day(period_bounds(PeriodType.WEEK, calendar_, 0, thursday).start_ns) == date(2025, 12, 29)
    jan31 = _ns(2026, 1, 31, 18)
    february = period_bounds(PeriodType.MONTH, consent, jan31, _ns(2026, 3, 10))
    assert (_day(february.start_ns), _day(february.end_ns)) == (date(2026, 2, 28), date(2026, 3, 31))
    half = period_bounds(PeriodType.HALF_YEAR, calendar_, 0, _ns(2026, 7, 1))
    assert (_day(half.start_ns), _day(half.end_ns)) == (date(2026, 7, 1), date(2027, 1, 1))
    leap = period_bounds(PeriodType.YEAR, consent, _ns(2024, 2, 29, 9), _ns(2025, 3, 1))
    assert (_day(leap.start_ns), _day(leap.end_ns)) == (date(2025, 2, 28), date(2026, 2, 28))
    fortnight = period_bounds(PeriodType.FORTNIGHT, consent, _ns(2026, 1, 1, 23), _ns(2026, 1, 15))
    assert _day(fortnight.start_ns) == date(2026, 1, 15)


def test_a_calendar_fortnight_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        period_bounds(PeriodType.FORTNIGHT, PeriodAlignment.CALENDAR, 0, NOW)
    assert refused.value.code == "mandate_period_alignment_invalid"


# Terms -----------------------------------------------------------------------------


def _terms(**changes: object) -> MandateTerms:
    values: dict[str, object] = {
        "payer": PAYER,
        "payee": PAYEE,
        "currency": "GBP",
        "max_individual_minor": 5_000,
        "periodic_limits": (PeriodicLimit(PeriodType.MONTH, PeriodAlignment.CALENDAR, 20_000),),
        "valid_to_ns": NOW + 365 * DAY_NS,
        "device_id": "charger-7",
        "device_public_key": bytes(32),
    }
    values.update(changes)
    return MandateTerms(**values)  # type: ignore[arg-type]


def test_valid_terms_start_now_by_default() -> None:
    assert _terms().check(NOW) == NOW
    assert _terms(valid_from_ns=NOW + DAY_NS).check(NOW) == NOW + DAY_NS


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"payer": Endpoint(EndpointKind.BILLER, "b-1")}, "mandate_payer_invalid"),
        ({"payee": Endpoint(EndpointKind.BILLER, "b-1")}, "mandate_payee_invalid"),
        ({"payee": PAYER}, "accounts_must_be_different"),
        ({"currency": "XXQ"}, "currency_invalid"),
        ({"max_individual_minor": 0}, "mandate_amount_invalid"),
        ({"max_individual_minor": True}, "mandate_amount_invalid"),
        ({"periodic_limits": ()}, "mandate_periodic_limits_invalid"),
        (
            {"periodic_limits": tuple(PeriodicLimit(t, PeriodAlignment.CONSENT, 9_000) for t in PeriodType)},
            "mandate_periodic_limits_invalid",
        ),
        (
            {"periodic_limits": (PeriodicLimit(PeriodType.DAY, PeriodAlignment.CONSENT, 9_000),) * 2},
            "mandate_periodic_limits_invalid",
        ),
        (
            {"periodic_limits": (PeriodicLimit(PeriodType.FORTNIGHT, PeriodAlignment.CALENDAR, 9_000),)},
            "mandate_period_alignment_invalid",
        ),
        (
            {"periodic_limits": (PeriodicLimit(PeriodType.DAY, PeriodAlignment.CALENDAR, 4_999),)},
            "mandate_individual_above_periodic",
        ),
        (
            {"periodic_limits": (PeriodicLimit(PeriodType.DAY, PeriodAlignment.CALENDAR, -1),)},
            "mandate_amount_invalid",
        ),
        ({"valid_to_ns": NOW}, "mandate_validity_invalid"),
        ({"valid_from_ns": NOW + 2 * DAY_NS, "valid_to_ns": NOW + DAY_NS}, "mandate_validity_invalid"),
        ({"valid_to_ns": NOW + 6 * 366 * DAY_NS}, "mandate_validity_too_long"),
        ({"device_id": ""}, "device_id_invalid"),
        ({"device_id": "x" * 65}, "device_id_invalid"),
        ({"device_public_key": bytes(31)}, "device_public_key_invalid"),
        ({"client_id": "bad\nid"}, "client_id_invalid"),
    ],
)
def test_invalid_terms_are_refused_by_name(changes: dict[str, object], code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        _terms(**changes).check(NOW)
    assert refused.value.code == code


def test_at_most_four_periodic_limits() -> None:
    limits = tuple(
        PeriodicLimit(t, PeriodAlignment.CALENDAR, 9_000) for t in PeriodType if t is not PeriodType.FORTNIGHT
    )
    assert len(limits) > PERIODIC_LIMITS_MAX
    with pytest.raises(InvalidInput):
        _terms(periodic_limits=limits).check(NOW)
    _terms(periodic_limits=limits[:PERIODIC_LIMITS_MAX]).check(NOW)


# The mandate's refusals ----------------------------------------------------------------


def _mandate(status: MandateStatus = MandateStatus.AUTHORISED) -> Mandate:
    return Mandate(
        mandate_id="md-" + "0" * 32, party_id=1, payer=PAYER, payee=PAYEE, currency="GBP",
        max_individual_minor=5_000,
        periodic_limits=(PeriodicLimit(PeriodType.MONTH, PeriodAlignment.CALENDAR, 20_000),),
        valid_from_ns=NOW, valid_to_ns=NOW + 30 * DAY_NS, device_id="charger-7", device_public_key=bytes(32),
        last_counter=0, status=status, client_id=None, created_ns=NOW, updated_ns=NOW,
    )  # fmt: skip


def _code(mandate: Mandate, at_ns: int, amount_minor: int = 100, currency: str = "GBP") -> str | None:
    refusal = mandate.refusal(at_ns, amount_minor, currency)
    return None if refusal is None else refusal.code


def test_refusals_in_order() -> None:
    active = _mandate()
    assert _code(active, NOW) is None
    assert _code(active, NOW + 30 * DAY_NS - 1, 5_000) is None
    assert _code(active, NOW - 1) == "mandate_not_yet_valid"
    assert _code(active, NOW + 30 * DAY_NS) == "mandate_expired"
    assert active.status_at(NOW + 30 * DAY_NS) is MandateStatus.EXPIRED
    assert _code(active, NOW, currency="EUR") == "mandate_currency_mismatch"
    assert _code(active, NOW, 5_001) == "mandate_individual_limit_exceeded"
    assert _code(_mandate(MandateStatus.REVOKED), NOW + 31 * DAY_NS, 9_999, "EUR") == "mandate_revoked"
    assert _code(_mandate(MandateStatus.EXPIRED), NOW) == "mandate_expired"


# The signed request --------------------------------------------------------------------

FIELDS = st.tuples(
    st.text(max_size=40),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1),
    st.text(max_size=4),
    st.text(max_size=40),
)


@given(FIELDS, FIELDS)
def test_distinct_requests_have_distinct_messages(
    a: tuple[str, int, int, str, str], b: tuple[str, int, int, str, str]
) -> None:
    assert (payment_message(*a) == payment_message(*b)) == (a == b)


def test_the_message_moves_text_between_fields_unambiguously() -> None:
    assert payment_message("md-a", 1, 2, "GBP", "x") != payment_message("md-", 1, 2, "GBP", "ax")
    assert payment_message("md-a", 1, 2, "GB", "Px") != payment_message("md-a", 1, 2, "GBP", "x")


@pytest.mark.parametrize(
    ("changes", "error", "code"),
    [
        ({"mandate_id": "md-xyz"}, NotFound, "mandate_not_found"),
        ({"counter": 0}, InvalidInput, "device_counter_invalid"),
        ({"counter": 2**63}, InvalidInput, "device_counter_invalid"),
        ({"amount_minor": 0}, InvalidInput, "amount_invalid"),
        ({"currency": "gbp"}, InvalidInput, "currency_invalid"),
        ({"reference": "x" * 36}, InvalidInput, "reference_invalid"),
        ({"reference": "tab\there"}, InvalidInput, "reference_invalid"),
        ({"signature": bytes(63)}, Unauthenticated, "device_signature_invalid"),
    ],
)
def test_malformed_requests_are_refused_by_name(
    changes: dict[str, object], error: type[Exception], code: str
) -> None:
    values: dict[str, object] = {
        "mandate_id": "md-" + "a" * 32, "counter": 1, "amount_minor": 100, "currency": "GBP",
        "reference": "session 42", "signature": bytes(64),
    }  # fmt: skip
    values.update(changes)
    request = DevicePaymentRequest(**values)  # type: ignore[arg-type]
    with pytest.raises(error) as refused:
        request.check()
    assert getattr(refused.value, "code", None) == code
