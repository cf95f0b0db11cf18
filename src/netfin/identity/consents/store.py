"""The ``consents`` table and its row codec."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import orjson
import sqlalchemy as sa

from netfin.identity.consents.model import Consent, ConsentKind, ConsentStatus, Permission
from netfin.identity.model import CustomerAccount
from netfin.identity.store import AccountRow, account_from_row, customer_accounts
from netfin.storage import metadata
from netfin.storage.reads import PointReads

consents = sa.Table(
    "consents",
    metadata,
    sa.Column("consent_id", sa.String(128), primary_key=True),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(4), nullable=False),
    sa.Column("party_id", sa.LargeBinary(16), nullable=True),
    sa.Column("permissions", sa.Text, nullable=False),
    sa.Column("expiration_ns", sa.BigInteger, nullable=True),
    sa.Column("transaction_from_ns", sa.BigInteger, nullable=True),
    sa.Column("transaction_to_ns", sa.BigInteger, nullable=True),
    sa.Column("account_ids", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("status_updated_ns", sa.BigInteger, nullable=False),
    sa.Column("authorised_ns", sa.BigInteger, nullable=True),
    sa.Column("status_reason", sa.String(64), nullable=True),
    sa.Index("ix_consents_client_id_created_ns", "client_id", "created_ns"),
    sa.Index("ix_consents_party_id_created_ns", "party_id", "created_ns"),
)

TABLES = (consents,)


def consent_values(consent: Consent) -> dict[str, Any]:
    return {
        "consent_id": consent.consent_id,
        "kind": consent.kind.value,
        "client_id": consent.client_id,
        "status": consent.status.value,
        "party_id": None if consent.party_id is None else consent.party_id.to_bytes(16, "big"),
        "permissions": orjson.dumps(sorted(p.value for p in consent.permissions)).decode(),
        "expiration_ns": consent.expiration_ns,
        "transaction_from_ns": consent.transaction_from_ns,
        "transaction_to_ns": consent.transaction_to_ns,
        "account_ids": orjson.dumps(list(consent.account_ids)).decode(),
        "payload": orjson.dumps(consent.payload, option=orjson.OPT_SORT_KEYS).decode(),
        "created_ns": consent.created_ns,
        "status_updated_ns": consent.status_updated_ns,
        "authorised_ns": consent.authorised_ns,
        "status_reason": consent.status_reason,
    }


def consent_from_row(row: Any) -> Consent:
    """A row with the table's column names as attributes (a SQLAlchemy row or a named tuple)."""
    return Consent(
        consent_id=row.consent_id,
        kind=ConsentKind(row.kind),
        client_id=row.client_id,
        status=ConsentStatus(row.status),
        created_ns=row.created_ns,
        status_updated_ns=row.status_updated_ns,
        party_id=None if row.party_id is None else int.from_bytes(row.party_id, "big"),
        permissions=frozenset(Permission(p) for p in orjson.loads(row.permissions)),
        expiration_ns=row.expiration_ns,
        transaction_from_ns=row.transaction_from_ns,
        transaction_to_ns=row.transaction_to_ns,
        account_ids=tuple(orjson.loads(row.account_ids)),
        payload=orjson.loads(row.payload),
        authorised_ns=row.authorised_ns,
        status_reason=row.status_reason,
    )


def load(connection: sa.Connection, consent_id: str, *, for_update: bool = False) -> Consent | None:
    query = sa.select(consents).where(consents.c.consent_id == consent_id)
    if for_update:
        query = query.with_for_update()
    row = connection.execute(query).first()
    return None if row is None else consent_from_row(row)


def set_status(
    connection: sa.Connection,
    consent_id: str,
    *,
    expected: ConsentStatus,
    target: ConsentStatus,
    now_ns: int,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Compare-and-set the status; False when another request changed it first."""
    result = connection.execute(
        sa.update(consents)
        .where(consents.c.consent_id == consent_id, consents.c.status == expected.value)
        .values(status=target.value, status_updated_ns=now_ns, **(extra or {}))
    )
    return result.rowcount == 1


# ``set_status`` for a payment consent being used, as the body of a data-modifying CTE
# (PostgreSQL), for a caller that writes what the consent pays in the same statement.
CONSUME_SQL = (
    "UPDATE consents SET status = %(consume_target)s, status_updated_ns = %(consume_now)s "
    "WHERE consent_id = %(consume_consent_id)s AND status = %(consume_expected)s RETURNING 1"
)


# A consent and one customer account in one statement (see ``load_with_account``).
_ConsentRow = namedtuple("_ConsentRow", [c.name for c in consents.c])  # type: ignore[misc]
_CONSENT_WIDTH = len(consents.c)
_CONSENT_COLUMNS_SQL = ", ".join(c.name for c in consents.c)


def read(reads: PointReads, consent_id: str) -> Consent | None:
    """As ``load``, on the point-read pool."""
    row = reads.one(f"SELECT {_CONSENT_COLUMNS_SQL} FROM consents WHERE consent_id = %s", (consent_id,))
    return None if row is None else consent_from_row(_ConsentRow(*row))


CONSENT_AND_ACCOUNT_SQL = (
    "SELECT "
    + ", ".join([f"c.{c.name}" for c in consents.c] + [f"a.{c.name}" for c in customer_accounts.c])
    + " FROM consents AS c LEFT JOIN customer_accounts AS a ON a.account_id = %s"
    + " WHERE c.consent_id = %s"
)


# A payment consent, the first account it names (a payment consent names one: the debtor)
# and the customer account with the creditor's IBAN, in one statement (``load_for_payment``).
CONSENT_FOR_PAYMENT_SQL = (
    "SELECT "
    + ", ".join(
        [f"c.{c.name}" for c in consents.c]
        + [f"d.{c.name}" for c in customer_accounts.c]
        + [f"k.{c.name}" for c in customer_accounts.c]
    )
    + " FROM consents AS c"
    + " LEFT JOIN customer_accounts AS d ON d.account_id = (c.account_ids::jsonb ->> 0)"
    + " LEFT JOIN customer_accounts AS k ON k.iban = %s"
    + " WHERE c.consent_id = %s"
)
_ACCOUNT_WIDTH = len(customer_accounts.c)


def load_for_payment(
    reads: PointReads, consent_id: str, creditor_iban: str | None
) -> tuple[Consent | None, CustomerAccount | None, CustomerAccount | None]:
    """The consent, the first account it names and the account with ``creditor_iban``,
    whichever exist, in one round trip."""
    row = reads.one(CONSENT_FOR_PAYMENT_SQL, (creditor_iban, consent_id))
    if row is None:
        return None, None, None
    consent = consent_from_row(_ConsentRow(*row[:_CONSENT_WIDTH]))
    debtor_part = row[_CONSENT_WIDTH : _CONSENT_WIDTH + _ACCOUNT_WIDTH]
    creditor_part = row[_CONSENT_WIDTH + _ACCOUNT_WIDTH :]
    debtor = None if debtor_part[0] is None else account_from_row(AccountRow(*debtor_part))
    creditor = None if creditor_part[0] is None else account_from_row(AccountRow(*creditor_part))
    return consent, debtor, creditor


def load_with_account(
    reads: PointReads, consent_id: str, account_id: str
) -> tuple[Consent | None, CustomerAccount | None]:
    """The consent and the customer account, whichever exist, in one round trip."""
    row = reads.one(CONSENT_AND_ACCOUNT_SQL, (account_id, consent_id))
    if row is None:
        return None, None
    consent = consent_from_row(_ConsentRow(*row[:_CONSENT_WIDTH]))
    account_part = row[_CONSENT_WIDTH:]
    account = None if account_part[0] is None else account_from_row(AccountRow(*account_part))
    return consent, account
