"""The hotline: threads between parties of one agreement, text and structured messages, delivery and read receipts.

A thread belongs to one agreement; its participants are that agreement's parties, or a subset of at least two
of them named at creation (the creator always among them). Only participants see a thread or its messages;
anyone else gets 404, as if it did not exist. A thread may be about a declaration or a conflict the creator
can see; each participant is shown that reference only if it may see the item itself.

Each message has one receipt per recipient (every participant but the sender): `delivered_at` is set on first
delivery (a `GET` of the messages or a push over `/v1/stream`), `read_at` when the recipient marks it read. The
sender sees every recipient's receipt; a recipient sees its own. Every write (a thread, a message, a receipt
that changed) is a row in the `changes` log, so the stream of any process pushes it: a message is version 1 of
its change entity, each receipt change a later version.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from ..errors import InvalidInput, NotFound
from ..store import schema as t
from ..store.database import writing
from .codec import iso
from .engine_cache import EngineCache, PartyInfo
from .idempotency import once, remember
from .ledger import stage_message
from .reads import declaration_row
from .state import ServiceState
from .views import declaration_view
from .writes import log_change

__all__ = [
    "AboutIn",
    "HoldUntil",
    "MessageIn",
    "PositionReport",
    "ReadIn",
    "RequestHold",
    "STRUCTURED_TYPES",
    "ThreadIn",
    "create_thread",
    "delivered_ids",
    "get_thread",
    "list_messages",
    "list_threads",
    "mark_delivered",
    "mark_read",
    "send_message",
    "stream_events",
    "thread_view",
]

MAX_TEXT = 4000
PAGE = 200
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Short = Annotated[str, StringConstraints(max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


# -- request bodies ---------------------------------------------------------------------------------------------
class AboutIn(_Strict):
    """What a thread is about: a declaration or a conflict the creator can see."""

    kind: Literal["declaration", "conflict"]
    id: Id


class ThreadIn(_Strict):
    """A thread in one of the caller's agreements. `participants` (party names, the caller included or added)
    defaults to every party of the agreement."""

    agreement_id: Id
    subject: Short = ""
    participants: list[Name] | None = Field(default=None, min_length=1, max_length=64)
    about: AboutIn | None = None


class RequestHold(_Strict):
    """Asks the recipients to hold (not start, or pause) an activity, optionally until a time."""

    type: Literal["request_hold"]
    declaration_id: Id | None = None
    until: AwareDatetime | None = None
    reason: Short = ""


class HoldUntil(_Strict):
    """The sender holds until `until` (an answer to `request_hold`, or unprompted)."""

    type: Literal["hold_until"]
    until: AwareDatetime
    declaration_id: Id | None = None
    reason: Short = ""


class PositionReport(_Strict):
    """Where one of the sender's assets is: WGS84 degrees, altitude in metres, speed in m/s, track in degrees."""

    type: Literal["position_report"]
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    altitude_m: float | None = Field(default=None, ge=-1000, le=100_000)
    at: AwareDatetime | None = None
    asset: Annotated[str, StringConstraints(max_length=64)] = ""
    ground_speed_mps: float | None = Field(default=None, ge=0, le=2000)
    track_deg: float | None = Field(default=None, ge=0, lt=360)


Structured = Annotated[RequestHold | HoldUntil | PositionReport, Field(discriminator="type")]
STRUCTURED_TYPES = ("request_hold", "hold_until", "position_report")


class MessageIn(_Strict):
    """A hotline message: `text` (up to 4000 characters), a `structured` part, or both."""

    text: Annotated[str, StringConstraints(max_length=MAX_TEXT)] = ""
    structured: Structured | None = None


class ReadIn(_Strict):
    """Mark as read every message of the thread up to and including `up_to` (a message id)."""

    up_to: Id


# -- reading ----------------------------------------------------------------------------------------------------
def _participants(conn: sa.Connection, thread_ids: Iterable[str]) -> dict[str, list[str]]:
    ids = list(thread_ids)
    out: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        p = t.thread_participants.c
        for r in conn.execute(sa.select(p.thread_id, p.party_id).where(p.thread_id.in_(ids))):
            out[r.thread_id].append(r.party_id)
    return out


def _thread(conn: sa.Connection, party: PartyInfo, thread_id: str) -> tuple[Any, list[str]]:
    """The thread row and its participants' ids; NotFound unless `party` takes part."""
    row = conn.execute(sa.select(t.threads).where(t.threads.c.id == thread_id)).first()
    members = _participants(conn, [thread_id]).get(thread_id, []) if row is not None else []
    if row is None or party.id not in members:
        raise NotFound("no such thread", field="thread_id")
    return row, members


def _about_visible(conn: sa.Connection, cache: EngineCache, viewer: PartyInfo, kind: str, item_id: str) -> bool:
    if kind == "declaration":
        row = declaration_row(conn, item_id)
        return row is not None and declaration_view(row, viewer, cache) is not None
    # the rule of views.conflict_view, without rendering the volumes: a side of it, under terms that show conflicts
    c = t.conflicts.c
    row = conn.execute(sa.select(c.party_a, c.party_b).where(c.id == item_id)).first()
    if row is None:
        return False
    if viewer.role == "admin":
        return True
    return viewer.id in (row.party_a, row.party_b) and (
        cache.terms(row.party_a, row.party_b).conflict_disclosure() is not None)


def thread_view(conn: sa.Connection, cache: EngineCache, viewer: PartyInfo, row: Any,
                members: Sequence[str]) -> dict[str, Any]:
    """A thread as a participant sees it, with its count of messages it has not read."""
    about = None
    if row.about_kind is not None and _about_visible(conn, cache, viewer, row.about_kind, row.about_id):
        about = {"kind": row.about_kind, "id": row.about_id}
    m, r = t.messages.c, t.message_receipts.c
    unread = conn.execute(sa.select(sa.func.count()).select_from(t.message_receipts)
                          .join(t.messages, m.id == r.message_id)
                          .where(m.thread_id == row.id, r.recipient_id == viewer.id, r.read_at.is_(None))).scalar_one()
    return {
        "id": row.id,
        "agreement_id": row.agreement_id,
        "subject": row.subject,
        "participants": sorted(cache.name(p) for p in members),
        "created_by": cache.name(row.created_by),
        "created_at": iso(row.created_at),
        "about": about,
        "message_count": row.message_count,
        "last_message_at": iso(row.last_message_at) if row.last_message_at is not None else None,
        "unread": int(unread),
    }


def _receipts(conn: sa.Connection, message_ids: Sequence[str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {i: [] for i in message_ids}
    if message_ids:
        r = t.message_receipts.c
        for row in conn.execute(sa.select(t.message_receipts).where(r.message_id.in_(message_ids))):
            out[row.message_id].append(row)
    return out


def _message_view(cache: EngineCache, viewer: PartyInfo, row: Any, receipts: list[Any]) -> dict[str, Any]:
    """A message as a participant sees it: the sender with every recipient's receipt, a recipient with its own."""
    out: dict[str, Any] = {
        "id": row.id,
        "thread_id": row.thread_id,
        "n": row.n,
        "sender": cache.name(row.sender_id),
        "text": row.text,
        "structured": row.structured,
        "created_at": iso(row.created_at),
    }

    def stamp(value: datetime | None) -> str | None:
        return iso(value) if value is not None else None

    if row.sender_id == viewer.id:
        out["receipts"] = sorted(({"party": cache.name(r.recipient_id), "delivered_at": stamp(r.delivered_at),
                                   "read_at": stamp(r.read_at)} for r in receipts), key=lambda x: x["party"])
    else:
        mine = next((r for r in receipts if r.recipient_id == viewer.id), None)
        out["delivered_at"] = stamp(mine.delivered_at) if mine is not None else None
        out["read_at"] = stamp(mine.read_at) if mine is not None else None
    return out


def _message_in_thread(conn: sa.Connection, thread_id: str, message_id: str, field: str) -> int:
    n = conn.execute(sa.select(t.messages.c.n).where(t.messages.c.id == message_id,
                                                     t.messages.c.thread_id == thread_id)).scalar()
    if n is None:
        raise NotFound("no such message in this thread", field=field)
    return int(n)


def list_threads(state: ServiceState, party: PartyInfo, agreement_id: str | None, after: str | None,
                 limit: int) -> dict[str, Any]:
    """The threads the caller takes part in, by id (a stable cursor)."""
    th, p = t.threads.c, t.thread_participants.c
    where: list[sa.ColumnElement[bool]] = [th.id.in_(sa.select(p.thread_id).where(p.party_id == party.id))]
    if agreement_id is not None:
        where.append(th.agreement_id == agreement_id)
    if after is not None:
        where.append(th.id > after)
    with state.db.connect() as conn:
        state.cache.refresh(conn)
        rows = conn.execute(sa.select(t.threads).where(*where).order_by(th.id).limit(limit + 1)).all()
        page = rows[:limit]
        members = _participants(conn, [r.id for r in page])
        views = [thread_view(conn, state.cache, party, r, members[r.id]) for r in page]
    return {"threads": views, "next": page[-1].id if len(rows) > limit else None}


def get_thread(state: ServiceState, party: PartyInfo, thread_id: str) -> dict[str, Any]:
    with state.db.connect() as conn:
        state.cache.refresh(conn)
        row, members = _thread(conn, party, thread_id)
        return {"thread": thread_view(conn, state.cache, party, row, members)}


def list_messages(state: ServiceState, party: PartyInfo, thread_id: str, after: str | None,
                  limit: int) -> dict[str, Any]:
    """A page of the thread's history, oldest first, after the message `after`; marks them delivered to the caller."""
    m = t.messages.c
    with state.db.connect() as conn:
        state.cache.refresh(conn)
        _thread(conn, party, thread_id)
        where = [m.thread_id == thread_id]
        if after is not None:
            where.append(m.n > _message_in_thread(conn, thread_id, after, "after"))
        rows = conn.execute(sa.select(t.messages).where(*where).order_by(m.n).limit(limit + 1)).all()
    page = rows[:limit]
    mark_delivered(state, party, [r.id for r in page if r.sender_id != party.id])
    with state.db.connect() as conn:
        receipts = _receipts(conn, [r.id for r in page])
    return {"messages": [_message_view(state.cache, party, r, receipts[r.id]) for r in page],
            "next": page[-1].id if len(rows) > limit else None}


# -- writing ----------------------------------------------------------------------------------------------------
def create_thread(state: ServiceState, party: PartyInfo, body: ThreadIn) -> dict[str, Any]:
    now = state.clock()
    cache = state.cache
    thread_id = str(uuid.uuid4())
    with writing(state.db) as conn:
        cache.refresh(conn)
        with cache.lock:
            agreement = cache.agreements.get(body.agreement_id)
            by_name = {p.name: p.id for p in cache.parties.values()}
        if agreement is None or party.id not in agreement.parties:
            raise NotFound("no such agreement", field="agreement_id")
        if body.participants is None:
            members = sorted(agreement.parties)
        else:
            members = [party.id]
            for i, name in enumerate(body.participants):
                member = by_name.get(name)
                if member is None or member not in agreement.parties:
                    raise InvalidInput(f"{name!r} is not a party of this agreement", field=f"participants[{i}]")
                if member not in members:
                    members.append(member)
            if len(members) < 2:
                raise InvalidInput("a thread needs at least two different parties", field="participants")
        if body.about is not None and not _about_visible(conn, cache, party, body.about.kind, body.about.id):
            raise NotFound(f"no such {body.about.kind}", field="about.id")
        conn.execute(sa.insert(t.threads).values(
            id=thread_id, agreement_id=agreement.id, subject=body.subject,
            about_kind=body.about.kind if body.about else None, about_id=body.about.id if body.about else None,
            created_by=party.id, created_at=now, message_count=0, last_message_at=None))
        conn.execute(sa.insert(t.thread_participants), [{"thread_id": thread_id, "party_id": p} for p in members])
        log_change(conn, "thread", thread_id, 1, now)
        row = conn.execute(sa.select(t.threads).where(t.threads.c.id == thread_id)).one()
        return {"thread": thread_view(conn, cache, party, row, members)}


def send_message(state: ServiceState, party: PartyInfo, thread_id: str, body: MessageIn,
                 idempotency: tuple[str, str] | None = None) -> dict[str, Any]:
    """Post a message; a repeated Idempotency-Key with the same request returns the first answer."""
    if not body.text.strip() and body.structured is None:
        raise InvalidInput("a message needs text, a structured part, or both", field="text")
    with state.db.connect() as conn:  # the thread must be the caller's before anything, replays included
        state.cache.refresh(conn)
        _thread(conn, party, thread_id)
    return once(state, party, idempotency, lambda: _send(state, party, thread_id, body, idempotency),
                lambda _status, response: response)


def _send(state: ServiceState, party: PartyInfo, thread_id: str, body: MessageIn,
          idempotency: tuple[str, str] | None) -> dict[str, Any]:
    now = state.clock()
    message_id = str(uuid.uuid4())
    structured = body.structured.model_dump(mode="json", exclude_defaults=True) if body.structured else None
    th = t.threads.c
    with writing(state.db) as conn:
        _, members = _thread(conn, party, thread_id)
        n = conn.execute(sa.update(t.threads).where(th.id == thread_id)
                         .values(message_count=th.message_count + 1, last_message_at=now)
                         .returning(th.message_count)).scalar_one()  # the row lock orders concurrent senders
        conn.execute(sa.insert(t.messages).values(
            id=message_id, thread_id=thread_id, n=n, sender_id=party.id, text=body.text, structured=structured,
            created_at=now, version=1))
        recipients = [p for p in members if p != party.id]
        if recipients:
            conn.execute(sa.insert(t.message_receipts), [
                {"message_id": message_id, "recipient_id": p, "delivered_at": None, "read_at": None}
                for p in recipients])
        log_change(conn, "message", message_id, 1, now)
        stage_message(conn, message_id, members, now)
        row = conn.execute(sa.select(t.messages).where(t.messages.c.id == message_id)).one()
        receipts = _receipts(conn, [message_id])[message_id]
        response = {"message": _message_view(state.cache, party, row, receipts)}
        remember(conn, party, idempotency, 201, response, now)
    return response


def _bump(conn: sa.Connection, message_ids: Sequence[str], now: datetime) -> None:
    """Each message whose receipts changed gets a new version, logged for the stream."""
    if not message_ids:
        return
    m = t.messages.c
    bumped = conn.execute(sa.update(t.messages).where(m.id.in_(message_ids)).values(version=m.version + 1)
                          .returning(m.id, m.version)).all()
    conn.execute(sa.insert(t.changes), [{"entity": "message", "entity_id": r.id, "version": r.version,
                                         "created_at": now} for r in sorted(bumped, key=lambda r: r.id)])


def mark_delivered(state: ServiceState, party: PartyInfo, message_ids: Sequence[str]) -> int:
    """Record first delivery to `party` of those of `message_ids` it has a receipt for; returns how many were new."""
    if not message_ids:
        return 0
    r = t.message_receipts.c
    mine = [r.message_id.in_(list(message_ids)), r.recipient_id == party.id, r.delivered_at.is_(None)]
    with state.db.connect() as conn:  # most deliveries are repeats: look before taking the write lock
        if conn.execute(sa.select(r.message_id).where(*mine).limit(1)).first() is None:
            return 0
    now = state.clock()
    with writing(state.db) as conn:
        done = conn.execute(sa.update(t.message_receipts).where(*mine).values(delivered_at=now)
                            .returning(r.message_id)).scalars().all()
        _bump(conn, list(done), now)
    return len(done)


def mark_read(state: ServiceState, party: PartyInfo, thread_id: str, up_to: str) -> dict[str, Any]:
    """Mark read (and delivered, if it was not) every message of the thread up to `up_to` sent to the caller."""
    now = state.clock()
    r, m = t.message_receipts.c, t.messages.c
    with writing(state.db) as conn:
        state.cache.refresh(conn)
        row, members = _thread(conn, party, thread_id)
        n = _message_in_thread(conn, thread_id, up_to, "up_to")
        upto = sa.select(m.id).where(m.thread_id == thread_id, m.n <= n)
        done = conn.execute(sa.update(t.message_receipts)
                            .where(r.recipient_id == party.id, r.read_at.is_(None), r.message_id.in_(upto))
                            .values(read_at=now, delivered_at=sa.func.coalesce(r.delivered_at, now))
                            .returning(r.message_id)).scalars().all()
        _bump(conn, list(done), now)
        return {"thread": thread_view(conn, state.cache, party, row, members), "read": len(done)}


# -- the stream -------------------------------------------------------------------------------------------------
def stream_events(conn: sa.Connection, cache: EngineCache, party: PartyInfo, change: Any) -> list[dict[str, Any]]:
    """What `party` is pushed for one `thread` or `message` change: a new thread it takes part in; a message in
    such a thread (version 1); to the sender only, a message whose receipts changed (`receipt`)."""
    if change.entity == "thread":
        row = conn.execute(sa.select(t.threads).where(t.threads.c.id == change.entity_id)).first()
        members = _participants(conn, [change.entity_id])[change.entity_id] if row is not None else []
        if row is None or party.id not in members:
            return []
        return [{"type": "thread", "cursor": change.seq, "thread": thread_view(conn, cache, party, row, members)}]
    row = conn.execute(sa.select(t.messages).where(t.messages.c.id == change.entity_id)).first()
    if row is None:
        return []
    if change.version > 1 and row.sender_id != party.id:
        return []
    if change.version == 1 and party.id not in _participants(conn, [row.thread_id])[row.thread_id]:
        return []
    view = _message_view(cache, party, row, _receipts(conn, [row.id])[row.id])
    return [{"type": "message" if change.version == 1 else "receipt", "cursor": change.seq, "message": view}]


def delivered_ids(party: PartyInfo, events: Iterable[dict[str, Any]]) -> list[str]:
    """The messages among pushed `events` that were sent to `party` (their first push is their delivery)."""
    return [e["message"]["id"] for e in events if e.get("type") == "message" and "receipts" not in e["message"]]
