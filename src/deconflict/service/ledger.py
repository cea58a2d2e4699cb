"""The ledger in the service (issue 5): staging entries, sequencing them into the log, signing tree heads.

Staging: every write point calls one `stage_*` function inside its own transaction, which appends the entry's
canonical bytes (core.ledger.encode_entry) and the parties it concerns to `ledger_outbox`; the entry commits or
rolls back with the state it describes.

Sequencing: `sequence(state)` (run by the scheduler's tick) moves outbox rows into `ledger_entries` with
contiguous indices, in the order the mover sees them committed. One mover at a time: a process lock, and across
processes SQLite's single writer lock or, on PostgreSQL, a transaction advisory lock. When the log grew, it signs
a tree head with the service's Ed25519 key in the same transaction.

Each process keeps the log's hashes in a `MerkleLog` (rebuilt from `ledger_entries` at start-up, leaf hashes
recomputed from the stored bytes, and caught up before each use), from which proofs are answered. The service key
is generated on first start and kept in `service_keys`; the private key is never logged or served.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from ..core.ledger import (
    EntryType,
    KeyRotation,
    LedgerEntry,
    MerkleLog,
    SignedTreeHead,
    TreeHead,
    consistency_proof,
    encode_entry,
    inclusion_proof,
    key_id,
    leaf_hash,
    sign_rotation,
    sign_tree_head,
)
from ..core.ledger.canonical import decode_entry
from ..core.ledger.reconstruct import picture_at
from ..errors import NotFound
from ..store import schema as t
from ..store.database import is_postgres, writing
from .codec import iso
from .state import ServiceState

__all__ = ["LEDGER_LOCK", "consistency", "entry_with_proof", "latest_head", "open_ledger", "outbox_row",
           "party_entries", "picture", "picture_entries", "public_key", "rotate_key", "rotations", "sequence",
           "stage", "stage_ack", "stage_conflicts", "stage_delivery", "stage_escalation", "stage_message",
           "stage_notifications", "stage_rows", "stage_version"]

log = logging.getLogger("deconflict.ledger")

LEDGER_LOCK = 7262019  #: PostgreSQL advisory lock: the one mover (and the key's creation)
BATCH = 10_000  #: outbox rows moved per transaction


@dataclass
class _Ledger:
    """This process's view of the log: its hashes, and the service's signing key."""

    key: Ed25519PrivateKey
    log: MerkleLog | None = None  #: None: to be rebuilt from the store (at start-up, or after a failed move)
    lock: threading.Lock = field(default_factory=threading.Lock)


_LEDGERS: weakref.WeakKeyDictionary[sa.Engine, _Ledger] = weakref.WeakKeyDictionary()


# -- staging ---------------------------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    """A JSON-like value the canonical encoding takes: datetimes as RFC 3339 text, enums by value."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


_OUTBOX_INSERT = sa.insert(t.ledger_outbox)  #: one compiled statement for every staged row (and executemany)


def outbox_row(entry_type: EntryType, value: Mapping[str, Any], now: datetime,
               parties: Iterable[str] = ()) -> dict[str, Any]:
    """The outbox row of one entry: `value` with the time it was recorded, and the parties it concerns (who may
    fetch it)."""
    body = {**_plain(value), "recorded_at": iso(now)}
    return {"entry": encode_entry(entry_type, body), "parties": sorted(set(parties)), "created_at": now}


def stage_rows(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append outbox rows (see `outbox_row`) in the caller's transaction, in one statement."""
    if rows:
        conn.execute(_OUTBOX_INSERT, list(rows))


def stage(conn: sa.Connection, entry_type: EntryType, value: Mapping[str, Any], now: datetime,
          parties: Iterable[str] = ()) -> None:
    """Append one entry to the outbox, in the caller's transaction (see `outbox_row`)."""
    stage_rows(conn, [outbox_row(entry_type, value, now, parties)])


def stage_version(conn: sa.Connection, declaration_id: str, version: int, now: datetime) -> None:
    """A declaration version, exactly as stored in `declaration_versions` (just written in this transaction)."""
    dv = t.declaration_versions.c
    row = conn.execute(sa.select(t.declaration_versions).where(dv.declaration_id == declaration_id,
                                                               dv.version == version)).one()
    owner = conn.execute(sa.select(t.declarations.c.owner_id).where(t.declarations.c.id == declaration_id)
                         ).scalar_one()
    stage(conn, EntryType.DECLARATION_VERSION, {"declaration_id": declaration_id, "version": version,
                                                "state": row.state, "owner_id": owner, "body": row.body}, now,
          [owner])


def stage_conflicts(conn: sa.Connection, rows: Sequence[Mapping[str, Any]],
                    shown: Sequence[Mapping[str, Any] | None], now: datetime) -> None:
    """Conflicts found: the full record (both declarations, parties and distances) is the operator's entry, listing
    no party; the declaring party's (party_a) entry is the conflict as it was shown to it (`shown`, its
    conflict_view; None when nothing of it is disclosed to it, and then it has no entry). The other party learns
    of a conflict only as disclosed to it, which its notification entry records."""
    staged = []
    for row, view in zip(rows, shown, strict=True):
        staged.append(outbox_row(EntryType.CONFLICT, {"event": "found", **row}, now, ()))
        if view is not None:
            staged.append(outbox_row(EntryType.CONFLICT, {"event": "shown", "conflict_id": row["id"],
                                                          "party_id": row["party_a"], "conflict": view}, now,
                                     [row["party_a"]]))
    stage_rows(conn, staged)


def stage_notifications(conn: sa.Connection, rows: Sequence[Mapping[str, Any]], now: datetime) -> None:
    """Notifications created, each with the exact payload the recipient is shown."""
    keep = ("id", "recipient_id", "sender_id", "reason", "declaration_id", "declaration_version", "conflict_id",
            "agreement_ids", "payload", "starts_at", "min_notice_s", "ack_deadline_at", "escalation_level")
    stage_rows(conn, [outbox_row(EntryType.NOTIFICATION_DELIVERY, {"event": "created", **{k: row.get(k) for k in keep}},
                                 now, [row["recipient_id"], row["sender_id"]]) for row in rows])


def stage_delivery(conn: sa.Connection, notification_id: str, now: datetime) -> None:
    """A notification's first delivery, as just recorded: when, through which channel, lead time, lateness."""
    n = t.notifications.c
    row = conn.execute(sa.select(n.id, n.recipient_id, n.sender_id, n.delivered_at, n.delivered_via,
                                 n.lead_time_s, n.late).where(n.id == notification_id)).first()
    if row is None or row.delivered_at != now:  # delivered before, by another transaction
        return
    stage(conn, EntryType.NOTIFICATION_DELIVERY, {
        "event": "delivered", "notification_id": row.id, "recipient_id": row.recipient_id,
        "delivered_at": row.delivered_at, "via": row.delivered_via, "lead_time_s": row.lead_time_s,
        "late": row.late}, now, [row.recipient_id, row.sender_id])


def stage_ack(conn: sa.Connection, notification_id: str, now: datetime) -> None:
    """An acknowledgement and its reply, as just recorded."""
    n = t.notifications.c
    row = conn.execute(sa.select(n.id, n.recipient_id, n.sender_id, n.acked_at, n.ack_reply, n.ack_text)
                       .where(n.id == notification_id)).one()
    stage(conn, EntryType.ACKNOWLEDGEMENT, {
        "notification_id": row.id, "recipient_id": row.recipient_id, "acked_at": row.acked_at,
        "reply": row.ack_reply, "text": row.ack_text}, now, [row.recipient_id, row.sender_id])


def stage_escalation(conn: sa.Connection, notification: Any, level: int, alarm_id: str, now: datetime) -> None:
    """An unacknowledged notification escalated to `level`; `alarm_id` is the alarm sent to its sender."""
    alarm = conn.execute(sa.select(t.notifications.c.payload).where(t.notifications.c.id == alarm_id)).scalar_one()
    stage(conn, EntryType.ESCALATION, {
        "notification_id": notification.id, "recipient_id": notification.recipient_id,
        "sender_id": notification.sender_id, "level": level, "alarm_id": alarm_id, "alarm": alarm}, now,
        [notification.recipient_id, notification.sender_id])


def stage_message(conn: sa.Connection, message_id: str, members: Iterable[str], now: datetime) -> None:
    """A hotline message, as stored; the thread's participants are its parties."""
    row = conn.execute(sa.select(t.messages).where(t.messages.c.id == message_id)).one()
    stage(conn, EntryType.MESSAGE, {"message_id": row.id, "thread_id": row.thread_id, "n": row.n,
                                    "sender_id": row.sender_id, "text": row.text, "structured": row.structured,
                                    "created_at": row.created_at}, now, members)


# -- the key and this process's log ----------------------------------------------------------------------------

def _lock_mover(conn: sa.Connection) -> None:
    if is_postgres(conn.engine):  # SQLite: BEGIN IMMEDIATE already made this the only writer
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": LEDGER_LOCK})


def _load_key(state: ServiceState) -> Ed25519PrivateKey:
    """The service's signing key: the current one in the store, generated (and stored) on first start."""
    k = t.service_keys.c
    with writing(state.db) as conn:
        _lock_mover(conn)
        raw = conn.execute(sa.select(k.private_key).where(k.retired_at.is_(None))
                           .order_by(k.created_at.desc()).limit(1)).scalar_one_or_none()
        if raw is not None:
            return Ed25519PrivateKey.from_private_bytes(bytes(raw))
        key = Ed25519PrivateKey.generate()
        conn.execute(sa.insert(t.service_keys).values(
            key_id=key_id(key), created_at=state.clock(), retired_at=None,
            public_key=key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
            private_key=key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())))
        log.info("generated the service's ledger key %s", key_id(key).hex())
        return key


def _follow_rotation(conn: sa.Connection, ledger: _Ledger) -> None:
    """Sign with the store's current key: another process (or `deconflict ledger rotate-key`) may have rotated it."""
    k = t.service_keys.c
    row = conn.execute(sa.select(k.key_id, k.private_key).where(k.retired_at.is_(None))
                       .order_by(k.created_at.desc()).limit(1)).first()
    if row is not None and bytes(row.key_id) != key_id(ledger.key):
        ledger.key = Ed25519PrivateKey.from_private_bytes(bytes(row.private_key))


def rotate_key(db: sa.Engine, now: datetime) -> KeyRotation:
    """Retire the current service key for a new one: the rotation record signed by both is stored, the old
    private key is erased (it can sign nothing more), and heads from now on are signed by the new key."""
    k = t.service_keys.c
    with writing(db) as conn:
        _lock_mover(conn)
        row = conn.execute(sa.select(t.service_keys).where(k.retired_at.is_(None))
                           .order_by(k.created_at.desc()).limit(1)).first()
        if row is None:
            raise NotFound("the store has no ledger key yet (the service creates it on first start)", field="db")
        old = Ed25519PrivateKey.from_private_bytes(bytes(row.private_key))
        new = Ed25519PrivateKey.generate()
        rotation = sign_rotation(old, new, int(now.timestamp() * 1000))
        conn.execute(sa.update(t.service_keys).where(k.key_id == row.key_id).values(retired_at=now,
                                                                                   private_key=b""))
        conn.execute(sa.insert(t.service_keys).values(
            key_id=key_id(new), created_at=now, retired_at=None, public_key=rotation.new_key,
            private_key=new.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())))
        conn.execute(sa.insert(t.service_key_rotations).values(
            new_key_id=key_id(new), old_key_id=bytes(row.key_id), old_key=rotation.old_key,
            new_key=rotation.new_key, rotated_at_ms=rotation.rotated_at_ms, old_signature=rotation.old_signature,
            new_signature=rotation.new_signature))
    ledger = _LEDGERS.get(db)
    if ledger is not None:
        with ledger.lock:
            ledger.key = new
    log.info("rotated the service's ledger key %s -> %s", key_id(old).hex(), key_id(new).hex())
    return rotation


def rotations(conn: sa.Connection) -> list[KeyRotation]:
    """The service's key rotations, oldest first."""
    r = t.service_key_rotations.c
    return [KeyRotation(bytes(x.old_key), bytes(x.new_key), int(x.rotated_at_ms), bytes(x.old_signature),
                        bytes(x.new_signature))
            for x in conn.execute(sa.select(t.service_key_rotations).order_by(r.rotated_at_ms, r.new_key_id))]


def open_ledger(state: ServiceState) -> None:
    """At start-up: load (or create) the service key and rebuild this process's log from `ledger_entries`,
    checking it against the latest signed head."""
    ledger = _Ledger(_load_key(state))
    _LEDGERS[state.db] = ledger
    with ledger.lock, state.db.connect() as conn:
        merkle = _current_log(conn, ledger)
        head = latest_head(conn)
    if head is not None and (head.size > merkle.size or merkle.root(head.size) != head.root):
        log.error("the stored ledger does not match its signed tree head of size %d", head.size)


def _ledger(state: ServiceState) -> _Ledger:
    ledger = _LEDGERS.get(state.db)
    if ledger is None:
        open_ledger(state)
        ledger = _LEDGERS[state.db]
    return ledger


def _current_log(conn: sa.Connection, ledger: _Ledger) -> MerkleLog:
    """This process's log, caught up with every entry in the store (call with ledger.lock held)."""
    if ledger.log is None:
        ledger.log = MerkleLog()
    merkle = ledger.log
    e = t.ledger_entries.c
    while True:
        rows = conn.execute(sa.select(e.idx, e.entry).where(e.idx >= merkle.size).order_by(e.idx)
                            .limit(BATCH)).all()
        for r in rows:
            if r.idx != merkle.size:
                raise RuntimeError(f"ledger entries are not contiguous: {r.idx} follows {merkle.size - 1}")
            merkle.append(bytes(r.entry))
        if len(rows) < BATCH:
            return merkle


# -- sequencing and heads --------------------------------------------------------------------------------------

def _head(row: Any) -> SignedTreeHead:
    return SignedTreeHead(TreeHead(int(row.size), bytes(row.root), int(row.timestamp_ms)), bytes(row.key_id),
                          bytes(row.signature))


def latest_head(conn: sa.Connection) -> SignedTreeHead | None:
    row = conn.execute(sa.select(t.tree_heads).order_by(t.tree_heads.c.size.desc()).limit(1)).first()
    return None if row is None else _head(row)


def head_of_size(conn: sa.Connection, size: int) -> SignedTreeHead | None:
    row = conn.execute(sa.select(t.tree_heads).where(t.tree_heads.c.size == size)).first()
    return None if row is None else _head(row)


def sequence(state: ServiceState) -> int:
    """Move staged entries into the log (contiguous indices) and sign a tree head if it grew; returns how many
    entries were moved."""
    now = state.clock()
    ledger = _ledger(state)
    with ledger.lock:
        try:
            with writing(state.db) as conn:
                _lock_mover(conn)
                _follow_rotation(conn, ledger)
                merkle = _current_log(conn, ledger)
                moved = _move_batch(conn, merkle)
                head = latest_head(conn)
                if merkle.size > (head.size if head is not None else 0):
                    stamp = int(now.timestamp() * 1000)
                    if head is not None:
                        stamp = max(stamp, head.timestamp_ms)  # heads never go back in time
                    signed = sign_tree_head(TreeHead(merkle.size, merkle.root(), stamp), ledger.key)
                    conn.execute(sa.insert(t.tree_heads).values(
                        size=signed.size, root=signed.root, timestamp_ms=signed.timestamp_ms, key_id=signed.key_id,
                        signature=signed.signature))
        except BaseException:
            ledger.log = None  # what was appended may not have committed: rebuild from the store
            raise
    return moved


_MOVE_SQL = {  # the mover's statements, in each driver's own paramstyle (see _move_batch)
    "sqlite": ("SELECT seq, entry, parties, created_at FROM ledger_outbox ORDER BY seq LIMIT ?",
               "INSERT INTO ledger_entries (idx, entry, leaf_hash, parties, created_at) VALUES (?, ?, ?, ?, ?)",
               "DELETE FROM ledger_outbox WHERE seq = ?"),
    "postgresql": ("SELECT seq, entry, parties::text, created_at FROM ledger_outbox ORDER BY seq LIMIT %s",
                   "INSERT INTO ledger_entries (idx, entry, leaf_hash, parties, created_at) "
                   "VALUES (%s, %s, %s, %s::json, %s)",
                   "DELETE FROM ledger_outbox WHERE seq = %s"),
}


def _move_batch(conn: sa.Connection, merkle: MerkleLog) -> int:
    """Move up to BATCH outbox rows, oldest first, into `ledger_entries` after the log's last index, appending their
    leaf hashes to `merkle`; returns how many. The mover's hot path: the rows' `parties` and `created_at` pass
    through as stored (both tables declare the same types), so the driver's statements skip SQLAlchemy's per-value
    processing (JSON and datetime round trips were 70% of the mover's time). Rows are deleted by `seq`, never by
    range: a transaction that staged a lower `seq` may commit after this read."""
    select_sql, insert_sql, delete_sql = _MOVE_SQL["postgresql" if is_postgres(conn.engine) else "sqlite"]
    rows = conn.exec_driver_sql(select_sql, (BATCH,)).all()
    if not rows:
        return 0
    start = merkle.size
    entries = []
    for i, (_seq, stored, parties, created_at) in enumerate(rows):
        entry = bytes(stored)
        leaf = leaf_hash(entry)
        entries.append((start + i, entry, leaf, parties, created_at))
        merkle.append_leaf_hash(leaf)
    conn.exec_driver_sql(insert_sql, entries)
    conn.exec_driver_sql(delete_sql, [(row[0],) for row in rows])
    return len(rows)


# -- reads for the API -----------------------------------------------------------------------------------------

def public_key(state: ServiceState) -> Ed25519PublicKey:
    """The key that signs heads now (following a rotation made by another process)."""
    ledger = _ledger(state)
    with ledger.lock, state.db.connect() as conn:
        _follow_rotation(conn, ledger)
        return ledger.key.public_key()


@dataclass(frozen=True)
class EntryProof:
    index: int
    entry: bytes
    head: SignedTreeHead
    proof: list[bytes]


def entry_with_proof(state: ServiceState, party_id: str, admin: bool, index: int) -> EntryProof | None:
    """Entry `index` with its inclusion proof against the latest signed head; None when there is no such entry in
    a signed head, or the party is not party to it."""
    ledger = _ledger(state)
    e = t.ledger_entries.c
    with state.db.connect() as conn:
        row = conn.execute(sa.select(e.entry, e.parties).where(e.idx == index)).first()
        head = latest_head(conn)
        if row is None or head is None or index >= head.size or not (admin or party_id in row.parties):
            return None
        with ledger.lock:
            merkle = _current_log(conn, ledger)
            proof = inclusion_proof(merkle, index, head.size)
    return EntryProof(index, bytes(row.entry), head, proof)


def consistency(state: ServiceState, first: int, second: int | None
                ) -> tuple[int, int, list[bytes], SignedTreeHead | None, SignedTreeHead | None] | None:
    """Consistency proof between the trees of `first` and `second` entries (second: the latest signed head's
    size), with the signed heads of those sizes where there are; None when second is beyond the latest head."""
    ledger = _ledger(state)
    with state.db.connect() as conn:
        head = latest_head(conn)
        last = head.size if head is not None else 0
        size = last if second is None else second
        if size > last or first > size:
            return None
        with ledger.lock:
            merkle = _current_log(conn, ledger)
            proof = consistency_proof(merkle, first, size)
        return first, size, proof, head_of_size(conn, first), head_of_size(conn, size)


def party_entries(conn: sa.Connection, party_id: str, size: int, until: datetime | None = None
                  ) -> list[tuple[int, LedgerEntry]]:
    """The decoded entries of the first `size` that list `party_id` (recorded by `until`, when given)."""
    e = t.ledger_entries.c
    out: list[tuple[int, LedgerEntry]] = []
    at = 0
    while at < size:
        query = sa.select(e.idx, e.entry, e.parties).where(
            e.idx >= at, e.idx < size,
            # a cheap text pre-filter (the JSON list holds the id quoted); membership is checked exactly below
            sa.cast(e.parties, sa.Text).contains(f'"{party_id}"', autoescape=True))
        if until is not None:
            query = query.where(e.created_at <= until)
        rows = conn.execute(query.order_by(e.idx).limit(BATCH)).all()
        if not rows:
            break
        out.extend((int(r.idx), decode_entry(bytes(r.entry))) for r in rows if party_id in (r.parties or ()))
        at = int(rows[-1].idx) + 1
    return out


def picture_entries(conn: sa.Connection, party_id: str, at: datetime) -> tuple[list[tuple[int, LedgerEntry]], int]:
    """What a picture at `at` is drawn from (the API's and `deconflict report --db`'s alike): the entries
    `party_id` may see, recorded by `at`, over the tree of the latest signed head; and that tree's size."""
    head = latest_head(conn)
    size = head.size if head is not None else 0
    return party_entries(conn, party_id, size, at), size


def picture(state: ServiceState, party_id: str, at: datetime) -> dict[str, Any]:
    """What `party_id` knew at `at`, reconstructed from the ledger entries it may see (core.ledger.reconstruct),
    over the tree of the latest signed head (`tree_size`); never from the live tables."""
    with state.db.connect() as conn:
        entries, size = picture_entries(conn, party_id, at)
    return {**picture_at(entries, party_id, at), "tree_size": size}
