"""Closest point of approach (CPA) of two aircraft under straight-line extrapolation, and loss of separation.

The model, stated once (the screen, the tests' oracle and the benchmark's dense baseline all follow it):

- Each aircraft is a point on the WGS84 ellipsoid surface, held as Earth-centred (ECEF) metres, moving on a
  straight line at its ground velocity (ground speed along its track angle, in its own east/north frame), and an
  altitude (metres) changing at its vertical rate. Both are extrapolated linearly from the common time.
- A pair is measured in the local frame of the pair: the plane tangent to the ellipsoid below the midpoint of the
  two positions (its normal is the ellipsoid's normal there, so for two points on the surface the plane is exactly
  parallel to the chord). East/north metres in that plane; altitude difference along "up".
  Lateral distances are those of the chord, shorter than the geodesic by about d^3 / (24 R^2): 1 mm at 10 km,
  1 m at 100 km, so exact at separation-minima scale; no special case at the antimeridian or the poles.
- Loss of separation: at some time t in [0, look-ahead], the horizontal distance is below the lateral minimum and
  the altitude difference is below the vertical minimum, both at that same t. Strict inequalities, as in ATC:
  two aircraft at adjacent flight levels exactly 1,000 ft apart are separated. (Strategic volumes use closed sets;
  a track is a point, and "less than the minimum" is the definition of a loss of separation.)

`cpa` reports the horizontal CPA (time clamped to [0, look-ahead]), the horizontal distance and the vertical
separation at that time, and the interval [t_in, t_out] during which both minima are violated (NaN when never).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from ..geo import E2

__all__ = [
    "FT",
    "KT",
    "FPM",
    "NM",
    "Cpa",
    "cpa",
    "cpa_many",
    "ecef_motion",
    "pair_frame",
]

NM = 1852.0  #: metres in a nautical mile
FT = 0.3048  #: metres in a foot
KT = NM / 3600.0  #: metres per second in a knot
FPM = FT / 60.0  #: metres per second in a foot per minute
_A = 6378137.0

FloatArray = npt.NDArray[np.float64]
Cpa = tuple[float, float, float, float, float]  #: t_cpa s, horizontal m, vertical m, t_in s, t_out s


@njit(cache=True)
def cpa(rx: float, ry: float, wx: float, wy: float, dz: float, dvz: float,
        lateral_m: float, vertical_m: float, lookahead_s: float) -> Cpa:
    """CPA of a relative motion in a local frame, and the interval of simultaneous loss of both minima.

    r = (rx, ry): horizontal position of the second aircraft relative to the first (east, north metres);
    w = (wx, wy): their relative horizontal velocity (m/s); dz, dvz: altitude difference (m) and its rate (m/s).
    Returns (t_cpa, horizontal distance at t_cpa, vertical separation at t_cpa, t_in, t_out): t_cpa is the time
    of least horizontal distance clamped to [0, lookahead_s]; t_in < t_out bound the times in [0, lookahead_s]
    when horizontal < lateral_m and |vertical| < vertical_m hold together; both NaN when there are none.
    """
    w2 = wx * wx + wy * wy
    l2 = lateral_m * lateral_m
    h_lo = math.inf
    h_hi = -math.inf
    if w2 > 0.0:
        tc = -(rx * wx + ry * wy) / w2
        cross = rx * wy - ry * wx
        d2min = cross * cross / w2  # least squared distance on the infinite line (no cancellation)
        if d2min < l2:
            half = math.sqrt((l2 - d2min) / w2)
            h_lo = tc - half
            h_hi = tc + half
        t_cpa = min(max(tc, 0.0), lookahead_s)
    else:
        t_cpa = 0.0
        if rx * rx + ry * ry < l2:
            h_lo = -math.inf
            h_hi = math.inf
    hx = rx + wx * t_cpa
    hy = ry + wy * t_cpa
    d_h = math.sqrt(hx * hx + hy * hy)
    d_v = abs(dz + dvz * t_cpa)
    if dvz != 0.0:
        a = (-vertical_m - dz) / dvz
        b = (vertical_m - dz) / dvz
        v_lo = min(a, b)
        v_hi = max(a, b)
    elif abs(dz) < vertical_m:
        v_lo = -math.inf
        v_hi = math.inf
    else:
        v_lo = math.inf
        v_hi = -math.inf
    t_in = max(0.0, h_lo, v_lo)
    t_out = min(lookahead_s, h_hi, v_hi)
    if not t_in < t_out:
        return t_cpa, d_h, d_v, math.nan, math.nan
    return t_cpa, d_h, d_v, t_in, t_out


@njit(cache=True)
def cpa_many(rx: FloatArray, ry: FloatArray, wx: FloatArray, wy: FloatArray, dz: FloatArray, dvz: FloatArray,
             lateral_m: FloatArray, vertical_m: FloatArray, lookahead_s: float) -> FloatArray:
    """`cpa` over arrays of relative motions; shape (n, 5): t_cpa, horizontal, vertical, t_in, t_out."""
    out = np.empty((rx.shape[0], 5))
    for k in range(rx.shape[0]):
        out[k, 0], out[k, 1], out[k, 2], out[k, 3], out[k, 4] = cpa(
            rx[k], ry[k], wx[k], wy[k], dz[k], dvz[k], lateral_m[k], vertical_m[k], lookahead_s)
    return out


@njit(cache=True, inline="always")
def ecef_motion(lat_deg: float, lng_deg: float, gs_mps: float, track_deg: float
                ) -> tuple[float, float, float, float, float, float]:
    """ECEF position (m) of the surface point below an aircraft and its ground velocity (m/s) as an ECEF vector."""
    lat = math.radians(lat_deg)
    lng = math.radians(lng_deg)
    sl, cl = math.sin(lat), math.cos(lat)
    sg, cg = math.sin(lng), math.cos(lng)
    n = _A / math.sqrt(1.0 - E2 * sl * sl)
    trk = math.radians(track_deg)
    ve = gs_mps * math.sin(trk)
    vn = gs_mps * math.cos(trk)
    # east (-sg, cg, 0), north (-sl cg, -sl sg, cl)
    return (n * cl * cg, n * cl * sg, n * (1.0 - E2) * sl,
            -sg * ve - sl * cg * vn, cg * ve - sl * sg * vn, cl * vn)


@njit(cache=True, inline="always")
def pair_frame(ax: float, ay: float, az: float, avx: float, avy: float, avz: float,
               bx: float, by: float, bz: float, bvx: float, bvy: float, bvz: float
               ) -> tuple[float, float, float, float]:
    """Horizontal position and velocity of b relative to a, (rx, ry, wx, wy), in the pair's tangent frame.

    The frame's up is the ellipsoid normal below the midpoint (the gradient of the ellipsoid's equation there),
    so for two surface points the chord lies in the plane; east/north are any orthonormal pair in it (distances
    and the CPA do not depend on the choice): east = normalise(z-axis x up), falling back to the x-axis at a pole.
    """
    ux = ax + bx
    uy = ay + by
    uz = (az + bz) / (1.0 - E2)
    nu = math.sqrt(ux * ux + uy * uy + uz * uz)
    ux /= nu
    uy /= nu
    uz /= nu
    h = math.sqrt(ux * ux + uy * uy)
    if h > 1e-12:
        ex = -uy / h
        ey = ux / h
    else:
        ex = 1.0
        ey = 0.0
    # north = up x east (east has no z component)
    nx = -uz * ey
    ny = uz * ex
    nz = ux * ey - uy * ex
    dx = bx - ax
    dy = by - ay
    dz = bz - az
    wx = bvx - avx
    wy = bvy - avy
    wz = bvz - avz
    return (dx * ex + dy * ey, dx * nx + dy * ny + dz * nz, wx * ex + wy * ey, wx * nx + wy * ny + wz * nz)
