"""Tiered wallets with controllable anonymity (after the e-CNY design).

Purpose: open wallets of a class that the holder's KYC allows, with
sub-wallets, balances and limits (balance, per payment, daily, annual) from
a versioned tier profile; move wallets between classes; let only a
regulator, with a stated reason, learn who holds a pseudonymous wallet.

Invariants: limits are held in the ledger as memo accounts (see
``wallets.model``), so they hold under any concurrency; a wallet row records
the exact profile version (name, version, content hash) that set its limits.

Public names: ``Wallets``, ``Wallet``, ``WalletBalance``, ``WalletStatus``,
``TierProfile``, ``Tier``, ``load_profile``.
"""

from netfin.payments.wallets.model import Wallet, WalletStatus
from netfin.payments.wallets.service import WalletBalance, Wallets
from netfin.payments.wallets.tiers import Tier, TierProfile, load_profile

__all__ = ["Tier", "TierProfile", "Wallet", "WalletBalance", "WalletStatus", "Wallets", "load_profile"]
