"""The service as parties use it: declare, read, update with If-Match, cancel, conflicts, idempotency, restart."""

from __future__ import annotations

import httpx

from deconflict.service.server import RunningService, start_in_thread

from .service_helpers import Api, square, vol, world

BLOCK = {"parties": ["air", "ngo"], "disclosure": "full", "policy": "block"}
INFORM = {"parties": ["air", "drone"], "disclosure": "full", "policy": "inform"}


def test_every_request_needs_a_valid_token(service: RunningService) -> None:
    anonymous = httpx.get(service.url + "/v1/declarations")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["field"] == "authorization"
    forged = httpx.get(service.url + "/v1/declarations", headers={"Authorization": "Bearer dcf_not-a-token"})
    assert forged.status_code == 401


def test_only_the_admin_creates_parties_and_agreements(service: RunningService) -> None:
    assert service.admin_token is not None
    _, apis = world(service.url, service.admin_token, ["air", "ngo"], [])
    assert apis["air"].post("/v1/parties", json={"name": "rogue"}).status_code == 403
    r = apis["air"].post("/v1/agreements", json={**BLOCK, "name": "x", "ack_deadline_s": 60,
                                                  "minima": {"lateral_m": 1, "vertical_m": 1, "time_s": 1}})
    assert r.status_code == 403


def test_declare_read_update_cancel_with_versions(service: RunningService) -> None:
    assert service.admin_token is not None
    _, apis = world(service.url, service.admin_token, ["air"], [])
    air = apis["air"]
    created = air.declare("flight", vol(35.0, 36.0), title="patrol")
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    decl = created.json()["declaration"]
    assert (decl["version"], decl["state"], decl["title"], decl["disclosure"]) == (1, "declared", "patrol", "own")

    got = air.get(f"/v1/declarations/{decl['id']}")
    assert got.status_code == 200 and got.headers["etag"] == '"1"'
    assert got.json()["declaration"]["volumes"] == decl["volumes"]

    body = {"kind": "flight", "volumes": [vol(35.1, 36.0)], "title": "patrol moved"}
    assert air.put(f"/v1/declarations/{decl['id']}", json=body).status_code == 428
    updated = air.put(f"/v1/declarations/{decl['id']}", json=body, headers={"If-Match": '"1"'})
    assert updated.status_code == 200, updated.text
    assert updated.headers["etag"] == '"2"'
    assert updated.json()["declaration"]["title"] == "patrol moved"

    stale = air.put(f"/v1/declarations/{decl['id']}", json=body, headers={"If-Match": '"1"'})
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "stale_version"

    kind_change = air.put(f"/v1/declarations/{decl['id']}", json={**body, "kind": "activity"},
                          headers={"If-Match": '"2"'})
    assert kind_change.status_code == 422 and kind_change.json()["error"]["field"] == "kind"

    cancelled = air.post(f"/v1/declarations/{decl['id']}/cancel", json={"reason": "weather"},
                         headers={"If-Match": '"2"'})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["declaration"]["state"] == "cancelled"
    assert air.post(f"/v1/declarations/{decl['id']}/cancel", json={}).status_code == 409
    live = air.get("/v1/declarations", params={"scope": "own"}).json()["declarations"]
    assert [d["id"] for d in live] == []
    everything = air.get("/v1/declarations", params={"scope": "own", "live": "false"}).json()["declarations"]
    assert [(d["id"], d["version"]) for d in everything] == [(decl["id"], 3)]


def test_conflicts_are_returned_stored_and_seen_by_both_sides(service: RunningService) -> None:
    assert service.admin_token is not None
    _, apis = world(service.url, service.admin_token, ["air", "drone"], [INFORM])
    first = apis["air"].declare("activity", vol(35.0, 36.0, 3000))
    assert first.status_code == 201 and first.json()["conflicts"] == []
    second = apis["drone"].declare("flight", vol(35.01, 36.01, 1000))
    assert second.status_code == 201, second.text
    (conflict,) = second.json()["conflicts"]
    assert conflict["severity"] == "overlap"
    assert conflict["other"]["declaration_id"] == first.json()["declaration"]["id"]
    assert conflict["other"]["party"] == "air"

    seen_by_air = apis["air"].get("/v1/conflicts").json()["conflicts"]
    assert [c["id"] for c in seen_by_air] == [conflict["id"]]
    assert seen_by_air[0]["declaration"]["id"] == first.json()["declaration"]["id"]
    assert seen_by_air[0]["other"]["party"] == "drone"
    one = apis["drone"].get(f"/v1/conflicts/{conflict['id']}")
    assert one.status_code == 200 and one.json()["conflict"]["severity"] == "overlap"

    # moving the flight away supersedes the conflict; the new version has none
    drone_id = second.json()["declaration"]["id"]
    moved = apis["drone"].put(f"/v1/declarations/{drone_id}", json={"kind": "flight", "volumes": [vol(36.0, 37.0)]},
                              headers={"If-Match": '"1"'})
    assert moved.status_code == 200 and moved.json()["conflicts"] == []
    assert apis["air"].get("/v1/conflicts").json()["conflicts"] == []
    history = apis["air"].get("/v1/conflicts", params={"state": "superseded"}).json()["conflicts"]
    assert [c["id"] for c in history] == [conflict["id"]]


def test_block_policy_refuses_with_the_reasons(service: RunningService) -> None:
    assert service.admin_token is not None
    _, apis = world(service.url, service.admin_token, ["air", "ngo"], [BLOCK])
    strike = apis["air"].declare("activity", square(35.0, 36.0))
    assert strike.status_code == 201
    refused = apis["ngo"].declare("flight", vol(35.0, 36.0, 500))
    assert refused.status_code == 409
    body = refused.json()
    assert body["error"]["code"] == "blocked"
    assert [c["other"]["declaration_id"] for c in body["conflicts"]] == [strike.json()["declaration"]["id"]]
    assert apis["ngo"].get("/v1/declarations", params={"scope": "own"}).json()["declarations"] == []
    elsewhere = apis["ngo"].declare("flight", vol(36.0, 37.0, 500))
    assert elsewhere.status_code == 201


def test_idempotency_key_never_makes_two_declarations(service: RunningService) -> None:
    assert service.admin_token is not None
    _, apis = world(service.url, service.admin_token, ["air"], [])
    air = apis["air"]
    body = {"kind": "flight", "volumes": [vol(35.0, 36.0)]}
    first = air.post("/v1/declarations", json=body, headers={"Idempotency-Key": "sortie-42"})
    again = air.post("/v1/declarations", json=body, headers={"Idempotency-Key": "sortie-42"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert len(air.get("/v1/declarations", params={"scope": "own"}).json()["declarations"]) == 1
    other = air.post("/v1/declarations", json={**body, "title": "different"}, headers={"Idempotency-Key": "sortie-42"})
    assert other.status_code == 409 and other.json()["error"]["field"] == "idempotency-key"


def test_area_query_returns_what_the_caller_may_see(service: RunningService) -> None:
    assert service.admin_token is not None
    _, apis = world(service.url, service.admin_token, ["air", "drone"], [INFORM])
    near = apis["drone"].declare("flight", vol(35.0, 36.0, 1000)).json()["declaration"]["id"]
    apis["drone"].declare("flight", vol(40.0, 30.0, 1000))
    found = apis["air"].post("/v1/declarations/query", json={"area": square(35.0, 36.0, 0.05)})
    assert found.status_code == 200, found.text
    assert [d["id"] for d in found.json()["declarations"]] == [near]


def test_a_restart_rebuilds_the_index_from_the_store(db_url: str) -> None:
    first = start_in_thread(db_url)
    try:
        assert first.admin_token is not None
        _, apis = world(first.url, first.admin_token, ["air", "drone"], [INFORM])
        apis["air"].declare("activity", vol(35.0, 36.0, 3000))
    finally:
        first.stop()
    second = start_in_thread(db_url)
    try:
        assert second.admin_token is None  # the admin exists; its token is not shown again
        drone = Api(second.url, apis["drone"].token)
        found = drone.declare("flight", vol(35.0, 36.0, 500))
        assert found.status_code == 201
        assert len(found.json()["conflicts"]) == 1
    finally:
        second.stop()
