"""Conflicts, each as the calling party may see it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from ...errors import NotFound
from ...store import schema as t
from ..auth import current_party
from ..bodies import strict_query
from ..engine_cache import PartyInfo
from ..reads import VolumeStore, conflict_records
from ..state import ServiceState
from ..views import conflict_view

router = APIRouter(prefix="/v1/conflicts", tags=["conflicts"], dependencies=[Depends(strict_query)])


def _read(state: ServiceState, party: PartyInfo, *where: sa.ColumnElement[bool], limit: int
          ) -> tuple[list[dict[str, Any]], str | None]:
    """Visible conflicts, and the cursor of the next page (None on the last)."""
    c = t.conflicts.c
    scope = [] if party.role == "admin" else [sa.or_(c.party_a == party.id, c.party_b == party.id)]
    with state.db.connect() as conn:
        state.cache.refresh(conn)
        records = conflict_records(conn, *scope, *where, limit=limit)
        volumes = VolumeStore.for_records(conn, records)
        views = [conflict_view(r, party, state.cache, volumes) for r in records]
    cursor = records[-1].id if len(records) == limit else None
    return [v for v in views if v is not None], cursor


@router.get("", summary="Conflicts involving the caller's declarations (disclosure-limited)")
async def list_conflicts(
    request: Request,
    party: PartyInfo = Depends(current_party),
    declaration_id: str | None = Query(None, min_length=1, max_length=64),
    state_filter: str = Query("open", alias="state", pattern="^(open|superseded|closed|all)$"),
    limit: int = Query(200, ge=1, le=500),
    after: str | None = Query(None, min_length=1, max_length=64, description="Cursor: the previous page's `next`"),
) -> dict[str, Any]:
    c = t.conflicts.c
    where: list[sa.ColumnElement[bool]] = []
    if declaration_id is not None:
        where.append(sa.or_(c.declaration_a == declaration_id, c.declaration_b == declaration_id))
    if state_filter != "all":
        where.append(c.state == state_filter)
    if after is not None:
        where.append(c.id > after)
    found, cursor = await run_in_threadpool(_read, request.app.state.svc, party, *where, limit=limit)
    return {"conflicts": found, "next": cursor}


@router.get("/{conflict_id}", summary="One conflict, as the caller may see it")
async def get_conflict(conflict_id: str, request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    found, _ = await run_in_threadpool(_read, request.app.state.svc, party, t.conflicts.c.id == conflict_id, limit=1)
    if not found:
        raise NotFound("no such conflict", field="conflict_id")
    return {"conflict": found[0]}
