"""Unit tests: Money (ISO 4217 exponents, Decimal conversion with named
rounding, no floats) and the id sources (SeededIds, Uuid7Ids)."""

from __future__ import annotations

import time
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from itertools import pairwise

import pytest

from netfin.core.clock import NS_PER_SECOND, ManualClock
from netfin.core.errors import InvalidInput
from netfin.core.ids import SeededIds, Uuid7Ids, format_id, parse_id
from netfin.core.limits import INT64_MAX
from netfin.core.money import Money, convert, currency_exponent, is_currency

# -- currencies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "exponent"),
    [("CNY", 2), ("JPY", 0), ("BHD", 3), ("USD", 2), ("EUR", 2), ("KWD", 3), ("KRW", 0), ("CLF", 4)],
)
def test_currency_exponent_from_iso4217(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent
    assert is_currency(code)


@pytest.mark.parametrize("code", ["ZZZ", "usd", "US", "USDD", "", " USD", "123"])
def test_unknown_currency_rejected(code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        currency_exponent(code)
    assert caught.value.code == "currency_unknown"
    assert not is_currency(code)
    with pytest.raises(InvalidInput):
        Money(100, code)


@pytest.mark.parametrize("code", ["XAU", "XDR", "XTS", "XXX"])
def test_currency_without_minor_unit_rejected(code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        currency_exponent(code)
    assert caught.value.code == "currency_has_no_minor_unit"
    assert not is_currency(code)


@pytest.mark.parametrize("code", [None, 840, b"USD", ["USD"]], ids=["None", "840", "bytes", "list"])
def test_currency_of_the_wrong_type_rejected(code: object) -> None:
    assert not is_currency(code)
    with pytest.raises(InvalidInput):
        Money(100, code)  # type: ignore[arg-type]


# -- Money ------------------------------------------------------------------------------


def test_money_holds_minor_units() -> None:
    assert Money(12345, "CNY").to_decimal() == Decimal("123.45")
    assert Money(12345, "JPY").to_decimal() == Decimal("12345")
    assert Money(12345, "BHD").to_decimal() == Decimal("12.345")
    assert Money(-5, "USD").to_decimal() == Decimal("-0.05")
    assert str(Money(123456789, "USD")) == "1,234,567.89 USD"
    assert str(Money(1000, "JPY")) == "1,000 JPY"
    assert str(Money(1, "BHD")) == "0.001 BHD"


@pytest.mark.parametrize("amount", [1.5, 1.0, Decimal("1"), "1", None, True, False, 2**63, -(2**63)])
def test_money_rejects_non_int_and_out_of_range_amounts(amount: object) -> None:
    with pytest.raises(InvalidInput):
        Money(amount, "USD")  # type: ignore[arg-type]


def test_money_range_edges() -> None:
    assert Money(INT64_MAX, "USD").amount_minor == INT64_MAX
    assert Money(-INT64_MAX, "USD").amount_minor == -INT64_MAX


def test_money_arithmetic_same_currency_only() -> None:
    assert Money(150, "USD") + Money(250, "USD") == Money(400, "USD")
    assert Money(150, "USD") - Money(250, "USD") == Money(-100, "USD")
    with pytest.raises(InvalidInput) as caught:
        Money(1, "USD") + Money(1, "EUR")
    assert caught.value.code == "currency_mismatch"
    with pytest.raises(InvalidInput):
        Money(INT64_MAX, "USD") + Money(1, "USD")


@pytest.mark.parametrize(
    ("amount", "currency", "rounding", "minor"),
    [
        ("12.345", "USD", ROUND_HALF_EVEN, 1234),
        ("12.355", "USD", ROUND_HALF_EVEN, 1236),
        ("12.345", "USD", ROUND_HALF_UP, 1235),
        ("12.341", "USD", ROUND_UP, 1235),
        ("12.349", "USD", ROUND_DOWN, 1234),
        ("-12.345", "USD", ROUND_HALF_EVEN, -1234),
        ("-12.345", "USD", ROUND_HALF_UP, -1235),
        ("100.5", "JPY", ROUND_HALF_EVEN, 100),
        ("101.5", "JPY", ROUND_HALF_EVEN, 102),
        ("100.5", "JPY", ROUND_HALF_UP, 101),
        ("1.2345", "BHD", ROUND_HALF_EVEN, 1234),
        ("1.2345", "BHD", ROUND_HALF_UP, 1235),
        ("1.2344", "BHD", ROUND_UP, 1235),
        ("0.001", "BHD", ROUND_HALF_EVEN, 1),
        ("7", "CNY", ROUND_HALF_EVEN, 700),
    ],
)
def test_from_decimal_with_named_rounding(amount: str, currency: str, rounding: str, minor: int) -> None:
    money = Money.from_decimal(Decimal(amount), currency, rounding=rounding)
    assert money == Money(minor, currency)
    assert type(money.amount_minor) is int


def test_from_decimal_default_rounding_is_half_even() -> None:
    assert Money.from_decimal(Decimal("0.125"), "USD") == Money(12, "USD")
    assert Money.from_decimal(Decimal("0.135"), "USD") == Money(14, "USD")


@pytest.mark.parametrize("amount", [12.34, 12, "12.34", None])
def test_from_decimal_accepts_only_decimal(amount: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        Money.from_decimal(amount, "USD")  # type: ignore[arg-type]
    assert caught.value.code == "amount_not_decimal"


def test_from_decimal_round_trips() -> None:
    for minor in (0, 1, -1, 99, 12345, INT64_MAX):
        for currency in ("USD", "JPY", "BHD"):
            money = Money(minor, currency)
            assert Money.from_decimal(money.to_decimal(), currency) == money


@pytest.mark.parametrize("amount", ["1e26", "1e40", "92233720368547758.08"])
def test_from_decimal_too_large_is_invalid_input(amount: str) -> None:
    """Beyond the 64-bit range a Decimal must give InvalidInput, not leak
    decimal.InvalidOperation from ``quantize`` (28-digit context)."""
    with pytest.raises(InvalidInput):
        Money.from_decimal(Decimal(amount), "USD")


@pytest.mark.parametrize("amount", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_from_decimal_non_finite_is_invalid_input(amount: str) -> None:
    with pytest.raises(InvalidInput):
        Money.from_decimal(Decimal(amount), "USD")


def test_convert_with_decimal_rate_and_named_rounding() -> None:
    usd = Money(10000, "USD")  # 100.00 USD
    assert convert(usd, Decimal("7.1234"), "CNY") == Money(71234, "CNY")
    assert convert(usd, Decimal("151.235"), "JPY") == Money(15124, "JPY")  # 15123.5 -> even
    assert convert(usd, Decimal("151.245"), "JPY", rounding=ROUND_DOWN) == Money(15124, "JPY")
    assert convert(Money(1, "JPY"), Decimal("0.0026"), "BHD", rounding=ROUND_HALF_UP) == Money(3, "BHD")


@pytest.mark.parametrize("rate", [7.1, 7, "7.1", Decimal(0), Decimal(-1)])
def test_convert_rejects_float_and_non_positive_rates(rate: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        convert(Money(100, "USD"), rate, "CNY")  # type: ignore[arg-type]
    assert caught.value.code == "rate_invalid"


# -- ids ------------------------------------------------------------------------------------


def _version(x: int) -> int:
    return (x >> 76) & 0xF


def _variant(x: int) -> int:
    return (x >> 62) & 0b11


def test_seeded_ids_are_deterministic() -> None:
    def run(seed: int) -> list[int]:
        clock = ManualClock()
        ids = SeededIds(clock, seed=seed)
        out = []
        for k in range(50):
            out.append(ids.new_id())
            if k % 7 == 0:
                clock.advance(ns=1_500_000)
        return out

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_seeded_ids_are_time_ordered_and_uuid7_shaped() -> None:
    clock = ManualClock()
    source = SeededIds(clock, seed=3)
    ids = []
    for k in range(300):
        ids.append(source.new_id())
        if k % 10 == 9:
            clock.advance(ns=1_000_000 * (k % 3 + 1))
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    for x in ids:
        assert _version(x) == 7
        assert _variant(x) == 0b10
        assert 0 < x < 2**128 - 1
    assert ids[0] >> 80 == ManualClock().now_ns() // 1_000_000


def test_seeded_ids_follow_the_clock() -> None:
    clock = ManualClock()
    source = SeededIds(clock)
    first = source.new_id()
    clock.advance(seconds=1)
    second = source.new_id()
    assert (second >> 80) - (first >> 80) == 1000
    assert second > first


def test_seeded_ids_stay_ordered_past_4096_in_one_millisecond() -> None:
    """A frozen ManualClock is the normal case in tests and simulations; a
    batch of 8190 ids in one millisecond must still be strictly increasing
    (RFC 9562 section 6.2: on counter overflow, advance the timestamp)."""
    source = SeededIds(ManualClock(), seed=0)
    ids = [source.new_id() for _ in range(8190)]
    assert len(set(ids)) == len(ids)
    assert all(a < b for a, b in pairwise(ids))


def test_uuid7_ids_unique_and_increasing_across_milliseconds() -> None:
    source = Uuid7Ids()
    ids = []
    for _ in range(5):
        ids.append(source.new_id())
        time.sleep(0.002)
    assert all(a < b for a, b in pairwise(ids))
    assert all((b >> 80) > (a >> 80) for a, b in pairwise(ids))
    for x in ids:
        assert _version(x) == 7
        assert _variant(x) == 0b10
    now_ms = time.time_ns() // 1_000_000
    assert 0 <= now_ms - (ids[-1] >> 80) < 60_000


def test_uuid7_ids_unique_in_bulk() -> None:
    source = Uuid7Ids()
    ids = [source.new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(0 < x < 2**128 - 1 for x in ids)


def test_id_text_forms() -> None:
    x = SeededIds(ManualClock(5 * NS_PER_SECOND), seed=9).new_id()
    text = format_id(x)
    assert len(text) == 32 and text == text.lower()
    assert parse_id(text) == x
    dashed = f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    assert parse_id(dashed) == x
    assert parse_id(str(12345)) == 12345
