"""`/v1/stream`: a WebSocket that pushes to a party what changes, as it may see it.

The first message authenticates: `{"token": "...", "since": N}` (browsers cannot set headers on a WebSocket;
`since` resumes after the `cursor` of an earlier event). The server answers `{"type": "hello", "cursor": N}` and
then sends, in commit order, `declaration` events (a declaration the party may see changed), `conflict` events
(a conflict involving the party was found), and from the hotline `thread` (a thread it takes part in was opened),
`message` (a message in such a thread; its first push counts as its delivery) and `receipt` (to the sender: a
message's delivery or read receipts changed), and `notification` (one addressed to the party, or re-sent on
escalation; its first push counts as its delivery), each with the `cursor` to resume from. Events come from the
store's change log, so a process sees the writes of every other process. Delivery is at-least-once: a client
resuming from an older cursor gets notifications again and de-duplicates them by id.
"""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool

from ..errors import DeconflictError, NotAuthenticated
from .auth import TOKEN_RECHECK_S, party_of_token
from .engine_cache import PartyInfo
from .hub import Hub
from .state import ServiceState

router = APIRouter()
AUTH_TIMEOUT_S = 10.0


def _authenticate(state: ServiceState, message: str) -> tuple[PartyInfo, int | None]:
    try:
        hello = json.loads(message)
    except ValueError:
        raise NotAuthenticated("the first message must be JSON: {\"token\": ...}", field="token") from None
    token = hello.get("token") if isinstance(hello, dict) else None
    since = hello.get("since") if isinstance(hello, dict) else None
    if not isinstance(token, str) or not token:
        raise NotAuthenticated("the first message must carry the token", field="token")
    if since is not None and (not isinstance(since, int) or isinstance(since, bool) or since < 0):
        raise NotAuthenticated("since must be a cursor from an earlier event", field="since")
    return party_of_token(state, token, "token"), since


def _token_of(message: str) -> str:
    return str(json.loads(message)["token"])


class TokenWatch:
    """A held WebSocket's token, re-checked every TOKEN_RECHECK_S: a connection must not outlive its token's
    replacement (auth.rotate_token) by more than that."""

    def __init__(self, state: ServiceState, token: str) -> None:
        self.state, self.token = state, token
        self.checked = asyncio.get_running_loop().time()

    async def still_valid(self) -> bool:
        now = asyncio.get_running_loop().time()
        if now - self.checked < TOKEN_RECHECK_S:
            return True
        self.checked = now
        try:
            await run_in_threadpool(party_of_token, self.state, self.token, "token")
        except NotAuthenticated:
            return False
        return True


async def revoked(websocket: WebSocket) -> None:
    """Tell the client its token was replaced, and close (4401)."""
    await websocket.send_json({"type": "error", "error": {"code": "not_authenticated",
                                                          "message": "the token was replaced; connect again"}})
    await websocket.close(code=4401)


async def authenticated(websocket: WebSocket) -> tuple[PartyInfo, int | None, TokenWatch] | None:
    """Accept, and read the first message's token (and `since`); None when refused (told so, closed 4401) or gone.
    Shared by the WebSockets that take a token this way (this stream, track ingest); the TokenWatch re-checks
    the token while the connection is held."""
    await websocket.accept()
    state: ServiceState = websocket.app.state.svc
    try:
        first = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_S)
        party, since = await run_in_threadpool(_authenticate, state, first)
        return party, since, TokenWatch(state, _token_of(first))
    except (TimeoutError, DeconflictError) as exc:
        message = str(exc) if isinstance(exc, DeconflictError) else "no token within 10 s"
        await websocket.send_json({"type": "error", "error": {"code": "not_authenticated", "message": message}})
        await websocket.close(code=4401)
        return None
    except (WebSocketDisconnect, KeyError):  # KeyError: a binary first message
        return None


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket) -> None:
    hello = await authenticated(websocket)
    if hello is None:
        return
    party, since, watch = hello
    hub: Hub = websocket.app.state.hub
    cursor = since if since is not None else await run_in_threadpool(hub.head)
    await websocket.send_json({"type": "hello", "party": party.name, "cursor": cursor})
    sub = await hub.subscribe(party, cursor)
    incoming = asyncio.ensure_future(websocket.receive())  # notices the client leaving while we wait
    try:
        while True:
            batch = asyncio.ensure_future(sub.queue.get())
            done, _ = await asyncio.wait({incoming, batch}, timeout=TOKEN_RECHECK_S,
                                         return_when=asyncio.FIRST_COMPLETED)
            if not await watch.still_valid():
                batch.cancel()
                await revoked(websocket)
                return
            if not done:
                batch.cancel()
                continue
            if incoming in done:
                batch.cancel()
                if incoming.result()["type"] == "websocket.disconnect":
                    return
                incoming = asyncio.ensure_future(websocket.receive())  # clients have nothing to say yet
                continue
            events = batch.result()
            if events is None:  # too slow to keep up: dropped; it may resume from its last cursor
                await websocket.close(code=4408)
                return
            for event in events:
                await websocket.send_json(event)
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        hub.unsubscribe(sub)
        incoming.cancel()
