"""Bad input gets a 4xx naming the field, never a 5xx, and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from deconflict.service.server import RunningService

from .service_helpers import NOW, vol, world


@pytest.fixture
def air(service: RunningService) -> httpx.Client:
    assert service.admin_token is not None
    _, apis = world(service.url, service.admin_token, ["air"], [])
    return apis["air"].http


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "flight", "volumes": [vol(35.0, 36.0)]}
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


_DELETE = object()
CASES = [
    ("string for a number", ["volumes", 0, "volume", "altitude_lower", "value"], "12", 422,
     "volumes[0].volume.altitude_lower.value"),
    ("boolean for a number", ["volumes", 0, "volume", "outline_circle", "radius", "value"], True, 422,
     "volumes[0].volume.outline_circle.radius.value"),
    ("unknown field", ["colour"], "red", 422, "colour"),
    ("unknown kind", ["kind"], "balloon", 422, "kind"),
    ("missing volumes", ["volumes"], _DELETE, 422, "volumes"),
    ("no volumes", ["volumes"], [], 422, "volumes"),
    ("negative radius", ["volumes", 0, "volume", "outline_circle", "radius", "value"], -5.0, 422,
     "volumes[0].volume.outline_circle.radius"),
    ("latitude out of range", ["volumes", 0, "volume", "outline_circle", "center", "lat"], 95.0, 422,
     "volumes[0].volume.outline_circle.center.lat"),
    ("lower above upper", ["volumes", 0, "volume", "altitude_lower", "value"], 5000.0, 422,
     "volumes[0].volume.altitude_lower"),
    ("time without zone", ["volumes", 0, "time_start", "value"], NOW.replace(tzinfo=None).isoformat(), 422,
     "volumes[0].time_start.value"),
    ("window in the past", ["volumes", 0, "time_end", "value"], "2001-01-01T00:00:00Z", 422,
     "volumes[0].time_end"),
    ("induced flight", ["activation"], "induced", 422, "activation"),
    ("title too long", ["title"], "x" * 1000, 422, "title"),
]


@pytest.mark.parametrize(("why", "path", "value", "status", "field"), CASES, ids=[c[0] for c in CASES])
def test_bad_declaration_is_refused_naming_the_field(
    air: httpx.Client, why: str, path: list[Any], value: Any, status: int, field: str,
) -> None:
    r = air.post("/v1/declarations", json=_with(path, value))
    assert r.status_code == status, (why, r.text)
    assert r.json()["error"]["field"].startswith(field), (why, r.json())
    assert air.get("/v1/declarations", params={"scope": "own"}).json()["declarations"] == []


def test_self_intersecting_polygon_names_the_polygon(air: httpx.Client) -> None:
    bow_tie = vol(35.0, 36.0)
    del bow_tie["volume"]["outline_circle"]
    bow_tie["volume"]["outline_polygon"] = {"vertices": [
        {"lat": 35.0, "lng": 36.0}, {"lat": 35.1, "lng": 36.1}, {"lat": 35.0, "lng": 36.1}, {"lat": 35.1, "lng": 36.0}]}
    r = air.post("/v1/declarations", json={"kind": "flight", "volumes": [bow_tie]})
    assert r.status_code == 422
    assert r.json()["error"]["field"].startswith("volumes[0].volume.outline_polygon")


@pytest.mark.parametrize(("content", "ctype"), [
    (b'{"kind": "flight", "volumes": [', "application/json"),
    (b"kind=flight", "application/x-www-form-urlencoded"),
    (b"", "application/json"),
    (b"\xff\xfe\x00garbage", "application/json"),
])
def test_unreadable_bodies_are_400(air: httpx.Client, content: bytes, ctype: str) -> None:
    r = air.post("/v1/declarations", content=content, headers={"content-type": ctype})
    assert r.status_code in (400, 422), r.text
    assert r.json()["error"]["field"] in ("body", "content-type")


def test_oversized_body_is_413_before_it_is_parsed(air: httpx.Client) -> None:
    huge = json.dumps({"kind": "flight", "volumes": [vol(35.0, 36.0)], "title": "x" * (3 * 1024 * 1024)})
    r = air.post("/v1/declarations", content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"

    def chunks() -> Any:  # streamed without a Content-Length
        for _ in range(40):
            yield b" " * 100_000

    streamed = air.post("/v1/declarations", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_too_many_vertices_is_refused(air: httpx.Client) -> None:
    import math

    n = 10_001
    ring = [{"lat": 35.0 + 0.1 * math.sin(2 * math.pi * k / n), "lng": 36.0 + 0.1 * math.cos(2 * math.pi * k / n)}
            for k in range(n)]
    v = vol(35.0, 36.0)
    del v["volume"]["outline_circle"]
    v["volume"]["outline_polygon"] = {"vertices": ring}
    r = air.post("/v1/declarations", json={"kind": "flight", "volumes": [v]})
    assert r.status_code == 422 and "vertices" in r.json()["error"]["field"]


def test_bad_headers_and_parameters(air: httpx.Client) -> None:
    created = air.post("/v1/declarations", json={"kind": "flight", "volumes": [vol(35.0, 36.0)]}).json()
    decl_id = created["declaration"]["id"]
    body = {"kind": "flight", "volumes": [vol(35.0, 36.0)]}
    assert air.put(f"/v1/declarations/{decl_id}", json=body, headers={"If-Match": "yesterday"}).status_code == 400
    assert air.get("/v1/declarations", params={"limit": "many"}).status_code == 422
    assert air.get("/v1/declarations", params={"colour": "red"}).json()["error"]["field"] == "colour"
    assert air.get("/v1/conflicts", params={"state": "sideways"}).status_code == 422
    assert air.post("/v1/declarations", json=body, headers={"Idempotency-Key": "k" * 300}).status_code == 422
