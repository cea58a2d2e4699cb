"""Signed tree heads: the log's size, root hash and time, signed by the service and countersigned by parties.

What is signed (big-endian, fixed layout, so any verifier can rebuild it byte for byte):

    tree head   b"deconflict/tree-head/v1\\x00"  u64 size  u64 timestamp_ms  root (32 bytes)
    cosignature b"deconflict/cosignature/v1\\x00" <tree head bytes above>  u64 cosigned_at_ms

The service signs the tree head bytes with Ed25519. A party witnesses a head by signing the cosignature bytes with
its own Ed25519 key: "I saw this head at cosigned_at_ms". Once parties hold cosigned heads, the operator cannot
show one party a history that another party's head does not extend: a consistency proof between the two heads
will not exist. The two prefixes keep a service signature and a cosignature from ever being the same message.

Keys are named by `key_id`: SHA-256 of the 32-byte raw Ed25519 public key. Checks return a `HeadProblem` naming
what failed (or None); nothing here reads a clock: times are passed in, in milliseconds since the Unix epoch.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from hashlib import sha256

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ...errors import InvalidInput
from .merkle import HASH_SIZE

__all__ = [
    "Cosignature",
    "HeadFailure",
    "HeadProblem",
    "KeyRing",
    "SignedTreeHead",
    "TreeHead",
    "check_cosignature",
    "check_signed_tree_head",
    "cosign",
    "key_id",
    "key_ring",
    "sign_tree_head",
]

_HEAD_PREFIX = b"deconflict/tree-head/v1\x00"
_COSIGN_PREFIX = b"deconflict/cosignature/v1\x00"
_U64 = struct.Struct(">Q")
_MAX_U64 = 2**64 - 1
SIGNATURE_SIZE = 64
KEY_ID_SIZE = 32

KeyRing = Mapping[bytes, Ed25519PublicKey]  #: public keys by key_id


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    """SHA-256 of the raw 32-byte public key: how heads and bundles name a key."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return sha256(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).digest()


def key_ring(keys: Iterable[Ed25519PublicKey]) -> dict[bytes, Ed25519PublicKey]:
    """Public keys by key_id."""
    return {key_id(k): k for k in keys}


@dataclass(frozen=True, slots=True)
class TreeHead:
    """The state of the log at one moment: `size` entries whose Merkle Tree Hash is `root`, at `timestamp_ms`."""

    size: int
    root: bytes
    timestamp_ms: int

    def to_bytes(self) -> bytes:
        """The bytes the service signs."""
        if not 0 <= self.size <= _MAX_U64 or not 0 <= self.timestamp_ms <= _MAX_U64:
            raise InvalidInput("size and timestamp_ms are unsigned 64-bit integers", field="tree_head")
        if len(self.root) != HASH_SIZE:
            raise InvalidInput(f"a root hash has {HASH_SIZE} bytes, not {len(self.root)}", field="tree_head.root")
        return _HEAD_PREFIX + _U64.pack(self.size) + _U64.pack(self.timestamp_ms) + bytes(self.root)


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A party's witness of a tree head: signed by the key `key_id`, at `cosigned_at_ms`."""

    key_id: bytes
    cosigned_at_ms: int
    signature: bytes


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """A tree head, the service's signature (by the key `key_id`) and the parties' cosignatures."""

    head: TreeHead
    key_id: bytes
    signature: bytes
    cosignatures: tuple[Cosignature, ...] = ()

    @property
    def size(self) -> int:
        return self.head.size

    @property
    def root(self) -> bytes:
        return self.head.root

    @property
    def timestamp_ms(self) -> int:
        return self.head.timestamp_ms


def _cosigned_bytes(head: TreeHead, cosigned_at_ms: int) -> bytes:
    if not 0 <= cosigned_at_ms <= _MAX_U64:
        raise InvalidInput("cosigned_at_ms is an unsigned 64-bit integer", field="cosigned_at_ms")
    return _COSIGN_PREFIX + head.to_bytes() + _U64.pack(cosigned_at_ms)


def sign_tree_head(head: TreeHead, key: Ed25519PrivateKey) -> SignedTreeHead:
    """The service's signature over `head`."""
    return SignedTreeHead(head, key_id(key), key.sign(head.to_bytes()))


def cosign(signed: SignedTreeHead, key: Ed25519PrivateKey, cosigned_at_ms: int) -> SignedTreeHead:
    """`signed` with one more cosignature, by `key` at `cosigned_at_ms` (a party witnessing the head). A key that
    has cosigned already is refused: one witness, one cosignature."""
    kid = key_id(key)
    if any(c.key_id == kid for c in signed.cosignatures):
        raise InvalidInput("this key has already cosigned the head", field="key")
    cos = Cosignature(kid, cosigned_at_ms, key.sign(_cosigned_bytes(signed.head, cosigned_at_ms)))
    return replace(signed, cosignatures=(*signed.cosignatures, cos))


class HeadFailure(enum.StrEnum):
    """Why a signed tree head does not hold."""

    MALFORMED = "malformed"  #: size/timestamp out of range, root or key id or signature of the wrong length
    UNKNOWN_KEY = "unknown_key"  #: signed by a key other than the one(s) given
    BAD_SIGNATURE = "bad_signature"  #: the service's signature does not verify
    COSIGNATURE_UNKNOWN_KEY = "cosignature_unknown_key"  #: a cosigner whose key was not given
    COSIGNATURE_BAD = "cosignature_bad"  #: a cosignature does not verify
    COSIGNATURE_DUPLICATE = "cosignature_duplicate"  #: one key cosigned twice
    COSIGNATURE_MISSING = "cosignature_missing"  #: a cosigner required by the caller did not cosign


@dataclass(frozen=True, slots=True)
class HeadProblem:
    """What failed, and where: `cosignature` is the position of the failing cosignature, if one failed."""

    reason: HeadFailure
    detail: str
    cosignature: int | None = None


def _malformed(head: TreeHead) -> str | None:
    if not isinstance(head.size, int) or not 0 <= head.size <= _MAX_U64:
        return f"size {head.size!r} is not an unsigned 64-bit integer"
    if not isinstance(head.timestamp_ms, int) or not 0 <= head.timestamp_ms <= _MAX_U64:
        return f"timestamp_ms {head.timestamp_ms!r} is not an unsigned 64-bit integer"
    if len(head.root) != HASH_SIZE:
        return f"root has {len(head.root)} bytes, not {HASH_SIZE}"
    return None


def _verifies(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(bytes(signature), message)
    except InvalidSignature:
        return False
    return True


def check_cosignature(head: TreeHead, cos: Cosignature, keys: KeyRing) -> HeadProblem | None:
    """None when `cos` is a valid cosignature of `head` by one of `keys`."""
    if len(cos.key_id) != KEY_ID_SIZE or len(cos.signature) != SIGNATURE_SIZE:
        return HeadProblem(HeadFailure.MALFORMED, "cosignature key id or signature of the wrong length")
    if not 0 <= cos.cosigned_at_ms <= _MAX_U64:
        return HeadProblem(HeadFailure.MALFORMED, f"cosigned_at_ms {cos.cosigned_at_ms} out of range")
    key = keys.get(bytes(cos.key_id))
    if key is None:
        return HeadProblem(HeadFailure.COSIGNATURE_UNKNOWN_KEY, f"cosigner key {cos.key_id.hex()[:16]}… not given")
    if not _verifies(key, cos.signature, _cosigned_bytes(head, cos.cosigned_at_ms)):
        return HeadProblem(HeadFailure.COSIGNATURE_BAD,
                           f"cosignature by key {cos.key_id.hex()[:16]}… does not verify")
    return None


def check_signed_tree_head(
    signed: SignedTreeHead, service_keys: KeyRing | Ed25519PublicKey, cosigner_keys: KeyRing | None = None,
    *, required_cosigners: Iterable[bytes] = (), ignore_unknown_cosigners: bool = False,
) -> HeadProblem | None:
    """None when the service's signature and every cosignature verify.

    service_keys: the service's public key, or its keys by key_id (a key rotated out still verifies old heads).
    cosigner_keys: the parties' keys by key_id; a cosignature by any other key fails unless
    `ignore_unknown_cosigners` (then it is neither checked nor counted). required_cosigners: key ids that must
    have cosigned.
    """
    ring = key_ring([service_keys]) if isinstance(service_keys, Ed25519PublicKey) else service_keys
    why = _malformed(signed.head)
    if why is None and (len(signed.key_id) != KEY_ID_SIZE or len(signed.signature) != SIGNATURE_SIZE):
        why = "key id or signature of the wrong length"
    if why is not None:
        return HeadProblem(HeadFailure.MALFORMED, why)
    key = ring.get(bytes(signed.key_id))
    if key is None:
        return HeadProblem(HeadFailure.UNKNOWN_KEY, f"signed by key {signed.key_id.hex()[:16]}…, not the service's")
    if not _verifies(key, signed.signature, signed.head.to_bytes()):
        return HeadProblem(HeadFailure.BAD_SIGNATURE, "the service's signature does not verify")
    cosigners = cosigner_keys or {}
    seen: set[bytes] = set()
    verified: set[bytes] = set()
    for i, cos in enumerate(signed.cosignatures):
        kid = bytes(cos.key_id)
        if kid in seen:
            return HeadProblem(HeadFailure.COSIGNATURE_DUPLICATE, f"key {kid.hex()[:16]}… cosigned twice", i)
        seen.add(kid)
        if ignore_unknown_cosigners and kid not in cosigners:
            continue
        problem = check_cosignature(signed.head, cos, cosigners)
        if problem is not None:
            return replace(problem, cosignature=i)
        verified.add(kid)
    for kid in required_cosigners:
        if bytes(kid) not in verified:
            return HeadProblem(HeadFailure.COSIGNATURE_MISSING, f"key {bytes(kid).hex()[:16]}… did not cosign")
    return None
