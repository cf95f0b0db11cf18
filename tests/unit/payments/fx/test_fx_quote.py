"""Best-route quotes: exact minor-unit arithmetic, amount-dependent routes,
arbitrage refused, limits, and quotes honoured only until they expire."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import iso4217
import pytest
from shared_data import skip_unless

from netfin.core.clock import NS_PER_SECOND, ManualClock, ns_from_datetime
from netfin.core.errors import InvalidInput, InvariantViolation, LimitExceeded
from netfin.core.ids import SeededIds
from netfin.core.money import is_currency
from netfin.payments.fx import (
    Corridor,
    FxArbitrageDetected,
    FxDesk,
    FxNoRoute,
    FxQuoteExpired,
    FxRatesUnavailable,
    FxRouter,
    ReferenceRates,
    legs_to_execute,
    load_ecb_rates,
    load_packaged_profile,
    parse_profile,
)

DAY = date(2026, 4, 13)
RATES = ReferenceRates(
    {
        DAY: {
            "USD": Decimal("1.1684"),
            "GBP": Decimal("0.87058"),
            "INR": Decimal("109.047"),
            "JPY": Decimal("186.75"),
        }
    }
)
PROFILE = """
[routing]
hubs = ["EUR", "USD"]
legs_max = 4
quote_ttl_seconds = 30
rates_age_days_max = 5

[default]
spread_bps = "40"
fee_minor = 0

[[corridors]]
source = "GBP"
target = "EUR"
spread_bps = "12"

[[corridors]]
source = "GBP"
target = "INR"
spread_bps = "10"
fee_minor = 500
"""


def corridor(source: str, target: str, rate: str, spread: str = "0", fee: int = 0) -> Corridor:
    return Corridor(source, target, Decimal(rate), Decimal(spread), fee)


def router(*corridors: Corridor, legs_max: int = 4) -> FxRouter:
    return FxRouter(corridors, rates_date=DAY, legs_max=legs_max)


def desk(clock: ManualClock, profile: str = PROFILE) -> FxDesk:
    return FxDesk(RATES, parse_profile(profile, name="t"), clock=clock, ids=SeededIds(clock, seed=7))


def test_jpy_to_bhd_exponent_0_to_3_by_hand() -> None:
    # net 999_900 JPY; rate 0.002356 * (1 - 25/10_000) = 0.00235011 BHD per JPY;
    # 999_900 * 0.00235011 = 2349.874989 BHD = 2_349_874.989 fils, rounded down.
    legs = router(corridor("JPY", "BHD", "0.002356", "25", 100)).best_route("JPY", "BHD", 1_000_000)
    (leg,) = legs
    assert leg.effective_rate == Decimal("0.00235011")
    assert (leg.source_amount_minor, leg.fee_minor, leg.target_amount_minor) == (1_000_000, 100, 2_349_874)


def test_bhd_to_jpy_exponent_3_to_0_by_hand() -> None:
    # 1234.567 BHD less a 0.500 BHD fee = 1234.067 BHD; 424.44 * 0.997 = 423.16668;
    # 1234.067 * 423.16668 = 522216.03528756 JPY, rounded down to 522216.
    (leg,) = router(corridor("BHD", "JPY", "424.44", "30", 500)).best_route("BHD", "JPY", 1_234_567)
    assert leg.effective_rate == Decimal("423.16668")
    assert leg.target_amount_minor == 522_216


def test_two_legs_feed_each_other_and_round_down_each_time() -> None:
    # 10.01 USD * 0.15 = 1.5015 EUR -> 150 cents; 1.50 EUR * 0.333 = 0.4995 BHD = 499.5 fils -> 499.
    legs = router(corridor("USD", "EUR", "0.15"), corridor("EUR", "BHD", "0.333")).best_route(
        "USD", "BHD", 1001
    )
    assert [(leg.source_amount_minor, leg.target_amount_minor) for leg in legs] == [(1001, 150), (150, 499)]


def test_the_best_route_depends_on_the_amount_because_of_fixed_fees() -> None:
    fx = desk(ManualClock())
    small = fx.quote("GBP", "INR", 10_000, on=DAY)  # 100 GBP: the 5 GBP fee outweighs the spread saved
    large = fx.quote("GBP", "INR", 10_000_000, on=DAY)  # 100,000 GBP: the direct corridor wins
    # Via EUR, by hand: GBP->EUR mid 1/0.87058 = 1.14865951434 (12 digits, rounded down), less 12 bp
    # = 1.147281122922792; 100 GBP -> 114.7281... EUR -> 11_472 cents. EUR->INR 109.047 less 40 bp
    # = 108.610812; 114.72 EUR -> 12_459.8323... INR -> 1_245_983 paise.
    assert small.route == ("GBP", "EUR", "INR")
    assert [leg.target_amount_minor for leg in small.legs] == [11_472, 1_245_983]
    # Direct, by hand: 100 GBP less the 5 GBP fee = 95 GBP; 109.047 / 0.87058 = 125.257874060,
    # less 10 bp = 125.13261618594; 95 GBP -> 11_887.598... INR -> 1_188_759 paise: less.
    (direct,) = fx.router_on(DAY).best_route("GBP", "INR", 10_000, legs_max=1)
    assert direct.target_amount_minor == 1_188_759
    assert large.route == ("GBP", "INR")
    assert large.target_amount_minor == 1_251_263_595


def test_quote_carries_everything_and_is_honoured_until_it_expires() -> None:
    clock = ManualClock(ns_from_datetime(datetime(2026, 4, 14, 9, tzinfo=UTC)))
    fx = desk(clock)
    quote = fx.quote("USD", "JPY", 250_000)  # the clock's day: rates of the 13th
    assert quote.rates_date == DAY
    assert quote.created_ns == clock.now_ns()
    assert quote.expires_ns == quote.created_ns + 30 * NS_PER_SECOND
    assert quote.source_amount_minor == 250_000
    assert quote.legs[0].source_currency == "USD"
    assert quote.legs[-1].target_amount_minor == quote.target_amount_minor
    clock.advance(seconds=29, ns=999_999_999)
    assert fx.legs_to_execute(quote) == quote.legs
    clock.advance(ns=1)
    with pytest.raises(FxQuoteExpired) as expired:
        fx.legs_to_execute(quote)
    assert expired.value.code == "fx_quote_expired"
    with pytest.raises(FxQuoteExpired):
        legs_to_execute(quote, quote.expires_ns + 10 * NS_PER_SECOND)


def test_a_quote_that_does_not_add_up_is_never_executed() -> None:
    clock = ManualClock()
    quote = desk(clock).quote("GBP", "INR", 10_000, on=DAY)
    for forged in (
        dataclasses.replace(quote, target_amount_minor=quote.target_amount_minor + 1),
        dataclasses.replace(
            quote, legs=(dataclasses.replace(quote.legs[0], spread_bps=Decimal(0)), *quote.legs[1:])
        ),
        dataclasses.replace(quote, legs=quote.legs[:1]),
    ):
        with pytest.raises(InvariantViolation):
            legs_to_execute(forged, quote.created_ns)


def test_arbitrage_in_the_profile_is_refused_when_the_desk_is_built() -> None:
    rebate = PROFILE.replace(
        '[[corridors]]\nsource = "GBP"\ntarget = "EUR"',
        '[[corridors]]\nsource = "EUR"\ntarget = "USD"\nspread_bps = "-30"\n\n'
        '[[corridors]]\nsource = "USD"\ntarget = "EUR"\nspread_bps = "-30"\n\n'
        '[[corridors]]\nsource = "GBP"\ntarget = "EUR"',
    )
    with pytest.raises(FxArbitrageDetected) as refused:
        desk(ManualClock(), rebate)
    assert refused.value.code == "fx_arbitrage_detected"
    cycle = refused.value.cycle
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"EUR", "USD"}


def test_arbitrage_among_direct_rates_is_refused_naming_the_cycle() -> None:
    with pytest.raises(FxArbitrageDetected) as refused:
        router(
            corridor("EUR", "USD", "1.2"),
            corridor("USD", "GBP", "0.8"),
            corridor("GBP", "EUR", "1.1"),  # 1.2 * 0.8 * 1.1 = 1.056 > 1
            corridor("EUR", "JPY", "160"),
        )
    cycle = refused.value.cycle
    assert len(cycle) == 4 and cycle[0] == cycle[-1]
    assert set(cycle) == {"EUR", "USD", "GBP"}
    assert "->" in str(refused.value)


def test_a_cycle_that_exactly_breaks_even_is_not_arbitrage() -> None:
    fx = router(corridor("EUR", "USD", "1.25"), corridor("USD", "EUR", "0.8"), corridor("EUR", "JPY", "160"))
    assert fx.best_route("USD", "JPY", 100)[-1].target_amount_minor == 128


def test_arbitrage_is_also_refused_at_quote_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FxRouter, "_refuse_arbitrage", lambda self: None)
    fx = router(corridor("EUR", "USD", "1.2"), corridor("USD", "EUR", "0.9"), corridor("EUR", "JPY", "160"))
    with pytest.raises(FxArbitrageDetected) as refused:
        fx.best_route("EUR", "JPY", 1_000_000)
    assert refused.value.cycle == ("EUR", "USD", "EUR")


def test_leg_bound_is_respected() -> None:
    chain = [
        corridor(a, b, "1.01") for a, b in (("EUR", "USD"), ("USD", "GBP"), ("GBP", "CHF"), ("CHF", "JPY"))
    ]
    assert len(router(*chain, legs_max=3).best_route("EUR", "CHF", 10_000)) == 3
    with pytest.raises(FxNoRoute) as refused:
        router(*chain, legs_max=3).best_route("EUR", "JPY", 10_000)
    assert refused.value.code == "fx_no_route"
    assert len(router(*chain, legs_max=4).best_route("EUR", "JPY", 10_000)) == 4
    with pytest.raises(FxNoRoute):
        router(*chain, legs_max=4).best_route("EUR", "JPY", 10_000, legs_max=2)


def test_fees_that_consume_the_amount_and_missing_currencies() -> None:
    fx = router(corridor("EUR", "USD", "1.1", fee=100), corridor("USD", "JPY", "150"))
    with pytest.raises(FxNoRoute) as below:
        fx.best_route("EUR", "JPY", 100)
    assert below.value.code == "fx_amount_below_fees"
    # 101 cents less the fee is 1 cent: 1.1 US cents -> 1 cent -> 1.5 yen -> 1 yen.
    assert fx.best_route("EUR", "JPY", 101)[-1].target_amount_minor == 1
    with pytest.raises(FxNoRoute) as unavailable:
        fx.best_route("EUR", "GBP", 100)
    assert unavailable.value.code == "fx_currency_unavailable"
    with pytest.raises(FxNoRoute) as backwards:
        fx.best_route("JPY", "EUR", 100)
    assert backwards.value.code == "fx_no_route"


@pytest.mark.parametrize(
    ("source", "target", "amount", "code"),
    [
        ("EUR", "XXQ", 100, "currency_unknown"),
        ("CYP", "EUR", 100, "currency_unknown"),
        ("EUR", "EUR", 100, "fx_same_currency"),
        ("EUR", "USD", 0, "amount_invalid"),
        ("EUR", "USD", -5, "amount_invalid"),
        ("EUR", "USD", True, "amount_invalid"),
        ("EUR", "USD", Decimal(100), "amount_invalid"),
        ("EUR", "USD", 2**63, "amount_too_large"),
    ],
)
def test_bad_requests_are_refused(source: str, target: str, amount: int, code: str) -> None:
    fx = router(corridor("EUR", "USD", "1.1"))
    with pytest.raises(InvalidInput if code != "amount_too_large" else LimitExceeded) as refused:
        fx.best_route(source, target, amount)
    assert refused.value.code == code


def test_a_leg_beyond_64_bits_is_refused() -> None:
    fx = router(corridor("EUR", "IDR", "20082.05"))
    assert fx.best_route("EUR", "IDR", 10**14)[-1].target_amount_minor == 2_008_205 * 10**12
    with pytest.raises(LimitExceeded) as refused:
        fx.best_route("EUR", "IDR", 2**63 - 1)
    assert refused.value.code == "fx_amount_too_large"


def test_router_limits() -> None:
    codes = sorted(code for code in (c.code for c in iso4217.Currency) if is_currency(code))
    hub, others = codes[0], codes[1:66]
    many = [corridor(hub, other, "1.5") for other in others]
    with pytest.raises(LimitExceeded) as refused:
        FxRouter(many, rates_date=DAY)
    assert refused.value.code == "fx_currencies_exceeded"
    for legs_max in (0, 7, True):
        with pytest.raises(InvalidInput) as bad:
            FxRouter([corridor("EUR", "USD", "1.1")], rates_date=DAY, legs_max=legs_max)
        assert bad.value.code == "fx_legs_invalid"
    with pytest.raises(InvalidInput) as twice:
        router(corridor("EUR", "USD", "1.1"), corridor("EUR", "USD", "1.2"))
    assert twice.value.code == "fx_corridor_invalid"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"mid_rate": Decimal(0)}, "fx_rate_invalid"),
        ({"mid_rate": Decimal("NaN")}, "fx_rate_invalid"),
        ({"mid_rate": 1.1}, "fx_rate_invalid"),
        ({"spread_bps": Decimal("0.001")}, "fx_spread_invalid"),
        ({"spread_bps": Decimal(10_000)}, "fx_spread_invalid"),
        ({"fee_minor": -1}, "fx_fee_invalid"),
        ({"target_currency": "EUR"}, "fx_corridor_invalid"),
        ({"target_currency": "ABC"}, "currency_unknown"),
    ],
)
def test_corridor_values_are_checked(kwargs: dict[str, object], code: str) -> None:
    fields: dict[str, object] = {
        "source_currency": "EUR",
        "target_currency": "USD",
        "mid_rate": Decimal("1.1"),
        "spread_bps": Decimal(10),
        "fee_minor": 0,
    }
    with pytest.raises(InvalidInput) as refused:
        Corridor(**(fields | kwargs))  # type: ignore[arg-type]
    assert refused.value.code == code


def test_desk_refuses_stale_rates_and_dates_before_the_first() -> None:
    fx = desk(ManualClock())
    assert fx.quote("USD", "GBP", 100_00, on=date(2026, 4, 18)).rates_date == DAY  # 5 days: allowed
    with pytest.raises(FxRatesUnavailable) as stale:
        fx.quote("USD", "GBP", 100_00, on=date(2026, 4, 19))
    assert stale.value.code == "fx_rates_stale"
    with pytest.raises(FxRatesUnavailable) as early:
        fx.quote("USD", "GBP", 100_00, on=date(2026, 4, 12))
    assert early.value.code == "fx_rates_unavailable"
    with pytest.raises(InvalidInput) as moment:
        fx.quote("USD", "GBP", 100_00, on=datetime(2026, 4, 13, tzinfo=UTC))
    assert moment.value.code == "date_invalid"


def test_quote_ids_and_times_come_from_the_injected_sources() -> None:
    first = desk(ManualClock()).quote("USD", "GBP", 100_00, on=DAY)
    again = desk(ManualClock()).quote("USD", "GBP", 100_00, on=DAY)
    assert first == again  # same seed, same clock: the same quote, id included


HISTORY = Path(__file__).resolve().parents[4].parent / "shared" / "data" / "fx" / "eurofxref-hist.csv"


@skip_unless(HISTORY.is_file(), f"ECB history file not found at {HISTORY}")
def test_packaged_profile_on_real_ecb_rates() -> None:
    rates = load_ecb_rates(HISTORY)
    clock = ManualClock()
    fx = FxDesk(rates, load_packaged_profile(), clock=clock, ids=SeededIds(clock))
    # Rounding cross rates down and non-negative spreads leave no cycle above 1 on any day.
    for day in rates.dates[:: len(rates.dates) // 12]:
        assert fx.router_on(day).rates_date == day
    quote = fx.quote("GBP", "INR", 1_000_000, on=date(2026, 4, 13))  # 10,000 GBP: the direct corridor
    assert quote.route == ("GBP", "INR")
    (leg,) = quote.legs
    # 109.047 / 0.87058 = 125.2578740609...: 12 digits rounded down; less 20 bp = 125.00735831188.
    assert leg.mid_rate == Decimal("125.257874060")
    assert leg.effective_rate == Decimal("125.0073583118800")
    # (1,000,000 - 199) pence = 9,998.01 GBP -> 1,249,824.818... INR -> 124,982,481 paise.
    assert leg.target_amount_minor == 124_982_481
    assert fx.legs_to_execute(quote) == quote.legs
    old = fx.quote("USD", "JPY", 100_000, on=date(2010, 6, 1))
    assert old.rates_date == date(2010, 6, 1)
    with pytest.raises(FxNoRoute) as isk:
        fx.quote("ISK", "EUR", 100_000, on=date(2010, 6, 1))  # the ECB did not quote ISK then
    assert isk.value.code == "fx_currency_unavailable"
