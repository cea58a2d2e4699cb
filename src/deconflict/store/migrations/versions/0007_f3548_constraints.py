"""ASTM F3548-21 DSS surface, second slice: USS availability (constraint references share `f3548_oirs`).

Revision ID: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deconflict.store.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "f3548_uss_availability",
        sa.Column("uss", sa.String(255), primary_key=True),
        sa.Column("availability", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("f3548_uss_availability")
