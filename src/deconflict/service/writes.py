"""The one write path for declarations: validate -> lock the area -> catch up -> check -> decide -> commit.

Locks are taken in a fixed order (the agreements key, then area keys sorted) and the engine cache's in-process
lock is never held while waiting for a database lock, so writers cannot deadlock. A check happens after the
locks are held and the cache has caught up with every committed change, so two writes whose areas meet see each
other: under a `block` policy exactly one of two conflicting declarations is accepted.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..core.footprint import FootprintBatch
from ..core.model import Activation, DeclarationKind, Volume4D
from ..core.protocol import ConflictPolicy
from ..core.strategic import engine_kind
from ..core.validation import validate_volume
from ..errors import Blocked, Conflict, Forbidden, InvalidDeclaration, NotFound, StaleVersion
from ..store import schema as t
from ..store.database import writing
from ..store.locks import area_lock_keys, lock_areas
from .bodies import DeclarationIn
from .codec import volumes_json
from .engine_cache import LIVE_STATES, PartyInfo
from .idempotency import once, remember
from .induced import induced_notices
from .ledger import stage_conflicts, stage_version
from .notifications import notices_owed, plan_notifications
from .reads import VolumeStore, declaration_row
from .state import ServiceState
from .views import ConflictRecord, conflict_view, declaration_view

__all__ = ["BlockedWrite", "WriteResult", "cancel_declaration", "create_declaration", "preview_declaration",
           "request_hash", "update_declaration"]

AGREEMENTS_LOCK = {-7262018: False}  #: every declaration write holds it shared; agreement writes exclusive


@dataclass
class WriteResult:
    status: int
    body: dict[str, Any]
    version: int | None = None


class BlockedWrite(Blocked):
    """Refused under a `block` policy; `conflicts` are what the caller may see of the reasons."""

    def __init__(self, message: str, conflicts: list[dict[str, Any]]) -> None:
        super().__init__(message, field="volumes")
        self.conflicts = conflicts


@dataclass
class _Prepared:
    body: DeclarationIn
    batch: FootprintBatch
    volumes_json: list[dict[str, Any]] = field(default_factory=list)


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def _prepare(state: ServiceState, body: DeclarationIn, now: datetime) -> _Prepared:
    if body.activation is Activation.INDUCED and body.kind is not DeclarationKind.HAZARD:
        raise InvalidDeclaration("only a hazard can be induced", field="activation")
    for i, volume in enumerate(body.volumes):
        validate_volume(volume, state.limits, now, field=f"volumes[{i}]")
    return _Prepared(body, FootprintBatch.of(body.volumes), volumes_json(body.volumes))


def _window(volumes: list[Volume4D]) -> tuple[datetime, datetime]:
    return min(v.time_start.value for v in volumes), max(v.time_end.value for v in volumes)


def _lock(state: ServiceState, conn: sa.Connection, batch: FootprintBatch) -> None:
    if conn.dialect.name != "postgresql":  # SQLite: BEGIN IMMEDIATE already made this the only writer
        return
    lock_areas(conn, AGREEMENTS_LOCK)
    with state.cache.lock:
        state.cache.catch_up(conn)
        widest = state.cache.widest_minima()
    lock_areas(conn, area_lock_keys(batch.bbox, batch.t0, batch.t1, widest.lateral_m, widest.time_s))


def create_declaration(
    state: ServiceState, party: PartyInfo, body: DeclarationIn, idempotency: tuple[str, str] | None = None,
) -> WriteResult:
    """File a new declaration; 201 with its conflicts, or BlockedWrite. A repeated Idempotency-Key replays."""

    def write() -> WriteResult:
        now = state.clock()
        prepared = _prepare(state, body, now)
        return _write(state, party, str(uuid.uuid4()), 1, prepared, now, idempotency, expected=None)

    def replay(status: int, response: dict[str, Any]) -> WriteResult:
        return WriteResult(status, response, response.get("declaration", {}).get("version"))

    return once(state, party, idempotency, write, replay)


def update_declaration(
    state: ServiceState, party: PartyInfo, decl_id: str, body: DeclarationIn, expected: int,
) -> WriteResult:
    """A new version replacing version `expected` (409 if that is not the current one)."""
    now = state.clock()
    current = _owned(state, party, decl_id)
    if current.state not in LIVE_STATES:
        raise Conflict(f"declaration is {current.state}; it can no longer change", field="state")
    if body.kind.value != current.kind:
        raise InvalidDeclaration(f"the kind of a declaration cannot change (it is {current.kind})", field="kind")
    if current.version != expected:
        raise StaleVersion(f"version {expected} is not current (current is {current.version})", field="if-match")
    prepared = _prepare(state, body, now)
    return _write(state, party, decl_id, expected + 1, prepared, now, None, expected=expected)


def _owned(state: ServiceState, party: PartyInfo, decl_id: str) -> Any:
    with state.db.connect() as conn:
        row = declaration_row(conn, decl_id)
    if row is None:
        raise NotFound("no such declaration", field="id")
    if row.owner_id != party.id:
        if declaration_view(row, party, state.cache) is None:
            raise NotFound("no such declaration", field="id")
        raise Forbidden("only the declaring party may change a declaration")
    return row


def _write(
    state: ServiceState, party: PartyInfo, decl_id: str, version: int, prepared: _Prepared, now: datetime,
    idempotency: tuple[str, str] | None, expected: int | None,
) -> WriteResult:
    body, batch = prepared.body, prepared.batch
    cache = state.cache
    start, end = _window(body.volumes)
    state_now = "active" if start <= now else "declared"  # an update of a running activity stays active
    with writing(state.db) as conn:
        _lock(state, conn, batch)
        records, loader = _check(state, conn, party, decl_id, version, prepared, now)
        blocked = [r for r in records if r.policy == ConflictPolicy.BLOCK.value]
        if blocked:
            shown = [conflict_view(r, party, cache, loader) for r in records if r.policy == ConflictPolicy.BLOCK]
            raise BlockedWrite(f"refused: {len(blocked)} conflict(s) under a 'block' agreement",
                               [s for s in shown if s is not None])
        row = {
            "owner_id": party.id, "kind": body.kind.value, "activation": body.activation.value,
            "state": state_now, "version": version, "title": body.title, "extra": body.extra,
            "volumes": prepared.volumes_json, "time_start": start, "time_end": end, "updated_at": now,
        }
        if expected is None:
            conn.execute(sa.insert(t.declarations).values(id=decl_id, created_at=now, **row))
        else:
            done = conn.execute(sa.update(t.declarations).where(
                t.declarations.c.id == decl_id, t.declarations.c.version == expected).values(**row))
            if done.rowcount != 1:
                raise StaleVersion(f"version {expected} is no longer current", field="if-match")
            close_conflicts(conn, decl_id, "superseded", now)
        conn.execute(sa.insert(t.declaration_versions).values(
            declaration_id=decl_id, version=version, state=state_now, created_at=now,
            body={k: v for k, v in row.items() if k not in ("time_start", "time_end", "updated_at")}))
        stage_version(conn, decl_id, version, now)
        if records:
            conn.execute(sa.insert(t.conflicts), [_conflict_row(r) for r in records])
            stage_conflicts(conn, [_conflict_row(r) for r in records],
                            [conflict_view(r, party, cache, loader) for r in records], now)
        seq = _log_change(conn, "declaration", decl_id, version, now)
        written = _RowView(id=decl_id, created_at=now, **row)
        told, late_under_block = plan_notifications(conn, state, party, written, records, loader, now, seq)
        if late_under_block:
            raise BlockedWrite(
                f"refused: the notice is shorter than the agreed minimum for {', '.join(late_under_block)} "
                "under a 'block' agreement", [])
        hazards = induced_notices(conn, state, party, written, batch, now, seq)
        views = [conflict_view(r, party, cache, loader) for r in records]
        decl = declaration_view(written, party, cache)
        response = {"declaration": decl, "conflicts": [v for v in views if v is not None], "notifications": told,
                    "late_notice": [n["recipient"] for n in told if n["late"]], "induced_hazards": hazards}
        status = 201 if expected is None else 200
        remember(conn, party, idempotency, status, response, now)
    with cache.lock:
        cache.apply_declaration(decl_id, version, state_now, party.id, body.kind.value, body.activation.value,
                                None, batch)
        cache.mark_applied(seq)
    return WriteResult(status, response, version)


def cancel_declaration(
    state: ServiceState, party: PartyInfo, decl_id: str, expected: int | None, reason: str = "",
) -> WriteResult:
    """Cancel (a new version in state `cancelled`); its open conflicts close."""
    now = state.clock()
    current = _owned(state, party, decl_id)
    if current.state not in LIVE_STATES:
        raise Conflict(f"declaration is already {current.state}", field="state")
    base = current.version if expected is None else expected
    with writing(state.db) as conn:
        done = conn.execute(sa.update(t.declarations).where(
            t.declarations.c.id == decl_id, t.declarations.c.version == base,
            t.declarations.c.state.in_(LIVE_STATES)).values(state="cancelled", version=base + 1, updated_at=now))
        if done.rowcount != 1:
            raise StaleVersion(f"version {base} is no longer current", field="if-match")
        row = declaration_row(conn, decl_id)
        conn.execute(sa.insert(t.declaration_versions).values(
            declaration_id=decl_id, version=base + 1, state="cancelled", created_at=now,
            body={"state": "cancelled", "reason": reason, "volumes": row.volumes, "kind": row.kind,
                  "activation": row.activation, "title": row.title, "extra": row.extra, "owner_id": row.owner_id,
                  "version": base + 1}))
        stage_version(conn, decl_id, base + 1, now)
        close_conflicts(conn, decl_id, "closed", now)
        seq = _log_change(conn, "declaration", decl_id, base + 1, now)
    with state.cache.lock:
        state.cache.apply_declaration(decl_id, base + 1, "cancelled", party.id, row.kind, row.activation, None)
        state.cache.mark_applied(seq)
    view = declaration_view(row, party, state.cache)
    assert view is not None
    return WriteResult(200, {"declaration": view, "conflicts": []}, base + 1)


def _check(state: ServiceState, conn: sa.Connection, party: PartyInfo, decl_id: str, version: int,
           prepared: _Prepared, now: datetime) -> tuple[list[ConflictRecord], VolumeStore]:
    """The conflicts declaration `decl_id` at `version` would have (the cache caught up on `conn` first), with
    both sides' kinds, and the volumes their views need."""
    body, cache = prepared.body, state.cache
    with cache.lock:
        cache.catch_up(conn)
        found = cache.engine.check_footprints(
            decl_id, party.id, engine_kind(body.kind, body.activation), prepared.batch).conflicts()
    records = []
    for c in found:
        terms = cache.terms(party.id, c.other_owner)
        policy = terms.policy if terms.related else ConflictPolicy.INFORM
        records.append(ConflictRecord(
            id=str(uuid.uuid4()), declaration_a=decl_id, version_a=version, party_a=party.id,
            declaration_b=c.other_declaration_id, version_b=cache.versions.get(c.other_declaration_id, 1),
            party_b=c.other_owner, window_start=c.window_start, window_end=c.window_end,
            lateral_m=c.lateral_distance_m, vertical_m=c.vertical_gap_m, time_gap_s=c.time_gap_s,
            severity=c.severity.value, policy=policy.value, volume_pairs=[list(p) for p in c.volume_pairs],
            state="open", detected_at=now, kind_a=body.kind.value,
        ))
    kinds = _kinds(conn, [r.declaration_b for r in records])
    records = [_with_kind(r, kinds) for r in records]
    return records, VolumeStore.for_records(conn, records, {(decl_id, version): prepared.volumes_json})


def preview_declaration(state: ServiceState, party: PartyInfo, body: DeclarationIn) -> dict[str, Any]:
    """What filing `body` now would find, shown as the write's response would show it; nothing is written.

    The same validation and check as `create_declaration`, on a read connection without the area locks: a write
    committing meanwhile may still change the answer, so the real write decides. Ids of the would-be declaration
    and conflicts are null; `blocked` says a 'block' agreement would refuse the write."""
    now = state.clock()
    prepared = _prepare(state, body, now)
    decl_id = str(uuid.uuid4())
    with state.db.connect() as conn:
        records, loader = _check(state, conn, party, decl_id, 1, prepared, now)
        views = [v for v in (conflict_view(r, party, state.cache, loader) for r in records) if v is not None]
    for v in views:
        v["id"] = None
        v["declaration"]["id"] = None
    with state.cache.lock:
        owed = notices_owed(state, party, body.kind, _window(body.volumes)[0], records, now)
    late = sorted(n.recipient.name for n in owed if n.late)
    blocked = any(r.policy == ConflictPolicy.BLOCK.value for r in records) or any(n.refuses for n in owed)
    return {"conflicts": views, "late_notice": late, "blocked": blocked}


class _RowView:
    """Attribute access over a dict, so a row being written renders like a stored one."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


def _log_change(conn: sa.Connection, entity: str, entity_id: str, version: int, now: datetime) -> int:
    result = conn.execute(sa.insert(t.changes).values(entity=entity, entity_id=entity_id, version=version,
                                                      created_at=now).returning(t.changes.c.seq))
    return int(result.scalar_one())


def log_change(conn: sa.Connection, entity: str, entity_id: str, version: int, now: datetime) -> int:
    """Record a change other processes must pick up (parties, agreements)."""
    return _log_change(conn, entity, entity_id, version, now)


def close_conflicts(conn: sa.Connection, decl_id: str, state: str, now: datetime) -> None:
    c = t.conflicts.c
    conn.execute(sa.update(t.conflicts).where(
        sa.or_(c.declaration_a == decl_id, c.declaration_b == decl_id), c.state == "open",
    ).values(state=state, closed_at=now))


def _conflict_row(r: ConflictRecord) -> dict[str, Any]:
    return {
        "id": r.id, "declaration_a": r.declaration_a, "version_a": r.version_a, "party_a": r.party_a,
        "declaration_b": r.declaration_b, "version_b": r.version_b, "party_b": r.party_b,
        "window_start": r.window_start, "window_end": r.window_end, "lateral_m": r.lateral_m,
        "vertical_m": r.vertical_m, "time_gap_s": r.time_gap_s, "severity": r.severity, "policy": r.policy,
        "volume_pairs": r.volume_pairs, "state": r.state, "detected_at": r.detected_at,
    }


def _kinds(conn: sa.Connection, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = conn.execute(sa.select(t.declarations.c.id, t.declarations.c.kind).where(t.declarations.c.id.in_(ids)))
    return {r.id: r.kind for r in rows}


def _with_kind(r: ConflictRecord, kinds: dict[str, str]) -> ConflictRecord:
    from dataclasses import replace

    return replace(r, kind_b=kinds.get(r.declaration_b, ""))



__all__ += ["close_conflicts", "log_change"]
