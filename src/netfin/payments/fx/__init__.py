"""FX: reference rates, corridor profiles and best-route quotes (pure domain code).

Purpose: price a cross-currency payment. Reference rates come from the ECB
files ("1 EUR = x CCY"); a corridor profile (TOML) says which directed
corridors exist and what each costs (a spread in basis points and a fixed fee
in the source currency's minor units); a router finds the route through
intermediate currencies that delivers the most to the beneficiary, and a
quote fixes that route, leg by leg, for a short time.

Invariants:
- Amounts are integer minor units and rates are ``Decimal``; no float is on
  any path. Each leg takes its fee, converts at the mid rate less the spread
  (exactly) and rounds DOWN (ROUND_FLOOR) to whole target minor units; that is
  the only rounding (``model``).
- The route is the best over every route of at most ``legs_max`` legs, for the
  actual amount (fixed fees make the best route amount-dependent).
- Corridors whose effective rates allow an arbitrage cycle are refused with
  ``fx_arbitrage_detected`` when a router is built and again at quote time.
- A quote is honoured exactly while ``now_ns < expires_ns`` and refused with
  ``fx_quote_expired`` after; its legs carry everything the ledger needs.
- Everything has a named maximum: currencies, corridors, legs, spreads, fees,
  amounts (64-bit), quote lifetime, file sizes.

Public names: ``ReferenceRates``, ``RateSnapshot``, ``load_ecb_rates``,
``parse_ecb_csv``, ``FxProfile``, ``parse_profile``, ``load_profile``,
``load_packaged_profile``, ``Corridor``, ``CorridorTerms``, ``FxRouter``,
``FxDesk``, ``Quote``, ``QuoteLeg``, ``legs_to_execute``,
``FxArbitrageDetected``, ``FxQuoteExpired``, ``FxNoRoute``,
``FxRatesUnavailable``.
"""

from netfin.payments.fx.config import FxProfile, load_packaged_profile, load_profile, parse_profile
from netfin.payments.fx.errors import FxArbitrageDetected, FxNoRoute, FxQuoteExpired, FxRatesUnavailable
from netfin.payments.fx.model import Corridor, CorridorTerms, Quote, QuoteLeg, legs_to_execute
from netfin.payments.fx.rates import RateSnapshot, ReferenceRates, load_ecb_rates, parse_ecb_csv
from netfin.payments.fx.route import FxRouter
from netfin.payments.fx.service import FxDesk

__all__ = [
    "Corridor",
    "CorridorTerms",
    "FxArbitrageDetected",
    "FxDesk",
    "FxNoRoute",
    "FxProfile",
    "FxQuoteExpired",
    "FxRatesUnavailable",
    "FxRouter",
    "Quote",
    "QuoteLeg",
    "RateSnapshot",
    "ReferenceRates",
    "legs_to_execute",
    "load_ecb_rates",
    "load_packaged_profile",
    "load_profile",
    "parse_ecb_csv",
    "parse_profile",
]
