"""Reference rates from the ECB euro foreign-exchange reference files.

The ECB publishes "1 EUR = x CCY" once per TARGET business day, as a history
file (``eurofxref-hist.csv``: ISO dates, ``N/A`` where a currency was not
quoted, a trailing empty column) and a daily file (``eurofxref-daily.csv``:
``13 April 2026`` dates and spaces after the commas). Both are read with the
csv module straight into ``Decimal``; nothing ever passes through a float.
The files are read from wherever the caller keeps them; the project ships no
rate data.

Invariants:
- A snapshot is one published day: ``rates_on(day)`` is the latest row on or
  before ``day``, and a currency missing (``N/A``) from that row is missing
  from the snapshot; an older value is never carried forward.
- Columns whose code is not a current ISO 4217 currency with a minor unit
  (the legacy CYP, SIT, ROL, ... and, since 2026, BGN) are skipped at load and
  listed in ``skipped_currencies``; they can never be quoted.
- Cross rates go through EUR: ``mid_rate(A, B) = per_eur(B) / per_eur(A)``,
  rounded DOWN (ROUND_FLOOR) to ``CROSS_RATE_DIGITS`` significant digits.
  Rounding down keeps every cross rate at or below the exact one, so the
  products of mid rates around any cycle never exceed 1.

Public names: ``ReferenceRates``, ``RateSnapshot``, ``parse_ecb_csv``,
``load_ecb_rates``, ``CROSS_RATE_DIGITS``.
"""

from __future__ import annotations

import bisect
import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from pathlib import Path
from types import MappingProxyType

from netfin.core.errors import InvalidInput, LimitExceeded
from netfin.core.money import is_currency
from netfin.payments.fx.errors import FxRatesUnavailable
from netfin.payments.fx.model import RATE_MAX, RATE_MIN, check_currency, check_mid_rate

BASE_CURRENCY = "EUR"
CROSS_RATE_DIGITS = 12
ECB_FILE_BYTES_MAX = 32 * 1024 * 1024
ECB_ROWS_MAX = 50_000
ECB_COLUMNS_MAX = 128
NOT_QUOTED = frozenset({"", "N/A"})

_CROSS = Context(
    prec=CROSS_RATE_DIGITS, rounding=ROUND_FLOOR, traps=[InvalidOperation, DivisionByZero, Overflow]
)
_CODE = re.compile(r"[A-Z]{3}")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
# At most 9 + 9 digits, so a parsed rate always has at most RATE_DIGITS_MAX digits.
_NUMBER = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?")
_MONTHS = {
    name: number
    for number, name in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        start=1,
    )
}


@dataclass(frozen=True, slots=True, eq=False)
class RateSnapshot:
    """The rates of one published day; ``per_eur`` holds EUR itself at 1."""

    rates_date: date
    per_eur: Mapping[str, Decimal]

    @property
    def currencies(self) -> frozenset[str]:
        return frozenset(self.per_eur)

    def mid_rate(self, source_currency: str, target_currency: str) -> Decimal:
        """Target major units per source major unit, cross via EUR, rounded down
        to ``CROSS_RATE_DIGITS`` significant digits."""
        source_per_eur = self._per_eur(source_currency)
        target_per_eur = self._per_eur(target_currency)
        if source_currency == BASE_CURRENCY:
            return target_per_eur
        return _CROSS.divide(target_per_eur, source_per_eur)

    def _per_eur(self, currency: str) -> Decimal:
        check_currency(currency, where="reference rate")
        rate = self.per_eur.get(currency)
        if rate is None:
            raise FxRatesUnavailable(
                f"the ECB did not quote {currency} on {self.rates_date.isoformat()}",
                code="fx_rate_unavailable",
            )
        return rate


class ReferenceRates:
    """Published days of "1 EUR = x CCY", looked up by date."""

    def __init__(
        self,
        days: Mapping[date, Mapping[str, Decimal]],
        *,
        skipped_currencies: Iterable[str] = (),
    ) -> None:
        self._set({day: _checked_day(day, rates) for day, rates in days.items()}, skipped_currencies)

    @classmethod
    def _from_checked(
        cls, days: dict[date, dict[str, Decimal]], skipped_currencies: Iterable[str]
    ) -> ReferenceRates:
        """For days the parser (or another ``ReferenceRates``) has already checked."""
        rates = cls.__new__(cls)
        rates._set(days, skipped_currencies)
        return rates

    def _set(self, days: dict[date, dict[str, Decimal]], skipped_currencies: Iterable[str]) -> None:
        if not days:
            raise InvalidInput("reference rates hold no published day", code="fx_rates_malformed")
        self._dates = tuple(sorted(days))
        self._days = days
        self._snapshots: dict[date, RateSnapshot] = {}
        self.skipped_currencies = frozenset(skipped_currencies)

    @property
    def dates(self) -> tuple[date, ...]:
        return self._dates

    def rates_on(self, on: date) -> RateSnapshot:
        """The latest published rates on or before ``on``."""
        if not isinstance(on, date):
            raise InvalidInput("the rates date must be a datetime.date", code="date_invalid")
        index = bisect.bisect_right(self._dates, on)
        if index == 0:
            raise FxRatesUnavailable(
                f"no reference rates on or before {on.isoformat()} "
                f"(the first are from {self._dates[0].isoformat()})"
            )
        day = self._dates[index - 1]
        snapshot = self._snapshots.get(day)
        if snapshot is None:
            snapshot = RateSnapshot(day, MappingProxyType(self._days[day]))
            self._snapshots[day] = snapshot
        return snapshot

    def merged(self, other: ReferenceRates) -> ReferenceRates:
        """Both sets of days; a day present in both must carry equal rates."""
        days = dict(self._days)
        for day in other.dates:
            theirs = other._days[day]
            ours = days.get(day)
            if ours is not None and ours != theirs:
                raise InvalidInput(
                    f"two sources disagree on the rates of {day.isoformat()}", code="fx_rates_conflict"
                )
            days[day] = theirs
        return ReferenceRates._from_checked(days, self.skipped_currencies | other.skipped_currencies)


def _checked_day(day: date, rates: Mapping[str, Decimal]) -> dict[str, Decimal]:
    where = f"rates of {day.isoformat()}"
    checked = {
        check_currency(code, where=where): check_mid_rate(rate, where=where) for code, rate in rates.items()
    }
    if checked.setdefault(BASE_CURRENCY, Decimal(1)) != 1:
        raise InvalidInput(f"{where}: EUR is the base and must be 1", code="fx_rates_malformed")
    return checked


def load_ecb_rates(path: Path, *more_paths: Path) -> ReferenceRates:
    """Read one or more ECB files (history or daily) and merge them."""
    merged = _load_one(path)
    for other in more_paths:
        merged = merged.merged(_load_one(other))
    return merged


def _load_one(path: Path) -> ReferenceRates:
    size = path.stat().st_size
    if size > ECB_FILE_BYTES_MAX:
        raise LimitExceeded(
            f"{path.name} is {size} bytes; at most {ECB_FILE_BYTES_MAX} are read",
            code="fx_rates_too_large",
        )
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return parse_ecb_csv(handle, source=path.name)


def parse_ecb_csv(lines: Iterable[str], *, source: str = "ECB rates") -> ReferenceRates:
    """Parse the ECB CSV layout (either file) into ``ReferenceRates``."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise InvalidInput(f"{source}: the file is empty", code="fx_rates_malformed")
    codes = _header_codes(header, source)
    days: dict[date, dict[str, Decimal]] = {}
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(days) >= ECB_ROWS_MAX:
            raise LimitExceeded(f"{source}: more than {ECB_ROWS_MAX} rows", code="fx_rates_too_large")
        where = f"{source} line {reader.line_num}"
        day, rates = _parse_row(row, codes, where)
        if day in days:
            raise InvalidInput(f"{where}: {day.isoformat()} appears twice", code="fx_rates_malformed")
        days[day] = rates
    if not days:
        raise InvalidInput(f"{source}: no rows of rates", code="fx_rates_malformed")
    skipped = {code for code in header[1:] if code.strip() and not is_currency(code.strip())}
    return ReferenceRates._from_checked(days, skipped)


def _header_codes(header: list[str], source: str) -> list[str | None]:
    cells = [cell.strip() for cell in header]
    while cells and cells[-1] == "":
        cells.pop()
    if not cells or cells[0].lower() != "date":
        raise InvalidInput(f"{source}: the first column must be Date", code="fx_rates_malformed")
    if len(cells) > ECB_COLUMNS_MAX:
        raise LimitExceeded(f"{source}: more than {ECB_COLUMNS_MAX} columns", code="fx_rates_too_large")
    codes = cells[1:]
    for code in codes:
        if not _CODE.fullmatch(code) or code == BASE_CURRENCY:
            raise InvalidInput(f"{source}: {code!r} is not a quoted currency code", code="fx_rates_malformed")
    if len(set(codes)) != len(codes):
        raise InvalidInput(f"{source}: a currency column appears twice", code="fx_rates_malformed")
    # None marks a column kept in step with the row but never loaded.
    return [code if is_currency(code) else None for code in codes]


def _parse_row(row: list[str], codes: list[str | None], where: str) -> tuple[date, dict[str, Decimal]]:
    cells = [cell.strip() for cell in row]
    if len(cells) < 1 + len(codes):
        raise InvalidInput(f"{where}: fewer values than currency columns", code="fx_rates_malformed")
    if any(cells[1 + len(codes) :]):
        raise InvalidInput(f"{where}: more values than currency columns", code="fx_rates_malformed")
    day = _parse_date(cells[0], where)
    rates: dict[str, Decimal] = {}
    for code, cell in zip(codes, cells[1 : 1 + len(codes)], strict=True):
        if code is None or cell in NOT_QUOTED:
            continue
        if not _NUMBER.fullmatch(cell):
            raise InvalidInput(
                f"{where}: {code} rate {cell!r} is not a decimal number", code="fx_rates_malformed"
            )
        rate = Decimal(cell)
        if not RATE_MIN <= rate <= RATE_MAX:
            raise InvalidInput(f"{where}: {code} rate {cell} is out of range", code="fx_rates_malformed")
        rates[code] = rate
    rates[BASE_CURRENCY] = Decimal(1)
    return day, rates


def _parse_date(text: str, where: str) -> date:
    """ISO 8601 (history file) or ``13 April 2026`` (daily file), whatever the locale."""
    iso = _ISO_DATE.fullmatch(text)
    parts = text.split()
    if iso is not None:
        year, month, day = (int(part) for part in iso.groups())
    elif len(parts) == 3 and parts[0].isdigit() and parts[2].isdigit() and parts[1].lower() in _MONTHS:
        year, month, day = int(parts[2]), _MONTHS[parts[1].lower()], int(parts[0])
    else:
        raise InvalidInput(f"{where}: {text!r} is not a date", code="fx_rates_malformed")
    try:
        return date(year, month, day)
    except ValueError:
        raise InvalidInput(f"{where}: {text!r} is not a date", code="fx_rates_malformed") from None
