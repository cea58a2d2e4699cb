"""Live tracks in the service (issue 6): the asset registry, track ingest, and screening on the scheduler's tick.

- Registry: a party registers its own assets (ICAO 24-bit addresses, callsigns, asset ids); each belongs to one
  party. A track whose asset id or ICAO address is registered belongs to that party; the rest are unidentified
  (a callsign alone never identifies an aircraft: `TrackBatch.with_owners`).
- Ingest: reports are checked by `core.tactical`'s rules (`TrackTable.ingest`): every refusal is counted per
  source and reason, never a 4xx (4xx is for bodies that are not reports at all). The live picture is this
  process's `TrackTable`; the last accepted position of each track is also stored (`tracks`), and a process
  reads back the recent ones when it first needs the picture, so a restart is not blind.
- Screening (`screen_tick`, from `scheduler.tick`): `screen_tracks` over the live tracks with per-pair minima
  (pairs sharing an agreement: the agreement's lateral and vertical minima; other pairs and unidentified tracks:
  5 NM / 1,000 ft) and a 300 s look-ahead; `AlertBook` for hysteresis. Each alert is stored (`alerts`); on
  raised and updated events each identified owner is notified (reason `alert`) through `insert_notifications`
  (stream, polling, webhooks, ledger). An unidentified track's side is told nothing. Every event (raised,
  updated, cleared) is also staged as an ALERT ledger entry in the same transaction (`_stage_alert`: alert_id,
  event, version, parties, tracks {key: lat, lng, alt_m, t_s, owner_id}, finding, minima), from which the
  picture at a time can be rebuilt; an owner may fetch it only if it may see the other side in full.
- Need-to-know: a party sees the alerts of its own aircraft; of the other aircraft it is always shown where it
  is and how it moves (it must avoid it), and who it is (party, callsign, addresses) only when an agreement
  between the two discloses in full. Unidentified traffic shows what it broadcasts (address, callsign).

Limits of this slice: the picture is per process (several processes on one PostgreSQL each screen the tracks
posted to them); ingest statistics are per process and are lost on restart.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Annotated, Any, cast

import numpy as np
import sqlalchemy as sa
from pydantic import AwareDatetime, Field, StringConstraints

from ..core.ledger import EntryType
from ..core.protocol import Disclosure, NoticeReason
from ..core.tactical import (
    DEFAULT_LATERAL_M,
    DEFAULT_LOOKAHEAD_S,
    DEFAULT_VERTICAL_M,
    AlertBook,
    AlertEvent,
    EventKind,
    PartyMinima,
    Rejection,
    TrackBatch,
    TrackTable,
    kinematics,
    pair_findings,
    screen_tracks,
)
from ..errors import Conflict
from ..store import schema as t
from ..store.database import writing
from .bodies import _Strict
from .codec import iso
from .engine_cache import PartyInfo
from .ledger import stage
from .notifications import insert_notifications, notification_row
from .state import ServiceState
from .tactical_volumes import (
    NON_CONFORMANCE,
    SEPARATION,
    VolumeFinding,
    alert_kind,
    conformance_findings,
    hazard_findings,
)

__all__ = ["AssetsIn", "ReportIn", "TracksIn", "alerts_for", "assets_of", "ingest", "put_assets", "screen_tick",
           "stats_for", "tactical_of", "tracks_for"]

MAX_REPORTS = 5_000  #: reports in one POST /v1/tracks
MAX_ASSETS = 10_000  #: of each kind, per party
MAX_AGE_S = 10.0  #: a track not heard from for longer is not screened
RESTORE_S = 60.0  #: stored tracks at most this old are read back into a new process's picture
RETAIN_S = 600.0  #: an aircraft not heard from for longer is forgotten (picture and stored track)
PRUNE_EVERY_S = 60.0  #: how often the tick forgets them
MAX_SOURCES_PER_PARTY = 32  #: ingest statistics kept per party; a new source beyond evicts its least recent
ALERT_ACK_S = 300.0  #: acknowledgement deadline of an alert notification without an agreement's

Icao24 = Annotated[str, StringConstraints(pattern=r"^[0-9A-Fa-f]{6}$")]
Callsign = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,8}$")]
AssetId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
Source = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
Number = Annotated[float, Field(allow_inf_nan=False)]


class AssetsIn(_Strict):
    """The caller's assets, replacing those registered before: ICAO 24-bit addresses (hex), callsigns (shown in
    alerts; they never identify a track on their own) and asset ids (as feeds report them)."""

    icao24: list[Icao24] = Field(default_factory=list, max_length=MAX_ASSETS)
    callsigns: list[Callsign] = Field(default_factory=list, max_length=MAX_ASSETS)
    asset_ids: list[AssetId] = Field(default_factory=list, max_length=MAX_ASSETS)


class ReportIn(_Strict):
    """One position report. Only `time` is required of the shape: a missing or impossible position, altitude
    or velocity is counted as a rejection (see the response), not refused with the batch."""

    time: AwareDatetime
    lat: Number | None = None
    lng: Number | None = None
    altitude_m: Number | None = None
    ground_speed_mps: Number | None = None
    track_deg: Number | None = None
    vertical_rate_mps: Number | None = None
    icao24: Icao24 | None = None
    callsign: Annotated[str, StringConstraints(max_length=16)] | None = None
    asset_id: AssetId | None = None
    on_ground: bool = False


class TracksIn(_Strict):
    """A batch of reports from one source (a name the caller chooses, for its statistics)."""

    source: Source = "http"
    reports: list[ReportIn] = Field(min_length=1, max_length=MAX_REPORTS)


@dataclass
class SourceStats:
    counts: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    last_at: datetime | None = None


@dataclass
class Tactical:
    """This process's live picture: the tracks, the alert book, ingest statistics per (party, source)."""

    table: TrackTable = field(default_factory=TrackTable)
    book: AlertBook = field(default_factory=AlertBook)
    stats: dict[tuple[str, str], SourceStats] = field(default_factory=dict)
    alert_ids: dict[str, str] = field(default_factory=dict)  #: the book's alert id -> the stored one
    pruned_at: float = float("-inf")  #: when the tick last forgot silent aircraft (epoch s)
    lock: threading.RLock = field(default_factory=threading.RLock)


_LOCK = threading.Lock()


def tactical_of(state: ServiceState) -> Tactical:
    """The process's picture for `state`, made (and the recent stored tracks read back) on first use."""
    held = vars(state).get("tactical")
    if held is not None:
        return cast(Tactical, held)
    with _LOCK:
        held = vars(state).get("tactical")
        if held is None:
            held = Tactical()
            _restore(state, held)
            vars(state)["tactical"] = held
    return cast(Tactical, held)


def _restore(state: ServiceState, tac: Tactical) -> None:
    since = state.clock().timestamp() - RESTORE_S
    k = t.tracks.c
    with state.db.connect() as conn:
        rows = conn.execute(sa.select(t.tracks).where(k.t_s >= since).order_by(k.t_s)).all()
    if rows:
        tac.table.ingest(TrackBatch.of(
            t_s=[r.t_s for r in rows], lat_deg=[r.lat for r in rows], lng_deg=[r.lng for r in rows],
            alt_m=[r.alt_m for r in rows], gs_mps=[r.gs_mps for r in rows], track_deg=[r.track_deg for r in rows],
            vs_mps=[r.vs_mps for r in rows], icao24=[r.icao24 for r in rows],
            callsign=[r.callsign for r in rows], asset_id=[r.asset_id for r in rows],
            owner=[r.owner_id for r in rows], on_ground=[r.on_ground for r in rows]), state.clock().timestamp())
        tac.table.stats.clear()


# -- the registry -------------------------------------------------------------------------------------------------
KINDS = (("icao24", "icao24"), ("callsign", "callsigns"), ("asset_id", "asset_ids"))


def _normal(kind: str, value: str) -> str:
    return value.lower() if kind == "icao24" else (value.upper() if kind == "callsign" else value)


def assets_of(conn: sa.Connection, party_id: str) -> dict[str, list[str]]:
    a = t.assets.c
    out: dict[str, list[str]] = {name: [] for _, name in KINDS}
    names = dict(KINDS)
    for r in conn.execute(sa.select(a.kind, a.value).where(a.party_id == party_id).order_by(a.kind, a.value)):
        out[names[r.kind]].append(r.value)
    return out


def put_assets(state: ServiceState, party: PartyInfo, body: AssetsIn) -> dict[str, list[str]]:
    """Replace the caller's registered assets; one registered by another party is refused (409, naming it)."""
    now = state.clock()
    wanted: list[tuple[str, str, str]] = []  # (kind, value, field)
    for kind, name in KINDS:
        seen: set[str] = set()
        for i, value in enumerate(getattr(body, name)):
            v = _normal(kind, value)
            if v not in seen:
                seen.add(v)
                wanted.append((kind, v, f"{name}[{i}]"))
    a = t.assets.c
    with writing(state.db) as conn:
        for kind, _name in KINDS:
            values = [v for k, v, _ in wanted if k == kind]
            for chunk in range(0, len(values), 500):
                taken = conn.execute(sa.select(a.value).where(
                    a.kind == kind, a.value.in_(values[chunk:chunk + 500]), a.party_id != party.id)).scalars().all()
                if taken:
                    where = next(f for k, v, f in wanted if k == kind and v == taken[0])
                    raise Conflict(f"{taken[0]!r} is registered by another party", field=where)
        conn.execute(sa.delete(t.assets).where(a.party_id == party.id))
        if wanted:
            conn.execute(sa.insert(t.assets), [{"kind": k, "value": v, "party_id": party.id, "created_at": now}
                                              for k, v, _ in wanted])
        return assets_of(conn, party.id)


def _registry(conn: sa.Connection) -> dict[str, str]:
    """Identity key ("icao:..", "asset:..") -> party id, as `TrackBatch.with_owners` takes it."""
    prefix = {"icao24": "icao:", "asset_id": "asset:"}
    a = t.assets.c
    rows = conn.execute(sa.select(a.kind, a.value, a.party_id).where(a.kind.in_(list(prefix)))).all()
    return {prefix[r.kind] + r.value: r.party_id for r in rows}


# -- ingest -------------------------------------------------------------------------------------------------------
def _batch(body: TracksIn) -> TrackBatch:
    r = body.reports
    return TrackBatch.of(
        t_s=[x.time.timestamp() for x in r], lat_deg=[x.lat for x in r], lng_deg=[x.lng for x in r],
        alt_m=[x.altitude_m for x in r], gs_mps=[x.ground_speed_mps for x in r], track_deg=[x.track_deg for x in r],
        vs_mps=[0.0 if x.vertical_rate_mps is None else x.vertical_rate_mps for x in r],
        icao24=[x.icao24 or "" for x in r], callsign=[(x.callsign or "").strip().upper() for x in r],
        asset_id=[x.asset_id or "" for x in r], on_ground=[x.on_ground for x in r])


def _stats_json(name: str, s: SourceStats) -> dict[str, Any]:
    rejected = {k: v for k, v in sorted(s.counts.items()) if k != "accepted"}
    return {"source": name, "batches": s.batches, "accepted": s.counts.get("accepted", 0),
            "rejected": sum(rejected.values()), "rejected_by_reason": rejected,
            "last_at": iso(s.last_at) if s.last_at else None}


def ingest(state: ServiceState, party: PartyInfo, body: TracksIn) -> dict[str, Any]:
    """Check and take a batch into the picture; store each track's last accepted position; count per reason."""
    now = state.clock()
    tac = tactical_of(state)
    with state.db.connect() as conn:
        registry = _registry(conn)
    batch = _batch(body).with_owners(registry)
    with tac.lock:
        result = tac.table.ingest(batch, now.timestamp())
        stats = _source_stats(tac, party.id, body.source)
        stats.batches += 1
        stats.last_at = now
        for name, c in result.counts.items():
            stats.counts[name] = stats.counts.get(name, 0) + c
        summary = _stats_json(body.source, stats)
    ok = np.flatnonzero(result.accepted)
    latest: dict[str, dict[str, Any]] = {}
    keys = batch.keys()
    for i in ok.tolist():
        latest[keys[i]] = {
            "key": keys[i], "icao24": batch.icao24[i], "callsign": batch.callsign[i], "asset_id": batch.asset_id[i],
            "owner_id": batch.owner[i], "t_s": float(batch.t_s[i]), "lat": float(batch.lat_deg[i]),
            "lng": float(batch.lng_deg[i]), "alt_m": float(batch.alt_m[i]), "gs_mps": float(batch.gs_mps[i]),
            "track_deg": float(batch.track_deg[i]), "vs_mps": float(batch.vs_mps[i]),
            "on_ground": bool(batch.on_ground[i]), "source_party": party.id, "source": body.source,
            "updated_at": now}
    if latest:
        with writing(state.db) as conn:
            _upsert_tracks(conn, list(latest.values()))
    rejections = [{"index": i, "reason": Rejection(int(r)).name.lower()}
                  for i, r in enumerate(result.reasons.tolist()) if r != 0][:100]
    counts = result.counts
    return {"source": body.source, "received": len(batch), "accepted": counts.get("accepted", 0),
            "rejected": len(batch) - counts.get("accepted", 0),
            "rejected_by_reason": {k: v for k, v in sorted(counts.items()) if k != "accepted"},
            "rejections": rejections, "totals": summary}


def _source_stats(tac: Tactical, party_id: str, source: str) -> SourceStats:
    """The statistics of one of a party's sources; a party's sources are bounded (MAX_SOURCES_PER_PARTY: source
    names are the caller's to choose), the least recently used giving way to a new one."""
    stats = tac.stats.get((party_id, source))
    if stats is None:
        mine = [(s.last_at or datetime.min.replace(tzinfo=UTC), key) for key, s in tac.stats.items()
                if key[0] == party_id]
        if len(mine) >= MAX_SOURCES_PER_PARTY:
            del tac.stats[min(mine)[1]]
        stats = tac.stats[(party_id, source)] = SourceStats()
    return stats


def _forget_silent(state: ServiceState, tac: Tactical, now: float) -> None:
    """Every PRUNE_EVERY_S: forget the aircraft not heard from for RETAIN_S, in the picture and the store."""
    if now - tac.pruned_at < PRUNE_EVERY_S:
        return
    tac.pruned_at = now
    tac.table.forget_before(now - RETAIN_S)
    with writing(state.db) as conn:
        conn.execute(sa.delete(t.tracks).where(t.tracks.c.t_s < now - RETAIN_S))


def _upsert_tracks(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        pg = pg_insert(t.tracks)
        conn.execute(pg.on_conflict_do_update(
            index_elements=["key"], set_={c: pg.excluded[c] for c in rows[0] if c != "key"},
            where=pg.excluded.t_s > t.tracks.c.t_s), rows)
        return
    from sqlalchemy.dialects.sqlite import insert as lite_insert

    lite = lite_insert(t.tracks)
    conn.execute(lite.on_conflict_do_update(
        index_elements=["key"], set_={c: lite.excluded[c] for c in rows[0] if c != "key"},
        where=lite.excluded.t_s > t.tracks.c.t_s), rows)


def stats_for(state: ServiceState, party: PartyInfo) -> dict[str, Any]:
    """The caller's sources (the administrator: all, with the party), and the live picture's size."""
    tac = tactical_of(state)
    with tac.lock:
        items = sorted(tac.stats.items())
        live = len(tac.table.snapshot(state.clock().timestamp(), MAX_AGE_S))
    out = []
    for (pid, source), s in items:
        if party.role == "admin" or pid == party.id:
            row = _stats_json(source, s)
            if party.role == "admin":
                row["party"] = state.cache.name(pid)
            out.append(row)
    return {"sources": out, "live_tracks": live if party.role == "admin" else None}


# -- screening ----------------------------------------------------------------------------------------------------
def _minima(state: ServiceState, owners: list[str]) -> tuple[PartyMinima, dict[tuple[str, str], tuple[float, float]]]:
    pairs: dict[tuple[str | None, str | None], tuple[float, float]] = {}
    for a, b in itertools.combinations(owners, 2):
        terms = state.cache.terms(a, b)
        if terms.related and terms.minima.lateral_m > 0.0 and terms.minima.vertical_m > 0.0:
            pairs[(a, b)] = (terms.minima.lateral_m, terms.minima.vertical_m)
    return PartyMinima.of(owners, pairs=pairs), cast(dict[tuple[str, str], tuple[float, float]], pairs)


def _track_json(batch: TrackBatch, i: int) -> dict[str, Any]:
    return {"icao24": batch.icao24[i] or None, "callsign": batch.callsign[i] or None,
            "asset_id": batch.asset_id[i] or None, "owner_id": batch.owner[i],
            "time": iso(datetime.fromtimestamp(float(batch.t_s[i]), UTC)), "t_s": float(batch.t_s[i]),
            "lat": float(batch.lat_deg[i]), "lng": float(batch.lng_deg[i]), "altitude_m": float(batch.alt_m[i]),
            "ground_speed_mps": float(batch.gs_mps[i]), "track_deg": float(batch.track_deg[i]),
            "vertical_rate_mps": float(batch.vs_mps[i])}


def screen_tick(state: ServiceState, now_dt: datetime) -> int:
    """Screen the live tracks at `now_dt`, keep the alerts' hysteresis, store them and notify their owners.
    Returns the number of alert events."""
    tac = tactical_of(state)
    now = now_dt.timestamp()
    with tac.lock:
        _forget_silent(state, tac, now)
        snap = tac.table.snapshot(now, MAX_AGE_S)
        if len(snap) == 0 and not tac.book.active:
            return 0
        with state.db.connect() as conn:
            state.cache.refresh(conn)  # parties, agreements and declarations other processes (and requests) wrote
        with state.cache.lock:
            owners = sorted({o for o in snap.owner.tolist() if o is not None})
            minima, pairs = _minima(state, owners)
        airborne, found = screen_tracks(snap, now, minima, DEFAULT_LOOKAHEAD_S)
        keys = airborne.keys()
        findings = pair_findings(keys, found)
        volume: dict[tuple[str, str], VolumeFinding] = {}
        if len(airborne):
            kin = kinematics(airborne, now)
            for vf in (hazard_findings(state, airborne, kin, keys, DEFAULT_LOOKAHEAD_S)
                       + conformance_findings(state, airborne, kin, keys)):
                volume[vf.finding.pair] = vf
                findings.append(vf.finding)
        events = tac.book.update(now, findings)
        if not events:
            return 0
        where = {k: i for i, k in enumerate(keys)}
        planned = []
        for ev in events:
            stored = tac.alert_ids.setdefault(ev.alert_id, str(uuid.uuid4()))
            if ev.kind is EventKind.CLEARED:
                tac.alert_ids.pop(ev.alert_id, None)
            tracks = {k: _track_json(airborne, where[k]) for k in ev.pair if k in where}
            planned.append((ev, stored, tracks, volume.get(ev.pair)))
    with writing(state.db) as conn:
        for ev, stored, tracks, vf in planned:
            _record(state, conn, ev, stored, tracks, pairs, now_dt, vf)
    return len(planned)


def _finding_json(ev: AlertEvent, now_dt: datetime) -> dict[str, Any]:
    f = ev.finding
    return {"t_cpa_s": round(f.t_cpa_s, 3), "horizontal_m": round(f.horizontal_m, 1),
            "vertical_m": round(f.vertical_m, 1), "t_in_s": round(f.t_in_s, 3), "t_out_s": round(f.t_out_s, 3),
            "cpa_at": iso(now_dt + timedelta(seconds=f.t_cpa_s)),
            "loss_at": iso(now_dt + timedelta(seconds=f.t_in_s)), "predicted_at": iso(now_dt)}


def _record(state: ServiceState, conn: sa.Connection, ev: AlertEvent, alert_id: str,
            tracks: dict[str, dict[str, Any]], pairs: dict[tuple[str, str], tuple[float, float]],
            now_dt: datetime, vf: VolumeFinding | None = None) -> None:
    from .writes import log_change  # writes imports notifications, which this module imports

    al = t.alerts.c
    row = conn.execute(sa.select(t.alerts).where(al.id == alert_id)).first()
    kind = alert_kind(ev.pair[1])
    finding = {**_finding_json(ev, now_dt), **(vf.detail if vf is not None else {}), "kind": kind}
    if ev.kind is EventKind.CLEARED:
        if row is not None:
            conn.execute(sa.update(t.alerts).where(al.id == alert_id).values(
                state="cleared", cleared_at=now_dt, updated_at=now_dt, version=row.version + 1))
            _stage_alert(state, conn, ev, SimpleNamespace(**{**row._asdict(), "version": row.version + 1}),
                         {**row.tracks, **tracks}, row.finding, now_dt)
        return
    key_a, key_b = ev.pair
    if row is None:
        party_a = tracks.get(key_a, {}).get("owner_id")
        if kind == SEPARATION:
            party_b = tracks.get(key_b, {}).get("owner_id")
            duo = (party_a, party_b) if (party_a or "") <= (party_b or "") else (party_b, party_a)
            lateral, vertical = pairs.get(cast(tuple[str, str], duo), (DEFAULT_LATERAL_M, DEFAULT_VERTICAL_M))
            minima: dict[str, float] = {"lateral_m": lateral, "vertical_m": vertical,
                                        "lookahead_s": DEFAULT_LOOKAHEAD_S}
        else:  # a declared volume: the hazard's owner, or nobody (non-conformance)
            party_b = vf.party_b if vf is not None else None
            minima = {"lookahead_s": DEFAULT_LOOKAHEAD_S}
        values = {"id": alert_id, "key_a": key_a, "key_b": key_b, "party_a": party_a, "party_b": party_b,
                  "state": "active", "version": 1, "raised_at": now_dt, "updated_at": now_dt, "cleared_at": None,
                  "finding": finding, "tracks": tracks, "minima": minima}
        conn.execute(sa.insert(t.alerts).values(**values))
    else:
        values = {**row._asdict(), "finding": finding, "tracks": {**row.tracks, **tracks},
                  "version": row.version + 1, "updated_at": now_dt}
        conn.execute(sa.update(t.alerts).where(al.id == alert_id).values(
            finding=finding, tracks=values["tracks"], version=values["version"], updated_at=now_dt))
    alert = SimpleNamespace(**values)
    _stage_alert(state, conn, ev, alert, alert.tracks, finding, now_dt)
    recipients = [p for p in (alert.party_a, alert.party_b) if p is not None]
    if not recipients:
        return
    seq = log_change(conn, "alert", alert_id, alert.version, now_dt)
    rows = []
    for recipient in recipients:
        info = state.cache.parties.get(recipient)
        if info is None:
            continue
        other = alert.party_b if recipient == alert.party_a else alert.party_a
        terms = state.cache.terms(recipient, other) if other is not None else None
        view = alert_view(alert, info, state)
        assert view is not None
        payload = {"reason": NoticeReason.ALERT.value, "event": ev.kind.value, "alert": view}
        loss_at = now_dt + timedelta(seconds=max(ev.finding.t_in_s, 0.0))
        written = notification_row(
            recipient_id=recipient, sender_id=recipient, reason=NoticeReason.ALERT,
            row=SimpleNamespace(id=None, version=None, time_start=loss_at),
            agreements=terms.agreements if terms is not None else (), payload=payload, min_notice_s=None,
            ack_deadline_s=(terms.ack_deadline_s if terms is not None and terms.ack_deadline_s else ALERT_ACK_S),
            contacts=(), now=now_dt, seq=seq)
        written["next_escalation_at"] = None  # an alert is renewed by its updates, not escalated
        rows.append(written)
    insert_notifications(conn, rows, now_dt, state.cache.hooked)


def _stage_alert(state: ServiceState, conn: sa.Connection, ev: AlertEvent, alert: Any,
                 tracks: dict[str, dict[str, Any]], finding: dict[str, Any], now_dt: datetime) -> None:
    """The alert's event into the record, in the caller's transaction: where each aircraft was (as last known),
    with its owner, the prediction and the minima (the picture at a time T is rebuilt from these entries). It
    names both owners, so an owner may fetch it only when it may see the other side in full (the other side
    unidentified, or an agreement disclosing in full); otherwise its notification's entry is its record."""
    parties = [p for p in (alert.party_a, alert.party_b) if p is not None]
    fetch = [p for p in parties if len(parties) == 1
             or Disclosure.FULL in state.cache.terms(*parties).disclosures]
    # an owner the alert does not name (an aircraft registered after the alert was raised) stays unnamed: the
    # alert's parties are who may fetch the entry
    where = {k: {"lat": tr["lat"], "lng": tr["lng"], "alt_m": tr["altitude_m"],
                 "t_s": tr["t_s"] if "t_s" in tr else datetime.fromisoformat(tr["time"]).timestamp(),
                 "owner_id": tr["owner_id"] if tr["owner_id"] in parties else None}
             for k, tr in sorted(tracks.items())}
    stage(conn, EntryType.ALERT, {"alert_id": alert.id, "event": ev.kind.value, "version": alert.version,
                                  "kind": alert_kind(alert.key_b), "pair": list(ev.pair), "parties": parties,
                                  "tracks": where, "finding": finding, "minima": alert.minima}, now_dt, fetch)


# -- reading alerts -----------------------------------------------------------------------------------------------
def _side(track: dict[str, Any] | None, owner: str | None, shown: bool, state: ServiceState) -> dict[str, Any]:
    if track is None:
        return {"identified": owner is not None}
    motion = {k: track[k] for k in ("time", "lat", "lng", "altitude_m", "ground_speed_mps", "track_deg",
                                    "vertical_rate_mps")}
    if owner is None:  # unidentified: what it broadcasts
        return {"identified": False, "icao24": track["icao24"], "callsign": track["callsign"], **motion}
    if not shown:
        return {"identified": True, "disclosure": "none", **motion}
    return {"identified": True, "party": state.cache.name(owner), "icao24": track["icao24"],
            "callsign": track["callsign"], "asset_id": track["asset_id"], **motion}


def _alert_head(alert: Any, kind: str) -> dict[str, Any]:
    """What every view of an alert row shows, whoever asks: its identity, state, times, prediction and minima."""
    return {"id": alert.id, "kind": kind, "state": alert.state, "version": alert.version,
            "raised_at": iso(alert.raised_at), "updated_at": iso(alert.updated_at),
            "cleared_at": iso(alert.cleared_at) if alert.cleared_at else None, "prediction": alert.finding,
            "minima": alert.minima}


def _volume_view(alert: Any, party: PartyInfo, state: ServiceState) -> dict[str, Any]:
    """A hazard entry or non-conformance alert: side a is the aircraft, side b the hazard's owner (or nobody).
    The aircraft's owner is told whose hazard it is (a partner: the agreement names it); the hazard's owner sees
    the aircraft as a pair alert shows the other aircraft (identity only under full disclosure)."""
    admin = party.role == "admin"
    kind = alert_kind(alert.key_b)
    track = alert.tracks.get(alert.key_a)
    out = _alert_head(alert, kind)
    if kind == NON_CONFORMANCE:
        return {**out, "own": _side(track, alert.party_a, True, state)}
    hazard = {"declaration_id": alert.finding["declaration_id"], "kind": alert.finding["declaration_kind"],
              "party": state.cache.name(alert.party_b)}
    if admin or party.id == alert.party_a:
        return {**out, "own": _side(track, alert.party_a, True, state), "hazard": hazard}
    full = alert.party_a is None or Disclosure.FULL in state.cache.terms(party.id, alert.party_a).disclosures
    return {**out, "hazard": hazard, "aircraft": _side(track, alert.party_a, full, state)}


def alert_view(alert: Any, party: PartyInfo, state: ServiceState) -> dict[str, Any] | None:
    """An alert as `party` may see it (None: not its alert). The administrator sees both sides in full."""
    admin = party.role == "admin"
    if not admin and party.id not in (alert.party_a, alert.party_b):
        return None
    if alert_kind(alert.key_b) != SEPARATION:
        return _volume_view(alert, party, state)
    sides = [(alert.key_a, alert.party_a), (alert.key_b, alert.party_b)]
    if not admin and alert.party_b == party.id:
        sides.reverse()
    (own_key, own_party), (other_key, other_party) = sides
    full = admin
    if not admin and other_party is not None:
        full = Disclosure.FULL in state.cache.terms(party.id, other_party).disclosures
    return {**_alert_head(alert, SEPARATION),
            "own": _side(alert.tracks.get(own_key), own_party, True, state),
            "other": _side(alert.tracks.get(other_key), other_party, full, state)}


def alerts_for(state: ServiceState, party: PartyInfo, which: str, limit: int, after: str | None
               ) -> dict[str, Any]:
    al = t.alerts.c
    where: list[sa.ColumnElement[bool]] = []
    if party.role != "admin":
        where.append(sa.or_(al.party_a == party.id, al.party_b == party.id))
    if which != "all":
        where.append(al.state == which)
    if after is not None:
        where.append(al.id > after)
    with state.db.connect() as conn:
        state.cache.refresh(conn)
        rows = conn.execute(sa.select(t.alerts).where(*where).order_by(al.id).limit(limit)).all()
    views = [v for v in (alert_view(r, party, state) for r in rows) if v is not None]
    return {"alerts": views, "next": rows[-1].id if len(rows) == limit else None}


def tracks_for(state: ServiceState, party: PartyInfo) -> dict[str, Any]:
    """The live tracks `party` may see now: its own aircraft in full; another aircraft only while an active alert
    pairs it with one of the party's, and then only as that alert shows it (`_side`: where it is and how it moves;
    who it is only under a `full` agreement, an unidentified one as it broadcasts). Nothing else of the picture.
    The administrator sees every live track in full."""
    now = state.clock()
    tac = tactical_of(state)
    with tac.lock:
        snap = tac.table.snapshot(now.timestamp(), MAX_AGE_S)
    keys = snap.keys()
    where = {k: i for i, k in enumerate(keys)}
    out: list[dict[str, Any]] = []
    if party.role == "admin":
        for k, i in where.items():
            owner = snap.owner[i]
            side = _side(_track_json(snap, i), owner, True, state)
            out.append({"id": k, "own": False, **side})
        return {"at": iso(now), "tracks": out}
    al = t.alerts.c
    with state.db.connect() as conn:
        state.cache.refresh(conn)
        alerts = conn.execute(sa.select(t.alerts).where(
            al.state == "active", sa.or_(al.party_a == party.id, al.party_b == party.id)).order_by(al.id)).all()
    for k, i in where.items():
        if snap.owner[i] == party.id:
            out.append({"id": k, "own": True, "alerts": [a.id for a in alerts if k in (a.key_a, a.key_b)],
                        **_side(_track_json(snap, i), party.id, True, state)})
    shown: set[str] = {k for k, i in where.items() if snap.owner[i] == party.id}
    for a in alerts:
        for key, owner, mine in ((a.key_a, a.party_a, a.party_b), (a.key_b, a.party_b, a.party_a)):
            if mine != party.id or key in shown or key not in where:
                continue
            shown.add(key)
            full = owner is not None and Disclosure.FULL in state.cache.terms(party.id, owner).disclosures
            side = _side(_track_json(snap, where[key]), owner, full, state)
            # the alert names it; the track key would carry an undisclosed asset id, so it is not shown
            out.append({"id": f"{a.id}:other", "own": False, "alerts": [a.id], **side})
    return {"at": iso(now), "tracks": out}
