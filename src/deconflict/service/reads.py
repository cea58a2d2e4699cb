"""Store reads the routes share: rows by id, a version's volumes, conflicts with both sides' kinds."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from ..core.model import Volume4D
from ..store import schema as t
from .codec import volumes_from_json
from .views import ConflictRecord

__all__ = ["VolumeStore", "conflict_records", "declaration_row", "version_volumes"]


def declaration_row(conn: sa.Connection, decl_id: str) -> Any:
    return conn.execute(sa.select(t.declarations).where(t.declarations.c.id == decl_id)).first()


def version_volumes(conn: sa.Connection, decl_id: str, version: int) -> list[Volume4D]:
    body = conn.execute(sa.select(t.declaration_versions.c.body).where(
        t.declaration_versions.c.declaration_id == decl_id, t.declaration_versions.c.version == version)).scalar()
    if body is None:
        return []
    return volumes_from_json(body["volumes"])


class VolumeStore:
    """Declarations' volumes by (id, version), as stored JSON, fetched in one query for a batch of conflicts.

    Full disclosure shows the stored JSON as it is; only clipped or coarse views need it parsed (`parsed`).
    """

    def __init__(self, conn: sa.Connection, known: dict[tuple[str, int], list[dict[str, Any]]] | None = None) -> None:
        self.conn = conn
        self.raw: dict[tuple[str, int], list[dict[str, Any]]] = dict(known or {})
        self._parsed: dict[tuple[str, int], list[Volume4D]] = {}

    def prefetch(self, keys: Iterable[tuple[str, int]]) -> None:
        missing = {k for k in keys if k not in self.raw}
        if not missing:
            return
        v = t.declaration_versions.c
        ids = sorted({decl_id for decl_id, _ in missing})  # by id: a row-value IN would not use the key on SQLite
        rows = self.conn.execute(sa.select(v.declaration_id, v.version, v.body).where(v.declaration_id.in_(ids)))
        for r in rows:
            if (r.declaration_id, r.version) in missing:
                self.raw[(r.declaration_id, r.version)] = r.body["volumes"]

    def __call__(self, decl_id: str, version: int) -> list[dict[str, Any]]:
        key = (decl_id, version)
        if key not in self.raw:
            self.prefetch([key])
        return self.raw.get(key, [])

    def parsed(self, decl_id: str, version: int) -> list[Volume4D]:
        key = (decl_id, version)
        if key not in self._parsed:
            self._parsed[key] = volumes_from_json(self(decl_id, version))
        return self._parsed[key]

    @classmethod
    def for_records(cls, conn: sa.Connection, records: Iterable[ConflictRecord],
                    known: dict[tuple[str, int], list[dict[str, Any]]] | None = None) -> VolumeStore:
        store = cls(conn, known)
        store.prefetch(key for r in records for key in ((r.declaration_a, r.version_a),
                                                        (r.declaration_b, r.version_b)))
        return store


def conflict_records(conn: sa.Connection, *where: sa.ColumnElement[bool], limit: int = 500) -> list[ConflictRecord]:
    """Conflicts matching `where` in id order (a stable cursor), with the kinds of both declarations."""
    a = t.declarations.alias("a")
    b = t.declarations.alias("b")
    c = t.conflicts
    query = (
        sa.select(c, a.c.kind.label("kind_a"), b.c.kind.label("kind_b"))
        .join(a, a.c.id == c.c.declaration_a).join(b, b.c.id == c.c.declaration_b)
        .where(*where).order_by(c.c.id).limit(limit)
    )
    return [
        ConflictRecord(
            id=r.id, declaration_a=r.declaration_a, version_a=r.version_a, party_a=r.party_a,
            declaration_b=r.declaration_b, version_b=r.version_b, party_b=r.party_b,
            window_start=r.window_start, window_end=r.window_end, lateral_m=r.lateral_m, vertical_m=r.vertical_m,
            time_gap_s=r.time_gap_s, severity=r.severity, policy=r.policy, volume_pairs=r.volume_pairs,
            state=r.state, detected_at=r.detected_at, kind_a=r.kind_a, kind_b=r.kind_b,
        )
        for r in conn.execute(query)
    ]
