"""Conflicts, each as the calling party may see it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from ...errors import NotFound
from ...store import schema as t
from ..auth import current_party
from ..engine_cache import PartyInfo
from ..reads import conflict_records, version_volumes
from ..state import ServiceState
from ..views import conflict_view

router = APIRouter(prefix="/v1/conflicts", tags=["conflicts"])


def _read(state: ServiceState, party: PartyInfo, *where: sa.ColumnElement[bool], limit: int) -> list[dict[str, Any]]:
    c = t.conflicts.c
    scope = [] if party.role == "admin" else [sa.or_(c.party_a == party.id, c.party_b == party.id)]
    with state.db.connect() as conn:
        records = conflict_records(conn, *scope, *where, limit=limit)
        views = [conflict_view(r, party, state.cache, lambda i, v: version_volumes(conn, i, v)) for r in records]
    return [v for v in views if v is not None]


@router.get("", summary="Conflicts involving the caller's declarations (disclosure-limited)")
async def list_conflicts(
    request: Request,
    party: PartyInfo = Depends(current_party),
    declaration_id: str | None = Query(None, max_length=64),
    state_filter: str = Query("open", alias="state", pattern="^(open|superseded|closed|all)$"),
    limit: int = Query(200, ge=1, le=500),
) -> dict[str, Any]:
    c = t.conflicts.c
    where: list[sa.ColumnElement[bool]] = []
    if declaration_id is not None:
        where.append(sa.or_(c.declaration_a == declaration_id, c.declaration_b == declaration_id))
    if state_filter != "all":
        where.append(c.state == state_filter)
    found = await run_in_threadpool(_read, request.app.state.svc, party, *where, limit=limit)
    return {"conflicts": found}


@router.get("/{conflict_id}", summary="One conflict, as the caller may see it")
async def get_conflict(conflict_id: str, request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    found = await run_in_threadpool(_read, request.app.state.svc, party, t.conflicts.c.id == conflict_id, limit=1)
    if not found:
        raise NotFound("no such conflict", field="conflict_id")
    return {"conflict": found[0]}
