"""Notice duty, lead time and lateness, acknowledgement, escalation on a fake clock, and restart without loss."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from deconflict.service.scheduler import tick
from deconflict.service.server import RunningService

from .service_helpers import T0, Api, ManualClock, world
from .test_concurrency import _start


def circle(lat: float, lng: float, r: float, start_min: float, end_min: float) -> dict[str, Any]:
    """A circle volume `start_min`..`end_min` minutes after T0."""
    return {
        "volume": {"altitude_lower": {"value": 0.0}, "altitude_upper": {"value": 3000.0},
                   "outline_circle": {"center": {"lat": lat, "lng": lng}, "radius": {"value": r}}},
        "time_start": {"value": (T0 + timedelta(minutes=start_min)).isoformat()},
        "time_end": {"value": (T0 + timedelta(minutes=end_min)).isoformat()},
    }


AGREEMENT = {"parties": ["air", "ngo"], "disclosure": "full", "policy": "require_ack", "ack_deadline_s": 300,
             "min_notice_s": {"activity": 1800}, "escalation_contacts": ["ngo duty officer", "ngo director"]}


def _setup(service: RunningService, *agreements: dict[str, Any]) -> dict[str, Api]:
    assert service.admin_token is not None
    _, apis = world(service.url, service.admin_token, ["air", "ngo", "stranger"], list(agreements or [AGREEMENT]))
    return apis


def _inbox(api: Api, **params: Any) -> list[dict[str, Any]]:
    r = api.get("/v1/notifications", params=params)
    assert r.status_code == 200, r.text
    return list(r.json()["notifications"])


def test_an_activity_is_announced_to_partners_only(timed: RunningService) -> None:
    apis = _setup(timed)
    made = apis["air"].declare("activity", circle(35.0, 36.0, 5000, 120, 180), title="live firing")
    assert made.status_code == 201, made.text
    assert [(n["recipient"], n["reason"], n["late"]) for n in made.json()["notifications"]] == [
        ("ngo", "notice", False)]
    (notice,) = _inbox(apis["ngo"])
    assert notice["reason"] == "notice" and notice["sender"] == "air"
    assert notice["payload"]["declaration"]["title"] == "live firing"
    assert _inbox(apis["stranger"]) == []
    # a flight is not announced (the agreement names only activities)
    quiet = apis["air"].declare("flight", circle(40.0, 30.0, 1000, 120, 180))
    assert quiet.json()["notifications"] == []


def test_lead_time_is_measured_at_delivery_and_late_notice_is_marked(timed: RunningService, clock: ManualClock
                                                                     ) -> None:
    apis = _setup(timed)
    short = apis["air"].declare("activity", circle(35.0, 36.0, 5000, 10, 60))
    body = short.json()
    assert body["late_notice"] == ["ngo"]  # the declaring party is told at once
    assert body["notifications"][0]["lead_time_s"] == 600.0
    clock.advance(60)
    (late,) = _inbox(apis["ngo"])
    assert late["lead_time_s"] == 540.0 and late["late"] is True and late["delivered_via"] == "poll"

    # in time when declared, but read only 1 h 55 min later: 5 minutes of notice, late
    timely = apis["air"].declare("activity", circle(36.0, 36.0, 5000, 121, 180)).json()
    assert timely["late_notice"] == []
    clock.advance(116 * 60)
    delivered = {n["declaration_id"]: n for n in _inbox(apis["ngo"])}
    slow = delivered[timely["declaration"]["id"]]
    assert slow["lead_time_s"] == 240.0 and slow["late"] is True
    # the first delivery is what counts: reading again changes nothing
    clock.advance(30)
    again = {n["declaration_id"]: n for n in _inbox(apis["ngo"])}[timely["declaration"]["id"]]
    assert again["delivered_at"] == slow["delivered_at"] and again["lead_time_s"] == 240.0
    sent = _inbox(apis["air"], box="sent", pending="false")
    assert {n["declaration_id"]: n["late"] for n in sent}[timely["declaration"]["id"]] is True


def test_block_refuses_a_late_declaration(timed: RunningService) -> None:
    apis = _setup(timed, {**AGREEMENT, "policy": "block"})
    refused = apis["air"].declare("activity", circle(35.0, 36.0, 5000, 10, 60))
    assert refused.status_code == 409 and "notice" in refused.json()["error"]["message"]
    assert _inbox(apis["ngo"]) == []
    assert apis["air"].declare("activity", circle(35.0, 36.0, 5000, 45, 60)).status_code == 201


def test_a_conflict_notifies_the_other_side(timed: RunningService) -> None:
    apis = _setup(timed)
    hospital = apis["ngo"].declare("protected", circle(35.0, 36.0, 1000, 0, 600))
    assert hospital.status_code == 201
    apis["air"].declare("activity", circle(35.01, 36.0, 3000, 120, 180))
    (told,) = _inbox(apis["ngo"])
    assert told["reason"] == "conflict"
    assert told["payload"]["conflicts"][0]["declaration"]["id"] == hospital.json()["declaration"]["id"]


def test_acknowledgement_with_reply_is_idempotent_and_private(timed: RunningService) -> None:
    apis = _setup(timed)
    apis["air"].declare("activity", circle(35.0, 36.0, 5000, 120, 180))
    (notice,) = _inbox(apis["ngo"])
    url = f"/v1/notifications/{notice['id']}/ack"
    assert apis["air"].post(url, json={}).status_code == 403  # the sender cannot ack for the recipient
    assert apis["stranger"].get(f"/v1/notifications/{notice['id']}").status_code == 404
    assert apis["ngo"].post("/v1/notifications/no-such-id/ack", json={}).status_code == 404
    first = apis["ngo"].post(url, json={"reply": "request_hold", "text": "medevac airborne until 10:30"})
    assert first.status_code == 200
    again = apis["ngo"].post(url, json={"reply": "object", "text": "changed my mind"})
    assert again.json() == first.json()  # the first acknowledgement stands
    assert first.json()["notification"]["ack_reply"] == "request_hold"
    assert _inbox(apis["ngo"]) == []  # nothing pending
    (sent,) = _inbox(apis["air"], box="sent", pending="false")
    assert sent["ack_text"] == "medevac airborne until 10:30"
    assert apis["ngo"].post(url, json={"reply": "maybe"}).status_code == 422


def test_unacknowledged_notice_escalates_through_two_levels(timed: RunningService, clock: ManualClock) -> None:
    apis = _setup(timed)
    apis["air"].declare("activity", circle(35.0, 36.0, 5000, 120, 180))
    (notice,) = _inbox(apis["ngo"])
    clock.advance(299)
    assert tick(timed.state) == 0  # not yet due
    clock.advance(2)
    assert tick(timed.state) == 1
    (level1,) = _inbox(apis["ngo"])
    assert level1["escalation_level"] == 1 and level1["escalated"] is True
    (alarm1,) = _inbox(apis["air"])  # the sender is told its notice went unanswered
    assert alarm1["reason"] == "escalation" and alarm1["payload"]["recipient"] == "ngo"
    assert alarm1["payload"]["contacts_reached"] == []
    clock.advance(300)
    assert tick(timed.state) == 1
    alarms = {n["payload"]["level"]: n for n in _inbox(apis["air"])}
    assert alarms[2]["payload"]["contacts_reached"] == ["ngo duty officer"]
    apis["ngo"].post(f"/v1/notifications/{notice['id']}/ack", json={})
    clock.advance(3600)
    assert tick(timed.state) == 0  # acknowledged: the chain stops
    assert _inbox(apis["stranger"]) == []


def test_pending_notifications_survive_kill_9(db_url: str, tmp_path: Path) -> None:
    token_file = tmp_path / "admin"
    proc, url = _start(db_url, token_file)
    try:
        admin_token = token_file.read_text().strip()
        _, apis = world(url, admin_token, ["air", "ngo"], [{**AGREEMENT, "min_notice_s": {}}])
        start = datetime.now(UTC) + timedelta(hours=2)
        ids = []
        for k in range(5):
            v = circle(35.0 + k, 36.0, 2000, 0, 60)
            v["time_start"]["value"] = start.isoformat()
            v["time_end"]["value"] = (start + timedelta(hours=1)).isoformat()
            ids.append(apis["air"].declare("activity", v).json()["declaration"]["id"])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()
    proc, url = _start(db_url, tmp_path / "unused")
    try:
        ngo = httpx.get(url + "/v1/notifications", headers={"Authorization": f"Bearer {apis['ngo'].token}"})
        assert sorted(n["declaration_id"] for n in ngo.json()["notifications"]) == sorted(ids)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()


def test_notifications_are_pushed_over_the_stream_and_delivery_recorded(timed: RunningService,
                                                                        clock: ManualClock) -> None:
    import json

    from websockets.sync.client import connect

    apis = _setup(timed)
    with connect(timed.url.replace("http://", "ws://") + "/v1/stream") as ws:
        ws.send(json.dumps({"token": apis["ngo"].token}))
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        made = apis["air"].declare("activity", circle(35.0, 36.0, 5000, 120, 180)).json()
        events = [json.loads(ws.recv(timeout=10)) for _ in range(2)]
        pushed = next(e for e in events if e["type"] == "notification")["notification"]
        assert pushed["id"] == made["notifications"][0]["id"] and pushed["reason"] == "notice"
        clock.advance(301)
        tick(timed.state)
        again = json.loads(ws.recv(timeout=10))  # the escalation re-sends it
        assert again["type"] == "notification" and again["notification"]["id"] == pushed["id"]
        assert again["notification"]["escalation_level"] == 1
        assert pushed["delivered_via"] == "ws" and pushed["lead_time_s"] == 7200.0  # as the push delivered it
    (sent,) = _inbox(apis["air"], box="sent", pending="false")
    assert sent["delivered_via"] == "ws" and sent["lead_time_s"] == 7200.0 and sent["late"] is False
    # the sender hears of the acknowledgement on its own stream
    with connect(timed.url.replace("http://", "ws://") + "/v1/stream") as ws:
        ws.send(json.dumps({"token": apis["air"].token}))
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        apis["ngo"].post(f"/v1/notifications/{pushed['id']}/ack", json={"reply": "request_hold", "text": "wait"})
        heard = json.loads(ws.recv(timeout=10))
        assert heard["type"] == "acknowledged" and heard["notification"]["ack_reply"] == "request_hold"
