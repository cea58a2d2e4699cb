"""The hotline: threads between parties of an agreement, their messages, and receipts (see `service.hotline`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from .. import hotline
from ..auth import current_party
from ..bodies import openapi_body, parse_body, strict_query
from ..engine_cache import PartyInfo
from ..hotline import MessageIn, ReadIn, ThreadIn
from ..state import ServiceState
from ..writes import request_hash

router = APIRouter(prefix="/v1/threads", tags=["hotline"], dependencies=[Depends(strict_query)])
MAX_KEY = 200
PAGE = 500
BODY_MODELS = (ThreadIn, MessageIn, ReadIn)  #: their schemas go to the OpenAPI components (see app)


@router.post("", status_code=201, openapi_extra=openapi_body(ThreadIn),
             summary="Open a thread in one of the caller's agreements, optionally about a declaration or conflict")
async def post_thread(request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    body = await parse_body(request, ThreadIn)
    state: ServiceState = request.app.state.svc
    return await run_in_threadpool(hotline.create_thread, state, party, body)


@router.get("", summary="The threads the caller takes part in, with its unread counts")
async def list_threads(
    request: Request,
    party: PartyInfo = Depends(current_party),
    agreement_id: str | None = Query(None, min_length=1, max_length=64),
    limit: int = Query(200, ge=1, le=PAGE),
    after: str | None = Query(None, min_length=1, max_length=64, description="Cursor: the previous page's `next`"),
) -> dict[str, Any]:
    return await run_in_threadpool(hotline.list_threads, request.app.state.svc, party, agreement_id, after, limit)


@router.get("/{thread_id}", summary="One thread the caller takes part in")
async def get_thread(thread_id: str, request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    return await run_in_threadpool(hotline.get_thread, request.app.state.svc, party, thread_id)


@router.post("/{thread_id}/messages", status_code=201, openapi_extra=openapi_body(MessageIn),
             summary="Send a text and/or structured message; `Idempotency-Key` makes retries safe")
async def post_message(
    thread_id: str,
    request: Request,
    party: PartyInfo = Depends(current_party),
    idempotency_key: str | None = Header(default=None, max_length=MAX_KEY),
) -> JSONResponse:
    raw = await request.body()
    body = await parse_body(request, MessageIn)
    state: ServiceState = request.app.state.svc
    idem = (idempotency_key, request_hash("POST", request.url.path, raw)) if idempotency_key else None
    sent = await run_in_threadpool(hotline.send_message, state, party, thread_id, body, idem)
    return JSONResponse(sent, status_code=201)


@router.get("/{thread_id}/messages",
            summary="The thread's history, oldest first, paged; marks the page delivered to the caller")
async def list_messages(
    thread_id: str,
    request: Request,
    party: PartyInfo = Depends(current_party),
    limit: int = Query(hotline.PAGE, ge=1, le=PAGE),
    after: str | None = Query(None, min_length=1, max_length=64,
                              description="Cursor: a message id (the previous page's `next`)"),
) -> dict[str, Any]:
    return await run_in_threadpool(hotline.list_messages, request.app.state.svc, party, thread_id, after, limit)


@router.post("/{thread_id}/read", openapi_extra=openapi_body(ReadIn),
             summary="Mark read every message sent to the caller up to and including `up_to`")
async def post_read(thread_id: str, request: Request, party: PartyInfo = Depends(current_party)) -> dict[str, Any]:
    body = await parse_body(request, ReadIn)
    return await run_in_threadpool(hotline.mark_read, request.app.state.svc, party, thread_id, body.up_to)
