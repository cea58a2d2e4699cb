"""Webhooks: notifications posted to a URL the party registers, signed with HMAC-SHA256, retried with backoff.

A post never happens on the write path: the write only queues a delivery row (in its own transaction, like the
notification), and the scheduler posts what is due. Delivery is at-least-once; receivers de-duplicate by the
notification id (header `Deconflict-Notification`). The signature header `Deconflict-Signature` is
`sha256=<hex HMAC of the body under the party's webhook secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from ..errors import InvalidInput
from ..store import schema as t
from ..store.database import writing
from .notifications import deliver, notification_json
from .state import ServiceState
from .writes import log_change

__all__ = ["deliver_due", "enqueue", "register", "signature", "unregister"]

TIMEOUT_S = 5.0
MAX_BACKOFF_S = 300.0
MAX_ATTEMPTS = 50


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def register(state: ServiceState, party_id: str, url: str) -> dict[str, Any]:
    """Set (or replace) the party's webhook; the new secret is returned once."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise InvalidInput("not a valid URL", field="url") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidInput("must be an http(s) URL with a host", field="url")
    secret = secrets.token_urlsafe(32)
    now = state.clock()
    with writing(state.db) as conn:
        conn.execute(sa.delete(t.webhooks).where(t.webhooks.c.party_id == party_id))
        conn.execute(sa.insert(t.webhooks).values(party_id=party_id, url=url, secret=secret, created_at=now))
        log_change(conn, "webhook", party_id, 1, now)
    return {"url": url, "secret": secret}


def unregister(state: ServiceState, party_id: str) -> None:
    with writing(state.db) as conn:
        conn.execute(sa.delete(t.webhooks).where(t.webhooks.c.party_id == party_id))
        log_change(conn, "webhook", party_id, 1, state.clock())


def enqueue(conn: sa.Connection, notifications: Iterable[tuple[str, str]], now: datetime,
            hooked: set[str] | None = None) -> None:
    """Queue a post for each (notification id, recipient) whose recipient has a webhook (`hooked`: the parties
    known to have one, from the engine cache caught up in this transaction; else the store is asked)."""
    pairs = list(notifications)
    if hooked is not None:
        pairs = [(n, p) for n, p in pairs if p in hooked]
    if not pairs:
        return
    if hooked is None:
        hooked = {r.party_id for r in conn.execute(sa.select(t.webhooks.c.party_id).where(
            t.webhooks.c.party_id.in_({p for _, p in pairs})))}
    rows = [{"id": str(uuid.uuid4()), "notification_id": n, "party_id": p, "attempts": 0, "next_attempt_at": now,
             "created_at": now} for n, p in pairs if p in hooked]
    if rows:
        conn.execute(sa.insert(t.webhook_deliveries), rows)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2.0 ** attempts, MAX_BACKOFF_S))


def deliver_due(state: ServiceState, now: datetime, http: httpx.Client) -> int:
    """Post every due delivery; returns how many succeeded. Failures are rescheduled with backoff."""
    d = t.webhook_deliveries.c
    with state.db.connect() as conn:
        due = conn.execute(
            sa.select(t.notifications, d.id.label("delivery_id"), d.attempts, t.webhooks.c.url, t.webhooks.c.secret)
            .join(t.webhooks, t.webhooks.c.party_id == d.party_id)
            .join(t.notifications, t.notifications.c.id == d.notification_id)
            .where(d.delivered_at.is_(None), d.next_attempt_at.is_not(None), d.next_attempt_at <= now)
            .order_by(d.next_attempt_at).limit(100)
        ).all()
    ok = 0
    for row in due:
        body = json.dumps({"type": "notification", "notification": notification_json(row, state.cache)}).encode()
        error: str | None = None
        try:
            response = http.post(row.url, content=body, timeout=TIMEOUT_S, headers={
                "content-type": "application/json", "Deconflict-Notification": row.id,
                "Deconflict-Signature": signature(row.secret, body)})
            if not response.is_success:
                error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        with writing(state.db) as conn:
            if error is None:
                conn.execute(sa.update(t.webhook_deliveries).where(d.id == row.delivery_id).values(
                    delivered_at=now, attempts=row.attempts + 1, next_attempt_at=None, last_error=None))
                deliver(conn, [row.id], "webhook", now)
                ok += 1
            else:
                attempts = row.attempts + 1
                conn.execute(sa.update(t.webhook_deliveries).where(d.id == row.delivery_id).values(
                    attempts=attempts, last_error=error,
                    next_attempt_at=None if attempts >= MAX_ATTEMPTS else now + _backoff(attempts)))
    return ok
