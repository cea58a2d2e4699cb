"""The WebSocket stream: a party is pushed what changes, as it may see it, and nothing else."""

from __future__ import annotations

import json
from typing import Any

from websockets.sync.client import connect

from deconflict.service.server import RunningService

from .service_helpers import vol, world


def _next(ws: Any) -> dict[str, Any]:
    """The next event other than a notification (notifications have their own tests)."""
    while True:
        event: dict[str, Any] = json.loads(ws.recv(timeout=10))
        if event["type"] != "notification":
            return event


def test_stream_pushes_visible_changes_and_conflicts_only(service: RunningService) -> None:
    assert service.admin_token is not None
    _, apis = world(service.url, service.admin_token, ["air", "ngo", "stranger"], [
        {"parties": ["air", "ngo"], "disclosure": "full", "policy": "inform"}])
    ws_url = service.url.replace("http://", "ws://") + "/v1/stream"
    with connect(ws_url) as ngo_ws, connect(ws_url) as stranger_ws:
        ngo_ws.send(json.dumps({"token": apis["ngo"].token}))
        stranger_ws.send(json.dumps({"token": apis["stranger"].token}))
        assert _next(ngo_ws)["type"] == "hello"
        assert _next(stranger_ws)["party"] == "stranger"

        strike = apis["air"].declare("activity", vol(35.0, 36.0, 5000), title="strike").json()["declaration"]
        seen = _next(ngo_ws)
        assert seen["type"] == "declaration" and seen["declaration"]["id"] == strike["id"]
        assert seen["declaration"]["title"] == "strike"

        flight = apis["ngo"].declare("flight", vol(35.0, 36.0, 1000)).json()
        own = _next(ngo_ws)
        assert own["declaration"]["id"] == flight["declaration"]["id"]
        conflict = _next(ngo_ws)
        assert conflict["type"] == "conflict" and conflict["conflict"]["other"]["declaration_id"] == strike["id"]

        # the stranger's own declaration is the first thing it hears: nothing of the others came before it
        mine = apis["stranger"].declare("flight", vol(40.0, 30.0, 1000)).json()["declaration"]["id"]
        first = _next(stranger_ws)
        assert first["type"] == "declaration" and first["declaration"]["id"] == mine

    # resuming from a cursor replays what came after it
    with connect(ws_url) as again:
        again.send(json.dumps({"token": apis["ngo"].token, "since": seen["cursor"]}))
        assert _next(again)["type"] == "hello"
        assert _next(again)["declaration"]["id"] == flight["declaration"]["id"]


def test_stream_refuses_a_bad_token(service: RunningService) -> None:
    with connect(service.url.replace("http://", "ws://") + "/v1/stream") as ws:
        ws.send(json.dumps({"token": "dcf_forged"}))
        refused = _next(ws)
        assert refused["type"] == "error" and refused["error"]["code"] == "not_authenticated"
