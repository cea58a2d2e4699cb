"""Declarations become active at their start and end at their end, on the scheduler's clock, as new versions."""

from __future__ import annotations

from deconflict.service.scheduler import tick
from deconflict.service.server import RunningService

from .service_helpers import ManualClock, world
from .test_notifications import circle


def test_declared_active_ended(timed: RunningService, clock: ManualClock) -> None:
    assert timed.admin_token is not None
    _, apis = world(timed.url, timed.admin_token, ["air", "ngo"], [
        {"parties": ["air", "ngo"], "disclosure": "full", "policy": "inform"}])
    flight = apis["air"].declare("flight", circle(35.0, 36.0, 2000, 10, 20)).json()["declaration"]["id"]
    apis["ngo"].declare("flight", circle(35.0, 36.0, 2000, 10, 20))
    assert len(apis["ngo"].get("/v1/conflicts").json()["conflicts"]) == 1

    clock.advance(9 * 60)
    tick(timed.state)
    assert apis["air"].get(f"/v1/declarations/{flight}").json()["declaration"]["state"] == "declared"
    clock.advance(60)
    tick(timed.state)
    now = apis["air"].get(f"/v1/declarations/{flight}")
    assert now.json()["declaration"]["state"] == "active" and now.headers["etag"] == '"2"'
    clock.advance(10 * 60)
    tick(timed.state)
    ended = apis["air"].get(f"/v1/declarations/{flight}").json()["declaration"]
    assert (ended["state"], ended["version"]) == ("ended", 3)
    assert apis["ngo"].get("/v1/conflicts").json()["conflicts"] == []  # closed with it
    assert apis["air"].get("/v1/declarations", params={"scope": "own"}).json()["declarations"] == []
    assert apis["air"].post(f"/v1/declarations/{flight}/cancel", json={}).status_code == 409
    # gone from the index: a new flight in the same place and window conflicts with nothing
    assert flight not in timed.state.cache.engine
