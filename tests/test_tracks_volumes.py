"""Live tracks against declared volumes (issue 6): entry or predicted entry into another party's live hazard,
protected or induced-hazard volume (found through the strategic index, then tested exactly), and non-conformance
of a party's own aircraft with its flight declarations; both through the alert path, with need-to-know."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from deconflict.cli_liaison import render_notification
from deconflict.core.geo import ecef
from deconflict.core.tactical import TrackBatch, kinematics
from deconflict.core.tactical.volumes import path_inside, point_inside
from deconflict.service.scheduler import tick
from deconflict.service.server import RunningService

from .service_helpers import T0, Api, ManualClock, vol, world
from .test_tracks_service import _alerts, _alerts_inbox, _post, report

M_PER_DEG_LNG = 111_320.0 * math.cos(math.radians(50.0))  # about 71.6 km at 50 N (to a few metres)


def _motion(lng: float, track: float, alt: float = 3000.0, vs: float = 0.0) -> tuple[Any, ...]:
    b = TrackBatch.of(t_s=[0.0], lat_deg=[50.0], lng_deg=[lng], alt_m=[alt], gs_mps=[100.0], track_deg=[track],
                      vs_mps=[vs])
    k = kinematics(b, 0.0)
    return k.pos[0], k.vel[0], float(k.alt_m[0]), float(k.vs_mps[0])


def _circle(lng: float) -> np.ndarray:
    return np.asarray(ecef(50.0, lng)).reshape(1, 3)


def test_path_enters_a_circle_when_the_geometry_says() -> None:
    pos, vel, alt, vs = _motion(8.0, 90.0)
    t_in, t_out = path_inside(pos, vel, alt, vs, _circle(8.1), 2000.0, 0.0, 5000.0, -60.0, 3600.0, 300.0)
    gap = 0.1 * M_PER_DEG_LNG
    assert t_in == pytest.approx((gap - 2000.0) / 100.0, abs=1.0)
    assert t_out == pytest.approx((gap + 2000.0) / 100.0, abs=1.0)
    # away from it, above it, or before it opens: never
    assert path_inside(*_motion(8.0, 270.0), _circle(8.1), 2000.0, 0.0, 5000.0, -60.0, 3600.0, 300.0) is None
    assert path_inside(pos, vel, alt, vs, _circle(8.1), 2000.0, 0.0, 2500.0, -60.0, 3600.0, 300.0) is None
    assert path_inside(pos, vel, alt, vs, _circle(8.1), 2000.0, 0.0, 5000.0, 60.0, 3600.0, 300.0) == (
        pytest.approx(60.0), pytest.approx(t_out, abs=1e-6))  # inside when it opens
    assert path_inside(pos, vel, alt, vs, _circle(8.1), 2000.0, 0.0, 5000.0, 100.0, 3600.0, 300.0) is None
    # descending into the band after crossing the edge: the vertical test decides (5,000 m at 100 s)
    descending = _motion(8.0, 90.0, 7000.0, -20.0)
    assert path_inside(*descending, _circle(8.1), 5000.0, 0.0, 5000.0, -60.0, 3600.0, 300.0)[0] == pytest.approx(
        100.0, abs=1e-6)


def test_path_and_point_in_a_polygon() -> None:
    ring = np.asarray(ecef(np.array([49.98, 49.98, 50.02, 50.02]), np.array([8.08, 8.12, 8.12, 8.08]))).reshape(-1, 3)
    pos, vel, alt, vs = _motion(8.0, 90.0)
    t_in, t_out = path_inside(pos, vel, alt, vs, ring, 0.0, 0.0, 5000.0, -60.0, 3600.0, 600.0)
    assert t_in == pytest.approx(0.08 * M_PER_DEG_LNG / 100.0, abs=1.0)
    assert t_out == pytest.approx(0.12 * M_PER_DEG_LNG / 100.0, abs=1.0)
    inside = _motion(8.1, 0.0)
    assert point_inside(inside[0], 3000.0, ring, 0.0, 0.0, 5000.0, -1.0, 1.0).inside
    side = point_inside(inside[0], 6000.0, ring, 0.0, 0.0, 5000.0, 10.0, 20.0)
    assert (side.lateral, side.vertical, side.time) == (True, False, False)
    assert not point_inside(_motion(8.0, 0.0)[0], 3000.0, ring, 0.0, 0.0, 5000.0, -1.0, 1.0).lateral


# -- in the service -------------------------------------------------------------------------------------------
def _volume(lat: float, lng: float, radius_m: float, alt: tuple[float, float], at: datetime) -> dict[str, Any]:
    v = vol(lat, lng, radius_m, alt=alt)
    v["time_start"]["value"] = (at - timedelta(minutes=10)).isoformat()
    v["time_end"]["value"] = (at + timedelta(hours=1)).isoformat()
    return v


def _world(service: RunningService) -> tuple[Api, dict[str, Api]]:
    assert service.admin_token is not None
    return world(service.url, service.admin_token, ["air", "ngo", "stranger"],
                 [{"parties": ["air", "ngo"], "disclosure": "full", "policy": "require_ack"}])


def _declare(api: Api, kind: str, volume: dict[str, Any], **extra: Any) -> str:
    r = api.declare(kind, volume, **extra)
    assert r.status_code == 201, r.text
    return str(r.json()["declaration"]["id"])


def test_predicted_hazard_entry_alerts_the_pilot_and_the_hazards_owner_as_agreed(timed: RunningService,
                                                                                   clock: ManualClock) -> None:
    admin, apis = _world(timed)
    apis["air"].put("/v1/parties/me/assets", json={"icao24": ["abc123", "abc124"]})
    apis["stranger"].put("/v1/parties/me/assets", json={"icao24": ["fff001"]})
    range_id = _declare(apis["ngo"], "hazard", _volume(50.0, 8.1, 2000.0, (0.0, 5000.0), T0), title="live firing")
    _declare(apis["air"], "hazard", _volume(50.0, 8.1, 3000.0, (0.0, 5000.0), T0), title="air's own range")
    _post(apis["stranger"],
          report(T0, 8.0, 90.0, icao24="abc123"),  # air's aircraft, towards ngo's range: about 52 s away
          report(T0, 8.0, 270.0, icao24="abc124"),  # air's aircraft, away from it
          {**report(T0, 8.0, 90.0, icao24="fff001"), "altitude_m": 4000.0},  # the stranger's: no agreement
          {**report(T0, 8.0, 90.0, icao24="0badc0"), "altitude_m": 2000.0})  # unidentified, towards it
    tick(timed.state)
    # air's own aircraft is not screened against air's own range; the unidentified one is, air being told
    (mine,) = [a for a in _alerts(apis["air"]) if "own" in a]
    (intruder,) = [a for a in _alerts(apis["air"]) if "aircraft" in a]
    assert intruder["aircraft"]["icao24"] == "0badc0" and intruder["hazard"]["party"] == "air"
    assert mine["kind"] == "hazard_entry" and mine["own"]["icao24"] == "abc123"
    assert mine["hazard"] == {"declaration_id": range_id, "kind": "hazard", "party": "ngo"}
    gap = 0.1 * M_PER_DEG_LNG
    assert mine["prediction"]["t_in_s"] == pytest.approx((gap - 2000.0) / 100.0, abs=1.0)
    assert mine["prediction"]["entry"]["lng"] == pytest.approx(8.1 - 2000.0 / M_PER_DEG_LNG, abs=1e-3)
    notes = _alerts_inbox(apis["air"])
    assert sorted(n["payload"]["alert"]["id"] for n in notes) == sorted([mine["id"], intruder["id"]])
    shown = {render_notification(n, T0).plain.split("  [")[0].split(" ", 1)[1].split(":")[0] for n in notes}
    assert shown == {"ALERT RAISED your abc123 entering ngo's hazard",
                     "ALERT RAISED aircraft 0badc0 entering air's hazard"}  # as `deconflict watch` shows them
    # the range's owner: the partner's aircraft in full (full disclosure), and the unidentified one as broadcast
    theirs = sorted(_alerts(apis["ngo"]), key=lambda a: a["aircraft"]["identified"])
    assert [a["aircraft"]["icao24"] for a in theirs] == ["0badc0", "abc123"]
    assert theirs[1]["aircraft"]["party"] == "air" and "own" not in theirs[1]
    assert len(_alerts_inbox(apis["ngo"])) == 2
    # the stranger's aircraft shares no agreement with ngo: nothing to either side
    assert _alerts(apis["stranger"]) == [] and _alerts_inbox(apis["stranger"]) == []
    assert sorted(a["kind"] for a in _alerts(admin)) == ["hazard_entry"] * 3  # no separation alert either
    # it turns away: cleared after the quiet period
    clock.advance(5)
    _post(apis["stranger"], report(T0 + timedelta(seconds=5), 8.007, 270.0, icao24="abc123"))
    for _ in range(7):
        clock.advance(5)
        tick(timed.state)
    assert [a["id"] for a in _alerts(apis["air"], "cleared") if "own" in a] == [mine["id"]]


def test_an_induced_hazard_counts_only_while_an_activity_keeps_it_live(timed: RunningService) -> None:
    _, apis = _world(timed)
    apis["air"].put("/v1/parties/me/assets", json={"icao24": ["abc123"]})
    _declare(apis["ngo"], "hazard", _volume(50.0, 8.1, 2000.0, (0.0, 5000.0), T0), activation="induced")
    _post(apis["stranger"], report(T0, 8.0, 90.0, icao24="abc123"))
    tick(timed.state)
    assert _alerts(apis["air"]) == []  # dormant: no activity intersects it
    _declare(apis["stranger"], "activity", _volume(50.0, 8.1, 500.0, (0.0, 1000.0), T0))
    tick(timed.state)
    (alert,) = _alerts(apis["air"])
    assert alert["kind"] == "hazard_entry" and alert["prediction"]["induced"] is True


def test_non_conformance_of_own_aircraft_with_its_flights(timed: RunningService, clock: ManualClock) -> None:
    admin, apis = _world(timed)
    apis["air"].put("/v1/parties/me/assets", json={"icao24": ["abc001", "abc002", "abc003"]})
    apis["ngo"].put("/v1/parties/me/assets", json={"icao24": ["def001"]})
    flight = _declare(apis["air"], "flight", _volume(50.0, 8.0, 20_000.0, (2000.0, 4000.0), T0))
    _post(apis["air"],
          {**report(T0, 8.0, 0.0, icao24="abc001")},  # inside: conforming
          {**report(T0, 8.05, 0.0, icao24="abc002"), "altitude_m": 5000.0},  # above it
          {**report(T0, 9.0, 0.0, icao24="abc003")},  # 70 km east of it
          {**report(T0, 10.0, 0.0, icao24="def001")})  # ngo declares no flights: not monitored
    tick(timed.state)
    found = {a["own"]["icao24"]: a for a in _alerts(apis["air"])}
    assert set(found) == {"abc002", "abc003"}
    assert found["abc002"]["prediction"]["reason"] == "vertical"
    assert found["abc003"]["prediction"]["reason"] == "lateral"
    assert all(a["kind"] == "non_conformance" for a in found.values())
    # the flights it lies over (none: it is outside them all laterally)
    assert found["abc002"]["prediction"]["declarations"] == [flight]
    assert found["abc003"]["prediction"]["declarations"] == []
    assert len(_alerts_inbox(apis["air"])) == 2
    assert _alerts(apis["ngo"]) == [] and _alerts_inbox(apis["ngo"]) == []
    assert len(_alerts(admin)) == 2
    # its only live flight cancelled, the party is no longer monitored: the aircraft that conformed is not flagged
    assert apis["air"].post(f"/v1/declarations/{flight}/cancel", json={}).status_code == 200
    clock.advance(5)
    tick(timed.state)
    assert "abc001" not in {a["own"]["icao24"] for a in _alerts(apis["air"], "all")}
