"""The tamper-evident record (issue 5), pure: RFC 6962 Merkle log and proofs, canonical entry bytes, signed and
cosigned tree heads, and offline verification of a bundle. No I/O and no clock: times are passed in.

    merkle     leaf_hash, node_hash, root_of; HashSource (leaf, subtree) and MerkleLog; inclusion and consistency
               proofs (RFC 6962 2.1.1/2.1.2) and their checks (RFC 9162 2.1.3.2/2.1.4.2)
    canonical  EntryType, LedgerEntry, encode_entry/decode_entry (version 1, one byte string per entry)
    tree_head  TreeHead, SignedTreeHead, Cosignature; sign_tree_head, cosign, check_signed_tree_head
    keys       KeyRotation: the service's key handed over, signed by both keys; trusted_service_keys
    verify     Bundle, BundleEntry; verify_bundle -> VerificationReport (first Break: part, position, entry)
    reconstruct  picture_at: what a party knew at a time, from the entries it may see (GET /v1/ledger/picture)
"""

from .canonical import (
    ENCODING_VERSION,
    EntryType,
    LedgerEntry,
    Value,
    decode_entry,
    decode_value,
    encode_entry,
    encode_value,
)
from .keys import KeyRotation, check_rotation, rotation_bytes, sign_rotation, trusted_service_keys
from .merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    HashSource,
    MerkleLog,
    ProofFailure,
    check_consistency,
    check_inclusion,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    range_root,
    root_from_inclusion,
    root_of,
    split_point,
    verify_consistency,
    verify_inclusion,
)
from .tree_head import (
    Cosignature,
    HeadFailure,
    HeadProblem,
    KeyRing,
    SignedTreeHead,
    TreeHead,
    check_cosignature,
    check_signed_tree_head,
    cosign,
    key_id,
    key_ring,
    sign_tree_head,
)
from .verify import Break, BreakReason, Bundle, BundleEntry, Part, VerificationReport, verify_bundle

__all__ = [
    "EMPTY_ROOT",
    "ENCODING_VERSION",
    "HASH_SIZE",
    "Break",
    "BreakReason",
    "Bundle",
    "BundleEntry",
    "Cosignature",
    "EntryType",
    "HashSource",
    "HeadFailure",
    "HeadProblem",
    "KeyRing",
    "KeyRotation",
    "LedgerEntry",
    "MerkleLog",
    "Part",
    "ProofFailure",
    "SignedTreeHead",
    "TreeHead",
    "Value",
    "VerificationReport",
    "check_consistency",
    "check_cosignature",
    "check_inclusion",
    "check_rotation",
    "check_signed_tree_head",
    "consistency_proof",
    "cosign",
    "decode_entry",
    "decode_value",
    "encode_entry",
    "encode_value",
    "inclusion_proof",
    "key_id",
    "key_ring",
    "leaf_hash",
    "node_hash",
    "range_root",
    "root_from_inclusion",
    "root_of",
    "rotation_bytes",
    "sign_rotation",
    "sign_tree_head",
    "split_point",
    "trusted_service_keys",
    "verify_bundle",
    "verify_consistency",
    "verify_inclusion",
]
