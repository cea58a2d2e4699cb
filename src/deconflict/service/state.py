"""What a running service holds: the store, this process's engine cache, the clock and the limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa

from ..core.limits import DEFAULT_VOLUME_LIMITS, VolumeLimits
from .engine_cache import EngineCache, PartyInfo

__all__ = ["Clock", "ServiceState", "system_clock"]

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class ServiceState:
    db: sa.Engine
    clock: Clock = system_clock
    limits: VolumeLimits = DEFAULT_VOLUME_LIMITS
    cache: EngineCache = field(default_factory=EngineCache)
    token_cache: dict[str, tuple[PartyInfo, float]] = field(default_factory=dict)  #: digest -> party, trusted until
