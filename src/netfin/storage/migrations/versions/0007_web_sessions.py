"""Web portal: sessions signed out before they expired, refused until then.

Tables: web_signed_out.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_signed_out",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_web_signed_out")),
    )
    op.create_index(op.f("ix_web_signed_out_expires_ns"), "web_signed_out", ["expires_ns"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_web_signed_out_expires_ns"), table_name="web_signed_out")
    op.drop_table("web_signed_out")
