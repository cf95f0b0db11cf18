"""The dynamic limit policy applied to wallets: risk signals move each root wallet's daily limit.

``review_daily_limits`` walks the payers the risk engine decided on in the
window, reads each one's signals, asks ``risk.limits.LimitPolicy`` for a new
daily limit inside the band (floor: a share of the class's limit; ceiling:
the class's limit), applies it through ``Wallets.set_daily_limit`` (a ledger
chain, audited) and records the change with its reasons in
``risk_limit_changes``. Credit lines join when the credit context lands.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from netfin.core.errors import Conflict
from netfin.identity.model import Actor
from netfin.payments.wallets.service import Wallets
from netfin.risk.limits import BPS, LimitBand, LimitPolicy
from netfin.risk.store import record_limit_change, risk_decisions, signals_of

DAY_NS = 86_400 * 10**9
PAYERS_PER_RUN_MAX = 10_000


@dataclass(frozen=True, slots=True)
class LimitReview:
    window_days: int = 90
    floor_bps: int = 2_000  # the floor is 20% of the class's daily limit
    policy: LimitPolicy = field(default_factory=LimitPolicy)


def review_daily_limits(
    wallets: Wallets, actor: Actor, *, review: LimitReview | None = None, payers_max: int = PAYERS_PER_RUN_MAX
) -> list[dict[str, object]]:
    """Apply the policy to every recently decided payer's root wallets; returns the changes made."""
    review = review or LimitReview()
    now = wallets.clock.now_ns()
    since = now - review.window_days * DAY_NS
    with wallets.engine.connect() as c:
        payers = c.execute(
            sa.select(risk_decisions.c.payer).where(risk_decisions.c.decided_ns >= since).distinct()
            .order_by(risk_decisions.c.payer).limit(min(payers_max, PAYERS_PER_RUN_MAX))
        ).scalars().all()  # fmt: skip
    changes: list[dict[str, object]] = []
    for payer in payers:
        try:
            party_id = int(payer, 16)
        except ValueError:
            continue  # not a party of this bank (a simulated or imported payer)
        signals = signals_of(wallets.engine, payer, since)
        for wallet in wallets.of_party(party_id):
            if wallet.parent_wallet_id is not None:
                continue
            ceiling = wallets.profile_tier_daily_limit(wallet.class_no)
            band = LimitBand(floor_minor=ceiling * review.floor_bps // BPS, ceiling_minor=ceiling)
            proposal = review.policy.propose(signals, wallet.daily_limit, band)
            if proposal is None:
                continue
            target, reasons = proposal
            try:
                wallets.set_daily_limit(actor, wallet.wallet_id, target, reason=",".join(reasons))
            except Conflict:
                continue  # spent more today than the lower limit: the next review tries again
            change = {
                "change_id": f"lc-{wallets.ids.new_id():032x}", "party": payer, "limit_name": "wallet_daily",
                "currency": wallet.currency, "from_minor": wallet.daily_limit, "to_minor": target,
                "reasons": reasons, "changed_ns": now,
            }  # fmt: skip
            record_limit_change(wallets.engine, change)
            changes.append({**change, "wallet_id": wallet.wallet_id})
    return changes
