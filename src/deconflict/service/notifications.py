"""Notifications: decided by `core.protocol.notice`, written in the declaration's own transaction (the outbox),
delivered by polling or the stream, acknowledged, and escalated by the scheduler.

The row records what was disclosed (`payload`, exactly as the recipient sees it), when it was first delivered
and through which channel, the lead time this left before the declared start, and whether that was late.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ..core.model import DeclarationKind
from ..core.protocol import (
    AckReply,
    ConflictPolicy,
    Duty,
    NoticeReason,
    duties,
    escalation_due,
    is_late,
    lead_time_s,
)
from ..errors import Forbidden, NotFound
from ..store import schema as t
from ..store.database import writing
from .codec import iso
from .engine_cache import PartyInfo
from .ledger import stage_ack, stage_delivery, stage_escalation, stage_notifications
from .reads import VolumeStore
from .state import ServiceState
from .views import ConflictRecord, conflict_view, declaration_view

__all__ = ["OwedNotice", "ack", "deliver", "escalate_due", "insert_notifications", "notices_owed", "notification_json",
           "notification_row", "plan_notifications", "undisclosed"]


@dataclass(frozen=True)
class OwedNotice:
    """A notice a declaration owes one party: the duty, its lead time, and whether it is already late (and so
    refused, when that party's agreement with the sender says `block`)."""

    duty: Duty
    recipient: PartyInfo
    lead_s: float
    late: bool
    refuses: bool


def notices_owed(state: ServiceState, sender: PartyInfo, kind: DeclarationKind, time_start: datetime,
                 records: list[ConflictRecord], now: datetime) -> list[OwedNotice]:
    """The notices a declaration of `kind` starting at `time_start` with these conflicts owes, as of `now`. Pure
    over the cache: the write (plan_notifications) and its preview decide lateness the same way."""
    cache = state.cache
    by_party: dict[str, list[ConflictRecord]] = {}
    for r in records:
        by_party.setdefault(r.party_b, []).append(r)
    owed = []
    for duty in duties(sender.id, kind, cache.agreements.values(), conflicting=by_party):
        recipient = cache.parties.get(duty.recipient)
        if recipient is None:
            continue
        lead = lead_time_s(time_start, now)
        late = is_late(lead, duty.min_notice_s)
        refuses = late and cache.terms(sender.id, duty.recipient).policy is ConflictPolicy.BLOCK
        owed.append(OwedNotice(duty, recipient, lead, late, refuses))
    return owed


def plan_notifications(
    conn: sa.Connection, state: ServiceState, sender: PartyInfo, row: Any, records: list[ConflictRecord],
    loader: VolumeStore, now: datetime, seq: int,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Write one notification per recipient owed one; returns what the sender is told, and the recipients whose
    notice is already late and whose agreement says `block` (the caller refuses the write for them)."""
    cache = state.cache
    by_party: dict[str, list[ConflictRecord]] = {}
    for r in records:
        by_party.setdefault(r.party_b, []).append(r)
    told: list[dict[str, Any]] = []
    refuse: list[str] = []
    rows = []
    for owed in notices_owed(state, sender, DeclarationKind(row.kind), row.time_start, records, now):
        duty, recipient, lead, late = owed.duty, owed.recipient, owed.lead_s, owed.late
        if owed.refuses:
            refuse.append(recipient.name)
        view = declaration_view(row, recipient, cache) or undisclosed(row, cache)
        shown = [conflict_view(r, recipient, cache, loader) for r in by_party.get(duty.recipient, [])]
        payload = {"reason": duty.reason.value, "sender": sender.name, "declaration": view,
                   "conflicts": [c for c in shown if c is not None]}
        written = notification_row(
            recipient_id=duty.recipient, sender_id=sender.id, reason=duty.reason, row=row,
            agreements=duty.agreements, payload=payload, min_notice_s=duty.min_notice_s,
            ack_deadline_s=duty.ack_deadline_s, contacts=duty.escalation_contacts, now=now, seq=seq,
            conflict_id=by_party[duty.recipient][0].id if duty.recipient in by_party else None)
        rows.append(written)
        told.append({"id": written["id"], "recipient": recipient.name, "reason": duty.reason.value,
                     "min_notice_s": duty.min_notice_s, "lead_time_s": round(lead, 3), "late": late,
                     "ack_deadline_at": iso(written["ack_deadline_at"])})
    if not refuse:
        insert_notifications(conn, rows, now, cache.hooked)
    return told, refuse


def notification_row(
    *, recipient_id: str, sender_id: str, reason: NoticeReason, row: Any, agreements: Iterable[str],
    payload: dict[str, Any], min_notice_s: float | None, ack_deadline_s: float, contacts: Iterable[str],
    now: datetime, seq: int, conflict_id: str | None = None,
) -> dict[str, Any]:
    """A `notifications` row about declaration `row` (its current version), due for acknowledgement."""
    deadline = now + timedelta(seconds=ack_deadline_s)
    return {
        "id": str(uuid.uuid4()), "recipient_id": recipient_id, "sender_id": sender_id, "reason": reason.value,
        "declaration_id": row.id, "declaration_version": row.version, "conflict_id": conflict_id,
        "agreement_ids": list(agreements), "payload": payload, "starts_at": row.time_start,
        "min_notice_s": min_notice_s, "created_at": now, "ack_deadline_at": deadline, "escalation_level": 0,
        "escalation_step_s": ack_deadline_s, "escalation_contacts": list(contacts), "next_escalation_at": deadline,
        "seq": seq,
    }


def insert_notifications(conn: sa.Connection, rows: list[dict[str, Any]], now: datetime,
                         hooked: set[str] | None = None) -> None:
    """The outbox write: the rows, and a webhook post queued for each recipient that has a webhook."""
    if not rows:
        return
    conn.execute(sa.insert(t.notifications), rows)
    stage_notifications(conn, rows, now)
    from .webhooks import enqueue  # webhooks imports this module

    enqueue(conn, [(r["id"], r["recipient_id"]) for r in rows], now, hooked)


def undisclosed(row: Any, cache: Any) -> dict[str, Any]:
    """What a partner who may not see the geometry is told: who, what kind, and when."""
    return {"id": row.id, "owner": cache.name(row.owner_id), "kind": row.kind, "version": row.version,
            "disclosure": "none", "time_start": iso(row.time_start), "time_end": iso(row.time_end)}


def notification_json(r: Any, cache: Any) -> dict[str, Any]:
    return {
        "id": r.id, "reason": r.reason, "sender": cache.name(r.sender_id), "recipient": cache.name(r.recipient_id),
        "declaration_id": r.declaration_id, "declaration_version": r.declaration_version,
        "conflict_id": r.conflict_id, "agreements": r.agreement_ids, "payload": r.payload,
        "starts_at": iso(r.starts_at), "min_notice_s": r.min_notice_s, "created_at": iso(r.created_at),
        "delivered_at": iso(r.delivered_at) if r.delivered_at else None, "delivered_via": r.delivered_via,
        "lead_time_s": r.lead_time_s, "late": r.late, "ack_deadline_at": iso(r.ack_deadline_at),
        "acked_at": iso(r.acked_at) if r.acked_at else None, "ack_reply": r.ack_reply, "ack_text": r.ack_text,
        "escalation_level": r.escalation_level, "escalated": r.escalation_level > 0,
    }


def deliver(conn: sa.Connection, ids: Iterable[str], via: str, now: datetime) -> None:
    """Record the first delivery of each notification: when, how, the lead time it left, and lateness."""
    n = t.notifications.c
    for r in conn.execute(sa.select(n.id, n.starts_at, n.min_notice_s).where(n.id.in_(list(ids)),
                                                                             n.delivered_at.is_(None))).all():
        lead = lead_time_s(r.starts_at, now)
        conn.execute(sa.update(t.notifications).where(n.id == r.id, n.delivered_at.is_(None)).values(
            delivered_at=now, delivered_via=via, lead_time_s=lead, late=is_late(lead, r.min_notice_s)))
        stage_delivery(conn, r.id, now)


def ack(state: ServiceState, party: PartyInfo, notification_id: str, reply: AckReply, text: str) -> dict[str, Any]:
    """Acknowledge (idempotent: a repeated ack returns the first one unchanged)."""
    now = state.clock()
    n = t.notifications.c
    with writing(state.db) as conn:
        row = conn.execute(sa.select(t.notifications).where(n.id == notification_id)).first()
        if row is None:
            raise NotFound("no such notification", field="notification_id")
        if row.recipient_id != party.id:
            raise Forbidden("only the recipient acknowledges a notification")
        if row.acked_at is None:
            from .writes import log_change  # writes imports this module

            deliver(conn, [row.id], "ack", now)
            acked = conn.execute(sa.update(t.notifications).where(n.id == row.id, n.acked_at.is_(None)).values(
                acked_at=now, ack_reply=reply.value, ack_text=text, next_escalation_at=None))
            if acked.rowcount == 1:  # the sender hears of it on its stream
                log_change(conn, "ack", row.id, 1, now)
                stage_ack(conn, row.id, now)
        row = conn.execute(sa.select(t.notifications).where(n.id == notification_id)).one()
    return notification_json(row, state.cache)


def escalate_due(state: ServiceState, now: datetime) -> int:
    """Escalate every unacknowledged notification whose next level is due; returns how many escalated.

    Each escalation is a guarded update (level must still be what was read), so two processes ticking at once
    escalate a notification once.
    """
    from .writes import log_change  # writes imports this module

    n = t.notifications.c
    done = 0
    with writing(state.db) as conn:
        due = conn.execute(sa.select(t.notifications).where(
            n.acked_at.is_(None), n.next_escalation_at.is_not(None), n.next_escalation_at <= now,
            n.reason != NoticeReason.ESCALATION.value).order_by(n.next_escalation_at).limit(500)).all()
        for r in due:
            level = r.escalation_level + 1
            contacts = list(r.escalation_contacts)
            following = escalation_due(r.ack_deadline_at, r.escalation_step_s, level, len(contacts))
            seq = log_change(conn, "notification", r.id, level, now)
            moved = conn.execute(sa.update(t.notifications).where(
                n.id == r.id, n.escalation_level == r.escalation_level, n.acked_at.is_(None)).values(
                escalation_level=level, next_escalation_at=following, seq=seq))
            if moved.rowcount != 1:
                continue
            reached = contacts[: max(level - 1, 0)]
            alarm_id = str(uuid.uuid4())
            conn.execute(sa.insert(t.notifications).values(
                id=alarm_id, recipient_id=r.sender_id, sender_id=r.sender_id,
                reason=NoticeReason.ESCALATION.value, declaration_id=r.declaration_id,
                declaration_version=r.declaration_version, conflict_id=r.conflict_id,
                agreement_ids=r.agreement_ids, starts_at=r.starts_at, min_notice_s=None, created_at=now,
                payload={"reason": "escalation", "notification_id": r.id, "recipient": state.cache.name(r.recipient_id),
                         "level": level, "contacts_reached": reached, "unacknowledged_since": iso(r.ack_deadline_at)},
                ack_deadline_at=now, escalation_level=level, escalation_step_s=r.escalation_step_s,
                escalation_contacts=reached, next_escalation_at=None, seq=seq))
            stage_escalation(conn, r, level, alarm_id, now)
            from .webhooks import enqueue

            enqueue(conn, [(r.id, r.recipient_id), (alarm_id, r.sender_id)], now)  # re-sent, and the alarm
            done += 1
    return done
