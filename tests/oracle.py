"""A brute-force oracle for strategic conflicts, built independently of the engine's kernels.

It compares every pair of volumes, projects with pyproj's ellipsoidal azimuthal equidistant projection centred
where the engine centres its frame, and measures with shapely (GEOS). Slow, obvious, and trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import Proj

from deconflict.core.footprint import FootprintBatch
from deconflict.core.geo import frame_centre
from deconflict.core.model import Declaration, SeparationMinima
from deconflict.core.strategic import DEFAULT_KIND_RULES, engine_kind


@dataclass(frozen=True)
class Hit:
    query_volume: int
    other_declaration: str
    other_volume: int
    lateral_m: float
    vertical_gap_m: float
    time_gap_s: float


def _lat_lng(batch: FootprintBatch, i: int) -> tuple[np.ndarray, np.ndarray]:
    pts = batch.ring(i)
    p = np.hypot(pts[:, 0], pts[:, 1])
    from deconflict.core.geo import E2

    lat = np.degrees(np.arctan2(pts[:, 2], (1 - E2) * p))
    lng = np.degrees(np.arctan2(pts[:, 1], pts[:, 0]))
    return lat, lng


def _shape(proj: Proj, batch: FootprintBatch, i: int) -> tuple[shapely.Geometry, float]:
    lat, lng = _lat_lng(batch, i)
    x, y = proj(lng, lat)
    if batch.radius[i] > 0:
        return shapely.Point(x[0], y[0]), float(batch.radius[i])
    return shapely.Polygon(np.column_stack((x, y))), 0.0


def oracle_hits(
    query: Declaration,
    others: list[Declaration],
    minima: dict[tuple[str, str], SeparationMinima],
    default: SeparationMinima,
) -> list[Hit]:
    """Every (query volume, other volume) pair within the minima, by brute force."""
    qb = FootprintBatch.of(query.volumes)
    qkind = engine_kind(query.kind, query.activation)
    hits = []
    for other in others:
        if other.owner == query.owner or other.id == query.id:
            continue
        if not DEFAULT_KIND_RULES[int(qkind), int(engine_kind(other.kind, other.activation))]:
            continue
        m = minima.get((query.owner, other.owner), minima.get((other.owner, query.owner), default))
        ob = FootprintBatch.of(other.volumes)
        for i in range(len(qb)):
            lat0, lng0 = frame_centre(qb.ring(i))
            proj = Proj(proj="aeqd", lat_0=lat0, lon_0=lng0, ellps="WGS84")
            qshape, qr = _shape(proj, qb, i)
            for j in range(len(ob)):
                tgap = max(ob.t0[j] - qb.t1[i], qb.t0[i] - ob.t1[j])
                zgap = max(ob.zlo[j] - qb.zhi[i], qb.zlo[i] - ob.zhi[j])
                if tgap > m.time_s or zgap > m.vertical_m:
                    continue
                oshape, orad = _shape(proj, ob, j)
                d = max(float(shapely.distance(qshape, oshape)) - qr - orad, 0.0)
                hits.append(Hit(i, other.id, j, d, max(zgap, 0.0), max(tgap, 0.0)))
    return hits


def lateral_minimum(query: Declaration, other_owner: str, minima: dict[tuple[str, str], SeparationMinima],
                    default: SeparationMinima) -> float:
    m = minima.get((query.owner, other_owner), minima.get((other_owner, query.owner), default))
    return m.lateral_m
