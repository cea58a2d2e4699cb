"""Geometry on the WGS84 ellipsoid: Earth-centred coordinates and the local frame lateral tests run in.

Why this frame: lateral tests need metres, not degrees. Each check runs in an azimuthal equidistant (AEQD) frame
centred on the query footprint, built from exact Earth-centred (ECEF) coordinates: the chord from the centre is
exact, and the chord-to-arc step uses the ellipsoid's radius of curvature in that azimuth, so distances from the
centre match the geodesic to well under a metre within several hundred km. Distances between two points away
from the centre carry the AEQD's small scale error (under 5e-5 relative within 100 km of the centre).

Polygon edges are geodesics (F3548: shortest paths). Edges longer than `MAX_EDGE_M` are densified with geodesic
points, so straight edges in the frame stay within a few decimetres of the true geodesic. Vertices are stored as
ECEF so that a query projects them with a rotation, not trigonometry, and the antimeridian needs no special case.
Nor do the poles: the frame is well defined there (east and north follow the centre's longitude, whatever value
a vertex at the pole carries), and a footprint around or on a pole is an ordinary shape in it. Only the lat/lon
boxes that index footprints need care there (see `footprint.compute_bboxes`).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = [
    "A_M",
    "E2",
    "MAX_EDGE_M",
    "LocalFrame",
    "ecef",
    "frame_centre",
    "geodetic_of",
    "project",
]

A_M = 6378137.0  #: WGS84 semi-major axis, metres
F = 1.0 / 298.257223563  #: WGS84 flattening
E2 = F * (2.0 - F)  #: first eccentricity squared
MAX_EDGE_M = 25_000.0  #: longer polygon edges are densified along the geodesic
MIN_RADIUS_OF_CURVATURE_M = A_M * (1.0 - E2)  #: meridian radius at the equator: the smallest anywhere

FloatArray = npt.NDArray[np.float64]


def ecef(lat_deg: FloatArray | float, lng_deg: FloatArray | float) -> FloatArray:
    """Earth-centred, Earth-fixed coordinates (metres) of points on the ellipsoid surface; shape (..., 3)."""
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lng = np.radians(np.asarray(lng_deg, dtype=np.float64))
    sin_lat = np.sin(lat)
    n = A_M / np.sqrt(1.0 - E2 * sin_lat * sin_lat)
    cos_lat = np.cos(lat)
    return np.stack((n * cos_lat * np.cos(lng), n * cos_lat * np.sin(lng), n * (1.0 - E2) * sin_lat), axis=-1)


@njit(cache=True, fastmath=False)
def geodetic_of(x: float, y: float, z: float) -> tuple[float, float]:
    """Geodetic (lat, lng) degrees of the surface point below an ECEF direction (exact on the surface)."""
    p = math.hypot(x, y)
    lat = math.degrees(math.atan2(z, (1.0 - E2) * p))
    lng = math.degrees(math.atan2(y, x))
    return lat, lng


@njit(cache=True)
def frame_centre(points: FloatArray) -> tuple[float, float]:
    """The frame centre of a footprint: the surface point below the mean of its ECEF vertices."""
    sx = 0.0
    sy = 0.0
    sz = 0.0
    for i in range(points.shape[0]):
        sx += points[i, 0]
        sy += points[i, 1]
        sz += points[i, 2]
    return geodetic_of(sx, sy, sz)


@njit(cache=True)
def frame_params(lat0_deg: float, lng0_deg: float) -> FloatArray:
    """The 14 numbers of a local frame: centre (3), east (3), north (3), up (3), M and N radii (2)."""
    lat = math.radians(lat0_deg)
    lng = math.radians(lng0_deg)
    sl, cl = math.sin(lat), math.cos(lat)
    sg, cg = math.sin(lng), math.cos(lng)
    w = math.sqrt(1.0 - E2 * sl * sl)
    n = A_M / w
    m = A_M * (1.0 - E2) / (w * w * w)
    out = np.empty(14)
    out[0] = n * cl * cg
    out[1] = n * cl * sg
    out[2] = n * (1.0 - E2) * sl
    out[3], out[4], out[5] = -sg, cg, 0.0
    out[6], out[7], out[8] = -sl * cg, -sl * sg, cl
    out[9], out[10], out[11] = cl * cg, cl * sg, sl
    out[12] = m
    out[13] = n
    return out


@njit(cache=True)
def project_point(frame: FloatArray, x: float, y: float, z: float) -> tuple[float, float]:
    """AEQD (east, north) metres of one ECEF surface point in `frame` (see module docstring)."""
    dx = x - frame[0]
    dy = y - frame[1]
    dz = z - frame[2]
    e = dx * frame[3] + dy * frame[4] + dz * frame[5]
    n = dx * frame[6] + dy * frame[7] + dz * frame[8]
    hz2 = e * e + n * n
    if hz2 == 0.0:
        return 0.0, 0.0
    hz = math.sqrt(hz2)
    chord = math.sqrt(dx * dx + dy * dy + dz * dz)
    ca = n / hz
    sa = e / hz
    r = 1.0 / (ca * ca / frame[12] + sa * sa / frame[13])
    half = chord / (2.0 * r)
    if half > 1.0:
        half = 1.0
    s = 2.0 * r * math.asin(half)
    return s * sa, s * ca


@njit(cache=True)
def project(frame: FloatArray, points: FloatArray) -> FloatArray:
    """AEQD (east, north) metres of ECEF points, shape (n, 2)."""
    out = np.empty((points.shape[0], 2))
    for i in range(points.shape[0]):
        out[i, 0], out[i, 1] = project_point(frame, points[i, 0], points[i, 1], points[i, 2])
    return out


class LocalFrame:
    """An AEQD frame centred at (lat0, lng0): `frame.project(ecef_points)` gives metres east and north."""

    __slots__ = ("lat0", "lng0", "params")

    def __init__(self, lat0: float, lng0: float) -> None:
        self.lat0 = lat0
        self.lng0 = lng0
        self.params = frame_params(lat0, lng0)

    @classmethod
    def around(cls, points_ecef: FloatArray) -> LocalFrame:
        lat, lng = frame_centre(np.ascontiguousarray(points_ecef, dtype=np.float64))
        return cls(lat, lng)

    def project(self, points_ecef: FloatArray) -> FloatArray:
        return project(self.params, np.ascontiguousarray(points_ecef, dtype=np.float64))
