"""FX rejections: each carries a rule-like code that the API shows to the client."""

from __future__ import annotations

from netfin.core.errors import ConfigurationError, Conflict, InvalidInput, NotFound


class FxArbitrageDetected(ConfigurationError):
    """The corridors (rates after spreads) contain a cycle whose product exceeds 1.

    Quoting on such a graph would let money be created by going round the
    cycle, so nothing is quoted until the rates or the profile are fixed.
    ``cycle`` names the currencies in order, the first repeated at the end.
    """

    code = "fx_arbitrage_detected"

    def __init__(self, cycle: tuple[str, ...], detail: str) -> None:
        super().__init__(f"arbitrage cycle {' -> '.join(cycle)}: {detail}")
        self.cycle = cycle


class FxQuoteExpired(Conflict):
    """A quote is honoured exactly until it expires and never after."""

    code = "fx_quote_expired"


class FxNoRoute(InvalidInput):
    """No route within the leg bound delivers a positive amount.

    Codes: ``fx_no_route`` (the corridors do not connect the currencies
    within the leg bound), ``fx_amount_below_fees`` (they do, but the fees
    and rounding consume the whole amount), ``fx_currency_unavailable`` (a
    valid ISO 4217 currency that the rates or the profile do not offer).
    """

    code = "fx_no_route"


class FxRatesUnavailable(NotFound):
    """No reference rates were published on or before the requested date, or
    the latest ones are older than the profile allows (``fx_rates_stale``)."""

    code = "fx_rates_unavailable"
