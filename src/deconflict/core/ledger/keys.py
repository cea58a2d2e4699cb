"""Service key rotation: a new Ed25519 key signs the heads from the rotation on; the old key's heads still verify.

A rotation record ties the two keys together, signed by both (big-endian, fixed layout):

    b"deconflict/key-rotation/v1\\x00"  old public key (32 bytes)  new public key (32 bytes)  u64 rotated_at_ms

The old key's signature says "my successor is this key"; the new key's says "I succeed that key". A verifier
that trusts either key (its anchor: the key it was given or pinned) therefore trusts the other, and through a
chain of rotations every key of the service's history: `trusted_service_keys` computes that closure. A record
whose signatures do not both verify is a break, named by its position.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .tree_head import key_id

__all__ = ["KeyRotation", "check_rotation", "rotation_bytes", "sign_rotation", "trusted_service_keys"]

_PREFIX = b"deconflict/key-rotation/v1\x00"
_U64 = struct.Struct(">Q")


@dataclass(frozen=True, slots=True)
class KeyRotation:
    """The service's key `old_key` handed over to `new_key` (raw 32-byte public keys) at `rotated_at_ms`."""

    old_key: bytes
    new_key: bytes
    rotated_at_ms: int
    old_signature: bytes
    new_signature: bytes


def rotation_bytes(old_key: bytes, new_key: bytes, rotated_at_ms: int) -> bytes:
    return _PREFIX + bytes(old_key) + bytes(new_key) + _U64.pack(rotated_at_ms)


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def sign_rotation(old: Ed25519PrivateKey, new: Ed25519PrivateKey, rotated_at_ms: int) -> KeyRotation:
    """The record of `old` handing over to `new`, signed by both."""
    message = rotation_bytes(_raw(old), _raw(new), rotated_at_ms)
    return KeyRotation(_raw(old), _raw(new), rotated_at_ms, old.sign(message), new.sign(message))


def check_rotation(rotation: KeyRotation) -> str | None:
    """None when both signatures of the record verify; else what failed."""
    if len(rotation.old_key) != 32 or len(rotation.new_key) != 32 or not 0 <= rotation.rotated_at_ms < 2**64:
        return "malformed: a key is not 32 bytes, or the time is out of range"
    message = rotation_bytes(rotation.old_key, rotation.new_key, rotation.rotated_at_ms)
    for who, raw, signature in (("old", rotation.old_key, rotation.old_signature),
                                ("new", rotation.new_key, rotation.new_signature)):
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(signature, message)
        except (InvalidSignature, ValueError):
            return f"the {who} key's signature does not verify"
    return None


def trusted_service_keys(anchors: Iterable[Ed25519PublicKey], rotations: Sequence[KeyRotation]
                         ) -> tuple[dict[bytes, Ed25519PublicKey], tuple[int, str] | None]:
    """Every service key trusted from the anchors through valid rotation records, by key_id; and the first
    invalid record (its position and what failed), if any (the keys are then the anchors and what valid records
    before it tie to them)."""
    ring = {key_id(k): k for k in anchors}
    valid: list[KeyRotation] = []
    problem: tuple[int, str] | None = None
    for pos, rotation in enumerate(rotations):
        failed = check_rotation(rotation)
        if failed is not None:
            problem = (pos, failed)
            break
        valid.append(rotation)
    grew = True
    while grew:
        grew = False
        for r in valid:
            old, new = Ed25519PublicKey.from_public_bytes(r.old_key), Ed25519PublicKey.from_public_bytes(r.new_key)
            if (key_id(old) in ring) != (key_id(new) in ring):
                ring.setdefault(key_id(old), old)
                ring.setdefault(key_id(new), new)
                grew = True
    return ring, problem
