"""Reconstruction (issue 5): what a party knew at a time, from the ledger alone, on a scenario with a late notice.

The air force declares a live-firing activity ten minutes ahead where the agreements want thirty minutes of
notice. The relief NGO (coarse disclosure) reads it a minute later and acknowledges with a reply; the medical
service (full disclosure) reads it but never answers, and is escalated. GET /v1/ledger/picture at several times
must say exactly what each knew then: nothing before delivery; the late notice with its lead time and the
precision its agreement discloses after; the acknowledgement and its reply, or the overdue then escalated state.
The coarse viewer's raw response never carries the activity's title or its vertices.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from deconflict.service.scheduler import tick
from deconflict.service.server import RunningService

from .service_helpers import T0, Api, ManualClock, world

SECRET_TITLE = "OPERATION-KESTREL-FIRE"
VERTICES = [(35.1234567, 36.1111117), (35.1234567, 36.3333337), (35.3456787, 36.3333337), (35.3456787, 36.1111117)]
SECRET_DIGITS = ["35.1234567", "36.1111117", "36.3333337", "35.3456787"]
TERMS = {"policy": "require_ack", "ack_deadline_s": 300, "min_notice_s": {"activity": 1800}}


def polygon(start_min: float, end_min: float) -> dict[str, Any]:
    return {
        "volume": {"altitude_lower": {"value": 0.0}, "altitude_upper": {"value": 4000.0},
                   "outline_polygon": {"vertices": [{"lat": a, "lng": b} for a, b in VERTICES]}},
        "time_start": {"value": (T0 + timedelta(minutes=start_min)).isoformat()},
        "time_end": {"value": (T0 + timedelta(minutes=end_min)).isoformat()},
    }


def circle(lat: float, lng: float, r: float, start_min: float, end_min: float) -> dict[str, Any]:
    return {
        "volume": {"altitude_lower": {"value": 0.0}, "altitude_upper": {"value": 1000.0},
                   "outline_circle": {"center": {"lat": lat, "lng": lng}, "radius": {"value": r}}},
        "time_start": {"value": (T0 + timedelta(minutes=start_min)).isoformat()},
        "time_end": {"value": (T0 + timedelta(minutes=end_min)).isoformat()},
    }


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def picture(api: Api, seconds: float, **params: Any) -> dict[str, Any]:
    r = api.get("/v1/ledger/picture", params={"at": at(seconds), **params})
    assert r.status_code == 200, r.text
    return dict(r.json())


def late_scenario(service: RunningService, clock: ManualClock) -> dict[str, Any]:
    """The scenario above, driven on the manual clock; returns the parties' clients and the ids."""
    assert service.admin_token is not None
    admin, apis = world(service.url, service.admin_token, ["air", "ngo", "med", "stranger"], [
        {"parties": ["air", "ngo"], "disclosure": "coarse", **TERMS},
        {"parties": ["air", "med"], "disclosure": "full", **TERMS},
    ])
    own = apis["ngo"].declare("flight", circle(40.0, 30.0, 3000, 20, 50), title="food drop")
    assert own.status_code == 201, own.text
    made = apis["air"].declare("activity", polygon(10, 70), title=SECRET_TITLE)  # at T0, 10 min ahead: late
    assert made.status_code == 201, made.text
    assert sorted(made.json()["late_notice"]) == ["med", "ngo"]
    tick(service.state)
    clock.advance(30)
    (to_med,) = apis["med"].get("/v1/notifications").json()["notifications"]  # delivered at T0+30
    clock.advance(30)
    (to_ngo,) = apis["ngo"].get("/v1/notifications").json()["notifications"]  # delivered at T0+60
    tick(service.state)
    clock.advance(60)
    acked = apis["ngo"].post(f"/v1/notifications/{to_ngo['id']}/ack",
                             json={"reply": "request_hold", "text": "convoy on the road until 08:40"})
    assert acked.status_code == 200, acked.text  # at T0+120
    tick(service.state)
    clock.advance(181)  # T0+301: med's deadline (T0+300) passed; the scheduler escalates
    assert tick(service.state) == 1
    return {"admin": admin, "apis": apis, "declaration": made.json()["declaration"]["id"],
            "own": own.json()["declaration"]["id"], "to_ngo": to_ngo["id"], "to_med": to_med["id"]}


@pytest.fixture
def scene(timed: RunningService, clock: ManualClock) -> dict[str, Any]:
    return late_scenario(timed, clock)


def test_before_delivery_the_party_knew_only_its_own(scene: dict[str, Any]) -> None:
    ngo = scene["apis"]["ngo"]
    assert set(picture(ngo, 30)) >= {"at", "party_id", "tree_size", "declarations", "notifications", "alerts",
                                     "tracks"}
    for seconds in (-1, 30, 59):  # the notice was created at T0, delivered to the NGO only at T0+60
        seen = picture(ngo, seconds)
        assert seen["notifications"] == []
        assert [d["id"] for d in seen["declarations"]] == ([] if seconds < 0 else [scene["own"]])
    mine = picture(ngo, 30)["declarations"][0]
    assert mine["title"] == "food drop" and mine["precision"] == "full" and mine["geometry"]["type"] == "Polygon"
    assert mine["window"] == {"start": at(20 * 60), "end": at(50 * 60)}


def test_after_delivery_the_late_notice_as_the_agreement_discloses(scene: dict[str, Any]) -> None:
    seen = picture(scene["apis"]["ngo"], 61)
    (notice,) = seen["notifications"]
    assert notice["id"] == scene["to_ngo"] and notice["declaration_id"] == scene["declaration"]
    assert notice["late"] is True and notice["lead_time_s"] == 540.0 and notice["reason"] == "notice"
    assert notice["delivered_at"] == at(60) and notice["precision"] == "coarse"
    assert notice["ack"] == {"state": "pending", "at": None, "reply": None, "text": None, "level": 0}
    theirs = next(d for d in seen["declarations"] if d["id"] == scene["declaration"])
    assert theirs["precision"] == "coarse" and "title" not in theirs
    assert theirs["geometry"]["type"] in ("Polygon", "MultiPolygon")
    # the medical service has full disclosure: the exact shape and the title
    med = picture(scene["apis"]["med"], 31)
    (told,) = med["notifications"]
    assert told["late"] is True and told["lead_time_s"] == 570.0 and told["precision"] == "full"
    (shape,) = med["declarations"]
    assert shape["title"] == SECRET_TITLE and shape["precision"] == "full"
    ring = shape["geometry"]["coordinates"][0]
    assert ring[:-1] == [[lng, lat] for lat, lng in VERTICES] and ring[-1] == ring[0]
    assert shape["altitude"] == {"lower_m": 0.0, "upper_m": 4000.0}
    assert shape["window"] == {"start": at(600), "end": at(4200)}


def test_after_the_ack_acknowledged_with_its_reply(scene: dict[str, Any]) -> None:
    ngo = scene["apis"]["ngo"]
    assert picture(ngo, 119)["notifications"][0]["ack"]["state"] == "pending"
    (notice,) = picture(ngo, 121)["notifications"]
    assert notice["ack"] == {"state": "acknowledged", "at": at(120), "reply": "request_hold",
                             "text": "convoy on the road until 08:40", "level": 0}
    assert picture(ngo, 400)["notifications"][0]["ack"]["state"] == "acknowledged"  # no escalation after


def test_unanswered_notice_pending_then_overdue_then_escalated(scene: dict[str, Any]) -> None:
    med = scene["apis"]["med"]
    assert picture(med, 299)["notifications"][0]["ack"]["state"] == "pending"
    assert picture(med, 300.5)["notifications"][0]["ack"]["state"] == "overdue"
    (notice,) = picture(med, 302)["notifications"]
    assert notice["ack"]["state"] == "escalated" and notice["ack"]["level"] == 1
    # after the window ends the activity is no longer in the picture; the notification stays on record
    later = picture(med, 71 * 60)
    assert later["declarations"] == [] and [n["id"] for n in later["notifications"]] == [scene["to_med"]]


def test_a_coarse_viewer_never_sees_the_title_or_vertices(scene: dict[str, Any]) -> None:
    for seconds in (61, 121, 400):
        raw = scene["apis"]["ngo"].get("/v1/ledger/picture", params={"at": at(seconds)}).text
        assert SECRET_TITLE not in raw and scene["declaration"] in raw
        for digits in SECRET_DIGITS:
            assert digits not in raw
    stranger = picture(scene["apis"]["stranger"], 400)
    assert stranger["declarations"] == stranger["notifications"] == []
    assert SECRET_TITLE not in json.dumps(stranger)


def test_who_may_ask_and_bad_times(scene: dict[str, Any], timed: RunningService) -> None:
    apis, admin = scene["apis"], scene["admin"]
    as_admin = picture(admin, 121, party="ngo")
    assert as_admin == {**picture(apis["ngo"], 121), "party_id": as_admin["party_id"]}
    r = admin.get("/v1/ledger/picture", params={"at": at(121)})
    assert r.status_code == 400 and r.json()["error"]["field"] == "party"
    assert apis["stranger"].get("/v1/ledger/picture", params={"at": at(121), "party": "air"}).status_code == 403
    assert admin.get("/v1/ledger/picture", params={"at": at(121), "party": "nobody"}).status_code == 404
    # the last two are valid ISO 8601 but outside the years a time can have in UTC (once a 500)
    for bad in ("yesterday", "2030-13-01T00:00:00Z", "", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        r = apis["ngo"].get("/v1/ledger/picture", params={"at": bad})
        assert r.status_code == 400 and r.json()["error"]["field"] == "at", r.text
    assert Api(timed.url, "not-a-token").get("/v1/ledger/picture", params={"at": at(1)}).status_code == 401
    assert datetime.fromisoformat(picture(apis["ngo"], 121)["at"].replace("Z", "+00:00")) == T0 + timedelta(
        seconds=121)
