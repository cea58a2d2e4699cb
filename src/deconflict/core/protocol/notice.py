"""Who must be told about a declaration, how much notice they are owed, and when an unanswered notice escalates.

Pure functions over agreements; the service stores what they decide. The rules (issue 4, DESIGN.md):

- notice duty: an `activity`, or any kind an agreement names in its minimum notice, is told to every partner in
  that agreement, conflict or not;
- a conflict tells the other side (the declaring side learns it in the response);
- lead time = declared start - delivery time; below the agreement's minimum notice for the kind it is late;
- unacknowledged at the deadline, a notification escalates: level 1 re-sends it and tells the sender; each later
  level, one `escalation_step` apart, also reaches the next escalation contact of the agreement.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..model import DeclarationKind
from .agreements import Agreement

__all__ = ["AckReply", "Duty", "NoticeReason", "duties", "escalation_due", "is_late", "lead_time_s"]


class NoticeReason(enum.StrEnum):
    NOTICE = "notice"  #: the notice duty: a partner declared something the agreement wants announced
    CONFLICT = "conflict"  #: a partner's declaration conflicts with one of the recipient's
    INDUCED = "induced"  #: an activity made an induced hazard live over the recipient's flight
    ESCALATION = "escalation"  #: a notification the sender made went unacknowledged past its deadline
    ALERT = "alert"  #: live tracks: an aircraft of the recipient is predicted to lose separation (issue 6)


class AckReply(enum.StrEnum):
    NOTED = "noted"
    REQUEST_HOLD = "request_hold"
    OBJECT = "object"


@dataclass(frozen=True, slots=True)
class Duty:
    """One recipient's notification about one declaration."""

    recipient: str
    reason: NoticeReason
    agreements: tuple[str, ...]
    min_notice_s: float | None
    ack_deadline_s: float
    escalation_contacts: tuple[str, ...]


def _announces(agreement: Agreement, kind: DeclarationKind) -> bool:
    return kind is DeclarationKind.ACTIVITY or kind in agreement.min_notice_s


def duties(
    owner: str, kind: DeclarationKind, agreements: Iterable[Agreement], conflicting: Iterable[str] = (),
    induced: Iterable[str] = (),
) -> list[Duty]:
    """Every party to notify about `owner`'s declaration of `kind`; `conflicting`/`induced`: parties whose
    declarations it conflicts with, or whose flights it puts under a live induced hazard."""
    mine = [g for g in agreements if owner in g.parties]
    reasons: dict[str, NoticeReason] = {}
    for g in mine:
        if _announces(g, kind):
            for p in g.parties - {owner}:
                reasons.setdefault(p, NoticeReason.NOTICE)
    for p in induced:
        reasons[p] = NoticeReason.INDUCED
    for p in conflicting:
        reasons[p] = NoticeReason.CONFLICT
    out = []
    for recipient in sorted(reasons):
        shared = [g for g in mine if recipient in g.parties]
        if not shared:
            continue  # no agreement: nothing is disclosed, so nothing is sent
        notice = [g.min_notice_s[kind] for g in shared if kind in g.min_notice_s]
        contacts: dict[str, None] = {}
        for g in shared:
            contacts.update(dict.fromkeys(g.escalation_contacts))
        out.append(Duty(
            recipient=recipient,
            reason=reasons[recipient],
            agreements=tuple(sorted(g.id for g in shared)),
            min_notice_s=max(notice) if notice else None,
            ack_deadline_s=min(g.ack_deadline_s for g in shared),
            escalation_contacts=tuple(contacts),
        ))
    return out


def lead_time_s(starts_at: datetime, delivered_at: datetime) -> float:
    """How long before the declared start the recipient was told (negative: after it started)."""
    return (starts_at - delivered_at).total_seconds()


def is_late(lead_s: float, min_notice_s: float | None) -> bool:
    return min_notice_s is not None and lead_s < min_notice_s


def escalation_due(deadline: datetime, step_s: float, level: int, contacts: int) -> datetime | None:
    """When level `level + 1` falls due, or None when the chain is exhausted (level 1 + one per contact)."""
    if level >= 1 + contacts:
        return None
    return deadline + timedelta(seconds=step_s * level)
