"""`/v1/stream`: a WebSocket that pushes to a party what changes, as it may see it.

The first message authenticates: `{"token": "...", "since": N}` (browsers cannot set headers on a WebSocket;
`since` resumes after the `cursor` of an earlier event). The server answers `{"type": "hello", "cursor": N}` and
then sends, in commit order, `declaration` events (a declaration the party may see changed), `conflict` events
(a conflict involving the party was found), and from the hotline `thread` (a thread it takes part in was opened),
`message` (a message in such a thread; its first push counts as its delivery) and `receipt` (to the sender: a
message's delivery or read receipts changed), and `notification` (one addressed to the party, or re-sent on
escalation; its first push counts as its delivery), each with the `cursor` to resume from. Events come from the
store's change log, so a process sees the writes of every other process. Delivery is at-least-once: a client
resuming from an older cursor gets notifications again and de-duplicates them by id.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool

from ..errors import DeconflictError, NotAuthenticated
from ..store import schema as t
from ..store.database import writing
from . import hotline
from .auth import hash_token
from .engine_cache import PartyInfo
from .notifications import deliver, notification_json
from .reads import VolumeStore, conflict_records
from .state import ServiceState
from .views import conflict_view, declaration_view

router = APIRouter()
POLL_S = 0.25
AUTH_TIMEOUT_S = 10.0
BATCH = 200
GAP_PATIENCE = timedelta(seconds=5)


def _authenticate(state: ServiceState, message: str) -> tuple[PartyInfo, int | None]:
    try:
        hello = json.loads(message)
    except ValueError:
        raise NotAuthenticated("the first message must be JSON: {\"token\": ...}", field="token") from None
    token = hello.get("token") if isinstance(hello, dict) else None
    since = hello.get("since") if isinstance(hello, dict) else None
    if not isinstance(token, str) or not token:
        raise NotAuthenticated("the first message must carry the token", field="token")
    if since is not None and (not isinstance(since, int) or isinstance(since, bool) or since < 0):
        raise NotAuthenticated("since must be a cursor from an earlier event", field="since")
    with state.db.connect() as conn:
        row = conn.execute(sa.select(t.parties.c.id, t.parties.c.name, t.parties.c.role)
                           .where(t.parties.c.token_hash == hash_token(token))).first()
    if row is None:
        raise NotAuthenticated("unknown or revoked token", field="token")
    return PartyInfo(row.id, row.name, row.role), since


def _head(state: ServiceState) -> int:
    with state.db.connect() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.changes.c.seq), 0))).scalar_one())


def _events(state: ServiceState, party: PartyInfo, cursor: int) -> tuple[list[dict[str, Any]], int]:
    """Events visible to `party` after `cursor`, and the new cursor."""
    events: list[dict[str, Any]] = []
    with state.db.connect() as conn:
        state.cache.refresh(conn)
        # every entity, not only the streamed ones: the gap test below needs the whole sequence (a filtered one
        # would read another entity's row as a gap and hold the events behind it for GAP_PATIENCE)
        rows = conn.execute(sa.select(t.changes).where(t.changes.c.seq > cursor)
                            .order_by(t.changes.c.seq).limit(BATCH)).all()
        if not rows:
            return events, cursor
        # a gap in the sequence may be a write still committing in another process: stop before it and retry at
        # the next poll, unless what follows the gap is older than GAP_PATIENCE (then the gap was a rollback)
        last = cursor
        patience = state.clock() - GAP_PATIENCE
        for row in rows:
            if row.seq != last + 1 and row.created_at > patience:
                break
            last = row.seq
            if row.entity in ("thread", "message"):
                events.extend(hotline.stream_events(conn, state.cache, party, row))
            elif row.entity == "declaration":
                events.extend(_declaration_events(conn, state, party, row))
            events.extend(_notification_events(conn, state, party, row.seq))
    return events, last


def _notification_events(conn: sa.Connection, state: ServiceState, party: PartyInfo, seq: int
                         ) -> list[dict[str, Any]]:
    n = t.notifications.c
    return [{"type": "notification", "cursor": seq, "notification": notification_json(note, state.cache)}
            for note in conn.execute(sa.select(t.notifications).where(n.seq == seq, n.recipient_id == party.id)
                                     .order_by(n.id))]


def _declaration_events(conn: sa.Connection, state: ServiceState, party: PartyInfo, row: Any
                        ) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    decl = conn.execute(sa.select(t.declaration_versions.c.body, t.declarations)
                        .join(t.declarations, t.declarations.c.id == t.declaration_versions.c.declaration_id)
                        .where(t.declaration_versions.c.declaration_id == row.entity_id,
                               t.declaration_versions.c.version == row.version)).first()
    if decl is not None and decl.version == row.version:
        view = declaration_view(decl, party, state.cache)
        if view is not None:
            events.append({"type": "declaration", "cursor": row.seq, "declaration": view})
    c = t.conflicts.c
    records = conflict_records(conn, c.declaration_a == row.entity_id, c.version_a == row.version)
    volumes = VolumeStore.for_records(conn, records)
    for record in records:
        shown = conflict_view(record, party, state.cache, volumes)
        if shown is not None and party.id in (record.party_a, record.party_b):
            events.append({"type": "conflict", "cursor": row.seq, "conflict": shown})
    return events


def _mark_notified(state: ServiceState, ids: list[str], pushed_at: datetime) -> None:
    """First delivery of notifications pushed over the stream (lead time and lateness as of the push)."""
    with writing(state.db) as conn:
        deliver(conn, ids, "ws", pushed_at)


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket) -> None:
    await websocket.accept()
    state: ServiceState = websocket.app.state.svc
    try:
        first = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_S)
        party, since = await run_in_threadpool(_authenticate, state, first)
    except (TimeoutError, DeconflictError) as exc:
        message = str(exc) if isinstance(exc, DeconflictError) else "no token within 10 s"
        await websocket.send_json({"type": "error", "error": {"code": "not_authenticated", "message": message}})
        await websocket.close(code=4401)
        return
    except WebSocketDisconnect:
        return
    cursor = since if since is not None else await run_in_threadpool(_head, state)
    await websocket.send_json({"type": "hello", "party": party.name, "cursor": cursor})
    incoming = asyncio.ensure_future(websocket.receive())  # notices the client leaving while we wait
    try:
        while True:
            before = cursor
            events, cursor = await run_in_threadpool(_events, state, party, cursor)
            pushed_at = state.clock()
            for event in events:
                await websocket.send_json(event)
            if delivered := hotline.delivered_ids(party, events):
                await run_in_threadpool(hotline.mark_delivered, state, party, delivered)
            if notified := [e["notification"]["id"] for e in events if e["type"] == "notification"]:
                await run_in_threadpool(_mark_notified, state, notified, pushed_at)
            if events or cursor != before:  # a full batch of changes the party is not shown: read on
                continue
            done, _ = await asyncio.wait({incoming}, timeout=POLL_S)
            if incoming in done:
                if incoming.result()["type"] == "websocket.disconnect":
                    return
                incoming = asyncio.ensure_future(websocket.receive())  # clients have nothing to say yet
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        incoming.cancel()
