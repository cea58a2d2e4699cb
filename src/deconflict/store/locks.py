"""Serialising check-and-write by area and time, so two conflicting declarations cannot both be accepted.

On PostgreSQL each write takes transaction-scoped advisory locks on the cells of a hierarchical space-time grid
that its volumes (grown by the widest separation minima) touch: exclusive on its own cells at the level that fits
it (at most 2 x 2 x 2 cells per volume), shared on every coarser ancestor. Two writes whose grown regions meet
share a cell at the coarser of their two levels, where one holds it exclusive and the other exclusive or shared,
so they run one after the other; writes elsewhere run in parallel. Locks are taken in one statement in key order,
so no two writers deadlock. SQLite has a single writer anyway (BEGIN IMMEDIATE); it needs no more.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from ..core.geo import A_M, MIN_RADIUS_OF_CURVATURE_M

__all__ = ["area_lock_keys", "lock_areas"]

BASE_DEG = 0.5
BASE_S = 7200.0
LEVELS = 16
POLAR_LAT_DEG = 89.0  #: a region grown beyond this latitude takes every longitude (it may reach across the pole)


def _key(level: int, iy: int, ix: int, it: int) -> int:
    digest = hashlib.blake2b(f"{level}:{iy}:{ix}:{it}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _level(dlat: float, dlng: float, dt: float) -> int:
    for level in range(LEVELS):
        scale = 2.0**level
        if dlat <= BASE_DEG * scale and dlng <= BASE_DEG * scale and dt <= BASE_S * scale:
            return level
    return LEVELS - 1


def area_lock_keys(
    bbox: npt.NDArray[np.float64], t0: npt.NDArray[np.float64], t1: npt.NDArray[np.float64],
    grow_m: float, grow_s: float,
) -> dict[int, bool]:
    """Lock keys -> exclusive? for volumes with boxes [latmin, latmax, lngmin, lngmax] and windows [t0, t1]."""
    keys: dict[int, bool] = {}
    for row in range(bbox.shape[0]):
        latmin, latmax, lngmin, lngmax = (float(x) for x in bbox[row])
        dlat = math.degrees(grow_m / MIN_RADIUS_OF_CURVATURE_M)  # the least metres per degree of latitude
        latmin, latmax = max(latmin - dlat, -90.0), min(latmax + dlat, 90.0)
        phi = max(abs(latmin), abs(latmax))
        x = grow_m / (A_M * math.cos(math.radians(phi))) if phi < POLAR_LAT_DEG else 1.0
        if x >= 1.0 or lngmax - lngmin >= 360.0:
            lngmin, lngmax = -180.0, 180.0
        else:  # a point within grow_m of one at latitude phi is within asin(x) of its longitude
            dlng = math.degrees(math.asin(x))
            lngmin, lngmax = lngmin - dlng, lngmax + dlng
        a, b = float(t0[row]) - grow_s, float(t1[row]) + grow_s
        spans = [(lngmin, lngmax)]
        if lngmax > 180.0:
            spans.append((lngmin - 360.0, lngmax - 360.0))
        if lngmin < -180.0:
            spans.append((lngmin + 360.0, lngmax + 360.0))
        level = _level(latmax - latmin, lngmax - lngmin, b - a)
        for lo, hi in spans:
            _cells(keys, level, latmin, latmax, lo, hi, a, b)
    return keys


def _cells(keys: dict[int, bool], level: int, latmin: float, latmax: float, lngmin: float, lngmax: float,
           t0: float, t1: float) -> None:
    size, span = BASE_DEG * 2.0**level, BASE_S * 2.0**level
    ys = range(math.floor(latmin / size), math.floor(latmax / size) + 1)
    xs = range(math.floor(lngmin / size), math.floor(lngmax / size) + 1)
    ts = range(math.floor(t0 / span), math.floor(t1 / span) + 1)
    for iy in ys:
        for ix in xs:
            for it in ts:
                keys[_key(level, iy, ix, it)] = True
                for up in range(1, LEVELS - level):
                    ancestor = _key(level + up, iy >> up, ix >> up, it >> up)
                    keys.setdefault(ancestor, False)


_LOCK_SQL = sa.text(
    "SELECT count(CASE WHEN x THEN pg_advisory_xact_lock(k)::text ELSE pg_advisory_xact_lock_shared(k)::text END)"
    " FROM (SELECT k, x FROM unnest(CAST(:keys AS bigint[]), CAST(:excl AS boolean[])) AS u(k, x) ORDER BY k) s"
)


def lock_areas(conn: sa.Connection, keys: dict[int, bool]) -> None:
    """Take the advisory locks (PostgreSQL; released at commit or rollback). No-op elsewhere."""
    if conn.dialect.name != "postgresql" or not keys:
        return
    ordered = sorted(keys)
    conn.execute(_LOCK_SQL, {"keys": ordered, "excl": [keys[k] for k in ordered]})
