"""Closest point of approach and loss of separation: named geometric cases with exact expected values, then the
pair frame on the ellipsoid (antimeridian, pole) against pyproj's geodesics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyproj import Geod

from deconflict.core.tactical import FT, NM, cpa, cpa_many, ecef_motion, pair_frame

L = 5 * NM  # 9,260 m
V = 1000 * FT  # 304.8 m
T = 300.0
GEOD = Geod(ellps="WGS84")

# name: (rx, ry, wx, wy, dz, dvz) -> (t_cpa, horizontal, vertical, t_in, t_out); NaN: no loss of separation
CASES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    # 20 km apart, closing at 200 m/s on the same level: meet at 100 s, inside 5 NM for 46.3 s either side
    "head_on": ((20_000, 0, -200, 0, 0, 0), (100.0, 0.0, 0.0, 53.7, 146.3)),
    # b from the north-east, both at 100 m/s at right angles: collide at 100 s
    "crossing": ((10_000, 10_000, -100, -100, 0, 0),
                 (100.0, 0.0, 0.0, 100 - L / math.sqrt(2e4), 100 + L / math.sqrt(2e4))),
    # b 20 km behind, 50 m/s faster: inside 5 NM from 214.8 s, still closing at the horizon
    "overtaking": ((-20_000, 0, 50, 0, 0, 0), (300.0, 5_000.0, 0.0, 214.8, 300.0)),
    # 30 km behind: the overtake would breach 5 NM only after the look-ahead
    "overtaking_beyond_lookahead": ((-30_000, 0, 50, 0, 0, 0), (300.0, 15_000.0, 0.0, math.nan, math.nan)),
    # same velocity, 8 km abeam, same level: inside all along
    "parallel_inside": ((0, 8_000, 0, 0, 0, 0), (0.0, 8_000.0, 0.0, 0.0, 300.0)),
    "parallel_outside": ((0, 10_000, 0, 0, 0, 0), (0.0, 10_000.0, 0.0, math.nan, math.nan)),
    # parallel exactly at the lateral minimum: not below it
    "parallel_at_minimum": ((0, L, 0, 0, 0, 0), (0.0, L, 0.0, math.nan, math.nan)),
    # overhead, 3,000 m below, climbing at 10 m/s: enters 1,000 ft at 269.52 s
    "climbing_through": ((0, 0, 0, 0, -3_000, 10), (0.0, 0.0, 3_000.0, 269.52, 300.0)),
    # descending away from a level 200 m above: inside until it is 1,000 ft below
    "descending_away": ((0, 0, 0, 0, 200, 5), (0.0, 0.0, 200.0, 0.0, (V - 200) / 5)),
    # adjacent flight levels, exactly 1,000 ft apart, on top of each other: separated
    "adjacent_levels": ((0, 0, 0, 0, V, 0), (0.0, 0.0, V, math.nan, math.nan)),
    # already inside, diverging: the loss is current and ends at 82.6 s
    "inside_diverging": ((1_000, 0, 100, 0, 0, 0), (0.0, 1_000.0, 0.0, 0.0, 82.6)),
    # head-on, but the other climbs through our level only at 169.5-230.5 s: the intervals do not overlap
    "head_on_vertical_disjoint": ((20_000, 0, -200, 0, -2_000, 10), (100.0, 0.0, 1_000.0, math.nan, math.nan)),
    # head-on, climbing through at 129.5-190.5 s: at the CPA instant it is 600 m below (no loss at that instant),
    # yet both minima are breached together from 129.52 s to 146.3 s
    "head_on_vertical_overlap": ((20_000, 0, -200, 0, -1_600, 10), (100.0, 0.0, 600.0, 129.52, 146.3)),
    # diverging from the start, outside: nothing; CPA is now
    "diverging_outside": ((20_000, 0, 200, 0, 0, 0), (0.0, 20_000.0, 0.0, math.nan, math.nan)),
    # two hovering drones 50 m apart, 10 m apart vertically (minima do not matter here: 5 NM)
    "hovering": ((50, 0, 0, 0, 10, 0), (0.0, 50.0, 10.0, 0.0, 300.0)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_named_case(name: str) -> None:
    args, expected = CASES[name]
    got = cpa(*(float(x) for x in args), L, V, T)
    for g, e in zip(got, expected, strict=True):
        if math.isnan(e):
            assert math.isnan(g), (name, got)
        else:
            assert g == pytest.approx(e, rel=1e-12, abs=1e-9), (name, got)


def test_symmetric_in_the_pair() -> None:
    """Swapping the two aircraft negates the relative motion; nothing reported changes."""
    for name, (args, _) in CASES.items():
        rx, ry, wx, wy, dz, dvz = (float(x) for x in args)
        a = cpa(rx, ry, wx, wy, dz, dvz, L, V, T)
        b = cpa(-rx, -ry, -wx, -wy, -dz, -dvz, L, V, T)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9, err_msg=name)


def test_cpa_many_matches_scalar() -> None:
    rows = np.array([args for args, _ in CASES.values()], dtype=np.float64)
    n = rows.shape[0]
    out = cpa_many(*(np.ascontiguousarray(rows[:, k]) for k in range(6)), np.full(n, L), np.full(n, V), T)
    for k, (args, _) in enumerate(CASES.values()):
        np.testing.assert_array_equal(out[k], cpa(*(float(x) for x in args), L, V, T))


def _relative(a: tuple[float, float, float, float], b: tuple[float, float, float, float]
              ) -> tuple[float, float, float, float]:
    """(rx, ry, wx, wy) of b relative to a; each is (lat, lng, ground speed m/s, track deg)."""
    return pair_frame(*ecef_motion(*a), *ecef_motion(*b))


@pytest.mark.parametrize(("a", "b", "speed"), [
    ((0.0, 179.95), (0.0, -179.95), 250.0),  # head-on across the antimeridian
    ((89.95, 0.0), (89.95, 180.0), 250.0),  # head-on across the North Pole
    ((-89.99, 45.0), (-89.99, -135.0), 100.0),  # across the South Pole, already inside 5 NM
    ((48.9, 2.3), (49.1, 2.55), 220.0),  # Paris
])
def test_head_on_on_the_ellipsoid(a: tuple[float, float], b: tuple[float, float], speed: float) -> None:
    """Two aircraft flying at each other along their geodesic: the distance is the geodesic's, and they meet
    halfway in time (each velocity, tangent at its own position, keeps the cosine of the half-angle to the pair's
    plane: 1 - 1.5e-6 at 22 km)."""
    az_ab, az_ba, dist = GEOD.inv(a[1], a[0], b[1], b[0])
    rx, ry, wx, wy = _relative((*a, speed, az_ab), (*b, speed, az_ba))
    assert math.hypot(rx, ry) == pytest.approx(dist, abs=1e-3 + dist**3 / (24 * 6.35e6**2) * 1.5)
    closing = 2 * speed
    t_cpa, d_h, _, t_in, t_out = cpa(rx, ry, wx, wy, 0.0, 0.0, L, V, T)
    assert t_cpa == pytest.approx(dist / closing, rel=1e-5)
    assert d_h == pytest.approx(0.0, abs=0.05)
    assert (t_in, t_out) == pytest.approx((max(0.0, (dist - L) / closing), (dist + L) / closing), rel=1e-5)


def test_pair_frame_distance_is_the_chord_and_close_to_the_geodesic() -> None:
    """Lateral distances at t=0 agree with pyproj's geodesic to d^3/(24 R^2) (1 mm at 10 km)."""
    rng = np.random.default_rng(7)
    for _ in range(300):
        lat = float(rng.uniform(-89.9, 89.9))
        lng = float(rng.uniform(-180, 180))
        az = float(rng.uniform(0, 360))
        d = float(rng.uniform(1, 100_000))
        lng2, lat2, _ = GEOD.fwd(lng, lat, az, d)
        rx, ry, _, _ = _relative((lat, lng, 0.0, 0.0), (lat2, lng2, 0.0, 0.0))
        assert math.hypot(rx, ry) == pytest.approx(d, abs=1e-3 + d**3 / (24 * 6.35e6**2) * 1.5)


def test_ground_velocity_is_preserved_in_the_frame() -> None:
    """One aircraft against a stationary one nearby: the relative speed is its ground speed, heading kept."""
    for lat, lng in ((0.0, 0.0), (60.0, 179.99), (-75.0, -179.99), (89.9, 10.0)):
        lng2, lat2, _ = GEOD.fwd(lng, lat, 90.0, 5_000.0)
        _, _, wx, wy = _relative((lat2, lng2, 0.0, 0.0), (lat, lng, 200.0, 90.0))
        assert math.hypot(wx, wy) == pytest.approx(200.0, rel=1e-6)
        # b flies east, towards a which lies 5 km east of it: the relative motion closes the gap
        rx, ry, wx, wy = _relative((lat, lng, 200.0, 90.0), (lat2, lng2, 0.0, 0.0))
        assert (rx * wx + ry * wy) / (math.hypot(rx, ry) * math.hypot(wx, wy)) == pytest.approx(-1.0, abs=1e-6)
