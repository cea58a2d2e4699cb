"""Ledger witnessing (issue 5): parties' cosignatures of signed tree heads.

Revision ID: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deconflict.store.schema import ID, UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tree_head_cosignatures",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("key_id", sa.LargeBinary(32), primary_key=True),
        sa.Column("party_id", ID, nullable=False, index=True),
        sa.Column("cosigned_at_ms", sa.BigInteger, nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tree_head_cosignatures")
