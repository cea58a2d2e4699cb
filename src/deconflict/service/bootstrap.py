"""First start of a store: the administrator party, whose token is shown once."""

from __future__ import annotations

import sqlalchemy as sa

from ..store import schema as t
from .routes.parties import create_party
from .state import ServiceState

__all__ = ["ADMIN_NAME", "ensure_admin"]

ADMIN_NAME = "admin"


def ensure_admin(state: ServiceState, token: str | None = None) -> str | None:
    """Create the admin party if the store has none; returns its token then (else None: it was shown before)."""
    with state.db.connect() as conn:
        exists = conn.execute(sa.select(t.parties.c.id).where(t.parties.c.role == "admin")).first()
    if exists is not None:
        return None
    _, issued = create_party(state, ADMIN_NAME, "Service administrator", role="admin", token=token)
    return issued
