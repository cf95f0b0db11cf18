"""ECB reference rates: parsing, look-up by date, cross rates; the real files when present."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from shared_data import skip_unless

from netfin.core.errors import InvalidInput
from netfin.payments.fx import FxRatesUnavailable, ReferenceRates, load_ecb_rates, parse_ecb_csv

FX_DATA = Path(__file__).resolve().parents[4].parent / "shared" / "data" / "fx"
HISTORY = FX_DATA / "eurofxref-hist.csv"
DAILY = FX_DATA / "eurofxref-daily-2026-04-13.csv"

SMALL = """Date,USD,JPY,CYP,BHD,GBP,
2026-04-13,1.1684,186.75,N/A,0.44,0.87058,
2026-04-10,1.1711,186.43,N/A,N/A,0.87105,
2026-04-09,1.17,186.00,0.5,0.44,0.87,
"""


def small() -> ReferenceRates:
    return parse_ecb_csv(SMALL.splitlines(keepends=True), source="small")


def test_parses_decimals_skips_legacy_columns_and_not_quoted_cells() -> None:
    rates = small()
    assert rates.dates == (date(2026, 4, 9), date(2026, 4, 10), date(2026, 4, 13))
    assert rates.skipped_currencies == frozenset({"CYP"})
    day = rates.rates_on(date(2026, 4, 13))
    assert dict(day.per_eur) == {
        "EUR": Decimal(1),
        "USD": Decimal("1.1684"),
        "JPY": Decimal("186.75"),
        "BHD": Decimal("0.44"),
        "GBP": Decimal("0.87058"),
    }
    assert all(type(rate) is Decimal for rate in day.per_eur.values())
    # N/A means "not quoted that day": BHD is absent on the 10th, never carried forward from the 9th.
    assert "BHD" not in rates.rates_on(date(2026, 4, 10)).per_eur


def test_rates_on_takes_the_latest_day_on_or_before() -> None:
    rates = small()
    assert rates.rates_on(date(2026, 4, 13)).rates_date == date(2026, 4, 13)
    assert rates.rates_on(date(2026, 4, 12)).rates_date == date(2026, 4, 10)
    assert rates.rates_on(date(2030, 1, 1)).rates_date == date(2026, 4, 13)
    with pytest.raises(FxRatesUnavailable) as refused:
        rates.rates_on(date(2026, 4, 8))
    assert refused.value.code == "fx_rates_unavailable"


def test_cross_rates_go_through_eur_and_round_down_to_12_digits() -> None:
    day = small().rates_on(date(2026, 4, 13))
    assert day.mid_rate("EUR", "USD") == Decimal("1.1684")
    # 1 / 1.1684 = 0.85587127695994...; 12 significant digits, rounded down.
    assert day.mid_rate("USD", "EUR") == Decimal("0.855871276959")
    # 186.75 / 1.1684 = 159.8339609722697...
    assert day.mid_rate("USD", "JPY") == Decimal("159.833960972")
    # 1.1684 / 186.75 = 0.006256492637215...
    assert day.mid_rate("JPY", "USD") == Decimal("0.00625649263721")
    assert day.mid_rate("USD", "EUR") * day.mid_rate("EUR", "USD") < 1


def test_unknown_and_unquoted_currencies_are_refused() -> None:
    day = small().rates_on(date(2026, 4, 10))
    with pytest.raises(InvalidInput) as unknown:
        day.mid_rate("EUR", "CYP")  # withdrawn in 2008: not a current ISO 4217 currency
    assert unknown.value.code == "currency_unknown"
    with pytest.raises(InvalidInput) as garbage:
        day.mid_rate("XXQ", "EUR")
    assert garbage.value.code == "currency_unknown"
    with pytest.raises(FxRatesUnavailable) as missing:
        day.mid_rate("EUR", "BHD")
    assert missing.value.code == "fx_rate_unavailable"


def test_daily_file_layout_with_spaces_and_month_names() -> None:
    text = "Date, USD, JPY, \n13 April 2026, 1.1684, 186.75, \n"
    rates = parse_ecb_csv(text.splitlines(keepends=True))
    assert rates.dates == (date(2026, 4, 13),)
    assert rates.rates_on(date(2026, 4, 13)).per_eur["JPY"] == Decimal("186.75")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "fx_rates_malformed"),
        ("Day,USD\n2026-04-13,1.1\n", "fx_rates_malformed"),
        ("Date,USD,USD\n2026-04-13,1.1,1.2\n", "fx_rates_malformed"),
        ("Date,usd\n2026-04-13,1.1\n", "fx_rates_malformed"),
        ("Date,EUR\n2026-04-13,1\n", "fx_rates_malformed"),
        ("Date,USD\n2026-04-13,1.1,9.9\n", "fx_rates_malformed"),
        ("Date,USD,JPY\n2026-04-13,1.1\n", "fx_rates_malformed"),
        ("Date,USD\n2026-04-13,1e3\n", "fx_rates_malformed"),
        ("Date,USD\n2026-04-13,-1.1\n", "fx_rates_malformed"),
        ("Date,USD\n2026-04-13,0\n", "fx_rates_malformed"),
        ("Date,USD\n2026-02-30,1.1\n", "fx_rates_malformed"),
        ("Date,USD\n13 Avril 2026,1.1\n", "fx_rates_malformed"),
        ("Date,USD\n2026-04-13,1.1\n2026-04-13,1.1\n", "fx_rates_malformed"),
        ("Date,USD\n", "fx_rates_malformed"),
    ],
)
def test_malformed_files_are_refused_with_a_code(text: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_ecb_csv(text.splitlines(keepends=True))
    assert refused.value.code == code


def test_merging_sources_that_disagree_is_refused() -> None:
    one = parse_ecb_csv(["Date,USD\n", "2026-04-13,1.1684\n"])
    same = parse_ecb_csv(["Date,USD\n", "2026-04-13,1.16840\n"])
    other = parse_ecb_csv(["Date,USD\n", "2026-04-13,1.1685\n"])
    assert one.merged(same).dates == (date(2026, 4, 13),)
    with pytest.raises(InvalidInput) as refused:
        one.merged(other)
    assert refused.value.code == "fx_rates_conflict"


def test_constructed_rates_are_checked() -> None:
    with pytest.raises(InvalidInput) as refused:
        ReferenceRates({date(2026, 4, 13): {"USD": Decimal("-1")}})
    assert refused.value.code == "fx_rate_invalid"
    with pytest.raises(InvalidInput) as unknown:
        ReferenceRates({date(2026, 4, 13): {"ZZZ": Decimal("1")}})
    assert unknown.value.code == "currency_unknown"


needs_ecb = skip_unless(HISTORY.is_file(), f"ECB history file not found at {HISTORY}")


@needs_ecb
def test_real_history_file() -> None:
    rates = load_ecb_rates(HISTORY)
    assert rates.dates[0] == date(1999, 1, 4)
    assert rates.dates[-1] == date(2026, 4, 13)
    assert {"CYP", "SIT", "ROL", "TRL", "BGN", "HRK"} <= rates.skipped_currencies
    latest = rates.rates_on(date(2026, 4, 13))
    assert latest.per_eur["USD"] == Decimal("1.1684")
    assert latest.per_eur["IDR"] == Decimal("20082.05")
    assert len(latest.per_eur) == 30  # EUR and the 29 currencies the ECB quotes in 2026
    sunday = rates.rates_on(date(2026, 4, 12))
    assert sunday.rates_date == date(2026, 4, 10)
    assert sunday.per_eur["JPY"] == Decimal("186.43")
    first = rates.rates_on(date(1999, 1, 4))
    assert first.per_eur["ISK"] == Decimal("81.48")
    # ISK was not quoted in 2010 (N/A), RUB no longer after March 2022.
    assert "ISK" not in rates.rates_on(date(2010, 6, 1)).per_eur
    assert rates.rates_on(date(2022, 3, 1)).per_eur["RUB"] == Decimal("117.201")
    assert "RUB" not in latest.per_eur


@needs_ecb
@skip_unless(DAILY.is_file(), f"ECB daily file not found at {DAILY}")
def test_real_daily_file_agrees_with_the_history() -> None:
    daily = load_ecb_rates(DAILY)
    assert daily.dates == (date(2026, 4, 13),)
    assert daily.rates_on(date(2026, 4, 13)).per_eur["HUF"] == Decimal("366.90")
    both = load_ecb_rates(HISTORY, DAILY)
    assert (
        both.rates_on(date(2026, 4, 13)).per_eur
        == load_ecb_rates(HISTORY).rates_on(date(2026, 4, 13)).per_eur
    )
