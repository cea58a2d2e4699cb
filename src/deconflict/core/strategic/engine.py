"""`StrategicEngine`: which declarations of other parties conflict with this one, after separation minima.

Declaration-level face of `VolumeIndex`: party names become small integers, agreements' minima a matrix, and
volume hits are reported as `Conflict`s between declarations. Pure: no clock (callers pass `now`), no I/O.

Which kinds can conflict (`DEFAULT_KIND_RULES`): everything that flies or acts meets everything; static
declarations (hazard, protected, restriction) do not conflict with each other except a hazard over a protected
site. An induced hazard conflicts with nothing by itself: it is live only while an activity intersects it,
which `activations()` tells.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from ... import errors
from ...errors import UnknownEntity
from ..footprint import FootprintBatch
from ..model import Activation, Declaration, DeclarationKind, SeparationMinima
from .grid import I_KIND
from .index import VolumeIndex

__all__ = [
    "DEFAULT_KIND_RULES",
    "Conflict",
    "ConflictSet",
    "EngineKind",
    "Severity",
    "StrategicEngine",
    "engine_kind",
]


class EngineKind(enum.IntEnum):
    """Declaration kinds as the index files them (an induced hazard is its own kind)."""

    FLIGHT = 0
    ACTIVITY = 1
    HAZARD = 2
    PROTECTED = 3
    RESTRICTION = 4
    INDUCED_HAZARD = 5


def engine_kind(kind: DeclarationKind, activation: Activation = Activation.ALWAYS) -> EngineKind:
    if kind is DeclarationKind.HAZARD and activation is Activation.INDUCED:
        return EngineKind.INDUCED_HAZARD
    return EngineKind[kind.name]


def _kind_rules() -> npt.NDArray[np.uint8]:
    k = EngineKind
    movers = (k.FLIGHT, k.ACTIVITY)
    rules = np.zeros((len(k), len(k)), dtype=np.uint8)
    for a in movers:
        for b in (k.FLIGHT, k.ACTIVITY, k.HAZARD, k.PROTECTED, k.RESTRICTION):
            rules[a, b] = rules[b, a] = 1
    rules[k.HAZARD, k.PROTECTED] = rules[k.PROTECTED, k.HAZARD] = 1
    return rules


DEFAULT_KIND_RULES = _kind_rules()
NO_MINIMA = SeparationMinima()  #: without an agreement, only volumes that share a point conflict


class Severity(enum.StrEnum):
    """`overlap`: the volumes themselves share a point; `proximity`: only the minima are breached."""

    OVERLAP = "overlap"
    PROXIMITY = "proximity"


@dataclass(frozen=True, slots=True)
class Conflict:
    """A conflict between the checked declaration and another party's declaration.

    window: when it applies: the overlap of the two time windows, or the gap between them when they are only
    within the time minimum. Distances are the least over all pairs of their volumes.
    """

    declaration_id: str
    other_declaration_id: str
    other_owner: str
    window_start: datetime
    window_end: datetime
    lateral_distance_m: float
    vertical_gap_m: float
    time_gap_s: float
    severity: Severity
    volume_pairs: tuple[tuple[int, int], ...]


@dataclass(slots=True)
class ConflictSet:
    """Volume-pair hits of one check, as columns (cheap to build); `conflicts()` groups them by declaration."""

    declaration_id: str
    query_volume: npt.NDArray[np.int64]
    other_decl: npt.NDArray[np.int64]
    other_volume: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]  # lateral m, vertical gap m, time gap s
    window: npt.NDArray[np.float64]  # epoch seconds (start, end)
    _engine: StrategicEngine

    def __len__(self) -> int:
        return int(self.query_volume.shape[0])

    @property
    def other_declaration_ids(self) -> list[str]:
        """Distinct conflicting declarations, in order of first hit."""
        ids = self._engine._decl_ids
        seen: dict[str, None] = {}
        for d in self.other_decl.tolist():
            seen.setdefault(ids[d], None)
        return list(seen)

    def conflicts(self) -> list[Conflict]:
        """One `Conflict` per other declaration, in order of first hit: the least distances and gaps over its
        volume pairs, the union of their windows. Grouped with numpy (sort, reduceat), then built from lists: a
        check at 1M finds about 170 pairs, and per-group numpy calls cost about 20 us a conflict."""
        n = len(self)
        if n == 0:
            return []
        order = np.argsort(self.other_decl, kind="stable")  # stable: a group's rows keep their order
        decl = self.other_decl[order]
        starts = np.flatnonzero(np.concatenate(([True], decl[1:] != decl[:-1])))
        vals = self.values[order]
        win = self.window[order]
        lateral = np.minimum.reduceat(vals[:, 0], starts).tolist()
        vertical = np.minimum.reduceat(vals[:, 1], starts).tolist()
        tgap = np.minimum.reduceat(vals[:, 2], starts).tolist()
        overlap = np.logical_or.reduceat(np.all(vals == 0.0, axis=1), starts).tolist()
        wstart = np.minimum.reduceat(win[:, 0], starts).tolist()
        wend = np.maximum.reduceat(win[:, 1], starts).tolist()
        pairs = list(zip(self.query_volume[order].tolist(), self.other_volume[order].tolist(), strict=True))
        ends = [*starts[1:].tolist(), n]
        first = starts.tolist()
        groups = decl[starts].tolist()
        eng = self._engine
        out = []
        for g in np.argsort(order[starts], kind="stable").tolist():  # groups in order of their first hit
            d = groups[g]
            out.append(
                Conflict(
                    declaration_id=self.declaration_id,
                    other_declaration_id=eng._decl_ids[d],
                    other_owner=eng._decl_owner[d],
                    window_start=_dt(wstart[g]),
                    window_end=_dt(wend[g]),
                    lateral_distance_m=lateral[g],
                    vertical_gap_m=vertical[g],
                    time_gap_s=tgap[g],
                    severity=Severity.OVERLAP if overlap[g] else Severity.PROXIMITY,
                    volume_pairs=tuple(pairs[first[g] : ends[g]]),
                )
            )
        return out


_ZEROS = np.zeros(4096, dtype=np.int64)
_ZEROS.flags.writeable = False


def _zeros(n: int) -> npt.NDArray[np.int64]:
    """n zeros, as a read-only view when that is cheaper than allocating them."""
    return _ZEROS[:n] if n <= _ZEROS.shape[0] else np.zeros(n, dtype=np.int64)


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


class StrategicEngine:
    """An index of every party's live declarations that finds conflicts on insert, update and check.

    >>> engine = StrategicEngine(default_minima=SeparationMinima(9260, 300, 60))
    """

    def __init__(
        self,
        *,
        default_minima: SeparationMinima = NO_MINIMA,
        kind_rules: npt.NDArray[np.uint8] = DEFAULT_KIND_RULES,
        capacity: int = 1024,
    ) -> None:
        self.default_minima = default_minima
        self.kind_rules = np.ascontiguousarray(kind_rules, dtype=np.uint8)
        self.index = VolumeIndex(capacity)
        self._party_index: dict[str, int] = {}
        self._parties: list[str] = []
        self._minima = np.zeros((0, 0, 3))
        self._decl_index: dict[str, int] = {}
        self._decl_ids: list[str] = []
        self._decl_owner: list[str] = []
        self._decl_slots: list[int | list[int]] = []  # an int for a declaration of one volume
        self._slot_decl = np.full(max(capacity, 16), -1, dtype=np.int64)
        self._slot_volume = np.zeros(max(capacity, 16), dtype=np.int64)

    # -- parties and minima ------------------------------------------------------------------------------
    def party(self, name: str) -> int:
        """The small integer standing for a party (registered on first use)."""
        p = self._party_index.get(name)
        if p is None:
            p = len(self._parties)
            self._party_index[name] = p
            self._parties.append(name)
            n = p + 1
            grown = np.empty((n, n, 3))
            grown[:] = (self.default_minima.lateral_m, self.default_minima.vertical_m, self.default_minima.time_s)
            grown[:p, :p] = self._minima
            self._minima = grown
        return p

    def set_minima(self, a: str, b: str, minima: SeparationMinima) -> None:
        """Minima between two parties (symmetric); several agreements between the same pair: call `widest`."""
        pa, pb = self.party(a), self.party(b)
        row = (minima.lateral_m, minima.vertical_m, minima.time_s)
        self._minima[pa, pb] = row
        self._minima[pb, pa] = row

    def minima(self, a: str, b: str) -> SeparationMinima:
        m = self._minima[self.party(a), self.party(b)]
        return SeparationMinima(float(m[0]), float(m[1]), float(m[2]))

    # -- declarations ------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._decl_index)

    def __contains__(self, declaration_id: object) -> bool:
        return declaration_id in self._decl_index

    def check(self, declaration: Declaration, footprints: FootprintBatch | None = None) -> ConflictSet:
        """Conflicts the declaration would have, without filing it. `footprints` spares recomputing them."""
        batch = footprints if footprints is not None else FootprintBatch.of(declaration.volumes)
        kind = engine_kind(declaration.kind, declaration.activation)
        return self._check(declaration.id, self.party(declaration.owner), kind, batch)

    def check_footprints(self, declaration_id: str, owner: str, kind: EngineKind, batch: FootprintBatch) -> ConflictSet:
        """The array form of `check`."""
        return self._check(declaration_id, self.party(owner), kind, batch)

    def upsert(self, declaration: Declaration, footprints: FootprintBatch | None = None) -> ConflictSet:
        """File a declaration (replacing any earlier version with the same id) and return its conflicts."""
        batch = footprints if footprints is not None else FootprintBatch.of(declaration.volumes)
        kind = engine_kind(declaration.kind, declaration.activation)
        return self.upsert_footprints(declaration.id, declaration.owner, kind, batch)

    def upsert_footprints(
        self, declaration_id: str, owner: str, kind: EngineKind, batch: FootprintBatch
    ) -> ConflictSet:
        """The array form of `upsert`: the declaration's volumes as a prepared batch."""
        if declaration_id in self._decl_index:
            self.cancel(declaration_id)
        p = self.party(owner)
        if len(batch) == 1:  # the common case: check and file in one kernel call
            slot, labels, rows = self.index.check_and_insert(
                batch, self._minima[p], self.kind_rules[kind], p, int(kind), self._slot_decl, self._slot_volume
            )
            found = ConflictSet(declaration_id, _zeros(labels.shape[1]), labels[0], labels[1], rows[:, :3],
                                rows[:, 3:], self)
            self._register_one(declaration_id, owner, slot)
            return found
        found = self._check(declaration_id, p, kind, batch)
        slots = self.index.insert(batch, p, int(kind))
        self._register({declaration_id: len(self._decl_ids)}, [declaration_id], [owner], slots,
                       np.full(1, len(slots), dtype=np.int64))
        return found

    def load(
        self,
        ids: list[str],
        owners: list[str],
        kinds: list[EngineKind],
        batch: FootprintBatch,
        volume_counts: npt.NDArray[np.int64],
    ) -> None:
        """File many stored declarations at once, unchecked (start-up): declaration k owns the next
        volume_counts[k] footprints of `batch`."""
        numbers = self._refuse_filed(ids)
        counts = np.asarray(volume_counts, dtype=np.int64)
        decl_of_volume = np.repeat(np.arange(len(ids)), counts)
        party = {o: self.party(o) for o in dict.fromkeys(owners)}  # registered in order of first appearance
        party_of = np.fromiter((party[o] for o in owners), dtype=np.int64, count=len(owners))
        kind_of = np.fromiter(kinds, dtype=np.int64, count=len(kinds))
        slots = self.index.insert(batch, party_of[decl_of_volume], kind_of[decl_of_volume])
        self._register(numbers, ids, owners, slots, counts)

    def _refuse_filed(self, ids: list[str]) -> dict[str, int]:
        """Before touching the index: a bulk load must not file an id twice (the index would hold orphans).
        Returns the numbers the declarations will have."""
        first = len(self._decl_ids)
        numbers = dict(zip(ids, range(first, first + len(ids)), strict=True))
        if len(numbers) < len(ids) or not self._decl_index.keys().isdisjoint(numbers):
            seen: set[str] = set()
            for declaration_id in ids:
                if declaration_id in self._decl_index or declaration_id in seen:
                    raise errors.Conflict(f"declaration {declaration_id!r} is already filed",
                                          field="declaration_id")
                seen.add(declaration_id)
        return numbers

    def _register(self, numbers: dict[str, int], ids: list[str], owners: list[str], slots: npt.NDArray[np.int64],
                  counts: npt.NDArray[np.int64]) -> None:
        """Declaration k of `ids` owns the next counts[k] of `slots`. A declaration of one volume keeps its slot
        as an int, others a list (a million small lists or arrays take seconds to build)."""
        first = len(self._decl_ids)
        self._decl_index.update(numbers)
        self._decl_ids.extend(ids)
        self._decl_owner.extend(owners)
        flat = slots.tolist()
        if counts.shape[0] == len(flat) and bool(np.all(counts == 1)):
            self._decl_slots.extend(flat)
        else:
            ends = np.cumsum(counts).tolist()
            self._decl_slots.extend(flat[a] if b - a == 1 else flat[a:b]
                                    for a, b in zip([0, *ends[:-1]], ends, strict=True))
        if self._slot_decl.shape[0] < self.index.count:
            self._grow_slot_maps()
        self._slot_decl[slots] = np.repeat(np.arange(first, first + len(ids)), counts)
        self._slot_volume[slots] = np.arange(len(flat)) - np.repeat(np.cumsum(counts) - counts, counts)

    def _slots_of(self, d: int) -> list[int]:
        slots = self._decl_slots[d]
        return [slots] if isinstance(slots, int) else slots

    def _register_one(self, declaration_id: str, owner: str, slot: int) -> None:
        """`_register` of one declaration of one volume (the common upsert), lean."""
        d = len(self._decl_ids)
        self._decl_index[declaration_id] = d
        self._decl_ids.append(declaration_id)
        self._decl_owner.append(owner)
        self._decl_slots.append(slot)
        if slot >= self._slot_decl.shape[0]:
            self._grow_slot_maps()
        self._slot_decl[slot] = d
        self._slot_volume[slot] = 0

    def _grow_slot_maps(self) -> None:
        n = max(2 * self._slot_decl.shape[0], self.index.count)
        self._slot_decl = np.concatenate((self._slot_decl, np.full(n - self._slot_decl.shape[0], -1)))
        self._slot_volume = np.concatenate((self._slot_volume, np.zeros(n - self._slot_volume.shape[0], np.int64)))

    def cancel(self, declaration_id: str) -> None:
        """Remove a declaration's volumes from the index (cancelled, ended, or replaced by a new version)."""
        d = self._decl_index.pop(declaration_id, None)
        if d is None:
            raise UnknownEntity(f"no live declaration {declaration_id!r}", field="declaration_id")
        slots = self._slots_of(d)
        self.index.remove(slots)
        self._slot_decl[slots] = -1

    def expire(self, now: datetime) -> list[str]:
        """Drop volumes whose window ended before `now`; returns the declarations left with none."""
        slots = self.index.expire(now.timestamp())
        touched = {int(self._slot_decl[s]) for s in slots}
        self._slot_decl[slots] = -1
        gone = []
        for d in touched:
            if d >= 0 and not np.any(self._slot_decl[self._slots_of(d)] == d):
                gone.append(self._decl_ids[d])
                self._decl_index.pop(self._decl_ids[d], None)
        return gone

    def activations(self, hazard_id: str) -> list[tuple[datetime, datetime]]:
        """When an (induced) hazard is live: the merged windows during which activities intersect it."""
        d = self._decl_index.get(hazard_id)
        if d is None:
            raise UnknownEntity(f"no live declaration {hazard_id!r}", field="declaration_id")
        index = self.index
        mask = np.zeros(len(EngineKind), dtype=np.uint8)
        mask[EngineKind.ACTIVITY] = 1
        zero = np.zeros((len(self._parties), 3))
        intervals: list[tuple[float, float]] = []
        for slot in self._slots_of(d):
            batch = _slot_batch(index, int(slot))
            hits, _ = index.query(batch, 0, zero, mask, -1)
            t0, t1 = batch.t0[0], batch.t1[0]
            for h in hits.tolist():
                lo = max(t0, index.vf[h, 3])
                hi = min(t1, index.vf[h, 4])
                intervals.append((lo, hi))
        return [(_dt(a), _dt(b)) for a, b in _merge(intervals)]

    def intersecting(self, batch: FootprintBatch) -> list[str]:
        """Declarations (of any party and kind) with a volume sharing a point with one of `batch` (area queries)."""
        mask = np.ones(len(EngineKind), dtype=np.uint8)
        zero = np.zeros((max(len(self._parties), 1), 3))
        found: dict[str, None] = {}
        for i in range(len(batch)):
            slots, _ = self.index.query(batch, i, zero, mask, -1)
            for d in self._slot_decl[slots].tolist():
                if d >= 0:
                    found.setdefault(self._decl_ids[d], None)
        return list(found)

    def touching(self, batch: FootprintBatch, i: int, kinds: Iterable[EngineKind], skip_owner: str | None = None
                 ) -> list[tuple[str, str, EngineKind, FootprintBatch]]:
        """Live volumes of `kinds` sharing a point with footprint i of `batch`, not `skip_owner`'s: (declaration
        id, owner, kind, the volume's own footprint), for a caller's exact test (tactical screening)."""
        mask = np.zeros(len(EngineKind), dtype=np.uint8)
        for k in kinds:
            mask[int(k)] = 1
        zero = np.zeros((max(len(self._parties), 1), 3))
        skip = self._party_index.get(skip_owner, -1) if skip_owner is not None else -1
        slots, _ = self.index.query(batch, i, zero, mask, skip)
        out = []
        for s in slots.tolist():
            d = int(self._slot_decl[s])
            if d >= 0:
                out.append((self._decl_ids[d], self._decl_owner[d], EngineKind(int(self.index.vi[s, I_KIND])),
                            _slot_batch(self.index, s)))
        return out

    def declarations_of(self, owner: str) -> list[str]:
        return [i for i, d in self._decl_index.items() if self._decl_owner[d] == owner]

    # -- internals ---------------------------------------------------------------------------------------
    def _check(self, declaration_id: str, owner: int, kind: EngineKind, batch: FootprintBatch) -> ConflictSet:
        minima = self._minima[owner]
        mask = self.kind_rules[int(kind)]
        own = self._decl_index.get(declaration_id)
        n = len(batch)
        if n == 1:  # the common case, kept lean: one footprint, one kernel call
            s, rows = self.index.query_rows(batch, 0, minima, mask, owner)
            q = np.zeros(s.shape[0], dtype=np.int64)
        else:
            hits_q: list[npt.NDArray[np.int64]] = []
            hits_s: list[npt.NDArray[np.int64]] = []
            hits_v: list[npt.NDArray[np.float64]] = []
            for i in range(n):
                slots, values = self.index.query_rows(batch, i, minima, mask, owner)
                hits_q.append(np.full(slots.shape[0], i, dtype=np.int64))
                hits_s.append(slots)
                hits_v.append(values)
            q = np.concatenate(hits_q) if hits_q else np.empty(0, dtype=np.int64)
            s = np.concatenate(hits_s) if hits_s else np.empty(0, dtype=np.int64)
            rows = np.concatenate(hits_v) if hits_v else np.empty((0, 5))
        decl = self._slot_decl[s]
        if own is not None:  # an earlier version of the same declaration never conflicts with itself
            keep = decl != own
            q, s, decl, rows = q[keep], s[keep], decl[keep], rows[keep]
        return ConflictSet(declaration_id, q, decl, self._slot_volume[s], rows[:, :3], rows[:, 3:], self)


def _slot_batch(index: VolumeIndex, slot: int) -> FootprintBatch:
    """A one-footprint batch of a filed volume (to query with it)."""
    ps = int(index.vi[slot, 3])
    pc = int(index.vi[slot, 4])
    vf = index.vf
    return FootprintBatch(
        offsets=np.array([0, pc], dtype=np.int64),
        points=index.points[ps : ps + pc].copy(),
        radius=vf[slot : slot + 1, 0].copy(),
        zlo=vf[slot : slot + 1, 1].copy(),
        zhi=vf[slot : slot + 1, 2].copy(),
        t0=vf[slot : slot + 1, 3].copy(),
        t1=vf[slot : slot + 1, 4].copy(),
        bbox=vf[slot : slot + 1, 5:9].copy(),
    )


def _merge(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


