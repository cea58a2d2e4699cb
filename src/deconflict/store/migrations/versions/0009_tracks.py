"""Live tracks (issue 6): registered assets, the last position of each track, tactical alerts; a notification
may be about an alert rather than a declaration (declaration_id and declaration_version become nullable).

Revision ID: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deconflict.store.schema import ID, UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("value", sa.String(64), primary_key=True),
        sa.Column("party_id", ID, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_assets_party_id", "assets", ["party_id"])
    op.create_table(
        "tracks",
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("icao24", sa.String(6), nullable=False),
        sa.Column("callsign", sa.String(16), nullable=False),
        sa.Column("asset_id", sa.String(64), nullable=False),
        sa.Column("owner_id", ID, nullable=True),
        sa.Column("t_s", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("lng", sa.Float, nullable=False),
        sa.Column("alt_m", sa.Float, nullable=False),
        sa.Column("gs_mps", sa.Float, nullable=False),
        sa.Column("track_deg", sa.Float, nullable=False),
        sa.Column("vs_mps", sa.Float, nullable=False),
        sa.Column("on_ground", sa.Boolean, nullable=False),
        sa.Column("source_party", ID, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_tracks_updated_at", "tracks", ["updated_at"])
    op.create_table(
        "alerts",
        sa.Column("id", ID, primary_key=True),
        sa.Column("key_a", sa.String(80), nullable=False),
        sa.Column("key_b", sa.String(80), nullable=False),
        sa.Column("party_a", ID, nullable=True),
        sa.Column("party_b", ID, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("raised_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("cleared_at", UTCDateTime(), nullable=True),
        sa.Column("finding", sa.JSON, nullable=False),
        sa.Column("tracks", sa.JSON, nullable=False),
        sa.Column("minima", sa.JSON, nullable=False),
    )
    op.create_index("ix_alerts_party_a", "alerts", ["party_a"])
    op.create_index("ix_alerts_party_b", "alerts", ["party_b"])
    op.create_index("ix_alerts_state", "alerts", ["state"])
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("declaration_id", existing_type=ID, nullable=True)
        batch.alter_column("declaration_version", existing_type=sa.Integer, nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("declaration_version", existing_type=sa.Integer, nullable=False)
        batch.alter_column("declaration_id", existing_type=ID, nullable=False)
    op.drop_table("alerts")
    op.drop_table("tracks")
    op.drop_table("assets")
