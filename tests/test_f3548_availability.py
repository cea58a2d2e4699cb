"""F3548 USS availability (/dss/v1/uss_availability), DSS reports (/dss/v1/reports) and the health endpoint
(/healthy): scopes, strict bodies, versions, and the availability shown on the references the DSS returns."""

from __future__ import annotations

import base64
import logging
import uuid
from typing import Any

import httpx
import pytest

from deconflict.service.server import RunningService

from .service_helpers import vol
from .test_f3548 import OIR, SA, SC, area, create, dss, intent, token, uss

__all__ = ["dss"]  # the fixture, shared

AA = "utm.availability_arbitration"
CM = "utm.constraint_management"
CP = "utm.constraint_processing"
AV = "/dss/v1/uss_availability"


def report() -> dict[str, Any]:
    return {"exchange": {
        "url": "https://uss2.example/uss/v1/operational_intents/abc", "method": "GET",
        "headers": ["Authorization: Bearer x"], "recorder_role": "Client",
        "request_time": {"value": "2026-01-01T00:00:00Z", "format": "RFC3339"},
        "response_code": 500, "problem": "the peer answered 500",
        "request_body": base64.b64encode(b"{}").decode()}}


def test_scopes(dss: RunningService) -> None:
    def status(method: str, path: str, scopes: tuple[str, ...], body: Any = None) -> int:
        r = httpx.request(method, dss.url + path, json=body,
                          headers={"Authorization": f"Bearer {token('arbiter', scopes)}"})
        if r.status_code in (401, 403):
            assert set(r.json()) == {"message"}, r.text
        return r.status_code

    body = {"old_version": "", "availability": "Normal"}
    for scopes in ((SC,), (SA,), (CM,), (CP,)):
        assert status("PUT", f"{AV}/uss-x", scopes, body) == 403
    assert status("PUT", f"{AV}/uss-x", (AA,), body) == 200
    for scopes, expected in (((AA,), 200), ((SC,), 200), ((SA,), 200), ((CM,), 403), ((CP,), 403)):
        assert status("GET", f"{AV}/uss-x", scopes) == expected
    for scopes in ((AA,), (SC,), (SA,), (CM,), (CP,)):
        assert status("POST", "/dss/v1/reports", scopes, report()) == 201
    assert status("POST", "/dss/v1/reports", ("utm.other",), report()) == 403
    assert httpx.get(dss.url + f"{AV}/uss-x").status_code == 401
    assert httpx.post(dss.url + "/dss/v1/reports", json=report()).status_code == 401


def test_availability_versions(dss: RunningService) -> None:
    arbiter = uss(dss, "arbiter", (AA,))
    fresh = arbiter.get(f"{AV}/uss-x")
    assert fresh.status_code == 200, fresh.text
    assert fresh.json() == {"version": "", "status": {"uss": "uss-x", "availability": "Unknown"}}
    assert arbiter.put(f"{AV}/uss-x", json={"old_version": "7", "availability": "Down"}).status_code == 409
    first = arbiter.put(f"{AV}/uss-x", json={"availability": "Down"})  # old_version "" by default
    assert first.status_code == 200, first.text
    v1 = first.json()["version"]
    assert v1 != "" and first.json()["status"] == {"uss": "uss-x", "availability": "Down"}
    assert arbiter.get(f"{AV}/uss-x").json() == first.json()
    assert arbiter.put(f"{AV}/uss-x", json={"old_version": "", "availability": "Normal"}).status_code == 409
    second = arbiter.put(f"{AV}/uss-x", json={"old_version": v1, "availability": "Normal"})
    assert second.status_code == 200 and second.json()["version"] not in ("", v1)
    assert second.json()["status"]["availability"] == "Normal"
    stale = arbiter.put(f"{AV}/uss-x", json={"old_version": v1, "availability": "Down"})
    assert stale.status_code == 409 and "old_version" in stale.json()["message"]
    assert arbiter.get(f"{AV}/uss-y").json()["status"]["availability"] == "Unknown"  # per USS


def test_strict_bodies_are_400_naming_the_field(dss: RunningService) -> None:
    arbiter = uss(dss, "arbiter", (AA,))

    def refused(r: httpx.Response, field: str) -> None:
        assert r.status_code == 400, r.text
        assert field in r.json()["message"], r.text

    refused(arbiter.put(f"{AV}/uss-x", json={"availability": "Sleeping"}), "availability")
    refused(arbiter.put(f"{AV}/uss-x", json={"old_version": ""}), "availability")
    refused(arbiter.put(f"{AV}/uss-x", json={"availability": "Down", "oldVersion": ""}), "oldVersion")
    refused(arbiter.put(f"{AV}/uss-x", json={"availability": "Down", "old_version": 1}), "old_version")
    refused(arbiter.post("/dss/v1/reports", json={}), "exchange")
    bad = report()
    bad["exchange"]["recorder_role"] = "Bystander"
    refused(arbiter.post("/dss/v1/reports", json=bad), "exchange.recorder_role")
    bad = report()
    bad["exchange"]["requestTime"] = bad["exchange"].pop("request_time")
    refused(arbiter.post("/dss/v1/reports", json=bad), "exchange.requestTime")


def test_reports_are_logged_and_given_an_id(dss: RunningService, caplog: pytest.LogCaptureFixture) -> None:
    reporter = uss(dss, "uss-a")
    with caplog.at_level(logging.WARNING, logger="deconflict.f3548.reports"):
        r = reporter.post("/dss/v1/reports", json=report())
        again = reporter.post("/dss/v1/reports", json={**report(), "report_id": "mine"})  # the DSS gives ids
    assert r.status_code == 201, r.text
    out = r.json()
    assert uuid.UUID(out["report_id"]) and out["exchange"]["problem"] == "the peer answered 500"
    assert again.status_code == 201 and again.json()["report_id"] not in ("mine", out["report_id"])
    logged = [rec.getMessage() for rec in caplog.records if rec.name == "deconflict.f3548.reports"]
    assert any(out["report_id"] in m and "uss-a" in m for m in logged)


def test_references_carry_their_managers_availability(dss: RunningService) -> None:
    a, b = uss(dss, "uss-a"), uss(dss, "uss-b")
    arbiter = uss(dss, "arbiter", (AA,))
    first = create(a, intent(vol(35.0, 36.0)))
    ref = first.json()["operational_intent_reference"]
    assert ref["uss_availability"] == "Unknown"
    activated = a.put(f"{OIR}/{ref['id']}/{ref['ovn']}", json=intent(vol(35.0, 36.0), state="Activated"))
    assert activated.status_code == 200, activated.text  # (an Accepted intent of a Down USS needs no key)
    ref = activated.json()["operational_intent_reference"]
    assert arbiter.put(f"{AV}/uss-a", json={"availability": "Down"}).status_code == 200
    assert b.get(f"{OIR}/{ref['id']}").json()["operational_intent_reference"]["uss_availability"] == "Down"
    found = b.post(f"{OIR}/query", json=area(35.0, 36.0)).json()["operational_intent_references"]
    assert [r["uss_availability"] for r in found] == ["Down"]
    refused = create(b, intent(vol(35.0, 36.0)))  # the missing intents of a 409 too
    assert refused.status_code == 409
    assert [m["uss_availability"] for m in refused.json()["missing_operational_intents"]] == ["Down"]
    mine = create(b, intent(vol(35.0, 36.0), key=[ref["ovn"]]))
    assert mine.status_code == 201
    assert mine.json()["operational_intent_reference"]["uss_availability"] == "Unknown"  # b's own
    auth = uss(dss, "authority", (CM,))
    assert arbiter.put(f"{AV}/authority", json={"availability": "Normal"}).status_code == 200
    c = auth.put(f"/dss/v1/constraint_references/{uuid.uuid4()}", json={
        "extents": [vol(35.0, 36.0)], "uss_base_url": "https://authority.example"})
    assert c.status_code == 201 and c.json()["constraint_reference"]["uss_availability"] == "Normal"


def test_a_down_uss_may_not_hold_intents_accepted_or_activated(dss: RunningService) -> None:
    """F3548 UssAvailabilityState: a Down USS may not create an intent Accepted/Activated, modify one whose new
    or unchanged state is Accepted/Activated, nor delete one (412, as the F3548 OpenAPI has it); others need not
    present the OVNs of its Accepted intents (the reference DSS's rule), but do need those of its Activated ones."""
    a, b = uss(dss, "uss-a", (SC, SA)), uss(dss, "uss-b")
    arbiter = uss(dss, "arbiter", (AA,))
    accepted = create(a, intent(vol(35.0, 36.0))).json()["operational_intent_reference"]
    made = create(a, intent(vol(35.0, 36.0, 1000), key=[accepted["ovn"]])).json()["operational_intent_reference"]
    act = a.put(f"{OIR}/{made['id']}/{made['ovn']}",
                json=intent(vol(35.0, 36.0, 1000), state="Activated", key=[accepted["ovn"]]))
    assert act.status_code == 200, act.text
    activated = act.json()["operational_intent_reference"]
    down = arbiter.put(f"{AV}/uss-a", json={"availability": "Down"})
    assert down.status_code == 200

    def refused(r: httpx.Response) -> None:
        assert r.status_code == 412 and set(r.json()) == {"message"} and "Down" in r.json()["message"], r.text

    refused(create(a, intent(vol(35.5, 36.0))))  # create Accepted, even far from anything
    refused(a.put(f"{OIR}/{accepted['id']}/{accepted['ovn']}",
                  json=intent(vol(35.0, 36.0), key=[activated["ovn"]])))  # unchanged state Accepted
    refused(a.put(f"{OIR}/{accepted['id']}/{accepted['ovn']}",
                  json=intent(vol(35.0, 36.0), state="Activated", key=[activated["ovn"]])))
    refused(a.delete(f"{OIR}/{accepted['id']}/{accepted['ovn']}"))
    # another state is allowed: a Down USS's flight may still go Contingent
    contingent = a.put(f"{OIR}/{activated['id']}/{activated['ovn']}",
                       json=intent(vol(35.0, 36.0, 1000), state="Contingent"))
    assert contingent.status_code == 200, contingent.text
    contingent_ovn = contingent.json()["operational_intent_reference"]["ovn"]
    # b plans over a's Accepted intent without its OVN, not over the Contingent one
    conflict = create(b, intent(vol(35.0, 36.0), key=[]))
    assert conflict.status_code == 409
    assert [m["id"] for m in conflict.json()["missing_operational_intents"]] == [activated["id"]]
    assert create(b, intent(vol(35.0, 36.0), key=[contingent_ovn])).status_code == 201
    # back to Normal: a may delete again
    assert arbiter.put(f"{AV}/uss-a", json={"old_version": down.json()["version"],
                                             "availability": "Normal"}).status_code == 200
    assert a.delete(f"{OIR}/{accepted['id']}/{accepted['ovn']}").status_code == 200


def test_healthy_needs_no_token(dss: RunningService) -> None:
    r = httpx.get(dss.url + "/healthy")
    assert r.status_code == 200 and r.text == "ok"


def test_what_the_interuss_prober_sends_is_accepted(dss: RunningService) -> None:
    """Leniencies the reference DSS has and the InterUSS prober relies on: `old_version` in PUT bodies (and `key`
    in constraint bodies) is ignored; an availability is read case-insensitively. Other unknown fields stay 400."""
    a = uss(dss, "uss-a")
    made = create(a, {**intent(vol(35.0, 36.0)), "old_version": 0})
    assert made.status_code == 201, made.text
    assert create(a, {**intent(vol(35.2, 36.0)), "oldVersion": 0}).status_code == 400
    sub = a.put(f"/dss/v1/subscriptions/{uuid.uuid4()}", json={
        "extents": vol(35.0, 36.0), "uss_base_url": "https://uss.example/base", "old_version": 0,
        "notify_for_operational_intents": True})
    assert sub.status_code == 200, sub.text
    auth = uss(dss, "authority", (CM,))
    c = auth.put(f"/dss/v1/constraint_references/{uuid.uuid4()}", json={
        "extents": [vol(35.0, 36.0)], "uss_base_url": "https://authority.example", "old_version": 0, "key": []})
    assert c.status_code == 201, c.text
    arbiter = uss(dss, "arbiter", (AA,))
    r = arbiter.put(f"{AV}/uss-z", json={"availability": "normal"})
    assert r.status_code == 200 and r.json()["status"]["availability"] == "Normal"
    assert arbiter.put(f"{AV}/uss-z", json={"old_version": r.json()["version"],
                                            "availability": "sideways"}).status_code == 400


def test_query_windows_are_not_held_to_entity_limits(dss: RunningService) -> None:
    """An area of interest may be long, in the past, or an instant (end at or before start), as at the reference
    DSS; the entity limits (duration, horizon, past end) apply to what is written, not to what is asked."""
    a = uss(dss, "uss-a")
    made = create(a, intent(vol(35.0, 36.0, hours=(1.0, 2.0)))).json()["operational_intent_reference"]

    def found(aoi: dict[str, Any]) -> list[str]:
        r = a.post(f"{OIR}/query", json={"area_of_interest": aoi})
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["operational_intent_references"]]

    assert found(vol(35.0, 36.0, 5000, hours=(-24 * 365 * 50, 24 * 365 * 50))) == [made["id"]]  # 100 years
    assert found(vol(35.0, 36.0, 5000, hours=(-48.0, -47.0))) == []  # the past
    assert found(vol(35.0, 36.0, 5000, hours=(1.5, 1.5))) == [made["id"]]  # an instant
    assert found(vol(35.0, 36.0, 5000, hours=(3.0, 1.5))) == []  # end before start: the instant at start
    open_start = vol(35.0, 36.0, 5000, hours=(0.0, -0.02))  # no time_start: open towards the past
    del open_start["time_start"]
    assert found(open_start) == []  # ends a minute ago: the intent (in an hour) is not in it
    open_start = vol(35.0, 36.0, 5000, hours=(0.0, 1.5))
    del open_start["time_start"]
    assert found(open_start) == [made["id"]]
    # writes keep their limits
    assert create(a, intent(vol(35.0, 36.0, hours=(-3.0, -2.0)))).status_code == 400
    assert create(a, intent(vol(35.0, 36.0, hours=(2.0, 2.0)))).status_code == 400
