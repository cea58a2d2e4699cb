"""Offline verification of a bundle: signed tree heads, consistency between them, and entries with their proofs.

A `Bundle` is what an export hands a party (its on-disk format comes with the export command):

- `heads`: signed tree heads, sizes strictly increasing, timestamps never decreasing;
- `consistency`: one consistency proof from each head to the next (so the heads are one history);
- `entries`: entries in increasing log index, each with its canonical bytes, the size of the bundle head its
  inclusion proof is against, and that proof.

`verify_bundle` checks all of it with the public keys only, in that order, and stops at the first break, which
it names precisely (which part, its position, the entry's log index, what failed). Every byte of the bundle is
covered: head fields by the service's signature, cosignatures by the parties' keys, proof hashes and entry bytes
by the roots the heads sign. What it cannot see is an entry left out: a party's export is a selection of the log.

Speed (1M entries: a few seconds): proofs of neighbouring entries against one head share their upper hashes. The
first entry of each head is verified in full (RFC 9162 2.1.3.2). For each later one, whose path joins the path
of the entry before it at their lowest common ancestor X, only the hashes below X are computed; at X the two
children must match what the previous, verified, proof authenticated, and the proof's remaining hashes must be
byte for byte the previous proof's remaining hashes (the same nodes). That is exactly as strict as verifying the
proof in full (a change to any hash of it is caught, by a hash or by a comparison) and costs O(log distance)
hashes per entry instead of O(log size).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from hashlib import sha256

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ...errors import InvalidInput
from .canonical import decode_entry
from .keys import KeyRotation, trusted_service_keys
from .merkle import HASH_SIZE, check_consistency
from .tree_head import SignedTreeHead, check_signed_tree_head, key_ring

__all__ = [
    "Break",
    "BreakReason",
    "Bundle",
    "BundleEntry",
    "Part",
    "VerificationReport",
    "verify_bundle",
]

_NODE = b"\x01"
_LEAF = b"\x00"
_ONE_SIZE = {HASH_SIZE}


@dataclass(frozen=True, slots=True)
class BundleEntry:
    """An entry of the log: its `index`, canonical bytes `data`, and the inclusion proof (audit path, leaf to
    root) of its leaf in the tree of `tree_size` entries, whose signed head is in the bundle."""

    index: int
    data: bytes
    tree_size: int
    proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Bundle:
    """Signed heads (sizes increasing), consistency proofs between successive heads, entries (index increasing)."""

    heads: tuple[SignedTreeHead, ...]
    consistency: tuple[tuple[bytes, ...], ...]
    entries: tuple[BundleEntry, ...]
    rotations: tuple[KeyRotation, ...] = ()  #: the service's key rotations (keys.py), oldest first


class Part(enum.StrEnum):
    """Where in a bundle a break is."""

    BUNDLE = "bundle"
    HEAD = "head"
    CONSISTENCY = "consistency"
    ENTRY = "entry"


class BreakReason(enum.StrEnum):
    NO_HEADS = "no_heads"  #: nothing to verify against
    HEAD_INVALID = "head_invalid"  #: a signature or cosignature fails, or the head is malformed (see detail)
    HEADS_OUT_OF_ORDER = "heads_out_of_order"  #: sizes not strictly increasing, or time running backwards
    CONSISTENCY_COUNT = "consistency_count"  #: not exactly one consistency proof between successive heads
    NOT_CONSISTENT = "not_consistent"  #: a consistency proof fails: the later head does not extend the earlier
    ENTRIES_OUT_OF_ORDER = "entries_out_of_order"  #: indices not strictly increasing
    NO_SUCH_HEAD = "no_such_head"  #: the entry's proof names a tree size no head of the bundle has
    INDEX_OUT_OF_RANGE = "index_out_of_range"  #: the entry's index is not below its tree size
    MALFORMED_PROOF = "malformed_proof"  #: a proof hash not 32 bytes long
    PROOF_TOO_SHORT = "proof_too_short"  #: fewer hashes than the tree's shape needs
    PROOF_TOO_LONG = "proof_too_long"  #: more hashes than the tree's shape allows
    ROOT_MISMATCH = "root_mismatch"  #: the entry and its proof lead to another root than the head signs
    ENTRY_MISMATCH = "entry_mismatch"  #: the entry (or its proof's lower hashes) does not give the signed node
    PROOF_MISMATCH = "proof_mismatch"  #: a proof hash differs from the signed node at its position
    NOT_CANONICAL = "not_canonical"  #: the entry's bytes are not a canonical entry (with check_canonical)
    KEY_ROTATION_INVALID = "key_rotation_invalid"  #: a key rotation record's signatures do not both verify


@dataclass(frozen=True, slots=True)
class Break:
    """The first thing that failed: `part` and `position` (its place in that part of the bundle), the entry's log
    index for entry breaks, the reason and a sentence saying exactly what did not hold."""

    part: Part
    position: int
    reason: BreakReason
    detail: str
    entry_index: int | None = None

    def __str__(self) -> str:
        where = f"entry {self.entry_index} (bundle entry {self.position})" if self.entry_index is not None \
            else f"{self.part.value} {self.position}"
        return f"{where}: {self.reason.value}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """What was verified before the first break (everything, when `first_break` is None)."""

    heads: int
    cosignatures: int
    consistency_proofs: int
    entries: int
    first_break: Break | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


class _Head:
    """Per head: the root, and the path of the last entry verified against it (node hash and number of proof
    hashes from that level to the end, by level), which the next entry's path joins."""

    __slots__ = ("blob", "from_end", "index", "node", "root", "size")

    def __init__(self, size: int, root: bytes) -> None:
        self.size = size
        self.root = root
        self.index = -1
        self.blob = b""
        self.node: list[bytes] = [b""] * 64
        self.from_end: list[int] = [0] * 64


def _full(head: _Head, index: int, leaf: bytes, blob: bytes) -> tuple[BreakReason, str] | None:
    """Verify in full (RFC 9162 2.1.3.2), recording the path."""
    count = len(blob) // HASH_SIZE
    node, from_end = head.node, head.from_end
    fn, sn, level, j, r = index, head.size - 1, 0, 0, leaf
    while sn:
        if fn == sn and not fn & 1:  # right edge, no sibling at this level: the node rises unchanged
            tz = (fn & -fn).bit_length() - 1
            fn >>= tz
            sn >>= tz
            level += tz
        if j == count:
            return BreakReason.PROOF_TOO_SHORT, f"{count} proof hashes; the tree of {head.size} needs more"
        p = blob[j * HASH_SIZE:(j + 1) * HASH_SIZE]
        node[level] = r
        from_end[level] = count - j
        r = sha256(_NODE + p + r).digest() if fn & 1 else sha256(_NODE + r + p).digest()
        fn >>= 1
        sn >>= 1
        level += 1
        j += 1
    if j != count:
        return BreakReason.PROOF_TOO_LONG, f"{count} proof hashes; the tree of {head.size} needs {j}"
    if r != head.root:
        return BreakReason.ROOT_MISMATCH, (f"the entry and its proof lead to root {r.hex()[:16]}…, not the root "
                                           f"{head.root.hex()[:16]}… signed for size {head.size}")
    return None


def _joined(head: _Head, index: int, leaf: bytes, blob: bytes) -> tuple[BreakReason, str] | None:
    """Verify an entry after the previous one of the same head: hash up to where the paths join, compare the rest.
    Falls back to `_full` when the previous path did not record the join (it always does; a safety net)."""
    prev = head.index
    h = (prev ^ index).bit_length() - 1  # the paths' children of the common ancestor are at level h
    if head.from_end[h] == 0:
        return _full(head, index, leaf, blob)
    count = len(blob) // HASH_SIZE
    node, from_end = head.node, head.from_end
    fn, sn, level, j, r = index, head.size - 1, 0, 0, leaf
    while level < h:
        if fn == sn and not fn & 1:
            tz = (fn & -fn).bit_length() - 1
            fn >>= tz
            sn >>= tz
            level += tz
            if level >= h:
                break
        if j == count:
            return BreakReason.PROOF_TOO_SHORT, f"{count} proof hashes; the tree of {head.size} needs more"
        p = blob[j * HASH_SIZE:(j + 1) * HASH_SIZE]
        node[level] = r
        from_end[level] = count - j
        r = sha256(_NODE + p + r).digest() if fn & 1 else sha256(_NODE + r + p).digest()
        fn >>= 1
        sn >>= 1
        level += 1
        j += 1
    if level != h or not fn & 1:  # pragma: no cover - impossible for index > prev in one tree
        return _full(head, index, leaf, blob)
    if j == count:
        return BreakReason.PROOF_TOO_SHORT, f"{count} proof hashes; the tree of {head.size} needs more"
    prev_blob = head.blob
    k = len(prev_blob) - from_end[h] * HASH_SIZE  # the previous proof's hash at level h: our node, as signed
    if r != prev_blob[k:k + HASH_SIZE]:
        return BreakReason.ENTRY_MISMATCH, (
            f"the entry's leaf hash with proof hashes 0..{j - 1} gives {r.hex()[:16]}… where the tree of size "
            f"{head.size} has {prev_blob[k:k + HASH_SIZE].hex()[:16]}… (the entry bytes or those hashes changed)")
    if blob[j * HASH_SIZE:(j + 1) * HASH_SIZE] != node[h]:
        return BreakReason.PROOF_MISMATCH, (f"proof hash {j} is not the node the tree of size {head.size} has "
                                            f"there ({node[h].hex()[:16]}…)")
    mine, theirs = blob[(j + 1) * HASH_SIZE:], prev_blob[k + HASH_SIZE:]
    if mine != theirs:
        for m in range(min(len(mine), len(theirs)) // HASH_SIZE):
            if mine[m * HASH_SIZE:(m + 1) * HASH_SIZE] != theirs[m * HASH_SIZE:(m + 1) * HASH_SIZE]:
                return BreakReason.PROOF_MISMATCH, (f"proof hash {j + 1 + m} is not the node the tree of size "
                                                    f"{head.size} has there")
        if len(mine) < len(theirs):
            return BreakReason.PROOF_TOO_SHORT, f"{count} proof hashes; the tree of {head.size} needs more"
        return BreakReason.PROOF_TOO_LONG, f"{count} proof hashes; the tree of {head.size} needs fewer"
    node[h] = r
    from_end[h] = count - j
    return None


def verify_bundle(
    bundle: Bundle,
    service_keys: Ed25519PublicKey | Mapping[bytes, Ed25519PublicKey],
    cosigner_keys: Iterable[Ed25519PublicKey] | Mapping[bytes, Ed25519PublicKey] = (),
    *,
    required_cosigners: Iterable[bytes] = (),
    ignore_unknown_cosigners: bool = False,
    check_canonical: bool = False,
) -> VerificationReport:
    """Check every signature and proof of `bundle` with the public keys only; stop at the first break.

    service_keys: the service's key (or keys by key_id); with the bundle's key rotations, every key tied to
    them by valid rotation records is trusted too. cosigner_keys: parties' keys whose cosignatures are
    checked; a cosignature by another key is a break unless `ignore_unknown_cosigners`. required_cosigners: key
    ids that must have cosigned every head. check_canonical: also decode each entry (slower; the proofs already
    cover its bytes).
    """
    cosigners = cosigner_keys if isinstance(cosigner_keys, Mapping) else key_ring(cosigner_keys)
    required = tuple(required_cosigners)
    heads = bundle.heads
    n_heads = n_cos = n_cons = n_entries = 0

    def report(brk: Break | None) -> VerificationReport:
        return VerificationReport(n_heads, n_cos, n_cons, n_entries, brk)

    if not heads:
        return report(Break(Part.BUNDLE, 0, BreakReason.NO_HEADS, "the bundle has no signed tree head"))
    if bundle.rotations:  # the keys the given ones hand over to (or took over from) sign heads too
        anchors = service_keys.values() if isinstance(service_keys, Mapping) else [service_keys]
        ring, bad = trusted_service_keys(anchors, bundle.rotations)
        if bad is not None:
            return report(Break(Part.BUNDLE, bad[0], BreakReason.KEY_ROTATION_INVALID,
                                f"key rotation {bad[0]}: {bad[1]}"))
        service_keys = ring
    for pos, sth in enumerate(heads):
        problem = check_signed_tree_head(sth, service_keys, cosigners, required_cosigners=required,
                                         ignore_unknown_cosigners=ignore_unknown_cosigners)
        if problem is not None:
            where = f"cosignature {problem.cosignature}: " if problem.cosignature is not None else ""
            return report(Break(Part.HEAD, pos, BreakReason.HEAD_INVALID,
                                f"{where}{problem.reason.value}: {problem.detail}"))
        if pos and (sth.size <= heads[pos - 1].size or sth.timestamp_ms < heads[pos - 1].timestamp_ms):
            return report(Break(Part.HEAD, pos, BreakReason.HEADS_OUT_OF_ORDER,
                                f"size {sth.size} at {sth.timestamp_ms} ms follows size {heads[pos - 1].size} "
                                f"at {heads[pos - 1].timestamp_ms} ms"))
        n_heads += 1
        n_cos += sum(1 for c in sth.cosignatures if c.key_id in cosigners)

    if len(bundle.consistency) != len(heads) - 1:
        return report(Break(Part.CONSISTENCY, 0, BreakReason.CONSISTENCY_COUNT,
                            f"{len(bundle.consistency)} consistency proofs for {len(heads)} heads "
                            f"(want {len(heads) - 1})"))
    for pos, proof in enumerate(bundle.consistency):
        old, new = heads[pos].head, heads[pos + 1].head
        failure = check_consistency(old.size, new.size, old.root, new.root, proof)
        if failure is not None:
            return report(Break(Part.CONSISTENCY, pos, BreakReason.NOT_CONSISTENT,
                                f"{failure.value}: the head of size {new.size} does not extend the head of "
                                f"size {old.size}"))
        n_cons += 1

    by_size = {sth.size: _Head(sth.size, bytes(sth.root)) for sth in heads}
    last = -1
    for pos, e in enumerate(bundle.entries):
        index = e.index

        def brk(reason: BreakReason, detail: str, pos: int = pos, index: int = index) -> VerificationReport:
            return report(Break(Part.ENTRY, pos, reason, detail, index))

        if index <= last:
            return brk(BreakReason.ENTRIES_OUT_OF_ORDER, f"index {index} follows index {last}")
        head = by_size.get(e.tree_size)
        if head is None:
            return brk(BreakReason.NO_SUCH_HEAD, f"its proof is against a tree of size {e.tree_size}; the bundle "
                                                 "has no head of that size")
        if index >= head.size:
            return brk(BreakReason.INDEX_OUT_OF_RANGE, f"index {index} is not in a tree of {head.size} entries")
        if e.proof and set(map(len, e.proof)) != _ONE_SIZE:
            return brk(BreakReason.MALFORMED_PROOF, f"a proof hash is not {HASH_SIZE} bytes")
        if check_canonical:
            try:
                decode_entry(e.data)
            except InvalidInput as exc:
                return brk(BreakReason.NOT_CANONICAL, exc.message)
        leaf = sha256(_LEAF + e.data).digest()
        blob = b"".join(e.proof)
        failed = _full(head, index, leaf, blob) if head.index < 0 else _joined(head, index, leaf, blob)
        if failed is not None:
            return brk(*failed)
        head.index = index
        head.blob = blob
        last = index
        n_entries += 1
    return report(None)
