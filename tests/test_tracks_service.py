"""Live tracks in the service (issue 6): the asset registry, ingest with counted rejections, screening on the
scheduler's tick with hysteresis, alert notifications to the owners only, need-to-know on alerts."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from deconflict.core.ledger import EntryType, decode_entry
from deconflict.service.scheduler import tick
from deconflict.service.server import RunningService, start_in_thread

from .service_helpers import T0, Api, ManualClock, world
from .test_ledger_service import _entries, _key, _verified_entry

FT = 0.3048
AGREEMENT = {"parties": ["air", "ngo"], "disclosure": "full", "policy": "require_ack"}


def _world(service: RunningService) -> tuple[Api, dict[str, Api]]:
    assert service.admin_token is not None
    return world(service.url, service.admin_token, ["air", "ngo", "stranger"], [AGREEMENT])


def report(at: datetime, lng: float, track: float, **ident: Any) -> dict[str, Any]:
    """Level at 3,000 m, 100 m/s along latitude 50 N (90: eastbound, 270: westbound)."""
    return {"time": at.isoformat(), "lat": 50.0, "lng": lng, "altitude_m": 3000.0, "ground_speed_mps": 100.0,
            "track_deg": track, "vertical_rate_mps": 0.0, **ident}


def _post(api: Api, *reports: dict[str, Any], source: str = "feed-1") -> dict[str, Any]:
    r = api.post("/v1/tracks", json={"source": source, "reports": list(reports)})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _alerts_inbox(api: Api) -> list[dict[str, Any]]:
    r = api.get("/v1/notifications", params={"pending": "false"})
    assert r.status_code == 200, r.text
    return [n for n in r.json()["notifications"] if n["reason"] == "alert"]


def _alerts(api: Api, state: str = "active") -> list[dict[str, Any]]:
    r = api.get("/v1/alerts", params={"state": state})
    assert r.status_code == 200, r.text
    return list(r.json()["alerts"])


def test_assets_are_registered_strictly_and_belong_to_one_party(timed: RunningService) -> None:
    _, apis = _world(timed)
    put = apis["air"].put("/v1/parties/me/assets", json={"icao24": ["ABC123"], "callsigns": ["afr12"],
                                                          "asset_ids": ["tail-1"]})
    assert put.status_code == 200, put.text
    assert put.json()["assets"] == {"icao24": ["abc123"], "callsigns": ["AFR12"], "asset_ids": ["tail-1"]}
    assert apis["air"].get("/v1/parties/me/assets").json()["assets"]["icao24"] == ["abc123"]
    taken = apis["ngo"].put("/v1/parties/me/assets", json={"icao24": ["def456", "abc123"]})
    assert taken.status_code == 409 and taken.json()["error"]["field"] == "icao24[1]"
    bad = apis["ngo"].put("/v1/parties/me/assets", json={"icao24": ["xyz"]})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "icao24[0]"
    unknown = apis["ngo"].put("/v1/parties/me/assets", json={"tails": []})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "tails"
    # replacing the set frees what was left out
    assert apis["air"].put("/v1/parties/me/assets", json={"asset_ids": ["tail-1"]}).status_code == 200
    assert apis["ngo"].put("/v1/parties/me/assets", json={"icao24": ["abc123"]}).status_code == 200


def test_ingest_counts_rejections_per_source_and_reason(timed: RunningService) -> None:
    _, apis = _world(timed)
    air = apis["air"]
    good = report(T0, 8.0, 90.0, icao24="abc123")
    paris = {**report(T0, 2.3, 90.0, icao24="39c4a1"), "altitude_m": 123_100 * FT}  # the recording's 123,100 ft
    nowhere = {k: v for k, v in report(T0, 8.0, 90.0, icao24="aaaaaa").items() if k != "lat"}
    again = report(T0, 8.0, 90.0, icao24="abc123")
    before = report(T0 - timedelta(seconds=5), 8.0, 90.0, icao24="abc123")
    jump = report(T0 + timedelta(seconds=1), 9.0, 90.0, icao24="abc123")  # 71 km in a second
    keyless = report(T0, 8.0, 90.0)
    out = _post(air, good, paris, nowhere, again, before, jump, keyless)
    assert out["received"] == 7 and out["accepted"] == 1 and out["rejected"] == 6
    assert out["rejected_by_reason"] == {"altitude": 1, "position": 1, "duplicate": 1, "time_backwards": 1,
                                         "teleport": 1, "identity": 1}
    assert out["rejections"][0] == {"index": 1, "reason": "altitude"}
    _post(air, report(T0 + timedelta(seconds=1), 8.0014, 90.0, icao24="abc123"), source="feed-2")
    stats = air.get("/v1/tracks/stats").json()["sources"]
    assert [(s["source"], s["accepted"], s["rejected"]) for s in stats] == [("feed-1", 1, 6), ("feed-2", 1, 0)]
    assert stats[0]["rejected_by_reason"]["altitude"] == 1
    assert apis["ngo"].get("/v1/tracks/stats").json()["sources"] == []  # another party's sources are not shown
    # shape errors are 4xx naming the field; the batch is refused whole
    for body, field in (({"reports": [{"time": "yesterday"}]}, "reports[0].time"),
                        ({"reports": [{**good, "lat": "50"}]}, "reports[0].lat"),
                        ({"reports": [{**good, "speed": 3}]}, "reports[0].speed"),
                        ({"reports": []}, "reports"),
                        ({"reports": [good] * 5001}, "reports")):
        r = air.post("/v1/tracks", json=body)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text
    assert air.get("/v1/tracks/stats").json()["sources"][0]["batches"] == 1


def _head_on(apis: dict[str, Api], at: datetime, west: dict[str, str], east: dict[str, str]) -> None:
    # 0.2 deg of longitude at 50 N is about 14.3 km; closing at 200 m/s
    _post(apis["stranger"], report(at, 8.0, 90.0, **west), report(at, 8.2, 270.0, **east))


def test_head_on_alerts_both_owners_once_and_clears_after_the_quiet_period(timed: RunningService,
                                                                            clock: ManualClock) -> None:
    admin, apis = _world(timed)
    apis["air"].put("/v1/parties/me/assets", json={"icao24": ["abc123"], "callsigns": ["AFR12"]})
    apis["ngo"].put("/v1/parties/me/assets", json={"asset_ids": ["drone-7"]})
    _head_on(apis, T0, {"icao24": "abc123", "callsign": "AFR12"}, {"asset_id": "drone-7"})
    for _ in range(5):  # several ticks: one alert, no flapping
        tick(timed.state)
        clock.advance(1)
    (air_note,) = _alerts_inbox(apis["air"])
    (ngo_note,) = _alerts_inbox(apis["ngo"])
    assert _alerts_inbox(apis["stranger"]) == [] and _alerts(apis["stranger"]) == []
    assert air_note["payload"]["event"] == "raised" and air_note["declaration_id"] is None
    alert = air_note["payload"]["alert"]
    assert alert["own"]["icao24"] == "abc123" and alert["other"]["party"] == "ngo"
    assert alert["other"]["asset_id"] == "drone-7"
    assert alert["minima"]["lateral_m"] == 1000 and 0 < alert["prediction"]["t_in_s"] < 300
    assert ngo_note["payload"]["alert"]["other"]["callsign"] == "AFR12"
    assert ngo_note["payload"]["alert"]["id"] == alert["id"]
    (listed,) = _alerts(apis["ngo"])
    assert listed["id"] == alert["id"] and listed["own"]["asset_id"] == "drone-7"
    # the tracks go quiet: no longer screened after 10 s, cleared 30 s after the last finding
    clock.advance(20)
    tick(timed.state)
    assert len(_alerts(apis["air"])) == 1
    clock.advance(20)
    tick(timed.state)
    assert _alerts(apis["air"]) == []
    (cleared,) = _alerts(apis["air"], "cleared")
    assert cleared["id"] == alert["id"] and cleared["cleared_at"] is not None
    assert len(_alerts_inbox(apis["air"])) == 1  # clearing notifies nobody
    assert [a["id"] for a in _alerts(admin, "all")] == [alert["id"]]


def test_without_full_disclosure_the_other_aircraft_is_shown_but_not_named(db_url: str, clock: ManualClock
                                                                            ) -> None:
    running = start_in_thread(db_url, clock=clock, scheduler=False)
    try:
        assert running.admin_token is not None
        _, apis = world(running.url, running.admin_token, ["air", "ngo", "stranger"],
                        [{**AGREEMENT, "disclosure": "coarse"}])
        apis["air"].put("/v1/parties/me/assets", json={"icao24": ["abc123"]})
        apis["ngo"].put("/v1/parties/me/assets", json={"asset_ids": ["drone-7"]})
        _head_on(apis, T0, {"icao24": "abc123"}, {"asset_id": "drone-7"})
        tick(running.state)
        (note,) = _alerts_inbox(apis["air"])
        other = note["payload"]["alert"]["other"]
        assert other["disclosure"] == "none" and "party" not in other and "asset_id" not in other
        assert other["lng"] == 8.2 and other["altitude_m"] == 3000.0
        # the record's alert entry names both owners: neither may fetch it (each has its notification's entry)
        (idx,) = [int(r.idx) for r in _entries(running) if decode_entry(bytes(r.entry)).type is EntryType.ALERT]
        for name in ("air", "ngo"):
            assert apis[name].get(f"/v1/ledger/entries/{idx}").status_code == 404
    finally:
        running.stop()


def test_unidentified_traffic_is_screened_but_its_side_is_told_nothing(timed: RunningService,
                                                                        clock: ManualClock) -> None:
    admin, apis = _world(timed)
    apis["air"].put("/v1/parties/me/assets", json={"icao24": ["abc123"]})
    # two unidentified aircraft head-on, and air's aircraft head-on with an unidentified one elsewhere
    _post(apis["stranger"], report(T0, 8.0, 90.0, icao24="def456"), report(T0, 8.2, 270.0, icao24="fff001"))
    _post(apis["stranger"], {**report(T0, 12.0, 90.0, icao24="abc123"), "lat": 45.0},
          {**report(T0, 12.2, 270.0, icao24="fff002", callsign="GHOST1"), "lat": 45.0})
    tick(timed.state)
    clock.advance(1)
    tick(timed.state)
    assert len(_alerts(admin)) == 2
    (mine,) = _alerts(apis["air"])
    assert mine["other"] == {**mine["other"], "identified": False, "icao24": "fff002", "callsign": "GHOST1"}
    assert len(_alerts_inbox(apis["air"])) == 1
    for name in ("ngo", "stranger"):
        assert _alerts_inbox(apis[name]) == [] and _alerts(apis[name]) == []


def test_a_report_far_ahead_of_the_clock_cannot_hide_an_aircraft(timed: RunningService) -> None:
    """Any party may report any aircraft (feeds see everyone's); one report dated a year ahead, once accepted, made
    every real report of that aircraft 'time_backwards' and kept it out of screening, across restarts too. It is
    refused as `future`; a few seconds of clock skew are not."""
    _, apis = _world(timed)
    apis["air"].put("/v1/parties/me/assets", json={"icao24": ["abc123"]})
    apis["ngo"].put("/v1/parties/me/assets", json={"asset_ids": ["drone-7"]})
    ahead = _post(apis["stranger"], report(T0 + timedelta(days=365), 8.0, 90.0, icao24="abc123"),
                  report(T0 + timedelta(seconds=3), 8.0042, 90.0, icao24="fff009"))
    assert ahead["rejected_by_reason"] == {"future": 1} and ahead["rejections"] == [{"index": 0, "reason": "future"}]
    _head_on(apis, T0, {"icao24": "abc123"}, {"asset_id": "drone-7"})
    tick(timed.state)
    (alert,) = _alerts(apis["air"])
    assert alert["own"]["icao24"] == "abc123" and alert["other"]["asset_id"] == "drone-7"


def test_an_alerts_record_names_no_owner_the_alert_does_not(timed: RunningService, clock: ManualClock) -> None:
    """An aircraft unidentified when its alert was raised, registered by a stranger meanwhile: the entries the
    other owner may fetch (it is the alert's only party) keep it unidentified, not naming the stranger."""
    from deconflict.service.ledger import sequence

    _, apis = _world(timed)
    apis["air"].put("/v1/parties/me/assets", json={"icao24": ["abc123"]})
    _head_on(apis, T0, {"icao24": "abc123"}, {"icao24": "fff002"})
    tick(timed.state)  # raised: air's aircraft and an unidentified one
    assert apis["stranger"].put("/v1/parties/me/assets", json={"icao24": ["fff002"]}).status_code == 200
    clock.advance(6)  # the other aircraft, now the stranger's, turns 5 degrees left: an update
    _post(apis["stranger"], report(T0 + timedelta(seconds=6), 8.1916, 265.0, icao24="fff002"))
    tick(timed.state)
    sequence(timed.state)
    stranger_id = next(p for p, i in timed.state.cache.parties.items() if i.name == "stranger")
    mine = [int(r.idx) for r in _entries(timed) if decode_entry(bytes(r.entry)).type is EntryType.ALERT]
    assert len(mine) == 2  # raised, updated
    for idx in mine:
        r = apis["air"].get(f"/v1/ledger/entries/{idx}")
        assert r.status_code == 200, r.text
        body = decode_entry(base64.b64decode(r.json()["entry"])).body
        assert body["event"] in ("raised", "updated") and body["tracks"]["icao:fff002"]["owner_id"] is None
        assert stranger_id not in json.dumps(body)


def test_a_restart_reads_the_last_positions_back(db_url: str, clock: ManualClock) -> None:
    running = start_in_thread(db_url, clock=clock, scheduler=False)
    try:
        assert running.admin_token is not None
        _, apis = world(running.url, running.admin_token, ["air", "ngo"], [AGREEMENT])
        apis["air"].put("/v1/parties/me/assets", json={"icao24": ["abc123"]})
        apis["ngo"].put("/v1/parties/me/assets", json={"asset_ids": ["drone-7"]})
        _post(apis["air"], report(T0, 8.0, 90.0, icao24="abc123"), report(T0, 8.2, 270.0, asset_id="drone-7"))
        token = apis["air"].token
    finally:
        running.stop()
    Api.close_all()
    again = start_in_thread(db_url, clock=clock, scheduler=False)
    try:
        clock.advance(2)
        tick(again.state)
        (alert,) = _alerts(Api(again.url, token))
        assert alert["other"]["party"] == "ngo"
    finally:
        again.stop()


def _tracks(api: Api) -> dict[str, dict[str, Any]]:
    r = api.get("/v1/tracks")
    assert r.status_code == 200, r.text
    return {t["id"]: t for t in r.json()["tracks"]}


def test_live_tracks_show_own_aircraft_and_others_only_as_their_alerts_do(db_url: str, clock: ManualClock) -> None:
    running = start_in_thread(db_url, clock=clock, scheduler=False)
    try:
        assert running.admin_token is not None
        admin, apis = world(running.url, running.admin_token, ["air", "ngo", "stranger"],
                            [{**AGREEMENT, "disclosure": "coarse"}])
        apis["air"].put("/v1/parties/me/assets", json={"icao24": ["abc123"]})
        apis["ngo"].put("/v1/parties/me/assets", json={"asset_ids": ["drone-7"]})
        far = {**report(T0, 20.0, 90.0, icao24="fff003", callsign="FAR1"), "lat": 40.0}
        _post(apis["stranger"], far)
        _post(apis["stranger"], report(T0, 8.0, 90.0, icao24="abc123"))
        # before any alert: each party sees its own aircraft only; nobody sees unidentified traffic far away
        assert list(_tracks(apis["air"])) == ["icao:abc123"]
        own = _tracks(apis["air"])["icao:abc123"]
        assert own["own"] is True and own["lng"] == 8.0 and own["altitude_m"] == 3000.0 and own["alerts"] == []
        assert _tracks(apis["ngo"]) == {} and _tracks(apis["stranger"]) == {}
        _post(apis["stranger"], report(T0, 8.2, 270.0, asset_id="drone-7"))
        tick(running.state)
        (alert,) = _alerts(apis["air"])
        mine = _tracks(apis["air"])
        assert set(mine) == {"icao:abc123", f"{alert['id']}:other"}
        other = mine[f"{alert['id']}:other"]
        # the coarse agreement does not disclose who it is: where it is and how it moves only
        assert other["disclosure"] == "none" and other["lng"] == 8.2 and other["alerts"] == [alert["id"]]
        assert "drone-7" not in str(mine) and "ngo" not in str(mine)
        assert mine["icao:abc123"]["alerts"] == [alert["id"]]
        theirs = _tracks(apis["ngo"])
        assert set(theirs) == {"asset:drone-7", f"{alert['id']}:other"}
        assert "abc123" not in str(theirs[f"{alert['id']}:other"])
        assert _tracks(apis["stranger"]) == {}  # it posted the reports, but they are not its aircraft
        assert len(_tracks(admin)) == 3
        # the tracks go quiet: gone from the live picture
        clock.advance(20)
        assert _tracks(apis["air"]) == {}
    finally:
        running.stop()


def test_alert_events_go_into_the_record_with_positions_prediction_and_minima(timed: RunningService,
                                                                                clock: ManualClock) -> None:
    _, apis = _world(timed)
    apis["air"].put("/v1/parties/me/assets", json={"icao24": ["abc123"]})
    apis["ngo"].put("/v1/parties/me/assets", json={"asset_ids": ["drone-7"]})
    _head_on(apis, T0, {"icao24": "abc123"}, {"asset_id": "drone-7"})
    tick(timed.state)  # raised
    clock.advance(6)
    # the drone turns 5 degrees left: the predicted miss distance grows by some 570 m (an update), then both go quiet
    _post(apis["stranger"], report(T0 + timedelta(seconds=6), 8.1916, 265.0, asset_id="drone-7"))
    tick(timed.state)
    clock.advance(40)
    tick(timed.state)  # cleared
    (alert,) = _alerts(apis["air"], "cleared")
    found = [(int(r.idx), decode_entry(bytes(r.entry))) for r in _entries(timed)]
    mine = [(idx, e.body) for idx, e in found if e.type is EntryType.ALERT]
    assert [b["event"] for _, b in mine] == ["raised", "updated", "cleared"]
    assert [b["version"] for _, b in mine] == [1, 2, 3]
    air_id, ngo_id = (next(p for p, i in timed.state.cache.parties.items() if i.name == n) for n in ("air", "ngo"))
    for _, body in mine:
        assert body["alert_id"] == alert["id"]
        assert sorted(body["parties"]) == sorted([air_id, ngo_id])
        assert body["minima"] == {"lateral_m": 1000.0, "vertical_m": 150.0, "lookahead_s": 300.0}
        assert set(body["tracks"]) == {"icao:abc123", "asset:drone-7"}
    raised, updated, cleared = (b for _, b in mine)
    assert raised["tracks"]["icao:abc123"] == {"lat": 50.0, "lng": 8.0, "alt_m": 3000.0, "t_s": T0.timestamp(),
                                               "owner_id": air_id}
    assert raised["finding"]["horizontal_m"] < 1000.0 and raised["finding"]["t_in_s"] > 0
    assert updated["tracks"]["asset:drone-7"]["lng"] == 8.1916 and updated["tracks"]["asset:drone-7"]["owner_id"] \
        == ngo_id
    assert cleared["finding"] == updated["finding"]  # the last prediction seen
    # each owner can fetch and verify the entries; a third party cannot
    key = _key(apis["air"])
    for idx, _ in mine:
        assert _verified_entry(apis["air"], idx, key) is None
        assert _verified_entry(apis["ngo"], idx, key) is None
        assert apis["stranger"].get(f"/v1/ledger/entries/{idx}").status_code == 404


def test_websocket_ingest_answers_each_batch_and_survives_bad_ones(timed: RunningService) -> None:
    _, apis = _world(timed)
    apis["air"].put("/v1/parties/me/assets", json={"icao24": ["abc123"]})
    url = timed.url.replace("http://", "ws://") + "/v1/tracks/stream"
    good = report(T0, 8.0, 90.0, icao24="abc123")
    with connect(url) as ws:
        ws.send(json.dumps({"token": apis["air"].token}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "hello", "party": "air"}
        ws.send(json.dumps({"source": "ws-1", "reports": [good, {**good, "altitude_m": 123_100 * FT}]}))
        first = json.loads(ws.recv(timeout=10))
        assert first["type"] == "ingested" and first["n"] == 1
        assert (first["accepted"], first["rejected"], first["rejected_by_reason"]) == (1, 1, {"altitude": 1})
        ws.send("{not json")
        bad = json.loads(ws.recv(timeout=10))
        assert bad["type"] == "error" and bad["n"] == 2 and bad["error"]["code"] == "malformed_request"
        ws.send(json.dumps({"source": "ws-1", "reports": [{**good, "lat": "50"}]}))
        field = json.loads(ws.recv(timeout=10))
        assert field["error"]["field"] == "reports[0].lat" and field["n"] == 3
        ws.send(json.dumps({"source": "ws-1", "reports": [good] * 5001}))
        assert json.loads(ws.recv(timeout=10))["error"]["field"] == "reports"
        ws.send(b"x" * (2 * 1024 * 1024 + 1))
        assert json.loads(ws.recv(timeout=10))["error"]["code"] == "too_large"
        ws.send("\u00e9" * (1024 * 1024 + 1))  # fewer characters than the bound, more bytes
        assert json.loads(ws.recv(timeout=10))["error"]["code"] == "too_large"
        # still open: the next good batch is taken, in the same source's totals
        ws.send(json.dumps({"source": "ws-1", "reports": [report(T0 + timedelta(seconds=1), 8.0014, 90.0,
                                                                  icao24="abc123")]}))
        last = json.loads(ws.recv(timeout=10))
        assert last["n"] == 7 and last["accepted"] == 1 and last["totals"]["accepted"] == 2
    (stats,) = apis["air"].get("/v1/tracks/stats").json()["sources"]
    assert (stats["source"], stats["batches"], stats["accepted"], stats["rejected"]) == ("ws-1", 2, 2, 1)
    with connect(url) as ws:  # beyond what the server reads at all: closed as too big, not read into memory
        ws.send(json.dumps({"token": apis["air"].token}))
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        from deconflict.service.server import WS_MAX_MESSAGE_BYTES

        ws.send(b"x" * (WS_MAX_MESSAGE_BYTES + 1))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    with connect(url) as ws:
        ws.send(json.dumps({"token": "dcf_forged"}))
        refused = json.loads(ws.recv(timeout=10))
        assert refused["type"] == "error" and refused["error"]["code"] == "not_authenticated"
