"""What a party is shown: its own data in full, a partner's only as their agreements disclose, else nothing.

Every response that carries another party's declaration or conflict goes through here; the need-to-know tests
check the endpoints against these rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..core.model import Volume4D
from ..core.protocol import Disclosure, coarse_conflict, coarse_view, conflict_area
from .codec import coarse_json, iso, volumes_from_json, volumes_json
from .engine_cache import EngineCache, PartyInfo

__all__ = ["ConflictRecord", "conflict_view", "declaration_view"]

if TYPE_CHECKING:
    from .reads import VolumeStore


def declaration_view(row: Any, viewer: PartyInfo, cache: EngineCache) -> dict[str, Any] | None:
    """A `declarations` row as `viewer` may see it, or None when nothing of it is disclosed to them."""
    if viewer.role == "admin" or row.owner_id == viewer.id:
        level = "own" if row.owner_id == viewer.id else Disclosure.FULL.value
    else:
        disclosed = cache.terms(viewer.id, row.owner_id).listing_disclosure()
        if disclosed is None:
            return None
        level = disclosed.value
    out: dict[str, Any] = {
        "id": row.id,
        "owner": cache.name(row.owner_id),
        "kind": row.kind,
        "activation": row.activation,
        "state": row.state,
        "version": row.version,
        "disclosure": level,
        "time_start": iso(row.time_start),
        "time_end": iso(row.time_end),
    }
    if level == Disclosure.COARSE.value:
        out["coarse"] = [coarse_json(coarse_view(v)) for v in volumes_from_json(row.volumes)]
        out["time_start"] = out["coarse"][0]["time_start"] if len(out["coarse"]) == 1 else out["time_start"]
        out["time_end"] = out["coarse"][0]["time_end"] if len(out["coarse"]) == 1 else out["time_end"]
        return out
    out.update(title=row.title, extra=row.extra, volumes=row.volumes, created_at=iso(row.created_at),
               updated_at=iso(row.updated_at))
    return out


@dataclass(frozen=True, slots=True)
class ConflictRecord:
    """A conflict between declaration a (the one whose write found it) and declaration b."""

    id: str
    declaration_a: str
    version_a: int
    party_a: str
    declaration_b: str
    version_b: int
    party_b: str
    window_start: datetime
    window_end: datetime
    lateral_m: float
    vertical_m: float
    time_gap_s: float
    severity: str
    policy: str
    volume_pairs: list[list[int]]
    state: str
    detected_at: datetime
    kind_b: str = ""
    kind_a: str = ""


def conflict_view(
    c: ConflictRecord, viewer: PartyInfo, cache: EngineCache, volumes: VolumeStore,
) -> dict[str, Any] | None:
    """A conflict as `viewer` may see it: its own side in full, the other side as disclosed; None if neither."""
    if viewer.id == c.party_a:
        own, other, own_kind, other_kind, pairs = "a", "b", c.kind_a, c.kind_b, c.volume_pairs
    elif viewer.id == c.party_b:
        own, other, own_kind, other_kind = "b", "a", c.kind_b, c.kind_a
        pairs = [[q, p] for p, q in c.volume_pairs]
    elif viewer.role == "admin":
        own, other, own_kind, other_kind, pairs = "a", "b", c.kind_a, c.kind_b, c.volume_pairs
    else:
        return None
    own_party, other_party = getattr(c, f"party_{own}"), getattr(c, f"party_{other}")
    own_decl, other_decl = getattr(c, f"declaration_{own}"), getattr(c, f"declaration_{other}")
    own_version, other_version = getattr(c, f"version_{own}"), getattr(c, f"version_{other}")
    terms = cache.terms(own_party, other_party)
    level = Disclosure.FULL if viewer.role == "admin" else terms.conflict_disclosure()
    if level is None:
        return None
    side: dict[str, Any] = {"party": cache.name(other_party), "declaration_id": other_decl,
                            "version": other_version, "kind": other_kind, "disclosure": level.value}
    if level is Disclosure.FULL:
        side["volumes"] = volumes(other_decl, other_version)  # the stored JSON, as declared
    elif level is Disclosure.CONFLICT_AREA:
        mine, theirs = volumes.parsed(own_decl, own_version), volumes.parsed(other_decl, other_version)
        area: list[Volume4D] = []
        for p, q in pairs:
            area.extend(conflict_area(theirs[q], mine[p], terms.minima))
        side["area"] = volumes_json(area)
    else:
        theirs = volumes.parsed(other_decl, other_version)
        used = sorted({q for _, q in pairs})
        side["coarse"] = [coarse_json(coarse_view(theirs[q])) for q in used]
    start, end, lateral, vertical, time_gap = c.window_start, c.window_end, c.lateral_m, c.vertical_m, c.time_gap_s
    if level is Disclosure.COARSE:  # exact figures would give the other side's exact times and boundary away
        figures = coarse_conflict(start, end, lateral, vertical, time_gap)
        start, end, lateral, vertical, time_gap = (figures.window_start, figures.window_end,
                                                   figures.lateral_distance_m, figures.vertical_gap_m,
                                                   figures.time_gap_s)
    return {
        "id": c.id,
        "state": c.state,
        "severity": c.severity,
        "policy": c.policy,
        "window_start": iso(start),
        "window_end": iso(end),
        "lateral_distance_m": round(lateral, 3),
        "vertical_gap_m": round(vertical, 3),
        "time_gap_s": round(time_gap, 3),
        "detected_at": iso(c.detected_at),
        "declaration": {"id": own_decl, "version": own_version, "kind": own_kind},
        "other": side,
    }
