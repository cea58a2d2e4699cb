"""The hotline: threads between parties of an agreement, messages, receipts, paging, the stream, need-to-know.

One world: `air`, `ngo` and `third` share agreement A (a thread between air and ngo leaves `third` out); `other`
shares agreement B with air only; `stranger` has none. Only a thread's participants learn anything of it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.sync.client import connect

from deconflict.client import Client
from deconflict.errors import Conflict, InvalidInput, NotFound
from deconflict.service.server import RunningService

from .service_helpers import Api, vol, world

SUBJECT = "CORRIDOR-KESTREL-SUBJECT"
SECRET_TEXT = "hold at waypoint WHISKEY-93"


@pytest.fixture
def scene(service: RunningService) -> dict[str, Any]:
    assert service.admin_token is not None
    _, apis = world(service.url, service.admin_token, ["air", "ngo", "third", "other", "stranger"], [
        {"parties": ["air", "ngo", "third"], "disclosure": "full", "policy": "inform"},
        {"parties": ["air", "other"], "disclosure": "full", "policy": "inform"},
    ])
    agreements = {tuple(g["parties"]): g["id"] for g in apis["air"].get("/v1/agreements").json()["agreements"]}
    return {"url": service.url, "apis": apis, "a": agreements[("air", "ngo", "third")],
            "b": agreements[("air", "other")]}


def _thread(api: Api, agreement: str, **extra: Any) -> dict[str, Any]:
    r = api.post("/v1/threads", json={"agreement_id": agreement, "subject": SUBJECT, **extra})
    assert r.status_code == 201, r.text
    return r.json()["thread"]


def _send(api: Api, thread_id: str, **body: Any) -> dict[str, Any]:
    r = api.post(f"/v1/threads/{thread_id}/messages", json=body)
    assert r.status_code == 201, r.text
    return r.json()["message"]


def test_messages_receipts_and_paged_history(scene: dict[str, Any]) -> None:
    air, ngo = scene["apis"]["air"], scene["apis"]["ngo"]
    thread = _thread(air, scene["a"], participants=["ngo"])
    assert thread["participants"] == ["air", "ngo"] and thread["created_by"] == "air"
    sent = [_send(air, thread["id"], text=f"message {i}") for i in range(5)]
    hold = _send(air, thread["id"], text="please hold",
                 structured={"type": "request_hold", "until": "2030-01-01T10:00:00Z", "reason": "strike"})
    assert hold["structured"] == {"type": "request_hold", "until": "2030-01-01T10:00:00Z", "reason": "strike"}
    assert [m["n"] for m in sent] == [1, 2, 3, 4, 5]
    assert sent[0]["receipts"] == [{"party": "ngo", "delivered_at": None, "read_at": None}]

    (listed,) = ngo.get("/v1/threads").json()["threads"]
    assert listed["id"] == thread["id"] and listed["unread"] == 6 and listed["message_count"] == 6

    # paged, oldest first; each page is delivered to its reader as it is fetched
    first = ngo.get(f"/v1/threads/{thread['id']}/messages", params={"limit": 4}).json()
    assert [m["text"] for m in first["messages"]] == [f"message {i}" for i in range(4)]
    assert first["next"] == sent[3]["id"]
    assert all(m["delivered_at"] is not None and m["read_at"] is None for m in first["messages"])
    assert all("receipts" not in m for m in first["messages"])
    rest = ngo.get(f"/v1/threads/{thread['id']}/messages", params={"limit": 4, "after": first["next"]}).json()
    assert [m["id"] for m in rest["messages"]] == [sent[4]["id"], hold["id"]] and rest["next"] is None

    seen = air.get(f"/v1/threads/{thread['id']}/messages").json()["messages"]
    assert all(m["receipts"][0]["delivered_at"] is not None for m in seen)

    read = ngo.post(f"/v1/threads/{thread['id']}/read", json={"up_to": sent[2]["id"]})
    assert read.status_code == 200, read.text
    assert read.json()["read"] == 3 and read.json()["thread"]["unread"] == 3
    again = ngo.post(f"/v1/threads/{thread['id']}/read", json={"up_to": sent[1]["id"]}).json()
    assert again["read"] == 0  # marking read twice changes nothing
    receipts = [m["receipts"][0] for m in air.get(f"/v1/threads/{thread['id']}/messages").json()["messages"]]
    assert [r["read_at"] is not None for r in receipts] == [True, True, True, False, False, False]
    assert air.get(f"/v1/threads/{thread['id']}").json()["thread"]["unread"] == 0  # nothing was sent to air

    # a reply goes the other way
    reply = _send(ngo, thread["id"], structured={"type": "hold_until", "until": "2030-01-01T11:00:00+00:00"})
    assert reply["sender"] == "ngo" and reply["text"] == "" and reply["n"] == 7
    assert air.get(f"/v1/threads/{thread['id']}").json()["thread"]["unread"] == 1


def test_a_thread_about_a_conflict_and_by_default_with_the_whole_agreement(scene: dict[str, Any]) -> None:
    air, ngo, third = (scene["apis"][n] for n in ("air", "ngo", "third"))
    strike = air.declare("activity", vol(35.0, 36.0, 5000)).json()["declaration"]
    (conflict,) = ngo.declare("flight", vol(35.0, 36.0, 1000)).json()["conflicts"]
    about = _thread(ngo, scene["a"], participants=["air"], about={"kind": "conflict", "id": conflict["id"]})
    assert about["about"] == {"kind": "conflict", "id": conflict["id"]}
    assert air.get(f"/v1/threads/{about['id']}").json()["thread"]["about"] == about["about"]
    # third cannot see that conflict: it may not open a thread about it
    refused = third.post("/v1/threads", json={"agreement_id": scene["a"],
                                              "about": {"kind": "conflict", "id": conflict["id"]}})
    assert refused.status_code == 404 and refused.json()["error"]["field"] == "about.id"
    everyone = _thread(third, scene["a"], about={"kind": "declaration", "id": strike["id"]})
    assert everyone["participants"] == ["air", "ngo", "third"]
    assert everyone["about"] == {"kind": "declaration", "id": strike["id"]}
    message = _send(third, everyone["id"], text="copy")
    assert [r["party"] for r in message["receipts"]] == ["air", "ngo"]


def test_need_to_know_nobody_else_sees_a_thread(scene: dict[str, Any]) -> None:
    air, ngo = scene["apis"]["air"], scene["apis"]["ngo"]
    thread = _thread(air, scene["a"], participants=["ngo"])
    message = _send(air, thread["id"], text=SECRET_TEXT)
    _send(ngo, thread["id"], text="wilco")
    other_pair = _thread(air, scene["b"], subject="pair-b")  # air and other, in another agreement
    assert ngo.get(f"/v1/threads/{other_pair['id']}").status_code == 404
    for name in ("third", "other", "stranger"):
        api = scene["apis"][name]
        path = f"/v1/threads/{thread['id']}"
        answers = [
            api.get(path), api.get(f"{path}/messages"),
            api.post(f"{path}/messages", json={"text": "let me in"}),
            api.post(f"{path}/read", json={"up_to": message["id"]}),
        ]
        assert [a.status_code for a in answers] == [404, 404, 404, 404], name
        listed = api.get("/v1/threads").json()
        assert [t["id"] for t in listed["threads"]] == ([other_pair["id"]] if name == "other" else [])
        text = json.dumps([listed] + [a.json() for a in answers])
        assert SUBJECT not in text and SECRET_TEXT not in text and thread["id"] not in text.replace(path, "")
    # outside an agreement, no thread can be opened in it
    for name, agreement in (("other", scene["a"]), ("stranger", scene["a"]), ("ngo", scene["b"])):
        r = scene["apis"][name].post("/v1/threads", json={"agreement_id": agreement})
        assert r.status_code == 404 and r.json()["error"]["field"] == "agreement_id"
    # and a thread takes only parties of its agreement
    r = air.post("/v1/threads", json={"agreement_id": scene["a"], "participants": ["ngo", "other"]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "participants[1]"


def test_idempotent_send(scene: dict[str, Any]) -> None:
    air = scene["apis"]["air"]
    thread = _thread(air, scene["a"])
    path = f"/v1/threads/{thread['id']}/messages"
    first = air.post(path, json={"text": "once"}, headers={"Idempotency-Key": "k-1"})
    retry = air.post(path, json={"text": "once"}, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert air.get(f"/v1/threads/{thread['id']}").json()["thread"]["message_count"] == 1
    reused = air.post(path, json={"text": "twice"}, headers={"Idempotency-Key": "k-1"})
    assert reused.status_code == 409 and reused.json()["error"]["field"] == "idempotency-key"


@pytest.mark.parametrize(("body", "field"), [
    ({"text": "x" * 4001}, "text"),
    ({}, "text"),
    ({"text": "   "}, "text"),
    ({"text": 12}, "text"),
    ({"text": "hi", "urgent": True}, "urgent"),
    ({"structured": {"type": "launch_codes"}}, "structured"),
    ({"structured": {"type": "position_report", "lat": 91.0, "lng": 0.0}}, "structured.position_report.lat"),
    ({"structured": {"type": "hold_until"}}, "structured.hold_until.until"),
    ({"structured": {"type": "hold_until", "until": "2030-01-01T10:00:00"}}, "structured.hold_until.until"),
])
def test_bad_messages_are_refused_naming_the_field(scene: dict[str, Any], body: dict[str, Any], field: str) -> None:
    air = scene["apis"]["air"]
    thread = _thread(air, scene["a"])
    r = air.post(f"/v1/threads/{thread['id']}/messages", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


def test_bad_threads_and_reads_are_refused_naming_the_field(scene: dict[str, Any]) -> None:
    air = scene["apis"]["air"]
    for body, status, field in [
        ({"agreement_id": scene["a"], "subject": "s" * 201}, 422, "subject"),
        ({"agreement_id": scene["a"], "participants": ["air"]}, 422, "participants"),
        ({"agreement_id": scene["a"], "participants": ["air", "air"]}, 422, "participants"),
        ({"agreement_id": scene["a"], "about": {"kind": "track", "id": "x"}}, 422, "about.kind"),
        ({"agreement_id": scene["a"], "about": {"kind": "declaration", "id": "nope"}}, 404, "about.id"),
        ({}, 422, "agreement_id"),
    ]:
        r = air.post("/v1/threads", json=body)
        assert (r.status_code, r.json()["error"]["field"]) == (status, field), body
    thread = _thread(air, scene["a"])
    r = air.post(f"/v1/threads/{thread['id']}/read", json={"up_to": "no-such-message"})
    assert r.status_code == 404 and r.json()["error"]["field"] == "up_to"
    r = air.get(f"/v1/threads/{thread['id']}/messages", params={"after": "no-such-message"})
    assert r.status_code == 404 and r.json()["error"]["field"] == "after"
    r = air.get(f"/v1/threads/{thread['id']}/messages", params={"limit": 0})
    assert r.status_code == 422 and "limit" in r.json()["error"]["field"]


def _next(ws: Any) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=10))


def test_stream_pushes_threads_messages_and_receipts_to_participants_only(scene: dict[str, Any]) -> None:
    apis = scene["apis"]
    ws_url = scene["url"].replace("http://", "ws://") + "/v1/stream"
    with connect(ws_url) as air_ws, connect(ws_url) as ngo_ws, connect(ws_url) as third_ws:
        for name, ws in (("air", air_ws), ("ngo", ngo_ws), ("third", third_ws)):
            ws.send(json.dumps({"token": apis[name].token}))
            assert _next(ws)["type"] == "hello"
        thread = _thread(apis["air"], scene["a"], participants=["ngo"])
        opened = _next(ngo_ws)
        assert opened["type"] == "thread" and opened["thread"]["id"] == thread["id"]
        assert _next(air_ws)["type"] == "thread"
        sent = _send(apis["air"], thread["id"], text=SECRET_TEXT)
        pushed = _next(ngo_ws)
        assert pushed["type"] == "message" and pushed["message"]["id"] == sent["id"]
        assert pushed["message"]["text"] == SECRET_TEXT and pushed["message"]["sender"] == "air"
        echo = _next(air_ws)
        assert echo["type"] == "message" and echo["message"]["id"] == sent["id"]
        # the push was the delivery: the sender hears the receipt
        receipt = _next(air_ws)
        assert receipt["type"] == "receipt" and receipt["message"]["id"] == sent["id"]
        assert receipt["message"]["receipts"][0]["delivered_at"] is not None
        apis["ngo"].post(f"/v1/threads/{thread['id']}/read", json={"up_to": sent["id"]})
        read = _next(air_ws)
        assert read["type"] == "receipt" and read["message"]["receipts"][0]["read_at"] is not None

        # third heard none of it: the first thing it hears is a thread of its own
        own = _thread(apis["third"], scene["a"], participants=["air"])
        first = _next(third_ws)
        assert first["type"] == "thread" and first["thread"]["id"] == own["id"]


def test_client_methods(scene: dict[str, Any]) -> None:
    with Client(scene["url"], scene["apis"]["air"].token) as air:
        ngo = air.with_token(scene["apis"]["ngo"].token)
        thread = air.create_thread(scene["a"], participants=["ngo"], subject="coordination")
        assert air.thread(thread["id"])["subject"] == "coordination"
        assert [t["id"] for t in ngo.threads()] == [thread["id"]]
        report = {"type": "position_report", "lat": 35.1, "lng": 36.2, "altitude_m": 900.0}
        sent = air.send(thread["id"], "inbound", structured=report, idempotency_key="c-1")
        assert sent["structured"] == report
        assert air.send(thread["id"], "inbound", structured=report, idempotency_key="c-1") == sent
        page = ngo.messages(thread["id"])
        assert [m["id"] for m in page["messages"]] == [sent["id"]] and page["next"] is None
        assert ngo.mark_read(thread["id"], sent["id"]) == {"thread": ngo.thread(thread["id"]), "read": 1}
        third = air.with_token(scene["apis"]["third"].token)
        with pytest.raises(NotFound):
            third.thread(thread["id"])
        with pytest.raises(InvalidInput):
            air.send(thread["id"], "")
        with pytest.raises(Conflict):
            air.send(thread["id"], "different", idempotency_key="c-1")
