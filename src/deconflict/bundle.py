"""A party's ledger bundle (docs/ledger.md): its JSON form, and building it from the store. Shared by
`deconflict export` (the operator's offline tool, reading the store directly) and GET /v1/ledger/export (a
party's own bundle with its token): one builder, one format.

Leaf hashes and proofs are recomputed from the stored entry bytes, so a stored entry changed after it was signed
yields a bundle that fails verification rather than a bundle that hides the change.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import sqlalchemy as sa

from .core.ledger import (
    Bundle,
    BundleEntry,
    Cosignature,
    KeyRotation,
    MerkleLog,
    SignedTreeHead,
    TreeHead,
    consistency_proof,
    inclusion_proof,
)
from .core.ledger.reconstruct import parse_time as parse_rfc3339
from .errors import InvalidInput, NotFound

__all__ = ["BUNDLE_FORMAT", "BUNDLE_VERSION", "BundleFormatError", "bundle_from_json", "bundle_to_json",
           "export_bundle", "parse_time", "stored_leaves"]

BUNDLE_FORMAT = "deconflict.ledger.bundle"
BUNDLE_VERSION = 1
_BATCH = 10_000


# -- the bundle's JSON form (docs/ledger.md) -------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _head_json(head: SignedTreeHead) -> dict[str, Any]:
    return {"size": head.size, "root": _b64(head.root), "timestamp_ms": head.timestamp_ms,
            "key_id": _b64(head.key_id), "signature": _b64(head.signature),
            "cosignatures": [{"key_id": _b64(c.key_id), "cosigned_at_ms": c.cosigned_at_ms,
                              "signature": _b64(c.signature)} for c in head.cosignatures]}


def bundle_to_json(bundle: Bundle, labels: dict[str, Any] | None = None) -> dict[str, Any]:
    """The bundle as its JSON document; `labels` (party, range, export time) are carried but prove nothing."""
    return {
        "format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, **(labels or {}),
        "heads": [_head_json(h) for h in bundle.heads],
        "consistency": [{"first": bundle.heads[i].size, "second": bundle.heads[i + 1].size,
                         "proof": [_b64(h) for h in proof]} for i, proof in enumerate(bundle.consistency)],
        "entries": [{"index": e.index, "tree_size": e.tree_size, "entry": _b64(e.data),
                     "proof": [_b64(h) for h in e.proof]} for e in bundle.entries],
        "key_rotations": [{"old_key": _b64(r.old_key), "new_key": _b64(r.new_key), "rotated_at_ms": r.rotated_at_ms,
                           "old_signature": _b64(r.old_signature), "new_signature": _b64(r.new_signature)}
                          for r in bundle.rotations],
    }


class BundleFormatError(InvalidInput):
    """The bundle is not a well-formed bundle document; `field` is the JSON path of what is wrong."""


def _field(obj: Any, name: str, path: str) -> Any:
    if not isinstance(obj, dict) or name not in obj:
        raise BundleFormatError(f"missing {name!r}", field=path)
    return obj[name]


def _int(obj: Any, name: str, path: str) -> int:
    value = _field(obj, name, path)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BundleFormatError("not a non-negative integer", field=f"{path}.{name}")
    return value


def _bytes(obj: Any, name: str, path: str) -> bytes:
    return _decode(_field(obj, name, path), f"{path}.{name}")


def _decode(value: Any, path: str) -> bytes:
    if not isinstance(value, str):
        raise BundleFormatError("not a base64 string", field=path)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BundleFormatError("not valid base64", field=path) from None


def _list(obj: Any, name: str, path: str) -> list[Any]:
    value = _field(obj, name, path)
    if not isinstance(value, list):
        raise BundleFormatError("not a list", field=f"{path}.{name}")
    return value


def _hashes(obj: Any, name: str, path: str) -> tuple[bytes, ...]:
    return tuple(_decode(h, f"{path}.{name}[{i}]") for i, h in enumerate(_list(obj, name, path)))


def bundle_from_json(doc: Any) -> Bundle:
    """The `Bundle` a bundle document describes; BundleFormatError naming the JSON path of the first problem."""
    if _field(doc, "format", "$") != BUNDLE_FORMAT:
        raise BundleFormatError(f"not a {BUNDLE_FORMAT} document", field="$.format")
    if _field(doc, "version", "$") != BUNDLE_VERSION:
        raise BundleFormatError(f"bundle version {doc['version']!r} is not {BUNDLE_VERSION}", field="$.version")
    heads = []
    for i, h in enumerate(_list(doc, "heads", "$")):
        p = f"$.heads[{i}]"
        cos = tuple(Cosignature(_bytes(c, "key_id", f"{p}.cosignatures[{j}]"),
                                _int(c, "cosigned_at_ms", f"{p}.cosignatures[{j}]"),
                                _bytes(c, "signature", f"{p}.cosignatures[{j}]"))
                    for j, c in enumerate(_list(h, "cosignatures", p)))
        heads.append(SignedTreeHead(TreeHead(_int(h, "size", p), _bytes(h, "root", p), _int(h, "timestamp_ms", p)),
                                    _bytes(h, "key_id", p), _bytes(h, "signature", p), cos))
    consistency = []
    for i, c in enumerate(_list(doc, "consistency", "$")):
        p = f"$.consistency[{i}]"
        if i + 1 < len(heads) and (_int(c, "first", p), _int(c, "second", p)) != (heads[i].size,
                                                                                  heads[i + 1].size):
            raise BundleFormatError(f"proves {c['first']} -> {c['second']}, but heads {i} and {i + 1} have sizes "
                                    f"{heads[i].size} and {heads[i + 1].size}", field=p)
        consistency.append(_hashes(c, "proof", p))
    entries = []
    for i, e in enumerate(_list(doc, "entries", "$")):
        p = f"$.entries[{i}]"
        index = _int(e, "index", p)
        p = f"$.entries[{i}] (index {index})"
        entries.append(BundleEntry(index, _bytes(e, "entry", p), _int(e, "tree_size", p), _hashes(e, "proof", p)))
    rotations = []
    listed = _list(doc, "key_rotations", "$") if "key_rotations" in doc else []  # absent before key rotation
    for i, r in enumerate(listed):
        p = f"$.key_rotations[{i}]"
        rotations.append(KeyRotation(_bytes(r, "old_key", p), _bytes(r, "new_key", p), _int(r, "rotated_at_ms", p),
                                     _bytes(r, "old_signature", p), _bytes(r, "new_signature", p)))
    return Bundle(tuple(heads), tuple(consistency), tuple(entries), tuple(rotations))


# -- export: from the store ------------------------------------------------------------------------------------

def parse_time(text: str, option: str) -> datetime:
    """`text` as an RFC 3339 time in UTC (the one parser: reconstruct.parse_time), else InvalidInput naming
    the CLI `option`."""
    when = parse_rfc3339(text)
    if when is None:
        raise InvalidInput(f"{text!r} is not an RFC 3339 time", field=option)
    return when


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def stored_leaves(conn: sa.Connection, size: int) -> Iterator[bytes]:
    from .store import schema as t

    e = t.ledger_entries.c
    at = 0
    while at < size:
        rows = conn.execute(sa.select(e.idx, e.entry).where(e.idx >= at, e.idx < size).order_by(e.idx)
                            .limit(_BATCH)).all()
        if not rows:
            break
        for r in rows:
            if r.idx != at:
                raise InvalidInput(f"the stored log has no entry {at} (next is {r.idx})", field="ledger_entries")
            yield bytes(r.entry)
            at += 1
    if at < size:
        raise InvalidInput(f"the stored log has {at} entries; its signed heads reach {size}", field="ledger_entries")


def export_bundle(engine: sa.Engine, party: str, start: datetime, end: datetime
                  ) -> tuple[Bundle, dict[str, Any], list[str]]:
    """What `party` (by name, or id) may see between `start` and `end`: the bundle, its labels, and notes for the
    operator (entries in the range left out because no signed head covers them yet; stored entries that no
    longer match the heads signed over them, located between two signed heads)."""
    from .service.ledger import rotations
    from .service.routes.ledger import with_cosignatures
    from .store import schema as t

    with engine.connect() as conn:
        p = t.parties.c
        found = conn.execute(sa.select(p.id, p.name).where(sa.or_(p.name == party, p.id == party))).first()
        if found is None:
            raise NotFound(f"no party named {party!r}", field="--party")
        party_id, party = found.id, found.name
        h = t.tree_heads.c
        every = [SignedTreeHead(TreeHead(int(r.size), bytes(r.root), int(r.timestamp_ms)), bytes(r.key_id),
                                bytes(r.signature)) for r in conn.execute(sa.select(t.tree_heads).order_by(h.size))]
        heads = [x for x in every if _ms(start) <= x.timestamp_ms <= _ms(end)]
        e = t.ledger_entries.c
        mine = [(int(r.idx), bytes(r.entry)) for r in conn.execute(
            sa.select(e.idx, e.entry, e.parties).where(e.created_at >= start, e.created_at <= end).order_by(e.idx))
            if party_id in (r.parties or [])]
        if mine and (not heads or heads[-1].size <= mine[-1][0]):  # the first head after the range covers them
            later = [x for x in every if x.size > mine[-1][0] and (not heads or x.size > heads[-1].size)]
            if later:
                heads.append(later[0])
        if not heads:
            raise NotFound("no signed tree head in that range (and none after it covering the party's entries)",
                           field="--from")
        last = heads[-1].size
        unsigned = sum(1 for idx, _ in mine if idx >= last)
        mine = [(idx, data) for idx, data in mine if idx < last]
        heads = [with_cosignatures(conn, x) for x in heads]
        merkle = MerkleLog()
        merkle.extend(stored_leaves(conn, last))
        history = rotations(conn)
    notes = [f"{unsigned} of the party's entries in the range are not in a signed head yet"] if unsigned else []
    below = 0
    for x in every:
        if x.size > last:
            break
        if merkle.root(x.size) != x.root:
            notes.append(f"the stored log does not match its signed head of size {x.size}: an entry in "
                         f"{below}..{x.size - 1} was changed after it was signed (the bundle will not verify)")
            break
        below = x.size
    consistency = tuple(tuple(consistency_proof(merkle, a.size, b.size)) for a, b in pairwise(heads))
    entries = []
    for idx, data in mine:
        size = next(x.size for x in heads if x.size > idx)
        entries.append(BundleEntry(idx, data, size, tuple(inclusion_proof(merkle, idx, size))))
    labels = {"party": party, "party_id": party_id, "from": start.isoformat(), "to": end.isoformat(),
              "exported_at": datetime.now(UTC).isoformat()}
    return Bundle(tuple(heads), consistency, tuple(entries), tuple(history)), labels, notes


