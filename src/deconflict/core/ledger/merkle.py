"""RFC 6962 Merkle trees: hashing, tree heads, inclusion and consistency proofs, and an append-only log.

Hashing (RFC 6962 section 2.1): a leaf hash is SHA-256(0x00 || entry), an interior node SHA-256(0x01 || left ||
right); the Merkle Tree Hash (MTH) of n > 1 leaves splits them at k, the largest power of two smaller than n, and
hashes MTH(D[0:k]) with MTH(D[k:n]); the MTH of no leaves is SHA-256 of the empty string.

Every node of that tree covers a range [start, end) whose start is a multiple of the largest power of two below
its width, so its hash is a right fold of perfect subtrees (widths: the binary digits of end - start, largest
first). A `HashSource` therefore only has to answer two questions: the hash of leaf i, and the root of the perfect
subtree of 2**level leaves starting at leaf index * 2**level. `MerkleLog` answers both from memory (every level
kept in one bytearray each: 64 bytes a leaf in all); a store-backed source can answer them from its tables.

Proofs are lists of 32-byte hashes, ordered as RFC 6962 2.1.1 (audit path, leaf to root) and 2.1.2 (consistency,
SUBPROOF order) define them; verification follows RFC 9162 2.1.3.2 and 2.1.4.2 and returns a `ProofFailure`
naming what failed, or None when the proof holds.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from hashlib import sha256
from typing import Protocol, runtime_checkable

from ...errors import InvalidInput

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "HashSource",
    "MerkleLog",
    "ProofFailure",
    "check_consistency",
    "check_inclusion",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "range_root",
    "root_from_inclusion",
    "root_of",
    "split_point",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32  #: bytes in every hash (SHA-256)
EMPTY_ROOT = sha256(b"").digest()  #: MTH of the empty tree
_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry)."""
    return sha256(_LEAF + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return sha256(_NODE + left + right).digest()


def split_point(n: int) -> int:
    """k of RFC 6962: the largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of the given leaf hashes, with no stored state (a reference and a baseline): one pass that keeps the
    roots of the perfect subtrees seen so far, then folds them right to left."""
    stack: list[tuple[int, bytes]] = []  # (width, root)
    for h in leaf_hashes:
        width, node = 1, h
        while stack and stack[-1][0] == width:
            w, left = stack.pop()
            node = node_hash(left, node)
            width += w
        stack.append((width, node))
    if not stack:
        return EMPTY_ROOT
    node = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        node = node_hash(left, node)
    return node


@runtime_checkable
class HashSource(Protocol):
    """What proofs need from a log: leaf hashes and roots of perfect subtrees within `size` leaves."""

    @property
    def size(self) -> int:
        """Leaves held."""
        ...

    def leaf(self, index: int) -> bytes:
        """The leaf hash of entry `index` (0 <= index < size)."""
        ...

    def subtree(self, level: int, index: int) -> bytes:
        """Root of the perfect subtree over leaves [index * 2**level, (index + 1) * 2**level), which must lie
        within size; subtree(0, i) == leaf(i)."""
        ...


def range_root(source: HashSource, start: int, end: int) -> bytes:
    """MTH of leaves [start, end) of `source`, for a range that is a node of some RFC 6962 tree (start a multiple
    of the largest power of two below end - start; every range a proof needs is one): a right fold of perfect
    subtrees, at most log2(end - start) hashes."""
    width = end - start
    if width <= 0:
        return EMPTY_ROOT
    pieces: list[bytes] = []
    pos = start
    while pos < end:
        level = (end - pos).bit_length() - 1
        if pos & ((1 << level) - 1):  # pragma: no cover - not a node of an RFC 6962 tree
            raise InvalidInput(f"[{start}, {end}) is not a node of a Merkle tree", field="range")
        pieces.append(source.subtree(level, pos >> level))
        pos += 1 << level
    node = pieces[-1]
    for left in reversed(pieces[:-1]):
        node = node_hash(left, node)
    return node


def _check_size(source: HashSource, size: int | None) -> int:
    n = source.size if size is None else size
    if not 0 <= n <= source.size:
        raise InvalidInput(f"tree size {n} is not between 0 and the log's size {source.size}", field="size")
    return n


def inclusion_proof(source: HashSource, index: int, size: int | None = None) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 6962 2.1.1, leaf to root (size: the log's size when None)."""
    n = _check_size(source, size)
    if not 0 <= index < n:
        raise InvalidInput(f"entry {index} is not in a tree of {n} entries", field="index")
    siblings: list[bytes] = []
    lo, hi = 0, n
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index < lo + k:
            siblings.append(range_root(source, lo + k, hi))  # non-perfect at most once: [lo, lo+k) is perfect
            hi = lo + k
        else:
            siblings.append(source.subtree(k.bit_length() - 1, lo // k))
            lo += k
    siblings.reverse()
    return siblings


def consistency_proof(source: HashSource, old_size: int, new_size: int | None = None) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) of RFC 6962 2.1.2 (empty when old_size is 0 or equals new_size)."""
    n = _check_size(source, new_size)
    if not 0 <= old_size <= n:
        raise InvalidInput(f"old size {old_size} is not between 0 and {n}", field="old_size")
    if old_size in (0, n):
        return []
    outer: list[bytes] = []
    first: list[bytes] = []
    lo, hi, whole = 0, n, True  # SUBPROOF(old_size - lo, D[lo:hi], whole)
    while True:
        if old_size == hi:
            if not whole:
                first.append(range_root(source, lo, hi))
            break
        k = split_point(hi - lo)
        if old_size <= lo + k:
            outer.append(range_root(source, lo + k, hi))
            hi = lo + k
        else:
            outer.append(source.subtree(k.bit_length() - 1, lo // k))
            lo += k
            whole = False
    outer.reverse()
    return first + outer


class ProofFailure(enum.StrEnum):
    """Why a proof does not hold."""

    BAD_SIZE = "bad_size"  #: index/size (or old/new size) impossible
    BAD_HASH_LENGTH = "bad_hash_length"  #: a root, leaf or proof hash is not 32 bytes
    TOO_SHORT = "too_short"  #: the proof has fewer hashes than the tree's shape needs
    TOO_LONG = "too_long"  #: the proof has more hashes than the tree's shape allows
    ROOT_MISMATCH = "root_mismatch"  #: the hashes lead to another root (new root, for consistency)
    OLD_ROOT_MISMATCH = "old_root_mismatch"  #: consistency: the proof does not rebuild the old root


def _bad_lengths(*hashes: bytes | Iterable[bytes]) -> bool:
    for h in hashes:
        if isinstance(h, bytes):
            if len(h) != HASH_SIZE:
                return True
        elif any(len(x) != HASH_SIZE for x in h):
            return True
    return False


def _promote(fn: int, sn: int) -> tuple[int, int]:
    """Right-shift fn and sn until fn is odd or zero (a right-edge node with no sibling rises unchanged)."""
    if fn == 0:
        return fn, sn
    tz = (fn & -fn).bit_length() - 1
    return fn >> tz, sn >> tz


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | ProofFailure:
    """The root an audit path leads to (RFC 9162 2.1.3.2 steps 1-5), or why it cannot lead to any."""
    if not 0 <= index < size:
        return ProofFailure.BAD_SIZE
    if _bad_lengths(leaf, proof):
        return ProofFailure.BAD_HASH_LENGTH
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return ProofFailure.TOO_LONG
        if fn & 1 or fn == sn:
            r = sha256(_NODE + p + r).digest()
            if not fn & 1:
                fn, sn = _promote(fn, sn)
        else:
            r = sha256(_NODE + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return ProofFailure.TOO_SHORT
    return r


def check_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> ProofFailure | None:
    """None when `proof` shows the leaf hash `leaf` at `index` of the tree of `size` leaves with `root`."""
    if len(root) != HASH_SIZE:
        return ProofFailure.BAD_HASH_LENGTH
    got = root_from_inclusion(index, size, leaf, proof)
    if isinstance(got, ProofFailure):
        return got
    return None if got == root else ProofFailure.ROOT_MISMATCH


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """True when the audit path holds (see check_inclusion for the reason when it does not)."""
    return check_inclusion(index, size, leaf, proof, root) is None


def check_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes],
) -> ProofFailure | None:
    """None when `proof` shows the tree (old_size, old_root) is a prefix of (new_size, new_root). A tree of 0
    leaves (root EMPTY_ROOT) is a prefix of any tree, with an empty proof; equal sizes need equal roots."""
    if not 0 <= old_size <= new_size:
        return ProofFailure.BAD_SIZE
    if _bad_lengths(old_root, new_root, proof):
        return ProofFailure.BAD_HASH_LENGTH
    if old_size == 0 or old_size == new_size:
        if proof:
            return ProofFailure.TOO_LONG
        if old_size == 0:
            return None if old_root == EMPTY_ROOT else ProofFailure.OLD_ROOT_MISMATCH
        return None if old_root == new_root else ProofFailure.ROOT_MISMATCH
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old tree is a node of the new one
        path.insert(0, old_root)
    if not path:
        return ProofFailure.TOO_SHORT
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return ProofFailure.TOO_LONG
        if fn & 1 or fn == sn:
            fr = sha256(_NODE + c + fr).digest()
            sr = sha256(_NODE + c + sr).digest()
            if not fn & 1:
                fn, sn = _promote(fn, sn)
        else:
            sr = sha256(_NODE + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return ProofFailure.TOO_SHORT
    if fr != old_root:
        return ProofFailure.OLD_ROOT_MISMATCH
    if sr != new_root:
        return ProofFailure.ROOT_MISMATCH
    return None


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes],
) -> bool:
    """True when the consistency proof holds (see check_consistency for the reason when it does not)."""
    return check_consistency(old_size, new_size, old_root, new_root, proof) is None


class MerkleLog:
    """An append-only Merkle log in memory: every level of perfect-subtree roots in one bytearray each, so a leaf
    costs two hashes on average to append and 64 bytes to keep, and a proof is O(log n) lookups (at most one
    O(log n) fold for the right edge). Implements `HashSource`.

    Entries themselves are not kept: the caller stores them (the ledger's table); the log keeps their hashes.
    """

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]

    @property
    def size(self) -> int:
        return len(self._levels[0]) // HASH_SIZE

    def __len__(self) -> int:
        return self.size

    def append(self, entry: bytes) -> int:
        """Append an entry (its canonical bytes); return its index."""
        return self.append_leaf_hash(sha256(_LEAF + entry).digest())

    def append_leaf_hash(self, leaf: bytes) -> int:
        """Append a leaf by its hash; return its index."""
        if len(leaf) != HASH_SIZE:
            raise InvalidInput(f"a leaf hash has {HASH_SIZE} bytes, not {len(leaf)}", field="leaf")
        levels = self._levels
        levels[0] += leaf
        index = len(levels[0]) // HASH_SIZE - 1
        level, node, i = 0, leaf, index
        while i & 1:  # this node completes a pair: its parent is now a perfect subtree
            buf = levels[level]
            node = sha256(_NODE + buf[-2 * HASH_SIZE:-HASH_SIZE] + node).digest()
            level += 1
            if level == len(levels):
                levels.append(bytearray())
            levels[level] += node
            i >>= 1
        return index

    def extend(self, entries: Iterable[bytes]) -> None:
        """Append many entries (their canonical bytes) in order."""
        self.extend_leaf_hashes(b"".join([sha256(_LEAF + e).digest() for e in entries]))

    def extend_leaf_hashes(self, leaves: bytes) -> None:
        """Append many leaves given as concatenated 32-byte hashes; interior levels are filled level by level."""
        if len(leaves) % HASH_SIZE:
            raise InvalidInput(f"leaf hashes come in {HASH_SIZE}-byte units", field="leaves")
        levels = self._levels
        levels[0] += leaves
        level = 0
        while True:
            below = levels[level]
            pairs = len(below) // (2 * HASH_SIZE)
            if pairs == 0:
                break
            if level + 1 == len(levels):
                levels.append(bytearray())
            above = levels[level + 1]
            have = len(above) // HASH_SIZE
            if have == pairs:
                break
            mv = memoryview(below)
            step = 2 * HASH_SIZE
            above += b"".join([sha256(_NODE + mv[k:k + step]).digest()
                               for k in range(have * step, pairs * step, step)])
            mv.release()
            level += 1

    def leaf(self, index: int) -> bytes:
        if not 0 <= index < self.size:
            raise InvalidInput(f"entry {index} is not in a log of {self.size} entries", field="index")
        return bytes(self._levels[0][index * HASH_SIZE:(index + 1) * HASH_SIZE])

    def subtree(self, level: int, index: int) -> bytes:
        if level >= len(self._levels) or not 0 <= index < len(self._levels[level]) // HASH_SIZE:
            raise InvalidInput(f"no perfect subtree {index} at level {level} in a log of {self.size} entries",
                               field="subtree")
        return bytes(self._levels[level][index * HASH_SIZE:(index + 1) * HASH_SIZE])

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first `size` entries (all when None)."""
        return range_root(self, 0, _check_size(self, size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path of entry `index` in the tree of the first `size` entries (all when None)."""
        return inclusion_proof(self, index, size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Proof that the tree of `old_size` entries is a prefix of the tree of `new_size` (all when None)."""
        return consistency_proof(self, old_size, new_size)

    def nbytes(self) -> int:
        """Memory held by the hashes, in bytes."""
        return sum(len(b) for b in self._levels)
