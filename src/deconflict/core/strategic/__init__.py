"""Strategic de-confliction: which declared volumes conflict, exactly, after separation minima."""

from .engine import DEFAULT_KIND_RULES, Conflict, ConflictSet, EngineKind, Severity, StrategicEngine, engine_kind
from .index import VolumeIndex

__all__ = [
    "DEFAULT_KIND_RULES",
    "Conflict",
    "ConflictSet",
    "EngineKind",
    "Severity",
    "StrategicEngine",
    "VolumeIndex",
    "engine_kind",
]
