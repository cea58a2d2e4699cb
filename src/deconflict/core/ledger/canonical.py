"""Canonical bytes of ledger entries: one value, one encoding, stable forever (version 1).

An entry is its type and a body (a JSON-like mapping). Its bytes, which the Merkle leaf hashes, are

    b"DCL" 0x01                       magic and encoding version
    S <type name>                     the entry type, as a string value
    M <body>                          the body, as a map value

and each value is a one-byte tag followed by its content; every length or count is a 4-byte big-endian unsigned
integer (u32):

    N                                 None
    F / T                             False / True
    I u32 <two's complement>          int, any size: the fewest big-endian bytes that hold it with its sign
    D <8 bytes>                       float: IEEE-754 binary64, big-endian; NaN and infinities are refused and
                                      -0.0 is written as 0.0 (they compare equal, so they must encode alike)
    S u32 <UTF-8>                     str, exactly as given (no Unicode normalisation: the bytes are the text)
    B u32 <bytes>                     bytes (digests, signatures, payloads carried verbatim)
    L u32 <values>                    list or tuple, in order
    M u32 (u32 <UTF-8 key> <value>)*  mapping with str keys, sorted by their UTF-8 bytes (= code point order),
                                      no key twice

Why floats as IEEE-754 bytes rather than the shortest decimal string: it is exact by construction (each finite
double has one 8-byte pattern and reads back bit for bit), it needs no float-to-text algorithm that another
language's verifier would have to reproduce exactly, and it is a fixed 9 bytes. An int and a float stay distinct
(1 is not 1.0), as they are in JSON text and in Python.

`decode_entry` accepts only bytes that `encode_entry` would write (minimal ints, sorted unique keys, valid UTF-8,
no trailing bytes), so an entry has exactly one byte string and decoding then re-encoding returns the same bytes.
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from ...errors import InvalidInput

__all__ = [
    "ENCODING_VERSION",
    "EntryType",
    "LedgerEntry",
    "Value",
    "decode_entry",
    "decode_value",
    "encode_entry",
    "encode_value",
]

ENCODING_VERSION = 1
_MAGIC = b"DCL" + bytes([ENCODING_VERSION])
_U32 = struct.Struct(">I")
_F64 = struct.Struct(">d")
_MAX_LEN = 0xFFFF_FFFF
_MAX_DEPTH = 64  #: nesting deeper than this is refused (decoding must not recurse without bound)

Value: TypeAlias = "bool | int | float | str | bytes | list[Value] | tuple[Value, ...] | Mapping[str, Value] | None"


class EntryType(enum.StrEnum):
    """What a ledger entry records."""

    DECLARATION_VERSION = "declaration_version"  #: a declaration as created or changed (every version)
    CONFLICT = "conflict"  #: a conflict found, or closed
    NOTIFICATION_DELIVERY = "notification_delivery"  #: a notification delivered, with the exact payload disclosed
    ACKNOWLEDGEMENT = "acknowledgement"  #: a recipient's acknowledgement and reply
    ESCALATION = "escalation"  #: an unacknowledged notification escalated a level
    MESSAGE = "message"  #: a hotline message
    ALERT = "alert"  #: a tactical alert raised, updated or cleared


_TYPE_NAMES = frozenset(t.value for t in EntryType)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One entry: its type and body. `to_bytes()` is what the log hashes."""

    type: EntryType
    body: Mapping[str, Any]

    def to_bytes(self) -> bytes:
        return encode_entry(self.type, self.body)

    @classmethod
    def from_bytes(cls, data: bytes) -> LedgerEntry:
        return decode_entry(data)


def _len(n: int, what: str) -> bytes:
    if n > _MAX_LEN:
        raise InvalidInput(f"{what} is too long for the canonical encoding ({n} > {_MAX_LEN})", field=what)
    return _U32.pack(n)


def _int_bytes(n: int) -> bytes:
    return n.to_bytes((n + (n < 0)).bit_length() // 8 + 1, "big", signed=True)


def _encode(value: object, out: list[bytes], path: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise InvalidInput(f"nested deeper than {_MAX_DEPTH}", field=path)
    if value is None:
        out.append(b"N")
    elif value is True:
        out.append(b"T")
    elif value is False:
        out.append(b"F")
    elif isinstance(value, int):
        raw = _int_bytes(int(value))
        out += (b"I", _len(len(raw), path), raw)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{value} has no canonical encoding (NaN and infinities are refused)", field=path)
        out += (b"D", _F64.pack(value + 0.0))  # -0.0 + 0.0 == 0.0
    elif isinstance(value, str):
        try:
            raw = value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInput(f"not valid Unicode text ({exc.reason})", field=path) from None
        out += (b"S", _len(len(raw), path), raw)
    elif isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        out += (b"B", _len(len(raw), path), raw)
    elif isinstance(value, list | tuple):
        out += (b"L", _len(len(value), path))
        for i, item in enumerate(value):
            _encode(item, out, f"{path}[{i}]", depth + 1)
    elif isinstance(value, Mapping):
        keys: list[tuple[bytes, str]] = []
        for k in value:
            if not isinstance(k, str):
                raise InvalidInput(f"map keys must be str, not {type(k).__name__}", field=path)
            try:
                keys.append((k.encode("utf-8"), k))
            except UnicodeEncodeError as exc:
                raise InvalidInput(f"key is not valid Unicode text ({exc.reason})", field=path) from None
        keys.sort()
        out += (b"M", _len(len(keys), path))
        for raw, k in keys:
            out += (_len(len(raw), path), raw)
            _encode(value[k], out, f"{path}.{k}" if path else k, depth + 1)
    else:
        raise InvalidInput(f"{type(value).__name__} has no canonical encoding", field=path or "value")


def encode_value(value: Value) -> bytes:
    """Canonical bytes of one value (tag and content)."""
    out: list[bytes] = []
    _encode(value, out, "", 0)
    return b"".join(out)


def encode_entry(entry_type: EntryType | str, body: Mapping[str, Any]) -> bytes:
    """Canonical bytes of an entry: magic and version, the type name, the body."""
    try:
        kind = EntryType(entry_type)
    except ValueError:
        raise InvalidInput(f"unknown entry type {entry_type!r}; one of {', '.join(EntryType)}",
                           field="type") from None
    if not isinstance(body, Mapping):
        raise InvalidInput("an entry's body is a mapping", field="body")
    out: list[bytes] = [_MAGIC]
    _encode(kind.value, out, "type", 0)
    _encode(body, out, "", 0)
    return b"".join(out)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise InvalidInput(f"truncated at byte {self.pos} (wants {n} more)", field="entry")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def length(self) -> int:
        n: int = _U32.unpack(self.take(4))[0]
        return n

    def text(self) -> str:
        at = self.pos
        raw = self.take(self.length())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"invalid UTF-8 at byte {at}", field="entry") from None

    def value(self, depth: int) -> Value:
        if depth > _MAX_DEPTH:
            raise InvalidInput(f"nested deeper than {_MAX_DEPTH}", field="entry")
        at = self.pos
        tag = self.take(1)
        if tag == b"N":
            return None
        if tag == b"T":
            return True
        if tag == b"F":
            return False
        if tag == b"I":
            raw = self.take(self.length())
            n = int.from_bytes(raw, "big", signed=True)
            if not raw or _int_bytes(n) != raw:
                raise InvalidInput(f"non-minimal integer at byte {at}", field="entry")
            return n
        if tag == b"D":
            raw = self.take(8)
            x: float = _F64.unpack(raw)[0]
            if not math.isfinite(x) or raw == b"\x80" + bytes(7):
                raise InvalidInput(f"non-canonical float at byte {at}", field="entry")
            return x
        if tag == b"S":
            return self.text()
        if tag == b"B":
            return self.take(self.length())
        if tag == b"L":
            return [self.value(depth + 1) for _ in range(self.length())]
        if tag == b"M":
            out: dict[str, Value] = {}
            previous: bytes | None = None
            for _ in range(self.length()):
                key_at = self.pos
                key = self.text()
                raw_key = self.data[key_at + 4:self.pos]
                if previous is not None and raw_key <= previous:
                    raise InvalidInput(f"map keys not sorted or repeated at byte {key_at}", field="entry")
                previous = raw_key
                out[key] = self.value(depth + 1)
            return out
        raise InvalidInput(f"unknown tag {tag!r} at byte {at}", field="entry")


def decode_value(data: bytes) -> Value:
    """The value whose canonical bytes are `data` (refuses any other bytes)."""
    reader = _Reader(bytes(data))
    value = reader.value(0)
    if reader.pos != len(reader.data):
        raise InvalidInput(f"{len(reader.data) - reader.pos} trailing bytes", field="entry")
    return value


def decode_entry(data: bytes) -> LedgerEntry:
    """The entry whose canonical bytes are `data` (refuses any other bytes, and unknown versions and types)."""
    data = bytes(data)
    if data[:3] != _MAGIC[:3]:
        raise InvalidInput("not a Deconflict ledger entry (magic 'DCL' missing)", field="entry")
    if data[3:4] != _MAGIC[3:4]:
        version = data[3] if len(data) > 3 else None
        raise InvalidInput(f"entry encoding version {version} is not {ENCODING_VERSION}", field="entry")
    reader = _Reader(data)
    reader.pos = len(_MAGIC)
    kind = reader.value(0)
    if not isinstance(kind, str) or kind not in _TYPE_NAMES:
        raise InvalidInput(f"unknown entry type {kind!r}", field="entry")
    body = reader.value(0)
    if not isinstance(body, dict):
        raise InvalidInput("an entry's body is a map", field="entry")
    if reader.pos != len(data):
        raise InvalidInput(f"{len(data) - reader.pos} trailing bytes", field="entry")
    return LedgerEntry(EntryType(kind), body)
