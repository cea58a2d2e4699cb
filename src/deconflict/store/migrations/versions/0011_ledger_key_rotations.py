"""Ledger key rotation (issue 5): the service's key handed over to a new one, the record signed by both keys.

Revision ID: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_key_rotations",
        sa.Column("new_key_id", sa.LargeBinary(32), primary_key=True),
        sa.Column("old_key_id", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("old_key", sa.LargeBinary(32), nullable=False),
        sa.Column("new_key", sa.LargeBinary(32), nullable=False),
        sa.Column("rotated_at_ms", sa.BigInteger, nullable=False),
        sa.Column("old_signature", sa.LargeBinary(64), nullable=False),
        sa.Column("new_signature", sa.LargeBinary(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("service_key_rotations")
