"""The hub: one reader of the change log per process, fanning events out to every connected party.

Each connection used to poll and render every change on its own; with twenty parties connected that was twenty
times the queries and renders, and one delivery write per connection. The hub reads each batch of changes once,
fetches what they touched once, renders per subscriber only what its disclosure needs, records the deliveries of
the whole batch in one transaction, and hands each connection a list of events. It wakes when a write in this
process commits (`store.database.after_commit`) and otherwise polls, which is how it sees other processes' writes.
Subscribers that resume from an older cursor are served from the same reads (the hub reads from the lowest
cursor), so replay and live delivery are one path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi.concurrency import run_in_threadpool

from ..core.protocol import is_late, lead_time_s
from ..store import schema as t
from ..store.database import after_commit, writing
from . import hotline
from .codec import iso
from .engine_cache import PartyInfo
from .notifications import deliver, notification_json
from .reads import VolumeStore, conflict_records
from .state import ServiceState
from .views import conflict_view, declaration_view

__all__ = ["Hub", "Subscriber"]

log = logging.getLogger("deconflict.hub")
POLL_S = 0.25  #: fallback for other processes' writes (this process's commits wake the hub at once)
BATCH = 500
GAP_PATIENCE = timedelta(seconds=5)
MAX_QUEUED = 2_000  #: batches waiting for a slow client before it is dropped (it may resume with `since`)


@dataclass(eq=False)
class Subscriber:
    party: PartyInfo
    cursor: int
    queue: asyncio.Queue[list[dict[str, Any]] | None] = field(default_factory=asyncio.Queue)


class Hub:
    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self.subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        after_commit(state.db, self._committed)

    # -- subscriptions -----------------------------------------------------------------------------------
    async def subscribe(self, party: PartyInfo, cursor: int) -> Subscriber:
        sub = Subscriber(party, cursor)
        self.subscribers.add(sub)
        if self._task is None or self._task.done():
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="deconflict-hub")
        self._poke()
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def head(self) -> int:
        with self.state.db.connect() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.changes.c.seq), 0))).scalar_one())

    # -- waking ----------------------------------------------------------------------------------------------
    def _committed(self) -> None:
        """Called from any thread after a write commits."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may be shutting down
                loop.call_soon_threadsafe(self._poke)

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        assert self._wake is not None
        while self.subscribers:
            self._wake.clear()
            subs = list(self.subscribers)
            try:
                out = await run_in_threadpool(self._collect, subs)
            except Exception:  # a failed read is retried at the next wake-up; the connections stay
                log.exception("stream hub: reading the change log failed")
                out = {}
            advanced = False
            for sub, (events, cursor) in out.items():
                advanced = advanced or cursor != sub.cursor
                sub.cursor = cursor
                if events and sub in self.subscribers:
                    if sub.queue.qsize() >= MAX_QUEUED:
                        self.unsubscribe(sub)
                        sub.queue.put_nowait(None)  # the connection closes; the client resumes with `since`
                    else:
                        sub.queue.put_nowait(events)
            if advanced:
                continue  # there may be more behind this batch
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_S)

    # -- one batch (in a worker thread) ------------------------------------------------------------------------
    def _collect(self, subs: list[Subscriber]) -> dict[Subscriber, tuple[list[dict[str, Any]], int]]:
        state = self.state
        pushed_at = state.clock()
        low = min(s.cursor for s in subs)
        events: dict[Subscriber, list[dict[str, Any]]] = {s: [] for s in subs}
        with state.db.connect() as conn:
            state.cache.refresh(conn)
            rows = conn.execute(sa.select(t.changes).where(t.changes.c.seq > low)
                                .order_by(t.changes.c.seq).limit(BATCH)).all()
            last = low
            patience = state.clock() - GAP_PATIENCE
            taken = []
            for row in rows:  # stop before a gap that may be a write still committing elsewhere
                if row.seq != last + 1 and row.created_at > patience:
                    break
                last = row.seq
                taken.append(row)
            if taken:
                notes = self._notifications(conn, low, last)
                for row in taken:
                    waiting = [s for s in subs if s.cursor < row.seq]
                    if row.entity == "declaration":
                        self._declaration(conn, row, waiting, events)
                    elif row.entity == "ack":
                        self._acknowledged(conn, row, waiting, events)
                    elif row.entity in ("thread", "message"):
                        for s in waiting:
                            events[s].extend(hotline.stream_events(conn, state.cache, s.party, row))
                    for s in waiting:
                        for note in notes.get((row.seq, s.party.id), []):
                            events[s].append({"type": "notification", "cursor": row.seq,
                                              "notification": _as_pushed(notification_json(note, state.cache),
                                                                         note, pushed_at)})
        self._record_deliveries(events, pushed_at)
        return {s: (events[s], max(s.cursor, last)) for s in subs}

    @staticmethod
    def _notifications(conn: sa.Connection, low: int, high: int) -> dict[tuple[int, str], list[Any]]:
        n = t.notifications.c
        found: dict[tuple[int, str], list[Any]] = defaultdict(list)
        for note in conn.execute(sa.select(t.notifications).where(n.seq > low, n.seq <= high).order_by(n.id)):
            found[(note.seq, note.recipient_id)].append(note)
        return found

    def _declaration(self, conn: sa.Connection, row: Any, waiting: list[Subscriber],
                     events: dict[Subscriber, list[dict[str, Any]]]) -> None:
        cache = self.state.cache
        decl = conn.execute(sa.select(t.declarations).where(t.declarations.c.id == row.entity_id)).first()
        current = decl is not None and decl.version == row.version
        c = t.conflicts.c
        records = conflict_records(conn, c.declaration_a == row.entity_id, c.version_a == row.version)
        volumes = VolumeStore.for_records(conn, records) if records else None
        for s in waiting:
            if current:
                view = declaration_view(decl, s.party, cache)
                if view is not None:
                    events[s].append({"type": "declaration", "cursor": row.seq, "declaration": view})
            for record in records:
                if s.party.id not in (record.party_a, record.party_b):
                    continue
                assert volumes is not None
                shown = conflict_view(record, s.party, cache, volumes)
                if shown is not None:
                    events[s].append({"type": "conflict", "cursor": row.seq, "conflict": shown})

    def _acknowledged(self, conn: sa.Connection, row: Any, waiting: list[Subscriber],
                      events: dict[Subscriber, list[dict[str, Any]]]) -> None:
        """To the sender: its notification was acknowledged (with the reply)."""
        note = conn.execute(sa.select(t.notifications).where(t.notifications.c.id == row.entity_id)).first()
        if note is None:
            return
        for s in waiting:
            if s.party.id == note.sender_id:
                events[s].append({"type": "acknowledged", "cursor": row.seq,
                                  "notification": notification_json(note, self.state.cache)})

    def _record_deliveries(self, events: dict[Subscriber, list[dict[str, Any]]], pushed_at: datetime) -> None:
        """A push is the first delivery: notifications in one transaction, hotline receipts per party."""
        notified = [e["notification"]["id"] for evs in events.values() for e in evs if e["type"] == "notification"]
        if notified:
            with writing(self.state.db) as conn:
                deliver(conn, notified, "ws", pushed_at)
        for sub, evs in events.items():
            if delivered := hotline.delivered_ids(sub.party, evs):
                hotline.mark_delivered(self.state, sub.party, delivered)


def _as_pushed(view: dict[str, Any], note: Any, pushed_at: datetime) -> dict[str, Any]:
    """A notification as its first push delivers it: with the delivery this push records."""
    if note.delivered_at is None:
        lead = lead_time_s(note.starts_at, pushed_at)
        view.update(delivered_at=iso(pushed_at), delivered_via="ws", lead_time_s=lead,
                    late=is_late(lead, note.min_notice_s))
    return view
