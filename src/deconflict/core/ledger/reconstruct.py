"""Incident reconstruction, pure: what party X knew at time T, from the ledger entries X may see.

Input: decoded entries visible to X (the store lists each entry's parties; the caller passes only those listing
X) with their log indices. Nothing else is read: not the live tables, not the clock. An entry counts from the
moment it was recorded (its body's `recorded_at`), so the picture at T is built from entries recorded by T.

What X knew, and from which entries:

- X's own declarations in full, from its DECLARATION_VERSION entries (the latest version recorded by T).
- Another party's declaration only as disclosed to X: the `payload` of the NOTIFICATION_DELIVERY (event
  `created`) entries addressed to X, exactly what X was shown, from the time it was delivered to X (event
  `delivered`): a notice not yet delivered was not yet known. Precision `full` when the payload's declaration
  view carries the volumes, else `conflict_area` when one of its conflicts carries the clipped area, else
  `coarse` (the grid cells); a declaration disclosed with none of these (`disclosure: none`) is not drawn.
- Notifications delivered to X by T (NOTIFICATION_DELIVERY `created` + `delivered`), with the precision of the
  geometry they disclosed (`none` when they carry no shape of another party's declaration), their ack state at T from
  ACKNOWLEDGEMENT and ESCALATION entries: acknowledged (with reply) > escalated (level) > overdue (past the
  ack deadline) > pending.
- Alerts: from the alert notifications raised for X (reason `alert`, payload `alert`: the alert as X was shown
  it; counted from when the service raised them, as the service's own alerting is part of X's picture) and
  from ALERT entries. ALERT entries are read tolerantly, keyed on what is needed:
  alert id (`alert_id` or `id`), event (`event`: raised / updated / cleared; or `state`), parties (`parties`,
  or `party_a`/`party_b`), raised time (`raised_at`, else the entry's time), and the tracks (`tracks` or
  `positions`: a list, or a mapping keyed by track key; each with `lat`, `lng`, an altitude as `alt_m`,
  `altitude_m` or `alt`, a time as `time` or `t` (RFC 3339) or `t_s` (seconds since the epoch), and optionally
  `key` and the owner as `owner_id`, `owner` or `party_id`). A track owned by X keeps its key; any other track is
  named as the alert notifications named it (its identity only when disclosed), else `alert:<alert id>:other`
  (a position is shown to both sides of an alert; who flies it only as the agreement discloses).
- Tracks: the service keeps no track history, so the last position of each aircraft known at T is the last one
  an alert entry or alert notification recorded by T carried.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .canonical import EntryType, LedgerEntry

__all__ = ["ENDED_STATES", "circle_ring", "parse_time", "picture_at", "volumes_geometry"]

ENDED_STATES = frozenset({"cancelled", "ended", "rejected", "closed"})  #: a declaration in these is not active
CIRCLE_POINTS = 64  #: vertices of the polygon that stands for a circle
_EARTH_R = 6_371_008.8  #: mean Earth radius (m), for circles drawn as polygons
_FT = 0.3048


def parse_time(text: Any) -> datetime | None:
    """An RFC 3339 time (Z or offset; naive taken as UTC), or None for anything else."""
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset that takes it past year 1 or 9999 in UTC
        return None


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def circle_ring(lat: float, lng: float, radius_m: float, n: int = CIRCLE_POINTS) -> list[list[float]]:
    """A closed GeoJSON ring ([lng, lat] pairs) of `n` points on the circle (spherical destination formula)."""
    d = radius_m / _EARTH_R
    p1, l1 = math.radians(lat), math.radians(lng)
    ring = []
    for i in range(n):
        b = 2 * math.pi * i / n
        p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
        l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
        ring.append([round((math.degrees(l2) + 540.0) % 360.0 - 180.0, 7), round(math.degrees(p2), 7)])
    ring.append(ring[0])
    return ring


def _num(obj: Any, *path: str) -> float | None:
    for p in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(p)
    return float(obj) if isinstance(obj, int | float) and not isinstance(obj, bool) else None


def _metres(alt: Any) -> float | None:
    value = _num(alt, "value")
    if value is None:
        return None
    return value * _FT if isinstance(alt, Mapping) and alt.get("units") == "FT" else value


def _volume_ring(v: Any) -> list[list[float]] | None:
    vol = v.get("volume") if isinstance(v, Mapping) else None
    if not isinstance(vol, Mapping):
        return None
    poly = vol.get("outline_polygon")
    if isinstance(poly, Mapping) and isinstance(poly.get("vertices"), list):
        ring = [[float(p["lng"]), float(p["lat"])] for p in poly["vertices"]
                if isinstance(p, Mapping) and _num(p, "lat") is not None and _num(p, "lng") is not None]
        if len(ring) >= 3:
            return [*ring, ring[0]]
    circle = vol.get("outline_circle")
    if isinstance(circle, Mapping):
        lat, lng = _num(circle, "center", "lat"), _num(circle, "center", "lng")
        radius = _metres(circle.get("radius"))
        if lat is not None and lng is not None and radius is not None and radius > 0:
            return circle_ring(lat, lng, radius)
    return None


def _geometry(rings: list[list[list[float]]]) -> dict[str, Any] | None:
    if not rings:
        return None
    if len(rings) == 1:
        return {"type": "Polygon", "coordinates": [rings[0]]}
    return {"type": "MultiPolygon", "coordinates": [[r] for r in rings]}


@dataclass(frozen=True, slots=True)
class _Extent:
    geometry: dict[str, Any] | None
    lower_m: float | None
    upper_m: float | None
    start: datetime | None
    end: datetime | None


def _span(values: Iterable[float | None], pick: Any) -> float | None:
    got = [v for v in values if v is not None]
    return pick(got) if got else None


def _times(values: Iterable[datetime | None], pick: Any) -> datetime | None:
    got = [v for v in values if v is not None]
    return pick(got) if got else None


def volumes_geometry(volumes: Any) -> dict[str, Any] | None:
    """The wire-shape volumes (ASTM F3548 Volume4D JSON) as one GeoJSON Polygon or MultiPolygon."""
    return _volumes_extent(volumes).geometry


def _volumes_extent(volumes: Any) -> _Extent:
    vols = [v for v in volumes if isinstance(v, Mapping)] if isinstance(volumes, list) else []
    rings = [r for r in (_volume_ring(v) for v in vols) if r is not None]
    return _Extent(
        _geometry(rings),
        _span((_metres(v.get("volume", {}).get("altitude_lower")) for v in vols), min),
        _span((_metres(v.get("volume", {}).get("altitude_upper")) for v in vols), max),
        _times((parse_time(v.get("time_start", {}).get("value")) for v in vols), min),
        _times((parse_time(v.get("time_end", {}).get("value")) for v in vols), max),
    )


def _coarse_extent(coarse: Any) -> _Extent:
    views = [c for c in coarse if isinstance(c, Mapping)] if isinstance(coarse, list) else []
    rings = []
    for c in views:
        size = _num(c, "cell_deg")
        if size is None or not isinstance(c.get("cells"), list):
            continue
        for cell in c["cells"]:
            lat, lng = _num(cell, "lat"), _num(cell, "lng")
            if lat is None or lng is None:
                continue
            rings.append([[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]])
    return _Extent(
        _geometry(rings),
        _span((_num(c, "altitude_lower_m") for c in views), min),
        _span((_num(c, "altitude_upper_m") for c in views), max),
        _times((parse_time(c.get("time_start")) for c in views), min),
        _times((parse_time(c.get("time_end")) for c in views), max),
    )


def _declaration_json(*, decl_id: Any, version: Any, owner_id: Any, kind: Any, state: Any, title: Any,
                      precision: str, extent: _Extent, disclose_title: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": decl_id, "version": version, "owner_id": owner_id, "kind": kind, "state": state,
        "precision": precision, "geometry": extent.geometry,
        "altitude": {"lower_m": extent.lower_m, "upper_m": extent.upper_m},
        "window": {"start": _iso(extent.start), "end": _iso(extent.end)},
    }
    if disclose_title and isinstance(title, str):
        out["title"] = title
    return out


def _active(decl: dict[str, Any], at: datetime) -> bool:
    if decl["state"] in ENDED_STATES or decl["geometry"] is None:
        return False
    end = parse_time(decl["window"]["end"])
    return end is None or end > at


def _other_declaration(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """Another party's declaration as a notification's payload disclosed it to its recipient (None: nothing
    drawable was disclosed)."""
    payload = body.get("payload")
    if not isinstance(payload, Mapping):
        return None
    view = payload.get("declaration", payload.get("hazard"))  # an induced-hazard notice shows the hazard
    view = view if isinstance(view, Mapping) else {}
    decl_id = body.get("declaration_id") or view.get("id")
    if decl_id is None:
        return None
    level = view.get("disclosure")
    areas = [c["other"]["area"] for c in payload.get("conflicts") or []
             if isinstance(c, Mapping) and isinstance(c.get("other"), Mapping)
             and c["other"].get("declaration_id") == decl_id and isinstance(c["other"].get("area"), list)]
    if level in ("full", "own") and isinstance(view.get("volumes"), list):
        precision, extent = "full", _volumes_extent(view["volumes"])
    elif areas:
        precision, extent = "conflict_area", _volumes_extent([v for a in areas for v in a])
    elif level == "coarse" and isinstance(view.get("coarse"), list):
        precision, extent = "coarse", _coarse_extent(view["coarse"])
    else:
        return None
    if extent.start is None:  # the window as the view states it, when the shapes carry none
        extent = _Extent(extent.geometry, extent.lower_m, extent.upper_m, parse_time(view.get("time_start")),
                         parse_time(view.get("time_end")))
    return _declaration_json(decl_id=decl_id, version=body.get("declaration_version", view.get("version")),
                             owner_id=body.get("sender_id"), kind=view.get("kind"),
                             state=view.get("state", "declared"), title=view.get("title"), precision=precision,
                             extent=extent, disclose_title=precision == "full")


def _alt(track: Mapping[str, Any]) -> float | None:
    for name in ("alt_m", "altitude_m", "alt"):
        value = _num(track, name)
        if value is not None:
            return value
    return None


def _track_items(raw: Any) -> list[tuple[str | None, Mapping[str, Any]]]:
    if isinstance(raw, Mapping):
        return [(str(k), v) for k, v in raw.items() if isinstance(v, Mapping)]
    if isinstance(raw, list):
        return [(v.get("key") if isinstance(v.get("key"), str) else None, v) for v in raw if isinstance(v, Mapping)]
    return []


def _position(key: str, track: Mapping[str, Any], when: datetime) -> dict[str, Any] | None:
    lat, lng = _num(track, "lat"), _num(track, "lng")
    if lat is None or lng is None:
        return None
    t = parse_time(track.get("time", track.get("t")))
    seconds = _num(track, "t_s")
    if t is None and seconds is not None and abs(seconds) < 1e11:
        t = datetime.fromtimestamp(seconds, UTC)
    t = t or when
    return {"key": key, "lat": lat, "lng": lng, "alt_m": _alt(track), "t": _iso(t)}


class _Alert:
    __slots__ = ("id", "kind", "other_key", "parties", "raised_at", "state", "tracks")

    def __init__(self, alert_id: str, raised_at: datetime) -> None:
        self.id = alert_id
        self.kind = "separation"  #: or hazard_entry, non_conformance (as the entry or notification names it)
        self.other_key = f"alert:{alert_id}:other"
        self.state = "active"
        self.raised_at = raised_at
        self.parties: list[Any] = []
        self.tracks: dict[str, dict[str, Any]] = {}


def picture_at(entries: Iterable[tuple[int, LedgerEntry]], party_id: str, at: datetime) -> dict[str, Any]:
    """What `party_id` knew at `at`, from the entries it may see (each with its log index), as the JSON of
    GET /v1/ledger/picture (docs/ledger.md): declarations active at `at`, notifications delivered to it by
    `at` with their ack state then, alerts active then and the last known track positions."""
    at = at.astimezone(UTC)
    own: dict[Any, dict[str, Any]] = {}
    others: dict[Any, dict[str, Any]] = {}
    created: dict[Any, tuple[Mapping[str, Any], datetime]] = {}
    delivered: dict[Any, Mapping[str, Any]] = {}
    acked: dict[Any, Mapping[str, Any]] = {}
    levels: dict[Any, int] = {}
    alerts: dict[str, _Alert] = {}
    tracks: dict[str, dict[str, Any]] = {}

    def seen(key: str, pos: dict[str, Any] | None, alert: _Alert) -> None:
        if pos is None:
            return
        placeholder = f"alert:{alert.id}:other"
        if key == alert.other_key != placeholder:  # now named as disclosed: one aircraft, one key
            alert.tracks.pop(placeholder, None)
            tracks.pop(placeholder, None)
        alert.tracks[key] = pos
        last = tracks.get(key)
        if last is None or (parse_time(last["t"]) or at) <= (parse_time(pos["t"]) or at):
            tracks[key] = pos

    def alert_of(alert_id: str, when: datetime) -> _Alert:
        alert = alerts.get(alert_id)
        if alert is None:
            alert = alerts[alert_id] = _Alert(alert_id, when)
        return alert

    for _, entry in sorted(entries, key=lambda e: e[0]):
        body = entry.body
        when = parse_time(body.get("recorded_at"))
        if when is None or when > at:
            continue
        if entry.type is EntryType.DECLARATION_VERSION:
            if body.get("owner_id") != party_id:
                continue
            decl = body.get("body") if isinstance(body.get("body"), Mapping) else {}
            assert isinstance(decl, Mapping)
            prev = own.get(body.get("declaration_id"))
            if prev is not None and prev["version"] > body.get("version", 0):
                continue
            own[body.get("declaration_id")] = _declaration_json(
                decl_id=body.get("declaration_id"), version=body.get("version"), owner_id=party_id,
                kind=decl.get("kind"), state=body.get("state", decl.get("state")), title=decl.get("title"),
                precision="full", extent=_volumes_extent(decl.get("volumes")), disclose_title=True)
        elif entry.type is EntryType.NOTIFICATION_DELIVERY:
            if body.get("recipient_id") != party_id:
                continue
            nid = body.get("id", body.get("notification_id"))
            if body.get("event") == "created":
                created[nid] = (body, when)
                payload = body.get("payload") if isinstance(body.get("payload"), Mapping) else {}
                assert isinstance(payload, Mapping)
                if isinstance(payload.get("alert"), Mapping):
                    _alert_notice(payload, when, party_id, alert_of, seen)
            elif body.get("event") == "delivered" and nid in created and nid not in delivered:
                delivered[nid] = body
                made = created[nid][0]
                shown = made.get("payload")
                if made.get("sender_id") != party_id and not (isinstance(shown, Mapping)
                                                             and isinstance(shown.get("alert"), Mapping)):
                    decl = _other_declaration(made)  # known to the party once delivered to it
                    prev = others.get(decl["id"]) if decl is not None else None
                    if decl is not None and (prev is None or (decl["version"] or 0) >= (prev["version"] or 0)):
                        others[decl["id"]] = decl
        elif entry.type is EntryType.ACKNOWLEDGEMENT:
            if body.get("recipient_id") == party_id:
                acked.setdefault(body.get("notification_id"), body)
        elif entry.type is EntryType.ESCALATION:
            if body.get("recipient_id") == party_id:
                nid = body.get("notification_id")
                level = body.get("level")
                levels[nid] = max(levels.get(nid, 0), level if isinstance(level, int) else 0)
        elif entry.type is EntryType.ALERT:
            _alert_entry(body, when, party_id, alert_of, seen)

    declarations = [d for d in [*own.values(), *(o for k, o in others.items() if k not in own)] if _active(d, at)]
    notifications = [_notification(nid, created[nid], delivered[nid], acked.get(nid), levels.get(nid, 0), at)
                     for nid in created if nid in delivered]
    notifications.sort(key=lambda n: (n["delivered_at"] or "", n["id"]))
    active = [{"id": a.id, "kind": a.kind, "state": a.state, "raised_at": _iso(a.raised_at), "parties": a.parties,
               "tracks": [{k: p[k] for k in ("key", "lat", "lng", "alt_m")} for p in a.tracks.values()]}
              for a in alerts.values() if a.state != "cleared"]
    return {"at": _iso(at), "party_id": party_id, "declarations": declarations, "notifications": notifications,
            "alerts": active, "tracks": sorted(tracks.values(), key=lambda p: str(p["key"]))}


def _alert_notice(payload: Mapping[str, Any], when: datetime, party_id: str, alert_of: Any, seen: Any) -> None:
    """An alert as an alert notification showed it to the party: its own side, and the other as disclosed."""
    view = payload["alert"]
    alert_id = view.get("id")
    if not isinstance(alert_id, str):
        return
    alert: _Alert = alert_of(alert_id, parse_time(view.get("raised_at")) or when)
    if isinstance(view.get("kind"), str):
        alert.kind = view["kind"]
    if payload.get("event") == "cleared" or view.get("state") == "cleared":
        alert.state = "cleared"
    elif isinstance(view.get("state"), str):
        alert.state = view["state"]
    if party_id not in alert.parties:
        alert.parties.append(party_id)
    for side in ("own", "other", "aircraft"):  # "aircraft": a hazard entry as its hazard's owner is shown it
        track = view.get(side)
        if not isinstance(track, Mapping):
            continue
        side = "other" if side == "aircraft" else side
        key = f"alert:{alert_id}:{side}"
        if side == "own" or track.get("disclosure") != "none":
            if track.get("asset_id"):
                key = f"asset:{track['asset_id']}"
            elif track.get("icao24"):
                key = f"icao:{track['icao24']}"
        if side == "other":
            alert.other_key = key
        seen(key, _position(key, track, when), alert)


def _alert_entry(body: Mapping[str, Any], when: datetime, party_id: str, alert_of: Any, seen: Any) -> None:
    """An ALERT entry (raised / updated / cleared), read by the fields named in the module docstring. A track
    the party does not own is named as the alert notifications named it (its identity only when disclosed),
    else `alert:<id>:other`."""
    alert_id = body.get("alert_id", body.get("id"))
    if not isinstance(alert_id, str):
        return
    alert: _Alert = alert_of(alert_id, parse_time(body.get("raised_at")) or when)
    if isinstance(body.get("kind"), str):
        alert.kind = body["kind"]
    event = body.get("event", body.get("state"))
    alert.state = "cleared" if event == "cleared" else "active"
    parties = body.get("parties")
    if not isinstance(parties, list):
        parties = [body.get("party_a"), body.get("party_b")]
    for p in parties:
        if isinstance(p, str) and p not in alert.parties:
            alert.parties.append(p)
    items = _track_items(body.get("tracks", body.get("positions")))
    foreign = [n for n, (key, track) in enumerate(items)
               if key is None or party_id not in (track.get("owner_id"), track.get("owner"), track.get("party_id"))]
    for n, (key, track) in enumerate(items):
        if n in foreign:
            key = alert.other_key if len(foreign) == 1 else f"alert:{alert_id}:{n}"
        assert key is not None
        seen(key, _position(key, track, when), alert)


def _notification(nid: Any, made: tuple[Mapping[str, Any], datetime], done: Mapping[str, Any],
                  ack: Mapping[str, Any] | None, level: int, at: datetime) -> dict[str, Any]:
    body, _ = made
    payload = body.get("payload") if isinstance(body.get("payload"), Mapping) else {}
    assert isinstance(payload, Mapping)
    view = payload.get("declaration", payload.get("hazard"))
    view = view if isinstance(view, Mapping) else {}
    if isinstance(payload.get("alert"), Mapping):
        precision = "full"
    else:
        decl = _other_declaration(body) if body.get("sender_id") != body.get("recipient_id") else None
        precision = decl["precision"] if decl is not None else ("full" if view.get("disclosure") in ("full", "own")
                                                                 else "none")
    deadline = parse_time(body.get("ack_deadline_at"))
    if ack is not None:
        state = "acknowledged"
    elif level > 0:
        state = "escalated"
    elif deadline is not None and at > deadline:
        state = "overdue"
    else:
        state = "pending"
    return {
        "id": nid, "reason": body.get("reason"), "declaration_id": body.get("declaration_id"),
        "declaration_version": body.get("declaration_version"), "sender_id": body.get("sender_id"),
        "delivered_at": done.get("delivered_at"), "via": done.get("via"), "lead_time_s": done.get("lead_time_s"),
        "late": bool(done.get("late")), "min_notice_s": body.get("min_notice_s"),
        "starts_at": body.get("starts_at"), "ack_deadline_at": body.get("ack_deadline_at"),
        "precision": precision,
        "ack": {"state": state, "at": ack.get("acked_at") if ack is not None else None,
                "reply": ack.get("reply") if ack is not None else None,
                "text": ack.get("text") if ack is not None else None, "level": level},
    }
