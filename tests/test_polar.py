"""Volumes at and around the poles: boxes that never cut a footprint, exact distances, validation.

Near a pole longitude means little: a footprint may contain the pole, have a vertex on it (at any longitude),
or span every longitude. These are the cases a lat/lon index gets wrong first; each has its answer here, and the
box of any footprint at 80-90 degrees must hold every point of its boundary (and the pole when it holds it).
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deconflict.core.footprint import FootprintBatch
from deconflict.core.geo import LocalFrame, ecef
from deconflict.core.model import Declaration, DeclarationKind, SeparationMinima, Volume4D
from deconflict.core.protocol import coarse_view, conflict_area
from deconflict.core.strategic import Severity, StrategicEngine
from deconflict.core.validation import densified_ring, validate_volume
from deconflict.errors import InvalidVolume
from deconflict.store.locks import area_lock_keys

from .strategies import GEOD, T0, footprints, make_volume

H = timedelta(hours=1)
NOW = T0 - H


def circle(lat: float, lng: float, radius: float) -> Volume4D:
    return Volume4D.circle(lat, lng, radius, 0.0, 120.0, T0, T0 + H)


def polygon(ring: list[tuple[float, float]]) -> Volume4D:
    return Volume4D.polygon(ring, 0.0, 120.0, T0, T0 + H)


def flight(id_: str, owner: str, volume: Volume4D) -> Declaration:
    return Declaration(id=id_, owner=owner, kind=DeclarationKind.FLIGHT, volumes=(volume,))


def geodesic_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[1], a[0], b[1], b[0])[2])


def box(volume: Volume4D) -> tuple[float, float, float, float]:
    b = FootprintBatch.of([volume]).bbox[0]
    return float(b[0]), float(b[1]), float(b[2]), float(b[3])


# -- the frame ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("lat0", "lng0"), [(90.0, 0.0), (89.99, 45.0), (-90.0, 120.0), (-89.5, 179.9)])
def test_local_frame_at_and_near_a_pole_matches_ellipsoidal_aeqd(lat0: float, lng0: float) -> None:
    rng = np.random.default_rng(11)
    pole = math.copysign(90.0, lat0)
    lat = np.clip(lat0 + rng.uniform(-1.5, 1.5, 500), -90.0, 90.0)
    lat[:5] = pole  # the pole itself, named with five longitudes
    lng = rng.uniform(-180.0, 180.0, 500)
    xy = LocalFrame(lat0, lng0).project(ecef(lat, lng))
    x, y = pyproj.Proj(proj="aeqd", lat_0=lat0, lon_0=lng0, ellps="WGS84")(lng, lat)
    assert np.hypot(xy[:, 0] - x, xy[:, 1] - y).max() < 0.2


# -- boxes ----------------------------------------------------------------------------------------------------
def _in_lng_range(lng: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return ((lng - lo) % 360.0 <= hi - lo + 1e-9) | (hi - lo >= 360.0)


def _boundary(volume: Volume4D) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lng) of points densely along the footprint's boundary (geodesic edges, circle of its radius)."""
    v = volume.volume
    if v.outline_circle is not None:
        c = v.outline_circle
        az = np.linspace(0.0, 360.0, 721)
        lng, lat, _ = GEOD.fwd(np.full(az.shape, c.center.lng), np.full(az.shape, c.center.lat), az,
                               np.full(az.shape, c.radius.value))
        return np.asarray(lat), np.asarray(lng)
    assert v.outline_polygon is not None
    lat, lng = densified_ring(v.outline_polygon)
    out_lat, out_lng = [lat], [lng]
    for k in range(len(lat)):
        j = (k + 1) % len(lat)
        pts = GEOD.npts(lng[k], lat[k], lng[j], lat[j], 40)
        out_lng.append(np.array([p[0] for p in pts]))
        out_lat.append(np.array([p[1] for p in pts]))
    return np.concatenate(out_lat), np.concatenate(out_lng)


def _holds_pole(volume: Volume4D, pole: float) -> bool:
    """Whether the footprint holds the pole, measured in an azimuthal frame centred on that pole."""
    v = volume.volume
    if v.outline_circle is not None:
        c = v.outline_circle
        return geodesic_m((c.center.lat, c.center.lng), (pole, 0.0)) <= c.radius.value
    assert v.outline_polygon is not None
    lat, lng = densified_ring(v.outline_polygon)
    x, y = pyproj.Proj(proj="aeqd", lat_0=pole, lon_0=0.0, ellps="WGS84")(lng, lat)
    return bool(shapely.Polygon(np.column_stack((x, y))).intersects(shapely.Point(0.0, 0.0)))


high_latitudes = st.tuples(st.floats(80.0, 90.0), st.sampled_from([1.0, -1.0])).map(lambda t: t[0] * t[1])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lat=high_latitudes, lng=st.floats(-180.0, 180.0), data=st.data())
def test_a_box_holds_every_boundary_point_and_the_pole_it_contains(lat: float, lng: float,
                                                                   data: st.DataObject) -> None:
    volume = make_volume(data.draw(footprints(lat, lng, 20_000.0)), 0.0, 100.0, 0, 60)
    latmin, latmax, lngmin, lngmax = box(volume)
    blat, blng = _boundary(volume)
    assert np.all((blat >= latmin) & (blat <= latmax)), (blat.min(), blat.max(), latmin, latmax)
    assert np.all(_in_lng_range(blng, lngmin, lngmax)), (lngmin, lngmax)
    pole = math.copysign(90.0, lat)  # the footprint lies within 190 km of (lat, lng)
    if _holds_pole(volume, pole):
        assert latmin <= pole <= latmax and lngmax - lngmin >= 360.0


@pytest.mark.parametrize(
    ("name", "volume", "north"),
    [
        ("circle centred on the pole", circle(90.0, 0.0, 200.0), True),
        ("circle 111 m from the pole, covering it", circle(89.999, 180.0, 300.0), True),
        ("circle next to the south pole", circle(-89.95, 10.0, 100.0), False),
        ("triangle around the pole, vertices 120 degrees apart", polygon([(88.0, 0.0), (88.0, 120.0), (88.0, -120.0)]),
         True),
        ("wedge with a vertex on the pole", polygon([(90.0, 33.0), (89.9, 0.0), (89.9, 90.0)]), True),
        ("square around the south pole", polygon([(-88.1, 45.0), (-88.1, 135.0), (-88.1, -135.0), (-88.1, -45.0)]),
         False),
    ],
)
def test_a_polar_footprint_gets_every_longitude_and_reaches_the_pole(name: str, volume: Volume4D,
                                                                      north: bool) -> None:
    latmin, latmax, lngmin, lngmax = box(volume)
    assert (lngmin, lngmax) == (-180.0, 180.0), name
    assert (latmax == 90.0) if north else (latmin == -90.0), name


def test_a_box_away_from_the_poles_keeps_its_longitude_range() -> None:
    latmin, latmax, lngmin, lngmax = box(polygon([(60.0, 10.0), (60.0, 10.1), (60.1, 10.1), (60.1, 10.0)]))
    assert 59.99 < latmin < 60.0 and 60.1 < latmax < 60.11 and 9.99 < lngmin < 10.0 and 10.1 < lngmax < 10.11


# -- the engine -----------------------------------------------------------------------------------------------
def test_circles_on_either_side_of_the_pole_measure_their_distance_across_it() -> None:
    a, b = (89.999, 0.0), (89.999, 180.0)
    across = geodesic_m(a, b)  # over the pole: about 223.4 m
    assert 223.0 < across < 224.0
    engine = StrategicEngine(default_minima=SeparationMinima(250.0, 0.0, 0.0))
    engine.upsert(flight("a", "alpha", circle(*a, 10.0)))
    found = engine.check(flight("b", "bravo", circle(*b, 10.0))).conflicts()
    assert [c.other_declaration_id for c in found] == ["a"]
    assert found[0].lateral_distance_m == pytest.approx(across - 20.0, abs=0.05)
    assert found[0].severity is Severity.PROXIMITY
    strict = StrategicEngine(default_minima=SeparationMinima(150.0, 0.0, 0.0))
    strict.upsert(flight("a", "alpha", circle(*a, 10.0)))
    assert len(strict.check(flight("b", "bravo", circle(*b, 10.0)))) == 0


def test_the_probers_polar_operations_overlap() -> None:
    """The InterUSS prober's operations: one centred on the pole, one 111 m off it, both covering it."""
    engine = StrategicEngine()
    engine.upsert(flight("op1", "uss1", circle(90.0, 0.0, 200.0)))
    found = engine.check(flight("op2", "uss2", circle(89.999, 180.0, 300.0))).conflicts()
    assert [c.other_declaration_id for c in found] == ["op1"] and found[0].severity is Severity.OVERLAP


def test_a_footprint_around_the_pole_conflicts_with_a_volume_on_the_pole() -> None:
    engine = StrategicEngine()
    engine.upsert(flight("ring", "alpha", polygon([(88.0, 0.0), (88.0, 120.0), (88.0, -120.0)])))
    engine.upsert(flight("far", "alpha", circle(85.0, 60.0, 1000.0)))
    found = engine.check(flight("pole", "bravo", circle(90.0, 0.0, 50.0)))
    assert set(found.other_declaration_ids) == {"ring"}


def test_a_wedge_on_the_pole_is_measured_from_its_pole_vertex() -> None:
    """A wedge spanning longitudes 0-90 from the pole; a circle on the far side (180) is nearest its pole vertex."""
    engine = StrategicEngine(default_minima=SeparationMinima(10_000.0, 0.0, 0.0))
    engine.upsert(flight("wedge", "alpha", polygon([(90.0, 45.0), (89.9, 0.0), (89.9, 90.0)])))
    centre = (89.95, -135.0)
    found = engine.check(flight("c", "bravo", circle(*centre, 100.0))).conflicts()
    assert [c.other_declaration_id for c in found] == ["wedge"]
    assert found[0].lateral_distance_m == pytest.approx(geodesic_m(centre, (90.0, 0.0)) - 100.0, abs=0.05)


def test_south_pole_volumes_conflict_across_the_antimeridian() -> None:
    engine = StrategicEngine()
    engine.upsert(flight("a", "alpha", polygon([(-89.99, 179.0), (-89.99, -179.0), (-89.98, -179.0),
                                                (-89.98, 179.0)])))
    found = engine.check(flight("b", "bravo", circle(-89.985, 180.0, 20.0)))
    assert found.other_declaration_ids == ["a"]


# -- area locks -----------------------------------------------------------------------------------------------
def _keys(volume: Volume4D, grow_m: float) -> dict[int, bool]:
    b = FootprintBatch.of([volume])
    return area_lock_keys(b.bbox, b.t0, b.t1, grow_m, 0.0)


@settings(max_examples=200, deadline=None)
@given(a=st.tuples(high_latitudes, st.floats(-180.0, 180.0)), azimuth=st.floats(0.0, 360.0),
       share=st.floats(0.0, 1.0), grow=st.sampled_from([100.0, 9_260.0, 60_000.0, 150_000.0, 250_000.0]))
def test_writes_within_reach_across_a_pole_share_an_area_lock(a: tuple[float, float], azimuth: float, share: float,
                                                              grow: float) -> None:
    """Two writes whose regions (grown by the widest minimum) meet must take a common lock, one of them
    exclusive, so they run one after the other; here the second is within reach of the first in any direction,
    often across the pole."""
    lng, lat, _ = GEOD.fwd(a[1], a[0], azimuth, share * grow)
    ka, kb = _keys(circle(*a, 10.0), grow), _keys(circle(lat, lng, 10.0), grow)
    assert any(ka[k] or kb[k] for k in ka.keys() & kb.keys())


# -- disclosure -----------------------------------------------------------------------------------------------
POLAR_CASES = [circle(90.0, 0.0, 200.0), circle(89.999, 180.0, 300.0), circle(-89.95, 10.0, 100.0),
               polygon([(88.0, 0.0), (88.0, 120.0), (88.0, -120.0)]),
               polygon([(90.0, 33.0), (89.9, 0.0), (89.9, 90.0)])]


@pytest.mark.parametrize("volume", POLAR_CASES, ids=["on the pole", "covering the pole", "near the south pole",
                                                     "around the pole", "wedge on the pole"])
def test_a_coarse_view_near_a_pole_holds_the_footprint_and_the_pole(volume: Volume4D) -> None:
    """A coarse partner must still learn where not to be: every boundary point, and the pole, lie in a cell."""
    view = coarse_view(volume)
    cells = np.array(view.cells)
    assert len(cells) <= 3_600
    blat, blng = _boundary(volume)
    pole = math.copysign(90.0, blat.mean())
    blat, blng = np.append(blat, pole), np.append(blng, 0.0)
    inside = ((blat[:, None] >= cells[None, :, 0]) & (blat[:, None] <= cells[None, :, 0] + view.cell_deg)
              & ((blng[:, None] - cells[None, :, 1]) % 360.0 <= view.cell_deg))
    assert inside.any(axis=1).all()


def test_the_conflict_area_of_two_volumes_on_the_pole_is_a_valid_volume_holding_it() -> None:
    area = conflict_area(circle(90.0, 0.0, 200.0), circle(89.999, 180.0, 300.0), SeparationMinima())
    assert len(area) == 1
    validate_volume(area[0], now=NOW)
    assert _holds_pole(area[0], 90.0)


# -- validation -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "volume",
    [
        circle(90.0, 0.0, 200.0),
        circle(-90.0, 77.0, 5_000.0),
        circle(89.9, 10.0, 50_000.0),
        polygon([(90.0, 0.0), (89.999, 0.0), (89.999, 90.0)]),
        polygon([(88.0, 0.0), (88.0, 120.0), (88.0, -120.0)]),
    ],
    ids=["circle on the pole", "circle on the south pole", "circle covering the pole", "vertex on the pole",
         "around the pole"],
)
def test_polar_volumes_are_valid(volume: Volume4D) -> None:
    validate_volume(volume, now=NOW)


@pytest.mark.parametrize(
    ("volume", "field", "message"),
    [
        (circle(90.0001, 0.0, 200.0), "outline_circle.center.lat", "outside"),
        (polygon([(-90.0, 0.0), (-90.0, 40.0), (-89.9, 40.0)]), "outline_polygon.vertices[1]", "repeats"),
        (polygon([(10.0, 180.0), (10.0, -180.0), (10.1, -179.9)]), "outline_polygon.vertices[1]", "repeats"),
    ],
    ids=["beyond the pole", "the pole twice, with two longitudes", "the antimeridian named twice"],
)
def test_invalid_polar_volumes_are_refused(volume: Volume4D, field: str, message: str) -> None:
    with pytest.raises(InvalidVolume) as info:
        validate_volume(volume, now=NOW, field="volumes[0]")
    assert info.value.field == f"volumes[0].volume.{field}" and message in str(info.value)
