"""The mechanism between parties: agreements, what they disclose and what a conflict does. Pure."""

from .agreements import Agreement, ConflictPolicy, Disclosure, PairTerms, terms_between
from .disclosure import CoarseConflict, CoarseView, coarse_conflict, coarse_view, conflict_area
from .notice import AckReply, Duty, NoticeReason, duties, escalation_due, is_late, lead_time_s

__all__ = [
    "AckReply",
    "Duty",
    "NoticeReason",
    "duties",
    "escalation_due",
    "is_late",
    "lead_time_s",
    "Agreement",
    "CoarseConflict",
    "CoarseView",
    "ConflictPolicy",
    "Disclosure",
    "PairTerms",
    "coarse_conflict",
    "coarse_view",
    "conflict_area",
    "terms_between",
]
