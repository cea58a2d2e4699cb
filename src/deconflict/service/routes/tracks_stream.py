"""`/v1/tracks/stream`: track ingest over a WebSocket, for feeds that keep a connection open.

The first message authenticates as on `/v1/stream`: `{"token": "..."}`; the server answers
`{"type": "hello", "party": NAME}`. Each following message is one batch in the `POST /v1/tracks` shape
(`{"source": ..., "reports": [...]}`, at most 5,000 reports and 2 MiB), answered in order with
`{"type": "ingested", "n": K, ...}` carrying what `POST /v1/tracks` answers (received, accepted, rejected by
reason, the source's totals). A message that is not such a batch (bad JSON, a bad field, too large) is answered
with `{"type": "error", "n": K, "error": {"code", "message", "field"}}` and the connection stays open: one bad
batch from a feed must not cut off the good ones after it.
"""

from __future__ import annotations

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool

from ...errors import DeconflictError
from ..bodies import validate_json
from ..errors import MAX_BODY_BYTES, _code, error_body
from ..state import ServiceState
from ..stream import authenticated, revoked
from ..tactical import TracksIn, ingest

router = APIRouter()
MAX_MESSAGE_BYTES = MAX_BODY_BYTES  #: the same bound as a POST /v1/tracks body


@router.websocket("/v1/tracks/stream")
async def tracks_stream(websocket: WebSocket) -> None:
    hello = await authenticated(websocket)
    if hello is None:
        return
    party, _, watch = hello
    state: ServiceState = websocket.app.state.svc
    await websocket.send_json({"type": "hello", "party": party.name})
    n = 0
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if not await watch.still_valid():  # the token was replaced meanwhile: nothing more from it
                await revoked(websocket)
                return
            n += 1
            raw = message.get("text")
            raw = raw if raw is not None else message.get("bytes") or b""
            try:
                if len(raw.encode() if isinstance(raw, str) else raw) > MAX_MESSAGE_BYTES:  # bytes, not characters
                    await websocket.send_json({"type": "error", "n": n, **error_body(
                        "too_large", f"the message exceeds {MAX_MESSAGE_BYTES} bytes", "body")})
                    continue
                body = validate_json(raw, TracksIn)
                result = await run_in_threadpool(ingest, state, party, body)
            except DeconflictError as exc:
                await websocket.send_json({"type": "error", "n": n, **error_body(_code(exc), exc.message, exc.field)})
                continue
            await websocket.send_json({"type": "ingested", "n": n, **result})
    except (WebSocketDisconnect, RuntimeError):
        return
