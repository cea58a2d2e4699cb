"""Each invalid input raises a typed error whose message names the field and the reason."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from deconflict.core.limits import VolumeLimits
from deconflict.core.model import Altitude, Circle, LatLngPoint, Polygon, Radius, Time, Volume3D, Volume4D
from deconflict.core.validation import validate_volume
from deconflict.errors import DeconflictError, InvalidVolume

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
START = NOW + timedelta(hours=1)
END = NOW + timedelta(hours=2)
SQUARE = [(35.0, 36.0), (35.0, 36.1), (35.1, 36.1), (35.1, 36.0)]


def poly(vertices: list[tuple[float, float]], lower: float = 0.0, upper: float = 1000.0,
         start: datetime = START, end: datetime = END) -> Volume4D:
    return Volume4D.polygon(vertices, lower, upper, start, end)


def circle(radius: float, lat: float = 35.0, lng: float = 36.0) -> Volume4D:
    return Volume4D.circle(lat, lng, radius, 0.0, 1000.0, START, END)


def test_valid_volumes_pass() -> None:
    validate_volume(poly(SQUARE), now=NOW)
    validate_volume(circle(5000.0), now=NOW)
    # a closing vertex repeating the first (GeoJSON habit) is accepted
    validate_volume(poly([*SQUARE, SQUARE[0]]), now=NOW)
    # a polygon across the antimeridian is handled, not refused
    validate_volume(poly([(-17.0, 179.9), (-17.0, -179.9), (-17.1, -179.9), (-17.1, 179.9)]), now=NOW)
    # feet with explicit units
    v = Volume4D(Volume3D(Altitude.ft(0), Altitude.ft(5000), outline_circle=Circle(LatLngPoint(35, 36), Radius(100.0))),
                 Time(START), Time(END))
    validate_volume(v, now=NOW)


CASES = [
    ("fewer than 3 vertices", poly([(35.0, 36.0), (35.1, 36.1)]), "outline_polygon.vertices", "at least 3"),
    ("self-intersecting (bow tie)", poly([(35.0, 36.0), (35.1, 36.1), (35.0, 36.1), (35.1, 36.0)]),
     "outline_polygon.vertices", "cross"),
    ("zero area (collinear)", poly([(35.0, 36.0), (35.1, 36.0), (35.05, 36.0)]), "outline_polygon.vertices",
     "cross|zero area"),
    ("duplicated vertex", poly([(35.0, 36.0), (35.0, 36.0), (35.1, 36.1), (35.0, 36.1)]),
     "outline_polygon.vertices[1]", "repeats"),
    ("non-positive radius", circle(0.0), "outline_circle.radius.value", "positive"),
    ("negative radius", circle(-5.0), "outline_circle.radius.value", "positive"),
    ("NaN radius", circle(math.nan), "outline_circle.radius.value", "finite"),
    ("infinite latitude", poly([(math.inf, 36.0), (35.0, 36.1), (35.1, 36.1)]),
     "outline_polygon.vertices[0].lat", "finite"),
    ("latitude out of range", circle(100.0, lat=91.0), "outline_circle.center.lat", "outside"),
    ("longitude out of range", circle(100.0, lng=-181.0), "outline_circle.center.lng", "outside"),
    ("lower above upper", poly(SQUARE, lower=2000.0, upper=1000.0), "altitude_lower", "below the upper"),
    ("end before start", poly(SQUARE, start=END, end=START), "time_end", "not after"),
    ("end equal to start", poly(SQUARE, start=START, end=START), "time_end", "not after"),
    ("window in the past", poly(SQUARE, start=NOW - timedelta(hours=3), end=NOW - timedelta(hours=2)),
     "time_end", "already passed"),
    ("beyond the 30-day horizon", poly(SQUARE, start=NOW + timedelta(days=2), end=NOW + timedelta(days=31)),
     "time_end", "horizon"),
    ("radius beyond the limit", circle(300_000.0), "outline_circle.radius.value", "limit"),
    ("altitude beyond the limit", poly(SQUARE, upper=50_000.0), "altitude_upper.value", "outside"),
]


@pytest.mark.parametrize(("reason", "volume", "field", "message"), CASES, ids=[c[0] for c in CASES])
def test_invalid_volume_names_field_and_reason(reason: str, volume: Volume4D, field: str, message: str) -> None:
    with pytest.raises(InvalidVolume) as info:
        validate_volume(volume, now=NOW, field="volumes[0]")
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, DeconflictError)
    assert err.field is not None and err.field.startswith("volumes[0]") and err.field.endswith(field), err.field
    assert any(m in err.message for m in message.split("|")), err.message
    assert err.status_code == 422


def test_too_many_vertices_is_refused() -> None:
    ring = [(35.0 + 0.1 * math.sin(a), 36.0 + 0.1 * math.cos(a)) for a in
            (2 * math.pi * k / 50 for k in range(50))]
    with pytest.raises(InvalidVolume, match="exceed the limit of 20"):
        validate_volume(poly(ring), VolumeLimits(max_vertices=20), now=NOW)


def test_area_beyond_the_limit_is_refused() -> None:
    with pytest.raises(InvalidVolume, match=r"area .* exceeds the limit of 1000 km"):
        validate_volume(poly([(35.0, 36.0), (35.0, 36.5), (35.5, 36.5), (35.5, 36.0)]),
                        VolumeLimits(max_area_km2=1000.0), now=NOW)
    with pytest.raises(InvalidVolume, match="area exceeds the limit"):
        validate_volume(circle(20_000.0), VolumeLimits(max_area_km2=1000.0), now=NOW)


def test_missing_time_zone_is_refused() -> None:
    naive = Volume4D.circle(35.0, 36.0, 100.0, 0.0, 100.0, START.replace(tzinfo=None), END)
    with pytest.raises(InvalidVolume) as info:
        validate_volume(naive, now=NOW)
    assert info.value.field == "volume.time_start.value"


def test_both_or_neither_outline_is_refused() -> None:
    v3 = Volume3D(Altitude.m(0), Altitude.m(10), outline_polygon=Polygon(()),
                  outline_circle=Circle(LatLngPoint(35, 36), Radius(10.0)))
    with pytest.raises(InvalidVolume, match="exactly one"):
        validate_volume(Volume4D(v3, Time(START), Time(END)), now=NOW)


def test_wrong_types_are_refused_not_coerced() -> None:
    bad = Volume4D.circle(35.0, 36.0, 100.0, 0.0, 100.0, START, END)
    bad_center = Circle(LatLngPoint("35", 36.0), Radius(100.0))  # type: ignore[arg-type]
    v = Volume4D(Volume3D(bad.volume.altitude_lower, bad.volume.altitude_upper, outline_circle=bad_center),
                 bad.time_start, bad.time_end)
    with pytest.raises(InvalidVolume, match="must be a number"):
        validate_volume(v, now=NOW)
