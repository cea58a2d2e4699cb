"""Volumes to and from the JSON the API speaks and the store keeps (the F3548 Volume4D shape)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from ..core.model import Volume4D
from ..core.protocol import CoarseView

__all__ = ["coarse_json", "iso", "volume_json", "volumes_from_json", "volumes_from_text", "volumes_json"]

_VOLUMES = TypeAdapter(list[Volume4D])


def iso(t: datetime) -> str:
    """RFC 3339 in UTC with a Z."""
    return t.isoformat().replace("+00:00", "Z")


def volume_json(volume: Volume4D) -> dict[str, Any]:
    v = volume.volume
    out: dict[str, Any] = {
        "volume": {
            "altitude_lower": {"value": v.altitude_lower.value, "reference": "W84", "units": v.altitude_lower.units},
            "altitude_upper": {"value": v.altitude_upper.value, "reference": "W84", "units": v.altitude_upper.units},
        },
        "time_start": {"value": iso(volume.time_start.value), "format": "RFC3339"},
        "time_end": {"value": iso(volume.time_end.value), "format": "RFC3339"},
    }
    if v.outline_polygon is not None:
        out["volume"]["outline_polygon"] = {
            "vertices": [{"lat": p.lat, "lng": p.lng} for p in v.outline_polygon.vertices]
        }
    if v.outline_circle is not None:
        c = v.outline_circle
        out["volume"]["outline_circle"] = {
            "center": {"lat": c.center.lat, "lng": c.center.lng},
            "radius": {"value": c.radius.value, "units": "M"},
        }
    return out


def volumes_json(volumes: tuple[Volume4D, ...] | list[Volume4D]) -> list[dict[str, Any]]:
    return [volume_json(v) for v in volumes]


def volumes_from_json(data: list[dict[str, Any]]) -> list[Volume4D]:
    """Volumes from stored JSON (validated when they were written)."""
    return _VOLUMES.validate_json(json.dumps(data))


def volumes_from_text(text: str | bytes) -> list[Volume4D]:
    """Volumes from the stored JSON text itself (no decode and re-encode on the way)."""
    return _VOLUMES.validate_json(text)


def coarse_json(view: CoarseView) -> dict[str, Any]:
    return {
        "cell_deg": view.cell_deg,
        "cells": [{"lat": lat, "lng": lng} for lat, lng in view.cells],
        "altitude_lower_m": view.altitude_lower_m,
        "altitude_upper_m": view.altitude_upper_m,
        "time_start": iso(view.time_start),
        "time_end": iso(view.time_end),
    }
