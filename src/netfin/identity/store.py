"""Tables of the identity context: parties, identifiers, customer and bank accounts."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from netfin.identity.model import (
    AccountStatus,
    CustomerAccount,
    KycLevel,
    Party,
    PartyKind,
    PartyStatus,
    Role,
)
from netfin.storage import metadata
from netfin.storage.reads import PointReads

parties = sa.Table(
    "parties",
    metadata,
    sa.Column("party_id", sa.LargeBinary(16), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("display_name", sa.String(140), nullable=False),
    sa.Column("phone", sa.String(16), nullable=False),
    sa.Column("kyc_level", sa.SmallInteger, nullable=False),
    sa.Column("roles", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
)

party_identifiers = sa.Table(
    "party_identifiers",
    metadata,
    sa.Column("scheme", sa.String(24), primary_key=True),
    sa.Column("value", sa.String(64), primary_key=True),
    sa.Column("party_id", sa.LargeBinary(16), nullable=False, index=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
)

kyc_events = sa.Table(
    "kyc_events",
    metadata,
    sa.Column("party_id", sa.LargeBinary(16), primary_key=True),
    sa.Column("level", sa.SmallInteger, primary_key=True),
    sa.Column("evidence", sa.String(32), nullable=False),
    sa.Column("reference", sa.String(128), nullable=False),
    sa.Column("recorded_by", sa.String(64), nullable=False),
    sa.Column("at_ns", sa.BigInteger, nullable=False),
)

customer_accounts = sa.Table(
    "customer_accounts",
    metadata,
    sa.Column("account_id", sa.String(40), primary_key=True),
    sa.Column("party_id", sa.LargeBinary(16), nullable=False, index=True),
    sa.Column("ledger_account_id", sa.LargeBinary(16), nullable=False, unique=True),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("nickname", sa.String(70), nullable=False),
    sa.Column("iban", sa.String(34), nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
)

# The bank's own ledger accounts per currency and purpose (funding, clearing).
bank_accounts = sa.Table(
    "bank_accounts",
    metadata,
    sa.Column("currency", sa.String(3), primary_key=True),
    sa.Column("purpose", sa.String(32), primary_key=True),
    sa.Column("ledger_account_id", sa.LargeBinary(16), nullable=False, unique=True),
)

TABLES = (parties, party_identifiers, kyc_events, customer_accounts, bank_accounts)


def b16(value: int) -> bytes:
    return value.to_bytes(16, "big")


def i16(value: bytes) -> int:
    return int.from_bytes(value, "big")


def party_values(party: Party, updated_ns: int) -> dict[str, Any]:
    return {
        "party_id": b16(party.party_id),
        "kind": party.kind.value,
        "display_name": party.display_name,
        "phone": party.phone,
        "kyc_level": int(party.kyc_level),
        "roles": roles_text(party.roles),
        "status": party.status.value,
        "created_ns": party.created_ns,
        "updated_ns": updated_ns,
    }


def roles_text(roles: Iterable[Role]) -> str:
    return ",".join(sorted(r.value for r in roles))


def party_from_row(row: sa.Row[Any]) -> Party:
    return Party(
        party_id=i16(row.party_id),
        kind=PartyKind(row.kind),
        display_name=row.display_name,
        phone=row.phone,
        kyc_level=KycLevel(row.kyc_level),
        roles=frozenset(Role(r) for r in row.roles.split(",") if r),
        status=PartyStatus(row.status),
        created_ns=row.created_ns,
    )


def account_values(account: CustomerAccount) -> dict[str, Any]:
    return {
        "account_id": account.account_id,
        "party_id": b16(account.party_id),
        "ledger_account_id": b16(account.ledger_account_id),
        "currency": account.currency,
        "nickname": account.nickname,
        "iban": account.iban,
        "status": account.status.value,
        "created_ns": account.created_ns,
    }


def account_from_row(row: Any) -> CustomerAccount:
    """A row with the table's column names as attributes (a SQLAlchemy row or a named tuple)."""
    return CustomerAccount(
        account_id=row.account_id,
        party_id=i16(row.party_id),
        ledger_account_id=i16(row.ledger_account_id),
        currency=row.currency,
        nickname=row.nickname,
        iban=row.iban,
        status=AccountStatus(row.status),
        created_ns=row.created_ns,
    )


def load_party(connection: sa.Connection, party_id: int) -> Party | None:
    row = connection.execute(sa.select(parties).where(parties.c.party_id == b16(party_id))).first()
    return None if row is None else party_from_row(row)


# Customer accounts through point reads (``netfin.storage.reads``, PostgreSQL): one round trip.
AccountRow = namedtuple("AccountRow", [c.name for c in customer_accounts.c])  # type: ignore[misc]
ACCOUNT_COLUMNS_SQL = ", ".join(c.name for c in customer_accounts.c)


def read_accounts(reads: PointReads, account_ids: Sequence[str]) -> list[CustomerAccount]:
    """As ``load_accounts``, on the point-read pool."""
    if not account_ids:
        return []
    sql = (
        f"SELECT {ACCOUNT_COLUMNS_SQL} FROM customer_accounts WHERE account_id = ANY(%s) ORDER BY account_id"
    )
    rows = reads.run(lambda c: c.execute(sql, (list(account_ids),)).fetchall())
    return [account_from_row(AccountRow(*r)) for r in rows]


def read_account_by_iban(reads: PointReads, iban: str) -> CustomerAccount | None:
    row = reads.one(f"SELECT {ACCOUNT_COLUMNS_SQL} FROM customer_accounts WHERE iban = %s", (iban,))
    return None if row is None else account_from_row(AccountRow(*row))


def load_account_by_iban(connection: sa.Connection, iban: str) -> CustomerAccount | None:
    row = connection.execute(sa.select(customer_accounts).where(customer_accounts.c.iban == iban)).first()
    return None if row is None else account_from_row(row)


def load_accounts(connection: sa.Connection, account_ids: Sequence[str]) -> list[CustomerAccount]:
    if not account_ids:
        return []
    rows = connection.execute(
        sa.select(customer_accounts)
        .where(customer_accounts.c.account_id.in_(list(account_ids)))
        .order_by(customer_accounts.c.account_id)
    )
    return [account_from_row(r) for r in rows]
