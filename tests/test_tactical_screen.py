"""Screening against a brute-force oracle (tests/tactical_oracle.py): random traffic (Hypothesis, antimeridian
and poles included) and the real Paris recording (../shared/data), plus the track quality rules on that recording.
A pair is borderline when moving the minima by 1 cm changes the oracle's answer; the screen must agree on all
others.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deconflict.core.tactical import (
    FT,
    PartyMinima,
    Rejection,
    TrackBatch,
    TrackTable,
    kinematics,
    screen,
    screen_tracks,
)

from .tactical_oracle import EPS, GEOD, PARIS, load_paris, oracle, owned


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


def test_pairs_meeting_late_from_far_apart_are_found() -> None:
    """The grid files each aircraft by its swept box: pairs that start far apart (up to the full reach) and close
    to just inside the minima at the end of the look-ahead, from every direction, at the poles and across the
    antimeridian, are found like the oracle finds them (and those just outside are not)."""
    rng = np.random.default_rng(11)
    lats, lngs, alts, gss, trks, vss = [], [], [], [], [], []
    centres = [(89.9, 0.0), (-89.95, 120.0), (0.0, 179.99), (65.0, -179.999), (48.0, 2.0), (-33.0, 151.0)]
    for k in range(240):
        lat0, lng0 = centres[k % len(centres)]
        # meeting points 400 km apart around each centre, so that pairs do not meet each other
        lng_m, lat_m, _ = GEOD.fwd(lng0, lat0, rng.uniform(0, 360), 400_000.0 * (k // len(centres) + 1) % 3_000_000)
        t_meet = rng.uniform(200.0, 300.0)
        miss = rng.uniform(0.8, 1.2) * 9_260.0
        for side in (-1.0, 1.0):
            gs = rng.uniform(150.0, 300.0)
            trk = rng.uniform(0, 360)
            # where it is at t_meet (half the miss distance off the meeting point, across the pair's line), then
            # back along its track to where it starts
            lng_e, lat_e, _ = GEOD.fwd(lng_m, lat_m, 90.0, side * miss / 2.0)
            lng_s, lat_s, _ = GEOD.fwd(lng_e, lat_e, trk + 180.0, gs * t_meet)
            lats.append(lat_s)
            lngs.append(((lng_s + 180.0) % 360.0) - 180.0)
            gss.append(gs)
            trks.append(trk)
            climbing = rng.random() < 0.5
            vss.append(side * 10.0 if climbing else 0.0)
            alts.append(9_000.0 - side * 10.0 * t_meet + rng.uniform(-200, 200) if climbing else 9_000.0)
    n = len(lats)
    batch = TrackBatch.of(t_s=np.full(n, 50.0), lat_deg=lats, lng_deg=lngs, alt_m=alts, gs_mps=gss,
                          track_deg=trks, vs_mps=vss, owner=["a", "b"] * (n // 2))
    found, _ = compare(batch, 50.0, PartyMinima.of(["a", "b"]))
    assert 40 < found < n // 2  # some pairs end inside the minima, some outside


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


@pytest.fixture(scope="module")
def paris() -> TrackBatch:
    if not PARIS.exists():
        pytest.skip(f"the Paris recording is not at {PARIS} (../shared/data is absent)")
    return load_paris()


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
    live = owned(table.snapshot(now, max_age_s=10.0))
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
        airborne, findings = screen_tracks(owned(table.snapshot(float(now), 10.0)), float(now), minima)
        total += len(findings)
        if math.isclose(now % 1800, 0, abs_tol=30):
            compare(airborne, float(now), minima)
    assert total > 0
