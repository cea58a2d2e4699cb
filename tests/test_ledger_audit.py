"""`deconflict ledger audit --db` (issue 5): the stored log recomputed and checked against its signed heads.
A one-byte change in a stored entry is named at that entry; the same change with its stored leaf hash rewritten
is still caught at the first signed head above it, with the range; a changed head or cosignature is named."""

from __future__ import annotations

import base64

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from deconflict.core.ledger import SignedTreeHead, TreeHead, cosign, leaf_hash
from deconflict.service.server import RunningService
from deconflict.store import schema as t

from .test_ledger_cli import _activity, _cli, _db


def _audit(service: RunningService) -> tuple[int, str]:
    result = _cli("ledger", "audit", "--db", _db(service))
    return result.exit_code, result.output


def _flip(service: RunningService, idx: int, *, rehash: bool) -> None:
    e = t.ledger_entries.c
    with service.state.db.begin() as conn:
        stored = bytearray(conn.execute(sa.select(e.entry).where(e.idx == idx)).scalar_one())
        stored[-2] ^= 0x01
        values = {"entry": bytes(stored), **({"leaf_hash": leaf_hash(bytes(stored))} if rehash else {})}
        conn.execute(sa.update(t.ledger_entries).where(e.idx == idx).values(**values))


def test_audit_passes_then_names_a_changed_entry(service: RunningService) -> None:
    _activity(service)
    code, out = _audit(service)
    assert code == 0 and out.startswith("OK: ") and "signed heads match the stored log" in out, out
    with service.state.db.connect() as conn:
        sizes = [int(s) for s in conn.execute(sa.select(t.tree_heads.c.size).order_by(t.tree_heads.c.size))
                 .scalars()]
    assert len(sizes) >= 2
    idx = sizes[0] + 1  # an entry of the second head
    _flip(service, idx, rehash=False)
    code, out = _audit(service)
    assert code == 1 and out.startswith(f"BROKEN: entry {idx}: its stored bytes do not give its stored leaf hash")
    assert f"head of size {sizes[1]}: root_mismatch" in out and f"an entry in {sizes[0]}..{sizes[1] - 1}" in out


def test_audit_catches_a_change_whose_leaf_hash_was_rewritten_too(service: RunningService) -> None:
    _activity(service)
    _flip(service, 0, rehash=True)
    code, out = _audit(service)
    assert code == 1 and out.startswith("BROKEN: head of size "), out
    assert "root_mismatch" in out and "an entry in 0.." in out


def test_audit_names_a_changed_head_and_a_changed_cosignature(service: RunningService) -> None:
    _, apis = _activity(service)
    party_key = Ed25519PrivateKey.generate()
    raw = party_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert apis["air"].put("/v1/parties/me/key", json={"public_key": base64.b64encode(raw).decode()}
                           ).status_code == 200
    body = apis["air"].get("/v1/ledger/tree-head").json()["tree_head"]
    head = SignedTreeHead(TreeHead(body["size"], base64.b64decode(body["root"]), body["timestamp_ms"]),
                          base64.b64decode(body["key_id"]), base64.b64decode(body["signature"]))
    sig = cosign(head, party_key, head.timestamp_ms + 10).cosignatures[-1].signature
    assert apis["air"].post(f"/v1/ledger/tree-head/{head.size}/cosign", json={
        "cosigned_at_ms": head.timestamp_ms + 10, "signature": base64.b64encode(sig).decode()}).status_code == 201
    code, out = _audit(service)
    assert code == 0 and "1 cosignatures verified" in out, out

    c = t.tree_head_cosignatures.c
    with service.state.db.begin() as conn:
        conn.execute(sa.update(t.tree_head_cosignatures).where(c.size == head.size).values(
            cosigned_at_ms=head.timestamp_ms + 11))
    code, out = _audit(service)
    assert code == 1 and f"head of size {head.size}: cosignature by party" in out and "cosignature_bad" in out

    h = t.tree_heads.c
    with service.state.db.begin() as conn:
        conn.execute(sa.update(t.tree_heads).where(h.size == head.size).values(timestamp_ms=head.timestamp_ms + 1))
    code, out = _audit(service)
    assert code == 1 and f"BROKEN: head of size {head.size}: bad_signature" in out, out
