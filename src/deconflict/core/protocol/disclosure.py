"""What a party is shown of a partner's volume when its agreements disclose less than the full geometry.

`coarse_view`: the grid cells a footprint touches, with the altitude band and time window rounded outward, so the
recipient knows where not to be without learning the exact shape. `conflict_area`: the part of the partner's
volume that lies within the separation minima of one's own volume, clipped in space, altitude and time.

Both are computed in a local azimuthal-equidistant frame (pyproj) with shapely; a circle becomes a polygon that
contains it (the disclosed area may be slightly larger than the truth, never smaller).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import shapely
from pyproj import Geod, Transformer

from ..footprint import FootprintBatch
from ..model import SeparationMinima, Volume4D
from ..validation import densified_ring

__all__ = ["CoarseConflict", "CoarseView", "coarse_conflict", "coarse_view", "conflict_area"]

_GEOD = Geod(ellps="WGS84")
CIRCLE_SEGMENTS = 64
COARSE_CELL_DEG = 0.1
COARSE_ALTITUDE_STEP_M = 100.0
COARSE_TIME_STEP = timedelta(minutes=15)
COARSE_DISTANCE_STEP_M = 10_000.0  #: about a coarse cell (0.1 deg of latitude is 11.1 km)
MAX_POLAR_CELLS = 3_600  #: near a pole cells double in size until the band they cover holds at most this many


@dataclass(frozen=True, slots=True)
class CoarseView:
    """Grid cells (south-west corners, `cell_deg` on a side) and a rounded-out altitude band and time window."""

    cell_deg: float
    cells: tuple[tuple[float, float], ...]
    altitude_lower_m: float
    altitude_upper_m: float
    time_start: datetime
    time_end: datetime


def outline_latlng(volume: Volume4D) -> list[tuple[float, float]]:
    """The footprint's outline as (lat, lng) vertices; a circle as a polygon circumscribing it."""
    v = volume.volume
    if v.outline_circle is not None:
        c = v.outline_circle
        grow = 1.0 / math.cos(math.pi / CIRCLE_SEGMENTS)  # vertices outside, so the edges stay outside the circle
        az = [360.0 * k / CIRCLE_SEGMENTS for k in range(CIRCLE_SEGMENTS)]
        lngs, lats, _ = _GEOD.fwd([c.center.lng] * len(az), [c.center.lat] * len(az), az,
                                  [c.radius.value * grow] * len(az))
        return list(zip(lats, lngs, strict=True))
    assert v.outline_polygon is not None
    lats, lngs = densified_ring(v.outline_polygon)
    return list(zip(lats.tolist(), lngs.tolist(), strict=True))


def _floor_time(t: datetime) -> datetime:
    step = COARSE_TIME_STEP.total_seconds()
    return datetime.fromtimestamp(math.floor(t.timestamp() / step) * step, tz=UTC)


def _ceil_time(t: datetime) -> datetime:
    step = COARSE_TIME_STEP.total_seconds()
    return datetime.fromtimestamp(math.ceil(t.timestamp() / step) * step, tz=UTC)


def _polar_cells(latmin: float, latmax: float, cell_deg: float) -> tuple[float, list[tuple[float, float]]]:
    """Every cell of the rows from latmin to latmax (a band around a pole), cells grown until they are few."""
    def rows(cell: float) -> range:
        return range(math.floor(latmin / cell), math.floor(min(latmax, 90.0 - 1e-9) / cell) + 1)

    while len(rows(cell_deg)) * math.ceil(360.0 / cell_deg) > MAX_POLAR_CELLS:
        cell_deg *= 2.0
    columns = range(math.ceil(360.0 / cell_deg))
    return cell_deg, [(round(i * cell_deg, 6), round(j * cell_deg - 180.0, 6)) for i in rows(cell_deg) for j in columns]


def coarse_view(volume: Volume4D, cell_deg: float = COARSE_CELL_DEG) -> CoarseView:
    """The cells the footprint touches; altitudes rounded outward to 100 m, times to 15 minutes.

    Near a pole (a footprint whose box takes every longitude: see `footprint.compute_bboxes`) the cells are every
    cell of the band of latitudes it may reach, larger cells where the band is wide: the footprint may hold the
    pole, where every longitude meets."""
    latmin, latmax, lngmin, lngmax = (float(x) for x in FootprintBatch.of([volume]).bbox[0])
    if lngmax - lngmin >= 360.0:
        cell_deg, polar = _polar_cells(latmin, latmax, cell_deg)
        return _view(volume, cell_deg, polar)
    outline = outline_latlng(volume)
    lngs = [p[1] for p in outline]
    if max(lngs) - min(lngs) > 180.0:  # crosses the antimeridian: work in 0..360
        outline = [(lat, lng % 360.0) for lat, lng in outline]
    shape = shapely.Polygon([(lng, lat) for lat, lng in outline])
    west, south, east, north = shape.bounds
    cells = []
    i0, i1 = math.floor(south / cell_deg), math.floor(north / cell_deg)
    j0, j1 = math.floor(west / cell_deg), math.floor(east / cell_deg)
    shapely.prepare(shape)
    for i in range(i0, i1 + 1):
        for j in range(j0, j1 + 1):
            box = shapely.box(j * cell_deg, i * cell_deg, (j + 1) * cell_deg, (i + 1) * cell_deg)
            if shape.intersects(box):
                lng = ((j * cell_deg + 180.0) % 360.0) - 180.0
                cells.append((round(i * cell_deg, 6), round(lng, 6)))
    return _view(volume, cell_deg, cells)


def _view(volume: Volume4D, cell_deg: float, cells: list[tuple[float, float]]) -> CoarseView:
    step = COARSE_ALTITUDE_STEP_M
    v = volume.volume
    return CoarseView(
        cell_deg=cell_deg,
        cells=tuple(cells),
        altitude_lower_m=math.floor(v.altitude_lower.metres / step) * step,
        altitude_upper_m=math.ceil(v.altitude_upper.metres / step) * step,
        time_start=_floor_time(volume.time_start.value),
        time_end=_ceil_time(volume.time_end.value),
    )


@dataclass(frozen=True, slots=True)
class CoarseConflict:
    """A conflict's figures at the coarse view's precision."""

    window_start: datetime
    window_end: datetime
    lateral_distance_m: float
    vertical_gap_m: float
    time_gap_s: float


def coarse_conflict(window_start: datetime, window_end: datetime, lateral_distance_m: float,
                    vertical_gap_m: float, time_gap_s: float) -> CoarseConflict:
    """A conflict's figures as a party that sees the other side only coarsely may see them. Exact figures would undo
    the coarse view: the window's ends are the other volume's exact times, and the gaps measure the distance to
    its exact boundary (one probe above it gives its exact ceiling). So the window is rounded outward to the
    coarse time step and the gaps down to the coarse steps (never reported farther than they are)."""
    step_s = COARSE_TIME_STEP.total_seconds()
    return CoarseConflict(
        window_start=_floor_time(window_start),
        window_end=_ceil_time(window_end),
        lateral_distance_m=math.floor(lateral_distance_m / COARSE_DISTANCE_STEP_M) * COARSE_DISTANCE_STEP_M,
        vertical_gap_m=math.floor(vertical_gap_m / COARSE_ALTITUDE_STEP_M) * COARSE_ALTITUDE_STEP_M,
        time_gap_s=math.floor(time_gap_s / step_s) * step_s,
    )


def _local(lat0: float, lng0: float) -> tuple[Transformer, Transformer]:
    proj = f"+proj=aeqd +lat_0={lat0} +lon_0={lng0} +ellps=WGS84 +units=m"
    fwd = Transformer.from_crs("EPSG:4326", proj, always_xy=True)
    inv = Transformer.from_crs(proj, "EPSG:4326", always_xy=True)
    return fwd, inv


def _shape(outline: list[tuple[float, float]], fwd: Transformer) -> shapely.Polygon:
    xs, ys = fwd.transform([p[1] for p in outline], [p[0] for p in outline])
    return shapely.make_valid(shapely.Polygon(list(zip(xs, ys, strict=True))))


def conflict_area(other: Volume4D, own: Volume4D, minima: SeparationMinima) -> list[Volume4D]:
    """The part of `other` within `minima` of `own`, as polygon volumes (empty if they do not conflict)."""
    own_outline = outline_latlng(own)
    lat0 = sum(p[0] for p in own_outline) / len(own_outline)
    lng0 = math.degrees(math.atan2(sum(math.sin(math.radians(p[1])) for p in own_outline),
                                   sum(math.cos(math.radians(p[1])) for p in own_outline)))
    fwd, inv = _local(lat0, lng0)
    reach = _shape(own_outline, fwd).buffer(minima.lateral_m + 1.0, quad_segs=16)
    clipped = _shape(outline_latlng(other), fwd).intersection(reach)
    ov, ow = other.volume, own.volume
    lower = max(ov.altitude_lower.metres, ow.altitude_lower.metres - minima.vertical_m)
    upper = min(ov.altitude_upper.metres, ow.altitude_upper.metres + minima.vertical_m)
    grow = timedelta(seconds=minima.time_s)
    start = max(other.time_start.value, own.time_start.value - grow)
    end = min(other.time_end.value, own.time_end.value + grow)
    if clipped.is_empty or lower > upper or start > end:
        return []
    parts = [g for g in getattr(clipped, "geoms", [clipped]) if isinstance(g, shapely.Polygon) and g.area > 0]
    out = []
    for part in parts:
        xs, ys = part.exterior.coords.xy
        lngs, lats = inv.transform(list(xs)[:-1], list(ys)[:-1])
        vertices = [(lat, ((lng + 180.0) % 360.0) - 180.0) for lat, lng in zip(lats, lngs, strict=True)]
        out.append(Volume4D.polygon(vertices, lower, upper, start, end))
    return out


