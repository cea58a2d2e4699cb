"""Hypothesis strategies: small random worlds of declarations, with the edge cases forced in."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st
from pyproj import Geod

from deconflict.core.model import Activation, Declaration, DeclarationKind, Volume4D

GEOD = Geod(ellps="WGS84")
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def offset(lat: float, lng: float, east_m: float, north_m: float) -> tuple[float, float]:
    """The point east_m, north_m from (lat, lng) along the geodesic."""
    dist = math.hypot(east_m, north_m)
    az = math.degrees(math.atan2(east_m, north_m))
    lng2, lat2, _ = GEOD.fwd(lng, lat, az, dist)
    return lat2, ((lng2 + 180.0) % 360.0) - 180.0


LATS = [35.0, -33.9, 51.5, 60.0, 0.0, 78.0]
POLAR_LATS = [85.0, 88.0, 89.5, 89.99, 90.0, -86.5, -89.9, -90.0]  #: around, at and near both poles
POLE_M_PER_DEG = 111_694.0  #: metres of meridian per degree of latitude next to a pole (to 0.1%)


@st.composite
def pole_wedge(draw: st.DrawFn, lat: float, lng: float) -> tuple[str, object]:
    """A polygon with a vertex on the pole nearest (lat, lng): the pole, then points at increasing longitudes
    (spanning under 180 degrees) at random distances from it. Star-shaped from the pole, so simple."""
    pole = math.copysign(90.0, lat)
    n = draw(st.integers(2, 8))
    span = draw(st.floats(5.0, 170.0))
    size = draw(st.sampled_from([200.0, 3_000.0, 40_000.0]))
    ring: list[tuple[float, float]] = [(pole, draw(st.floats(-180.0, 180.0)))]  # the pole's longitude is any
    for k in range(n):
        dist = size * draw(st.floats(0.3, 1.0))
        ring.append((pole - math.copysign(dist / POLE_M_PER_DEG, pole),
                     ((lng + span * k / (n - 1) + 180.0) % 360.0) - 180.0))
    return "polygon", ring


@st.composite
def footprints(draw: st.DrawFn, lat: float, lng: float, spread_m: float) -> tuple[str, object]:
    """A circle or a star-shaped (so simple) polygon near (lat, lng); near a pole, sometimes a polygon with a
    vertex on the pole."""
    if abs(lat) >= 89.5 and draw(st.integers(0, 3)) == 0:
        return draw(pole_wedge(lat, lng))
    cx = draw(st.floats(-spread_m, spread_m))
    cy = draw(st.floats(-spread_m, spread_m))
    clat, clng = offset(lat, lng, cx, cy)
    size = draw(st.sampled_from([5.0, 200.0, 3_000.0, 15_000.0, 60_000.0]))
    size *= draw(st.floats(0.5, 1.5))
    if draw(st.booleans()):
        return "circle", (clat, clng, size)
    n = draw(st.integers(3, 12))
    angles = sorted(draw(st.lists(st.floats(0, 2 * math.pi, exclude_max=True), min_size=n, max_size=n, unique=True)))
    gaps = [(angles[(k + 1) % n] - angles[k]) % (2 * math.pi) for k in range(n)]
    if max(gaps) >= math.pi * 0.95 or min(gaps) < 1e-3:  # keep the centre inside: a simple star polygon
        angles = [2 * math.pi * k / n for k in range(n)]
    radii = draw(st.lists(st.floats(0.3, 1.0), min_size=n, max_size=n))
    ring = [
        offset(clat, clng, size * r * math.sin(a), size * r * math.cos(a))
        for a, r in zip(angles, radii, strict=True)
    ]
    return "polygon", ring


def make_volume(fp: tuple[str, object], lower: float, thickness: float, start_min: int, dur_min: int) -> Volume4D:
    kind, data = fp
    start = T0 + timedelta(minutes=start_min)
    end = start + timedelta(minutes=dur_min)
    if kind == "circle":
        lat, lng, r = data  # type: ignore[misc]
        return Volume4D.circle(lat, lng, r, lower, lower + thickness, start, end)
    return Volume4D.polygon(data, lower, lower + thickness, start, end)  # type: ignore[arg-type]


@st.composite
def volumes(draw: st.DrawFn, lat: float, lng: float, spread_m: float) -> Volume4D:
    fp = draw(footprints(lat, lng, spread_m))
    lower = draw(st.sampled_from([0.0, 300.0, 1000.0, 1300.0]))
    thickness = draw(st.sampled_from([1.0, 300.0, 1000.0]))
    start = draw(st.integers(0, 240))
    dur = draw(st.sampled_from([1, 10, 60, 300]))
    return make_volume(fp, lower, thickness, start, dur)


@st.composite
def worlds(draw: st.DrawFn, max_declarations: int = 25, lats: list[float] = LATS
           ) -> tuple[list[Declaration], Declaration]:
    """(existing declarations, a query declaration) around one of `lats`; some volumes are copies or
    time-adjacent copies."""
    lat = draw(st.sampled_from(lats))
    lng = draw(st.sampled_from([36.0, 179.95, -179.95, 0.0, 151.2]))
    spread = draw(st.sampled_from([2_000.0, 20_000.0, 80_000.0]))
    owners = ["alpha", "bravo", "charlie"]
    kinds = list(DeclarationKind)
    n = draw(st.integers(1, max_declarations))
    decls: list[Declaration] = []
    pool: list[Volume4D] = []
    for k in range(n + 1):
        nv = draw(st.integers(1, 3))
        vols = []
        for _ in range(nv):
            if pool and draw(st.integers(0, 4)) == 0:
                src = draw(st.sampled_from(pool))
                if draw(st.booleans()):  # identical volume
                    vols.append(src)
                else:  # the same volume right after the other: a zero-length overlap in time
                    span = src.time_end.value - src.time_start.value
                    vols.append(
                        Volume4D(src.volume, type(src.time_start)(src.time_end.value),
                                 type(src.time_end)(src.time_end.value + span))
                    )
            else:
                vols.append(draw(volumes(lat, lng, spread)))
        pool.extend(vols)
        kind = draw(st.sampled_from(kinds))
        activation = Activation.INDUCED if kind is DeclarationKind.HAZARD and draw(st.booleans()) else Activation.ALWAYS
        decls.append(
            Declaration(id=f"d{k}", owner=draw(st.sampled_from(owners)), kind=kind, volumes=tuple(vols),
                        activation=activation)
        )
    return decls[:-1], decls[-1]
