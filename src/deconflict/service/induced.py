"""Induced hazards (DESIGN.md, the Il-20 lesson): a `hazard` with activation `induced` is live only while an
activity intersects it, and then endangers every flight inside it, whoever declared the activity.

Two writes can make a flight sit in a live induced hazard: an activity that wakes the hazard up over flights
already declared, and a flight declared into a hazard some activity keeps live. Either way the flight's owner is
notified (reason `induced`) by the hazard's owner, disclosed as their agreements allow; with no agreement between
them nothing is disclosed, as everywhere else. The declaring party learns in its response which hazards its
declaration touches, when they are live, if it may see them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from ..core.footprint import FootprintBatch
from ..core.protocol import NoticeReason
from ..store import schema as t
from .codec import iso, volumes_from_json
from .engine_cache import LIVE_STATES, PartyInfo
from .notifications import insert_notifications, notification_row, undisclosed
from .state import ServiceState
from .views import declaration_view

__all__ = ["induced_notices"]


def _live(conn: sa.Connection, ids: list[str], *where: sa.ColumnElement[bool]) -> list[Any]:
    if not ids:
        return []
    d = t.declarations.c
    return list(conn.execute(sa.select(t.declarations).where(d.id.in_(ids), d.state.in_(LIVE_STATES), *where)))


def _clipped(volumes: list[dict[str, Any]], start: datetime, end: datetime) -> FootprintBatch:
    """The hazard's footprints during [start, end] only."""
    batch = FootprintBatch.of(volumes_from_json(volumes))
    return replace(batch, t0=np.maximum(batch.t0, start.timestamp()), t1=np.minimum(batch.t1, end.timestamp()))


def induced_notices(
    conn: sa.Connection, state: ServiceState, declarer: PartyInfo, row: Any, batch: FootprintBatch,
    now: datetime, seq: int,
) -> list[dict[str, Any]]:
    """Notify flights under an induced hazard this write makes live (or flies into); returns what the declarer
    is told: the hazards it touches and when they are live."""
    cache = state.cache
    if row.kind not in ("activity", "flight") or not cache.induced:
        return []
    d = t.declarations.c
    with cache.lock:
        touched = [i for i in cache.engine.intersecting(batch) if i in cache.induced]
    hazards = _live(conn, touched, d.kind == "hazard", d.activation == "induced")
    told: list[dict[str, Any]] = []
    notices: list[dict[str, Any]] = []
    for hazard in hazards:
        if row.kind == "activity":
            windows = [(max(row.time_start, hazard.time_start), min(row.time_end, hazard.time_end))]
        else:
            with cache.lock:
                live = cache.engine.activations(hazard.id)
            windows = [(max(a, row.time_start), min(b, row.time_end)) for a, b in live]
        windows = [(a, b) for a, b in windows if a <= b]
        if not windows:
            continue
        owner = cache.parties.get(hazard.owner_id)
        if owner is None:
            continue
        if cache.terms(declarer.id, hazard.owner_id).related or declarer.id == hazard.owner_id:
            told.append({"hazard_id": hazard.id, "owner": owner.name,
                         "live": [{"start": iso(a), "end": iso(b)} for a, b in windows]})
        if row.kind == "activity":
            flights: list[Any] = []
            for a, b in windows:
                with cache.lock:
                    inside = cache.engine.intersecting(_clipped(hazard.volumes, a, b))
                flights.extend(_live(conn, inside, d.kind == "flight", d.owner_id != hazard.owner_id))
        else:
            flights = [row] if declarer.id != hazard.owner_id else []
        for flight in {f.id: f for f in flights}.values():
            terms = cache.terms(hazard.owner_id, flight.owner_id)
            recipient = cache.parties.get(flight.owner_id)
            if not terms.related or recipient is None or terms.ack_deadline_s is None:
                continue
            payload = {"reason": NoticeReason.INDUCED.value, "sender": owner.name,
                       "hazard": declaration_view(hazard, recipient, cache) or undisclosed(hazard, cache),
                       "live": [{"start": iso(a), "end": iso(b)} for a, b in windows],
                       "flight": {"id": flight.id, "version": flight.version}}
            notices.append(notification_row(
                recipient_id=flight.owner_id, sender_id=hazard.owner_id, reason=NoticeReason.INDUCED,
                row=hazard, agreements=terms.agreements, payload=payload, min_notice_s=None,
                ack_deadline_s=terms.ack_deadline_s, contacts=(), now=now, seq=seq))
    insert_notifications(conn, notices, now, cache.hooked)
    return told

