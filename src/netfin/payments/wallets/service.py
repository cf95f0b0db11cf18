"""Wallet use cases: open, sub-wallets, balances, tier changes, and the regulator's link.

Every limit is held in the ledger (see ``wallets.model``), so two payments
racing on one wallet cannot both pass a limit that only one fits: the ledger
applies linked chains one at a time and refuses the chain that would overdraw
a memo account.

Invariants:
- a wallet's class never needs more KYC than its holder has;
- for a root wallet, ``headroom + sum(family balances) == balance_limit``;
- only a regulator, with a stated reason, learns who holds a pseudonym, and
  that act is written to the audit log before the answer is returned.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

import sqlalchemy as sa

from netfin.core.clock import Clock
from netfin.core.errors import Conflict, Forbidden, InvalidInput, LimitExceeded, NotFound
from netfin.core.ids import IdSource, format_id
from netfin.identity.model import Actor, Party, PartyStatus, Role, validate_nickname
from netfin.identity.service import AuditSink, Identity, audit_change
from netfin.ledger import Account, AccountFlags, CreateAccountResult, CreateTransferResult, Ledger
from netfin.payments.wallets import store
from netfin.payments.wallets.model import (
    CODE_WALLET_ANNUAL,
    CODE_WALLET_BALANCE,
    CODE_WALLET_DAILY,
    CODE_WALLET_HEADROOM,
    UNLIMITED,
    LegRole,
    Wallet,
    WalletLedger,
    WalletStatus,
    limit_change_legs,
    reserve_ids,
)
from netfin.payments.wallets.tiers import Tier, TierProfile

WALLETS_PER_PARTY_MAX = 32
REASON_LENGTH_MIN = 10
REASON_LENGTH_MAX = 500
_PSEUDONYM_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True, slots=True)
class WalletBalance:
    """What a holder sees: the money and what each limit still allows."""

    wallet_id: str
    currency: str
    balance: int
    balance_room: int  # how much more the family may receive
    daily_room: int
    annual_room: int
    per_payment_limit: int


def _limit(value: int | None) -> int:
    return UNLIMITED if value is None else value


class Wallets:
    def __init__(
        self,
        engine: sa.Engine,
        ledger: Ledger,
        identity: Identity,
        audit: AuditSink,
        profile: TierProfile,
        *,
        clock: Clock,
        ids: IdSource,
    ) -> None:
        self.engine = engine
        self.ledger = ledger
        self.identity = identity
        self.audit = audit
        self.profile = profile
        self.clock = clock
        self.ids = ids

    # Opening -------------------------------------------------------------

    def open(self, actor: Actor, party_id: int, *, class_no: int | None = None, nickname: str = "") -> Wallet:
        """A root wallet of ``class_no`` (default: the strongest class the holder's KYC allows)."""
        nickname = validate_nickname(nickname)
        party = self._active_party(party_id)
        tier = self.profile.tier_for_kyc(party.kyc_level) if class_no is None else self._tier(class_no)
        self._check_kyc(tier, party)
        self._check_count(party_id)
        accounts = self._create_accounts(root=None, currency=self.profile.currency, tier=tier)
        wallet = self._new_wallet(party_id, None, tier, accounts, nickname)
        wallet = self._insert(wallet)
        audit_change(
            self.audit,
            actor,
            "wallet.open",
            "wallet",
            wallet.wallet_id,
            {"class": tier.class_no, "profile": self.profile.name, "profile_version": self.profile.version},
        )
        return wallet

    def open_sub_wallet(self, actor: Actor, parent_wallet_id: str, *, nickname: str = "") -> Wallet:
        """A sub-wallet: its own balance, its root's limits."""
        nickname = validate_nickname(nickname)
        parent = self.get(parent_wallet_id)
        if parent.parent_wallet_id is not None:
            raise InvalidInput("a sub-wallet cannot have sub-wallets", code="sub_wallet_nesting")
        if parent.status is not WalletStatus.ACTIVE:
            raise Conflict("the wallet is not active", code="wallet_not_active")
        self._active_party(parent.party_id)
        tier = self._tier(parent.class_no)
        if len(self.family(parent.wallet_id)) - 1 >= tier.sub_wallets_max:
            raise LimitExceeded(
                f"class {tier.class_no} wallets have at most {tier.sub_wallets_max} sub-wallets",
                code="sub_wallets_too_many",
            )
        self._check_count(parent.party_id)
        accounts = self._create_accounts(root=parent.accounts, currency=parent.currency, tier=tier)
        wallet = self._new_wallet(parent.party_id, parent.wallet_id, tier, accounts, nickname)
        wallet = self._insert(wallet)
        audit_change(
            self.audit, actor, "wallet.open_sub", "wallet", wallet.wallet_id, {"parent": parent.wallet_id}
        )
        return wallet

    def _new_wallet(
        self, party_id: int, parent: str | None, tier: Tier, accounts: WalletLedger, nickname: str
    ) -> Wallet:
        now = self.clock.now_ns()
        return Wallet(
            wallet_id="w-" + format_id(self.ids.new_id()),
            party_id=party_id,
            parent_wallet_id=parent,
            class_no=tier.class_no,
            profile=self.profile.name,
            profile_version=self.profile.version,
            profile_hash=self.profile.content_hash,
            currency=self.profile.currency,
            pseudonym="",
            anonymous=tier.anonymous,
            nickname=nickname,
            status=WalletStatus.ACTIVE,
            accounts=accounts,
            per_payment_limit=_limit(tier.per_payment_limit),
            balance_limit=_limit(tier.balance_limit),
            daily_limit=_limit(tier.daily_limit),
            annual_limit=_limit(tier.annual_limit),
            created_ns=now,
            updated_ns=now,
        )

    def _create_accounts(self, *, root: WalletLedger | None, currency: str, tier: Tier) -> WalletLedger:
        """The wallet's ledger accounts; a root's memo accounts are funded with its limits."""
        balance = self.ids.new_id()
        new = [
            Account(
                balance,
                currency,
                CODE_WALLET_BALANCE,
                flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.HISTORY,
            )
        ]
        if root is None:
            memo = WalletLedger(balance, self.ids.new_id(), self.ids.new_id(), self.ids.new_id())
            for account_id, code in (
                (memo.headroom, CODE_WALLET_HEADROOM),
                (memo.daily, CODE_WALLET_DAILY),
                (memo.annual, CODE_WALLET_ANNUAL),
            ):
                new.append(
                    Account(account_id, currency, code, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
                )
        else:
            memo = replace(root, balance=balance)
        results = self.ledger.create_accounts(new)
        if any(r is not CreateAccountResult.OK for r in results):
            raise Conflict(
                f"the ledger refused the wallet's accounts: {results}", code="wallet_accounts_refused"
            )
        if root is None:
            self._move_limits(memo, currency, (0, 0, 0), self._funding(tier))
        return memo

    @staticmethod
    def _funding(tier: Tier) -> tuple[int, int, int]:
        return (_limit(tier.balance_limit), _limit(tier.daily_limit), _limit(tier.annual_limit))

    def _move_limits(
        self, memo: WalletLedger, currency: str, old: tuple[int, int, int], new: tuple[int, int, int]
    ) -> list[tuple[LegRole, CreateTransferResult]]:
        legs = limit_change_legs(
            first_id=reserve_ids(self.ids.new_id()),
            currency=currency,
            limits_account=self.identity.bank_account(currency, "limits"),
            accounts=memo,
            old=old,
            new=new,
        )
        if not legs:
            return []
        results = self.ledger.create_transfers([leg.transfer for leg in legs])
        return [(leg.role, r) for leg, r in zip(legs, results, strict=True)]

    def _insert(self, wallet: Wallet) -> Wallet:
        for _ in range(8):
            named = replace(
                wallet, pseudonym="W" + "".join(secrets.choice(_PSEUDONYM_ALPHABET) for _ in range(11))
            )
            try:
                with self.engine.begin() as connection:
                    connection.execute(sa.insert(store.wallets), [store.wallet_values(named)])
                return named
            except sa.exc.IntegrityError:
                continue
        raise Conflict("could not allocate a unique pseudonym", code="pseudonym_exhausted")

    # Reading -------------------------------------------------------------

    def get(self, wallet_id: str) -> Wallet:
        if not isinstance(wallet_id, str) or not wallet_id.startswith("w-") or len(wallet_id) > 40:
            raise NotFound("no such wallet", code="wallet_not_found")
        with self.engine.connect() as connection:
            found = store.load_wallets(connection, [wallet_id])
        if wallet_id not in found:
            raise NotFound("no such wallet", code="wallet_not_found")
        return found[wallet_id]

    def get_many(self, wallet_ids: list[str]) -> dict[str, Wallet]:
        with self.engine.connect() as connection:
            return store.load_wallets(connection, wallet_ids)

    def get_for_party(self, party_id: int, wallet_id: str) -> Wallet:
        """A holder's own wallet; someone else's is reported as absent."""
        wallet = self.get(wallet_id)
        if wallet.party_id != party_id:
            raise NotFound("no such wallet", code="wallet_not_found")
        return wallet

    def of_party(self, party_id: int) -> list[Wallet]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(store.wallets)
                .where(store.wallets.c.party_id == store.b16(party_id))
                .order_by(store.wallets.c.created_ns)
            )
            return [store.wallet_from_row(r) for r in rows]

    def family(self, root_wallet_id: str) -> list[Wallet]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(store.wallets)
                .where(
                    sa.or_(
                        store.wallets.c.wallet_id == root_wallet_id,
                        store.wallets.c.parent_wallet_id == root_wallet_id,
                    )
                )
                .order_by(store.wallets.c.created_ns)
            )
            return [store.wallet_from_row(r) for r in rows]

    def by_pseudonym(self, pseudonym: str) -> Wallet:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(store.wallets).where(store.wallets.c.pseudonym == pseudonym)
            ).first()
        if row is None:
            raise NotFound("no such wallet", code="wallet_not_found")
        return store.wallet_from_row(row)

    def balance(self, wallet: Wallet) -> WalletBalance:
        a = wallet.accounts
        found = {x.id: x for x in self.ledger.lookup_accounts([a.balance, a.headroom, a.daily, a.annual])}

        def room(account_id: int) -> int:
            x = found[account_id]
            return x.credits_posted - x.debits_posted - x.debits_pending

        return WalletBalance(
            wallet_id=wallet.wallet_id,
            currency=wallet.currency,
            balance=found[a.balance].balance(),
            balance_room=room(a.headroom),
            daily_room=min(room(a.daily), room(a.annual)),
            annual_room=room(a.annual),
            per_payment_limit=wallet.per_payment_limit,
        )

    # Tier changes ----------------------------------------------------------

    def change_class(self, actor: Actor, wallet_id: str, class_no: int) -> Wallet:
        """Move a root wallet (and so its family) to another class of the current profile.

        An upgrade needs the KYC the class requires. A downgrade is refused
        while the family holds more than the new balance limit
        (``wallet_balance_above_limit``) or has spent more than the new daily
        or annual limit within the window (``wallet_recent_spend_above_limit``).
        """
        wallet = self.get(wallet_id)
        if wallet.parent_wallet_id is not None:
            raise InvalidInput("a sub-wallet takes its class from its parent", code="sub_wallet_class")
        if wallet.status is WalletStatus.CLOSED:
            raise Conflict("the wallet is closed", code="wallet_closed")
        tier = self._tier(class_no)
        if tier.class_no == wallet.class_no and wallet.profile_hash == self.profile.content_hash:
            return wallet
        self._check_kyc(tier, self._active_party(wallet.party_id))
        if len(self.family(wallet.wallet_id)) - 1 > tier.sub_wallets_max:
            raise Conflict(
                "the wallet has more sub-wallets than the class allows", code="sub_wallets_too_many"
            )
        old = (wallet.balance_limit, wallet.daily_limit, wallet.annual_limit)
        results = self._move_limits(wallet.accounts, wallet.currency, old, self._funding(tier))
        for role, result in results:
            if result is CreateTransferResult.EXCEEDS_CREDITS:
                if role is LegRole.PAYEE_HEADROOM:
                    raise Conflict(
                        "the wallet holds more than the new balance limit", code="wallet_balance_above_limit"
                    )
                raise Conflict("recent payments exceed the new limit", code="wallet_recent_spend_above_limit")
            if result not in (CreateTransferResult.OK, CreateTransferResult.LINKED_EVENT_FAILED):
                raise Conflict(f"the ledger refused the limit change: {result.value}", code=result.value)
        now = self.clock.now_ns()
        values = {
            "class_no": tier.class_no,
            "profile": self.profile.name,
            "profile_version": self.profile.version,
            "profile_hash": self.profile.content_hash,
            "anonymous": tier.anonymous,
            "per_payment_limit": _limit(tier.per_payment_limit),
            "balance_limit": _limit(tier.balance_limit),
            "daily_limit": _limit(tier.daily_limit),
            "annual_limit": _limit(tier.annual_limit),
            "updated_ns": now,
        }
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(store.wallets)
                .where(
                    sa.or_(
                        store.wallets.c.wallet_id == wallet.wallet_id,
                        store.wallets.c.parent_wallet_id == wallet.wallet_id,
                    )
                )
                .values(**values)
            )
        audit_change(
            self.audit,
            actor,
            "wallet.class",
            "wallet",
            wallet.wallet_id,
            {"from": wallet.class_no, "to": tier.class_no, "profile_version": self.profile.version},
        )
        return self.get(wallet.wallet_id)

    def profile_tier_daily_limit(self, class_no: int) -> int:
        """The daily limit the current profile gives a class (the ceiling of dynamic limits)."""
        return _limit(self._tier(class_no).daily_limit)

    def set_daily_limit(self, actor: Actor, wallet_id: str, daily_limit: int, *, reason: str) -> Wallet:
        """Move a root wallet's daily limit within its class (the dynamic limit policy's lever).

        The ledger's daily memo account is refunded to the new limit in one
        chain; a lowering below what the family spent in the rolling day is
        refused (``wallet_recent_spend_above_limit``). A later class change
        resets the limit to the class's.
        """
        wallet = self.get(wallet_id)
        if wallet.parent_wallet_id is not None:
            raise InvalidInput("a sub-wallet takes its limits from its parent", code="sub_wallet_limits")
        ceiling = _limit(self._tier(wallet.class_no).daily_limit)
        if type(daily_limit) is not int or not 0 <= daily_limit <= ceiling:
            raise InvalidInput(f"the daily limit must be 0..{ceiling} for class {wallet.class_no}",
                               code="wallet_daily_limit_out_of_band")  # fmt: skip
        if daily_limit == wallet.daily_limit:
            return wallet
        old = (wallet.balance_limit, wallet.daily_limit, wallet.annual_limit)
        new = (wallet.balance_limit, daily_limit, wallet.annual_limit)
        for _, result in self._move_limits(wallet.accounts, wallet.currency, old, new):
            if result is CreateTransferResult.EXCEEDS_CREDITS:
                raise Conflict("recent payments exceed the new limit", code="wallet_recent_spend_above_limit")
            if result not in (CreateTransferResult.OK, CreateTransferResult.LINKED_EVENT_FAILED):
                raise Conflict(f"the ledger refused the limit change: {result.value}", code=result.value)
        family = sa.or_(
            store.wallets.c.wallet_id == wallet.wallet_id,
            store.wallets.c.parent_wallet_id == wallet.wallet_id,
        )
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(store.wallets)
                .where(family)
                .values(daily_limit=daily_limit, updated_ns=self.clock.now_ns())
            )
        audit_change(self.audit, actor, "wallet.daily_limit", "wallet", wallet.wallet_id,
                     {"from": wallet.daily_limit, "to": daily_limit, "reason": reason[:200]})  # fmt: skip
        return self.get(wallet.wallet_id)

    def set_status(self, actor: Actor, wallet_id: str, status: WalletStatus, *, reason: str) -> Wallet:
        wallet = self.get(wallet_id)
        _check_reason(reason)
        if wallet.status is WalletStatus.CLOSED:
            raise Conflict("the wallet is closed", code="wallet_closed")
        if status is WalletStatus.CLOSED and self.balance(wallet).balance != 0:
            raise Conflict("only an empty wallet can be closed", code="wallet_not_empty")
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(store.wallets)
                .where(store.wallets.c.wallet_id == wallet_id)
                .values(status=status.value, updated_ns=self.clock.now_ns())
            )
        audit_change(
            self.audit,
            actor,
            "wallet.status",
            "wallet",
            wallet_id,
            {"from": wallet.status.value, "to": status.value, "reason": reason},
        )
        return self.get(wallet_id)

    # Controllable anonymity --------------------------------------------------

    def reveal_holder(self, actor: Actor, pseudonym: str, *, reason: str) -> Party:
        """Who holds a pseudonymous wallet: for a regulator only, with a reason, audited first.

        ``actor.kind`` is the role the caller authenticated as.
        """
        if actor.kind != Role.REGULATOR.value:
            self.audit.record(
                actor_kind=actor.kind,
                actor_id=actor.id,
                action="wallet.reveal",
                outcome="refused",
                subject_kind="wallet",
                subject_id=str(pseudonym)[:40],
                reason="regulator_only",
                interaction_id=actor.interaction_id,
            )
            raise Forbidden("only a regulator may link a pseudonym to a person", code="regulator_only")
        _check_reason(reason)
        wallet = self.by_pseudonym(pseudonym)
        audit_change(
            self.audit,
            actor,
            "wallet.reveal",
            "wallet",
            wallet.wallet_id,
            {"pseudonym": pseudonym, "reason": reason},
        )
        return self.identity.get_party(wallet.party_id)

    # Checks ------------------------------------------------------------------

    def _tier(self, class_no: int) -> Tier:
        if isinstance(class_no, bool) or not isinstance(class_no, int):
            raise InvalidInput("a wallet class is a number", code="wallet_class_invalid")
        return self.profile.tier(class_no)

    def _active_party(self, party_id: int) -> Party:
        party = self.identity.get_party(party_id)
        if party.status is not PartyStatus.ACTIVE:
            raise Forbidden("the party is not active", code="party_not_active")
        return party

    @staticmethod
    def _check_kyc(tier: Tier, party: Party) -> None:
        if party.kyc_level < tier.kyc_level:
            raise Forbidden(
                f"a class {tier.class_no} wallet needs KYC level {int(tier.kyc_level)}; "
                f"the holder has {int(party.kyc_level)}",
                code="kyc_level_too_low",
            )

    def _check_count(self, party_id: int) -> None:
        if len(self.of_party(party_id)) >= WALLETS_PER_PARTY_MAX:
            raise LimitExceeded(f"at most {WALLETS_PER_PARTY_MAX} wallets per party", code="wallets_too_many")


def _check_reason(reason: str) -> None:
    if not isinstance(reason, str) or not REASON_LENGTH_MIN <= len(reason.strip()) <= REASON_LENGTH_MAX:
        raise InvalidInput(
            f"a reason of {REASON_LENGTH_MIN} to {REASON_LENGTH_MAX} characters is required",
            code="reason_required",
        )
