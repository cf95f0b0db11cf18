"""FX corridor profiles: which corridors exist and what each one costs.

A profile is a TOML document (read with ``tomllib``); the ones the package
ships live in ``profiles/*.toml``. Layout::

    [routing]
    hubs = ["EUR", "USD"]     # every offered currency has corridors to and from each hub
    legs_max = 4              # the most conversions one route may chain
    quote_ttl_seconds = 30    # how long a quote is honoured
    rates_age_days_max = 5    # the oldest reference rates a quote may use
    currencies = ["EUR", ...] # optional: offer only these (default: all the rates quote)

    [default]                 # terms of every corridor not listed below
    spread_bps = "30"         # a string or an integer, never a TOML float
    fee_minor = 0             # minor units of the corridor's source currency

    [[corridors]]             # a directed corridor: a direct one, or a hub one re-priced
    source = "EUR"
    target = "USD"
    spread_bps = "5"          # optional; the default terms fill what is left out
    fee_minor = 0

Invariants: every key is known (a misspelt key is refused, not ignored);
every currency is a current ISO 4217 code with a minor unit; spreads are
exact Decimals; a corridor is listed at most once. A corridor whose currencies
the day's rates do not quote is simply absent that day. Whether the terms
allow arbitrage depends on the rates too, so that is checked when a router is
built from a profile and a day's rates (see ``route``).

Public names: ``FxProfile``, ``parse_profile``, ``load_profile``,
``load_packaged_profile``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from netfin.core.errors import InvalidInput, LimitExceeded
from netfin.payments.fx.model import (
    CORRIDORS_MAX,
    CURRENCIES_MAX,
    QUOTE_TTL_SECONDS_MAX,
    ROUTE_LEGS_MAX,
    Corridor,
    CorridorTerms,
    check_currency,
    check_fee_minor,
    check_spread_bps,
)
from netfin.payments.fx.rates import RateSnapshot

PROFILE_BYTES_MAX = 1024 * 1024
HUBS_MAX = 8
RATES_AGE_DAYS_MAX = 31
_PROFILE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_SPREAD_TEXT = re.compile(r"-?[0-9]{1,5}(\.[0-9]{1,2})?")
_TOP_KEYS = frozenset({"routing", "default", "corridors"})
_ROUTING_KEYS = frozenset({"hubs", "legs_max", "quote_ttl_seconds", "rates_age_days_max", "currencies"})
_TERMS_KEYS = frozenset({"spread_bps", "fee_minor"})
_CORRIDOR_KEYS = _TERMS_KEYS | {"source", "target"}


@dataclass(frozen=True, slots=True, eq=False)
class FxProfile:
    """A validated corridor profile (see the module docstring for its TOML form)."""

    name: str
    hubs: tuple[str, ...]
    default_terms: CorridorTerms
    corridor_terms: Mapping[tuple[str, str], CorridorTerms]
    currencies: frozenset[str] | None
    legs_max: int
    quote_ttl_seconds: int
    rates_age_days_max: int

    def corridors(self, snapshot: RateSnapshot) -> tuple[Corridor, ...]:
        """The day's corridors, priced at the day's mid rates, in a stable order."""
        offered = snapshot.currencies
        if self.currencies is not None:
            offered &= self.currencies
        terms: dict[tuple[str, str], CorridorTerms] = {}
        for hub in self.hubs:
            if hub not in offered:
                continue
            for other in offered - {hub}:
                terms[(hub, other)] = self.default_terms
                terms[(other, hub)] = self.default_terms
        for (source, target), listed in self.corridor_terms.items():
            if source in offered and target in offered:
                terms[(source, target)] = listed
        return tuple(
            Corridor(source, target, snapshot.mid_rate(source, target), listed.spread_bps, listed.fee_minor)
            for (source, target), listed in sorted(terms.items())
        )


def load_packaged_profile(name: str = "default") -> FxProfile:
    """A profile shipped with the package (``netfin/payments/fx/profiles/<name>.toml``)."""
    if not isinstance(name, str) or not _PROFILE_NAME.fullmatch(name):
        raise InvalidInput(f"{name!r} is not a profile name", code="fx_profile_unknown")
    resource = resources.files("netfin.payments.fx").joinpath("profiles", f"{name}.toml")
    if not resource.is_file():
        raise InvalidInput(f"no packaged FX profile named {name!r}", code="fx_profile_unknown")
    return parse_profile(resource.read_bytes(), name=name)


def load_profile(path: Path) -> FxProfile:
    size = path.stat().st_size
    if size > PROFILE_BYTES_MAX:
        raise LimitExceeded(
            f"{path.name} is {size} bytes; a profile is at most {PROFILE_BYTES_MAX}",
            code="fx_profile_too_large",
        )
    return parse_profile(path.read_bytes(), name=path.stem)


def parse_profile(document: bytes | str, *, name: str) -> FxProfile:
    """Validate a TOML profile; every rejection is ``InvalidInput`` with an ``fx_*`` code."""
    if len(document) > PROFILE_BYTES_MAX:
        raise LimitExceeded(
            f"profile {name!r} is over {PROFILE_BYTES_MAX} bytes", code="fx_profile_too_large"
        )
    try:
        data = tomllib.loads(document.decode("utf-8") if isinstance(document, bytes) else document)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise InvalidInput(f"profile {name!r} is not TOML: {error}", code="fx_profile_malformed") from None
    _known_keys(data, _TOP_KEYS, f"profile {name!r}")
    routing = _table(data, "routing", name)
    _known_keys(routing, _ROUTING_KEYS, f"profile {name!r} [routing]")
    default_table = _table(data, "default", name)
    default_terms = _terms(default_table, None, f"profile {name!r} [default]")
    currencies = _currencies(routing.get("currencies"), name)
    hubs = _hubs(routing.get("hubs"), currencies, name)
    return FxProfile(
        name=name,
        hubs=hubs,
        default_terms=default_terms,
        corridor_terms=_corridor_terms(data.get("corridors", []), default_terms, currencies, name),
        currencies=currencies,
        legs_max=_bounded_int(routing, "legs_max", 1, ROUTE_LEGS_MAX, name, "fx_profile_legs_invalid"),
        quote_ttl_seconds=_bounded_int(
            routing, "quote_ttl_seconds", 1, QUOTE_TTL_SECONDS_MAX, name, "fx_profile_ttl_invalid"
        ),
        rates_age_days_max=_bounded_int(
            routing, "rates_age_days_max", 0, RATES_AGE_DAYS_MAX, name, "fx_profile_rates_age_invalid"
        ),
    )


def _known_keys(table: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise InvalidInput(
            f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})",
            code="fx_profile_key_unknown",
        )


def _table(data: Mapping[str, Any], key: str, name: str) -> dict[str, Any]:
    table = data.get(key)
    if not isinstance(table, dict):
        raise InvalidInput(f"profile {name!r} needs a [{key}] table", code="fx_profile_malformed")
    return table


def _bounded_int(table: Mapping[str, Any], key: str, low: int, high: int, name: str, code: str) -> int:
    value = table.get(key)
    if type(value) is not int or not low <= value <= high:
        raise InvalidInput(f"profile {name!r} [routing] {key} must be an integer in {low}..{high}", code=code)
    return value


def _spread(value: object, where: str) -> Decimal:
    if isinstance(value, float):
        raise InvalidInput(
            f'{where}: write spread_bps as a string ("12.5") or an integer; a TOML float is binary',
            code="fx_spread_invalid",
        )
    if type(value) is int:
        return check_spread_bps(Decimal(value), where=where)
    if not isinstance(value, str) or not _SPREAD_TEXT.fullmatch(value):
        raise InvalidInput(f"{where}: spread_bps {value!r} is not a decimal number", code="fx_spread_invalid")
    return check_spread_bps(Decimal(value), where=where)


def _terms(table: Mapping[str, Any], fallback: CorridorTerms | None, where: str) -> CorridorTerms:
    if fallback is None:
        _known_keys(table, _TERMS_KEYS, where)
        missing = sorted(_TERMS_KEYS - set(table))
        if missing:
            raise InvalidInput(f"{where}: missing {', '.join(missing)}", code="fx_profile_malformed")
    spread_bps = _spread(table["spread_bps"], where) if "spread_bps" in table else None
    fee_minor = check_fee_minor(table["fee_minor"], where=where) if "fee_minor" in table else None
    if fallback is not None:
        spread_bps = fallback.spread_bps if spread_bps is None else spread_bps
        fee_minor = fallback.fee_minor if fee_minor is None else fee_minor
    if spread_bps is None or fee_minor is None:
        raise InvalidInput(f"{where}: missing spread_bps or fee_minor", code="fx_profile_malformed")
    return CorridorTerms(spread_bps, fee_minor)


def _profile_currency(code: object, where: str) -> str:
    try:
        return check_currency(code, where=where)
    except InvalidInput as error:
        raise InvalidInput(error.message, code="fx_profile_currency_unknown") from None


def _currencies(value: object, name: str) -> frozenset[str] | None:
    if value is None:
        return None
    where = f"profile {name!r} [routing] currencies"
    if not isinstance(value, list) or not 2 <= len(value) <= CURRENCIES_MAX:
        raise InvalidInput(f"{where}: a list of 2..{CURRENCIES_MAX} codes", code="fx_profile_malformed")
    codes = [_profile_currency(code, where) for code in value]
    if len(set(codes)) != len(codes):
        raise InvalidInput(f"{where}: a currency is listed twice", code="fx_profile_malformed")
    return frozenset(codes)


def _hubs(value: object, currencies: frozenset[str] | None, name: str) -> tuple[str, ...]:
    where = f"profile {name!r} [routing] hubs"
    if not isinstance(value, list) or len(value) > HUBS_MAX:
        raise InvalidInput(f"{where}: a list of at most {HUBS_MAX} codes", code="fx_profile_hub_invalid")
    hubs = tuple(_profile_currency(code, where) for code in value)
    if len(set(hubs)) != len(hubs):
        raise InvalidInput(f"{where}: a hub is listed twice", code="fx_profile_hub_invalid")
    if currencies is not None and not set(hubs) <= currencies:
        raise InvalidInput(f"{where}: every hub must be an offered currency", code="fx_profile_hub_invalid")
    return hubs


def _corridor_terms(
    value: object, default_terms: CorridorTerms, currencies: frozenset[str] | None, name: str
) -> dict[tuple[str, str], CorridorTerms]:
    if not isinstance(value, list) or len(value) > CORRIDORS_MAX:
        raise InvalidInput(
            f"profile {name!r}: [[corridors]] must be at most {CORRIDORS_MAX} tables",
            code="fx_profile_malformed",
        )
    listed: dict[tuple[str, str], CorridorTerms] = {}
    for index, entry in enumerate(value, start=1):
        where = f"profile {name!r} corridor #{index}"
        if not isinstance(entry, dict):
            raise InvalidInput(f"{where}: not a table", code="fx_profile_malformed")
        _known_keys(entry, _CORRIDOR_KEYS, where)
        source = _profile_currency(entry.get("source"), f"{where} source")
        target = _profile_currency(entry.get("target"), f"{where} target")
        where = f"profile {name!r} corridor {source}->{target}"
        if source == target:
            raise InvalidInput(f"{where}: source and target must differ", code="fx_corridor_invalid")
        if currencies is not None and not {source, target} <= currencies:
            raise InvalidInput(
                f"{where}: uses a currency the profile does not offer", code="fx_corridor_invalid"
            )
        if (source, target) in listed:
            raise InvalidInput(f"{where}: listed twice", code="fx_profile_corridor_duplicate")
        listed[(source, target)] = _terms(entry, default_terms, where)
    return listed
