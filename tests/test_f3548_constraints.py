"""F3548 constraint references (/dss/v1/constraint_references): scopes, strict bodies, OVNs and versions, the
key rule's constraints for a USS that processes constraints, subscribers, and each constraint as a Deconflict
`restriction` declaration that conflicts with flights declared through /v1. SQLite and PostgreSQL alike."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from deconflict.f3548.logic import NO_OVN, uss_party_name
from deconflict.service.server import RunningService
from deconflict.store import schema as t

from .service_helpers import square, vol, world
from .test_f3548 import OIR, SC, area, create, dss, intent, token, uss

__all__ = ["dss"]  # the fixture, shared

CM = "utm.constraint_management"
CP = "utm.constraint_processing"
CR = "/dss/v1/constraint_references"


def constraint(*extents: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"extents": list(extents), "uss_base_url": "https://authority.example/c", **extra}


def put(client: Any, body: dict[str, Any], entity: str | None = None) -> httpx.Response:
    return client.put(f"{CR}/{entity or uuid.uuid4()}", json=body)


def test_constraint_scopes(dss: RunningService) -> None:
    def status(method: str, path: str, scopes: tuple[str, ...], body: Any = None) -> int:
        r = httpx.request(method, dss.url + path, json=body,
                          headers={"Authorization": f"Bearer {token('auth', scopes)}"})
        if r.status_code in (401, 403):
            assert set(r.json()) == {"message"}, r.text
        return r.status_code

    entity = str(uuid.uuid4())
    body = constraint(vol(35.0, 36.0))
    assert status("PUT", f"{CR}/{entity}", (SC,), body) == 403
    assert status("PUT", f"{CR}/{entity}", (CP,), body) == 403  # processing reads, it does not manage
    assert status("PUT", f"{CR}/{entity}", (CM,), body) == 201
    for scopes, expected in (((SC,), 403), ((CP,), 200), ((CM,), 200)):
        assert status("GET", f"{CR}/{entity}", scopes) == expected
        assert status("POST", f"{CR}/query", scopes, area(35.0, 36.0)) == expected
    ref = httpx.get(f"{dss.url}{CR}/{entity}", headers={"Authorization": f"Bearer {token('auth', (CM,))}"}
                    ).json()["constraint_reference"]
    assert status("PUT", f"{CR}/{entity}/{ref['ovn']}", (CP,), body) == 403
    assert status("DELETE", f"{CR}/{entity}/{ref['ovn']}", (SC,)) == 403
    assert status("DELETE", f"{CR}/{entity}/{ref['ovn']}", (CM,)) == 200
    # an implicit subscription that notifies for constraints needs constraint processing
    r = uss(dss, "uss-a").put(f"{OIR}/{uuid.uuid4()}", json=intent(
        vol(35.0, 36.0), implicit=False, new_subscription={"uss_base_url": "https://uss.example/base",
                                           "notify_for_constraints": True}))
    assert r.status_code == 403 and "notify_for_constraints" in r.json()["message"], r.text


def test_constraint_create_get_query_update_delete_with_ovns(dss: RunningService) -> None:
    auth, other = uss(dss, "authority", (CM,)), uss(dss, "other-authority", (CM,))
    reader = uss(dss, "uss-a", (CP,))
    entity = str(uuid.uuid4())
    created = put(auth, constraint(vol(35.0, 36.0)), entity)
    assert created.status_code == 201, created.text
    ref = created.json()["constraint_reference"]
    assert (ref["id"], ref["version"], ref["manager"]) == (entity, 1, "authority")
    assert set(ref) == {"id", "manager", "uss_availability", "version", "ovn", "time_start", "time_end",
                        "uss_base_url"}
    assert len(ref["ovn"]) >= 16 and ref["ovn"] != NO_OVN
    assert auth.get(f"{CR}/{entity}").json()["constraint_reference"]["ovn"] == ref["ovn"]
    assert reader.get(f"{CR}/{entity}").json()["constraint_reference"]["ovn"] == NO_OVN
    assert [c["id"] for c in reader.post(f"{CR}/query", json=area(35.0, 36.0)).json()["constraint_references"]
            ] == [entity]
    assert reader.post(f"{CR}/query", json=area(40.0, 30.0)).json()["constraint_references"] == []
    # constraints and operational intents are apart: neither shows up as the other
    assert uss(dss, "uss-a").get(f"{OIR}/{entity}").status_code == 404
    assert uss(dss, "uss-a").post(f"{OIR}/query", json=area(35.0, 36.0)).json()[
        "operational_intent_references"] == []
    assert create(uss(dss, "uss-a"), intent(vol(35.0, 36.0)), entity).status_code == 409

    assert put(auth, constraint(vol(35.0, 36.0)), entity).status_code == 409  # exists: update with the OVN
    moved = constraint(vol(35.01, 36.0))
    assert other.put(f"{CR}/{entity}/{ref['ovn']}", json=moved).status_code == 403
    updated = auth.put(f"{CR}/{entity}/{ref['ovn']}", json=moved)
    assert updated.status_code == 200, updated.text
    ref2 = updated.json()["constraint_reference"]
    assert ref2["version"] == 2 and ref2["ovn"] != ref["ovn"]
    assert auth.put(f"{CR}/{entity}/{ref['ovn']}", json=moved).status_code == 409  # stale OVN
    assert auth.put(f"{CR}/{uuid.uuid4()}/{ref2['ovn']}", json=moved).status_code == 400  # no such constraint

    assert auth.delete(f"{CR}/{entity}/{ref['ovn']}").status_code == 409
    assert other.delete(f"{CR}/{entity}/{ref2['ovn']}").status_code == 403
    assert auth.delete(f"{CR}/{uuid.uuid4()}/{ref2['ovn']}").status_code == 404
    deleted = auth.delete(f"{CR}/{entity}/{ref2['ovn']}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["constraint_reference"]["id"] == entity
    assert auth.get(f"{CR}/{entity}").status_code == 404
    assert reader.post(f"{CR}/query", json=area(35.0, 36.0)).json()["constraint_references"] == []
    with dss.state.db.connect() as conn:  # its restriction is cancelled
        decl = conn.execute(sa.select(t.declarations.c.state, t.declarations.c.kind)).all()
        assert [(d.state, d.kind) for d in decl] == [("cancelled", "restriction")]


def test_constraint_strict_bodies_are_400_naming_the_field(dss: RunningService) -> None:
    auth = uss(dss, "authority", (CM,))

    def refused(body: Any, field: str) -> None:
        r = put(auth, body)
        assert r.status_code == 400, r.text
        assert field in r.json()["message"], r.text

    refused({"extents": [vol(35.0, 36.0)], "ussBaseUrl": "https://a.example"}, "ussBaseUrl")
    refused(constraint(vol(35.0, 36.0), state="Accepted"), "state")
    refused({"extents": [vol(35.0, 36.0)]}, "uss_base_url")
    bad = constraint(vol(35.0, 36.0))
    bad["extents"][0]["volume"]["outline_circle"]["radius"]["value"] = "2000"
    refused(bad, "extents[0].volume.outline_circle.radius.value")
    refused(constraint(square(35.0, 36.0, 0.5)), "area")
    refused(constraint(vol(35.0, 36.0, hours=(-3.0, -1.0))), "extents[0].time_end")
    refused(constraint(), "extents")
    refused(constraint(vol(35.0, 36.0), uss_base_url="http://a.example"), "uss_base_url")
    assert put(auth, constraint(vol(35.0, 36.0)), "not-a-uuid").status_code == 400
    r = auth.post(f"{CR}/query", json={"areaOfInterest": vol(35.0, 36.0)})
    assert r.status_code == 400 and "areaOfInterest" in r.json()["message"]
    assert auth.post(f"{CR}/query", json={}).status_code == 400


def test_key_rule_includes_constraints_only_for_constraint_processing(dss: RunningService) -> None:
    auth = uss(dss, "authority", (CM,))
    c = put(auth, constraint(square(35.0, 36.0, 0.01, (0.5, 7.0)))).json()["constraint_reference"]
    put(auth, constraint(square(38.0, 36.0, 0.01)))  # elsewhere: never asked for
    plain, processing = uss(dss, "uss-a"), uss(dss, "uss-b", (SC, CP))
    # a USS that does not process constraints needs no constraint OVN
    assert create(plain, intent(vol(35.0, 36.0, 1000.0))).status_code == 201
    cp_sub = {"uss_base_url": "https://b.example", "notify_for_constraints": True}
    refused = create(processing, intent(vol(35.0, 36.0, 500.0, hours=(3.0, 4.0)), implicit=False,
                                        new_subscription=cp_sub))
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["missing_operational_intents"] == []
    assert [m["id"] for m in body["missing_constraints"]] == [c["id"]]
    assert body["missing_constraints"][0]["ovn"] == NO_OVN
    accepted = create(processing, intent(vol(35.0, 36.0, 500.0, hours=(3.0, 4.0)), implicit=False,
                                         new_subscription=cp_sub, key=[c["ovn"]]))
    assert accepted.status_code == 201, accepted.text
    # the constraint changes: its old OVN no longer does
    updated = auth.put(f"{CR}/{c['id']}/{c['ovn']}", json=constraint(square(35.0, 36.0, 0.012, (0.5, 7.0))))
    assert updated.status_code == 200, updated.text
    told = updated.json()["subscribers"]  # the processing USS's implicit subscription notifies for constraints
    assert [s["uss_base_url"] for s in told] == ["https://b.example"]
    assert told[0]["subscriptions"][0]["notification_index"] == 2  # 1 was its own intent
    c2 = updated.json()["constraint_reference"]
    mine = accepted.json()["operational_intent_reference"]
    stale = processing.put(f"{OIR}/{mine['id']}/{mine['ovn']}", json=intent(
        vol(35.0, 36.0, 600.0, hours=(3.0, 4.0)), state="Activated", implicit=False,
        subscription_id=mine["subscription_id"], key=[c["ovn"]]))
    assert stale.status_code == 409 and [m["id"] for m in stale.json()["missing_constraints"]] == [c["id"]]
    ok = processing.put(f"{OIR}/{mine['id']}/{mine['ovn']}", json=intent(
        vol(35.0, 36.0, 600.0, hours=(3.0, 4.0)), state="Activated", implicit=False,
        subscription_id=mine["subscription_id"], key=[c2["ovn"]]))
    assert ok.status_code == 200, ok.text
    # an explicit subscription for constraints lists those in its area; it is told of later changes
    explicit = str(uuid.uuid4())
    r = processing.put(f"/dss/v1/subscriptions/{explicit}", json={
        "extents": vol(35.0, 36.0, 5000.0, (0.0, 5.0)), "uss_base_url": "https://b2.example",
        "notify_for_constraints": True})
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()["constraint_references"]] == [c["id"]]
    assert "operational_intent_references" not in r.json()  # listed only when it notifies for them (OpenAPI)
    gone = auth.delete(f"{CR}/{c2['id']}/{c2['ovn']}")
    assert gone.status_code == 200
    assert {s["uss_base_url"] for s in gone.json()["subscribers"]} == {"https://b.example", "https://b2.example"}
    assert create(processing, intent(vol(35.0, 36.0, 500.0, hours=(5.0, 6.0)),
                                     implicit=False, new_subscription=cp_sub)).status_code == 201  # no constraint left


@pytest.mark.parametrize("order", ["flight_first", "constraint_first"])
def test_a_constraint_is_a_restriction_that_conflicts_with_flights(dss: RunningService, order: str) -> None:
    assert dss.admin_token is not None
    _, apis = world(dss.url, dss.admin_token, ["airline"], [])
    airline = apis["airline"]
    auth = uss(dss, "authority", (CM,))
    if order == "flight_first":
        assert airline.declare("flight", vol(35.0, 36.0, 3000.0)).status_code == 201
    created = put(auth, constraint(vol(35.0, 36.01, 1500.0)))
    assert created.status_code == 201, created.text
    if order == "constraint_first":
        assert airline.declare("flight", vol(35.0, 36.0, 3000.0)).status_code == 201
    with dss.state.db.connect() as conn:
        party = conn.execute(sa.select(t.parties.c.id).where(t.parties.c.name == uss_party_name("authority"))).one()
        airline_id = conn.execute(sa.select(t.parties.c.id).where(t.parties.c.name == "airline")).scalar_one()
        decl = conn.execute(sa.select(t.declarations).where(t.declarations.c.owner_id == party.id)).one()
        assert decl.kind == "restriction"
        assert decl.extra["f3548_constraint"] == created.json()["constraint_reference"]["id"]
        found = conn.execute(sa.select(t.conflicts)).all()
        assert len(found) == 1
        assert {found[0].party_a, found[0].party_b} == {party.id, airline_id}
