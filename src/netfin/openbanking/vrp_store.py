"""Tables of domestic variable-recurring-payment (VRP) consents and the payments made under them.

A VRP consent is stored *as* a device mandate once the customer authorises
it: the limits are counted, the device's signature and counter checked, by
``netfin.payments.mandates``. What the mandate model lacks is the life of the
consent before that (``AWAU``, ``RJCT``) and the OB documents the TPP sent,
which these tables keep.

- ``vrp_consents``: one row per consent a TPP created. ``control_parameters``,
  ``initiation`` and ``risk`` hold the request's JSON members exactly as sent
  (echoed in every response); ``device_public_key`` is the raw Ed25519 key
  read from ``ControlParameters.SupplementaryData``. ``party_id``,
  ``debtor_account_id`` and ``mandate_id`` are set when the customer
  authorises, in the same compare-and-set that moves ``AWAU`` to ``AUTH``.
- ``vrp_payments``: one row per ``POST /domestic-vrps`` that became a
  payment order, keyed by the id the TPP reads it back with; ``document``
  holds the request's ``Data`` and ``Risk`` as sent. ``(mandate_id, counter)``
  is unique: a device request is decided once.

Public names: ``vrp_consents``, ``vrp_payments``, ``TABLES``, ``b16``,
``from_b16``.
"""

from __future__ import annotations

import sqlalchemy as sa

from netfin.storage import metadata

CONSENT_STATUSES = ("AWAU", "AUTH", "RJCT", "CANC", "EXPD")

vrp_consents = sa.Table(
    "vrp_consents",
    metadata,
    sa.Column("consent_id", sa.String(40), primary_key=True),
    sa.Column("client_id", sa.String(128), nullable=False),
    sa.Column("party_id", sa.LargeBinary(16), nullable=True),
    sa.Column("control_parameters", sa.Text, nullable=False),
    sa.Column("initiation", sa.Text, nullable=False),
    sa.Column("risk", sa.Text, nullable=False),
    sa.Column("device_public_key", sa.LargeBinary(32), nullable=False),
    sa.Column("status", sa.String(4), nullable=False),
    sa.Column("debtor_account_id", sa.String(64), nullable=True),
    sa.Column("mandate_id", sa.String(40), nullable=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("status_updated_ns", sa.BigInteger, nullable=False),
    sa.CheckConstraint(
        "status IN (" + ", ".join(f"'{s}'" for s in CONSENT_STATUSES) + ")", name="status_known"
    ),
    sa.CheckConstraint("status <> 'AUTH' OR mandate_id IS NOT NULL", name="authorised_has_mandate"),
    sa.Index("ix_vrp_consents_mandate_id", "mandate_id", unique=True),
    sa.Index("ix_vrp_consents_client_id", "client_id"),
)

vrp_payments = sa.Table(
    "vrp_payments",
    metadata,
    sa.Column("payment_id", sa.String(40), primary_key=True),
    sa.Column("consent_id", sa.String(40), nullable=False),
    sa.Column("client_id", sa.String(128), nullable=False),
    sa.Column("mandate_id", sa.String(40), nullable=False),
    sa.Column("counter", sa.BigInteger, nullable=False),
    sa.Column("order_id", sa.String(40), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("mandate_id", "counter", name="uq_vrp_payments_mandate_id_counter"),
    sa.Index("ix_vrp_payments_consent_id", "consent_id"),
)

TABLES = (vrp_consents, vrp_payments)


def b16(value: int) -> bytes:
    """A 128-bit party id as the 16 bytes the tables store."""
    return value.to_bytes(16, "big")


def from_b16(value: bytes | None) -> int | None:
    return None if value is None else int.from_bytes(value, "big")
