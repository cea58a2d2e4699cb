"""Need-to-know: every endpoint shows a party its own data in full and others' only as agreements disclose.

One world, four viewers of the owner's secret declaration: a partner with `full` disclosure, one with `coarse`,
one with `conflict_area`, and a stranger with no agreement. Each viewer also declares a flight that conflicts
with it. The secret's title, extra fields and exact vertices are distinctive strings; the test looks for them in
the raw text of every response each viewer can get.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from deconflict.service.server import RunningService

from .service_helpers import Api, vol, world

SECRET_TITLE = "OPERATION-NIGHTJAR"
SECRET_EXTRA = "SQUADRON-77-CALLSIGN"
# distinctive vertex digits: they must never reach a viewer below full disclosure
VERTICES = [(35.1234567, 36.1111117), (35.1234567, 36.3333337), (35.3456787, 36.3333337), (35.3456787, 36.1111117)]
SECRET_DIGITS = ["35.1234567", "36.1111117", "36.3333337", "35.3456787"]


def _secret_volume() -> dict[str, Any]:
    v = vol(0, 0, 1.0, hours=(1.0, 3.0), alt=(0.0, 5000.0))
    del v["volume"]["outline_circle"]
    v["volume"]["outline_polygon"] = {"vertices": [{"lat": a, "lng": b} for a, b in VERTICES]}
    return v


@pytest.fixture
def scene(service: RunningService) -> dict[str, Any]:
    assert service.admin_token is not None
    minima = {"lateral_m": 500, "vertical_m": 100, "time_s": 60}
    _, apis = world(service.url, service.admin_token, ["owner-9f3", "full", "coarse", "area", "stranger"], [
        {"parties": ["owner-9f3", "full"], "disclosure": "full", "policy": "inform", "minima": minima},
        {"parties": ["owner-9f3", "coarse"], "disclosure": "coarse", "policy": "inform", "minima": minima},
        {"parties": ["owner-9f3", "area"], "disclosure": "conflict_area", "policy": "inform", "minima": minima},
    ])
    secret = apis["owner-9f3"].declare("activity", _secret_volume(), title=SECRET_TITLE, extra={"unit": SECRET_EXTRA})
    assert secret.status_code == 201, secret.text
    secret_id = secret.json()["declaration"]["id"]
    responses: dict[str, dict[str, Any]] = {}
    for name in ("full", "coarse", "area", "stranger"):
        flight = apis[name].declare("flight", vol(35.2, 36.2, 800.0, hours=(1.5, 2.0), alt=(0.0, 1000.0)))
        assert flight.status_code == 201, flight.text
        responses[name] = flight.json()
    return {"apis": apis, "secret_id": secret_id, "declare": responses}


def _everything(api: Api, secret_id: str, declare_response: dict[str, Any]) -> dict[str, Any]:
    """Every response a viewer can get that could mention the secret."""
    conflicts = api.get("/v1/conflicts", params={"state": "all"}).json()["conflicts"]
    return {
        "declare": declare_response,
        "list": api.get("/v1/declarations").json(),
        "list_all_states": api.get("/v1/declarations", params={"live": "false"}).json(),
        "get": api.get(f"/v1/declarations/{secret_id}").json(),
        "query": api.post("/v1/declarations/query", json={"area": vol(35.2, 36.2, 30_000.0, hours=(0.5, 4))}).json(),
        "conflicts": conflicts,
        "conflict": [api.get(f"/v1/conflicts/{c['id']}").json() for c in conflicts],
        "agreements": api.get("/v1/agreements").json(),
        "parties": api.get("/v1/parties").json(),
    }


def _text(obj: Any) -> str:
    import json

    return json.dumps(obj)


def test_full_partner_sees_the_declaration_as_declared(scene: dict[str, Any]) -> None:
    seen = _everything(scene["apis"]["full"], scene["secret_id"], scene["declare"]["full"])
    assert seen["get"]["declaration"]["title"] == SECRET_TITLE
    assert seen["get"]["declaration"]["disclosure"] == "full"
    assert all(d in _text(seen["get"]) for d in SECRET_DIGITS)
    assert scene["secret_id"] in [d["id"] for d in seen["list"]["declarations"]]
    assert scene["secret_id"] in [d["id"] for d in seen["query"]["declarations"]]
    (conflict,) = seen["conflicts"]
    assert conflict["other"]["disclosure"] == "full" and conflict["other"]["declaration_id"] == scene["secret_id"]


def test_coarse_partner_sees_cells_not_shapes(scene: dict[str, Any]) -> None:
    seen = _everything(scene["apis"]["coarse"], scene["secret_id"], scene["declare"]["coarse"])
    text = _text(seen)
    assert SECRET_TITLE not in text and SECRET_EXTRA not in text
    assert not any(d in text for d in SECRET_DIGITS)
    got = seen["get"]["declaration"]
    assert got["disclosure"] == "coarse" and "volumes" not in got
    cells = {(c["lat"], c["lng"]) for c in got["coarse"][0]["cells"]}
    assert (35.2, 36.2) in cells  # the cell holding the centre of the secret area
    assert got["coarse"][0]["altitude_upper_m"] >= 5000.0
    (conflict,) = seen["conflicts"]
    assert conflict["other"]["disclosure"] == "coarse" and "volumes" not in conflict["other"]


def test_conflict_area_partner_sees_only_the_clipped_overlap(scene: dict[str, Any]) -> None:
    seen = _everything(scene["apis"]["area"], scene["secret_id"], scene["declare"]["area"])
    text = _text(seen)
    assert SECRET_TITLE not in text and SECRET_EXTRA not in text
    assert not any(d in text for d in SECRET_DIGITS)
    assert seen["get"]["error"]["code"] == "not_found"
    assert scene["secret_id"] not in text.replace(_text(seen["conflicts"]), "").replace(_text(seen["conflict"]), "")
    (conflict,) = seen["conflicts"]
    assert conflict["other"]["disclosure"] == "conflict_area"
    (area,) = conflict["other"]["area"]
    lats = [p["lat"] for p in area["volume"]["outline_polygon"]["vertices"]]
    # the flight is an 800 m circle at 35.2N; with 500 m minima the clipped area spans about 2.6 km, not 25 km
    assert max(lats) - min(lats) < 0.03
    assert area["volume"]["altitude_upper"]["value"] <= 1100.0


def test_stranger_learns_nothing(scene: dict[str, Any]) -> None:
    seen = _everything(scene["apis"]["stranger"], scene["secret_id"], scene["declare"]["stranger"])
    text = _text(seen)
    assert scene["secret_id"] not in text
    assert SECRET_TITLE not in text and "owner-9f3" not in text
    assert seen["declare"]["conflicts"] == []
    assert seen["get"]["error"]["code"] == "not_found"
    assert seen["agreements"]["agreements"] == []
    assert [p["name"] for p in seen["parties"]["parties"]] == ["stranger"]


def test_partners_see_only_their_own_agreements(scene: dict[str, Any]) -> None:
    coarse = scene["apis"]["coarse"].get("/v1/agreements").json()["agreements"]
    assert [g["parties"] for g in coarse] == [["coarse", "owner-9f3"]]
    others = scene["apis"]["owner-9f3"].get("/v1/agreements").json()["agreements"]
    assert len(others) == 3
    hidden = next(g for g in others if "full" in g["parties"])["id"]
    assert scene["apis"]["coarse"].get(f"/v1/agreements/{hidden}").status_code == 404


def test_nobody_changes_another_partys_declaration(scene: dict[str, Any]) -> None:
    body = {"kind": "activity", "volumes": [_secret_volume()]}
    full = scene["apis"]["full"]
    assert full.put(f"/v1/declarations/{scene['secret_id']}", json=body, headers={"If-Match": '"1"'}).status_code == 403
    assert full.post(f"/v1/declarations/{scene['secret_id']}/cancel", json={}).status_code == 403
    stranger = scene["apis"]["stranger"]  # cannot even learn that it exists
    assert stranger.post(f"/v1/declarations/{scene['secret_id']}/cancel", json={}).status_code == 404


def test_the_ledger_picture_and_export_disclose_no_more_than_the_agreements(
        scene: dict[str, Any], service: RunningService) -> None:
    """GET /v1/ledger/picture and /v1/ledger/export, with the bundle's entries decoded: the same rules."""
    import base64
    from datetime import UTC, datetime, timedelta

    from deconflict.core.ledger import decode_entry
    from deconflict.service.ledger import sequence

    for name in ("full", "coarse", "area", "stranger"):
        assert scene["apis"][name].get("/v1/notifications").status_code == 200  # delivered
    sequence(service.state)
    at = (datetime.now(UTC) + timedelta(hours=1, minutes=45)).isoformat()
    seen: dict[str, str] = {}
    for name in ("full", "coarse", "area", "stranger"):
        api = scene["apis"][name]
        picture = api.get("/v1/ledger/picture", params={"at": at})
        bundle = api.get("/v1/ledger/export", params={"to": "2100-01-01T00:00:00Z"})
        assert picture.status_code == 200 and bundle.status_code == 200, (picture.text, bundle.text)
        bodies = [decode_entry(base64.b64decode(e["entry"])).body for e in bundle.json()["entries"]]
        seen[name] = picture.text + json.dumps(bodies, default=str) + bundle.text
    assert SECRET_TITLE in seen["full"] and all(d in seen["full"] for d in SECRET_DIGITS)  # the control
    for name in ("coarse", "area", "stranger"):
        assert SECRET_TITLE not in seen[name] and SECRET_EXTRA not in seen[name], name
        assert not any(d in seen[name] for d in SECRET_DIGITS), name
    assert scene["secret_id"] not in seen["stranger"] and "owner-9f3" not in seen["stranger"]
    coarse = json.loads(scene["apis"]["coarse"].get("/v1/ledger/picture", params={"at": at}).text)
    (secret,) = [d for d in coarse["declarations"] if d["id"] == scene["secret_id"]]
    assert secret["precision"] == "coarse" and "title" not in secret


# -- live tracks: hazard-entry alerts between a hazard's owner and its partners' aircraft ------------------------
HAZARD_VERTICES = [(49.9876543, 8.0876543), (49.9876543, 8.1123457), (50.0123457, 8.1123457), (50.0123457, 8.0876543)]
HAZARD_DIGITS = ["49.9876543", "8.0876543", "8.1123457", "50.0123457"]
#: each partner's aircraft: what identifies it, which the hazard's owner must not learn below full disclosure
AIRCRAFT = {"coarse": {"icao24": "c0a75e", "callsign": "CRSJET9", "asset_id": "coarse-airframe-551"},
            "area": {"icao24": "a4ea07", "callsign": "AREAJET7", "asset_id": "area-airframe-773"},
            "stranger": {"icao24": "5e0001", "callsign": "STRJET5", "asset_id": "stranger-airframe-335"}}


def test_live_tracks_alerts_and_their_record_disclose_no_more_than_the_agreements(
        timed: RunningService) -> None:
    """Partners' aircraft heading into the owner's hazard (coarse, conflict_area) and a stranger's: each side's
    alerts, tracks, notifications, picture and ledger bundle carry neither the hazard's title or vertices nor,
    to the hazard's owner, the aircraft's identity."""
    import base64
    from datetime import timedelta

    from deconflict.core.ledger import decode_entry
    from deconflict.service.ledger import sequence
    from deconflict.service.scheduler import tick

    from .service_helpers import T0

    assert timed.admin_token is not None
    _, apis = world(timed.url, timed.admin_token, ["owner-9f3", "coarse", "area", "stranger"], [
        {"parties": ["owner-9f3", "coarse"], "disclosure": "coarse", "policy": "inform"},
        {"parties": ["owner-9f3", "area"], "disclosure": "conflict_area", "policy": "inform"}])
    hazard = vol(0, 0, 1.0, alt=(0.0, 5000.0))
    del hazard["volume"]["outline_circle"]
    hazard["volume"]["outline_polygon"] = {"vertices": [{"lat": a, "lng": b} for a, b in HAZARD_VERTICES]}
    hazard["time_start"]["value"] = (T0 - timedelta(minutes=10)).isoformat()
    hazard["time_end"]["value"] = (T0 + timedelta(hours=1)).isoformat()
    r = apis["owner-9f3"].declare("hazard", hazard, title=SECRET_TITLE, extra={"unit": SECRET_EXTRA})
    assert r.status_code == 201, r.text
    reports = []
    for n, (name, ident) in enumerate(AIRCRAFT.items()):
        assert apis[name].put("/v1/parties/me/assets", json={
            "icao24": [ident["icao24"]], "asset_ids": [ident["asset_id"]]}).status_code == 200
        # eastbound at 100 m/s towards the hazard, about a minute away; 1,500 m apart in altitude
        reports.append({"time": T0.isoformat(), "lat": 50.0, "lng": 8.0, "altitude_m": 1000.0 + 1500.0 * n,
                        "ground_speed_mps": 100.0, "track_deg": 90.0, "vertical_rate_mps": 0.0, **ident})
    assert apis["stranger"].post("/v1/tracks", json={"source": "feed", "reports": reports}).status_code == 200
    tick(timed.state)
    seen: dict[str, str] = {}
    for name, api in apis.items():
        alerts = api.get("/v1/alerts", params={"state": "all"})
        tracks = api.get("/v1/tracks")
        notes = api.get("/v1/notifications", params={"pending": "false"})
        assert alerts.status_code == tracks.status_code == notes.status_code == 200
        seen[name] = alerts.text + tracks.text + notes.text
    sequence(timed.state)
    for name, api in apis.items():
        picture = api.get("/v1/ledger/picture", params={"at": (T0 + timedelta(minutes=1)).isoformat()})
        bundle = api.get("/v1/ledger/export", params={"to": "2100-01-01T00:00:00Z"})
        assert picture.status_code == bundle.status_code == 200, (picture.text, bundle.text)
        bodies = [decode_entry(base64.b64decode(e["entry"])).body for e in bundle.json()["entries"]]
        seen[name] += picture.text + json.dumps(bodies, default=str)
    owner_alerts = apis["owner-9f3"].get("/v1/alerts").json()["alerts"]
    assert sorted(a["kind"] for a in owner_alerts) == ["hazard_entry"] * 2  # the control: both partners' aircraft
    for name in ("coarse", "area"):
        assert [a["kind"] for a in apis[name].get("/v1/alerts").json()["alerts"]] == ["hazard_entry"], name
        assert SECRET_TITLE not in seen[name] and SECRET_EXTRA not in seen[name], name
        assert not any(d in seen[name] for d in HAZARD_DIGITS), name
        assert not any(v in seen["owner-9f3"] for v in (*AIRCRAFT[name].values(), name)), name
    assert apis["stranger"].get("/v1/alerts").json()["alerts"] == []
    assert SECRET_TITLE not in seen["stranger"] and "owner-9f3" not in seen["stranger"]
    assert not any(v in seen["owner-9f3"] for v in (*AIRCRAFT["stranger"].values(), "stranger"))
