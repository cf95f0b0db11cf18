"""The ``wallets`` table and its row codec."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from netfin.payments.wallets.model import Wallet, WalletLedger, WalletStatus
from netfin.storage import metadata

wallets = sa.Table(
    "wallets",
    metadata,
    sa.Column("wallet_id", sa.String(40), primary_key=True),
    sa.Column("party_id", sa.LargeBinary(16), nullable=False, index=True),
    sa.Column("parent_wallet_id", sa.String(40), nullable=True, index=True),
    sa.Column("class_no", sa.SmallInteger, nullable=False),
    sa.Column("profile", sa.String(40), nullable=False),
    sa.Column("profile_version", sa.Integer, nullable=False),
    sa.Column("profile_hash", sa.String(64), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("pseudonym", sa.String(24), nullable=False, unique=True),
    sa.Column("anonymous", sa.Boolean, nullable=False),
    sa.Column("nickname", sa.String(70), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("balance_account_id", sa.LargeBinary(16), nullable=False, unique=True),
    sa.Column("headroom_account_id", sa.LargeBinary(16), nullable=False),
    sa.Column("daily_account_id", sa.LargeBinary(16), nullable=False),
    sa.Column("annual_account_id", sa.LargeBinary(16), nullable=False),
    sa.Column("per_payment_limit", sa.BigInteger, nullable=False),
    sa.Column("balance_limit", sa.BigInteger, nullable=False),
    sa.Column("daily_limit", sa.BigInteger, nullable=False),
    sa.Column("annual_limit", sa.BigInteger, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.CheckConstraint("class_no BETWEEN 1 AND 9", name="class_no_range"),
    sa.CheckConstraint("status IN ('active', 'frozen', 'closed')", name="status_known"),
)

TABLES = (wallets,)


def b16(value: int) -> bytes:
    return value.to_bytes(16, "big")


def wallet_values(w: Wallet) -> dict[str, Any]:
    return {
        "wallet_id": w.wallet_id,
        "party_id": b16(w.party_id),
        "parent_wallet_id": w.parent_wallet_id,
        "class_no": w.class_no,
        "profile": w.profile,
        "profile_version": w.profile_version,
        "profile_hash": w.profile_hash,
        "currency": w.currency,
        "pseudonym": w.pseudonym,
        "anonymous": w.anonymous,
        "nickname": w.nickname,
        "status": w.status.value,
        "balance_account_id": b16(w.accounts.balance),
        "headroom_account_id": b16(w.accounts.headroom),
        "daily_account_id": b16(w.accounts.daily),
        "annual_account_id": b16(w.accounts.annual),
        "per_payment_limit": w.per_payment_limit,
        "balance_limit": w.balance_limit,
        "daily_limit": w.daily_limit,
        "annual_limit": w.annual_limit,
        "created_ns": w.created_ns,
        "updated_ns": w.updated_ns,
    }


def wallet_from_row(r: sa.Row[Any]) -> Wallet:
    i = int.from_bytes
    return Wallet(
        wallet_id=r.wallet_id,
        party_id=i(r.party_id, "big"),
        parent_wallet_id=r.parent_wallet_id,
        class_no=r.class_no,
        profile=r.profile,
        profile_version=r.profile_version,
        profile_hash=r.profile_hash,
        currency=r.currency,
        pseudonym=r.pseudonym,
        anonymous=bool(r.anonymous),
        nickname=r.nickname,
        status=WalletStatus(r.status),
        accounts=WalletLedger(
            i(r.balance_account_id, "big"),
            i(r.headroom_account_id, "big"),
            i(r.daily_account_id, "big"),
            i(r.annual_account_id, "big"),
        ),
        per_payment_limit=r.per_payment_limit,
        balance_limit=r.balance_limit,
        daily_limit=r.daily_limit,
        annual_limit=r.annual_limit,
        created_ns=r.created_ns,
        updated_ns=r.updated_ns,
    )


def load_wallets(connection: sa.Connection, wallet_ids: list[str]) -> dict[str, Wallet]:
    rows = connection.execute(sa.select(wallets).where(wallets.c.wallet_id.in_(wallet_ids)))
    return {r.wallet_id: wallet_from_row(r) for r in rows}
