"""Exact planar distance kernels (numba) between footprints projected into one local frame.

A footprint is a ring of (x, y) metres (polygon, implicitly closed) or a centre plus radius (circle).
Distances are between closed sets: 0 when the footprints touch or overlap.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from .jit import borrowing

__all__ = [
    "boundary_distance",
    "point_in_ring",
    "point_ring_distance",
    "ring_ring_distance",
    "segment_distance",
    "shape_distance",
]

FloatArray = npt.NDArray[np.float64]


@njit(cache=True, inline="always")
def _point_segment_d2(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    dx = bx - ax
    dy = by - ay
    l2 = dx * dx + dy * dy
    num = (px - ax) * dx + (py - ay) * dy
    if num <= 0.0 or l2 <= 0.0:  # nearest to a (the division is left for the one case that needs it)
        qx = ax - px
        qy = ay - py
    elif num >= l2:  # nearest to b
        qx = ax + dx - px
        qy = ay + dy - py
    else:
        t = num / l2
        qx = ax + t * dx - px
        qy = ay + t * dy - py
    return qx * qx + qy * qy


@njit(cache=True, inline="always")
def _orient(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> float:
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


@borrowing
def _segments_intersect(
    ax: float, ay: float, bx: float, by: float, cx: float, cy: float, dx: float, dy: float
) -> bool:
    """Closed segments [a,b] and [c,d] share a point (touching counts)."""
    d1 = _orient(cx, cy, dx, dy, ax, ay)
    d2 = _orient(cx, cy, dx, dy, bx, by)
    d3 = _orient(ax, ay, bx, by, cx, cy)
    d4 = _orient(ax, ay, bx, by, dx, dy)
    if ((d1 > 0.0 and d2 < 0.0) or (d1 < 0.0 and d2 > 0.0)) and ((d3 > 0.0 and d4 < 0.0) or (d3 < 0.0 and d4 > 0.0)):
        return True
    # collinear or endpoint cases: fall back to exact zero distance checks
    if d1 == 0.0 and _point_segment_d2(ax, ay, cx, cy, dx, dy) == 0.0:
        return True
    if d2 == 0.0 and _point_segment_d2(bx, by, cx, cy, dx, dy) == 0.0:
        return True
    if d3 == 0.0 and _point_segment_d2(cx, cy, ax, ay, bx, by) == 0.0:
        return True
    return bool(d4 == 0.0 and _point_segment_d2(dx, dy, ax, ay, bx, by) == 0.0)


@borrowing
def segment_distance(
    ax: float, ay: float, bx: float, by: float, cx: float, cy: float, dx: float, dy: float
) -> float:
    """Least distance between closed segments [a,b] and [c,d], metres."""
    if _segments_intersect(ax, ay, bx, by, cx, cy, dx, dy):
        return 0.0
    d2 = min(
        _point_segment_d2(ax, ay, cx, cy, dx, dy),
        _point_segment_d2(bx, by, cx, cy, dx, dy),
        _point_segment_d2(cx, cy, ax, ay, bx, by),
        _point_segment_d2(dx, dy, ax, ay, bx, by),
    )
    return math.sqrt(d2)


@borrowing
def point_in_ring(px: float, py: float, ring: FloatArray) -> bool:
    """Even-odd rule: is the point strictly inside the ring? (Boundary points are handled by distances.)"""
    inside = False
    n = ring.shape[0]
    j = n - 1
    for i in range(n):
        xi, yi = ring[i, 0], ring[i, 1]
        xj, yj = ring[j, 0], ring[j, 1]
        if (yi > py) != (yj > py):
            xcross = xi + (py - yi) * (xj - xi) / (yj - yi)
            if px < xcross:
                inside = not inside
        j = i
    return inside


@borrowing
def point_ring_distance(px: float, py: float, ring: FloatArray) -> float:
    """Distance from a point to a closed polygon (0 inside or on the boundary)."""
    n = ring.shape[0]
    best = np.inf
    inside = False
    j = n - 1
    for i in range(n):  # one pass: the even-odd crossing count of `point_in_ring` and the nearest edge
        xi, yi = ring[i, 0], ring[i, 1]
        xj, yj = ring[j, 0], ring[j, 1]
        if (yi > py) != (yj > py):
            xcross = xi + (py - yi) * (xj - xi) / (yj - yi)
            if px < xcross:
                inside = not inside
        d2 = _point_segment_d2(px, py, xj, yj, xi, yi)
        if d2 < best:
            best = d2
        j = i
    if inside:
        return 0.0
    return math.sqrt(best)


@borrowing
def boundary_distance(px: float, py: float, ring: FloatArray) -> float:
    """Distance from a point to a polygon's boundary (its outline, inside or out)."""
    n = ring.shape[0]
    best = np.inf
    j = n - 1
    for i in range(n):
        best = min(best, _point_segment_d2(px, py, ring[j, 0], ring[j, 1], ring[i, 0], ring[i, 1]))
        j = i
    return math.sqrt(best)


@borrowing
def ring_ring_distance(a: FloatArray, b: FloatArray) -> float:
    """Least distance between two closed polygons (0 when they touch, cross or one contains the other).

    Segment pairs whose bounding boxes lie farther apart than the best distance so far are skipped, so
    large polygons far from each other cost little more than their vertex count.
    """
    na = a.shape[0]
    nb = b.shape[0]
    # containment of a whole ring (no boundary crossing) shows as a vertex strictly inside the other
    if point_in_ring(a[0, 0], a[0, 1], b) or point_in_ring(b[0, 0], b[0, 1], a):
        return 0.0
    best = np.inf
    j = na - 1
    for i in range(na):
        ax, ay, bx, by = a[j, 0], a[j, 1], a[i, 0], a[i, 1]
        sminx = min(ax, bx)
        smaxx = max(ax, bx)
        sminy = min(ay, by)
        smaxy = max(ay, by)
        k = nb - 1
        for m in range(nb):
            cx, cy, dx, dy = b[k, 0], b[k, 1], b[m, 0], b[m, 1]
            k = m
            # skip segment pairs whose boxes are already farther apart than the best distance
            gx = max(min(cx, dx) - smaxx, sminx - max(cx, dx), 0.0)
            gy = max(min(cy, dy) - smaxy, sminy - max(cy, dy), 0.0)
            if gx * gx + gy * gy >= best * best:
                continue
            d = segment_distance(ax, ay, bx, by, cx, cy, dx, dy)
            if d < best:
                best = d
                if best == 0.0:
                    return best
        j = i
    return best


@borrowing
def shape_distance(
    a_ring: FloatArray, a_radius: float, b_ring: FloatArray, b_radius: float
) -> float:
    """Distance between two footprints; a footprint with radius > 0 is a circle whose ring is its centre."""
    if a_radius > 0.0 and b_radius > 0.0:
        d = math.hypot(a_ring[0, 0] - b_ring[0, 0], a_ring[0, 1] - b_ring[0, 1]) - a_radius - b_radius
        return d if d > 0.0 else 0.0
    if a_radius > 0.0:
        d = point_ring_distance(a_ring[0, 0], a_ring[0, 1], b_ring) - a_radius
        return d if d > 0.0 else 0.0
    if b_radius > 0.0:
        d = point_ring_distance(b_ring[0, 0], b_ring[0, 1], a_ring) - b_radius
        return d if d > 0.0 else 0.0
    return ring_ring_distance(a_ring, b_ring)
