"""Replacing a token: the old one stops working (at once where it was replaced, within TOKEN_RECHECK_S in every
other process sharing the store), held streams are closed, and only the party itself or the administrator may."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from deconflict.errors import NotAuthenticated
from deconflict.service import auth
from deconflict.service.server import RunningService
from deconflict.service.state import ServiceState
from deconflict.store.database import open_database

from .service_helpers import Api, world


def test_a_party_replaces_its_own_token(service: RunningService) -> None:
    assert service.admin_token is not None
    _, apis = world(service.url, service.admin_token, ["air", "ngo"], [])
    me = apis["air"].get("/v1/parties/me").json()["party"]
    r = apis["air"].post("/v1/parties/me/token")
    assert r.status_code == 200, r.text
    fresh = r.json()["token"]
    assert r.json()["party_id"] == me["id"] and fresh != apis["air"].token and fresh.startswith("dcf_")
    refused = apis["air"].get("/v1/parties/me")
    assert refused.status_code == 401 and "revoked" in refused.text
    assert Api(service.url, fresh).get("/v1/parties/me").json()["party"]["id"] == me["id"]
    assert apis["ngo"].get("/v1/parties/me").status_code == 200  # nobody else's token changed


def test_the_administrator_replaces_a_compromised_token_and_only_it_may(service: RunningService) -> None:
    assert service.admin_token is not None
    admin, apis = world(service.url, service.admin_token, ["air", "ngo"], [])
    air_id = apis["air"].get("/v1/parties/me").json()["party"]["id"]
    forbidden = apis["ngo"].post(f"/v1/parties/{air_id}/token")
    assert forbidden.status_code == 403
    assert apis["air"].get("/v1/parties/me").status_code == 200  # the refused attempt changed nothing
    unknown = admin.post("/v1/parties/no-such-party/token")
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "party_id"
    r = admin.post(f"/v1/parties/{air_id}/token")
    assert r.status_code == 200, r.text
    assert apis["air"].get("/v1/parties/me").status_code == 401
    assert Api(service.url, r.json()["token"]).get("/v1/parties/me").json()["party"]["id"] == air_id


def test_the_typed_client_replaces_its_token(service: RunningService) -> None:
    from deconflict.client import Client

    assert service.admin_token is not None
    _, apis = world(service.url, service.admin_token, ["air"], [])
    with Client(service.url, token=apis["air"].token) as old:
        fresh = old.replace_token()
        with pytest.raises(NotAuthenticated):
            old.me()
    with Client(service.url, token=fresh) as new:
        assert new.me()["name"] == "air"


def test_another_process_stops_trusting_a_replaced_token_within_the_recheck_time(
        service: RunningService, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert service.admin_token is not None
    _, apis = world(service.url, service.admin_token, ["air"], [])
    other = ServiceState(db=open_database(db_url))  # a second process's view of the same store
    try:
        now = [1000.0]
        monkeypatch.setattr(auth.time, "monotonic", lambda: now[0])
        party = auth.party_of_token(other, apis["air"].token, "authorization")
        assert apis["air"].post("/v1/parties/me/token").status_code == 200  # replaced in the service's process
        now[0] += auth.TOKEN_RECHECK_S - 1  # still trusted here, as documented: the bound of its afterlife
        assert auth.party_of_token(other, apis["air"].token, "authorization") == party
        now[0] += 1.5
        with pytest.raises(NotAuthenticated):
            auth.party_of_token(other, apis["air"].token, "authorization")
    finally:
        other.db.dispose()


@pytest.mark.parametrize("path", ["/v1/stream", "/v1/tracks/stream"])
def test_held_streams_are_closed_when_their_token_is_replaced(service: RunningService, path: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert service.admin_token is not None
    _, apis = world(service.url, service.admin_token, ["air"], [])
    from deconflict.service import stream

    monkeypatch.setattr(stream, "TOKEN_RECHECK_S", 0.2)  # the service runs in this process (a thread)
    with connect(service.url.replace("http://", "ws://") + path) as ws:
        ws.send(json.dumps({"token": apis["air"].token}))
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        assert apis["air"].post("/v1/parties/me/token").status_code == 200
        if path == "/v1/tracks/stream":  # ingest re-checks when a batch arrives
            import time

            time.sleep(0.3)
            ws.send(json.dumps({"source": "radar", "reports": []}))
        told = json.loads(ws.recv(timeout=10))
        assert told["type"] == "error" and told["error"]["code"] == "not_authenticated"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
