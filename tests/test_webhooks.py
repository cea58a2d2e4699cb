"""Webhooks: signed posts, retried with backoff after failures and timeouts, never on the write path."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from deconflict.service.scheduler import tick
from deconflict.service.server import RunningService

from .service_helpers import ManualClock
from .test_notifications import _inbox, _setup, circle


class Receiver:
    """A webhook endpoint that answers with the statuses it is given, then 200, recording what it got."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([500, 503])
    yield r
    r.close()


def test_webhook_is_signed_and_retried_until_delivered(timed: RunningService, clock: ManualClock,
                                                       receiver: Receiver) -> None:
    apis = _setup(timed)
    hook = apis["ngo"].put("/v1/parties/me/webhook", json={"url": receiver.url})
    assert hook.status_code == 200, hook.text
    secret = hook.json()["webhook"]["secret"]
    made = apis["air"].declare("activity", circle(35.0, 36.0, 5000, 120, 180))
    assert made.status_code == 201 and receiver.received == []  # the write did not wait for the post

    with httpx.Client() as http:
        tick(timed.state, http)  # 500
        clock.advance(1)
        tick(timed.state, http)  # not due yet: backoff 2 s after the first failure
        assert len(receiver.received) == 1
        clock.advance(2)
        tick(timed.state, http)  # 503
        clock.advance(4)
        tick(timed.state, http)  # 200
        clock.advance(60)
        tick(timed.state, http)  # delivered: nothing more is sent
        assert len(receiver.received) == 3
        clock.advance(300)
        tick(timed.state, http)  # unacknowledged past the deadline: escalated, and re-sent
    assert len(receiver.received) == 4
    assert json.loads(receiver.received[3][1])["notification"]["escalation_level"] == 1
    del receiver.received[3]
    headers, body = receiver.received[-1]
    assert headers["deconflict-signature"] == "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    posted = json.loads(body)["notification"]
    assert headers["deconflict-notification"] == posted["id"]
    assert posted["recipient"] == "ngo" and posted["reason"] == "notice"
    (delivered,) = _inbox(apis["air"], box="sent", pending="false")
    assert delivered["delivered_via"] == "webhook"


def test_an_unreachable_webhook_does_not_block_declarations(timed: RunningService) -> None:
    apis = _setup(timed)
    assert apis["ngo"].put("/v1/parties/me/webhook", json={"url": "http://127.0.0.1:9/nobody"}).status_code == 200
    for k in range(3):
        assert apis["air"].declare("activity", circle(35.0 + k, 36.0, 5000, 120, 180)).status_code == 201
    with httpx.Client() as http:
        tick(timed.state, http)  # connection refused: recorded, rescheduled, no exception
    assert len(_inbox(apis["ngo"])) == 3  # still there by polling


def test_webhook_url_is_validated(timed: RunningService) -> None:
    apis = _setup(timed)
    bad = apis["ngo"].put("/v1/parties/me/webhook", json={"url": "ftp://example.org/x"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "url"
