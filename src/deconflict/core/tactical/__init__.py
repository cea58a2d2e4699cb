"""Tactical de-confliction from live tracks: track quality rules, closest point of approach, screening, alerts."""

from .alerts import AlertBook, AlertEvent, AlertPolicy, EventKind, PairFinding, pair_findings
from .cpa import FPM, FT, KT, NM, cpa, cpa_many, ecef_motion, pair_frame
from .screen import (
    DEFAULT_LATERAL_M,
    DEFAULT_LOOKAHEAD_S,
    DEFAULT_VERTICAL_M,
    UNIDENTIFIED,
    Findings,
    PartyMinima,
    screen,
    screen_tracks,
)
from .tracks import (
    DEFAULT_TRACK_LIMITS,
    IngestResult,
    Kinematics,
    Rejection,
    TrackBatch,
    TrackLimits,
    TrackTable,
    check_reports,
    kinematics,
)

__all__ = [
    "DEFAULT_LATERAL_M",
    "DEFAULT_LOOKAHEAD_S",
    "DEFAULT_TRACK_LIMITS",
    "DEFAULT_VERTICAL_M",
    "FPM",
    "FT",
    "KT",
    "NM",
    "UNIDENTIFIED",
    "AlertBook",
    "AlertEvent",
    "AlertPolicy",
    "EventKind",
    "Findings",
    "IngestResult",
    "Kinematics",
    "PairFinding",
    "PartyMinima",
    "Rejection",
    "TrackBatch",
    "TrackLimits",
    "TrackTable",
    "check_reports",
    "cpa",
    "cpa_many",
    "ecef_motion",
    "kinematics",
    "pair_findings",
    "pair_frame",
    "screen",
    "screen_tracks",
]
