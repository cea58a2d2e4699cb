"""The ASTM F3548-21 DSS surface (/dss/v1): tokens and scopes, operational intent references with OVNs and the
key rule, strict bodies and limits, subscriptions and notification indexes, and each intent as a Deconflict
declaration that meets military activities. Runs on SQLite and PostgreSQL (the `service` fixture)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from deconflict.f3548 import F3548Config, logic
from deconflict.f3548.logic import NO_OVN, uss_party_name
from deconflict.service.server import RunningService
from deconflict.store import schema as t

from .service_helpers import Api, square, vol, world

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
AUD = "dss.test"
SC = "utm.strategic_coordination"
SA = "utm.conformance_monitoring_sa"
OIR = "/dss/v1/operational_intent_references"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(sub: str = "uss1", scopes: tuple[str, ...] = (SC,), *, key: rsa.RSAPrivateKey = KEY,
          header: dict[str, Any] | None = None, **claims: Any) -> str:
    now = int(time.time())
    body = {"sub": sub, "iss": "test-issuer", "aud": AUD, "exp": now + 3600, "nbf": now - 1,
            "scope": " ".join(scopes), **claims}
    body = {k: v for k, v in body.items() if v is not None}
    signing_input = (_b64(json.dumps(header or {"alg": "RS256", "typ": "JWT"}).encode()) + "."
                     + _b64(json.dumps(body).encode()))
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + _b64(signature)


def uss(service: RunningService, sub: str, scopes: tuple[str, ...] = (SC,)) -> Any:
    return Api(service.url, token(sub, scopes))  # closed with the others after the test


@pytest.fixture
def dss(service: RunningService) -> RunningService:
    app = service.server.config.app
    app.state.f3548_config = F3548Config(public_keys=(KEY.public_key(),), audiences=frozenset({AUD}))
    return service


def intent(*extents: dict[str, Any], state: str = "Accepted", key: list[str] | None = None,
           implicit: bool = True, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"extents": list(extents), "state": state, "uss_base_url": "https://uss.example/base",
                            **extra}
    if key is not None:
        body["key"] = key
    if implicit:
        body["new_subscription"] = {"uss_base_url": "https://uss.example/base"}
    return body


def create(client: Any, body: dict[str, Any], entity: str | None = None) -> httpx.Response:
    return client.put(f"{OIR}/{entity or uuid.uuid4()}", json=body)


def area(lat: float, lng: float, radius_m: float = 5000.0) -> dict[str, Any]:
    return {"area_of_interest": vol(lat, lng, radius_m, (0.5, 3.0))}


# -- tokens and scopes -------------------------------------------------------------------------------------
def test_tokens_401_and_scopes_403(dss: RunningService) -> None:
    url = dss.url + OIR + "/query"
    body = area(35.0, 36.0)

    def status(tok: str | None) -> int:
        headers = {} if tok is None else {"Authorization": f"Bearer {tok}"}
        r = httpx.post(url, json=body, headers=headers)
        if r.status_code in (401, 403):
            assert set(r.json()) == {"message"}, r.text
        return r.status_code

    now = int(time.time())
    assert status(None) == 401
    assert status("not-a-jwt") == 401
    assert status(token(key=OTHER_KEY)) == 401  # signed by a key we do not know
    assert status(token(header={"alg": "none", "typ": "JWT"})) == 401
    assert status(token(header={"alg": "HS256", "typ": "JWT"})) == 401
    assert status(token(exp=now - 3600)) == 401
    assert status(token(exp=None)) == 401
    assert status(token(exp=now + 30 * 86400)) == 401  # too far ahead
    assert status(token(aud="someone-else")) == 401
    assert status(token(sub="")) == 401
    assert status(token(iss=None)) == 401
    forged = token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(forged[1] + "=="))
    claims["sub"] = "intruder"
    assert status(".".join([forged[0], _b64(json.dumps(claims).encode()), forged[2]])) == 401
    assert status(token(scopes=())) == 403
    assert status(token(scopes=("utm.constraint_management",))) == 403
    assert status(token(scopes=(SC,))) == 200
    assert status(token(scopes=(SA,))) == 200
    assert status(token(aud=["x", AUD])) == 200
    # creating needs strategic coordination (or CMSA); subscriptions accept constraint processing too
    r = httpx.put(f"{dss.url}{OIR}/{uuid.uuid4()}", json=intent(vol(35.0, 36.0)),
                  headers={"Authorization": f"Bearer {token(scopes=('utm.constraint_processing',))}"})
    assert r.status_code == 403
    # Nonconforming needs the CMSA scope, even with strategic coordination
    a = uss(dss, "uss-a")
    created = create(a, intent(vol(35.0, 36.0)))
    assert created.status_code == 201, created.text
    ref = created.json()["operational_intent_reference"]
    r = a.put(f"{OIR}/{ref['id']}/{ref['ovn']}", json=intent(vol(35.0, 36.0), state="Nonconforming"))
    assert r.status_code == 403, r.text


# -- operational intent references ---------------------------------------------------------------------------
def test_create_get_query_update_delete_with_ovns(dss: RunningService) -> None:
    a, b = uss(dss, "uss-a"), uss(dss, "uss-b")
    entity = str(uuid.uuid4())
    created = create(a, intent(vol(35.0, 36.0)), entity)
    assert created.status_code == 201, created.text
    ref = created.json()["operational_intent_reference"]
    assert (ref["id"], ref["version"], ref["state"], ref["manager"]) == (entity, 1, "Accepted", "uss-a")
    assert len(ref["ovn"]) >= 16 and ref["ovn"] != NO_OVN
    assert ref["subscription_id"] != "00000000-0000-4000-8000-000000000000"  # the implicit subscription

    assert a.get(f"{OIR}/{entity}").json()["operational_intent_reference"]["ovn"] == ref["ovn"]
    seen = b.get(f"{OIR}/{entity}").json()["operational_intent_reference"]
    assert seen["ovn"] == NO_OVN and seen["version"] == 1  # OVNs go only to the managing USS
    found = b.post(f"{OIR}/query", json=area(35.0, 36.0)).json()["operational_intent_references"]
    assert [r["id"] for r in found] == [entity]
    assert b.post(f"{OIR}/query", json=area(40.0, 30.0)).json()["operational_intent_references"] == []

    assert create(a, intent(vol(35.0, 36.0)), entity).status_code == 409  # exists: update with the OVN
    moved = intent(vol(35.01, 36.0), state="Activated")
    assert b.put(f"{OIR}/{entity}/{ref['ovn']}", json=moved).status_code == 403  # not b's
    updated = a.put(f"{OIR}/{entity}/{ref['ovn']}", json=moved)
    assert updated.status_code == 200, updated.text
    ref2 = updated.json()["operational_intent_reference"]
    assert (ref2["version"], ref2["state"]) == (2, "Activated") and ref2["ovn"] != ref["ovn"]
    assert a.put(f"{OIR}/{entity}/{ref['ovn']}", json=moved).status_code == 409  # stale OVN
    back = a.put(f"{OIR}/{entity}/{ref2['ovn']}", json=intent(vol(35.01, 36.0)))
    assert back.status_code == 400 and "state" in back.json()["message"]  # Activated cannot go back to Accepted
    assert a.put(f"{OIR}/{uuid.uuid4()}/{ref2['ovn']}", json=moved).status_code == 400  # no such intent

    assert a.delete(f"{OIR}/{entity}/{ref['ovn']}").status_code == 409
    assert b.delete(f"{OIR}/{entity}/{ref2['ovn']}").status_code == 403
    deleted = a.delete(f"{OIR}/{entity}/{ref2['ovn']}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["operational_intent_reference"]["id"] == entity
    assert a.get(f"{OIR}/{entity}").status_code == 404
    assert a.post(f"{OIR}/query", json=area(35.0, 36.0)).json()["operational_intent_references"] == []
    with dss.state.db.connect() as conn:  # its declaration is cancelled, its implicit subscription gone
        decl = conn.execute(sa.select(t.declarations.c.state, t.declarations.c.kind)).all()
        assert [(d.state, d.kind) for d in decl] == [("cancelled", "flight")]
        assert conn.execute(sa.select(sa.func.count()).select_from(t.f3548_subscriptions)).scalar_one() == 0


def test_key_rule_lists_missing_intents_and_accepts_the_key(dss: RunningService) -> None:
    a, b = uss(dss, "uss-a"), uss(dss, "uss-b")
    first = create(a, intent(square(35.0, 36.0, 0.01))).json()["operational_intent_reference"]
    other = create(a, intent(square(35.0, 36.03, 0.01))).json()["operational_intent_reference"]
    overlapping = intent(vol(35.0, 36.015, 1500.0))  # touches both squares
    refused = create(b, overlapping)
    assert refused.status_code == 409, refused.text
    missing = refused.json()["missing_operational_intents"]
    assert sorted(m["id"] for m in missing) == sorted([first["id"], other["id"]])
    assert {m["ovn"] for m in missing} == {NO_OVN}  # b must ask uss-a for them
    partial = create(b, intent(vol(35.0, 36.015, 1500.0), key=[first["ovn"]]))
    assert partial.status_code == 409
    assert [m["id"] for m in partial.json()["missing_operational_intents"]] == [other["id"]]
    accepted = create(b, intent(vol(35.0, 36.015, 1500.0), key=[first["ovn"], other["ovn"]]))
    assert accepted.status_code == 201, accepted.text
    # the same place at another time, or apart: no key needed
    assert create(b, intent(vol(35.0, 36.015, 1500.0, hours=(3.0, 4.0)))).status_code == 201
    assert create(b, intent(vol(36.0, 36.0))).status_code == 201
    # exact, not by box: two circles whose bounding boxes overlap but which do not meet
    c1 = create(a, intent(vol(34.0, 36.0, 1000.0))).json()["operational_intent_reference"]
    dlat, dlng = 1500.0 / 111_000.0, 1500.0 / (111_000.0 * 0.829)
    c2 = create(b, intent(vol(34.0 + dlat, 36.0 + dlng, 1000.0)))
    assert c2.status_code == 201, c2.text
    near = create(b, intent(vol(34.0 + dlat / 2, 36.0 + dlng / 2, 1000.0)))  # meets both, b's own too
    assert near.status_code == 409
    listed = {m["id"]: m["ovn"] for m in near.json()["missing_operational_intents"]}
    c2_ref = c2.json()["operational_intent_reference"]
    assert listed == {c1["id"]: NO_OVN, c2_ref["id"]: c2_ref["ovn"]}  # its own OVN is shown to the manager
    # Nonconforming and Contingent need no key (with the CMSA scope)
    cmsa = uss(dss, "uss-b", (SC, SA))
    entity = accepted.json()["operational_intent_reference"]
    r = cmsa.put(f"{OIR}/{entity['id']}/{entity['ovn']}", json=intent(vol(35.0, 36.015, 2500.0),
                                                                       state="Nonconforming"))
    assert r.status_code == 200, r.text
    # updating one's own intent needs the others' OVNs, not its own
    mine = r.json()["operational_intent_reference"]
    r = cmsa.put(f"{OIR}/{mine['id']}/{mine['ovn']}", json=intent(vol(35.0, 36.015, 1500.0), state="Activated"))
    assert r.status_code == 409
    r = cmsa.put(f"{OIR}/{mine['id']}/{mine['ovn']}",
                 json=intent(vol(35.0, 36.015, 1500.0), state="Activated", key=[first["ovn"], other["ovn"]]))
    assert r.status_code == 200, r.text


def test_limits_and_strict_bodies_are_400_naming_the_field(dss: RunningService) -> None:
    a = uss(dss, "uss-a")

    def refused(body: Any, field: str) -> None:
        r = a.put(f"{OIR}/{uuid.uuid4()}", json=body)
        assert r.status_code == 400, r.text
        assert field in r.json()["message"], r.text

    refused(intent(square(35.0, 36.0, 0.5)), "area")  # about 5,000 km^2 > 2,500
    refused(intent(vol(35.0, 36.0, hours=(1.0, 30.0))), "extents[0].time_end")  # over 24 h
    refused(intent(vol(35.0, 36.0, hours=(-3.0, -1.0))), "extents[0].time_end")  # already over
    camel = {"extents": [vol(35.0, 36.0)], "state": "Accepted", "ussBaseUrl": "https://uss.example"}
    refused(camel, "ussBaseUrl")
    refused({**intent(vol(35.0, 36.0)), "priority": 3}, "priority")
    bad = intent(vol(35.0, 36.0))
    bad["extents"][0]["volume"]["outline_circle"]["radius"]["value"] = "2000"
    refused(bad, "extents[0].volume.outline_circle.radius.value")
    no_alt = intent(vol(35.0, 36.0))
    del no_alt["extents"][0]["volume"]["altitude_upper"]
    refused(no_alt, "altitude_upper")
    refused(intent(vol(35.0, 36.0), uss_base_url="http://uss.example"), "uss_base_url")
    refused(intent(vol(35.0, 36.0), state="Activated"), "state")  # a new intent starts Accepted
    refused(intent(vol(35.0, 36.0), state="Ended"), "state")
    refused({"extents": [], "state": "Accepted", "uss_base_url": "https://uss.example"}, "extents")
    r = a.put(f"{OIR}/not-a-uuid", json=intent(vol(35.0, 36.0)))
    assert r.status_code == 400
    r = a.put(f"{OIR}/{uuid.uuid4()}", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = a.post(f"{OIR}/query", json={"areaOfInterest": vol(35.0, 36.0)})
    assert r.status_code == 400 and "areaOfInterest" in r.json()["message"]


def test_http_base_urls_only_in_test_mode(service: RunningService) -> None:
    service.server.config.app.state.f3548_config = F3548Config(
        public_keys=(KEY.public_key(),), audiences=frozenset({AUD}), allow_http=True)
    r = uss(service, "uss-a").put(f"{OIR}/{uuid.uuid4()}", json=intent(
        vol(35.0, 36.0), uss_base_url="http://localhost:8074", new_subscription={"uss_base_url": "http://x"}))
    assert r.status_code == 201, r.text


def test_a_create_racing_another_of_the_same_id_elsewhere_is_409(dss: RunningService,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Two creates of one id in different areas take different locks; the second to write gets 409, not 500."""
    a = uss(dss, "uss-a")
    other = create(a, intent(vol(10.0, 10.0))).json()["operational_intent_reference"]
    entity = str(uuid.uuid4())
    filing = logic._file_declaration

    def racing(*args: Any) -> str:  # the other create of `entity` commits while this one files its declaration
        decl_id = filing(*args)
        with dss.state.db.begin() as conn:
            row = conn.execute(sa.select(t.f3548_oirs).where(t.f3548_oirs.c.id == other["id"])).one()._asdict()
            conn.execute(sa.insert(t.f3548_oirs).values({**row, "id": entity}))
        return decl_id

    monkeypatch.setattr(logic, "_file_declaration", racing)
    r = create(a, intent(vol(20.0, 20.0)), entity)
    assert r.status_code == 409 and "meanwhile" in r.text, r.text


def test_intents_at_the_pole_follow_the_key_rule(dss: RunningService) -> None:
    """The prober's polar operations: one centred on the north pole, one 111 m off it on the far meridian."""
    a, b = uss(dss, "uss-a"), uss(dss, "uss-b")
    first = create(a, intent(vol(90.0, 0.0, 200.0))).json()["operational_intent_reference"]
    refused = create(b, intent(vol(89.999, 180.0, 300.0)))
    assert refused.status_code == 409, refused.text
    assert [m["id"] for m in refused.json()["missing_operational_intents"]] == [first["id"]]
    assert create(b, intent(vol(89.999, 180.0, 300.0), key=[first["ovn"]])).status_code == 201
    assert create(b, intent(vol(89.99, 180.0, 300.0))).status_code == 201  # 1.1 km off the pole: apart
    found = a.post(f"{OIR}/query", json=area(90.0, 90.0, 500.0)).json()["operational_intent_references"]
    assert len(found) == 2 and first["id"] in {o["id"] for o in found}


# -- subscriptions -------------------------------------------------------------------------------------------
def test_implicit_and_explicit_subscriptions_and_notification_indexes(dss: RunningService) -> None:
    a, b = uss(dss, "uss-a"), uss(dss, "uss-b")
    first = create(a, intent(vol(35.0, 36.0))).json()
    sub_a = first["operational_intent_reference"]["subscription_id"]
    # a's own implicit subscription is told of its own intent
    assert first["subscribers"] == [{"subscriptions": [{"subscription_id": sub_a, "notification_index": 1}],
                                     "uss_base_url": "https://uss.example/base"}]
    explicit = str(uuid.uuid4())
    r = b.put(f"/dss/v1/subscriptions/{explicit}", json={
        "extents": vol(35.0, 36.0, 20_000.0, (0.0, 5.0)), "uss_base_url": "https://b.example",
        "notify_for_operational_intents": True})
    assert r.status_code == 200, r.text
    sub = r.json()["subscription"]
    assert (sub["id"], sub["version"], sub["notification_index"], sub["implicit_subscription"]) == (
        explicit, "1", 0, False)
    assert [o["id"] for o in r.json()["operational_intent_references"]] == [
        first["operational_intent_reference"]["id"]]
    ref = first["operational_intent_reference"]
    moved = a.put(f"{OIR}/{ref['id']}/{ref['ovn']}", json=intent(vol(35.0, 36.01), implicit=False,
                                                                  subscription_id=sub_a))
    assert moved.status_code == 200, moved.text
    told = {s["uss_base_url"]: s["subscriptions"] for s in moved.json()["subscribers"]}
    assert told == {"https://uss.example/base": [{"subscription_id": sub_a, "notification_index": 2}],
                    "https://b.example": [{"subscription_id": explicit, "notification_index": 1}]}
    got = b.get(f"/dss/v1/subscriptions/{explicit}").json()["subscription"]
    assert got["notification_index"] == 1
    assert a.get(f"/dss/v1/subscriptions/{explicit}").status_code == 404  # only its manager reads it
    assert a.get(f"/dss/v1/subscriptions/{sub_a}").json()["subscription"]["dependent_operational_intents"] == [
        ref["id"]]
    queried = b.post("/dss/v1/subscriptions/query", json=area(35.0, 36.0)).json()["subscriptions"]
    assert [s["id"] for s in queried] == [explicit]
    # update by version, delete by version
    r = b.put(f"/dss/v1/subscriptions/{explicit}/1", json={
        "extents": vol(35.0, 36.0, 10_000.0, (0.0, 5.0)), "uss_base_url": "https://b.example",
        "notify_for_operational_intents": True})
    assert r.status_code == 200 and r.json()["subscription"]["version"] == "2"
    assert b.put(f"/dss/v1/subscriptions/{explicit}/1", json={
        "extents": vol(35.0, 36.0), "uss_base_url": "https://b.example",
        "notify_for_operational_intents": True}).status_code == 409
    assert b.put(f"/dss/v1/subscriptions/{uuid.uuid4()}", json={
        "extents": vol(35.0, 36.0), "uss_base_url": "https://b.example"}).status_code == 400  # notifies nothing
    implicit = a.get(f"/dss/v1/subscriptions/{sub_a}").json()["subscription"]
    assert implicit["implicit_subscription"] and implicit["version"] == "2"  # grown to cover the moved intent
    assert a.delete(f"/dss/v1/subscriptions/{sub_a}/2").status_code == 400  # an intent depends on it
    assert b.delete(f"/dss/v1/subscriptions/{explicit}/1").status_code == 409
    assert b.delete(f"/dss/v1/subscriptions/{explicit}/2").status_code == 200
    assert b.get(f"/dss/v1/subscriptions/{explicit}").status_code == 404


def test_a_subscription_keeps_covering_the_intents_that_depend_on_it(dss: RunningService) -> None:
    a = uss(dss, "uss-a")
    ref = create(a, intent(vol(35.0, 36.0, 1000.0, hours=(1.0, 2.0)))).json()["operational_intent_reference"]
    sub = ref["subscription_id"]

    def update(version: int, extents: dict[str, Any]) -> httpx.Response:
        return a.put(f"/dss/v1/subscriptions/{sub}/{version}", json={
            "extents": extents, "uss_base_url": "https://uss.example/base", "notify_for_operational_intents": True})

    for elsewhere in (vol(45.0, 36.0, 1000.0), vol(35.0, 36.0, 1000.0, hours=(1.5, 2.0)),
                      vol(35.0, 36.0, 1000.0, alt=(0.5, 1000.0))):
        r = update(1, elsewhere)
        assert r.status_code == 400 and ref["id"] in r.text and "extents" in r.text, r.text
    r = update(1, vol(35.0, 36.0, 3000.0, hours=(0.0, 3.0)))
    assert r.status_code == 200, r.text
    assert r.json()["subscription"]["dependent_operational_intents"] == [ref["id"]]


def test_a_subscription_across_the_antimeridian_or_around_a_pole_covers_what_it_holds(dss: RunningService) -> None:
    a = uss(dss, "uss-a")
    for centre, inside in (((-17.0, 179.99), (-17.0, -179.99)), ((89.99, 0.0), (90.0, 0.0))):
        sub = str(uuid.uuid4())
        made = a.put(f"/dss/v1/subscriptions/{sub}", json={
            "extents": vol(*centre, 5000.0, hours=(0.0, 3.0)), "uss_base_url": "https://uss.example/base",
            "notify_for_operational_intents": True})
        assert made.status_code == 200, made.text
        attached = create(a, intent(vol(*inside, 500.0), implicit=False, subscription_id=sub))
        assert attached.status_code == 201, attached.text
        told = [x["subscription_id"] for group in attached.json()["subscribers"] for x in group["subscriptions"]]
        assert told == [sub]  # and it is notified
        assert create(a, intent(vol(45.0, 0.0, 500.0), implicit=False, subscription_id=sub)).status_code == 400


# -- each intent is a Deconflict declaration ---------------------------------------------------------------
def test_an_intent_is_a_flight_declaration_that_meets_military_activities(dss: RunningService) -> None:
    assert dss.admin_token is not None
    admin, apis = world(dss.url, dss.admin_token, ["army"], [])
    army = apis["army"]
    assert army.declare("activity", vol(35.0, 36.0, 3000.0), title="live firing").status_code == 201
    a = uss(dss, "uss-a")
    created = create(a, intent(vol(35.0, 36.01, 1500.0)))
    assert created.status_code == 201, created.text  # no agreement: the conflict is recorded, not blocking
    with dss.state.db.connect() as conn:
        party = conn.execute(sa.select(t.parties.c.id, t.parties.c.name)
                             .where(t.parties.c.name == uss_party_name("uss-a"))).one()
        decl = conn.execute(sa.select(t.declarations).where(t.declarations.c.owner_id == party.id)).one()
        assert decl.kind == "flight" and decl.extra["f3548_oir"] == created.json()[
            "operational_intent_reference"]["id"]
        found = conn.execute(sa.select(t.conflicts).where(t.conflicts.c.party_a == party.id)).all()
        assert len(found) == 1 and found[0].severity == "overlap"
    # an activity declared later through /v1 conflicts with the intent: the USS's party is on its other side
    later = army.declare("activity", vol(35.0, 36.02, 1500.0))
    assert later.status_code == 201  # (no agreement with the USS: nothing of it is disclosed to the army)
    with dss.state.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.conflicts)
                            .where(t.conflicts.c.party_b == party.id)).scalar_one() == 1
    # under a block agreement, the refused declaration refuses the intent
    r = admin.post("/v1/agreements", json={
        "name": "airspace", "parties": ["army", party.name], "disclosure": "full", "policy": "block",
        "minima": {"lateral_m": 0, "vertical_m": 0, "time_s": 0}, "ack_deadline_s": 600})
    assert r.status_code == 201, r.text
    entity = str(uuid.uuid4())
    blocked = create(a, intent(vol(35.0, 35.975, 800.0)), entity)  # in the first activity only
    assert blocked.status_code == 409, blocked.text
    assert "refused by Deconflict" in blocked.json()["message"]
    assert a.get(f"{OIR}/{entity}").status_code == 404
    assert create(a, intent(vol(36.0, 36.0, 1500.0))).status_code == 201  # elsewhere is fine


def test_query_needs_an_area(dss: RunningService) -> None:
    a = uss(dss, "uss-a")
    assert a.post(f"{OIR}/query", json={}).status_code == 400
    big = {"area_of_interest": square(35.0, 36.0, 1.0)}
    assert a.post(f"{OIR}/query", json=big).status_code == 400
    assert datetime.now(UTC) - timedelta(seconds=1) < datetime.now(UTC)
