"""The FX desk: quotes on the right day's rates and honours them until they expire."""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, date, datetime

from netfin.core.clock import NS_PER_SECOND, Clock
from netfin.core.errors import InvalidInput
from netfin.core.ids import IdSource
from netfin.payments.fx.config import FxProfile
from netfin.payments.fx.errors import FxRatesUnavailable
from netfin.payments.fx.model import Quote, QuoteLeg, legs_to_execute
from netfin.payments.fx.rates import ReferenceRates
from netfin.payments.fx.route import FxRouter

ROUTERS_CACHED_MAX = 16


class FxDesk:
    """Reference rates plus a corridor profile, with an injected clock and id source.

    Building the desk compiles (and so checks for arbitrage) the router of the
    latest published day; any other day's router is compiled and checked the
    first time a quote needs it, then kept (at most ``ROUTERS_CACHED_MAX``).
    """

    def __init__(self, rates: ReferenceRates, profile: FxProfile, *, clock: Clock, ids: IdSource) -> None:
        self._rates = rates
        self._profile = profile
        self._clock = clock
        self._ids = ids
        self._routers: OrderedDict[date, FxRouter] = OrderedDict()
        self._router_of(rates.dates[-1])

    @property
    def profile(self) -> FxProfile:
        return self._profile

    def router_on(self, on: date) -> FxRouter:
        """The router of the latest rates on or before ``on``, refused when they are
        older than the profile's ``rates_age_days_max``."""
        if not isinstance(on, date) or isinstance(on, datetime):
            raise InvalidInput("on must be a datetime.date", code="date_invalid")
        snapshot = self._rates.rates_on(on)
        age_days = (on - snapshot.rates_date).days
        if age_days > self._profile.rates_age_days_max:
            raise FxRatesUnavailable(
                f"the latest rates on or before {on.isoformat()} are from {snapshot.rates_date.isoformat()}, "
                f"{age_days} days old (at most {self._profile.rates_age_days_max})",
                code="fx_rates_stale",
            )
        return self._router_of(snapshot.rates_date)

    def quote(
        self, source_currency: str, target_currency: str, amount_minor: int, *, on: date | None = None
    ) -> Quote:
        """Quote the best route on ``on``'s rates (default: today, UTC, by the clock)."""
        if on is None:
            on = datetime.fromtimestamp(self._clock.now_ns() // NS_PER_SECOND, tz=UTC).date()
        router = self.router_on(on)
        return router.quote(source_currency, target_currency, amount_minor, clock=self._clock, ids=self._ids)

    def legs_to_execute(self, quote: Quote) -> tuple[QuoteLeg, ...]:
        """The quote's legs, exactly as quoted, if it has not expired by the clock."""
        return legs_to_execute(quote, self._clock.now_ns())

    def _router_of(self, rates_date: date) -> FxRouter:
        router = self._routers.get(rates_date)
        if router is not None:
            self._routers.move_to_end(rates_date)
            return router
        router = FxRouter.from_rates(self._rates.rates_on(rates_date), self._profile)
        self._routers[rates_date] = router
        if len(self._routers) > ROUTERS_CACHED_MAX:
            self._routers.popitem(last=False)
        return router
