"""Web portal: each customer's preferences (elder mode, language), kept server-side.

Tables: web_preferences.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_preferences",
        sa.Column("party_id", sa.String(length=32), nullable=False),
        sa.Column("elder_mode", sa.Boolean(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=True),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("party_id", name=op.f("pk_web_preferences")),
    )


def downgrade() -> None:
    op.drop_table("web_preferences")
