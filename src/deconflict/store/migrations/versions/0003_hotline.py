"""The hotline: threads between parties of one agreement, their messages, and per-recipient receipts.

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deconflict.store.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "threads",
        sa.Column("id", ID, primary_key=True),
        sa.Column("agreement_id", ID, sa.ForeignKey("agreements.id"), nullable=False, index=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("about_kind", sa.String(16), nullable=True),
        sa.Column("about_id", ID, nullable=True),
        sa.Column("created_by", ID, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("message_count", sa.Integer, nullable=False),
        sa.Column("last_message_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "thread_participants",
        sa.Column("thread_id", ID, sa.ForeignKey("threads.id"), primary_key=True),
        sa.Column("party_id", ID, sa.ForeignKey("parties.id"), primary_key=True, index=True),
    )
    op.create_table(
        "messages",
        sa.Column("id", ID, primary_key=True),
        sa.Column("thread_id", ID, sa.ForeignKey("threads.id"), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("sender_id", ID, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("text", sa.String(4000), nullable=False),
        sa.Column("structured", sa.JSON, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("thread_id", "n", name="uq_messages_thread_n"),
    )
    op.create_table(
        "message_receipts",
        sa.Column("message_id", ID, sa.ForeignKey("messages.id"), primary_key=True),
        sa.Column("recipient_id", ID, sa.ForeignKey("parties.id"), primary_key=True, index=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("read_at", UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("message_receipts")
    op.drop_table("messages")
    op.drop_table("thread_participants")
    op.drop_table("threads")
