"""Footprints as arrays: the form the engines work on (ECEF rings, radii, bands, windows, bounding boxes).

Keeping coordinates in flat arrays, not one Python object per volume, is what lets a million volumes load in
seconds. `FootprintBatch` is columnar; `prepare()` turns validated `Volume4D` objects into one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

from .geo import MIN_RADIUS_OF_CURVATURE_M, ecef, geodetic_of
from .model import Volume4D

__all__ = ["FootprintBatch", "compute_bboxes", "epoch_seconds"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_BBOX_PAD_M = 50.0


def epoch_seconds(t: object) -> float:
    """Seconds since the Unix epoch of a tz-aware datetime (float64 keeps microseconds for centuries)."""
    return float(t.timestamp())  # type: ignore[attr-defined]


POLAR_LAT_DEG = 89.0  #: a footprint that may reach beyond this latitude gets a polar box (see compute_bboxes)


@njit(cache=True, inline="always")
def _wrap(d: float) -> float:
    """d degrees into [-180, 180)."""
    if d >= 180.0:
        d -= 360.0
    elif d < -180.0:
        d += 360.0
    return d


@njit(cache=True)
def compute_bboxes(offsets: IntArray, points: FloatArray, radius: FloatArray) -> FloatArray:
    """Conservative lat/lon boxes (latmin, latmax, lngmin, lngmax) of footprints, degrees.

    lngmin is in [-180, 180); lngmax >= lngmin may exceed 180 for a footprint across the antimeridian.
    Boxes are padded for the poleward bulge of geodesic edges and for rounding, so they never cut a footprint.

    Near a pole longitude stops being a useful coordinate: a footprint that may come within 1 degree of a pole
    (every boundary point lies within its radius, or half its longest edge, of a vertex, and latitude changes by at
    most 1 / (least meridian radius) per metre along any path) or whose ring winds around it (it contains the pole)
    gets the full longitude range and a latitude bound at the pole. A vertex at the pole (any longitude) is one
    such. Elsewhere longitudes are unwrapped along the ring, so a footprint spanning more than 180 degrees of
    longitude without enclosing a pole keeps its true range.
    """
    n = radius.shape[0]
    out = np.empty((n, 4))
    for i in range(n):
        s = offsets[i]
        e = offsets[i + 1]
        lat0, lng0 = geodetic_of(points[s, 0], points[s, 1], points[s, 2])
        latmin = lat0
        latmax = lat0
        lngmin = 0.0
        lngmax = 0.0
        max_edge2 = 0.0
        run = 0.0  # longitude unwrapped along the ring, relative to the first vertex
        prev = lng0
        for k in range(s, e):
            lat, lng = geodetic_of(points[k, 0], points[k, 1], points[k, 2])
            run += _wrap(lng - prev)
            prev = lng
            d = _wrap(lng - lng0)
            d += 360.0 * round((run - d) / 360.0)
            latmin = min(latmin, lat)
            latmax = max(latmax, lat)
            lngmin = min(lngmin, d)
            lngmax = max(lngmax, d)
            j = k + 1 if k + 1 < e else s
            dx = points[j, 0] - points[k, 0]
            dy = points[j, 1] - points[k, 1]
            dz = points[j, 2] - points[k, 2]
            max_edge2 = max(max_edge2, dx * dx + dy * dy + dz * dz)
        winds = abs(run + _wrap(lng0 - prev)) > 180.0  # 0 or +/-360 once the ring closes
        bulge = max_edge2 * (1.0 + math.tan(math.radians(min(max(abs(latmin), abs(latmax)), 89.0))))
        pad = _BBOX_PAD_M + bulge / (8.0 * MIN_RADIUS_OF_CURVATURE_M)
        r = radius[i] * 1.001 + pad
        dlat = math.degrees(r / MIN_RADIUS_OF_CURVATURE_M)
        reach = max(dlat, math.degrees((radius[i] * 1.001 + 0.505 * math.sqrt(max_edge2) + _BBOX_PAD_M)
                                       / MIN_RADIUS_OF_CURVATURE_M))
        if winds or latmax + reach > POLAR_LAT_DEG or latmin - reach < -POLAR_LAT_DEG:
            if latmax + latmin > 0.0:  # the north pole (a footprint is far smaller than a hemisphere)
                out[i, 0] = max(latmin - reach, -90.0)
                out[i, 1] = 90.0
            else:
                out[i, 0] = -90.0
                out[i, 1] = min(latmax + reach, 90.0)
            out[i, 2] = -180.0
            out[i, 3] = 180.0
            continue
        latmin -= dlat
        latmax += dlat
        phimax = min(max(abs(latmin), abs(latmax)), 89.9)
        x = math.sin(min(r / MIN_RADIUS_OF_CURVATURE_M, math.pi / 2)) / math.cos(math.radians(phimax))
        dlng = math.degrees(math.asin(min(1.0, x))) if x < 1.0 else 180.0
        lo = lng0 + lngmin - dlng
        hi = lng0 + lngmax + dlng
        if hi - lo >= 360.0:
            lo = -180.0
            hi = 180.0
        while lo < -180.0:
            lo += 360.0
            hi += 360.0
        while lo >= 180.0:
            lo -= 360.0
            hi -= 360.0
        out[i, 0] = max(latmin, -90.0)
        out[i, 1] = min(latmax, 90.0)
        out[i, 2] = lo
        out[i, 3] = hi
    return out


@dataclass(slots=True)
class FootprintBatch:
    """n footprints as columns. Footprint i owns points[offsets[i]:offsets[i+1]] (ECEF metres).

    A circle has radius > 0 and one point, its centre; a polygon has radius 0 and its ring (not closed).
    """

    offsets: IntArray
    points: FloatArray
    radius: FloatArray
    zlo: FloatArray
    zhi: FloatArray
    t0: FloatArray
    t1: FloatArray
    bbox: FloatArray

    def __len__(self) -> int:
        return int(self.radius.shape[0])

    @classmethod
    def from_arrays(
        cls,
        offsets: IntArray,
        lat: FloatArray,
        lng: FloatArray,
        radius: FloatArray,
        zlo: FloatArray,
        zhi: FloatArray,
        t0: FloatArray,
        t1: FloatArray,
    ) -> FootprintBatch:
        """Build from vertex lat/lng degrees (already validated and densified), metres and epoch seconds."""
        points = np.ascontiguousarray(ecef(lat, lng).reshape(-1, 3))
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        radius = np.ascontiguousarray(radius, dtype=np.float64)
        return cls(
            offsets=offsets,
            points=points,
            radius=radius,
            zlo=np.ascontiguousarray(zlo, dtype=np.float64),
            zhi=np.ascontiguousarray(zhi, dtype=np.float64),
            t0=np.ascontiguousarray(t0, dtype=np.float64),
            t1=np.ascontiguousarray(t1, dtype=np.float64),
            bbox=compute_bboxes(offsets, points, radius),
        )

    @classmethod
    def of(cls, volumes: Sequence[Volume4D]) -> FootprintBatch:
        """Footprints of validated volumes (see `deconflict.core.validation.validate_volume`)."""
        from .validation import densified_ring  # validation imports this module

        lats: list[FloatArray] = []
        lngs: list[FloatArray] = []
        offsets = [0]
        radius = np.zeros(len(volumes))
        zlo = np.empty(len(volumes))
        zhi = np.empty(len(volumes))
        t0 = np.empty(len(volumes))
        t1 = np.empty(len(volumes))
        for i, v in enumerate(volumes):
            v3 = v.volume
            if v3.outline_circle is not None:
                c = v3.outline_circle
                lats.append(np.array([c.center.lat]))
                lngs.append(np.array([c.center.lng]))
                radius[i] = c.radius.value
            else:
                assert v3.outline_polygon is not None
                lat, lng = densified_ring(v3.outline_polygon)
                lats.append(lat)
                lngs.append(lng)
            offsets.append(offsets[-1] + len(lats[-1]))
            zlo[i] = v3.altitude_lower.metres
            zhi[i] = v3.altitude_upper.metres
            t0[i] = epoch_seconds(v.time_start.value)
            t1[i] = epoch_seconds(v.time_end.value)
        return cls.from_arrays(
            np.array(offsets, dtype=np.int64),
            np.concatenate(lats) if lats else np.empty(0),
            np.concatenate(lngs) if lngs else np.empty(0),
            radius,
            zlo,
            zhi,
            t0,
            t1,
        )

    def ring(self, i: int) -> FloatArray:
        return self.points[self.offsets[i] : self.offsets[i + 1]]

