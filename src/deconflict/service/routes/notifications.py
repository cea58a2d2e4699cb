"""Notifications: a party's inbox (delivered on read), what it sent (with receipts), acknowledgements."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import StringConstraints

from ...core.protocol import AckReply
from ...errors import NotFound
from ...store import schema as t
from ...store.database import writing
from ..auth import current_party
from ..bodies import _Strict, openapi_body, parse_body, strict_query
from ..engine_cache import PartyInfo
from ..notifications import ack, deliver, notification_json
from ..state import ServiceState

router = APIRouter(prefix="/v1/notifications", tags=["notifications"], dependencies=[Depends(strict_query)])


class AckIn(_Strict):
    """An acknowledgement, optionally with a reply: `noted`, `request_hold` or `object`, and text."""

    reply: AckReply = AckReply.NOTED
    text: Annotated[str, StringConstraints(max_length=2000)] = ""


def _list(state: ServiceState, party: PartyInfo, box: str, pending: bool, limit: int, after: str | None
          ) -> dict[str, Any]:
    n = t.notifications.c
    now = state.clock()
    where: list[sa.ColumnElement[bool]] = [n.recipient_id == party.id if box == "inbox" else n.sender_id == party.id]
    if box == "sent":
        where.append(n.reason != "escalation")
    if pending:
        where.append(n.acked_at.is_(None))
    if after is not None:
        where.append(n.id > after)
    with writing(state.db) as conn:
        rows = conn.execute(sa.select(t.notifications).where(*where).order_by(n.id).limit(limit)).all()
        if box == "inbox" and rows:
            deliver(conn, [r.id for r in rows], "poll", now)
            rows = conn.execute(sa.select(t.notifications).where(n.id.in_([r.id for r in rows]))
                                .order_by(n.id)).all()
    with state.db.connect() as conn:
        state.cache.refresh(conn)
    return {"notifications": [notification_json(r, state.cache) for r in rows],
            "next": rows[-1].id if len(rows) == limit else None}


@router.get("", summary="The caller's notifications (inbox: delivered on read) or those it sent, with receipts")
async def list_notifications(
    request: Request,
    party: PartyInfo = Depends(current_party),
    box: str = Query("inbox", pattern="^(inbox|sent)$"),
    pending: bool = Query(True, description="Only unacknowledged ones"),
    limit: int = Query(200, ge=1, le=500),
    after: str | None = Query(None, min_length=1, max_length=64, description="Cursor: the previous page's `next`"),
) -> dict[str, Any]:
    return await run_in_threadpool(_list, request.app.state.svc, party, box, pending, limit, after)


@router.get("/{notification_id}", summary="One notification the caller received or sent")
async def get_notification(notification_id: str, request: Request,
                           party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    state: ServiceState = request.app.state.svc

    def read() -> dict[str, Any] | None:
        with state.db.connect() as conn:
            state.cache.refresh(conn)
            row = conn.execute(sa.select(t.notifications).where(t.notifications.c.id == notification_id)).first()
        if row is None or party.id not in (row.recipient_id, row.sender_id):
            return None
        return notification_json(row, state.cache)

    found = await run_in_threadpool(read)
    if found is None:
        raise NotFound("no such notification", field="notification_id")
    return {"notification": found}


@router.post("/{notification_id}/ack", openapi_extra=openapi_body(AckIn),
             summary="Acknowledge (idempotent); stops the escalation")
async def post_ack(notification_id: str, request: Request, party: PartyInfo = Depends(current_party)
                   ) -> dict[str, Any]:
    body = await parse_body(request, AckIn)
    state: ServiceState = request.app.state.svc
    return {"notification": await run_in_threadpool(ack, state, party, notification_id, body.reply, body.text)}
