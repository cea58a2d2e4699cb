"""POST /v1/declarations/preview: the conflicts a declaration would have, before it is filed (issue 7's drawing
form shows them). The same validation and check as the write, each conflict shown exactly as the write's own
response would show it to the caller, and nothing written: no declaration, conflict, notification, change or
ledger entry."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from deconflict.service.server import RunningService
from deconflict.store import schema as t

from .service_helpers import NOW, Api, ManualClock, vol, world

SECRET_TITLE = "OPERATION-KESTREL"
# distinctive vertex digits: a coarse or conflict-area partner must never see them, in a preview or anywhere
VERTICES = [(35.1234567, 36.1111117), (35.1234567, 36.3333337), (35.3456787, 36.3333337), (35.3456787, 36.1111117)]
WRITTEN = (t.declarations, t.declaration_versions, t.conflicts, t.notifications, t.changes, t.ledger_outbox,
           t.ledger_entries, t.idempotency_keys)


@pytest.fixture
def clock() -> ManualClock:
    """Still time at the helpers' NOW, and no scheduler (`timed`): only the requests write."""
    return ManualClock(NOW)


def _secret() -> dict[str, Any]:
    v = vol(0, 0, 1.0, hours=(1.0, 3.0), alt=(0.0, 5000.0))
    del v["volume"]["outline_circle"]
    v["volume"]["outline_polygon"] = {"vertices": [{"lat": a, "lng": b} for a, b in VERTICES]}
    return v


def _rows(service: RunningService) -> dict[str, int]:
    with service.state.db.connect() as conn:
        return {table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in WRITTEN}


def _comparable(conflicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Conflicts without what only a write assigns (ids, the detection time)."""
    out = []
    for c in conflicts:
        c = json.loads(json.dumps(c))
        for key in ("id", "detected_at"):
            c.pop(key)
        c["declaration"].pop("id")
        out.append(c)
    return sorted(out, key=lambda c: c["other"]["declaration_id"])


def _scene(service: RunningService) -> tuple[dict[str, Api], str]:
    assert service.admin_token is not None
    minima = {"lateral_m": 500, "vertical_m": 100, "time_s": 60}
    _, apis = world(service.url, service.admin_token, ["owner", "full", "coarse", "area", "blocker", "stranger"], [
        {"parties": ["owner", "full"], "disclosure": "full", "policy": "require_ack", "minima": minima},
        {"parties": ["owner", "coarse"], "disclosure": "coarse", "policy": "inform", "minima": minima},
        {"parties": ["owner", "area"], "disclosure": "conflict_area", "policy": "inform", "minima": minima},
        {"parties": ["owner", "blocker"], "disclosure": "full", "policy": "block", "minima": minima},
    ])
    r = apis["owner"].declare("activity", _secret(), title=SECRET_TITLE)
    assert r.status_code == 201, r.text
    return apis, r.json()["declaration"]["id"]


FLIGHT = {"kind": "flight", "title": "Medevac", "volumes": [vol(35.2, 36.2, 800.0, hours=(1.5, 2.0),
                                                                   alt=(0.0, 1000.0))]}


def test_a_preview_shows_what_the_write_would_and_writes_nothing(timed: RunningService) -> None:
    service = timed
    apis, secret = _scene(service)
    for name in ("full", "coarse", "area", "stranger"):
        inbox = apis["owner"].get("/v1/notifications", params={"pending": "false"}).json()["notifications"]
        before = _rows(service)  # (after the read above: a delivery is recorded)
        r = apis[name].post("/v1/declarations/preview", json=FLIGHT)
        assert r.status_code == 200, r.text
        preview = r.json()
        assert _rows(service) == before, name  # nothing stored, nothing staged for the ledger, no change logged
        again = apis["owner"].get("/v1/notifications", params={"pending": "false"}).json()["notifications"]
        assert again == inbox, name  # the owner was told nothing
        assert apis[name].get("/v1/declarations", params={"scope": "own"}).json()["declarations"] == []
        assert preview["blocked"] is False
        assert all(c["id"] is None and c["declaration"]["id"] is None for c in preview["conflicts"])

        written = apis[name].post("/v1/declarations", json=FLIGHT)
        assert written.status_code == 201, written.text
        # exactly what the real response shows this party, no more and no less
        assert _comparable(preview["conflicts"]) == _comparable(written.json()["conflicts"]), name
        if name != "full":
            text = r.text
            assert SECRET_TITLE not in text
            assert not any(str(x) in text for vertex in VERTICES for x in vertex), name
    full = apis["full"].post("/v1/declarations/preview", json=FLIGHT).json()["conflicts"]
    assert [c["other"]["declaration_id"] for c in full] == [secret]
    assert full[0]["other"]["disclosure"] == "full" and "volumes" in full[0]["other"]
    coarse = apis["coarse"].post("/v1/declarations/preview", json=FLIGHT).json()["conflicts"]
    assert coarse[0]["other"]["disclosure"] == "coarse" and "volumes" not in coarse[0]["other"]
    area = apis["area"].post("/v1/declarations/preview", json=FLIGHT).json()["conflicts"]
    assert area[0]["other"]["disclosure"] == "conflict_area" and "area" in area[0]["other"]
    # a stranger's flight conflicts too, but nothing of the owner's side is disclosed to it
    assert apis["stranger"].post("/v1/declarations/preview", json=FLIGHT).json()["conflicts"] == []


def test_a_preview_says_a_block_agreement_would_refuse(timed: RunningService) -> None:
    service = timed
    apis, secret = _scene(service)
    before = _rows(service)
    r = apis["blocker"].post("/v1/declarations/preview", json=FLIGHT)
    assert r.status_code == 200, r.text
    assert r.json()["blocked"] is True
    assert [c["other"]["declaration_id"] for c in r.json()["conflicts"]] == [secret]
    assert r.json()["conflicts"][0]["policy"] == "block"
    assert _rows(service) == before
    assert apis["blocker"].post("/v1/declarations", json=FLIGHT).status_code == 409
    clear = {**FLIGHT, "volumes": [vol(10.0, 10.0, 800.0, hours=(1.5, 2.0))]}
    r = apis["blocker"].post("/v1/declarations/preview", json=clear)
    assert r.json() == {"conflicts": [], "late_notice": [], "blocked": False}


@pytest.mark.parametrize("policy", ["inform", "block"])
def test_a_preview_says_which_notices_would_be_late_and_whether_that_refuses(timed: RunningService,
                                                                             policy: str) -> None:
    """An activity owes its partners notice; filed with less than the agreed minimum the notice is late, and under
    `block` the write is refused for it, with no conflict at all: the preview says so, as the write would."""
    assert timed.admin_token is not None
    _, apis = world(timed.url, timed.admin_token, ["air", "ngo"], [
        {"parties": ["air", "ngo"], "disclosure": "full", "policy": policy, "min_notice_s": {"activity": 7200}}])
    soon = {"kind": "activity", "volumes": [vol(10.0, 10.0, 800.0, hours=(1.0, 2.0))]}  # 1 h notice, 2 h agreed
    later = {"kind": "activity", "volumes": [vol(10.0, 10.0, 800.0, hours=(3.0, 4.0))]}
    r = apis["air"].post("/v1/declarations/preview", json=soon)
    assert r.status_code == 200, r.text
    assert r.json() == {"conflicts": [], "late_notice": ["ngo"], "blocked": policy == "block"}
    assert apis["air"].post("/v1/declarations/preview", json=later).json()["late_notice"] == []
    filed = apis["air"].post("/v1/declarations", json=soon)
    if policy == "block":
        assert filed.status_code == 409 and "shorter than the agreed minimum" in filed.text
    else:
        assert filed.status_code == 201 and filed.json()["late_notice"] == ["ngo"]


def test_a_preview_refuses_what_the_write_refuses_naming_the_field(timed: RunningService) -> None:
    service = timed
    apis, _ = _scene(service)
    before = _rows(service)
    upside_down = vol(35.2, 36.2, 800.0, hours=(1.5, 2.0), alt=(1000.0, 0.0))
    backwards = vol(35.2, 36.2, 800.0, hours=(2.0, 1.5))
    for body in ({"kind": "flight", "volumes": [upside_down]},
                 {"kind": "flight", "volumes": [vol(35.2, 36.2), backwards]},
                 {"kind": "flight", "volumes": []},
                 {"kind": "party", "volumes": [vol(35.2, 36.2)]},
                 {"kind": "flight", "volumes": [vol(35.2, 36.2)], "colour": "red"},
                 {"kind": "flight", "volumes": [vol(35.2, 36.2)], "activation": "induced"}):
        preview = apis["full"].post("/v1/declarations/preview", json=body)
        write = apis["full"].post("/v1/declarations", json=body)
        assert 400 <= preview.status_code < 500, preview.text
        assert (preview.status_code, preview.json()["error"]["field"]) == \
            (write.status_code, write.json()["error"]["field"]), body
    assert apis["full"].post("/v1/declarations/preview", json={"kind": "flight", "volumes": [upside_down]}
                             ).json()["error"]["field"].startswith("volumes[0]")
    assert _rows(service) == before
    assert Api(service.url, "dcf_nobody").post("/v1/declarations/preview", json=FLIGHT).status_code == 401
