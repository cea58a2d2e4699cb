"""Signed and cosigned tree heads (deconflict.core.ledger.tree_head): every failure names its reason."""

from __future__ import annotations

from dataclasses import replace
from hashlib import sha256

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from deconflict.core.ledger import (
    HeadFailure,
    MerkleLog,
    TreeHead,
    check_signed_tree_head,
    cosign,
    key_id,
    key_ring,
    sign_tree_head,
)
from deconflict.errors import InvalidInput

SERVICE = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
ALPHA = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
BRAVO = Ed25519PrivateKey.from_private_bytes(bytes(range(2, 34)))
PARTIES = key_ring([ALPHA.public_key(), BRAVO.public_key()])


def _head() -> TreeHead:
    log = MerkleLog()
    log.extend(f"entry {i}".encode() for i in range(10))
    return TreeHead(10, log.root(), 1_767_225_600_000)


def test_tree_head_bytes_are_pinned() -> None:
    head = TreeHead(3, bytes(range(32)), 1_000)
    assert head.to_bytes() == (b"deconflict/tree-head/v1\x00" + (3).to_bytes(8, "big") + (1000).to_bytes(8, "big")
                               + bytes(range(32)))
    raw = SERVICE.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert key_id(SERVICE) == key_id(SERVICE.public_key()) == sha256(raw).digest()
    with pytest.raises(InvalidInput):
        TreeHead(-1, bytes(32), 0).to_bytes()
    with pytest.raises(InvalidInput):
        TreeHead(1, bytes(31), 0).to_bytes()


def test_signed_head_verifies_and_names_each_failure() -> None:
    sth = sign_tree_head(_head(), SERVICE)
    assert sth.key_id == key_id(SERVICE)
    assert check_signed_tree_head(sth, SERVICE.public_key()) is None
    assert check_signed_tree_head(sth, key_ring([SERVICE.public_key()])) is None

    def reason(s: object) -> HeadFailure | None:
        problem = check_signed_tree_head(s, SERVICE.public_key())  # type: ignore[arg-type]
        return None if problem is None else problem.reason

    assert reason(replace(sth, head=replace(sth.head, size=11))) is HeadFailure.BAD_SIGNATURE
    assert reason(replace(sth, head=replace(sth.head, timestamp_ms=sth.timestamp_ms + 1))) is HeadFailure.BAD_SIGNATURE
    root = bytearray(sth.root)
    root[31] ^= 1
    assert reason(replace(sth, head=replace(sth.head, root=bytes(root)))) is HeadFailure.BAD_SIGNATURE
    sig = bytearray(sth.signature)
    sig[0] ^= 0x80
    assert reason(replace(sth, signature=bytes(sig))) is HeadFailure.BAD_SIGNATURE
    assert reason(replace(sth, signature=sth.signature[:-1])) is HeadFailure.MALFORMED
    assert reason(replace(sth, head=replace(sth.head, root=b"x"))) is HeadFailure.MALFORMED
    assert reason(replace(sth, head=replace(sth.head, size=-1))) is HeadFailure.MALFORMED
    assert reason(sign_tree_head(sth.head, ALPHA)) is HeadFailure.UNKNOWN_KEY
    forged = replace(sign_tree_head(sth.head, ALPHA), key_id=key_id(SERVICE))
    assert reason(forged) is HeadFailure.BAD_SIGNATURE


def test_countersigned_head() -> None:
    sth = cosign(cosign(sign_tree_head(_head(), SERVICE), ALPHA, 1_767_225_601_000), BRAVO, 1_767_225_602_500)
    assert [c.key_id for c in sth.cosignatures] == [key_id(ALPHA), key_id(BRAVO)]
    svc = SERVICE.public_key()
    assert check_signed_tree_head(sth, svc, PARTIES, required_cosigners=[key_id(ALPHA), key_id(BRAVO)]) is None

    # a cosigner whose key the verifier lacks: a failure, unless told to ignore unknown cosigners
    only_alpha = key_ring([ALPHA.public_key()])
    problem = check_signed_tree_head(sth, svc, only_alpha)
    assert problem is not None and problem.reason is HeadFailure.COSIGNATURE_UNKNOWN_KEY and problem.cosignature == 1
    assert check_signed_tree_head(sth, svc, only_alpha, ignore_unknown_cosigners=True) is None
    problem = check_signed_tree_head(sth, svc, only_alpha, ignore_unknown_cosigners=True,
                                     required_cosigners=[key_id(BRAVO)])
    assert problem is not None and problem.reason is HeadFailure.COSIGNATURE_MISSING

    # each part of a cosignature is covered
    cos = sth.cosignatures[0]
    for bad in (replace(cos, cosigned_at_ms=cos.cosigned_at_ms + 1),
                replace(cos, signature=bytes([cos.signature[0] ^ 1]) + cos.signature[1:]),
                replace(cos, key_id=key_id(BRAVO))):
        problem = check_signed_tree_head(replace(sth, cosignatures=(bad, sth.cosignatures[1])), svc, PARTIES)
        assert problem is not None and problem.cosignature == 0
        assert problem.reason in (HeadFailure.COSIGNATURE_BAD, HeadFailure.COSIGNATURE_DUPLICATE)
    problem = check_signed_tree_head(replace(sth, cosignatures=(cos, cos)), svc, PARTIES)
    assert problem is not None and problem.reason is HeadFailure.COSIGNATURE_DUPLICATE

    # a cosignature is bound to its head: moved to another head, it fails
    other = sign_tree_head(replace(sth.head, timestamp_ms=sth.timestamp_ms + 5), SERVICE)
    problem = check_signed_tree_head(replace(other, cosignatures=(cos,)), svc, PARTIES)
    assert problem is not None and problem.reason is HeadFailure.COSIGNATURE_BAD

    # a service signature cannot pass as a cosignature (different message prefix)
    alpha_as_service = sign_tree_head(sth.head, ALPHA)
    fake = replace(cos, signature=alpha_as_service.signature)
    problem = check_signed_tree_head(replace(sth, cosignatures=(fake,)), svc, PARTIES)
    assert problem is not None and problem.reason is HeadFailure.COSIGNATURE_BAD

    with pytest.raises(InvalidInput):
        cosign(sth, ALPHA, 1)
