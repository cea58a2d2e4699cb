"""ASTM F3548-21 DSS surface: USSs (each stands for a party), operational intent references, subscriptions.

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deconflict.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "f3548_usss",
        sa.Column("sub", sa.String(255), primary_key=True),
        sa.Column("party_id", ID, sa.ForeignKey("parties.id"), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "f3548_oirs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("manager", sa.String(255), nullable=False, index=True),
        sa.Column("party_id", ID, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("declaration_id", ID, sa.ForeignKey("declarations.id"), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("ovn", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("uss_base_url", sa.String(2000), nullable=False),
        sa.Column("subscription_id", ID, nullable=True, index=True),
        sa.Column("extents", sa.JSON, nullable=False),
        sa.Column("time_start", UTCDateTime(), nullable=False),
        sa.Column("time_end", UTCDateTime(), nullable=False),
        sa.Column("altitude_lower", sa.Float, nullable=False),
        sa.Column("altitude_upper", sa.Float, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "f3548_subscriptions",
        sa.Column("id", ID, primary_key=True),
        sa.Column("manager", sa.String(255), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("notification_index", sa.Integer, nullable=False),
        sa.Column("uss_base_url", sa.String(2000), nullable=False),
        sa.Column("notify_for_operational_intents", sa.Boolean, nullable=False),
        sa.Column("notify_for_constraints", sa.Boolean, nullable=False),
        sa.Column("implicit", sa.Boolean, nullable=False),
        sa.Column("extents", sa.JSON, nullable=False),
        sa.Column("lat_min", sa.Float, nullable=False),
        sa.Column("lat_max", sa.Float, nullable=False),
        sa.Column("lng_min", sa.Float, nullable=False),
        sa.Column("lng_max", sa.Float, nullable=False),
        sa.Column("altitude_lower", sa.Float, nullable=False),
        sa.Column("altitude_upper", sa.Float, nullable=False),
        sa.Column("time_start", UTCDateTime(), nullable=False),
        sa.Column("time_end", UTCDateTime(), nullable=False, index=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("f3548_subscriptions")
    op.drop_table("f3548_oirs")
    op.drop_table("f3548_usss")
