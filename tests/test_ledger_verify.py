"""Offline bundle verification (deconflict.core.ledger.verify): a change to any byte of a bundle is found, and the
report names the first broken thing (part, position, entry index, reason)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict.core.ledger import (
    BreakReason,
    Bundle,
    BundleEntry,
    EntryType,
    MerkleLog,
    Part,
    SignedTreeHead,
    TreeHead,
    check_inclusion,
    cosign,
    encode_entry,
    key_id,
    leaf_hash,
    sign_tree_head,
    verify_bundle,
)

SERVICE = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
ALPHA = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
T0 = 1_767_225_600_000


def _entries(n: int) -> list[bytes]:
    kinds = list(EntryType)
    return [encode_entry(kinds[i % len(kinds)], {"seq": i, "party": "alpha" if i % 3 else "bravo",
                                                 "at_ms": T0 + 1000 * i}) for i in range(n)]


def make_bundle(n: int, head_sizes: list[int], indices: list[int], *, witness: bool = True,
                against: Callable[[int, list[int]], int] | None = None) -> Bundle:
    """A log of n entries; signed (and cosigned) heads at head_sizes; the given entries, each proven against the
    first head that holds it (or the one `against` picks)."""
    data = _entries(n)
    log = MerkleLog()
    log.extend(data)
    heads: list[SignedTreeHead] = []
    for k, size in enumerate(head_sizes):
        sth = sign_tree_head(TreeHead(size, log.root(size), T0 + 5000 * k), SERVICE)
        heads.append(cosign(sth, ALPHA, T0 + 5000 * k + 700) if witness else sth)
    consistency = tuple(tuple(log.consistency_proof(a, b)) for a, b in itertools.pairwise(head_sizes))
    pick = against or (lambda i, sizes: next(s for s in sizes if s > i))
    entries = []
    for i in indices:
        size = pick(i, head_sizes)
        entries.append(BundleEntry(i, data[i], size, tuple(log.inclusion_proof(i, size))))
    return Bundle(tuple(heads), consistency, tuple(entries))


def check(bundle: Bundle, **kw: object):  # type: ignore[no-untyped-def]
    return verify_bundle(bundle, SERVICE.public_key(), [ALPHA.public_key()], **kw)  # type: ignore[arg-type]


def test_intact_bundle_verifies() -> None:
    bundle = make_bundle(300, [100, 230, 300], sorted({*range(0, 300, 7), 1, 2, 3, 99, 100, 229, 299}))
    report = check(bundle, required_cosigners=[key_id(ALPHA)], check_canonical=True)
    assert report.ok, report.first_break
    assert (report.heads, report.cosignatures, report.consistency_proofs) == (3, 3, 2)
    assert report.entries == len(bundle.entries)


def test_every_entry_against_the_last_head_and_every_size() -> None:
    for n in (1, 2, 3, 5, 8, 13, 31, 32, 33, 64, 100):
        bundle = make_bundle(n, [n], list(range(n)))
        assert check(bundle).ok, n
        sizes = list(range(1, n + 1))
        bundle = make_bundle(n, sizes, list(range(n)), witness=False)
        assert check(bundle).ok, n


# --- any byte -----------------------------------------------------------------------------------------------------

def _flips(b: bytes) -> Iterator[bytes]:
    for i in range(len(b)):
        out = bytearray(b)
        out[i] ^= 0x01 if i % 2 else 0x80
        yield bytes(out)


def _tampered(bundle: Bundle) -> Iterator[tuple[str, Part, int, Bundle]]:
    """Every one-byte change of every bytes field, and +-1 on every int, with the part and position it is in."""
    heads, cons, entries = list(bundle.heads), list(bundle.consistency), list(bundle.entries)

    def with_head(k: int, sth: SignedTreeHead) -> Bundle:
        return replace(bundle, heads=tuple([*heads[:k], sth, *heads[k + 1:]]))

    for k, sth in enumerate(heads):
        for d in (-1, 1):
            yield f"head {k} size", Part.HEAD, k, with_head(k, replace(sth, head=replace(sth.head, size=sth.size + d)))
            yield f"head {k} time", Part.HEAD, k, with_head(
                k, replace(sth, head=replace(sth.head, timestamp_ms=sth.timestamp_ms + d)))
        for x in _flips(sth.root):
            yield f"head {k} root", Part.HEAD, k, with_head(k, replace(sth, head=replace(sth.head, root=x)))
        for x in _flips(sth.key_id):
            yield f"head {k} key id", Part.HEAD, k, with_head(k, replace(sth, key_id=x))
        for x in _flips(sth.signature):
            yield f"head {k} signature", Part.HEAD, k, with_head(k, replace(sth, signature=x))
        for c, cos in enumerate(sth.cosignatures):
            def with_cos(new: object, c: int = c, sth: SignedTreeHead = sth, k: int = k) -> Bundle:
                coss = list(sth.cosignatures)
                coss[c] = new  # type: ignore[call-overload]
                return with_head(k, replace(sth, cosignatures=tuple(coss)))
            for x in _flips(cos.key_id):
                yield f"head {k} cosigner", Part.HEAD, k, with_cos(replace(cos, key_id=x))
            for x in _flips(cos.signature):
                yield f"head {k} cosignature", Part.HEAD, k, with_cos(replace(cos, signature=x))
            yield f"head {k} cosigned at", Part.HEAD, k, with_cos(replace(cos, cosigned_at_ms=cos.cosigned_at_ms + 1))
    for k, proof in enumerate(cons):
        for j, p in enumerate(proof):
            for x in _flips(p):
                bad = [*cons[:k], (*proof[:j], x, *proof[j + 1:]), *cons[k + 1:]]
                yield f"consistency {k} hash {j}", Part.CONSISTENCY, k, replace(bundle, consistency=tuple(bad))
    for pos, e in enumerate(entries):
        def with_entry(new: BundleEntry, pos: int = pos) -> Bundle:
            return replace(bundle, entries=tuple([*entries[:pos], new, *entries[pos + 1:]]))
        for d in (-1, 1):
            if e.index + d >= 0 and (pos == 0 or e.index + d > entries[pos - 1].index):
                yield f"entry {pos} index", Part.ENTRY, pos, with_entry(replace(e, index=e.index + d))
            yield f"entry {pos} tree size", Part.ENTRY, pos, with_entry(replace(e, tree_size=e.tree_size + d))
        for x in _flips(e.data):
            yield f"entry {pos} data", Part.ENTRY, pos, with_entry(replace(e, data=x))
        for j, p in enumerate(e.proof):
            for x in _flips(p):
                yield f"entry {pos} proof {j}", Part.ENTRY, pos, with_entry(
                    replace(e, proof=(*e.proof[:j], x, *e.proof[j + 1:])))
        yield f"entry {pos} data appended", Part.ENTRY, pos, with_entry(replace(e, data=e.data + b"\x00"))
        yield f"entry {pos} data cut", Part.ENTRY, pos, with_entry(replace(e, data=e.data[:-1]))
        if e.proof:
            yield f"entry {pos} proof cut", Part.ENTRY, pos, with_entry(replace(e, proof=e.proof[:-1]))
        yield f"entry {pos} proof extended", Part.ENTRY, pos, with_entry(replace(e, proof=(*e.proof, bytes(32))))


def test_a_change_to_any_byte_is_found_where_it_is() -> None:
    bundle = make_bundle(40, [13, 29, 40], [0, 1, 5, 12, 13, 14, 20, 27, 28, 31, 38, 39],
                         against=lambda i, sizes: sizes[-1] if i % 2 else next(s for s in sizes if s > i))
    assert check(bundle).ok
    count = 0
    for what, part, position, bad in _tampered(bundle):
        report = check(bad)
        assert not report.ok, what
        brk = report.first_break
        assert brk is not None
        # a head's size changed by one may instead show as heads out of order, or break its consistency proof
        if part is Part.HEAD and brk.part is Part.CONSISTENCY:
            assert brk.position in (position - 1, position), what
        else:
            assert (brk.part, brk.position) == (part, position), (what, brk)
        if part is Part.ENTRY:
            assert brk.entry_index == bad.entries[position].index, (what, brk)
            assert report.entries == position, what  # everything before it verified
        count += 1
    assert count > 3000


def test_removed_or_reordered_parts() -> None:
    bundle = make_bundle(50, [20, 50], [3, 19, 20, 49])
    r = check(replace(bundle, heads=()))
    assert r.first_break is not None and r.first_break.reason is BreakReason.NO_HEADS
    r = check(replace(bundle, heads=bundle.heads[::-1], consistency=()))
    assert r.first_break is not None and r.first_break.reason is BreakReason.HEADS_OUT_OF_ORDER
    r = check(replace(bundle, consistency=()))
    assert r.first_break is not None and r.first_break.reason is BreakReason.CONSISTENCY_COUNT
    r = check(replace(bundle, entries=bundle.entries[::-1]))
    assert r.first_break is not None and r.first_break.reason is BreakReason.ENTRIES_OUT_OF_ORDER
    assert r.first_break.position == 1
    r = check(replace(bundle, entries=bundle.entries[:1] + bundle.entries[:1]))
    assert r.first_break is not None and r.first_break.reason is BreakReason.ENTRIES_OUT_OF_ORDER
    e = bundle.entries[1]
    r = check(replace(bundle, entries=(replace(e, tree_size=21),)))
    assert r.first_break is not None and r.first_break.reason is BreakReason.NO_SUCH_HEAD
    r = check(replace(bundle, entries=(replace(e, index=25),)))
    assert r.first_break is not None and r.first_break.reason is BreakReason.INDEX_OUT_OF_RANGE
    r = check(replace(bundle, entries=(replace(e, proof=(b"short", *e.proof[1:])),)))
    assert r.first_break is not None and r.first_break.reason is BreakReason.MALFORMED_PROOF
    # a cosignature by a key the verifier lacks; and a required cosigner missing
    r = verify_bundle(bundle, SERVICE.public_key())
    assert r.first_break is not None and r.first_break.part is Part.HEAD and "cosignature 0" in r.first_break.detail
    assert verify_bundle(bundle, SERVICE.public_key(), ignore_unknown_cosigners=True).ok
    bare = make_bundle(50, [20, 50], [3], witness=False)
    r = check(bare, required_cosigners=[key_id(ALPHA)])
    assert r.first_break is not None and "cosignature_missing" in r.first_break.detail


def test_break_names_the_entry_and_what_failed() -> None:
    bundle = make_bundle(64, [64], list(range(10, 30)))
    entries = list(bundle.entries)
    entries[7] = replace(entries[7], data=encode_entry(EntryType.ACKNOWLEDGEMENT, {"forged": True}))
    entries[12] = replace(entries[12], data=b"also changed")
    report = check(replace(bundle, entries=tuple(entries)))
    brk = report.first_break
    assert brk is not None
    assert (brk.part, brk.position, brk.entry_index, brk.reason) == (Part.ENTRY, 7, 17, BreakReason.ENTRY_MISMATCH)
    assert str(brk).startswith("entry 17 (bundle entry 7): entry_mismatch:")
    assert report.entries == 7
    # the first entry of a head is checked in full: a change there is a root mismatch
    entries = list(bundle.entries)
    entries[0] = replace(entries[0], data=b"x")
    brk = check(replace(bundle, entries=tuple(entries))).first_break
    assert brk is not None and (brk.entry_index, brk.reason) == (10, BreakReason.ROOT_MISMATCH)
    # a proof hash above the join is compared with the previous entry's: named by its position
    entries = list(bundle.entries)
    e = entries[3]
    entries[3] = replace(e, proof=(*e.proof[:5], bytes(32)))
    brk = check(replace(bundle, entries=tuple(entries))).first_break
    assert brk is not None and (brk.entry_index, brk.reason) == (13, BreakReason.PROOF_MISMATCH)
    assert "proof hash 5" in brk.detail
    # not canonical bytes (only looked at with check_canonical)
    log = MerkleLog()
    log.append(b"not an entry")
    sth = sign_tree_head(TreeHead(1, log.root(), T0), SERVICE)
    raw = Bundle((sth,), (), (BundleEntry(0, b"not an entry", 1, ()),))
    assert check(raw).ok
    brk = check(raw, check_canonical=True).first_break
    assert brk is not None and brk.reason is BreakReason.NOT_CANONICAL


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_verdict_equals_checking_every_proof_in_full(data: st.DataObject) -> None:
    """The shortcut (hash to the join with the previous entry, compare the rest) accepts and refuses exactly what
    verifying each proof in full does, and names the same first entry."""
    n = data.draw(st.integers(1, 150))
    sizes = sorted(set(data.draw(st.lists(st.integers(1, n), max_size=3))) | {n})
    indices = sorted(set(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=40))))
    bundle = make_bundle(n, sizes, indices, witness=False,
                         against=lambda i, ss: data.draw(st.sampled_from([s for s in ss if s > i])))
    entries = list(bundle.entries)
    for _ in range(data.draw(st.integers(0, 2))):
        pos = data.draw(st.integers(0, len(entries) - 1))
        e = entries[pos]
        if e.proof and data.draw(st.booleans()):
            j = data.draw(st.integers(0, len(e.proof) - 1))
            p = bytearray(e.proof[j])
            p[data.draw(st.integers(0, 31))] ^= 1 << data.draw(st.integers(0, 7))
            entries[pos] = replace(e, proof=(*e.proof[:j], bytes(p), *e.proof[j + 1:]))
        else:
            entries[pos] = replace(e, data=e.data + b"!")
    bundle = replace(bundle, entries=tuple(entries))
    roots = {h.size: h.root for h in bundle.heads}
    first_bad = next((e.index for e in entries
                      if check_inclusion(e.index, e.tree_size, leaf_hash(e.data), e.proof, roots[e.tree_size])
                      is not None), None)
    report = check(bundle)
    assert (report.first_break.entry_index if report.first_break else None) == first_bad


@pytest.mark.parametrize("n", [1_000])
def test_bundle_of_every_entry(n: int) -> None:
    bundle = make_bundle(n, [n // 4, n // 2, n], list(range(n)), against=lambda i, sizes: sizes[-1])
    assert check(bundle).ok
