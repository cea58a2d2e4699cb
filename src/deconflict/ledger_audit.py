"""The operator's audit of the stored log (`deconflict ledger audit --db`): recompute the Merkle tree from the
entry bytes in `ledger_entries` and check it against every signed tree head in `tree_heads`, with the service's
keys (current and retired) and, for stored cosignatures, the cosigning party's registered key.

What it finds, first problem first (in log order):
- a gap in the indices;
- an entry whose bytes no longer give the leaf hash stored beside it (the exact entry changed);
- a signed head whose signature does not verify with any service key;
- a head whose root the stored entries no longer give (an entry below it changed, its stored leaf hash too:
  the range between the last head that still matches and this one is named);
- a key rotation record whose two signatures do not both verify;
- a stored cosignature that does not verify with the cosigner's registered key (a cosignature by a key the
  party has since replaced is counted as not checked).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .core.ledger import (
    Cosignature,
    MerkleLog,
    SignedTreeHead,
    TreeHead,
    check_cosignature,
    check_rotation,
    check_signed_tree_head,
    key_id,
    leaf_hash,
)
from .service.ledger import rotations
from .store import schema as t

__all__ = ["AuditReport", "audit_store"]

_BATCH = 10_000


@dataclass
class AuditReport:
    entries: int = 0
    heads: int = 0
    cosignatures: int = 0
    unchecked_cosignatures: int = 0
    unsigned: int = 0  #: entries beyond the latest signed head
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def audit_store(engine: sa.Engine) -> AuditReport:
    """Recompute the tree from the stored entries and check every signed head (and stored cosignature)."""
    report = AuditReport()
    with engine.connect() as conn:
        k = t.service_keys.c
        keys = {bytes(r.key_id): Ed25519PublicKey.from_public_bytes(bytes(r.public_key))
                for r in conn.execute(sa.select(k.key_id, k.public_key))}
        h = t.tree_heads.c
        heads = [SignedTreeHead(TreeHead(int(r.size), bytes(r.root), int(r.timestamp_ms)), bytes(r.key_id),
                                bytes(r.signature)) for r in conn.execute(sa.select(t.tree_heads).order_by(h.size))]
        p = t.parties.c
        party_keys: dict[str, Ed25519PublicKey] = {}
        for r in conn.execute(sa.select(p.id, p.public_key).where(p.public_key.is_not(None))):
            try:
                party_keys[r.id] = Ed25519PublicKey.from_public_bytes(base64.b64decode(r.public_key))
            except ValueError:
                continue
        c = t.tree_head_cosignatures.c
        cosigs: dict[int, list[tuple[str, Cosignature]]] = {}
        for r in conn.execute(sa.select(t.tree_head_cosignatures).order_by(c.size, c.created_at)):
            cosigs.setdefault(int(r.size), []).append(
                (r.party_id, Cosignature(bytes(r.key_id), int(r.cosigned_at_ms), bytes(r.signature))))
        for pos, rotation in enumerate(rotations(conn)):
            failed = check_rotation(rotation)
            if failed is not None:
                report.problems.append(f"key rotation {pos}: {failed}")
        merkle = MerkleLog()
        e = t.ledger_entries.c
        while True:
            rows = conn.execute(sa.select(e.idx, e.entry, e.leaf_hash).where(e.idx >= merkle.size)
                                .order_by(e.idx).limit(_BATCH)).all()
            for r in rows:
                if r.idx != merkle.size:
                    report.problems.append(f"entry {merkle.size}: missing (the next stored index is {r.idx})")
                    break
                leaf = leaf_hash(bytes(r.entry))
                if leaf != bytes(r.leaf_hash):
                    report.problems.append(f"entry {r.idx}: its stored bytes do not give its stored leaf hash "
                                           "(the entry was changed after it was written)")
                merkle.append_leaf_hash(leaf)
            if len(rows) < _BATCH or report.problems:
                break
    report.entries = merkle.size
    below = 0
    for head in heads:
        problem = check_signed_tree_head(head, keys)
        if problem is not None:
            report.problems.append(f"head of size {head.size}: {problem.reason.value}: {problem.detail}")
        elif head.size > merkle.size:
            report.problems.append(f"head of size {head.size}: the store holds only {merkle.size} entries")
        elif merkle.root(head.size) != head.root:
            report.problems.append(f"head of size {head.size}: root_mismatch: the stored entries give another root; "
                                   f"an entry in {below}..{head.size - 1} was changed after it was signed")
        else:
            below = head.size
            report.heads += 1
        for party_id, cos in cosigs.get(head.size, []):
            key = party_keys.get(party_id)
            if key is None or key_id(key) != cos.key_id:
                report.unchecked_cosignatures += 1
                continue
            failed = check_cosignature(head.head, cos, {cos.key_id: key})
            if failed is not None:
                report.problems.append(f"head of size {head.size}: cosignature by party {party_id}: "
                                       f"{failed.reason.value}: {failed.detail}")
            else:
                report.cosignatures += 1
    report.unsigned = merkle.size - (heads[-1].size if heads else 0)
    return report
