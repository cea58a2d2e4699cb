"""Screening: every pair of aircraft of different parties predicted to lose separation within the look-ahead.

How: a uniform grid over Earth-centred (ECEF) coordinates, built afresh each tick in O(N) (an open-addressing
hash of the occupied cells, a counting sort of the aircraft into them). Its cell is as large as the farthest two
aircraft can be and still meet: the widest lateral minimum + 2 x the fastest ground speed x the look-ahead (+ the
slack below). So every pair that can conflict lies in the same or adjacent cells, and each cell pairs with itself
and its 13 "forward" neighbours: each pair is looked at once, and the cost grows with the neighbours, not N^2.
ECEF cells have no seam at the antimeridian and no singularity at the poles. Single-threaded kernel (numba).

Each candidate pair is filtered by exact bounds of the model, cheapest first: same party; the vertical bound
(|dz| - |dvz| x look-ahead >= vertical minimum: never within it); the lateral bound (the chord between them
>= lateral minimum + both ground speeds x look-ahead + slack); then `cpa` in the pair's frame
(`deconflict.core.tactical.cpa` states the model). The slack is the most a position extrapolated along its ECEF
tangent line can stand off the ellipsoid ((speed x age)^2 / (2 x the least radius of curvature)) plus 1 m.

Parties: tracks carry a party code (0 .. P-1), or -1 when unidentified. An unidentified track is its own party
(screened against everyone, including other unidentified tracks). Minima come per pair of parties as matrices
`PartyMinima.lateral_m[a, b]`, `vertical_m[a, b]` of shape (P + 1, P + 1), the last row and column applying to
unidentified tracks, as the strategic engine takes agreements' minima. The look-ahead is one per screen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

from ...errors import InvalidInput
from ..geo import MIN_RADIUS_OF_CURVATURE_M
from .cpa import FT, NM, cpa, pair_frame
from .tracks import Kinematics, TrackBatch, kinematics

__all__ = [
    "DEFAULT_LATERAL_M",
    "DEFAULT_LOOKAHEAD_S",
    "DEFAULT_VERTICAL_M",
    "Findings",
    "PartyMinima",
    "UNIDENTIFIED",
    "screen",
    "screen_tracks",
]

DEFAULT_LATERAL_M = 5.0 * NM  #: 9,260 m
DEFAULT_VERTICAL_M = 1000.0 * FT  #: 304.8 m
DEFAULT_LOOKAHEAD_S = 300.0
UNIDENTIFIED = -1  #: party code of a track no party has registered
MIN_CELL_M = 10.0

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_BIAS = 1 << 20  # cell coordinates are biased into 21 bits each


def _half_offsets() -> IntArray:
    out = [(0, 0, 0)]
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dz in (-1, 0, 1):
                if (dx, dy, dz) > (0, 0, 0):
                    out.append((dx, dy, dz))
    return np.array(out, dtype=np.int64)


_OFFSETS = _half_offsets()  # (0,0,0) then the 13 lexicographically greater neighbours


@njit(cache=True, inline="always")
def _slot(key: int, bits: int) -> int:
    return int(np.int64((np.uint64(key) * _GOLDEN) >> np.uint64(64 - bits)))


@njit(cache=True)
def _grid_screen(pos: FloatArray, vel: FloatArray, alt: FloatArray, vs: FloatArray, spd: FloatArray,
                 party: IntArray, cls: IntArray, lat_m: FloatArray, vert_m: FloatArray, lookahead: float,
                 cell: float, slack: float, offsets: IntArray, out_ij: IntArray, out_f: FloatArray
                 ) -> tuple[int, int, int]:
    """Fill out_ij/out_f with the pairs that lose separation; returns (found, candidate pairs, CPAs computed).

    When more are found than out_ij holds, the count is still right and the caller retries with room."""
    n = pos.shape[0]
    bits = 1
    while (1 << bits) < 2 * n:
        bits += 1
    cap = 1 << bits
    mask = cap - 1
    hkeys = np.empty(cap, dtype=np.int64)
    hvals = np.full(cap, -1, dtype=np.int64)
    cell_of = np.empty(n, dtype=np.int64)
    cell_key = np.empty(n, dtype=np.int64)
    ncell = 0
    for i in range(n):
        ix = math.floor(pos[i, 0] / cell) + _BIAS
        iy = math.floor(pos[i, 1] / cell) + _BIAS
        iz = math.floor(pos[i, 2] / cell) + _BIAS
        key = (ix << 42) | (iy << 21) | iz
        s = _slot(key, bits)
        while hvals[s] >= 0 and hkeys[s] != key:
            s = (s + 1) & mask
        if hvals[s] < 0:
            hkeys[s] = key
            hvals[s] = ncell
            cell_key[ncell] = key
            ncell += 1
        cell_of[i] = hvals[s]
    start = np.zeros(ncell + 1, dtype=np.int64)
    for i in range(n):
        start[cell_of[i] + 1] += 1
    for c in range(ncell):
        start[c + 1] += start[c]
    fill = start[:ncell].copy()
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        c = cell_of[i]
        order[fill[c]] = i
        fill[c] += 1
    # gathered copies, so that a cell's aircraft sit together in memory
    p = np.empty((n, 3))
    v = np.empty((n, 3))
    a_alt = np.empty(n)
    a_vs = np.empty(n)
    a_spd = np.empty(n)
    a_party = np.empty(n, dtype=np.int64)
    a_cls = np.empty(n, dtype=np.int64)
    for k in range(n):
        i = order[k]
        for d in range(3):
            p[k, d] = pos[i, d]
            v[k, d] = vel[i, d]
        a_alt[k] = alt[i]
        a_vs[k] = vs[i]
        a_spd[k] = spd[i]
        a_party[k] = party[i]
        a_cls[k] = cls[i]
    found = 0
    candidates = 0
    computed = 0
    room = out_ij.shape[0]
    for c in range(ncell):
        key = cell_key[c]
        ix = key >> 42
        iy = (key >> 21) & 0x1FFFFF
        iz = key & 0x1FFFFF
        for o in range(offsets.shape[0]):
            if o == 0:
                nc = c
            else:
                nkey = ((ix + offsets[o, 0]) << 42) | ((iy + offsets[o, 1]) << 21) | (iz + offsets[o, 2])
                s = _slot(nkey, bits)
                nc = -1
                while hvals[s] >= 0:
                    if hkeys[s] == nkey:
                        nc = hvals[s]
                        break
                    s = (s + 1) & mask
                if nc < 0:
                    continue
            for a in range(start[c], start[c + 1]):
                b0 = a + 1 if o == 0 else start[nc]
                pa = a_party[a]
                ca = a_cls[a]
                for b in range(b0, start[nc + 1]):
                    candidates += 1
                    if pa == a_party[b] and pa >= 0:
                        continue
                    cb = a_cls[b]
                    vmin = vert_m[ca, cb]
                    dz = a_alt[b] - a_alt[a]
                    dvz = a_vs[b] - a_vs[a]
                    if abs(dz) - abs(dvz) * lookahead >= vmin:
                        continue
                    lmin = lat_m[ca, cb]
                    ex = p[b, 0] - p[a, 0]
                    ey = p[b, 1] - p[a, 1]
                    ez = p[b, 2] - p[a, 2]
                    reach = lmin + (a_spd[a] + a_spd[b]) * lookahead + slack
                    if ex * ex + ey * ey + ez * ez >= reach * reach:
                        continue
                    computed += 1
                    rx, ry, wx, wy = pair_frame(p[a, 0], p[a, 1], p[a, 2], v[a, 0], v[a, 1], v[a, 2],
                                                p[b, 0], p[b, 1], p[b, 2], v[b, 0], v[b, 1], v[b, 2])
                    t_cpa, d_h, d_v, t_in, t_out = cpa(rx, ry, wx, wy, dz, dvz, lmin, vmin, lookahead)
                    if math.isnan(t_in):
                        continue
                    if found < room:
                        i = order[a]
                        j = order[b]
                        out_ij[found, 0] = min(i, j)
                        out_ij[found, 1] = max(i, j)
                        out_f[found, 0] = t_cpa
                        out_f[found, 1] = d_h
                        out_f[found, 2] = d_v
                        out_f[found, 3] = t_in
                        out_f[found, 4] = t_out
                    found += 1
    return found, candidates, computed


@dataclass(frozen=True, slots=True)
class PartyMinima:
    """Separation minima per pair of parties (metres), the last row/column for unidentified tracks.

    `PartyMinima.of(parties, pairs={("a", "b"): (lateral_m, vertical_m)})` starts from the defaults (5 NM,
    1,000 ft) and sets the pairs named (symmetrically); None in a pair names the unidentified row."""

    parties: tuple[str, ...]
    lateral_m: FloatArray
    vertical_m: FloatArray

    @classmethod
    def of(cls, parties: Iterable[str], *, lateral_m: float = DEFAULT_LATERAL_M,
           vertical_m: float = DEFAULT_VERTICAL_M,
           pairs: Mapping[tuple[str | None, str | None], tuple[float, float]] | None = None) -> PartyMinima:
        names = tuple(parties)
        if len(set(names)) != len(names):
            raise InvalidInput("a party is named twice", field="parties")
        size = len(names) + 1
        lat = np.full((size, size), float(lateral_m))
        vert = np.full((size, size), float(vertical_m))
        idx = {p: k for k, p in enumerate(names)}
        for (a, b), (lm, vm) in (pairs or {}).items():
            if (a is not None and a not in idx) or (b is not None and b not in idx):
                raise InvalidInput(f"pair {(a, b)} names a party not in {names}", field="pairs")
            ia = len(names) if a is None else idx[a]
            ib = len(names) if b is None else idx[b]
            lat[ia, ib] = lat[ib, ia] = lm
            vert[ia, ib] = vert[ib, ia] = vm
        minima = cls(names, lat, vert)
        minima._check()
        return minima

    def _check(self) -> None:
        size = len(self.parties) + 1
        for name, m in (("lateral_m", self.lateral_m), ("vertical_m", self.vertical_m)):
            if m.shape != (size, size) or not np.all(np.isfinite(m)) or np.any(m < 0.0):
                raise InvalidInput(f"must be a ({size}, {size}) matrix of finite metres >= 0", field=name)
            if not np.array_equal(m, m.T):
                raise InvalidInput("must be symmetric", field=name)

    def codes(self, owners: Sequence[str | None] | npt.NDArray[np.object_]) -> IntArray:
        """Party codes of an owner column: the party's index, or UNIDENTIFIED (-1) for None.

        An owner that is not one of `parties` is refused (a track owned by a party without minima is a bug)."""
        idx = {p: k for k, p in enumerate(self.parties)}
        out = np.empty(len(owners), dtype=np.int64)
        for k, o in enumerate(owners):
            if o is None:
                out[k] = UNIDENTIFIED
            elif o in idx:
                out[k] = idx[o]
            else:
                raise InvalidInput(f"owner {o!r} is not one of the screened parties {self.parties}", field="owner")
        return out


@dataclass(frozen=True, slots=True)
class Findings:
    """Pairs predicted to lose separation, one row each, sorted by (i, j) with i < j (indices into the input).

    t_cpa_s, horizontal_m, vertical_m: the horizontal CPA (time from `now`, clamped to the look-ahead) and the
    separations then; t_in_s, t_out_s: when both minima are first and last violated together (t_in 0: already).
    """

    now: float
    i: IntArray
    j: IntArray
    t_cpa_s: FloatArray
    horizontal_m: FloatArray
    vertical_m: FloatArray
    t_in_s: FloatArray
    t_out_s: FloatArray
    candidates: int  #: pairs the grid put side by side
    computed: int  #: pairs that reached the CPA computation
    cell_m: float

    def __len__(self) -> int:
        return int(self.i.shape[0])

    def pairs(self) -> set[tuple[int, int]]:
        return set(zip(self.i.tolist(), self.j.tolist(), strict=True))


def _empty(now: float, cell: float) -> Findings:
    z = np.zeros(0)
    zi = np.zeros(0, dtype=np.int64)
    return Findings(now, zi, zi, z, z, z, z, z, 0, 0, cell)


def screen(kin: Kinematics, party: IntArray, minima: PartyMinima,
           lookahead_s: float = DEFAULT_LOOKAHEAD_S) -> Findings:
    """All pairs of different parties predicted to lose separation within `lookahead_s` of `kin.now`."""
    n = int(kin.pos.shape[0])
    if not lookahead_s > 0.0 or not math.isfinite(lookahead_s):
        raise InvalidInput("must be a positive number of seconds", field="lookahead_s")
    party = np.ascontiguousarray(party, dtype=np.int64)
    if party.shape != (n,):
        raise InvalidInput(f"expected {n} party codes, got shape {party.shape}", field="party")
    np_ = len(minima.parties)
    if n and (party.min() < UNIDENTIFIED or party.max() >= np_):
        raise InvalidInput(f"codes must lie in [-1, {np_})", field="party")
    for name, arr in (("pos", kin.pos), ("vel", kin.vel), ("alt_m", kin.alt_m), ("vs_mps", kin.vs_mps),
                      ("gs_mps", kin.gs_mps)):
        if not np.all(np.isfinite(arr)):
            raise InvalidInput("is not finite everywhere (validate tracks first: check_reports)", field=name)
    if n < 2:
        return _empty(kin.now, MIN_CELL_M)
    cls = np.where(party < 0, np_, party)
    fastest = float(kin.gs_mps.max())
    reach_drift = float(np.max(np.abs(kin.gs_mps * kin.age_s)))
    slack = reach_drift * reach_drift / (2.0 * MIN_RADIUS_OF_CURVATURE_M) + 1.0
    cell = max(float(minima.lateral_m.max()) + 2.0 * fastest * lookahead_s + slack, MIN_CELL_M)
    room = max(64, n // 4)
    while True:
        out_ij = np.empty((room, 2), dtype=np.int64)
        out_f = np.empty((room, 5))
        found, candidates, computed = _grid_screen(
            np.ascontiguousarray(kin.pos), np.ascontiguousarray(kin.vel), np.ascontiguousarray(kin.alt_m),
            np.ascontiguousarray(kin.vs_mps), np.ascontiguousarray(kin.gs_mps), party, cls, minima.lateral_m,
            minima.vertical_m, float(lookahead_s), cell, slack, _OFFSETS, out_ij, out_f)
        if found <= room:
            break
        room = found
    out_ij = out_ij[:found]
    out_f = out_f[:found]
    order = np.lexsort((out_ij[:, 1], out_ij[:, 0]))
    out_ij = out_ij[order]
    out_f = out_f[order]
    return Findings(kin.now, out_ij[:, 0].copy(), out_ij[:, 1].copy(), out_f[:, 0].copy(), out_f[:, 1].copy(),
                    out_f[:, 2].copy(), out_f[:, 3].copy(), out_f[:, 4].copy(), int(candidates), int(computed), cell)


def screen_tracks(batch: TrackBatch, now: float, minima: PartyMinima,
                  lookahead_s: float = DEFAULT_LOOKAHEAD_S) -> tuple[TrackBatch, Findings]:
    """Screen the airborne tracks of a batch (validated, recent) at `now`: (the airborne tracks, their findings).

    Tracks on the ground are left out (taxiing aircraft are not separated by these minima); indices in the
    findings refer to the returned batch."""
    airborne = batch.take(np.flatnonzero(~batch.on_ground))
    return airborne, screen(kinematics(airborne, now), minima.codes(airborne.owner), minima, lookahead_s)
