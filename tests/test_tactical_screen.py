"""Screening against a brute-force oracle: random traffic (Hypothesis, antimeridian and poles included) and the
real Paris recording (../shared/data), plus the track quality rules on that recording.

The oracle is written apart from the kernels: pyproj for geodetic <-> ECEF, the pair's east/north/up from the
geodetic latitude and longitude of the midpoint, all N^2 pairs as numpy arrays, and the textbook quadratic for
the time inside the lateral minimum. It follows the model stated in `deconflict.core.tactical.cpa`. A pair is
borderline when moving the minima by 1 cm changes the oracle's answer; the screen must agree on all others.
"""

from __future__ import annotations

import gzip
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer

from deconflict.core.tactical import (
    FPM,
    FT,
    KT,
    PartyMinima,
    Rejection,
    TrackBatch,
    TrackTable,
    kinematics,
    screen,
    screen_tracks,
)

from .shared_data import DATA

GEOD = Geod(ellps="WGS84")
TO_ECEF = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
TO_GEO = Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)
PARIS = DATA / "tracks" / "paris_2021-10-07.json.gz"
A = 6378137.0
B = A * (1 - 1 / 298.257223563)
EPS = 0.01  # metres: the oracle's band of doubt around the minima


def oracle(batch: TrackBatch, now: float, party: np.ndarray, lat_m: np.ndarray, vert_m: np.ndarray,
           lookahead: float, slack: float = 0.0) -> dict[tuple[int, int], np.ndarray]:
    """Pairs (i < j) that lose separation, with (t_cpa, horizontal, vertical, t_in, t_out), by brute force."""
    n = len(batch)
    x, y, z = TO_ECEF.transform(batch.lng_deg, batch.lat_deg, np.zeros(n))
    p = np.stack([x, y, z], axis=1)
    lat = np.radians(batch.lat_deg)
    lng = np.radians(batch.lng_deg)
    east = np.stack([-np.sin(lng), np.cos(lng), np.zeros(n)], axis=1)
    north = np.stack([-np.sin(lat) * np.cos(lng), -np.sin(lat) * np.sin(lng), np.cos(lat)], axis=1)
    trk = np.radians(batch.track_deg)
    v = batch.gs_mps[:, None] * (np.sin(trk)[:, None] * east + np.cos(trk)[:, None] * north)
    age = now - batch.t_s
    vs = np.nan_to_num(batch.vs_mps)
    p = p + v * age[:, None]
    alt = batch.alt_m + vs * age
    i, j = np.triu_indices(n, 1)
    cls = np.where(party < 0, lat_m.shape[0] - 1, party)
    keep = ~((party[i] == party[j]) & (party[i] >= 0))
    i, j = i[keep], j[keep]
    mid = p[i] + p[j]
    # the surface point on the ray through the chord's midpoint: its geodetic latitude is the pair's "up"
    mid = mid / np.sqrt((mid[:, 0] ** 2 + mid[:, 1] ** 2) / A**2 + mid[:, 2] ** 2 / B**2)[:, None]
    mlng, mlat, _ = TO_GEO.transform(mid[:, 0], mid[:, 1], mid[:, 2])
    mlat, mlng = np.radians(mlat), np.radians(mlng)
    e = np.stack([-np.sin(mlng), np.cos(mlng), np.zeros_like(mlng)], axis=1)
    nn = np.stack([-np.sin(mlat) * np.cos(mlng), -np.sin(mlat) * np.sin(mlng), np.cos(mlat)], axis=1)
    r = p[j] - p[i]
    w = v[j] - v[i]
    rx, ry = (r * e).sum(1), (r * nn).sum(1)
    wx, wy = (w * e).sum(1), (w * nn).sum(1)
    dz = alt[j] - alt[i]
    dvz = vs[j] - vs[i]
    big_l = np.maximum(lat_m[cls[i], cls[j]] + slack, 0.0)
    big_v = np.maximum(vert_m[cls[i], cls[j]] + slack, 0.0)
    a = wx * wx + wy * wy
    b = 2 * (rx * wx + ry * wy)
    c = rx * rx + ry * ry - big_l * big_l
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        disc = b * b - 4 * a * c
        moving = a > 0
        root = np.sqrt(np.where(disc > 0, disc, 0.0))
        q = -0.5 * (b + np.copysign(root, b))  # the numerically stable pair of roots
        r1 = np.where(moving, q / a, 0.0)
        r2 = np.where(q != 0, c / q, -b / (2 * a))
        h_lo = np.where(moving, np.where(disc > 0, np.minimum(r1, r2), np.inf), np.where(c < 0, -np.inf, np.inf))
        h_hi = np.where(moving, np.where(disc > 0, np.maximum(r1, r2), -np.inf), np.where(c < 0, np.inf, -np.inf))
        v1 = (-big_v - dz) / dvz
        v2 = (big_v - dz) / dvz
        v_lo = np.where(dvz != 0, np.minimum(v1, v2), np.where(np.abs(dz) < big_v, -np.inf, np.inf))
        v_hi = np.where(dvz != 0, np.maximum(v1, v2), np.where(np.abs(dz) < big_v, np.inf, -np.inf))
        t_cpa = np.clip(np.where(moving, -b / (2 * a), 0.0), 0.0, lookahead)
    t_in = np.maximum(np.maximum(h_lo, v_lo), 0.0)
    t_out = np.minimum(np.minimum(h_hi, v_hi), lookahead)
    hit = t_in < t_out
    d_h = np.hypot(rx + wx * t_cpa, ry + wy * t_cpa)
    d_v = np.abs(dz + dvz * t_cpa)
    vals = np.stack([t_cpa, d_h, d_v, t_in, t_out], axis=1)
    return {(int(a_), int(b_)): vals[k] for k, (a_, b_) in enumerate(zip(i, j, strict=True)) if hit[k]}


def compare(batch: TrackBatch, now: float, minima: PartyMinima, lookahead: float = 300.0) -> tuple[int, int]:
    """Screen and oracle agree (outside the band of doubt; values to 1 mm and 1 ms); returns (pairs found,
    borderline pairs)."""
    party = minima.codes(batch.owner)
    found = screen(kinematics(batch, now), party, minima, lookahead)
    got = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(found.i, found.j, strict=True))}
    assert len(got) == len(found), "a pair reported twice"
    args = (batch, now, party, minima.lateral_m, minima.vertical_m, lookahead)
    sure = oracle(*args, slack=-EPS)
    maybe = oracle(*args, slack=EPS)
    exact = oracle(*args)
    assert set(sure) <= set(got), f"missed: {sorted(set(sure) - set(got))[:5]}"
    assert set(got) <= set(maybe), f"spurious: {sorted(set(got) - set(maybe))[:5]}"
    for pair, k in got.items():
        if pair in exact:
            mine = np.array([found.t_cpa_s[k], found.horizontal_m[k], found.vertical_m[k], found.t_in_s[k],
                             found.t_out_s[k]])
            np.testing.assert_allclose(mine, exact[pair], rtol=1e-7, atol=1e-3, err_msg=str(pair))
    return len(got), len(set(maybe) - set(sure))


# ---------------------------------------------------------------- random traffic


@st.composite
def worlds(draw: st.DrawFn) -> tuple[TrackBatch, float, PartyMinima, float]:
    """A cluster of aircraft anywhere on Earth, antimeridian and poles included, close enough to meet."""
    lat0 = draw(st.one_of(st.floats(-89.99, 89.99), st.sampled_from([89.9, -89.95, 0.0, 65.0])))
    lng0 = draw(st.one_of(st.floats(-180, 180), st.sampled_from([179.99, -179.99, 180.0])))
    drone = draw(st.booleans())
    spread = 3_000.0 if drone else 120_000.0
    n = draw(st.integers(2, 40))
    lats, lngs = [], []
    for _ in range(n):
        az = draw(st.floats(0, 360))
        dist = draw(st.floats(0, spread))
        lng, lat, _ = GEOD.fwd(lng0, lat0, az, dist)
        lats.append(lat)
        lngs.append(((lng + 180.0) % 360.0) - 180.0)
    top = 150.0 if drone else 12_000.0
    alt = [draw(st.one_of(st.floats(0, top), st.sampled_from([0.0, 10 * 304.8, 11 * 304.8]))) for _ in range(n)]
    speed = 30.0 if drone else 300.0
    gs = [draw(st.one_of(st.floats(0, speed), st.just(0.0))) for _ in range(n)]
    trk = [draw(st.floats(0, 360, exclude_max=True)) for _ in range(n)]
    vs = [draw(st.one_of(st.just(0.0), st.floats(-20, 20))) for _ in range(n)]
    age = [draw(st.floats(0, 5)) for _ in range(n)]
    owners = [draw(st.sampled_from(["a", "b", "c", None])) for _ in range(n)]
    now = 1_000.0
    batch = TrackBatch.of(t_s=[now - x for x in age], lat_deg=lats, lng_deg=lngs, alt_m=alt, gs_mps=gs,
                          track_deg=trk, vs_mps=vs, icao24=[f"{k:06x}" for k in range(n)], owner=owners)
    if drone:
        minima = PartyMinima.of(["a", "b", "c"], lateral_m=150.0, vertical_m=30.0,
                                pairs={("a", None): (300.0, 50.0)})
        lookahead = 60.0
    else:
        minima = PartyMinima.of(["a", "b", "c"], pairs={("a", "b"): (3 * 1852.0, 300.0), (None, None): (0.0, 0.0)})
        lookahead = 300.0
    return batch, now, minima, lookahead


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_random_traffic_matches_oracle(world: tuple[TrackBatch, float, PartyMinima, float]) -> None:
    batch, now, minima, lookahead = world
    compare(batch, now, minima, lookahead)


def test_dense_random_traffic_finds_conflicts_like_oracle() -> None:
    """Hundreds of aircraft in one sector, many conflicts, several grid cells."""
    rng = np.random.default_rng(3)
    n = 600
    lat = rng.uniform(49.0, 51.0, n)
    lng = rng.uniform(-1.0, 3.0, n)
    batch = TrackBatch.of(t_s=np.full(n, 100.0) - rng.uniform(0, 3, n), lat_deg=lat, lng_deg=lng,
                          alt_m=rng.choice(np.arange(20, 40) * 1000 * FT, n) + rng.normal(0, 30, n),
                          gs_mps=rng.uniform(100, 260, n), track_deg=rng.uniform(0, 360, n),
                          vs_mps=np.where(rng.random(n) < 0.3, rng.uniform(-15, 15, n), 0.0),
                          owner=rng.choice(np.array(["a", "b", None], dtype=object), n))
    found, _ = compare(batch, 100.0, PartyMinima.of(["a", "b"]))
    assert found > 50


def test_same_party_is_not_screened_but_unidentified_are() -> None:
    """Two aircraft on a collision course: reported unless both belong to the same party."""
    lng2, lat2, _ = GEOD.fwd(2.0, 48.0, 90.0, 20_000.0)
    minima = PartyMinima.of(["a", "b"])
    for owners, expected in ((["a", "b"], 1), (["a", "a"], 0), ([None, None], 1), (["a", None], 1)):
        batch = TrackBatch.of(t_s=[0.0, 0.0], lat_deg=[48.0, lat2], lng_deg=[2.0, lng2], alt_m=[3000.0, 3000.0],
                              gs_mps=[100.0, 100.0], track_deg=[90.0, 270.0], owner=owners)
        assert len(screen(kinematics(batch, 0.0), minima.codes(batch.owner), minima)) == expected, owners


def test_unknown_owner_is_refused() -> None:
    with pytest.raises(ValueError, match="owner"):
        PartyMinima.of(["a"]).codes(["z"])


# ---------------------------------------------------------------- the Paris recording


def _load_paris() -> TrackBatch:
    records: list[dict[str, Any]] = json.loads(gzip.decompress(PARIS.read_bytes()))
    records.sort(key=lambda r: r["timestamp"])

    def col(name: str, scale: float) -> list[float | None]:
        return [None if r[name] is None else r[name] * scale for r in records]

    return TrackBatch.of(t_s=[r["timestamp"] / 1000.0 for r in records], lat_deg=col("latitude", 1.0),
                         lng_deg=col("longitude", 1.0), alt_m=col("altitude", FT), gs_mps=col("groundspeed", KT),
                         track_deg=col("track", 1.0), vs_mps=col("vertical_rate", FPM),
                         icao24=[r["icao24"] for r in records], callsign=[r["callsign"] for r in records],
                         on_ground=[bool(r["onground"]) for r in records])


@pytest.fixture(scope="module")
def paris() -> TrackBatch:
    if not PARIS.exists():
        pytest.skip(f"the Paris recording is not at {PARIS} (../shared/data is absent)")
    return _load_paris()


def _owned(batch: TrackBatch) -> TrackBatch:
    """Two parties own alternate aircraft (by sorted ICAO address); every fifth stays unidentified."""
    icaos = sorted(set(batch.icao24.tolist()))
    assets = {f"icao:{a}": ("alpha" if k % 2 else "bravo") for k, a in enumerate(icaos) if k % 5}
    return batch.with_owners(assets)


def test_paris_quality_rules_count_bad_data(paris: TrackBatch) -> None:
    table = TrackTable()
    result = table.ingest(paris)
    counts = result.counts
    assert sum(counts.values()) == len(paris)
    assert counts["altitude"] > 0  # missing altitudes, and the 123,100 ft ones
    bad_alt = np.nan_to_num(paris.alt_m) > 25_000
    assert bad_alt.any() and np.all(result.reasons[bad_alt] == Rejection.ALTITUDE)
    assert counts["velocity"] > 0  # records without ground speed or track
    assert counts["accepted"] > 0.7 * len(paris)
    assert table.stats == counts
    assert len(table) <= 213


@pytest.mark.parametrize("hour", [0.25, 0.75, 1.25, 1.75, 2.25, 2.75])
def test_paris_slices_match_oracle(paris: TrackBatch, hour: float) -> None:
    """Feed the recording up to a time, snapshot the live tracks, screen them beside the oracle."""
    t0 = float(paris.t_s[0])
    now = t0 + hour * 3600.0
    table = TrackTable()
    table.ingest(paris.take(np.flatnonzero(paris.t_s <= now)))
    live = _owned(table.snapshot(now, max_age_s=10.0))
    airborne, findings = screen_tracks(live, now, PartyMinima.of(["alpha", "bravo"]))
    assert len(airborne) >= 10
    found, borderline = compare(airborne, now, PartyMinima.of(["alpha", "bravo"]))
    assert found == len(findings)
    assert borderline <= 2  # ADS-B altitudes come in 25 ft steps: adjacent levels sit exactly 1,000 ft apart


def test_paris_raises_conflicts(paris: TrackBatch) -> None:
    """Over the three hours, sampled each minute, the approach traffic into Paris does lose 5 NM / 1,000 ft."""
    table = TrackTable()
    t0 = float(paris.t_s[0])
    total = 0
    done = 0
    minima = PartyMinima.of(["alpha", "bravo"])
    for now in np.arange(t0 + 600, t0 + 3 * 3600, 60.0):
        upto = int(np.searchsorted(paris.t_s, now, side="right"))
        table.ingest(paris.take(slice(done, upto)))
        done = upto
        airborne, findings = screen_tracks(_owned(table.snapshot(float(now), 10.0)), float(now), minima)
        total += len(findings)
        if math.isclose(now % 1800, 0, abs_tol=30):
            compare(airborne, float(now), minima)
    assert total > 0
