"""Induced hazards: live only while an activity intersects them; then flights inside are told, as for a conflict."""

from __future__ import annotations

from typing import Any

from deconflict.service.server import RunningService

from .service_helpers import world
from .test_notifications import _inbox, circle

FULL = {"disclosure": "full", "policy": "inform", "ack_deadline_s": 600}


def _world(service: RunningService) -> dict[str, Any]:
    assert service.admin_token is not None
    _, apis = world(service.url, service.admin_token, ["air", "sam", "ngo", "drone", "stranger"], [
        {"parties": ["sam", "ngo", "drone"], **FULL},
        {"parties": ["air", "sam"], **FULL},
    ])
    return apis


def test_an_activity_wakes_the_hazard_over_flights_inside_it(timed: RunningService) -> None:
    apis = _world(timed)
    zone = apis["sam"].declare("hazard", circle(35.45, 36.0, 25_000, 0, 600), activation="induced",
                               title="engagement zone")
    assert zone.status_code == 201, zone.text
    medevac = apis["ngo"].declare("flight", circle(35.5, 36.05, 2000, 60, 120))
    assert medevac.json()["induced_hazards"] == []  # nothing keeps the zone live yet
    assert apis["stranger"].declare("flight", circle(35.4, 35.95, 2000, 60, 120)).status_code == 201
    outside = apis["drone"].declare("flight", circle(34.0, 36.0, 2000, 60, 120))
    assert outside.status_code == 201

    strike = apis["air"].declare("activity", circle(35.3, 36.1, 8000, 30, 150), title="strike")
    assert strike.status_code == 201, strike.text
    (told,) = strike.json()["induced_hazards"]
    assert told["hazard_id"] == zone.json()["declaration"]["id"]
    assert told["live"] == [{"start": "2030-06-01T08:30:00Z", "end": "2030-06-01T10:30:00Z"}]

    induced = [n for n in _inbox(apis["ngo"]) if n["reason"] == "induced"]
    assert len(induced) == 1
    payload = induced[0]["payload"]
    assert induced[0]["sender"] == "sam" and payload["hazard"]["title"] == "engagement zone"
    assert payload["flight"]["id"] == medevac.json()["declaration"]["id"]
    assert payload["live"] == told["live"]
    assert [n for n in _inbox(apis["drone"]) if n["reason"] == "induced"] == []  # its flight is elsewhere
    assert _inbox(apis["stranger"]) == []  # no agreement with the hazard's owner: nothing disclosed


def test_a_flight_into_a_live_hazard_is_told_when_it_is_live(timed: RunningService) -> None:
    apis = _world(timed)
    apis["sam"].declare("hazard", circle(35.45, 36.0, 25_000, 0, 600), activation="induced")
    apis["air"].declare("activity", circle(35.3, 36.1, 8000, 30, 90))
    apis["air"].declare("activity", circle(35.3, 36.1, 8000, 200, 230))
    late = apis["drone"].declare("flight", circle(35.5, 36.05, 2000, 60, 220))
    (told,) = late.json()["induced_hazards"]
    assert told["live"] == [{"start": "2030-06-01T09:00:00Z", "end": "2030-06-01T09:30:00Z"},
                            {"start": "2030-06-01T11:20:00Z", "end": "2030-06-01T11:40:00Z"}]
    (note,) = [n for n in _inbox(apis["drone"]) if n["reason"] == "induced"]
    assert note["payload"]["live"] == told["live"]
    quiet = apis["ngo"].declare("flight", circle(35.5, 36.05, 2000, 100, 190))  # between the two activities
    assert quiet.json()["induced_hazards"] == []
