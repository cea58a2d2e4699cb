"""Running the app under uvicorn: in the foreground (`serve`, `demo`) or in a thread (tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn

from ..store.database import open_database
from .app import create_app, open_state
from .bootstrap import ensure_admin
from .errors import MAX_BODY_BYTES
from .scheduler import Scheduler
from .state import Clock, ServiceState, system_clock

__all__ = ["RunningService", "WS_MAX_MESSAGE_BYTES", "build", "serve_forever", "start_in_thread"]

#: the largest WebSocket message read at all (closed 1009 beyond): twice the body limit, so that a message just
#: over it is still answered with an error naming it, while none takes more memory than this (uvicorn: 16 MiB)
WS_MAX_MESSAGE_BYTES = 2 * MAX_BODY_BYTES


@dataclass
class RunningService:
    """A service listening on `url`; `admin_token` is None when the store already had an admin."""

    url: str
    state: ServiceState
    admin_token: str | None
    server: uvicorn.Server
    thread: threading.Thread
    scheduler: Scheduler | None = None
    sock: socket.socket | None = None

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        self.server.should_exit = True
        self.thread.join(timeout=10)
        if self.sock is not None:
            self.sock.close()
        self.state.db.dispose()


def build(db: str, clock: Clock = system_clock, admin_token: str | None = None) -> tuple[ServiceState, str | None]:
    state = open_state(ServiceState(open_database(db), clock=clock))
    return state, ensure_admin(state, admin_token)


def uvicorn_config(state: ServiceState, host: str, port: int | None = None, log_level: str = "warning",
                   f3548: object = None) -> uvicorn.Config:
    app = create_app(state)
    if f3548 is not None:  # an F3548Config for /dss/v1 (None: read from the environment on first use)
        app.state.f3548_config = f3548
    return uvicorn.Config(app, host=host, port=port or 0, log_level=log_level, access_log=False,
                          lifespan="off", ws="websockets-sansio" if _has_sansio() else "auto",
                          ws_max_size=WS_MAX_MESSAGE_BYTES)


def _has_sansio() -> bool:
    try:
        import websockets.sansio  # noqa: F401
    except ImportError:
        return False
    return True


def serve_forever(state: ServiceState, host: str, port: int, f3548: object = None) -> None:
    """Serve in the foreground until interrupted (Ctrl-C stops it cleanly), with the scheduler running.
    `f3548`: an `F3548Config` for the /dss/v1 surface (None: from the environment)."""
    scheduler = Scheduler(state)
    scheduler.start()
    try:
        uvicorn.Server(uvicorn_config(state, host, port, log_level="info", f3548=f3548)).run()
    finally:
        scheduler.stop()


def start_in_thread(db: str, *, host: str = "127.0.0.1", port: int = 0, clock: Clock = system_clock,
                    admin_token: str | None = None, scheduler: bool = True) -> RunningService:
    """Start on `port` (0: any free one) and return once it accepts connections. Tests that drive time
    themselves pass `scheduler=False` and call `scheduler.tick`."""
    state, token = build(db, clock, admin_token)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn_config(state, host)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="deconflict-http")
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.01)
    bound_port = sock.getsockname()[1]
    timers = Scheduler(state) if scheduler else None
    if timers is not None:
        timers.start()
    return RunningService(f"http://{host}:{bound_port}", state, token, server, thread, timers, sock)
