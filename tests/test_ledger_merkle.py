"""RFC 6962 Merkle hashing and proofs (deconflict.core.ledger.merkle) and canonical entry bytes.

Known answers: the 8-leaf example of the Certificate Transparency reference code (the leaf inputs, node hashes,
roots and proofs published in transparency-dev/merkle's testonly and proof packages). Then every tree of up to 64
leaves against a reference written straight from RFC 6962's recursive definitions, and Hypothesis properties:
every proof verifies, and any flipped bit in a proof, root or leaf, or a wrong index or size, fails.
"""

from __future__ import annotations

import math
from hashlib import sha256

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict.core.ledger import (
    EMPTY_ROOT,
    EntryType,
    HashSource,
    LedgerEntry,
    MerkleLog,
    ProofFailure,
    check_consistency,
    check_inclusion,
    decode_entry,
    decode_value,
    encode_entry,
    encode_value,
    leaf_hash,
    node_hash,
    root_from_inclusion,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from deconflict.errors import InvalidInput

h = bytes.fromhex

# --- the Certificate Transparency 8-leaf example -------------------------------------------------------------------

LEAVES = [h(x) for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                         "606162636465666768696a6b6c6d6e6f")]
NODES = [  # level, then index within the level
    [h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
     h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
     h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
     h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
     h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
     h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
     h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
     h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1")],
    [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
     h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
     h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
     h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0")],
    [h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
     h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")],
    [h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]
ROOTS = [EMPTY_ROOT] + [h(x) for x in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]
# (leaf index, tree size, audit path); the published vectors number leaves from 1
INCLUSION = [
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]


@pytest.fixture(scope="module")
def ct_log() -> MerkleLog:
    log = MerkleLog()
    for entry in LEAVES:
        log.append(entry)
    return log


def test_known_leaf_and_node_hashes(ct_log: MerkleLog) -> None:
    assert [leaf_hash(x) for x in LEAVES] == NODES[0]
    for level, hashes in enumerate(NODES):
        assert [ct_log.subtree(level, i) for i in range(len(hashes))] == hashes
    assert h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == EMPTY_ROOT


def test_known_roots(ct_log: MerkleLog) -> None:
    assert [ct_log.root(n) for n in range(9)] == ROOTS
    assert [root_of(NODES[0][:n]) for n in range(9)] == ROOTS
    grown = MerkleLog()
    for n, entry in enumerate(LEAVES, 1):
        grown.append(entry)
        assert grown.root() == ROOTS[n]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_known_inclusion_proofs(ct_log: MerkleLog, index: int, size: int, path: list[str]) -> None:
    proof = ct_log.inclusion_proof(index, size)
    assert [p.hex() for p in proof] == path
    assert check_inclusion(index, size, NODES[0][index], proof, ROOTS[size]) is None


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_known_consistency_proofs(ct_log: MerkleLog, old: int, new: int, path: list[str]) -> None:
    proof = ct_log.consistency_proof(old, new)
    assert [p.hex() for p in proof] == path
    assert check_consistency(old, new, ROOTS[old], ROOTS[new], proof) is None


def _corrupted(proof: list[bytes]) -> list[tuple[str, list[bytes]]]:
    """The mutations transparency-dev's verifier tests apply (same ideas, written here)."""
    some = h("abacaba000000000000000000000000000000000000000000060061e00123456")
    out = [("trailing empty", [*proof, b""]), ("trailing hash", [*proof, some]),
           ("leading empty", [b"", *proof]), ("leading hash", [some, *proof])]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        out.append((f"bit flip in {i}", flipped))
    if proof:
        out.append(("removed last", proof[:-1]))
    if len(proof) > 1:
        out.append(("inserted", [proof[0], some, *proof[1:]]))
    return out


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION[1:])
def test_known_inclusion_proofs_refuse_corruption(index: int, size: int, path: list[str]) -> None:
    proof, leaf, root = [h(p) for p in path], NODES[0][index], ROOTS[size]
    for what, bad in _corrupted(proof):
        assert not verify_inclusion(index, size, leaf, bad, root), what
    for i, n in ((index - 1, size), (index + 1, size), (index ^ 2, size), (index, size * 2), (index, size // 2)):
        assert not verify_inclusion(i, n, leaf, proof, root), (i, n)
    assert not verify_inclusion(index, size, leaf_hash(b"WrongLeaf"), proof, root)
    assert not verify_inclusion(index, size, leaf, proof, EMPTY_ROOT)
    assert check_inclusion(index, size, b"short", proof, root) is ProofFailure.BAD_HASH_LENGTH


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY[1:])
def test_known_consistency_proofs_refuse_corruption(old: int, new: int, path: list[str]) -> None:
    proof, r1, r2 = [h(p) for p in path], ROOTS[old], ROOTS[new]
    for what, bad in [*_corrupted(proof), ("empty", []), ("leading proof[0]", [proof[0], *proof])]:
        assert not verify_consistency(old, new, r1, r2, bad), what
    for o, n in ((old - 1, new), (old + 1, new), (old ^ 2, new), (old, new * 2), (old, new // 2)):
        assert not verify_consistency(o, n, r1, r2, proof), (o, n)
    assert not verify_consistency(old, new, r2, r1, proof)
    assert not verify_consistency(old, new, leaf_hash(b"x"), r2, proof)
    assert not verify_consistency(old, new, r1, leaf_hash(b"x"), proof)


def test_edge_cases_of_checks() -> None:
    some = leaf_hash(b"data")
    assert check_inclusion(0, 1, some, [], some) is None
    assert check_inclusion(0, 0, some, [], some) is ProofFailure.BAD_SIZE
    assert check_inclusion(1, 1, some, [], some) is ProofFailure.BAD_SIZE
    assert check_inclusion(0, 1, some, [], b"") is ProofFailure.BAD_HASH_LENGTH
    assert check_inclusion(0, 2, some, [], some) is ProofFailure.TOO_SHORT
    assert check_inclusion(0, 1, some, [some], some) is ProofFailure.TOO_LONG
    assert check_consistency(0, 5, EMPTY_ROOT, some, []) is None
    assert check_consistency(0, 5, some, some, []) is ProofFailure.OLD_ROOT_MISMATCH
    assert check_consistency(0, 5, EMPTY_ROOT, some, [some]) is ProofFailure.TOO_LONG
    assert check_consistency(3, 3, some, some, []) is None
    assert check_consistency(3, 3, some, EMPTY_ROOT, []) is ProofFailure.ROOT_MISMATCH
    assert check_consistency(2, 1, some, some, []) is ProofFailure.BAD_SIZE
    assert check_consistency(1, 2, some, some, []) is ProofFailure.TOO_SHORT
    assert root_from_inclusion(0, 4, some, [some]) is ProofFailure.TOO_SHORT


# --- every tree up to 64 leaves against the RFC's recursive definitions --------------------------------------------

def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    """MTH(D[n]), RFC 6962 2.1, over entries."""
    if not d:
        return sha256(b"").digest()
    if len(d) == 1:
        return sha256(b"\x00" + d[0]).digest()
    k = _k(len(d))
    return sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), RFC 6962 2.1.1."""
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), RFC 6962 2.1.2."""
    if m == len(d):
        return [] if b else [ref_mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


ENTRIES_64 = [bytes([i]) * (i % 5) + i.to_bytes(2, "big") for i in range(64)]


@pytest.fixture(scope="module")
def log_64() -> MerkleLog:
    log = MerkleLog()
    for e in ENTRIES_64:
        log.append(e)
    return log


def test_roots_match_reference_for_every_size(log_64: MerkleLog) -> None:
    bulk = MerkleLog()
    bulk.extend(ENTRIES_64[:10])
    bulk.extend(ENTRIES_64[10:37])
    bulk.extend(ENTRIES_64[37:])
    for n in range(65):
        want = ref_mth(ENTRIES_64[:n])
        assert log_64.root(n) == want == bulk.root(n) == root_of([leaf_hash(e) for e in ENTRIES_64[:n]])


def test_every_inclusion_proof_matches_reference(log_64: MerkleLog) -> None:
    for n in range(1, 65):
        root = ref_mth(ENTRIES_64[:n])
        for m in range(n):
            proof = log_64.inclusion_proof(m, n)
            assert proof == ref_path(m, ENTRIES_64[:n]), (m, n)
            assert verify_inclusion(m, n, leaf_hash(ENTRIES_64[m]), proof, root)
            assert not verify_inclusion(m, n, leaf_hash(ENTRIES_64[m] + b"!"), proof, root)
            if n > 1:
                assert not verify_inclusion((m + 1) % n, n, leaf_hash(ENTRIES_64[m]), proof, root)


def test_every_consistency_proof_matches_reference(log_64: MerkleLog) -> None:
    for n in range(1, 65):
        for m in range(1, n + 1):
            proof = log_64.consistency_proof(m, n)
            want = ref_subproof(m, ENTRIES_64[:n], True) if m < n else []
            assert proof == want, (m, n)
            assert check_consistency(m, n, log_64.root(m), log_64.root(n), proof) is None
            if m < n:
                assert not verify_consistency(m, n, log_64.root(m - 1), log_64.root(n), proof)


def test_out_of_range_requests_are_refused(log_64: MerkleLog) -> None:
    with pytest.raises(InvalidInput):
        log_64.inclusion_proof(64)
    with pytest.raises(InvalidInput):
        log_64.inclusion_proof(3, 65)
    with pytest.raises(InvalidInput):
        log_64.consistency_proof(10, 5)
    with pytest.raises(InvalidInput):
        log_64.append_leaf_hash(b"short")
    assert isinstance(log_64, HashSource)
    assert log_64.nbytes() == 32 * (64 + 32 + 16 + 8 + 4 + 2 + 1)


# --- properties ---------------------------------------------------------------------------------------------------

def _log(n: int) -> MerkleLog:
    log = MerkleLog()
    log.extend_leaf_hashes(b"".join(leaf_hash(i.to_bytes(4, "big")) for i in range(n)))
    return log


_BIG = _log(3000)


def _flip(b: bytes, bit: int) -> bytes:
    bit %= len(b) * 8
    out = bytearray(b)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 3000).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))),
       st.integers(0, 10_000), st.sampled_from(["proof", "root", "leaf"]))
def test_inclusion_proofs_verify_and_any_bit_flip_fails(size_index: tuple[int, int], bit: int, where: str) -> None:
    n, i = size_index
    leaf, root, proof = _BIG.leaf(i), _BIG.root(n), _BIG.inclusion_proof(i, n)
    assert verify_inclusion(i, n, leaf, proof, root)
    if where == "proof" and proof:
        j = bit % len(proof)
        proof = [*proof[:j], _flip(proof[j], bit // len(proof)), *proof[j + 1:]]
    elif where == "root":
        root = _flip(root, bit)
    else:
        leaf = _flip(leaf, bit)
    if where != "proof" or proof:
        assert not verify_inclusion(i, n, leaf, proof, root)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 3000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.integers(0, 10_000), st.sampled_from(["proof", "old", "new"]))
def test_consistency_proofs_verify_and_any_bit_flip_fails(sizes: tuple[int, int], bit: int, where: str) -> None:
    m, n = sizes
    old, new, proof = _BIG.root(m), _BIG.root(n), _BIG.consistency_proof(m, n)
    assert verify_consistency(m, n, old, new, proof)
    if where == "proof":
        if not proof:
            return
        j = bit % len(proof)
        proof = [*proof[:j], _flip(proof[j], bit // len(proof)), *proof[j + 1:]]
    elif where == "old":
        old = _flip(old, bit)
    else:
        if m == 0:
            return  # any tree extends the empty one: the new root is not constrained
        new = _flip(new, bit)
    assert not verify_consistency(m, n, old, new, proof)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=200), st.data())
def test_appends_and_bulk_extend_agree(entries: list[bytes], data: st.DataObject) -> None:
    one, bulk = MerkleLog(), MerkleLog()
    cut = data.draw(st.integers(0, len(entries)))
    for e in entries:
        one.append(e)
    bulk.extend(entries[:cut])
    bulk.extend(entries[cut:])
    assert one.root() == bulk.root() == ref_mth(entries) if len(entries) <= 64 else one.root() == bulk.root()
    assert [one.subtree(0, i) for i in range(len(entries))] == [bulk.leaf(i) for i in range(len(entries))]


def test_node_hash_is_rfc6962() -> None:
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) == sha256(b"\x01" + a + b).digest()
    assert leaf_hash(b"a") == sha256(b"\x00a").digest()


# --- canonical entry bytes ----------------------------------------------------------------------------------------

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
    | st.binary(max_size=16),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(EntryType)), st.dictionaries(st.text(max_size=8), json_like, max_size=6))
def test_canonical_round_trip_is_exact(kind: EntryType, body: dict[str, object]) -> None:
    data = encode_entry(kind, body)
    entry = decode_entry(data)
    assert entry.type is kind
    assert entry.to_bytes() == data
    assert encode_entry(kind, dict(reversed(list(body.items())))) == data  # key order does not matter


def test_canonical_encoding_is_pinned() -> None:
    """Version 1 bytes, written out: changing them breaks every ledger ever written."""
    data = encode_entry("conflict", {"b": [1, -128, 1.5, None, True, False, "é", b"\x00"], "a": 0})
    assert data == (b"DCL\x01" b"S\x00\x00\x00\x08conflict" b"M\x00\x00\x00\x02"
                    b"\x00\x00\x00\x01a" b"I\x00\x00\x00\x01\x00"
                    b"\x00\x00\x00\x01b" b"L\x00\x00\x00\x08" b"I\x00\x00\x00\x01\x01" b"I\x00\x00\x00\x01\x80"
                    b"D\x3f\xf8\x00\x00\x00\x00\x00\x00" b"N" b"T" b"F" b"S\x00\x00\x00\x02\xc3\xa9"
                    b"B\x00\x00\x00\x01\x00")
    assert encode_value(128) == b"I\x00\x00\x00\x02\x00\x80"
    assert encode_value(2**64) == b"I\x00\x00\x00\x09\x01" + bytes(8)
    assert encode_value(-0.0) == encode_value(0.0)
    assert encode_value(1) != encode_value(1.0)
    assert encode_value((1, 2)) == encode_value([1, 2])
    assert [t.value for t in EntryType] == ["declaration_version", "conflict", "notification_delivery",
                                            "acknowledgement", "escalation", "message", "alert"]
    assert LedgerEntry(EntryType.ALERT, {}).to_bytes() == b"DCL\x01S\x00\x00\x00\x05alertM\x00\x00\x00\x00"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, {1: "x"}, {"a": {2.0}}, object(), "\ud800"])
def test_canonical_refuses_what_has_no_encoding(bad: object) -> None:
    with pytest.raises(InvalidInput):
        encode_entry(EntryType.MESSAGE, {"x": bad})


@pytest.mark.parametrize("data", [
    b"", b"XYZ\x01", b"DCL\x02S\x00\x00\x00\x05alertM\x00\x00\x00\x00",  # magic, version
    b"DCL\x01S\x00\x00\x00\x05otherM\x00\x00\x00\x00",  # unknown type
    b"DCL\x01S\x00\x00\x00\x05alertM\x00\x00\x00\x00\x00",  # trailing byte
    b"DCL\x01S\x00\x00\x00\x05alertM\x00\x00\x00\x01\x00\x00\x00\x01aI\x00\x00\x00\x02\x00\x01",  # non-minimal
    b"DCL\x01S\x00\x00\x00\x05alertM\x00\x00\x00\x02\x00\x00\x00\x01bN\x00\x00\x00\x01aN",  # unsorted keys
    b"DCL\x01S\x00\x00\x00\x05alertM\x00\x00\x00\x02\x00\x00\x00\x01aN\x00\x00\x00\x01aN",  # repeated key
    b"DCL\x01S\x00\x00\x00\x05alertM\x00\x00\x00\x01\x00\x00\x00\x01aD\x80" + bytes(7),  # -0.0
    b"DCL\x01S\x00\x00\x00\x05alertM\x00\x00\x00\x01\x00\x00\x00\x01aD\x7f\xf8" + bytes(6),  # NaN
    b"DCL\x01S\x00\x00\x00\x05alertM\x00\x00\x00\x01\x00\x00\x00\x01aS\x00\x00\x00\x01\xff",  # bad UTF-8
    b"DCL\x01S\x00\x00\x00\x05alertM\x00\x00\x00\x01\x00\x00\x00\x01aS\x00\x00\x00\x09",  # truncated
    b"DCL\x01S\x00\x00\x00\x05alertL\x00\x00\x00\x00",  # body not a map
])
def test_canonical_decoding_refuses_other_bytes(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        decode_entry(data)


def test_decode_value_refuses_trailing_bytes() -> None:
    assert decode_value(b"N") is None
    with pytest.raises(InvalidInput):
        decode_value(b"NN")
