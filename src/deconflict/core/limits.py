"""Limits on what a party may declare, as a frozen value with named defaults (in the spirit of F3548)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

__all__ = ["DEFAULT_VOLUME_LIMITS", "VolumeLimits"]


@dataclass(frozen=True, slots=True)
class VolumeLimits:
    """Bounds a Volume4D must respect; anything beyond is refused with a clear error, never truncated."""

    max_vertices: int = 10_000
    horizon: timedelta = timedelta(days=30)  #: time_end at most this far after now
    max_duration: timedelta = timedelta(days=30)
    max_area_km2: float = 250_000.0  #: about 500 km x 500 km
    max_extent_m: float = 500_000.0  #: no footprint point farther than this from the footprint's centre
    max_radius_m: float = 250_000.0
    min_altitude_m: float = -1_000.0
    max_altitude_m: float = 30_000.0
    min_area_m2: float = 1.0  #: below this a polygon is degenerate (zero area)


DEFAULT_VOLUME_LIMITS = VolumeLimits()
