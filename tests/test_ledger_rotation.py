"""Service key rotation (issue 5): heads after a rotation are signed by the new key, the old heads still verify,
and the bundle carries the rotation record (signed by both keys) so a verifier holding either key trusts the
other; a tampered record is a named break. Core first, then through the service, the CLI and the witness."""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import replace
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from deconflict.core.ledger import (
    BreakReason,
    Bundle,
    MerkleLog,
    Part,
    TreeHead,
    check_rotation,
    consistency_proof,
    key_id,
    sign_rotation,
    sign_tree_head,
    trusted_service_keys,
    verify_bundle,
)
from deconflict.service.scheduler import tick
from deconflict.service.server import RunningService

from .service_helpers import vol
from .test_ledger_cli import _activity, _cli, _db, _export, _verify

A, B, C = (Ed25519PrivateKey.from_private_bytes(bytes([n]) * 32) for n in (1, 2, 3))


def test_a_chain_of_rotations_is_trusted_from_either_end() -> None:
    ab, bc = sign_rotation(A, B, 1000), sign_rotation(B, C, 2000)
    assert check_rotation(ab) is None and check_rotation(bc) is None
    for anchor in (A, B, C):
        ring, bad = trusted_service_keys([anchor.public_key()], [ab, bc])
        assert bad is None and set(ring) == {key_id(A), key_id(B), key_id(C)}
    forged = replace(bc, new_key=Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw,
                                                                                        PublicFormat.Raw))
    assert check_rotation(forged) == "the old key's signature does not verify"
    ring, bad = trusted_service_keys([A.public_key()], [ab, forged])
    assert bad == (1, "the old key's signature does not verify") and set(ring) == {key_id(A), key_id(B)}
    # a record signed by the old key alone (the new key's signature from another message) does not hold
    assert check_rotation(replace(ab, new_signature=bc.new_signature)) == "the new key's signature does not verify"


def test_a_bundle_across_a_rotation_verifies_with_either_key() -> None:
    log = MerkleLog()
    log.extend([b"entry %d" % i for i in range(10)])
    first = sign_tree_head(TreeHead(4, log.root(4), 1000), A)
    second = sign_tree_head(TreeHead(10, log.root(10), 3000), B)
    bundle = Bundle((first, second), (tuple(consistency_proof(log, 4, 10)),), (), (sign_rotation(A, B, 2000),))
    assert verify_bundle(bundle, A.public_key()).ok and verify_bundle(bundle, B.public_key()).ok
    assert not verify_bundle(replace(bundle, rotations=()), A.public_key()).ok  # B's head: unknown key
    assert not verify_bundle(bundle, C.public_key()).ok
    bad = replace(bundle, rotations=(replace(bundle.rotations[0], rotated_at_ms=2001),))
    brk = verify_bundle(bad, A.public_key()).first_break
    assert brk is not None and (brk.part, brk.position, brk.reason) == (Part.BUNDLE, 0,
                                                                       BreakReason.KEY_ROTATION_INVALID)


def test_rotation_through_the_service(service: RunningService, tmp_path: Path) -> None:
    admin, apis = _activity(service)
    air = apis["air"]
    old_pub = tmp_path / "old.json"
    old_pub.write_text(air.get("/v1/ledger/key").text)
    before = air.get("/v1/ledger/tree-head").json()["tree_head"]

    # a party witnesses with the old key pinned
    party = Ed25519PrivateKey.generate()
    pem = tmp_path / "air.pem"
    pem.write_bytes(party.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    state = tmp_path / "state.json"
    witness = ["ledger", "cosign", "--url", service.url, "--token", air.token, "--key", pem, "--state", state,
               "--register"]
    assert _cli(*witness).exit_code == 0

    assert air.post("/v1/ledger/key/rotate").status_code == 403
    rotated = admin.post("/v1/ledger/key/rotate")
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert new["key_id"] != json.loads(old_pub.read_text())["key_id"] and len(new["rotations"]) == 1
    assert air.get("/v1/ledger/key").json() == new
    assert air.declare("flight", vol(50.0, 10.0)).status_code == 201
    tick(service.state)
    after = air.get("/v1/ledger/tree-head").json()["tree_head"]
    assert after["size"] > before["size"] and after["key_id"] == new["key_id"] != before["key_id"]

    follow = _cli(*witness)  # the pinned key handed over, signed by both: followed, and the pin moves
    assert follow.exit_code == 0, (follow.output, follow.exception)
    assert json.loads(state.read_text())["service_key"] == new["public_key"]

    new_pub = tmp_path / "new.json"
    new_pub.write_text(json.dumps(new))
    doc = _export(service, "air", tmp_path / "air.json", "--to", "2100-01-01T00:00:00Z")
    assert {h["key_id"] for h in doc["heads"]} == {before["key_id"], new["key_id"]}
    assert len(doc["key_rotations"]) == 1
    for key in (old_pub, new_pub):
        ok = _verify(doc, tmp_path, key)
        assert ok.exit_code == 0 and ok.output.startswith("OK:"), ok.output
    stripped = copy.deepcopy(doc)
    stripped["key_rotations"] = []
    assert "unknown_key" in _verify(stripped, tmp_path, old_pub).output
    tampered = copy.deepcopy(doc)
    sig = bytearray(base64.b64decode(tampered["key_rotations"][0]["new_signature"]))
    sig[5] ^= 1
    tampered["key_rotations"][0]["new_signature"] = base64.b64encode(bytes(sig)).decode()
    broken = _verify(tampered, tmp_path, old_pub)
    assert broken.exit_code == 1 and broken.output.startswith("BROKEN: bundle 0: key_rotation_invalid"), broken.output

    audit = _cli("ledger", "audit", "--db", _db(service))
    assert audit.exit_code == 0 and audit.output.startswith("OK:"), audit.output
    offline = _cli("ledger", "rotate-key", "--db", _db(service))  # the operator's tool; the service follows
    assert offline.exit_code == 0 and offline.output.startswith("rotated the service key"), offline.output
    assert air.declare("flight", vol(51.0, 10.0)).status_code == 201
    tick(service.state)
    third = air.get("/v1/ledger/tree-head").json()["tree_head"]["key_id"]
    assert third not in (before["key_id"], new["key_id"]) and third == air.get("/v1/ledger/key").json()["key_id"]
    full = _export(service, "air", tmp_path / "air2.json", "--to", "2100-01-01T00:00:00Z")
    assert _verify(full, tmp_path, old_pub).exit_code == 0
