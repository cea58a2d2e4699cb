"""An aircraft's predicted straight path against a declared 4D volume: when it is inside, exactly.

The motion model is the screen's (`deconflict.core.tactical.cpa`): the aircraft moves along the ECEF tangent line
at its position with its ground velocity, and its altitude changes at its vertical rate. The volume is a strategic
footprint (`FootprintBatch`: a circle's ECEF centre and radius, or a polygon's ECEF ring; an altitude band in
metres; a time window in epoch seconds). Laterally, both are seen in the aircraft's east/north tangent plane: the
path is a straight line there, the ring's vertices are projected onto it (the error grows with the square of the
distance over the Earth's radius: under a metre at 100 km), and inside means inside the projected ring, or within
the radius of the projected centre. The vertical and time tests are exact intervals.

Pure: no clock (times are given relative to `now`), no I/O.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..geo import geodetic_of

__all__ = ["PathSide", "path_inside", "point_inside"]

FloatArray = npt.NDArray[np.float64]
Interval = tuple[float, float]


@dataclass(frozen=True, slots=True)
class PathSide:
    """Which tests a position passes against a volume (for a non-conformance's reason)."""

    lateral: bool
    vertical: bool
    time: bool

    @property
    def inside(self) -> bool:
        return self.lateral and self.vertical and self.time


def _basis(pos: FloatArray) -> tuple[FloatArray, FloatArray]:
    lat, lng = geodetic_of(float(pos[0]), float(pos[1]), float(pos[2]))
    la, lo = math.radians(lat), math.radians(lng)
    east = np.array([-math.sin(lo), math.cos(lo), 0.0])
    north = np.array([-math.sin(la) * math.cos(lo), -math.sin(la) * math.sin(lo), math.cos(la)])
    return east, north


def _in_ring(x: float, y: float, xs: FloatArray, ys: FloatArray) -> bool:
    inside = False
    n = xs.shape[0]
    j = n - 1
    for i in range(n):
        if (ys[i] > y) != (ys[j] > y):
            cross = xs[i] + (y - ys[i]) * (xs[j] - xs[i]) / (ys[j] - ys[i])
            if x < cross:
                inside = not inside
        j = i
    return inside


def _lateral(vx: float, vy: float, ring: FloatArray, radius: float, pos: FloatArray, horizon: float
             ) -> list[Interval]:
    """Sub-intervals of [0, horizon] during which the path is laterally inside."""
    east, north = _basis(pos)
    d = ring - pos
    xs, ys = d @ east, d @ north
    if radius > 0.0:  # a circle: |v t - c|^2 <= r^2
        cx, cy = float(xs[0]), float(ys[0])
        a = vx * vx + vy * vy
        b = -2.0 * (vx * cx + vy * cy)
        c = cx * cx + cy * cy - radius * radius
        if a == 0.0:
            return [(0.0, horizon)] if c <= 0.0 else []
        disc = b * b - 4.0 * a * c
        if disc < 0.0:
            return []
        root = math.sqrt(disc)
        lo, hi = (-b - root) / (2.0 * a), (-b + root) / (2.0 * a)
        lo, hi = max(lo, 0.0), min(hi, horizon)
        return [(lo, hi)] if lo <= hi else []
    # a polygon: the path's crossings of each edge cut [0, horizon]; each piece is inside or outside throughout
    cuts = [0.0, horizon]
    n = xs.shape[0]
    for i in range(n):
        ax, ay, bx, by = xs[i], ys[i], xs[(i + 1) % n], ys[(i + 1) % n]
        ex, ey = bx - ax, by - ay
        den = vx * ey - vy * ex
        if den == 0.0:
            continue
        t = (ax * ey - ay * ex) / den
        s = (ax * vy - ay * vx) / den
        if 0.0 < t < horizon and -1e-12 <= s <= 1.0 + 1e-12:
            cuts.append(float(t))
    cuts.sort()
    out: list[Interval] = []
    for lo, hi in itertools.pairwise(cuts):
        mid = 0.5 * (lo + hi)
        if _in_ring(vx * mid, vy * mid, xs, ys):
            if out and out[-1][1] >= lo:
                out[-1] = (out[-1][0], hi)
            else:
                out.append((lo, hi))
    return out


def _band(alt: float, vs: float, zlo: float, zhi: float) -> Interval:
    """When alt + vs t lies in [zlo, zhi] (possibly empty: lo > hi; unbounded: +-inf)."""
    if vs == 0.0:
        return (-math.inf, math.inf) if zlo <= alt <= zhi else (math.inf, -math.inf)
    a, b = (zlo - alt) / vs, (zhi - alt) / vs
    return (min(a, b), max(a, b))


def path_inside(pos: FloatArray, vel: FloatArray, alt: float, vs: float, ring: FloatArray, radius: float,
                zlo: float, zhi: float, t0: float, t1: float, horizon: float) -> Interval | None:
    """The first stretch of [0, horizon] seconds from now during which the aircraft (ECEF surface position `pos`
    and ground velocity `vel`, altitude `alt` m, vertical rate `vs` m/s) is inside the volume (ring or centre
    `ring` ECEF, `radius` (0: a polygon), band [zlo, zhi] m, window [t0, t1] seconds from now); None if never.
    (0, t): inside now."""
    east, north = _basis(pos)
    vx, vy = float(vel @ east), float(vel @ north)
    vlo, vhi = _band(alt, vs, zlo, zhi)
    lo_all, hi_all = max(0.0, vlo, t0), min(horizon, vhi, t1)
    if lo_all > hi_all:
        return None
    for lo, hi in _lateral(vx, vy, ring, radius, pos, horizon):
        a, b = max(lo, lo_all), min(hi, hi_all)
        if a <= b:
            return (a, b)
    return None


def point_inside(pos: FloatArray, alt: float, ring: FloatArray, radius: float, zlo: float, zhi: float,
                 t0: float, t1: float) -> PathSide:
    """Whether a position now (ECEF surface `pos`, altitude `alt`) is inside the volume, test by test (the window
    [t0, t1] in seconds from now)."""
    lateral = bool(_lateral(0.0, 0.0, ring, radius, pos, 0.0))
    return PathSide(lateral, zlo <= alt <= zhi, t0 <= 0.0 <= t1)
