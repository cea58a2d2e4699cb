"""The reference strategic workload (DESIGN.md), generated as arrays so a million volumes take seconds.

1M volumes over 1000 km x 1000 km centred at 35N 36E and over 24 h; half circles (radius 2-30 km), half convex
polygons (5-12 vertices, 2-30 km across); lower altitude 0-12000 m, thickness 300-3000 m; start uniform over
the day, duration 10 min-4 h.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyproj import Proj

from ..core.footprint import FootprintBatch

CENTRE_LAT = 35.0
CENTRE_LNG = 36.0
REGION_M = 1_000_000.0
DAY_START = 1_795_000_000.0  # an instant in late 2026, epoch seconds


@dataclass(frozen=True, slots=True)
class Workload:
    batch: FootprintBatch
    owners: np.ndarray


def reference_workload(n: int, seed: int = 1, parties: int = 50) -> Workload:
    rng = np.random.default_rng(seed)
    proj = Proj(proj="aeqd", lat_0=CENTRE_LAT, lon_0=CENTRE_LNG, ellps="WGS84")
    cx = rng.uniform(-REGION_M / 2, REGION_M / 2, n)
    cy = rng.uniform(-REGION_M / 2, REGION_M / 2, n)
    is_circle = rng.random(n) < 0.5
    nvert = np.where(is_circle, 1, rng.integers(5, 13, n))
    offsets = np.concatenate(([0], np.cumsum(nvert))).astype(np.int64)
    total = int(offsets[-1])
    owner_of_point = np.repeat(np.arange(n), nvert)
    # convex polygons: vertices on a circle at sorted random angles
    half_across = rng.uniform(1_000.0, 15_000.0, n)
    angle = rng.uniform(0.0, 2 * np.pi, total)
    keys = owner_of_point * 10.0 + angle  # sort angles within each polygon
    angle = angle[np.argsort(keys, kind="stable")]
    r = np.where(is_circle[owner_of_point], 0.0, half_across[owner_of_point])
    x = cx[owner_of_point] + r * np.cos(angle)
    y = cy[owner_of_point] + r * np.sin(angle)
    lng, lat = proj(x, y, inverse=True)
    radius = np.where(is_circle, rng.uniform(2_000.0, 30_000.0, n), 0.0)
    zlo = rng.uniform(0.0, 12_000.0, n)
    zhi = zlo + rng.uniform(300.0, 3_000.0, n)
    t0 = DAY_START + rng.uniform(0.0, 86_400.0, n)
    t1 = t0 + rng.uniform(600.0, 14_400.0, n)
    batch = FootprintBatch.from_arrays(offsets, np.asarray(lat), np.asarray(lng), radius, zlo, zhi, t0, t1)
    return Workload(batch=batch, owners=rng.integers(0, parties, n))


def take(batch: FootprintBatch, i: int) -> FootprintBatch:
    """Footprint i of a batch as a batch of one."""
    s, e = int(batch.offsets[i]), int(batch.offsets[i + 1])
    return FootprintBatch(
        offsets=np.array([0, e - s], dtype=np.int64),
        points=batch.points[s:e],
        radius=batch.radius[i : i + 1],
        zlo=batch.zlo[i : i + 1],
        zhi=batch.zhi[i : i + 1],
        t0=batch.t0[i : i + 1],
        t1=batch.t1[i : i + 1],
        bbox=batch.bbox[i : i + 1],
    )
