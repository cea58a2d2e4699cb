"""This process's copy of the strategic index and the agreements, kept in step with the store.

The store is the truth; every process (several may serve one PostgreSQL) holds a cache built from it at start-up
and caught up from the `changes` log before each check. Sequence numbers may commit out of order on PostgreSQL,
so the cache remembers which numbers above its watermark it has applied instead of trusting the highest seen;
a hole older than `GAP_PATIENCE_S` is a rolled-back write and is skipped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from ..core.footprint import FootprintBatch
from ..core.model import Activation, DeclarationKind, SeparationMinima
from ..core.protocol import Agreement, ConflictPolicy, Disclosure, PairTerms, terms_between
from ..core.strategic import StrategicEngine, engine_kind
from ..store import schema as t
from .codec import volumes_from_json, volumes_from_text

__all__ = ["EngineCache", "LIVE_STATES"]

LIVE_STATES = ("declared", "active")
GAP_PATIENCE_S = 60.0


@dataclass(frozen=True, slots=True)
class PartyInfo:
    id: str
    name: str
    role: str


class EngineCache:
    """The engine, the agreements and the party names, with the lock that guards them."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.engine = StrategicEngine()
        self.agreements: dict[str, Agreement] = {}
        self.parties: dict[str, PartyInfo] = {}
        self.versions: dict[str, int] = {}
        self.induced: set[str] = set()  #: live induced hazards (most writes need not look for any)
        self.hazardous: set[str] = set()  #: live hazard and protected declarations (most ticks need not look)
        self.flights: dict[str, str] = {}  #: live flight declarations -> owner (who is monitored for conformance)
        self.hooked: set[str] = set()  #: parties with a webhook (most notifications need no post queued)
        self.watermark = 0
        self.applied: set[int] = set()
        self._gaps: dict[int, float] = {}
        self._terms: dict[tuple[str, str], PairTerms] = {}

    # -- queries ------------------------------------------------------------------------------------------
    def terms(self, a: str, b: str) -> PairTerms:
        key = (a, b) if a <= b else (b, a)
        found = self._terms.get(key)
        if found is None:
            found = self._terms[key] = terms_between(self.agreements.values(), a, b)
        return found

    def partners(self, party_id: str) -> set[str]:
        return {p for g in self.agreements.values() if party_id in g.parties for p in g.parties} - {party_id}

    def widest_minima(self) -> SeparationMinima:
        widest = SeparationMinima()
        for g in self.agreements.values():
            widest = widest.widest(g.minima)
        return widest

    def name(self, party_id: str) -> str:
        info = self.parties.get(party_id)
        return info.name if info else party_id

    # -- keeping up with the store -------------------------------------------------------------------------
    def rebuild(self, conn: sa.Connection) -> int:
        """Load everything live from the store (start-up). Returns the number of declarations filed."""
        with self.lock:
            self.engine = StrategicEngine(capacity=1024)
            self.versions.clear()
            self.induced.clear()
            self.hazardous.clear()
            self.flights.clear()
            self.applied.clear()
            self._gaps.clear()
            top = sa.select(sa.func.coalesce(sa.func.max(t.changes.c.seq), 0))
            self.watermark = int(conn.execute(top).scalar_one())
            self._reload_parties(conn)
            self._reload_agreements(conn)
            self._reload_webhooks(conn)
            rows = conn.execute(
                sa.select(t.declarations.c.id, t.declarations.c.owner_id, t.declarations.c.kind,
                          t.declarations.c.activation, sa.cast(t.declarations.c.volumes, sa.Text).label("volumes"),
                          t.declarations.c.version)
                .where(t.declarations.c.state.in_(LIVE_STATES))
            ).all()
            if rows:
                ids, owners, kinds, counts, volumes = [], [], [], [], []
                for r in rows:
                    vols = volumes_from_text(r.volumes)
                    ids.append(r.id)
                    owners.append(r.owner_id)
                    kinds.append(engine_kind(DeclarationKind(r.kind), Activation(r.activation)))
                    counts.append(len(vols))
                    volumes.extend(vols)
                    self.versions[r.id] = r.version
                    if r.kind == "hazard" and r.activation == "induced":
                        self.induced.add(r.id)
                    if r.kind in ("hazard", "protected"):
                        self.hazardous.add(r.id)
                    if r.kind == "flight":
                        self.flights[r.id] = r.owner_id
                batch = FootprintBatch.of(volumes)
                self.engine.load(ids, owners, kinds, batch, np.array(counts, dtype=np.int64))
            return len(rows)

    def catch_up(self, conn: sa.Connection) -> None:
        """Apply every change committed since the last catch-up (call with `lock` held)."""
        rows = conn.execute(
            sa.select(t.changes.c.seq, t.changes.c.entity, t.changes.c.entity_id, t.changes.c.version)
            .where(t.changes.c.seq > self.watermark).order_by(t.changes.c.seq)
        ).all()
        todo = [r for r in rows if r.seq not in self.applied]
        if any(r.entity == "party" for r in todo):
            self._reload_parties(conn)
        if any(r.entity == "agreement" for r in todo):
            self._reload_agreements(conn)
        if any(r.entity == "webhook" for r in todo):
            self._reload_webhooks(conn)
        decl_ids = {r.entity_id for r in todo if r.entity == "declaration"}
        if decl_ids:
            current = conn.execute(
                sa.select(t.declarations.c.id, t.declarations.c.owner_id, t.declarations.c.kind,
                          t.declarations.c.activation, t.declarations.c.state, t.declarations.c.volumes,
                          t.declarations.c.version)
                .where(t.declarations.c.id.in_(decl_ids))
            ).all()
            for r in current:
                self.apply_declaration(r.id, r.version, r.state, r.owner_id, r.kind, r.activation, r.volumes)
        self._advance([r.seq for r in todo], [r.seq for r in rows])

    def refresh(self, conn: sa.Connection) -> None:
        """Catch up before a read, so names, partners and terms are current (other processes write too)."""
        with self.lock:
            self.catch_up(conn)

    def _advance(self, new: Iterable[int], seen: Iterable[int]) -> None:
        self.applied.update(new)
        seen_set = set(seen) | self.applied
        now = time.monotonic()
        top = max(seen_set, default=self.watermark)
        while self.watermark < top:
            nxt = self.watermark + 1
            if nxt in self.applied:
                self.applied.discard(nxt)
                self.watermark = nxt
                continue
            first = self._gaps.setdefault(nxt, now)
            if now - first < GAP_PATIENCE_S:
                break
            self._gaps.pop(nxt, None)
            self.watermark = nxt

    def mark_applied(self, seq: int) -> None:
        self._advance([seq], [seq])

    def apply_declaration(
        self, decl_id: str, version: int, state: str, owner_id: str, kind: str, activation: str,
        volumes: list[dict[str, Any]] | None, batch: FootprintBatch | None = None,
    ) -> None:
        """File, replace or drop a declaration in the engine, unless the engine already has this version."""
        if self.versions.get(decl_id, 0) >= version:
            return
        self.versions[decl_id] = version
        if kind == "hazard" and activation == "induced" and state in LIVE_STATES:
            self.induced.add(decl_id)
        else:
            self.induced.discard(decl_id)
        if kind in ("hazard", "protected") and state in LIVE_STATES:
            self.hazardous.add(decl_id)
        else:
            self.hazardous.discard(decl_id)
        if kind == "flight" and state in LIVE_STATES:
            self.flights[decl_id] = owner_id
        else:
            self.flights.pop(decl_id, None)
        if state not in LIVE_STATES:
            if decl_id in self.engine:
                self.engine.cancel(decl_id)
            return
        if batch is None:
            assert volumes is not None
            batch = FootprintBatch.of(volumes_from_json(volumes))
        self.engine.upsert_footprints(decl_id, owner_id, engine_kind(DeclarationKind(kind), Activation(activation)),
                                      batch)

    def expire(self, now: datetime) -> list[str]:
        with self.lock:
            return self.engine.expire(now)

    def _reload_webhooks(self, conn: sa.Connection) -> None:
        self.hooked = set(conn.execute(sa.select(t.webhooks.c.party_id)).scalars())

    def _reload_parties(self, conn: sa.Connection) -> None:
        rows = conn.execute(sa.select(t.parties.c.id, t.parties.c.name, t.parties.c.role)).all()
        self.parties = {r.id: PartyInfo(r.id, r.name, r.role) for r in rows}

    def _reload_agreements(self, conn: sa.Connection) -> None:
        members: dict[str, set[str]] = {}
        for r in conn.execute(sa.select(t.agreement_parties)).all():
            members.setdefault(r.agreement_id, set()).add(r.party_id)
        agreements = {}
        for r in conn.execute(sa.select(t.agreements)).all():
            agreements[r.id] = Agreement(
                id=r.id, name=r.name, parties=frozenset(members.get(r.id, set())),
                minima=SeparationMinima(r.lateral_m, r.vertical_m, r.time_s),
                disclosure=Disclosure(r.disclosure), policy=ConflictPolicy(r.policy),
                ack_deadline_s=r.ack_deadline_s,
                min_notice_s={DeclarationKind(k): float(v) for k, v in r.min_notice.items()},
                escalation_contacts=tuple(r.escalation_contacts),
            )
        self.agreements = agreements
        self._terms.clear()
        pairs = {(a, b) for g in agreements.values() for a in g.parties for b in g.parties if a < b}
        for a, b in pairs:
            self.engine.set_minima(a, b, self.terms(a, b).minima)
