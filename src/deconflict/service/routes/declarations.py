"""Declarations: create, read, update (If-Match), cancel, list, and query by 4D area."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ...core.footprint import FootprintBatch
from ...core.model import DeclarationKind, DeclarationState
from ...core.validation import validate_volume
from ...errors import MalformedRequest, NotFound, PreconditionRequired
from ...store import schema as t
from ..auth import current_party
from ..bodies import AreaQueryIn, CancelIn, DeclarationIn, openapi_body, parse_body, strict_query
from ..engine_cache import PartyInfo
from ..reads import declaration_row
from ..state import ServiceState
from ..views import declaration_view
from ..writes import (
    WriteResult,
    cancel_declaration,
    create_declaration,
    preview_declaration,
    request_hash,
    update_declaration,
)

router = APIRouter(prefix="/v1/declarations", tags=["declarations"], dependencies=[Depends(strict_query)])
MAX_KEY = 200
PAGE = 500


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(value: str | None, required: bool) -> int | None:
    """The version an If-Match names: `"3"` (or 3)."""
    if value is None:
        if required:
            raise PreconditionRequired("send If-Match with the version (ETag) being replaced", field="if-match")
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise MalformedRequest('If-Match must be an ETag such as "3"', field="if-match")
    return int(text)


def _respond(result: WriteResult) -> JSONResponse:
    headers = {"ETag": etag(result.version)} if result.version is not None else {}
    return JSONResponse(result.body, status_code=result.status, headers=headers)


@router.post("", status_code=201, openapi_extra=openapi_body(DeclarationIn),
             summary="Declare; the response lists the conflicts found (409 when a 'block' agreement refuses)")
async def post_declaration(
    request: Request,
    party: PartyInfo = Depends(current_party),
    idempotency_key: str | None = Header(default=None, max_length=MAX_KEY),
) -> JSONResponse:
    raw = await request.body()
    body = await parse_body(request, DeclarationIn)
    state: ServiceState = request.app.state.svc
    idem = (idempotency_key, request_hash("POST", request.url.path, raw)) if idempotency_key else None
    return _respond(await run_in_threadpool(create_declaration, state, party, body, idem))


@router.post("/preview", openapi_extra=openapi_body(DeclarationIn),
             summary="Dry run of POST /v1/declarations: the conflicts it would find, as its response would show "
                     "them; writes nothing, notifies nobody")
async def preview(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    body = await parse_body(request, DeclarationIn)
    state: ServiceState = request.app.state.svc
    return await run_in_threadpool(preview_declaration, state, party, body)


@router.put("/{declaration_id}", openapi_extra=openapi_body(DeclarationIn),
            summary="A new version; If-Match must name the current version (409 if stale)")
async def put_declaration(
    declaration_id: str, request: Request, party: PartyInfo = Depends(current_party),
    if_match: str | None = Header(default=None, max_length=32),
) -> JSONResponse:
    expected = parse_if_match(if_match, required=True)
    assert expected is not None
    body = await parse_body(request, DeclarationIn)
    state: ServiceState = request.app.state.svc
    return _respond(await run_in_threadpool(update_declaration, state, party, declaration_id, body, expected))


@router.post("/{declaration_id}/cancel", openapi_extra=openapi_body(CancelIn),
             summary="Cancel; If-Match optional (409 if stale)")
async def post_cancel(
    declaration_id: str, request: Request, party: PartyInfo = Depends(current_party),
    if_match: str | None = Header(default=None, max_length=32),
) -> JSONResponse:
    expected = parse_if_match(if_match, required=False)
    body = await parse_body(request, CancelIn)
    state: ServiceState = request.app.state.svc
    return _respond(await run_in_threadpool(cancel_declaration, state, party, declaration_id, expected, body.reason))


@router.get("/{declaration_id}", summary="One declaration, as the caller may see it")
async def get_declaration(declaration_id: str, request: Request, response: Response,
                          party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    state: ServiceState = request.app.state.svc

    def read() -> dict[str, Any] | None:
        with state.db.connect() as conn:
            state.cache.refresh(conn)
            row = declaration_row(conn, declaration_id)
        return None if row is None else declaration_view(row, party, state.cache)

    view = await run_in_threadpool(read)
    if view is None:
        raise NotFound("no such declaration", field="declaration_id")
    response.headers["ETag"] = etag(view["version"])
    return {"declaration": view}


@router.get("", summary="Declarations the caller may see: its own, and partners' as disclosed")
async def list_declarations(
    request: Request,
    party: PartyInfo = Depends(current_party),
    scope: str = Query("all", pattern="^(own|all)$"),
    state_filter: DeclarationState | None = Query(None, alias="state"),
    kind: DeclarationKind | None = None,
    live: bool = Query(True, description="Only declared and active ones"),
    limit: int = Query(PAGE, ge=1, le=PAGE),
    after: str | None = Query(None, min_length=1, max_length=64, description="Cursor: the previous page's last id"),
) -> dict[str, Any]:
    state: ServiceState = request.app.state.svc

    def read() -> dict[str, Any]:
        d = t.declarations.c
        where: list[sa.ColumnElement[bool]] = []
        with state.db.connect() as conn:
            state.cache.refresh(conn)
        if scope == "own" or party.role != "admin":
            with state.cache.lock:
                visible = {party.id} if scope == "own" else {party.id} | {
                    p for p in state.cache.partners(party.id)
                    if state.cache.terms(party.id, p).listing_disclosure() is not None}
            where.append(d.owner_id.in_(visible))
        if state_filter is not None:
            where.append(d.state == state_filter.value)
        elif live:
            where.append(d.state.in_(("declared", "active")))
        if kind is not None:
            where.append(d.kind == kind.value)
        if after is not None:
            where.append(d.id > after)
        with state.db.connect() as conn:
            rows = conn.execute(sa.select(t.declarations).where(*where).order_by(d.id).limit(limit)).all()
        views = [v for v in (declaration_view(r, party, state.cache) for r in rows) if v is not None]
        return {"declarations": views, "next": rows[-1].id if len(rows) == limit else None}

    return await run_in_threadpool(read)


@router.post("/query", openapi_extra=openapi_body(AreaQueryIn),
             summary="Live declarations the caller may see that share a point with a 4D area")
async def query_declarations(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    body = await parse_body(request, AreaQueryIn)
    state: ServiceState = request.app.state.svc
    validate_volume(body.area, state.limits, None, field="area")

    def read() -> dict[str, Any]:
        batch = FootprintBatch.of([body.area])
        with state.db.connect() as conn:
            with state.cache.lock:
                state.cache.catch_up(conn)
                ids = state.cache.engine.intersecting(batch)
            rows = conn.execute(sa.select(t.declarations).where(t.declarations.c.id.in_(ids))).all() if ids else []
        views = [declaration_view(r, party, state.cache) for r in rows
                 if body.kind is None or r.kind == body.kind.value]
        return {"declarations": sorted((v for v in views if v is not None), key=lambda v: v["id"])}

    return await run_in_threadpool(read)
