"""Wallets and the ledger events that hold their limits (pure rules, no I/O).

A root wallet owns four ledger accounts in the profile's currency:

- ``balance``: the money (debits may not exceed credits, history kept);
- ``headroom``: a memo account funded with the balance limit. Every credit
  to the wallet is linked with a debit of the same amount from ``headroom``,
  every debit with a credit back, so ``headroom = limit - balance`` and the
  ledger refuses (``exceeds_credits``) a credit that would pass the limit;
- ``daily`` and ``annual``: memo accounts funded with the daily and annual
  limits. Every outgoing payment is linked with a *pending* debit of the same
  amount from each, with a timeout of one day or one year: while it is
  pending it uses up the window; when it expires the capacity comes back.
  This is the rolling-window rate limit of TigerBeetle's recipes, enforced
  atomically by the ledger rather than by a read-then-write check.

A sub-wallet has its own ``balance`` account and shares its root's memo
accounts, so the root's limits hold for the family together. "Unlimited" is
a funding of ``UNLIMITED`` minor units, so that raising or lowering a limit is
always one transfer of the difference.

The memo accounts and the bank's ``limits`` counterpart are in the wallet's
currency but hold no money; reports of money leave out their codes.

Public names: ``Wallet``, ``WalletStatus``, ``WalletLedger``, ``Leg``, ``LegRole``,
``payment_legs``, ``limit_change_legs``, ``UNLIMITED``, ledger codes ``CODE_*``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from netfin.ledger import Transfer, TransferFlags

# A limit no one reaches: 10**15 minor units (ten trillion yuan).
UNLIMITED = 10**15
DAY_S = 86_400
YEAR_S = 365 * DAY_S

# Chart of accounts (ledger ``code``) for wallets.
CODE_WALLET_BALANCE = 110
CODE_WALLET_HEADROOM = 120
CODE_WALLET_DAILY = 121
CODE_WALLET_ANNUAL = 122
MEMO_CODES = frozenset({CODE_WALLET_HEADROOM, CODE_WALLET_DAILY, CODE_WALLET_ANNUAL})

# Transfer codes.
CODE_PAYMENT = 210
CODE_LIMIT_USE = 211  # memo: a credit uses headroom, a payment uses the windows
CODE_LIMIT_RESTORE = 212  # memo: a debit gives headroom back
CODE_LIMIT_CHANGE = 213  # memo: a tier change moves the funding


class WalletStatus(enum.StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class WalletLedger:
    """The ledger accounts behind one wallet (a sub-wallet's memo ids are its root's)."""

    balance: int
    headroom: int
    daily: int
    annual: int


@dataclass(frozen=True, slots=True)
class Wallet:
    wallet_id: str
    party_id: int
    parent_wallet_id: str | None
    class_no: int
    profile: str
    profile_version: int
    profile_hash: str
    currency: str
    pseudonym: str
    anonymous: bool
    nickname: str
    status: WalletStatus
    accounts: WalletLedger
    per_payment_limit: int
    balance_limit: int
    daily_limit: int
    annual_limit: int
    created_ns: int
    updated_ns: int

    @property
    def root_id(self) -> str:
        return self.parent_wallet_id or self.wallet_id

    def counterparty_name(self, display_name: str) -> str:
        """What a merchant or a member of staff sees: a pseudonym for an anonymous wallet."""
        return self.pseudonym if self.anonymous else display_name


class LegRole(enum.StrEnum):
    """Why an event is in a payment's linked chain; a refusal names the role that failed."""

    MONEY = "money"
    PAYER_DAILY = "payer_daily"
    PAYER_ANNUAL = "payer_annual"
    PAYER_HEADROOM = "payer_headroom"
    PAYEE_HEADROOM = "payee_headroom"
    FX = "fx"


@dataclass(frozen=True, slots=True)
class Leg:
    role: LegRole
    transfer: Transfer


def payment_legs(
    *,
    first_id: int,
    amount: int,
    currency: str,
    debit_account: int,
    credit_account: int,
    limits_account: int,
    payer: WalletLedger | None,
    payee: WalletLedger | None,
    same_family: bool,
    code: int = CODE_PAYMENT,
    user_data_128: int = 0,
) -> list[Leg]:
    """The linked chain for one payment: the money and the limits it uses.

    ``payer``/``payee`` are the memo accounts of the wallets involved (None
    for a bank account). A move inside one wallet family uses no limits.
    Transfer ids are ``first_id + k``; the caller reserves the range.
    """

    def leg(role: LegRole, debit: int, credit: int, code: int, timeout: int = 0) -> Leg:
        flags = TransferFlags.PENDING if timeout else TransferFlags.NONE
        transfer = Transfer(0, debit, credit, amount, currency, code, flags=flags, timeout=timeout,
                            user_data_128=user_data_128)  # fmt: skip
        return Leg(role, transfer)

    legs = [leg(LegRole.MONEY, debit_account, credit_account, code)]
    if not same_family and payer is not None:
        legs.append(leg(LegRole.PAYER_DAILY, payer.daily, limits_account, CODE_LIMIT_USE, DAY_S))
        legs.append(leg(LegRole.PAYER_ANNUAL, payer.annual, limits_account, CODE_LIMIT_USE, YEAR_S))
        legs.append(leg(LegRole.PAYER_HEADROOM, limits_account, payer.headroom, CODE_LIMIT_RESTORE))
    if not same_family and payee is not None:
        legs.append(leg(LegRole.PAYEE_HEADROOM, payee.headroom, limits_account, CODE_LIMIT_USE))
    return link(legs, first_id)


def link(legs: list[Leg], first_id: int) -> list[Leg]:
    """Number the chain ``first_id + k`` and link every event but the last."""
    for k, leg in enumerate(legs):
        leg.transfer.id = first_id + k
        if k < len(legs) - 1:
            leg.transfer.flags |= TransferFlags.LINKED
    return legs


def limit_change_legs(
    *,
    first_id: int,
    currency: str,
    limits_account: int,
    accounts: WalletLedger,
    old: tuple[int, int, int],
    new: tuple[int, int, int],
) -> list[Leg]:
    """Move each memo account's funding from the old (balance, daily, annual) limits to the new.

    A lowering debits the memo account, so the ledger refuses it when the
    wallet holds more than the new balance limit or has already spent more
    than the new daily or annual limit within the window.
    """
    legs: list[Leg] = []
    roles = (LegRole.PAYEE_HEADROOM, LegRole.PAYER_DAILY, LegRole.PAYER_ANNUAL)
    memo = (accounts.headroom, accounts.daily, accounts.annual)
    for role, account, before, after in zip(roles, memo, old, new, strict=True):
        if after > before:
            legs.append(
                Leg(role, Transfer(0, limits_account, account, after - before, currency, CODE_LIMIT_CHANGE))
            )
        elif after < before:
            legs.append(
                Leg(role, Transfer(0, account, limits_account, before - after, currency, CODE_LIMIT_CHANGE))
            )
    return link(legs, first_id)


def reserve_ids(new_id: int) -> int:
    """A base id with room for a chain of up to 16 transfers (``base + 0 .. base + 15``)."""
    return (new_id >> 4) << 4 or 16


CHAIN_MAX = 16
