"""F3548 DSS semantics over Deconflict: operational intent references (OIRs) and subscriptions.

Each OIR is also a `flight` declaration of the party standing for its USS, filed through the one write path
(`service.writes`), so its conflicts with activities, hazards and protected sites reach that party like any
other; a `block` agreement that refuses the declaration refuses the OIR (409).

Intersection is the strategic engine's, exact: the key rule asks the service's engine cache (which already holds
every OIR, as its declaration, and is kept in step with the store across processes) which declarations share a
point with the new extents, and keeps those that are OIRs. One index, one catch-up mechanism, no second copy.

Serialisation: an OIR write holds, from its key check to its commit, advisory locks over the area and time its
extents (old and new) touch, in a key space of its own (`store.locks` cells, re-hashed), transaction-scoped on
the connection that then commits the OIR row. Any two OIR writes whose extents share a point share a cell lock,
so the second one's key check sees the first one committed: two writers on stale keys cannot both succeed. The
declaration is written in between by the write path, which takes its own locks (never ours: no lock cycle).
SQLite has one writer per file and, here, one process: a process-wide lock does the same there.

Down USSs (F3548 UssAvailabilityState): a USS marked Down may not create an intent Accepted or Activated, update
one to (or keep it in) those states, nor delete one: 412, the status the F3548 OpenAPI gives these operations for
it. Others need not present the OVNs of a Down USS's Accepted intents (it cannot serve their details), as the
reference DSS (interuss/dss, `OperationalIntent.RequiresKey`); its Activated, Nonconforming and Contingent ones
still need their keys.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import numpy as np
import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from uas_standards.astm.f3548.v21 import api
from uas_standards.astm.f3548.v21.constants import Scope

from ..core.footprint import FootprintBatch
from ..core.limits import VolumeLimits
from ..core.model import DeclarationKind, Volume4D
from ..core.strategic import EngineKind, StrategicEngine
from ..core.validation import validate_volume
from ..errors import Conflict, DeconflictError, Forbidden, InvalidInput, NotFound
from ..service.bodies import DeclarationIn
from ..service.codec import iso, volumes_from_json, volumes_json
from ..service.engine_cache import LIVE_STATES, PartyInfo
from ..service.state import ServiceState
from ..store import schema as t
from ..store.database import is_postgres, writing
from ..store.locks import area_lock_keys, lock_areas
from .auth import Caller, F3548Config, has_scope
from .parse import BadRequest

__all__ = ["AirspaceConflict", "CONSTRAINT", "F3548Context", "NO_OVN", "NULL_SUBSCRIPTION", "UssDown"]

NO_OVN = "Available from USS"
CONSTRAINT = "Constraint"  #: `f3548_oirs.state` of a constraint reference (the table holds both kinds of reference)
NULL_SUBSCRIPTION = "00000000-0000-4000-8000-000000000000"
KEY_STATES = ("Accepted", "Activated")  #: states whose create/update must present the key
CMSA_STATES = ("Nonconforming", "Contingent")  #: states that need utm.conformance_monitoring_sa
TRANSITIONS = {  #: allowed next states by an update (Ended is DELETE)
    "Accepted": {"Accepted", "Activated", "Nonconforming", "Contingent"},
    "Activated": {"Activated", "Nonconforming", "Contingent"},
    "Nonconforming": {"Nonconforming", "Activated", "Contingent"},
    "Contingent": {"Contingent"},
}
SUBSCRIPTION_MAX = timedelta(hours=24)  #: DSSMaxSubscriptionDurationHours
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_UUID7 = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-7[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$")
_VOLUMES = TypeAdapter(list[Volume4D])


class UssDown(DeconflictError):
    """412: a USS marked Down (F3548 UssAvailabilityState) may not create or keep an operational intent Accepted or
    Activated, nor delete one (the status the F3548 OpenAPI gives these operations for it)."""

    status_code = 412


def _down(conn: sa.Connection, usss: set[str]) -> set[str]:
    """Those of `usss` whose availability is Down."""
    if not usss:
        return set()
    a = t.f3548_uss_availability.c
    return set(conn.execute(sa.select(a.uss).where(a.uss.in_(sorted(usss)), a.availability == "Down")).scalars())


class AirspaceConflict(Conflict):
    """409 with the F3548 AirspaceConflictResponse body."""

    def __init__(self, message: str, missing: list[dict[str, Any]] | None = None,
                 conflicts: list[dict[str, Any]] | None = None,
                 missing_constraints: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, field="key")
        self.body: dict[str, Any] = {"message": message, "missing_operational_intents": missing or [],
                                     "missing_constraints": missing_constraints or []}
        if conflicts:
            self.body["conflicts"] = conflicts


@dataclass
class F3548Context:
    """What the DSS surface keeps per service: its configuration, the USS parties, the SQLite lock."""

    state: ServiceState
    config: F3548Config
    usss: dict[str, PartyInfo] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def limits(self) -> VolumeLimits:
        c = self.config
        return VolumeLimits(max_area_km2=c.max_area_km2, max_duration=timedelta(seconds=c.max_duration_s),
                            horizon=timedelta(days=c.horizon_days))

    # -- inputs ------------------------------------------------------------------------------------------
    def check_id(self, value: str, what: str = "entityid") -> str:
        if not _UUID.match(value):
            raise BadRequest(f"{what}: {value!r} is not a UUID", field=what)
        return value.lower()

    def check_base_url(self, url: str, where: str) -> None:
        if url.endswith("/"):
            raise BadRequest(f"{where}: a base URL may not end with '/'", field=where)
        if url.startswith("https://") and len(url) > 8:
            return
        if self.config.allow_http and url.startswith("http://") and len(url) > 7:
            return
        raise BadRequest(f"{where}: must be an https:// URL" + ("" if self.config.allow_http else
                         " (http is allowed in test mode only)"), field=where)

    def volumes(self, extents: list[Any], where: str, now: datetime, *, subscription: bool = False,
                query: bool = False) -> list[Volume4D]:
        """F3548 Volume4Ds as core volumes, every rule checked (limits: area, duration, horizon) -> 400.

        `query` (an area of interest; implies `subscription`'s open times and altitudes): the limits on
        entities' times do not apply, as at the reference DSS: a window may be long, in the past, or an instant
        (`time_end` at or before `time_start` reads as the instant `time_start`)."""
        subscription = subscription or query
        if not extents:
            raise BadRequest(f"{where}: at least one volume is needed", field=where)
        raw = [dict(e) for e in extents]
        for i, e in enumerate(raw):
            vol = dict(e.get("volume") or {})
            if query and e.get("time_start") is None and e.get("time_end") is not None:
                # open towards the past: what is still live and starts before the end (live ones end after now)
                end = _parse_time(e["time_end"])
                if end is not None:
                    e["time_start"] = {"value": iso(min(now, end) - timedelta(days=1)), "format": "RFC3339"}
            if subscription:  # a subscription's extents may leave times and altitudes open
                e.setdefault("time_start", {"value": iso(now), "format": "RFC3339"})
                if e.get("time_end") is None:
                    e["time_end"] = {"value": iso(now + SUBSCRIPTION_MAX), "format": "RFC3339"}
                vol.setdefault("altitude_lower", {"value": self.limits.min_altitude_m, "reference": "W84",
                                                  "units": "M"})
                vol.setdefault("altitude_upper", {"value": self.limits.max_altitude_m, "reference": "W84",
                                                  "units": "M"})
            for key in ("time_start", "time_end"):
                if e.get(key) is None:
                    raise BadRequest(f"{where}[{i}].{key}: required here", field=f"{where}[{i}].{key}")
            if query:
                e["time_end"] = _instant_query_end(e["time_start"], e["time_end"])
            for key in ("altitude_lower", "altitude_upper"):
                if vol.get(key) is None:
                    raise BadRequest(f"{where}[{i}].volume.{key}: required here",
                                     field=f"{where}[{i}].volume.{key}")
            e["volume"] = {k: v for k, v in vol.items() if v is not None}
            raw[i] = {k: v for k, v in e.items() if v is not None}
        try:
            volumes = _VOLUMES.validate_json(json.dumps(raw, default=str))
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            loc = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
            raise BadRequest(f"{loc}: {first['msg']}", field=loc) from None
        limits = self.limits
        if subscription:
            limits = VolumeLimits(max_area_km2=limits.max_area_km2, max_duration=SUBSCRIPTION_MAX,
                                  horizon=limits.horizon)
        if query:
            limits = VolumeLimits(max_area_km2=limits.max_area_km2, max_duration=timedelta(days=1_000_000),
                                  horizon=limits.horizon)
        for i, v in enumerate(volumes):
            try:
                validate_volume(v, limits, None if query else now, field=f"{where}[{i}]")
            except InvalidInput as exc:
                raise BadRequest(str(exc), field=exc.field) from None
        return volumes

    # -- the party standing for a USS ---------------------------------------------------------------------
    def uss_party(self, sub: str) -> PartyInfo:
        found = self.usss.get(sub)
        if found is not None:
            return found
        state = self.state
        with state.db.connect() as conn:
            row = conn.execute(sa.select(t.f3548_usss.c.party_id, t.parties.c.name, t.parties.c.role)
                               .join(t.parties, t.parties.c.id == t.f3548_usss.c.party_id)
                               .where(t.f3548_usss.c.sub == sub)).first()
        if row is None:
            from ..service.routes.parties import create_party

            name = uss_party_name(sub)
            try:
                created, _ = create_party(state, name, f"USS {sub}"[:200])
                with writing(state.db) as conn:
                    conn.execute(sa.insert(t.f3548_usss).values(sub=sub, party_id=created["id"],
                                                                created_at=state.clock()))
            except (Conflict, sa.exc.IntegrityError):  # a concurrent first request of the same USS won
                pass
            with state.db.connect() as conn:
                row = conn.execute(sa.select(t.f3548_usss.c.party_id, t.parties.c.name, t.parties.c.role)
                                   .join(t.parties, t.parties.c.id == t.f3548_usss.c.party_id)
                                   .where(t.f3548_usss.c.sub == sub)).first()
            if row is None:
                raise Conflict(f"the party name {name!r} for this USS is taken by another party", field="sub")
        info = PartyInfo(row.party_id, row.name, row.role)
        self.usss[sub] = info
        return info

    # -- locking ------------------------------------------------------------------------------------------
    @contextmanager
    def area_locked(self, batches: list[FootprintBatch]) -> Iterator[sa.Connection | None]:
        """Hold the F3548 area locks (see the module docstring). PostgreSQL: yields the open transaction that
        holds them (write the OIR in it; its commit releases them). SQLite: yields None under the process lock."""
        db = self.state.db
        if not is_postgres(db):
            with self.lock:
                yield None
            return
        keys: dict[int, bool] = {}
        for b in batches:
            for k, x in area_lock_keys(b.bbox, b.t0, b.t1, 0.0, 0.0).items():
                k2 = _rekey(k)
                keys[k2] = keys.get(k2, False) or x
        with db.connect() as conn, conn.begin():
            lock_areas(conn, keys)
            yield conn

    @contextmanager
    def write_tx(self, held: sa.Connection | None) -> Iterator[sa.Connection]:
        if held is not None:
            yield held
        else:
            with writing(self.state.db) as conn:
                yield conn


def _parse_time(value: Any) -> datetime | None:
    try:
        t = datetime.fromisoformat(str(value["value"]).replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError):
        return None
    return t if t.tzinfo is not None else None


def _instant_query_end(start: Any, end: Any) -> Any:
    """A query window's end: `end`, or just after `start` when `end` is not after it (unparsable: left as is)."""
    t0, t1 = _parse_time(start), _parse_time(end)
    if t0 is None or t1 is None or t1 > t0:
        return end
    return {**end, "value": iso(t0 + timedelta(milliseconds=1))}


def _rekey(k: int) -> int:
    digest = hashlib.blake2b(b"f3548:" + k.to_bytes(8, "big", signed=True), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def uss_party_name(sub: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", sub.lower()).strip("-_")[:40] or "uss"
    return f"uss-{slug}-{hashlib.sha256(sub.encode()).hexdigest()[:8]}"


def _t(value: datetime) -> dict[str, str]:
    return {"value": iso(value), "format": "RFC3339"}


def _window(volumes: list[Volume4D]) -> tuple[datetime, datetime, float, float]:
    return (min(v.time_start.value for v in volumes), max(v.time_end.value for v in volumes),
            min(v.volume.altitude_lower.metres for v in volumes), max(v.volume.altitude_upper.metres for v in volumes))


def oir_json(row: Any, caller: Caller) -> dict[str, Any]:
    return {
        "id": row.id, "manager": row.manager, "uss_availability": "Unknown", "version": row.version,
        "state": row.state, "ovn": row.ovn if row.manager == caller.sub else NO_OVN,
        "time_start": _t(row.time_start), "time_end": _t(row.time_end), "uss_base_url": row.uss_base_url,
        "subscription_id": row.subscription_id or NULL_SUBSCRIPTION,
    }


def constraint_json(row: Any, caller: Caller) -> dict[str, Any]:
    return {
        "id": row.id, "manager": row.manager, "uss_availability": "Unknown", "version": row.version,
        "ovn": row.ovn if row.manager == caller.sub else NO_OVN, "time_start": _t(row.time_start),
        "time_end": _t(row.time_end), "uss_base_url": row.uss_base_url,
    }


def subscription_json(row: Any, dependents: list[str]) -> dict[str, Any]:
    return {
        "id": row.id, "version": str(row.version), "notification_index": row.notification_index,
        "time_start": _t(row.time_start), "time_end": _t(row.time_end), "uss_base_url": row.uss_base_url,
        "notify_for_operational_intents": row.notify_for_operational_intents,
        "notify_for_constraints": row.notify_for_constraints, "implicit_subscription": row.implicit,
        "dependent_operational_intents": dependents,
    }


# -- reads -------------------------------------------------------------------------------------------------
def intersecting_oirs(ctx: F3548Context, conn: sa.Connection, batch: FootprintBatch, now: datetime, *,
                      constraints: bool = False) -> list[Any]:
    """OIR rows (constraint reference rows with `constraints`) whose declarations share a point with `batch`
    (the engine's exact test), still running."""
    cache = ctx.state.cache
    with cache.lock:
        cache.catch_up(conn)
        hits = cache.engine.intersecting(batch)
    if not hits:
        return []
    rows: list[Any] = []
    for chunk in range(0, len(hits), 500):
        rows.extend(conn.execute(sa.select(t.f3548_oirs).where(
            t.f3548_oirs.c.declaration_id.in_(hits[chunk:chunk + 500]), t.f3548_oirs.c.time_end >= now,
            (t.f3548_oirs.c.state == CONSTRAINT) if constraints else (t.f3548_oirs.c.state != CONSTRAINT))).all())
    return sorted(rows, key=lambda r: r.id)


def query_oirs(ctx: F3548Context, caller: Caller, aoi: api.Volume4D | None, now: datetime) -> dict[str, Any]:
    if aoi is None:
        raise BadRequest("area_of_interest: required", field="area_of_interest")
    volumes = ctx.volumes([aoi], "area_of_interest", now, query=True)
    with ctx.state.db.connect() as conn:
        rows = intersecting_oirs(ctx, conn, FootprintBatch.of(volumes), now)
    return {"operational_intent_references": [oir_json(r, caller) for r in rows]}


def get_oir(ctx: F3548Context, caller: Caller, entity_id: str) -> dict[str, Any]:
    entity_id = ctx.check_id(entity_id)
    with ctx.state.db.connect() as conn:
        row = conn.execute(sa.select(t.f3548_oirs).where(t.f3548_oirs.c.id == entity_id,
                                                         t.f3548_oirs.c.state != CONSTRAINT)).first()
    if row is None:
        raise NotFound(f"no operational intent reference {entity_id}", field="entityid")
    return {"operational_intent_reference": oir_json(row, caller)}


# -- subscriptions -----------------------------------------------------------------------------------------
def _bbox(batch: FootprintBatch) -> tuple[float, float, float, float]:
    b = batch.bbox
    return float(b[:, 0].min()), float(b[:, 1].max()), float(b[:, 2].min()), float(b[:, 3].max())


def _subscription_values(volumes: list[Volume4D], batch: FootprintBatch) -> dict[str, Any]:
    start, end, lo, hi = _window(volumes)
    lat0, lat1, lng0, lng1 = _bbox(batch)
    return {"extents": volumes_json(volumes), "lat_min": lat0, "lat_max": lat1, "lng_min": lng0, "lng_max": lng1,
            "altitude_lower": lo, "altitude_upper": hi, "time_start": start, "time_end": end}


def _candidates(conn: sa.Connection, batch: FootprintBatch, volumes: list[Volume4D], now: datetime,
                **flags: bool) -> list[Any]:
    """Subscriptions whose extents share a point with `volumes`: a box/time/altitude filter in SQL, then the
    engine's exact test over the few candidates."""
    start, end, lo, hi = _window(volumes)
    lat0, lat1, lng0, lng1 = _bbox(batch)
    s = t.f3548_subscriptions.c
    cond = [s.time_end >= max(start, now), s.time_start <= end, s.altitude_lower <= hi, s.altitude_upper >= lo,
            s.lat_min <= lat1, s.lat_max >= lat0]
    if lng1 - lng0 < 360 and lng0 >= -180 and lng1 <= 180:
        # a stored box may run past 180 (across the antimeridian): then it also holds [-180, lng_max - 360]
        cond.append(sa.or_(sa.and_(s.lng_min <= lng1, s.lng_max >= lng0), s.lng_max - 360.0 >= lng0))
    for name, value in flags.items():
        cond.append(getattr(s, name) == value)
    rows = conn.execute(sa.select(t.f3548_subscriptions).where(*cond).order_by(s.id)).all()
    if not rows:
        return []
    engine = StrategicEngine(capacity=max(16, len(rows)))
    stored = [volumes_from_json(r.extents) for r in rows]
    counts = np.array([len(v) for v in stored], dtype=np.int64)
    engine.load([r.id for r in rows], ["s"] * len(rows), [EngineKind.FLIGHT] * len(rows),
                FootprintBatch.of([v for vs in stored for v in vs]), counts)
    hit = set(engine.intersecting(batch))
    return [r for r in rows if r.id in hit]


def _notify(conn: sa.Connection, batch: FootprintBatch, volumes: list[Volume4D], now: datetime,
            flag: str = "notify_for_operational_intents") -> list[dict[str, Any]]:
    """Increment the notification index of every subscription for OIRs (or, with `flag`
    "notify_for_constraints", for constraints) over `volumes`; the subscribers."""
    rows = _candidates(conn, batch, volumes, now, **{flag: True})
    if not rows:
        return []
    ids = [r.id for r in rows]
    s = t.f3548_subscriptions.c
    fresh = sorted(conn.execute(sa.update(t.f3548_subscriptions).where(s.id.in_(ids))
                                .values(notification_index=s.notification_index + 1)
                                .returning(s.id, s.uss_base_url, s.notification_index)).all(), key=lambda r: r.id)
    by_url: dict[str, list[dict[str, Any]]] = {}
    for r in fresh:
        by_url.setdefault(r.uss_base_url, []).append({"subscription_id": r.id,
                                                      "notification_index": r.notification_index})
    return [{"subscriptions": subs, "uss_base_url": url} for url, subs in sorted(by_url.items())]


def _dependents(conn: sa.Connection, sub_id: str) -> list[str]:
    return list(conn.execute(sa.select(t.f3548_oirs.c.id).where(t.f3548_oirs.c.subscription_id == sub_id)
                             .order_by(t.f3548_oirs.c.id)).scalars())


def _covers(sub: Any, volumes: list[Volume4D], batch: FootprintBatch) -> bool:
    start, end, lo, hi = _window(volumes)
    lat0, lat1, lng0, lng1 = _bbox(batch)
    return bool(sub.time_start <= start and sub.time_end >= end and sub.altitude_lower <= lo
                and sub.altitude_upper >= hi and sub.lat_min <= lat0 and sub.lat_max >= lat1
                and _lng_covers(sub.lng_min, sub.lng_max, lng0, lng1))


def _lng_covers(lo: float, hi: float, lng0: float, lng1: float) -> bool:
    """Whether longitudes [lo, hi] hold [lng0, lng1], modulo 360 (either may run past 180: the antimeridian;
    a range of 360 degrees, every longitude, is a box around a pole)."""
    if hi - lo >= 360.0:
        return True
    return lng1 - lng0 < 360.0 and (lng0 - lo) % 360.0 + (lng1 - lng0) <= hi - lo


def _uncovered(conn: sa.Connection, sub_id: str, values: dict[str, Any], now: datetime) -> str | None:
    """The first live OIR depending on the subscription that its new bounds `values` would no longer cover
    (an OIR's subscription must cover it, as on the OIR's own create and update). What has already passed
    needs no notifying: a subscription that starts by now covers an OIR that started earlier."""
    o = t.f3548_oirs.c
    sub = SimpleNamespace(**values)
    if sub.time_start <= now:
        sub.time_start = datetime.min.replace(tzinfo=now.tzinfo)
    for oir_id, extents in conn.execute(sa.select(o.id, o.extents).where(o.subscription_id == sub_id,
                                                                         o.time_end >= now).order_by(o.id)):
        volumes = volumes_from_json(extents)
        if not _covers(sub, volumes, FootprintBatch.of(volumes)):
            return str(oir_id)
    return None


# -- operational intent references: create, update, delete --------------------------------------------------
def _new_ovn(entity_id: str, suffix: str | None, now: datetime) -> str:
    if suffix is None:
        return secrets.token_urlsafe(24)
    if not _UUID7.match(suffix):
        raise BadRequest("requested_ovn_suffix: must be a UUIDv7", field="requested_ovn_suffix")
    millis = int(suffix.replace("-", "")[:12], 16)
    if abs(millis / 1000.0 - now.timestamp()) > 60:
        raise BadRequest("requested_ovn_suffix: its time is more than 60 s from now", field="requested_ovn_suffix")
    return f"{entity_id}_{suffix.lower()}"


def upsert_oir(ctx: F3548Context, caller: Caller, entity_id: str, ovn: str | None,
               params: api.PutOperationalIntentReferenceParameters) -> tuple[int, dict[str, Any]]:
    """Create (ovn None) or update an OIR; (status, ChangeOperationalIntentReferenceResponse)."""
    state = ctx.state
    now = state.clock()
    entity_id = ctx.check_id(entity_id)
    new_state = params.state.value if hasattr(params.state, "value") else str(params.state)
    ctx.check_base_url(params.uss_base_url, "uss_base_url")
    implicit = params.new_subscription
    if implicit is not None:
        ctx.check_base_url(implicit.uss_base_url, "new_subscription.uss_base_url")
        if implicit.notify_for_constraints and not has_scope(caller, Scope.ConstraintProcessing):
            raise Forbidden(f"new_subscription.notify_for_constraints needs {Scope.ConstraintProcessing.value}",
                            field="new_subscription.notify_for_constraints")
    sub_id = ctx.check_id(params.subscription_id, "subscription_id") if params.subscription_id else None
    if sub_id == NULL_SUBSCRIPTION:
        sub_id = None
    if sub_id is not None and implicit is not None:
        raise BadRequest("give subscription_id or new_subscription, not both", field="new_subscription")
    if ovn is None and new_state != "Accepted":
        raise BadRequest(f"state: a new operational intent must be Accepted, not {new_state}", field="state")
    if new_state in CMSA_STATES and not has_scope(caller, Scope.ConformanceMonitoringForSituationalAwareness):
        raise Forbidden(f"state {new_state} needs the scope {Scope.ConformanceMonitoringForSituationalAwareness.value}",
                        field="state")
    if new_state != "Accepted" and sub_id is None and implicit is None:
        raise BadRequest(f"state {new_state} needs subscription_id or new_subscription", field="subscription_id")
    volumes = ctx.volumes(list(params.extents), "extents", now)
    batch = FootprintBatch.of(volumes)
    key = set(params.key or [])
    new_ovn = _new_ovn(entity_id, params.requested_ovn_suffix, now)
    party = ctx.uss_party(caller.sub)

    before = None  # a create writes nothing unless the id is free (checked under the locks): no need to read first
    if ovn is not None:  # an update also locks where the intent was, so it is read before the locks
        with state.db.connect() as conn:
            before = conn.execute(sa.select(t.f3548_oirs).where(t.f3548_oirs.c.id == entity_id)).first()
    batches = [batch] + ([FootprintBatch.of(volumes_from_json(before.extents))] if before is not None else [])
    with ctx.area_locked(batches) as held:
        with ctx.write_tx(held) if held is not None else state.db.connect() as conn:
            old, attached = _check_upsert(ctx, conn, caller, entity_id, ovn, before, new_state, sub_id, volumes,
                                          batch, key, now, bool(implicit and implicit.notify_for_constraints))
        decl_id = _file_declaration(ctx, party, entity_id, old, volumes, caller)
        try:
            with ctx.write_tx(held) as conn:
                response = _commit_oir(ctx, conn, caller, party, entity_id, old, new_state, new_ovn, volumes, batch,
                                       params, implicit, attached, decl_id, now)
        except BaseException:
            if old is None:
                cancel_quietly(ctx, party, decl_id)
            raise
    return (201 if old is None else 200), response


def _check_upsert(ctx: F3548Context, conn: sa.Connection, caller: Caller, entity_id: str, ovn: str | None,
                  before: Any, new_state: str, sub_id: str | None, volumes: list[Volume4D], batch: FootprintBatch,
                  key: set[str], now: datetime, implicit_for_constraints: bool = False) -> tuple[Any, Any]:
    """Under the area locks: the current OIR, the subscription to attach, and the key rule. Writes nothing.

    The key holds the OVN of every other intersecting intent; and of every intersecting constraint when the
    USS performs constraint processing for this intent, i.e. when its subscription (the new implicit one, or
    the one attached) notifies for constraints (F3548 PutOperationalIntentReferenceParameters.key)."""
    old = conn.execute(sa.select(t.f3548_oirs).where(t.f3548_oirs.c.id == entity_id)).first()
    if old is not None and old.state == CONSTRAINT:
        raise Conflict(f"{entity_id} is the id of a constraint reference", field="entityid")
    if ovn is not None and ((old is None) != (before is None) or (old is not None and old.extents != before.extents)):
        raise AirspaceConflict("the operational intent changed meanwhile; retry")
    if old is not None:
        if old.manager != caller.sub:
            raise Forbidden("the operational intent is managed by another USS", field="entityid")
        if ovn is None:
            raise AirspaceConflict(f"operational intent {entity_id} exists; update it with its OVN")
        if old.ovn != ovn:
            raise AirspaceConflict(f"OVN {ovn} is not current")
        if new_state not in TRANSITIONS[old.state]:
            raise BadRequest(f"state: {old.state} cannot become {new_state}", field="state")
    elif ovn is not None:
        raise BadRequest(f"no operational intent reference {entity_id} (so not at OVN {ovn})", field="entityid")
    attached = None
    if sub_id is not None:
        attached = conn.execute(sa.select(t.f3548_subscriptions).where(t.f3548_subscriptions.c.id == sub_id)).first()
        if attached is None:
            raise BadRequest(f"subscription_id: no subscription {sub_id}", field="subscription_id")
        if attached.manager != caller.sub:
            raise Forbidden("the subscription is managed by another USS", field="subscription_id")
        if not attached.implicit and not _covers(attached, volumes, batch):
            raise BadRequest("subscription_id: the subscription does not cover the extents", field="subscription_id")
    if new_state in KEY_STATES and _down(conn, {caller.sub}):
        raise UssDown(f"uss {caller.sub} is marked Down in the DSS: it may not make or keep an operational intent "
                      f"{new_state}", field="state")
    if new_state in KEY_STATES:
        # the key need not hold Accepted intents of Down USSs (they may be planned over, as the reference DSS does)
        others = [r for r in intersecting_oirs(ctx, conn, batch, now) if r.id != entity_id and r.ovn not in key]
        down = _down(conn, {r.manager for r in others if r.state == "Accepted"})
        missing = [r for r in others if not (r.state == "Accepted" and r.manager in down)]
        missing_c: list[Any] = []
        if implicit_for_constraints or (attached is not None and attached.notify_for_constraints):
            missing_c = [r for r in intersecting_oirs(ctx, conn, batch, now, constraints=True) if r.ovn not in key]
        if missing or missing_c:
            raise AirspaceConflict("Current OVNs not provided for one or more operational intents or constraints",
                                   [oir_json(r, caller) for r in missing],
                                   missing_constraints=[constraint_json(r, caller) for r in missing_c])
    return old, attached


def _file_declaration(ctx: F3548Context, party: PartyInfo, entity_id: str, old: Any, volumes: list[Volume4D],
                      caller: Caller) -> str:
    """The OIR's `flight` declaration through the normal write path; BlockedWrite -> 409."""
    body = DeclarationIn(kind=DeclarationKind.FLIGHT, volumes=volumes, title=f"F3548 operational intent {entity_id}",
                         extra={"f3548_oir": entity_id, "f3548_uss": caller.sub[:200]})
    return file_declaration(ctx, party, old, body)


def file_declaration(ctx: F3548Context, party: PartyInfo, old: Any, body: DeclarationIn) -> str:
    """File `body` as a new version of `old`'s declaration while that one is live, else as a new declaration,
    through the normal write path; a `block` refusal becomes AirspaceConflict (409). Returns its id."""
    from ..service import writes

    try:
        if old is not None:
            with ctx.state.db.connect() as conn:
                current = conn.execute(sa.select(t.declarations.c.version, t.declarations.c.state)
                                       .where(t.declarations.c.id == old.declaration_id)).first()
            if current is not None and current.state in LIVE_STATES:
                writes.update_declaration(ctx.state, party, old.declaration_id, body, current.version)
                return str(old.declaration_id)
        result = writes.create_declaration(ctx.state, party, body)
        return str(result.body["declaration"]["id"])
    except writes.BlockedWrite as exc:
        raise AirspaceConflict(f"refused by Deconflict: {exc.message}", conflicts=exc.conflicts) from None


def cancel_quietly(ctx: F3548Context, party: PartyInfo, decl_id: str, reason: str = "F3548 write failed") -> None:
    """Cancel a declaration an F3548 write filed (undoing it, or after a delete); a failure leaves it be."""
    from ..service import writes

    with suppress(DeconflictError):
        writes.cancel_declaration(ctx.state, party, decl_id, None, reason=reason)


def _commit_oir(ctx: F3548Context, conn: sa.Connection, caller: Caller, party: PartyInfo, entity_id: str, old: Any,
                new_state: str, new_ovn: str, volumes: list[Volume4D], batch: FootprintBatch,
                params: api.PutOperationalIntentReferenceParameters, implicit: Any, attached: Any, decl_id: str,
                now: datetime) -> dict[str, Any]:
    s = t.f3548_subscriptions.c
    sub_id = attached.id if attached is not None else None
    values = _subscription_values(volumes, batch)
    if implicit is not None:
        sub_id = str(uuid.uuid4())
        conn.execute(sa.insert(t.f3548_subscriptions).values(
            id=sub_id, manager=caller.sub, version=1, notification_index=0, uss_base_url=implicit.uss_base_url,
            notify_for_operational_intents=True, notify_for_constraints=bool(implicit.notify_for_constraints),
            implicit=True, created_at=now, updated_at=now, **values))
    elif attached is not None and attached.implicit and not _covers(attached, volumes, batch):
        stored = volumes_from_json(attached.extents) + volumes
        merged = _subscription_values(stored, FootprintBatch.of(stored))
        conn.execute(sa.update(t.f3548_subscriptions).where(s.id == attached.id)
                     .values(version=attached.version + 1, updated_at=now, **merged))
    start, end, lo, hi = _window(volumes)
    row = {"manager": caller.sub, "party_id": party.id, "declaration_id": decl_id, "ovn": new_ovn,
           "state": new_state, "uss_base_url": params.uss_base_url, "subscription_id": sub_id,
           "extents": volumes_json(volumes), "time_start": start, "time_end": end, "altitude_lower": lo,
           "altitude_upper": hi, "updated_at": now}
    stored = t.f3548_oirs.c
    if old is None:  # RETURNING: the row as stored, without reading it back
        try:
            written = conn.execute(sa.insert(t.f3548_oirs).values(id=entity_id, version=1, created_at=now, **row)
                                   .returning(*stored)).one()
        except sa.exc.IntegrityError:  # the same id created meanwhile elsewhere (other area locks): 409, not 500
            raise AirspaceConflict(f"operational intent {entity_id} was created meanwhile; retry") from None
        notify_volumes = volumes
    else:
        written = conn.execute(sa.update(t.f3548_oirs).where(stored.id == entity_id, stored.ovn == old.ovn)
                               .values(version=old.version + 1, **row).returning(*stored)).first()
        if written is None:
            raise AirspaceConflict("the operational intent changed meanwhile; retry")
        if old.subscription_id and old.subscription_id != sub_id:
            _drop_implicit_if_orphan(conn, old.subscription_id)
        notify_volumes = volumes + volumes_from_json(old.extents)
    subscribers = _notify(conn, FootprintBatch.of(notify_volumes), notify_volumes, now)
    return {"subscribers": subscribers, "operational_intent_reference": oir_json(written, caller)}


def _drop_implicit_if_orphan(conn: sa.Connection, sub_id: str) -> None:
    s = t.f3548_subscriptions.c
    row = conn.execute(sa.select(s.implicit).where(s.id == sub_id)).first()
    if row is not None and row.implicit and not _dependents(conn, sub_id):
        conn.execute(sa.delete(t.f3548_subscriptions).where(s.id == sub_id))


def delete_oir(ctx: F3548Context, caller: Caller, entity_id: str, ovn: str) -> dict[str, Any]:
    state = ctx.state
    now = state.clock()
    entity_id = ctx.check_id(entity_id)
    with state.db.connect() as conn:
        before = conn.execute(sa.select(t.f3548_oirs).where(t.f3548_oirs.c.id == entity_id)).first()
    if before is None or before.state == CONSTRAINT:
        raise NotFound(f"no operational intent reference {entity_id}", field="entityid")
    volumes = volumes_from_json(before.extents)
    batch = FootprintBatch.of(volumes)
    party = ctx.uss_party(caller.sub)
    with ctx.area_locked([batch]) as held, ctx.write_tx(held) as conn:
        old = conn.execute(sa.select(t.f3548_oirs).where(t.f3548_oirs.c.id == entity_id)).first()
        if old is None or old.state == CONSTRAINT:
            raise NotFound(f"no operational intent reference {entity_id}", field="entityid")
        if old.manager != caller.sub:
            raise Forbidden("the operational intent is managed by another USS", field="entityid")
        if old.ovn != ovn:
            raise Conflict(f"OVN {ovn} is not current", field="ovn")
        if _down(conn, {caller.sub}):
            raise UssDown(f"uss {caller.sub} is marked Down in the DSS: it may not delete an operational intent",
                          field="entityid")
        subscribers = _notify(conn, batch, volumes, now)
        conn.execute(sa.delete(t.f3548_oirs).where(t.f3548_oirs.c.id == entity_id))
        if old.subscription_id:
            _drop_implicit_if_orphan(conn, old.subscription_id)
        response = {"subscribers": subscribers, "operational_intent_reference": oir_json(old, caller)}
    cancel_quietly(ctx, party, old.declaration_id)  # after the commit: a stray live declaration, never a lost one
    return response


# -- explicit subscriptions --------------------------------------------------------------------------------
def put_subscription(ctx: F3548Context, caller: Caller, sub_id: str, version: str | None,
                     params: api.PutSubscriptionParameters) -> dict[str, Any]:
    state = ctx.state
    now = state.clock()
    sub_id = ctx.check_id(sub_id, "subscriptionid")
    ctx.check_base_url(params.uss_base_url, "uss_base_url")
    for_ois, for_constraints = bool(params.notify_for_operational_intents), bool(params.notify_for_constraints)
    if not (for_ois or for_constraints):
        raise BadRequest("notify_for_operational_intents or notify_for_constraints must be true",
                         field="notify_for_operational_intents")
    if for_ois and not has_scope(caller, Scope.StrategicCoordination):
        raise Forbidden(f"notify_for_operational_intents needs {Scope.StrategicCoordination.value}",
                        field="notify_for_operational_intents")
    if for_constraints and not has_scope(caller, Scope.ConstraintProcessing):
        raise Forbidden(f"notify_for_constraints needs {Scope.ConstraintProcessing.value}",
                        field="notify_for_constraints")
    volumes = ctx.volumes([params.extents], "extents", now, subscription=True)
    batch = FootprintBatch.of(volumes)
    values = _subscription_values(volumes, batch)
    s = t.f3548_subscriptions.c
    with writing(state.db) as conn:
        old = conn.execute(sa.select(t.f3548_subscriptions).where(s.id == sub_id)).first()
        if old is None:
            if version is not None:
                raise NotFound(f"no subscription {sub_id}", field="subscriptionid")
            conn.execute(sa.insert(t.f3548_subscriptions).values(
                id=sub_id, manager=caller.sub, version=1, notification_index=0, uss_base_url=params.uss_base_url,
                notify_for_operational_intents=for_ois, notify_for_constraints=for_constraints, implicit=False,
                created_at=now, updated_at=now, **values))
        else:
            if old.manager != caller.sub:
                raise Forbidden("the subscription is managed by another USS", field="subscriptionid")
            if version is None:
                raise Conflict(f"subscription {sub_id} exists; update it with its version", field="version")
            if str(old.version) != version:
                raise Conflict(f"version {version} is not current", field="version")
            uncovered = _uncovered(conn, sub_id, values, now)
            if uncovered is not None:
                raise BadRequest(f"extents: the subscription would no longer cover operational intent {uncovered},"
                                 " which depends on it", field="extents")
            done = conn.execute(sa.update(t.f3548_subscriptions).where(s.id == sub_id, s.version == old.version)
                                .values(version=old.version + 1, uss_base_url=params.uss_base_url,
                                        notify_for_operational_intents=for_ois,
                                        notify_for_constraints=for_constraints, updated_at=now, **values))
            if done.rowcount != 1:
                raise Conflict(f"version {version} is no longer current", field="version")
        row = conn.execute(sa.select(t.f3548_subscriptions).where(s.id == sub_id)).one()
        dependents = _dependents(conn, sub_id)
    out: dict[str, Any] = {"subscription": subscription_json(row, dependents)}
    with state.db.connect() as conn:  # each list only when the subscription notifies for its kind (the OpenAPI)
        if for_ois:
            out["operational_intent_references"] = [oir_json(r, caller)
                                                    for r in intersecting_oirs(ctx, conn, batch, now)]
        if for_constraints:
            out["constraint_references"] = [constraint_json(r, caller)
                                            for r in intersecting_oirs(ctx, conn, batch, now, constraints=True)]
    return out


def get_subscription(ctx: F3548Context, caller: Caller, sub_id: str) -> dict[str, Any]:
    sub_id = ctx.check_id(sub_id, "subscriptionid")
    with ctx.state.db.connect() as conn:
        row = conn.execute(sa.select(t.f3548_subscriptions).where(t.f3548_subscriptions.c.id == sub_id)).first()
        if row is None or row.manager != caller.sub:
            raise NotFound(f"no subscription {sub_id} of this USS", field="subscriptionid")
        return {"subscription": subscription_json(row, _dependents(conn, sub_id))}


def query_subscriptions(ctx: F3548Context, caller: Caller, aoi: api.Volume4D | None) -> dict[str, Any]:
    if aoi is None:
        raise BadRequest("area_of_interest: required", field="area_of_interest")
    now = ctx.state.clock()
    volumes = ctx.volumes([aoi], "area_of_interest", now, query=True)
    with ctx.state.db.connect() as conn:
        rows = [r for r in _candidates(conn, FootprintBatch.of(volumes), volumes, now) if r.manager == caller.sub]
        return {"subscriptions": [subscription_json(r, _dependents(conn, r.id)) for r in rows]}


def delete_subscription(ctx: F3548Context, caller: Caller, sub_id: str, version: str) -> dict[str, Any]:
    sub_id = ctx.check_id(sub_id, "subscriptionid")
    s = t.f3548_subscriptions.c
    with writing(ctx.state.db) as conn:
        row = conn.execute(sa.select(t.f3548_subscriptions).where(s.id == sub_id)).first()
        if row is None:
            raise NotFound(f"no subscription {sub_id}", field="subscriptionid")
        if row.manager != caller.sub:
            raise Forbidden("the subscription is managed by another USS", field="subscriptionid")
        if str(row.version) != version:
            raise Conflict(f"version {version} is not current", field="version")
        dependents = _dependents(conn, sub_id)
        if dependents:
            raise BadRequest(f"operational intents depend on this subscription: {', '.join(dependents)}",
                             field="subscriptionid")
        conn.execute(sa.delete(t.f3548_subscriptions).where(s.id == sub_id))
    return {"subscription": subscription_json(row, [])}
