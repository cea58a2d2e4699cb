"""The ledger in the service (issue 5): entries staged with the state they describe, sequenced by the scheduler
with contiguous indices, signed tree heads, inclusion and consistency proofs that verify with core.ledger against
the served key, need-to-know on entries, and tamper detection."""

from __future__ import annotations

import base64
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from deconflict.core.ledger import (
    EntryType,
    ProofFailure,
    SignedTreeHead,
    TreeHead,
    check_consistency,
    check_inclusion,
    check_signed_tree_head,
    decode_entry,
    key_id,
    leaf_hash,
)
from deconflict.service.scheduler import tick
from deconflict.service.server import RunningService
from deconflict.store import schema as t

from .service_helpers import Api, vol, world

AGREEMENT = {"parties": ["air", "ngo"], "disclosure": "full", "policy": "require_ack", "ack_deadline_s": 300,
             "min_notice_s": {"activity": 1800}}


def _b(text: str) -> bytes:
    return base64.b64decode(text)


def _setup(service: RunningService) -> tuple[Api, dict[str, Api]]:
    assert service.admin_token is not None
    return world(service.url, service.admin_token, ["air", "ngo", "stranger"], [AGREEMENT])


def _key(api: Api) -> Ed25519PublicKey:
    body = api.get("/v1/ledger/key").json()
    key = Ed25519PublicKey.from_public_bytes(_b(body["public_key"]))
    assert key_id(key) == _b(body["key_id"])
    return key


def _head(body: dict[str, Any]) -> SignedTreeHead:
    return SignedTreeHead(TreeHead(body["size"], _b(body["root"]), body["timestamp_ms"]), _b(body["key_id"]),
                          _b(body["signature"]))


def _entries(service: RunningService) -> list[Any]:
    with service.state.db.connect() as conn:
        return list(conn.execute(sa.select(t.ledger_entries).order_by(t.ledger_entries.c.idx)).all())


def _index_of(service: RunningService, entry_type: EntryType, **match: Any) -> int:
    for row in _entries(service):
        entry = decode_entry(bytes(row.entry))
        if entry.type is entry_type and all(entry.body.get(k) == v for k, v in match.items()):
            return int(row.idx)
    raise AssertionError(f"no {entry_type} entry matching {match}")


def _verified_entry(api: Api, idx: int, key: Ed25519PublicKey) -> ProofFailure | None:
    r = api.get(f"/v1/ledger/entries/{idx}")
    assert r.status_code == 200, r.text
    body = r.json()
    head = _head(body["tree_head"])
    assert check_signed_tree_head(head, key) is None
    return check_inclusion(idx, head.size, leaf_hash(_b(body["entry"])), [_b(h) for h in body["proof"]], head.root)


def test_entries_land_contiguously_and_their_proofs_verify_against_the_signed_head(service: RunningService) -> None:
    admin, apis = _setup(service)
    made = apis["air"].declare("activity", vol(35.0, 36.0), title="live firing")
    assert made.status_code == 201, made.text
    decl_id = made.json()["declaration"]["id"]
    assert apis["ngo"].get("/v1/notifications").status_code == 200  # delivered on read
    tick(service.state)

    rows = _entries(service)
    assert [r.idx for r in rows] == list(range(len(rows)))
    kinds = {decode_entry(bytes(r.entry)).type for r in rows}
    assert {EntryType.DECLARATION_VERSION, EntryType.NOTIFICATION_DELIVERY} <= kinds
    with service.state.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.ledger_outbox)).scalar_one() == 0

    key = _key(apis["air"])
    head = _head(apis["air"].get("/v1/ledger/tree-head").json()["tree_head"])
    assert head.size == len(rows) and check_signed_tree_head(head, key) is None

    version = _index_of(service, EntryType.DECLARATION_VERSION, declaration_id=decl_id, version=1)
    assert _verified_entry(apis["air"], version, key) is None
    assert _verified_entry(admin, version, key) is None  # the administrator sees every entry
    # need-to-know: the declaration version is air's; ngo learns of it through its notification
    assert apis["ngo"].get(f"/v1/ledger/entries/{version}").status_code == 404
    assert apis["stranger"].get(f"/v1/ledger/entries/{version}").status_code == 404
    delivered = _index_of(service, EntryType.NOTIFICATION_DELIVERY, event="delivered")
    assert _verified_entry(apis["ngo"], delivered, key) is None
    created = _index_of(service, EntryType.NOTIFICATION_DELIVERY, event="created")
    body = decode_entry(_b(apis["ngo"].get(f"/v1/ledger/entries/{created}").json()["entry"])).body
    assert body["payload"]["declaration"]["title"] == "live firing"  # the exact payload disclosed
    assert apis["stranger"].get(f"/v1/ledger/entries/{delivered}").status_code == 404
    assert apis["air"].get(f"/v1/ledger/entries/{len(rows) + 5}").status_code == 404


def test_consistency_between_two_heads_verifies(service: RunningService) -> None:
    _, apis = _setup(service)
    air = apis["air"]
    assert air.declare("flight", vol(35.0, 36.0)).status_code == 201
    tick(service.state)
    first = _head(air.get("/v1/ledger/tree-head").json()["tree_head"])
    for lat in (36.0, 37.0, 38.0):
        assert air.declare("flight", vol(lat, 36.0)).status_code == 201
    tick(service.state)
    second = _head(air.get("/v1/ledger/tree-head").json()["tree_head"])
    assert second.size > first.size

    key = _key(air)
    r = air.get("/v1/ledger/consistency", params={"first": first.size, "second": second.size})
    assert r.status_code == 200, r.text
    body = r.json()
    assert _head(body["first_tree_head"]) == first and _head(body["second_tree_head"]) == second
    for head in (first, second):
        assert check_signed_tree_head(head, key) is None
    proof = [_b(h) for h in body["proof"]]
    assert check_consistency(first.size, second.size, first.root, second.root, proof) is None
    assert check_consistency(first.size, second.size, second.root, second.root, proof) is not None
    assert air.get("/v1/ledger/consistency", params={"first": 0, "second": second.size + 1}).status_code == 404


def test_a_one_byte_change_in_a_stored_entry_fails_verification(service: RunningService) -> None:
    _, apis = _setup(service)
    made = apis["air"].declare("flight", vol(35.0, 36.0))
    assert made.status_code == 201, made.text
    tick(service.state)
    key = _key(apis["air"])
    idx = _index_of(service, EntryType.DECLARATION_VERSION, declaration_id=made.json()["declaration"]["id"])
    assert _verified_entry(apis["air"], idx, key) is None

    e = t.ledger_entries.c
    with service.state.db.begin() as conn:
        stored = bytearray(conn.execute(sa.select(e.entry).where(e.idx == idx)).scalar_one())
        stored[-3] ^= 0x01
        conn.execute(sa.update(t.ledger_entries).where(e.idx == idx).values(entry=bytes(stored)))
    assert _verified_entry(apis["air"], idx, key) is ProofFailure.ROOT_MISMATCH
