"""Named scenarios for the strategic engine: the edge cases a user would ask about, each with its answer."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyproj
import pytest

from deconflict.core.geo import LocalFrame, ecef
from deconflict.core.model import Activation, Declaration, DeclarationKind, SeparationMinima, Volume4D
from deconflict.core.strategic import Severity, StrategicEngine
from deconflict.errors import UnknownEntity

from .strategies import T0, offset

H = timedelta(hours=1)
SQUARE_A = [(35.0, 36.0), (35.0, 36.1), (35.1, 36.1), (35.1, 36.0)]
SQUARE_B = [(35.0, 36.1), (35.0, 36.2), (35.1, 36.2), (35.1, 36.1)]  # shares A's east edge


def decl(id_: str, owner: str, volume: Volume4D, kind: DeclarationKind = DeclarationKind.FLIGHT,
         activation: Activation = Activation.ALWAYS) -> Declaration:
    return Declaration(id=id_, owner=owner, kind=kind, volumes=(volume,), activation=activation)


def square(vertices: list[tuple[float, float]], lower: float = 0.0, upper: float = 1000.0, start=T0, end=T0 + H):
    return Volume4D.polygon(vertices, lower, upper, start, end)


def ids(conflicts) -> set[str]:  # type: ignore[no-untyped-def]
    return set(conflicts.other_declaration_ids)


def test_local_frame_matches_ellipsoidal_aeqd_within_decimetres() -> None:
    rng = np.random.default_rng(7)
    for lat0, lng0 in [(35.0, 36.0), (-45.0, 170.0), (70.0, -20.0), (0.0, 179.9)]:
        lat = lat0 + rng.uniform(-1.5, 1.5, 500)
        lng = lng0 + rng.uniform(-1.5, 1.5, 500)
        xy = LocalFrame(lat0, lng0).project(ecef(lat, lng))
        x, y = pyproj.Proj(proj="aeqd", lat_0=lat0, lon_0=lng0, ellps="WGS84")(lng, lat)
        assert np.hypot(xy[:, 0] - x, xy[:, 1] - y).max() < 0.2


def test_touching_edges_are_an_overlap_with_zero_minima() -> None:
    engine = StrategicEngine()
    engine.upsert(decl("a", "alpha", square(SQUARE_A)))
    found = engine.check(decl("b", "bravo", square(SQUARE_B))).conflicts()
    assert [c.other_declaration_id for c in found] == ["a"]
    assert found[0].lateral_distance_m == 0.0 and found[0].severity is Severity.OVERLAP


def test_identical_volumes_conflict_and_own_volumes_never_do() -> None:
    engine = StrategicEngine()
    engine.upsert(decl("a", "alpha", square(SQUARE_A)))
    engine.upsert(decl("a2", "alpha", square(SQUARE_A)))
    found = engine.check(decl("b", "bravo", square(SQUARE_A)))
    assert ids(found) == {"a", "a2"}
    assert ids(engine.check(decl("c", "alpha", square(SQUARE_A)))) == set()


def test_time_windows_that_only_touch_conflict_with_zero_length() -> None:
    engine = StrategicEngine()
    engine.upsert(decl("a", "alpha", square(SQUARE_A)))
    later = square(SQUARE_A, start=T0 + H, end=T0 + 2 * H)
    (c,) = engine.check(decl("b", "bravo", later)).conflicts()
    assert c.window_start == c.window_end == T0 + H and c.time_gap_s == 0.0
    gap = square(SQUARE_A, start=T0 + H + timedelta(seconds=30), end=T0 + 2 * H)
    assert ids(engine.check(decl("b", "bravo", gap))) == set()
    engine.set_minima("alpha", "bravo", SeparationMinima(time_s=60.0))
    (c,) = engine.check(decl("b", "bravo", gap)).conflicts()
    assert c.severity is Severity.PROXIMITY and c.time_gap_s == pytest.approx(30.0)


def test_lateral_and_vertical_minima_and_reported_distances() -> None:
    engine = StrategicEngine()
    engine.set_minima("alpha", "bravo", SeparationMinima(lateral_m=9260.0, vertical_m=300.0))
    engine.upsert(decl("a", "alpha", Volume4D.circle(35.0, 36.0, 5000.0, 0.0, 1000.0, T0, T0 + H)))
    lat, lng = offset(35.0, 36.0, 0.0, 18_000.0)  # centres 18 km apart: 8 km between the circles
    near = Volume4D.circle(lat, lng, 5000.0, 1200.0, 2000.0, T0, T0 + H)
    (c,) = engine.check(decl("b", "bravo", near)).conflicts()
    assert c.lateral_distance_m == pytest.approx(8000.0, abs=1.0)
    assert c.vertical_gap_m == pytest.approx(200.0) and c.severity is Severity.PROXIMITY
    high = Volume4D.circle(lat, lng, 5000.0, 1400.0, 2000.0, T0, T0 + H)
    assert ids(engine.check(decl("b", "bravo", high))) == set()  # 400 m above: outside the vertical minimum
    lat, lng = offset(35.0, 36.0, 0.0, 20_000.0)  # 10 km between circles: outside the lateral minimum
    assert ids(engine.check(decl("b", "bravo", Volume4D.circle(lat, lng, 5000.0, 0, 1000, T0, T0 + H)))) == set()


def test_across_the_antimeridian() -> None:
    engine = StrategicEngine()
    engine.upsert(decl("a", "alpha", square([(-17.0, 179.95), (-17.0, 180.0), (-17.1, 180.0), (-17.1, 179.95)])))
    west = square([(-17.0, -180.0), (-17.0, -179.9), (-17.1, -179.9), (-17.1, -180.0)])
    (c,) = engine.check(decl("b", "bravo", west)).conflicts()
    assert c.lateral_distance_m == pytest.approx(0.0, abs=0.01)


def test_tiny_volume_inside_a_huge_one() -> None:
    engine = StrategicEngine()
    engine.upsert(decl("huge", "alpha", Volume4D.circle(35.0, 36.0, 200_000.0, 0, 10_000, T0, T0 + 20 * H)))
    lat, lng = offset(35.0, 36.0, 150_000.0, 0.0)
    tiny = Volume4D.circle(lat, lng, 1.0, 100, 101, T0 + 5 * H, T0 + 5 * H + timedelta(seconds=1))
    assert ids(engine.check(decl("t", "bravo", tiny))) == {"huge"}


def test_update_replaces_the_old_version_and_cancel_removes() -> None:
    engine = StrategicEngine()
    engine.upsert(decl("a", "alpha", square(SQUARE_A)))
    engine.upsert(decl("a", "alpha", square(SQUARE_A, start=T0 + 5 * H, end=T0 + 6 * H)))
    assert ids(engine.check(decl("b", "bravo", square(SQUARE_A)))) == set()
    assert ids(engine.check(decl("b", "bravo", square(SQUARE_A, start=T0 + 5 * H, end=T0 + 6 * H)))) == {"a"}
    engine.cancel("a")
    assert "a" not in engine and len(engine) == 0
    with pytest.raises(UnknownEntity):
        engine.cancel("a")


def test_expiry_drops_ended_declarations() -> None:
    engine = StrategicEngine()
    engine.upsert(decl("a", "alpha", square(SQUARE_A)))
    engine.upsert(decl("later", "alpha", square(SQUARE_A, start=T0 + 2 * H, end=T0 + 3 * H)))
    assert engine.expire(T0 + 90 * timedelta(minutes=1)) == ["a"]
    assert "a" not in engine and "later" in engine


def test_static_kinds_do_not_conflict_with_each_other() -> None:
    engine = StrategicEngine()
    engine.upsert(decl("hospital", "ngo", square(SQUARE_A), DeclarationKind.PROTECTED))
    assert ids(engine.check(decl("nfz", "authority", square(SQUARE_A), DeclarationKind.RESTRICTION))) == set()
    assert ids(engine.check(decl("strike", "force", square(SQUARE_A), DeclarationKind.ACTIVITY))) == {"hospital"}
    assert ids(engine.check(decl("zone", "force", square(SQUARE_A), DeclarationKind.HAZARD))) == {"hospital"}


def test_induced_hazard_is_live_only_while_activities_intersect_it() -> None:
    engine = StrategicEngine()
    zone = Volume4D.circle(35.05, 36.05, 30_000.0, 0.0, 15_000.0, T0, T0 + 10 * H)
    engine.upsert(decl("sam", "defence", zone, DeclarationKind.HAZARD, Activation.INDUCED))
    # a flight through the zone with no activity around: no conflict with a dormant induced hazard
    assert ids(engine.check(decl("f", "airline", square(SQUARE_A, start=T0, end=T0 + H)))) == set()
    engine.upsert(decl("op1", "force", square(SQUARE_A, start=T0 + H, end=T0 + 2 * H), DeclarationKind.ACTIVITY))
    engine.upsert(decl("op2", "force", square(SQUARE_B, start=T0 + 90 * timedelta(minutes=1), end=T0 + 3 * H),
                       DeclarationKind.ACTIVITY))
    far = [(40.0, 30.0), (40.0, 30.1), (40.1, 30.1)]
    engine.upsert(decl("op3", "force", square(far, start=T0 + 5 * H, end=T0 + 6 * H), DeclarationKind.ACTIVITY))
    assert engine.activations("sam") == [(T0 + H, T0 + 3 * H)]


def test_bulk_load_refuses_an_id_already_filed_and_leaves_the_index_untouched() -> None:
    from deconflict.core.footprint import FootprintBatch
    from deconflict.core.strategic import EngineKind
    from deconflict.errors import Conflict as AlreadyFiled

    engine = StrategicEngine()
    engine.upsert(decl("a", "alpha", square(SQUARE_A)))
    batch = FootprintBatch.of([square(SQUARE_B), square(SQUARE_B)])
    with pytest.raises(AlreadyFiled, match="already filed"):
        engine.load(["b", "a"], ["bravo", "bravo"], [EngineKind.FLIGHT] * 2, batch, np.ones(2, dtype=np.int64))
    with pytest.raises(AlreadyFiled, match="already filed"):
        engine.load(["c", "c"], ["bravo", "bravo"], [EngineKind.FLIGHT] * 2, batch, np.ones(2, dtype=np.int64))
    assert len(engine.index) == 1 and "b" not in engine and "c" not in engine
