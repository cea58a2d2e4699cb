"""Parties and their credentials. An admin creates parties; each registers its own Ed25519 key."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from ...errors import Conflict, NotFound
from ...store import schema as t
from ...store.database import writing
from ..auth import current_party, hash_token, new_token, require_admin, rotate_token, valid_public_key
from ..bodies import KeyIn, PartyIn, WebhookIn, openapi_body, parse_body, strict_query
from ..codec import iso
from ..engine_cache import PartyInfo
from ..state import ServiceState
from ..webhooks import register, unregister
from ..writes import log_change

router = APIRouter(prefix="/v1/parties", tags=["parties"], dependencies=[Depends(strict_query)])


def _party_json(row: Any, *, full: bool) -> dict[str, Any]:
    out = {"id": row.id, "name": row.name, "display_name": row.display_name, "role": row.role}
    if full:
        out.update(public_key=row.public_key, created_at=iso(row.created_at))
    return out


def create_party(state: ServiceState, name: str, display_name: str = "", public_key: str | None = None,
                 role: str = "party", token: str | None = None) -> tuple[dict[str, Any], str]:
    """Create a party; returns its JSON and its token (shown once, stored hashed)."""
    token = token or new_token()
    key = valid_public_key(public_key) if public_key is not None else None
    now = state.clock()
    party_id = str(uuid.uuid4())
    with writing(state.db) as conn:
        if conn.execute(sa.select(t.parties.c.id).where(t.parties.c.name == name)).first() is not None:
            raise Conflict(f"a party named {name!r} exists", field="name")
        conn.execute(sa.insert(t.parties).values(id=party_id, name=name, display_name=display_name or name,
                                                 role=role, token_hash=hash_token(token), public_key=key,
                                                 created_at=now))
        log_change(conn, "party", party_id, 1, now)
        row = conn.execute(sa.select(t.parties).where(t.parties.c.id == party_id)).one()
    return _party_json(row, full=True), token


@router.post("", status_code=201, openapi_extra=openapi_body(PartyIn),
             summary="Create a party (admin); the response carries its token, shown only once")
async def post_party(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    require_admin(party)
    body = await parse_body(request, PartyIn)
    state: ServiceState = request.app.state.svc
    created, token = await run_in_threadpool(create_party, state, body.name, body.display_name, body.public_key)
    return {"party": created, "token": token}


@router.get("", summary="Parties the caller may know of: itself and its partners (admin: all)")
async def list_parties(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    state: ServiceState = request.app.state.svc

    def read() -> list[dict[str, Any]]:
        with state.db.connect() as conn:
            state.cache.refresh(conn)
            rows = conn.execute(sa.select(t.parties).order_by(t.parties.c.name)).all()
        with state.cache.lock:
            partners = state.cache.partners(party.id)
        visible = [r for r in rows if party.role == "admin" or r.id == party.id or r.id in partners]
        return [_party_json(r, full=party.role == "admin" or r.id == party.id) for r in visible]

    return {"parties": await run_in_threadpool(read)}


@router.get("/me", summary="The calling party")
async def me(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    state: ServiceState = request.app.state.svc

    def read() -> dict[str, Any]:
        with state.db.connect() as conn:
            row = conn.execute(sa.select(t.parties).where(t.parties.c.id == party.id)).one()
        return _party_json(row, full=True)

    return {"party": await run_in_threadpool(read)}


@router.post("/me/token", summary="Replace the caller's token: the new one is returned once, the old one stops "
             "working (at once here, within 10 s in every process; held streams are closed)")
async def replace_my_token(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    token = await run_in_threadpool(rotate_token, request.app.state.svc, party.id)
    if token is None:
        raise NotFound("no such party", field="party")
    return {"party_id": party.id, "token": token}


@router.post("/{party_id}/token", summary="Replace a party's token (admin), e.g. when it may be compromised; "
             "the new one is returned once")
async def replace_token(party_id: str, request: Request, party: PartyInfo = Depends(current_party)
                        ) -> dict[str, Any]:
    require_admin(party)
    token = await run_in_threadpool(rotate_token, request.app.state.svc, party_id)
    if token is None:
        raise NotFound("no such party", field="party_id")
    return {"party_id": party_id, "token": token}


@router.put("/me/key", openapi_extra=openapi_body(KeyIn), summary="Register the caller's Ed25519 public key")
async def put_key(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    body = await parse_body(request, KeyIn)
    key = valid_public_key(body.public_key)
    state: ServiceState = request.app.state.svc

    def write() -> dict[str, Any]:
        with writing(state.db) as conn:
            done = conn.execute(sa.update(t.parties).where(t.parties.c.id == party.id).values(public_key=key))
            if done.rowcount != 1:
                raise NotFound("no such party", field="party")
            row = conn.execute(sa.select(t.parties).where(t.parties.c.id == party.id)).one()
        return _party_json(row, full=True)

    return {"party": await run_in_threadpool(write)}


@router.put("/me/webhook", openapi_extra=openapi_body(WebhookIn),
            summary="Post the caller's notifications to a URL, signed with HMAC-SHA256 (secret returned once)")
async def put_webhook(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    body = await parse_body(request, WebhookIn)
    return {"webhook": await run_in_threadpool(register, request.app.state.svc, party.id, body.url)}


@router.delete("/me/webhook", summary="Stop posting the caller's notifications")
async def delete_webhook(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    state: ServiceState = request.app.state.svc

    await run_in_threadpool(unregister, state, party.id)
    return {"webhook": None}
