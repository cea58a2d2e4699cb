"""Declarations move `declared` -> `active` at their start and -> `ended` at their end, each a new version.

Run by the scheduler; every transition is a guarded update on the version read, so several processes ticking at
once make each transition once. An ended declaration leaves the index (through the change log) and its open
conflicts close.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from ..store import schema as t
from ..store.database import writing
from .ledger import stage_version
from .state import ServiceState
from .writes import close_conflicts, log_change

__all__ = ["advance_states"]

BATCH = 500


def advance_states(state: ServiceState, now: datetime) -> int:
    """Apply every start and end that is due; returns how many declarations changed state."""
    d = t.declarations.c
    changed = 0
    with writing(state.db) as conn:
        due = conn.execute(sa.select(t.declarations).where(sa.or_(
            sa.and_(d.state.in_(("declared", "active")), d.time_end <= now),
            sa.and_(d.state == "declared", d.time_start <= now),
        )).order_by(d.time_start).limit(BATCH)).all()
        for row in due:
            new_state = "ended" if row.time_end <= now else "active"
            moved = conn.execute(sa.update(t.declarations).where(d.id == row.id, d.version == row.version).values(
                state=new_state, version=row.version + 1, updated_at=now))
            if moved.rowcount != 1:
                continue
            conn.execute(sa.insert(t.declaration_versions).values(
                declaration_id=row.id, version=row.version + 1, state=new_state, created_at=now,
                body={"owner_id": row.owner_id, "kind": row.kind, "activation": row.activation, "state": new_state,
                      "version": row.version + 1, "title": row.title, "extra": row.extra, "volumes": row.volumes}))
            stage_version(conn, row.id, row.version + 1, now)
            if new_state == "ended":
                close_conflicts(conn, row.id, "closed", now)
            log_change(conn, "declaration", row.id, row.version + 1, now)
            changed += 1
    return changed
