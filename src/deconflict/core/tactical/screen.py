"""Screening: every pair of aircraft of different parties predicted to lose separation within the look-ahead.

How: each aircraft's swept box, the axis-aligned box (Earth-centred, ECEF, metres) of the straight segment it
flies over the look-ahead, widened by half the band `box_band` on every side, and its altitude interval over
the look-ahead widened by half the widest vertical minimum. Two aircraft can lose separation only if their boxes
overlap on all four axes (proof at `box_band`). A uniform grid (per axis as large as the widest box along that
axis) files each aircraft once, by its box's centre, so overlapping boxes sit in the same or adjacent cells; each
cell pairs with itself and its 13 "forward" neighbours, each pair looked at once. The grid is a counting (radix)
sort of the cell keys, O(N) a tick; the 13 neighbours form 4 runs of 3 consecutive keys, found by pointers that
only move forward. Each cell first culls its neighbours against the union of its own boxes (one pass per
cell); each of its aircraft then tests what is left. Cells the size of a box rather than of the farthest two
aircraft can be and still meet make each aircraft meet ~4x fewer candidates (en-route: 35-39 instead of 138),
and the branch-free box test rejects ~97 % of those before any other work. ECEF cells have no seam at the
antimeridian and no singularity at the poles. Single-threaded kernel (numba); its buffers are reused between
ticks (per thread).

Each pair whose boxes overlap is then filtered by exact bounds of the model, cheapest first: same party; the
vertical bound (|dz| - |dvz| x look-ahead >= vertical minimum: never within it); the lateral bound (the chord
between them >= lateral minimum + both ground speeds x look-ahead + slack); then `cpa` in the pair's frame
(`deconflict.core.tactical.cpa` states the model), which alone decides. The boxes only skip pairs the model can
never report, so the answer is the same pair for pair and value for value as testing every pair. The slack is
the most a position extrapolated along its ECEF tangent line can stand off the ellipsoid
((speed x age)^2 / (2 x the least radius of curvature)) plus 1 m.

Parties: tracks carry a party code (0 .. P-1), or -1 when unidentified. An unidentified track is its own party
(screened against everyone, including other unidentified tracks). Minima come per pair of parties as matrices
`PartyMinima.lateral_m[a, b]`, `vertical_m[a, b]` of shape (P + 1, P + 1), the last row and column applying to
unidentified tracks, as the strategic engine takes agreements' minima. The look-ahead is one per screen.
"""

from __future__ import annotations

import math
import threading
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
    "box_band",
    "normal_bound",
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

_MAX_CELLS_PER_AXIS = 1 << 20  # so that a cell key (3 axes, padded) fits in 63 bits
_RADIX_BITS = 11
_B_M = 6356752.314245179  # WGS84 semi-minor axis: no point of the ellipsoid is nearer the centre


def box_band(lateral_max_m: float, fastest_mps: float, drift_max_m: float, lookahead_s: float,
             slack_m: float) -> float:
    """Band L (m) such that two aircraft that lose lateral separation come within L of each other along every
    ECEF axis at that time, so that their swept boxes, each widened by L/2, overlap: sqrt(lateral^2 + N^2) + 1 m,
    N from `normal_bound`."""
    normal = normal_bound(lateral_max_m, fastest_mps, drift_max_m, lookahead_s, slack_m)
    return math.sqrt(lateral_max_m * lateral_max_m + normal * normal) + 1.0


def normal_bound(lateral_max_m: float, fastest_mps: float, drift_max_m: float, lookahead_s: float,
                 slack_m: float) -> float:
    """N (m), the most the ECEF vector between two aircraft that can meet stands off their pair's tangent plane
    over the look-ahead, so that a loss of lateral separation puts them within sqrt(lateral^2 + N^2) in 3-D.

    Why: at the time t of a loss, the pair's horizontal distance |P x(t)| < lateral minimum, where x(t) is the
    ECEF vector between them and P the projection on the pair's tangent plane (normal n). So |x(t)| =
    sqrt(|P x(t)|^2 + (n.x(t))^2) < sqrt(lateral^2 + N^2), N bounding |n.x(t)|, and so is each component. Each
    velocity is tangent to the ellipsoid at its report's point, whose normal is within an angle theta of n:
    normals turn at most 1/R_min per metre, and that point is at most drift + reach/2 + the midpoint's depth from
    the surface point below the pair's midpoint (reach: the chord bound beyond which no pair can meet). So
    |n.(v_b - v_a)| <= 2 x fastest x theta; n.(p_b - p_a) is 0 for two surface points and the frame's normal at
    their midpoint, and moves by at most drift x chord / b (frame moved by the drift) + 2 x drift x theta. The
    factors 1.01/1.02 and the 1 m terms cover the chord-vs-arc difference and rounding."""
    r_min = MIN_RADIUS_OF_CURVATURE_M
    reach = lateral_max_m + 2.0 * fastest_mps * lookahead_s + slack_m
    depth = reach * reach / (8.0 * r_min) + slack_m
    theta = 1.01 * (drift_max_m + reach / 2.0 + depth) / r_min
    normal_d = 1.02 * drift_max_m * (reach + 2.0 * drift_max_m) / (0.99 * _B_M) + 2.0 * drift_max_m * theta
    return normal_d + 2.0 * fastest_mps * lookahead_s * theta + 1.0


@njit(cache=True)
def _cell_keys(pos: FloatArray, vel: FloatArray, alt: FloatArray, vs: FloatArray, spd: FloatArray,
               party: IntArray, n_parties: int, lookahead: float, band: float, keys: IntArray,
               rec: FloatArray) -> tuple[int, int, int, float]:
    """Each aircraft's cell key (its box centre's cell, axes padded by one cell each side so that neighbour keys
    never wrap), and its record (position, velocity, altitude, vertical rate, ground speed, party, minima class:
    one place to read when gathered); returns (key bits, padded cells along y, along z, the largest cell side)."""
    n = pos.shape[0]
    half = 0.5 * lookahead
    ext = np.zeros(3)
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    for i in range(n):
        for d in range(3):
            ext[d] = max(ext[d], abs(vel[i, d]))
            c = pos[i, d] + vel[i, d] * half
            lo[d] = min(lo[d], c)
            hi[d] = max(hi[d], c)
    size = np.empty(3)
    dims = np.empty(3, dtype=np.int64)
    for d in range(3):
        # as wide as the widest box along the axis (a hair more for rounding), and not so small that the key
        # overflows
        size[d] = max((ext[d] * lookahead + band) * (1.0 + 1e-9), MIN_CELL_M,
                      (hi[d] - lo[d]) / _MAX_CELLS_PER_AXIS)
        dims[d] = np.int64(math.floor((hi[d] - lo[d]) / size[d])) + 3
    for i in range(n):
        key = 0
        for d in range(3):
            key = key * dims[d] + np.int64(math.floor((pos[i, d] + vel[i, d] * half - lo[d]) / size[d])) + 1
            rec[i, d] = pos[i, d]
            rec[i, 3 + d] = vel[i, d]
        keys[i] = key
        rec[i, 6] = alt[i]
        rec[i, 7] = vs[i]
        rec[i, 8] = spd[i]
        rec[i, 9] = party[i]
        rec[i, 10] = n_parties if party[i] < 0 else party[i]
    total = dims[0] * dims[1] * dims[2]
    bits = 0
    while (np.int64(1) << bits) < total:
        bits += 1
    return bits, dims[1], dims[2], max(size[0], size[1], size[2])


@njit(cache=True)
def _radix_sort(keys: IntArray, bits: int, idx: IntArray, keys2: IntArray, idx2: IntArray,
                count: IntArray) -> bool:
    """LSD radix sort of `keys` with their positions `idx`; True when the result is in (keys2, idx2)."""
    n = keys.shape[0]
    for k in range(n):
        idx[k] = k
    passes = (bits + _RADIX_BITS - 1) // _RADIX_BITS
    if passes == 0:
        return False
    width = (bits + passes - 1) // passes
    nb = 1 << width
    mask = nb - 1
    shift = 0
    swapped = False
    for _ in range(passes):
        sk, si, dk, di = (keys2, idx2, keys, idx) if swapped else (keys, idx, keys2, idx2)
        count[: nb + 1] = 0
        for k in range(n):
            count[((sk[k] >> shift) & mask) + 1] += 1
        for d in range(nb):
            count[d + 1] += count[d]
        for k in range(n):
            digit = (sk[k] >> shift) & mask
            at = count[digit]
            dk[at] = sk[k]
            di[at] = si[k]
            count[digit] = at + 1
        swapped = not swapped
        shift += width
    return swapped


@njit(cache=True)
def _screen_cells(skey: IntArray, order: IntArray, dim_y: int, dim_z: int, rec: FloatArray, lat_m: FloatArray,
                  vert_m: FloatArray, lookahead: float, slack: float, band: float, vband: float, normal2: float,
                  box: FloatArray, kin: FloatArray, cell_key: IntArray, cell_start: IntArray, near: IntArray,
                  hits: IntArray, out_ij: IntArray, out_f: FloatArray) -> tuple[int, int, int]:
    """Fill out_ij/out_f with the pairs that lose separation; returns (found, candidate pairs, CPAs computed).

    When more are found than out_ij holds, the count is still right and the caller retries with room."""
    n = skey.shape[0]
    half = 0.5 * lookahead
    # gathered in cell order: box = centre xyz, half-widths xyz, altitude centre, half-height (one cache line);
    # kin = position, velocity, altitude, vertical rate, ground speed, party, minima class
    for k in range(n):
        i = order[k]
        for d in range(11):
            kin[k, d] = rec[i, d]
        for d in range(3):
            box[k, d] = kin[k, d] + kin[k, 3 + d] * half
            box[k, 3 + d] = abs(kin[k, 3 + d]) * half + 0.5 * band
        box[k, 6] = kin[k, 6] + kin[k, 7] * half
        box[k, 7] = abs(kin[k, 7]) * half + 0.5 * vband
    ncell = 0
    for k in range(n):
        if k == 0 or skey[k] != skey[k - 1]:
            cell_key[ncell] = skey[k]
            cell_start[ncell] = k
            ncell += 1
    cell_start[ncell] = n
    # the 13 forward neighbours of cell (x, y, z): (x, y, z+1) right after it, then the runs of 3 consecutive
    # keys around (x, y+1, z), (x+1, y-1, z), (x+1, y, z), (x+1, y+1, z)
    run = np.array([dim_z, (dim_y - 1) * dim_z, dim_y * dim_z, (dim_y + 1) * dim_z])
    first = np.zeros(4, dtype=np.int64)
    past = np.zeros(4, dtype=np.int64)
    lo = np.empty(5, dtype=np.int64)
    hi = np.empty(5, dtype=np.int64)
    union = np.empty(8)
    found = 0
    candidates = 0
    computed = 0
    room = out_ij.shape[0]
    for c in range(ncell):
        key = cell_key[c]
        hi[0] = cell_start[c + 2] if c + 1 < ncell and cell_key[c + 1] == key + 1 else cell_start[c + 1]
        for r in range(4):
            q = first[r]
            while q < ncell and cell_key[q] < key + run[r] - 1:
                q += 1
            first[r] = q
            q2 = max(past[r], q)
            while q2 < ncell and cell_key[q2] <= key + run[r] + 1:
                q2 += 1
            past[r] = q2
            lo[r + 1] = cell_start[q]
            hi[r + 1] = cell_start[q2]
        s0 = cell_start[c]
        s1 = cell_start[c + 1]
        # the cell's boxes' union: a candidate that misses it misses every box of the cell (one pass per cell)
        for d in range(4):
            union[d] = np.inf
            union[4 + d] = -np.inf
        for a in range(s0, s1):
            for d in range(3):
                union[d] = min(union[d], box[a, d] - box[a, 3 + d])
                union[4 + d] = max(union[4 + d], box[a, d] + box[a, 3 + d])
            union[3] = min(union[3], box[a, 6] - box[a, 7])
            union[7] = max(union[7], box[a, 6] + box[a, 7])
        lo[0] = s0 + 1
        m_near = 0
        for r in range(5):
            for b in range(lo[r], hi[r]):
                near[m_near] = b
                m_near += int((box[b, 0] + box[b, 3] > union[0]) & (box[b, 0] - box[b, 3] < union[4])
                              & (box[b, 1] + box[b, 4] > union[1]) & (box[b, 1] - box[b, 4] < union[5])
                              & (box[b, 2] + box[b, 5] > union[2]) & (box[b, 2] - box[b, 5] < union[6])
                              & (box[b, 6] + box[b, 7] > union[3]) & (box[b, 6] - box[b, 7] < union[7]))
        for a in range(s0, s1):
            ax, ay, az, hx, hy, hz, za, ha = box[a, 0], box[a, 1], box[a, 2], box[a, 3], box[a, 4], box[a, 5], \
                box[a, 6], box[a, 7]
            candidates += hi[0] - a - 1 + hi[1] - lo[1] + hi[2] - lo[2] + hi[3] - lo[3] + hi[4] - lo[4]
            m = 0
            for k in range(m_near):
                # branch-free: most candidates fail, at random
                b = near[k]
                hits[m] = b
                m += int((b > a) & (abs(box[b, 0] - ax) < hx + box[b, 3]) & (abs(box[b, 1] - ay) < hy + box[b, 4])
                         & (abs(box[b, 2] - az) < hz + box[b, 5]) & (abs(box[b, 6] - za) < ha + box[b, 7]))
            if m == 0:
                continue
            pa = np.int64(kin[a, 9])
            ca = np.int64(kin[a, 10])
            for h in range(m):
                b = hits[h]
                if pa == np.int64(kin[b, 9]) and pa >= 0:
                    continue
                cb = np.int64(kin[b, 10])
                vmin = vert_m[ca, cb]
                dz = kin[b, 6] - kin[a, 6]
                dvz = kin[b, 7] - kin[a, 7]
                if abs(dz) - abs(dvz) * lookahead >= vmin:
                    continue
                lmin = lat_m[ca, cb]
                ex = kin[b, 0] - kin[a, 0]
                ey = kin[b, 1] - kin[a, 1]
                ez = kin[b, 2] - kin[a, 2]
                reach = lmin + (kin[a, 8] + kin[b, 8]) * lookahead + slack
                if ex * ex + ey * ey + ez * ez >= reach * reach:
                    continue
                # closest approach in 3-D over the look-ahead: a loss needs it below sqrt(lateral^2 + N^2)
                ux = kin[b, 3] - kin[a, 3]
                uy = kin[b, 4] - kin[a, 4]
                uz = kin[b, 5] - kin[a, 5]
                u2 = ux * ux + uy * uy + uz * uz
                t = 0.0 if u2 == 0.0 else min(max(-(ex * ux + ey * uy + ez * uz) / u2, 0.0), lookahead)
                ex += ux * t
                ey += uy * t
                ez += uz * t
                if ex * ex + ey * ey + ez * ez >= (lmin + 1.0) * (lmin + 1.0) + normal2:
                    continue
                computed += 1
                rx, ry, wx, wy = pair_frame(kin[a, 0], kin[a, 1], kin[a, 2], kin[a, 3], kin[a, 4], kin[a, 5],
                                            kin[b, 0], kin[b, 1], kin[b, 2], kin[b, 3], kin[b, 4], kin[b, 5])
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


class _Buffers(threading.local):
    """The kernels' working arrays, kept between ticks (a tick allocates nothing of size N once warm)."""

    def __init__(self) -> None:
        self.capacity = 0
        self.count = np.empty((1 << _RADIX_BITS) + 1, dtype=np.int64)
        self.out_ij = np.empty((64, 2), dtype=np.int64)
        self.out_f = np.empty((64, 5))

    def ensure(self, n: int) -> None:
        if n <= self.capacity:
            return
        cap = max(n, 2 * self.capacity)
        self.keys, self.keys2 = np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64)
        self.idx, self.idx2 = np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64)
        self.rec = np.empty((cap, 11))
        self.box = np.empty((cap, 8))
        self.kin = np.empty((cap, 11))
        self.cell_key = np.empty(cap, dtype=np.int64)
        self.cell_start = np.empty(cap + 1, dtype=np.int64)
        self.hits = np.empty(cap, dtype=np.int64)
        self.near = np.empty(cap, dtype=np.int64)
        self.capacity = cap


_BUFFERS = _Buffers()


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
    cell_m: float  #: the largest side of a grid cell

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
    fastest = float(kin.gs_mps.max())
    drift = float(np.max(np.abs(kin.gs_mps * kin.age_s)))
    slack = drift * drift / (2.0 * MIN_RADIUS_OF_CURVATURE_M) + 1.0
    lookahead = float(lookahead_s)
    normal = normal_bound(float(minima.lateral_m.max()), fastest, drift, lookahead, slack)
    band = box_band(float(minima.lateral_m.max()), fastest, drift, lookahead, slack)
    # the altitude intervals are widened by the widest vertical minimum and a hair for rounding
    vmax = float(minima.vertical_m.max())
    vband = vmax * (1.0 + 1e-9) + 1e-3
    buf = _BUFFERS
    buf.ensure(n)
    keys, keys2, idx, idx2 = buf.keys[:n], buf.keys2[:n], buf.idx[:n], buf.idx2[:n]
    bits, dim_y, dim_z, cell = _cell_keys(
        np.ascontiguousarray(kin.pos), np.ascontiguousarray(kin.vel), np.ascontiguousarray(kin.alt_m),
        np.ascontiguousarray(kin.vs_mps), np.ascontiguousarray(kin.gs_mps), party, np_, lookahead, band, keys,
        buf.rec[:n])
    if _radix_sort(keys, bits, idx, keys2, idx2, buf.count):
        keys, idx = keys2, idx2
    while True:
        found, candidates, computed = _screen_cells(
            keys, idx, dim_y, dim_z, buf.rec[:n], minima.lateral_m, minima.vertical_m, lookahead, slack,
            band, vband, normal * normal, buf.box, buf.kin, buf.cell_key, buf.cell_start, buf.near, buf.hits,
            buf.out_ij, buf.out_f)
        if found <= buf.out_ij.shape[0]:
            break
        buf.out_ij = np.empty((found, 2), dtype=np.int64)
        buf.out_f = np.empty((found, 5))
    out_ij = buf.out_ij[:found]
    out_f = buf.out_f[:found]
    order = np.argsort(out_ij[:, 0] * n + out_ij[:, 1])
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
