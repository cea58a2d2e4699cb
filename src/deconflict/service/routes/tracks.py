"""Live tracks (issue 6): a party's registered assets, track ingest with per-source statistics, tactical alerts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from ..auth import current_party
from ..bodies import parse_body, strict_query
from ..engine_cache import PartyInfo
from ..state import ServiceState
from ..tactical import AssetsIn, TracksIn, alerts_for, assets_of, ingest, put_assets, stats_for, tracks_for

router = APIRouter(tags=["tracks"], dependencies=[Depends(strict_query)])


def _inline(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s JSON schema with its own definitions substituted (the body is documented in place)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def sub(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return sub(defs[ref.removeprefix("#/$defs/")])
            return {k: sub(v) for k, v in node.items()}
        if isinstance(node, list):
            return [sub(v) for v in node]
        return node

    return {"requestBody": {"required": True, "content": {"application/json": {"schema": sub(schema)}}}}


@router.get("/v1/parties/me/assets", summary="The caller's registered assets")
async def get_assets(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    state: ServiceState = request.app.state.svc

    def read() -> dict[str, list[str]]:
        with state.db.connect() as conn:
            return assets_of(conn, party.id)

    return {"assets": await run_in_threadpool(read)}


@router.put("/v1/parties/me/assets", openapi_extra=_inline(AssetsIn),
            summary="Register the caller's assets (replacing the previous set); tracks of them are the caller's")
async def put_my_assets(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    body = await parse_body(request, AssetsIn)
    return {"assets": await run_in_threadpool(put_assets, request.app.state.svc, party, body)}


@router.post("/v1/tracks", openapi_extra=_inline(TracksIn),
             summary="A batch of position reports: each checked, counted per reason, the accepted ones screened")
async def post_tracks(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    body = await parse_body(request, TracksIn)
    return await run_in_threadpool(ingest, request.app.state.svc, party, body)


@router.get("/v1/tracks", summary="Live tracks the caller may see: its own aircraft, and others only while an "
                                   "active alert pairs them with one of its own, as the alert shows them")
async def get_tracks(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    return await run_in_threadpool(tracks_for, request.app.state.svc, party)


@router.get("/v1/tracks/stats", summary="Ingest statistics of the caller's sources (accepted, rejected by reason)")
async def get_track_stats(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    return await run_in_threadpool(stats_for, request.app.state.svc, party)


@router.get("/v1/alerts", summary="Tactical alerts involving the caller's aircraft (need-to-know)")
async def list_alerts(
    request: Request,
    party: PartyInfo = Depends(current_party),
    state: str = Query("active", pattern="^(active|cleared|all)$"),
    limit: int = Query(200, ge=1, le=500),
    after: str | None = Query(None, min_length=1, max_length=64, description="Cursor: the previous page's `next`"),
) -> dict[str, Any]:
    return await run_in_threadpool(alerts_for, request.app.state.svc, party, state, limit, after)
