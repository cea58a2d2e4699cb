"""Idempotency keys: a retried write with the same key and the same request gets the first answer, never a second
effect. The answer is stored in the write's own transaction (`remember`); a concurrent retry that loses the race on
the key's primary key reads the winner's answer (`once`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict
from ..store import schema as t
from .engine_cache import PartyInfo
from .state import ServiceState

__all__ = ["Key", "once", "remember", "stored"]

T = TypeVar("T")
Key = tuple[str, str]  #: (the client's Idempotency-Key, a hash of the request)


def stored(conn: sa.Connection, party: PartyInfo, key: Key) -> tuple[int, dict[str, Any]] | None:
    """The (status, response) stored under `key`, or None; Conflict if the key served another request."""
    row = conn.execute(sa.select(t.idempotency_keys).where(
        t.idempotency_keys.c.party_id == party.id, t.idempotency_keys.c.key == key[0])).first()
    if row is None:
        return None
    if row.request_hash != key[1]:
        raise Conflict("this Idempotency-Key was used for a different request", field="idempotency-key")
    return int(row.status_code), dict(row.response)


def remember(conn: sa.Connection, party: PartyInfo, key: Key | None, status: int, response: dict[str, Any],
             now: datetime) -> None:
    """Store the answer in the write's transaction (no-op without a key)."""
    if key is not None:
        conn.execute(sa.insert(t.idempotency_keys).values(
            party_id=party.id, key=key[0], request_hash=key[1], status_code=status, response=response,
            created_at=now))


def once(state: ServiceState, party: PartyInfo, key: Key | None, write: Callable[[], T],
         replay: Callable[[int, dict[str, Any]], T]) -> T:
    """`write()`, unless `key` already has an answer (then `replay(status, response)`)."""
    if key is not None:
        with state.db.connect() as conn:
            found = stored(conn, party, key)
        if found is not None:
            return replay(*found)
    try:
        return write()
    except IntegrityError:
        if key is None:
            raise
        with state.db.connect() as conn:  # a concurrent retry with the same key won the race
            found = stored(conn, party, key)
        if found is None:
            raise
        return replay(*found)
