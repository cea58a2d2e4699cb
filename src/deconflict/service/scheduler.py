"""Timers that must survive a restart: declarations becoming active and ending, escalations and webhook retries
(their due times are stored: the declarations' windows, the notifications' deadlines, the posts' next attempts).

`tick(state)` does all work due at `state.clock()`; a test drives it with a fake clock. `Scheduler` runs ticks
on a thread in the service process; several processes may tick at once (each escalation is a guarded update).
"""

from __future__ import annotations

import logging
import threading

import httpx

from .ledger import sequence
from .lifecycle import advance_states
from .notifications import escalate_due
from .state import ServiceState
from .webhooks import deliver_due

__all__ = ["Scheduler", "tick"]

log = logging.getLogger("deconflict.scheduler")


def tick(state: ServiceState, http: httpx.Client | None = None) -> int:
    """Run everything due now: declarations starting and ending, escalations, then webhook posts.
    Returns the number of escalations made."""
    now = state.clock()
    advance_states(state, now)
    __import__("deconflict.service.tactical", fromlist=["screen_tick"]).screen_tick(state, now)  # live tracks
    escalated = escalate_due(state, now)
    sequence(state)  # the ledger: staged entries into the log, and a signed tree head
    if http is None:
        with httpx.Client() as client:
            deliver_due(state, now, client)
    else:
        deliver_due(state, now, http)
    return escalated


class Scheduler:
    def __init__(self, state: ServiceState, interval_s: float = 1.0) -> None:
        self.state = state
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="deconflict-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client() as http:
            while not self._stop.wait(self.interval_s):
                try:
                    tick(self.state, http)
                except Exception:  # keep ticking: a failed tick is retried at the next one
                    log.exception("scheduler tick failed")
