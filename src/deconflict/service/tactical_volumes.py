"""Live tracks against declared volumes (issue 6's screening list), found through the strategic index.

- Hazard entry: an airborne aircraft inside, or predicted (straight line, within the look-ahead) to enter, a
  live `hazard`, `protected` or live induced-hazard volume of another party. The index is asked for the volumes
  sharing a point with a small 4D volume around the predicted segment (a circle around it, the altitudes it
  spans, now to the look-ahead's end); each is then tested exactly (`core.tactical.volumes.path_inside`; an
  induced hazard only while an activity keeps it live). Need-to-know: an identified aircraft is screened only
  against the hazards of parties it shares an agreement with (with none, nothing is disclosed to either side, as
  everywhere else); an unidentified one against every hazard, its owner being told what the aircraft
  broadcasts.
- Non-conformance: a party's identified aircraft outside every one of its own live `flight` declarations,
  laterally, vertically or in time (the reason is the first test no declaration passes: lateral, then vertical,
  then time; the alert lists the party's flights the aircraft lies over). Only parties that have live flight
  declarations are monitored.

Each finding is a `PairFinding` of (track key, "decl:<id>" or "conformance:<party id>") so that it goes through
the same `AlertBook` hysteresis, storage, notification and record as pair conflicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.footprint import FootprintBatch
from ..core.geo import geodetic_of
from ..core.strategic.engine import EngineKind
from ..core.tactical import Kinematics, PairFinding, TrackBatch
from ..core.tactical.volumes import path_inside, point_inside
from .state import ServiceState

__all__ = ["HAZARD", "NON_CONFORMANCE", "SEPARATION", "VolumeFinding", "alert_kind", "conformance_findings",
           "hazard_findings"]

SEPARATION, HAZARD, NON_CONFORMANCE = "separation", "hazard_entry", "non_conformance"
HAZARD_KINDS = (EngineKind.HAZARD, EngineKind.PROTECTED, EngineKind.INDUCED_HAZARD)
RELAXED_S = 7 * 86_400.0  #: how far in time a party's own flights are looked for, to say why one is outside
MARGIN_M = 50.0


def alert_kind(key_b: str) -> str:
    """An alert's kind from its second key (see the module docstring)."""
    if key_b.startswith("decl:"):
        return HAZARD
    if key_b.startswith("conformance:"):
        return NON_CONFORMANCE
    return SEPARATION


@dataclass(frozen=True, slots=True)
class VolumeFinding:
    finding: PairFinding
    party_b: str | None  #: the hazard's owner (non-conformance: None)
    detail: dict[str, Any] = field(default_factory=dict)  #: merged into the alert's prediction


def _query(lat: float, lng: float, radius: float, zlo: float, zhi: float, t0: float, t1: float) -> FootprintBatch:
    one = np.array
    return FootprintBatch.from_arrays(one([0, 1]), one([lat]), one([lng]), one([radius]), one([zlo]), one([zhi]),
                                      one([t0]), one([t1]))


def _where(pos: np.ndarray, alt: float) -> dict[str, float]:
    lat, lng = geodetic_of(float(pos[0]), float(pos[1]), float(pos[2]))
    return {"lat": round(lat, 6), "lng": round(lng, 6), "alt_m": round(alt, 1)}


def hazard_findings(state: ServiceState, batch: TrackBatch, kin: Kinematics, keys: list[str],
                    lookahead_s: float) -> list[VolumeFinding]:
    now = kin.now
    out: list[VolumeFinding] = []
    cache = state.cache
    with cache.lock:
        engine = cache.engine
        if not cache.hazardous:  # the common case: one set lookup instead of a query per aircraft
            return out
        for i in range(len(batch)):
            owner = batch.owner[i]
            pos, vel = kin.pos[i], kin.vel[i]
            alt, vs = float(kin.alt_m[i]), float(kin.vs_mps[i])
            mid = pos + vel * (lookahead_s / 2.0)
            lat, lng = geodetic_of(float(mid[0]), float(mid[1]), float(mid[2]))
            end_alt = alt + vs * lookahead_s
            around = _query(lat, lng, float(np.linalg.norm(vel)) * lookahead_s / 2.0 + MARGIN_M,
                            min(alt, end_alt) - 1.0, max(alt, end_alt) + 1.0, now, now + lookahead_s)
            for decl_id, hazard_owner, kind, fp in engine.touching(around, 0, HAZARD_KINDS, owner):
                if owner is not None and not cache.terms(owner, hazard_owner).related:
                    continue
                windows = [(float(fp.t0[0]), float(fp.t1[0]))]
                if kind is EngineKind.INDUCED_HAZARD:
                    live = [(a.timestamp(), b.timestamp()) for a, b in engine.activations(decl_id)]
                    windows = [(max(a, windows[0][0]), min(b, windows[0][1])) for a, b in live]
                hit = None
                for a, b in windows:
                    hit = path_inside(pos, vel, alt, vs, fp.ring(0), float(fp.radius[0]), float(fp.zlo[0]),
                                      float(fp.zhi[0]), a - now, b - now, lookahead_s)
                    if hit is not None:
                        break
                if hit is None:
                    continue
                t_in, t_out = hit
                entry = _where(pos + vel * t_in, alt + vs * t_in)
                finding = PairFinding(keys[i], f"decl:{decl_id}", t_in, 0.0, 0.0, t_in, t_out)
                out.append(VolumeFinding(finding, hazard_owner, {
                    "declaration_id": decl_id, "declaration_kind": "hazard" if kind is not EngineKind.PROTECTED
                    else "protected", "induced": kind is EngineKind.INDUCED_HAZARD, "inside_now": t_in == 0.0,
                    "entry": entry}))
    return out


def conformance_findings(state: ServiceState, batch: TrackBatch, kin: Kinematics,
                         keys: list[str]) -> list[VolumeFinding]:
    now = kin.now
    if not any(o is not None for o in batch.owner):
        return []
    out: list[VolumeFinding] = []
    with state.cache.lock:
        engine = state.cache.engine
        flying = set(state.cache.flights.values())  # kept by the cache, refreshed by the tick: no query per tick
        for i in range(len(batch)):
            owner = batch.owner[i]
            if owner is None or owner not in flying:
                continue
            pos, alt = kin.pos[i], float(kin.alt_m[i])
            lat, lng = geodetic_of(float(pos[0]), float(pos[1]), float(pos[2]))
            near = _query(lat, lng, 1.0, -1.0e4, 1.0e5, now - RELAXED_S, now + RELAXED_S)
            sides, ids = [], []
            for decl_id, decl_owner, _, fp in engine.touching(near, 0, (EngineKind.FLIGHT,)):
                if decl_owner == owner:
                    ids.append(decl_id)
                    sides.append(point_inside(pos, alt, fp.ring(0), float(fp.radius[0]), float(fp.zlo[0]),
                                              float(fp.zhi[0]), float(fp.t0[0]) - now, float(fp.t1[0]) - now))
            if any(s.inside for s in sides):
                continue
            reason = ("time" if any(s.lateral and s.vertical for s in sides) else
                      "vertical" if any(s.lateral for s in sides) else "lateral")
            finding = PairFinding(keys[i], f"conformance:{owner}", 0.0, 0.0, 0.0, 0.0, 0.0)
            out.append(VolumeFinding(finding, None, {"reason": reason, "declarations": sorted(set(ids)),
                                                     "position": _where(pos, alt)}))
    return out
