"""The rules a Volume4D must follow, each broken rule raised as `InvalidVolume` naming the field and the reason.

Construction of the model checks nothing (it may come from trusted storage in bulk); everything a party sends
passes through `validate_volume` with the limits and the current time handed in (the core reads no clock).
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod

from ..errors import InvalidVolume
from .geo import MAX_EDGE_M, LocalFrame, ecef
from .limits import DEFAULT_VOLUME_LIMITS, VolumeLimits
from .model import Altitude, Circle, LatLngPoint, Polygon, Time, Volume4D

__all__ = ["densified_ring", "polygon_ring", "validate_volume"]

FloatArray = npt.NDArray[np.float64]
_GEOD = Geod(ellps="WGS84")


def _number(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidVolume(f"must be a number, got {type(value).__name__}", field=field)
    if not math.isfinite(value):
        raise InvalidVolume(f"must be finite, got {value}", field=field)
    return float(value)


def _point(p: LatLngPoint, field: str) -> tuple[float, float]:
    if not isinstance(p, LatLngPoint):
        raise InvalidVolume("must be a point with lat and lng", field=field)
    lat = _number(p.lat, f"{field}.lat")
    lng = _number(p.lng, f"{field}.lng")
    if not -90.0 <= lat <= 90.0:
        raise InvalidVolume(f"latitude {lat} is outside [-90, 90]", field=f"{field}.lat")
    if not -180.0 <= lng <= 180.0:
        raise InvalidVolume(f"longitude {lng} is outside [-180, 180]", field=f"{field}.lng")
    return lat, lng


def _place(lat: float, lng: float) -> tuple[float, float]:
    """One name for each place: every longitude names a pole, and -180 and 180 name the same meridian."""
    if abs(lat) == 90.0:
        return lat, 0.0
    return lat, -180.0 if lng == 180.0 else lng


def polygon_ring(polygon: Polygon) -> list[LatLngPoint]:
    """The polygon's vertices without a repeated closing vertex (a GeoJSON habit we accept)."""
    vertices = list(polygon.vertices)
    if len(vertices) > 1 and vertices[0] == vertices[-1]:
        vertices.pop()
    return vertices


def densified_ring(polygon: Polygon) -> tuple[FloatArray, FloatArray]:
    """(lat, lng) arrays of the ring with geodesic points added so that no edge exceeds MAX_EDGE_M."""
    vertices = polygon_ring(polygon)
    lat = np.array([v.lat for v in vertices], dtype=np.float64)
    lng = np.array([v.lng for v in vertices], dtype=np.float64)
    lat2 = np.roll(lat, -1)
    lng2 = np.roll(lng, -1)
    _, _, lengths = _GEOD.inv(lng, lat, lng2, lat2)
    if np.all(lengths <= MAX_EDGE_M):
        return lat, lng
    out_lat: list[float] = []
    out_lng: list[float] = []
    for i in range(len(lat)):
        out_lat.append(float(lat[i]))
        out_lng.append(float(lng[i]))
        extra = math.ceil(lengths[i] / MAX_EDGE_M) - 1
        if extra > 0:
            for lo, la in _GEOD.npts(lng[i], lat[i], lng2[i], lat2[i], extra):
                out_lat.append(la)
                out_lng.append(lo)
    return np.array(out_lat), np.array(out_lng)


def _validate_polygon(polygon: Polygon, limits: VolumeLimits, field: str) -> None:
    if not isinstance(polygon, Polygon) or not isinstance(polygon.vertices, (tuple, list)):
        raise InvalidVolume("must be a polygon with a list of vertices", field=field)
    vertices = polygon_ring(polygon)
    vfield = f"{field}.vertices"
    if len(vertices) < 3:
        raise InvalidVolume(f"a polygon needs at least 3 distinct vertices, got {len(vertices)}", field=vfield)
    if len(vertices) > limits.max_vertices:
        raise InvalidVolume(
            f"{len(vertices)} vertices exceed the limit of {limits.max_vertices}", field=vfield
        )
    coords = [_place(*_point(v, f"{vfield}[{i}]")) for i, v in enumerate(vertices)]
    for i in range(len(coords)):
        if coords[i] == coords[i - 1]:
            raise InvalidVolume("repeats the previous vertex (vertices may not be duplicated)", field=f"{vfield}[{i}]")
    lat, lng = densified_ring(polygon)
    points = ecef(lat, lng)
    frame = LocalFrame.around(points)
    xy = frame.project(points)
    extent = float(np.hypot(xy[:, 0], xy[:, 1]).max())
    if extent > limits.max_extent_m:
        raise InvalidVolume(
            f"extends {extent / 1000:.0f} km from its centre, beyond the limit of {limits.max_extent_m / 1000:.0f} km",
            field=vfield,
        )
    shape = shapely.Polygon(xy)
    if not shapely.is_valid(shape):
        reason = shapely.is_valid_reason(shape)
        raise InvalidVolume(f"edges cross each other or touch ({reason.split('[')[0]})", field=vfield)
    area = float(shape.area)
    if area < limits.min_area_m2:
        raise InvalidVolume(f"has zero area ({area:.3g} m^2)", field=vfield)
    if area / 1e6 > limits.max_area_km2:
        raise InvalidVolume(
            f"area {area / 1e6:.0f} km^2 exceeds the limit of {limits.max_area_km2:.0f} km^2", field=vfield
        )


def _validate_circle(circle: Circle, limits: VolumeLimits, field: str) -> None:
    if not isinstance(circle, Circle):
        raise InvalidVolume("must be a circle with center and radius", field=field)
    _point(circle.center, f"{field}.center")
    rfield = f"{field}.radius.value"
    radius = _number(circle.radius.value, rfield)
    if circle.radius.units != "M":
        raise InvalidVolume("only metres ('M') are accepted", field=f"{field}.radius.units")
    if radius <= 0.0:
        raise InvalidVolume(f"must be positive, got {radius}", field=rfield)
    if radius > limits.max_radius_m:
        raise InvalidVolume(f"{radius:.0f} m exceeds the limit of {limits.max_radius_m:.0f} m", field=rfield)
    if math.pi * radius * radius / 1e6 > limits.max_area_km2:
        raise InvalidVolume(f"area exceeds the limit of {limits.max_area_km2:.0f} km^2", field=rfield)


def _altitude(alt: Altitude, limits: VolumeLimits, field: str) -> float:
    if not isinstance(alt, Altitude):
        raise InvalidVolume("must be an altitude with value, reference and units", field=field)
    _number(alt.value, f"{field}.value")
    if alt.units not in ("M", "FT"):
        raise InvalidVolume(f"units must be 'M' or 'FT', got {alt.units!r}", field=f"{field}.units")
    if alt.reference != "W84":
        raise InvalidVolume(f"reference must be 'W84', got {alt.reference!r}", field=f"{field}.reference")
    metres = alt.metres
    if not limits.min_altitude_m <= metres <= limits.max_altitude_m:
        raise InvalidVolume(
            f"{metres:.0f} m is outside [{limits.min_altitude_m:.0f}, {limits.max_altitude_m:.0f}] m",
            field=f"{field}.value",
        )
    return metres


def _instant(t: Time, field: str) -> datetime:
    if not isinstance(t, Time) or not isinstance(t.value, datetime):
        raise InvalidVolume("must be a time with an RFC 3339 value", field=field)
    if t.value.tzinfo is None or t.value.utcoffset() is None:
        raise InvalidVolume("must carry a time zone (UTC, e.g. '2026-01-01T10:00:00Z')", field=f"{field}.value")
    return t.value


def validate_volume(
    volume: Volume4D,
    limits: VolumeLimits = DEFAULT_VOLUME_LIMITS,
    now: datetime | None = None,
    field: str = "volume",
) -> None:
    """Raise `InvalidVolume` (naming the field) unless `volume` follows every rule; time rules use `now`."""
    if not isinstance(volume, Volume4D):
        raise InvalidVolume("must be a Volume4D", field=field)
    v3 = volume.volume
    vfield = f"{field}.volume"
    has_polygon = v3.outline_polygon is not None
    has_circle = v3.outline_circle is not None
    if has_polygon == has_circle:
        raise InvalidVolume("exactly one of outline_polygon or outline_circle is required", field=vfield)
    if v3.outline_polygon is not None:
        _validate_polygon(v3.outline_polygon, limits, f"{vfield}.outline_polygon")
    if v3.outline_circle is not None:
        _validate_circle(v3.outline_circle, limits, f"{vfield}.outline_circle")
    lower = _altitude(v3.altitude_lower, limits, f"{vfield}.altitude_lower")
    upper = _altitude(v3.altitude_upper, limits, f"{vfield}.altitude_upper")
    if lower >= upper:
        raise InvalidVolume(
            f"lower altitude {lower:.1f} m must be below the upper altitude {upper:.1f} m",
            field=f"{vfield}.altitude_lower",
        )
    start = _instant(volume.time_start, f"{field}.time_start")
    end = _instant(volume.time_end, f"{field}.time_end")
    if end <= start:
        raise InvalidVolume(f"{end.isoformat()} is not after time_start {start.isoformat()}", field=f"{field}.time_end")
    if end - start > limits.max_duration:
        raise InvalidVolume(
            f"the window lasts {end - start}, beyond the limit of {limits.max_duration}", field=f"{field}.time_end"
        )
    if now is not None:
        if end <= now:
            raise InvalidVolume(
                f"{end.isoformat()} has already passed (now {now.isoformat()})", field=f"{field}.time_end"
            )
        if end - now > limits.horizon:
            raise InvalidVolume(
                f"{end.isoformat()} is beyond the horizon of {limits.horizon} from now", field=f"{field}.time_end"
            )
