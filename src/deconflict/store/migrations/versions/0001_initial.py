"""Initial schema: parties, agreements, declarations and their versions, conflicts, change log, idempotency.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deconflict.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "parties",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("public_key", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "agreements",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("lateral_m", sa.Float, nullable=False),
        sa.Column("vertical_m", sa.Float, nullable=False),
        sa.Column("time_s", sa.Float, nullable=False),
        sa.Column("disclosure", sa.String(16), nullable=False),
        sa.Column("policy", sa.String(16), nullable=False),
        sa.Column("ack_deadline_s", sa.Float, nullable=False),
        sa.Column("min_notice", sa.JSON, nullable=False),
        sa.Column("escalation_contacts", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "agreement_parties",
        sa.Column("agreement_id", ID, sa.ForeignKey("agreements.id"), primary_key=True),
        sa.Column("party_id", ID, sa.ForeignKey("parties.id"), primary_key=True),
    )
    op.create_table(
        "declarations",
        sa.Column("id", ID, primary_key=True),
        sa.Column("owner_id", ID, sa.ForeignKey("parties.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("activation", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("extra", sa.JSON, nullable=False),
        sa.Column("volumes", sa.JSON, nullable=False),
        sa.Column("time_start", UTCDateTime(), nullable=False),
        sa.Column("time_end", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "declaration_versions",
        sa.Column("declaration_id", ID, sa.ForeignKey("declarations.id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "conflicts",
        sa.Column("id", ID, primary_key=True),
        sa.Column("declaration_a", ID, sa.ForeignKey("declarations.id"), nullable=False, index=True),
        sa.Column("version_a", sa.Integer, nullable=False),
        sa.Column("party_a", ID, sa.ForeignKey("parties.id"), nullable=False, index=True),
        sa.Column("declaration_b", ID, sa.ForeignKey("declarations.id"), nullable=False, index=True),
        sa.Column("version_b", sa.Integer, nullable=False),
        sa.Column("party_b", ID, sa.ForeignKey("parties.id"), nullable=False, index=True),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.Column("lateral_m", sa.Float, nullable=False),
        sa.Column("vertical_m", sa.Float, nullable=False),
        sa.Column("time_gap_s", sa.Float, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("policy", sa.String(16), nullable=False),
        sa.Column("volume_pairs", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("detected_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "changes",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("entity_id", ID, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("party_id", ID, sa.ForeignKey("parties.id"), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in ("idempotency_keys", "changes", "conflicts", "declaration_versions", "declarations",
                  "agreement_parties", "agreements", "parties"):
        op.drop_table(table)
