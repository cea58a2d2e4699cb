"""The relational schema (SQLAlchemy Core): the store is the truth; in-memory indexes are caches rebuilt from it.

Changes to it go through an Alembic migration in `migrations/versions` (a test checks they agree).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = [
    "agreement_parties",
    "agreements",
    "changes",
    "conflicts",
    "declaration_versions",
    "declarations",
    "idempotency_keys",
    "metadata",
    "notifications",
    "parties",
    "webhook_deliveries",
    "webhooks",
]


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (which keeps no zone) and PostgreSQL alike."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the store keeps UTC instants only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


ID = sa.String(64)
metadata = sa.MetaData()

parties = sa.Table(
    "parties", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("public_key", sa.String(64), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

agreements = sa.Table(
    "agreements", metadata,
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

agreement_parties = sa.Table(
    "agreement_parties", metadata,
    sa.Column("agreement_id", ID, sa.ForeignKey("agreements.id"), primary_key=True),
    sa.Column("party_id", ID, sa.ForeignKey("parties.id"), primary_key=True),
)

declarations = sa.Table(
    "declarations", metadata,
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

declaration_versions = sa.Table(
    "declaration_versions", metadata,
    sa.Column("declaration_id", ID, sa.ForeignKey("declarations.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

conflicts = sa.Table(
    "conflicts", metadata,
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

changes = sa.Table(
    "changes", metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("entity", sa.String(16), nullable=False),
    sa.Column("entity_id", ID, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

idempotency_keys = sa.Table(
    "idempotency_keys", metadata,
    sa.Column("party_id", ID, sa.ForeignKey("parties.id"), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("response", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

notifications = sa.Table(
    "notifications", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("recipient_id", ID, sa.ForeignKey("parties.id"), nullable=False, index=True),
    sa.Column("sender_id", ID, sa.ForeignKey("parties.id"), nullable=False),
    sa.Column("reason", sa.String(16), nullable=False),
    sa.Column("declaration_id", ID, sa.ForeignKey("declarations.id"), nullable=True, index=True),  # None: alert
    sa.Column("declaration_version", sa.Integer, nullable=True),
    sa.Column("conflict_id", ID, nullable=True),
    sa.Column("agreement_ids", sa.JSON, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("starts_at", UTCDateTime(), nullable=False),
    sa.Column("min_notice_s", sa.Float, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("delivered_at", UTCDateTime(), nullable=True),
    sa.Column("delivered_via", sa.String(16), nullable=True),
    sa.Column("lead_time_s", sa.Float, nullable=True),
    sa.Column("late", sa.Boolean, nullable=True),
    sa.Column("ack_deadline_at", UTCDateTime(), nullable=False),
    sa.Column("acked_at", UTCDateTime(), nullable=True),
    sa.Column("ack_reply", sa.String(16), nullable=True),
    sa.Column("ack_text", sa.String(2000), nullable=True),
    sa.Column("escalation_level", sa.Integer, nullable=False),
    sa.Column("escalation_step_s", sa.Float, nullable=False),
    sa.Column("escalation_contacts", sa.JSON, nullable=False),
    sa.Column("next_escalation_at", UTCDateTime(), nullable=True, index=True),
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False, index=True),
)

# -- the hotline (migration 0003): threads between parties of one agreement, messages, per-recipient receipts --
threads = sa.Table(
    "threads", metadata,
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

thread_participants = sa.Table(
    "thread_participants", metadata,
    sa.Column("thread_id", ID, sa.ForeignKey("threads.id"), primary_key=True),
    sa.Column("party_id", ID, sa.ForeignKey("parties.id"), primary_key=True, index=True),
)

messages = sa.Table(
    "messages", metadata,
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

message_receipts = sa.Table(
    "message_receipts", metadata,
    sa.Column("message_id", ID, sa.ForeignKey("messages.id"), primary_key=True),
    sa.Column("recipient_id", ID, sa.ForeignKey("parties.id"), primary_key=True, index=True),
    sa.Column("delivered_at", UTCDateTime(), nullable=True),
    sa.Column("read_at", UTCDateTime(), nullable=True),
)

__all__ += ["message_receipts", "messages", "thread_participants", "threads"]

webhooks = sa.Table(
    "webhooks", metadata,
    sa.Column("party_id", ID, sa.ForeignKey("parties.id"), primary_key=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("secret", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("notification_id", ID, sa.ForeignKey("notifications.id"), nullable=False, index=True),
    sa.Column("party_id", ID, sa.ForeignKey("parties.id"), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=True, index=True),
    sa.Column("delivered_at", UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# -- the ASTM F3548-21 DSS surface (migration 0005): the USSs, their operational intent references (each also a
# -- `flight` declaration of the USS's party) and subscriptions -----------------------------------------------
f3548_usss = sa.Table(
    "f3548_usss", metadata,
    sa.Column("sub", sa.String(255), primary_key=True),
    sa.Column("party_id", ID, sa.ForeignKey("parties.id"), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

f3548_oirs = sa.Table(
    "f3548_oirs", metadata,
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

f3548_subscriptions = sa.Table(
    "f3548_subscriptions", metadata,
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

__all__ += ["f3548_oirs", "f3548_subscriptions", "f3548_usss"]

# -- the ledger (migration 0006, issue 5): entries staged in the outbox in the transaction of the state they
# -- describe, moved by one mover at a time into the log with contiguous indices; signed tree heads; service keys -
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

ledger_outbox = sa.Table(
    "ledger_outbox", metadata,
    sa.Column("seq", BIGINT_ID, primary_key=True, autoincrement=True),
    sa.Column("entry", sa.LargeBinary, nullable=False),
    sa.Column("parties", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

ledger_entries = sa.Table(
    "ledger_entries", metadata,
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("entry", sa.LargeBinary, nullable=False),
    sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("parties", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

tree_heads = sa.Table(
    "tree_heads", metadata,
    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root", sa.LargeBinary(32), nullable=False),
    sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
    sa.Column("key_id", sa.LargeBinary(32), nullable=False),
    sa.Column("signature", sa.LargeBinary(64), nullable=False),
)

service_keys = sa.Table(
    "service_keys", metadata,
    sa.Column("key_id", sa.LargeBinary(32), primary_key=True),
    sa.Column("public_key", sa.LargeBinary(32), nullable=False),
    sa.Column("private_key", sa.LargeBinary(32), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("retired_at", UTCDateTime(), nullable=True),
)

__all__ += ["ledger_entries", "ledger_outbox", "service_keys", "tree_heads"]

# -- F3548 USS availability (migration 0007): per USS (`sub`), as set by a USS with availability arbitration --------
f3548_uss_availability = sa.Table(
    "f3548_uss_availability", metadata,
    sa.Column("uss", sa.String(255), primary_key=True),
    sa.Column("availability", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_by", sa.String(255), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

__all__ += ["f3548_uss_availability"]

# -- ledger witnessing (migration 0008, issue 5): a party's cosignature of a signed tree head, verified against its
# -- registered Ed25519 key before it is stored; one per head and key -----------------------------------------------
tree_head_cosignatures = sa.Table(
    "tree_head_cosignatures", metadata,
    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("key_id", sa.LargeBinary(32), primary_key=True),
    sa.Column("party_id", ID, nullable=False, index=True),
    sa.Column("cosigned_at_ms", sa.BigInteger, nullable=False),
    sa.Column("signature", sa.LargeBinary(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

__all__ += ["tree_head_cosignatures"]

service_key_rotations = sa.Table(  # the service's key handed over, signed by both keys (core.ledger.keys)
    "service_key_rotations", metadata,
    sa.Column("new_key_id", sa.LargeBinary(32), primary_key=True),
    sa.Column("old_key_id", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("old_key", sa.LargeBinary(32), nullable=False),
    sa.Column("new_key", sa.LargeBinary(32), nullable=False),
    sa.Column("rotated_at_ms", sa.BigInteger, nullable=False),
    sa.Column("old_signature", sa.LargeBinary(64), nullable=False),
    sa.Column("new_signature", sa.LargeBinary(64), nullable=False),
)

__all__ += ["service_key_rotations"]

# -- live tracks (migration 0009, issue 6): each party's registered assets (an asset belongs to one party), the
# -- last accepted position of each track (so a restart is not blind), tactical alerts between two tracks --------
assets = sa.Table(
    "assets", metadata,
    sa.Column("kind", sa.String(16), primary_key=True),  # icao24, callsign or asset_id
    sa.Column("value", sa.String(64), primary_key=True),
    sa.Column("party_id", ID, sa.ForeignKey("parties.id"), nullable=False, index=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

tracks = sa.Table(
    "tracks", metadata,
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
    sa.Column("updated_at", UTCDateTime(), nullable=False, index=True),
)

alerts = sa.Table(
    "alerts", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("key_a", sa.String(80), nullable=False),
    sa.Column("key_b", sa.String(80), nullable=False),
    sa.Column("party_a", ID, nullable=True, index=True),  # None: unidentified
    sa.Column("party_b", ID, nullable=True, index=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),  # active, cleared
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("raised_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("cleared_at", UTCDateTime(), nullable=True),
    sa.Column("finding", sa.JSON, nullable=False),
    sa.Column("tracks", sa.JSON, nullable=False),
    sa.Column("minima", sa.JSON, nullable=False),
)

__all__ += ["alerts", "assets", "tracks"]
