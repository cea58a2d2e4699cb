"""The strategic index's kernels (numba): a multi-resolution 4D grid over volumes held in flat arrays.

Why this shape: one query must touch few memory lines. Each volume is filed, with a copy of its 4D box, in the
cells of one grid level whose cells are at least as large as the volume in space (0.25 deg x 2^ks) and in time (1 h
x 2^kt); so it sits in at most 2 x 2 x 2 cells. Cells live in an open-addressing hash keyed by (level, lat row, lng
column, time bucket). Each cell keeps its entries contiguous, in a segment of a shared pool (segments of MINCAP x
2^k entries, doubled when full, recycled through per-size free lists), sorted by lower altitude, so a query scans
one contiguous run per cell, found by binary search: from the entries whose bottom could still reach the query (the
cell knows its thickest entry) to the first whose bottom is above it. An entry is the volume's box clipped to the
cell and quantised to 15 bits relative to it (altitude on a fixed 2 m scale), rounded outward: 16 bytes, four to a
cache line, tested against the query's box in a few word operations. Removal takes the entry out at once, so the
grid holds only live volumes. A query looks its cells up, then scans them (prefetching the segments of the cells
ahead), collecting candidates: entries whose boxes meet its own. It drops repeats (a volume filed in several of its
cells) with a small hash set, then runs the exact test on each candidate, prefetching the rows and vertices of
candidates further down the list, as those are cache misses. Bulk loads give volumes their slots grouped by cell,
so a cell's candidates lie side by side.

State arrays (owned by `VolumeIndex`, grown there):
  vf[v]  float64: radius, zlo, zhi, t0, t1, latmin, latmax, lngmin, lngmax
  vi[v]  int64:   alive, owner, kind, first point, point count
  xr[v]  float64 (xri: the same memory as int64), one 64-byte row: radius, zlo, zhi, t0, t1, first point, owner,
         point count | kind << 32: what the exact test reads, in one cache line (a copy of vf/vi's)
  points float64[:, 3] ECEF vertices; cells int64[c]: key, segment start, segment class, entries, thickest
  pool_vol int32[p]; pool_box uint64[p, 2]: lower and upper corner, four 16-bit lanes each (lat, lng, z, t;
    values 0..QMAX < 2^15; the upper corner has each lane's top bit set: see `_meets`); free_head int64[NCLASS]
  counters int64: see the C_* constants; level_count int64[NKS, NKT]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]
from numba import njit, types
from numba.core import cgutils as _cgutils
from numba.extending import intrinsic

from ..geo import MIN_RADIUS_OF_CURVATURE_M, frame_centre, frame_params, project_point
from ..jit import borrowing
from ..planar import boundary_distance, point_in_ring, shape_distance

MINCAP = 4  #: entries in the smallest segment; segment class k holds MINCAP << k
NCLASS = 32
QMAX = 32767  #: quantised coordinates run 0..QMAX across a cell (15 bits: see `_meets`)
QEPS = 1e-3  #: quantisation rounding margin (in quantisation steps) against float noise
Z_ORIGIN = -2_000.0  #: altitude quantisation: 2 m steps from here (clamped; the top step stands for above)
Z_SCALE = 0.5
LANE_TOP = np.uint64(0x8000800080008000)
BASE_DEG = 0.25
BASE_S = 3600.0
NKS = 11
NKT = 16
F_CORE = 16  #: frame[F_CORE]: the radius of the query's core disc (`_in_core`), after 14 frame numbers, 1/M, 1/N
CORE_MARGIN_M = 0.001  #: the core disc is taken this much smaller, and chords this much longer, against rounding
_CORE_K = 1.0 / (20.0 * MIN_RADIUS_OF_CURVATURE_M**2)
LATERAL_EPS_M = 0.001  #: float noise allowance: footprints that share an edge must touch, not miss by 1e-9 m

# vf columns
F_RADIUS, F_ZLO, F_ZHI, F_T0, F_T1, F_LATMIN, F_LATMAX, F_LNGMIN, F_LNGMAX = range(9)
NF = 9
# vi columns
I_ALIVE, I_OWNER, I_KIND, I_PSTART, I_PCOUNT = range(5)
NI = 5
# xr columns (one 64-byte row a volume, all the exact test reads but the vertices; xri is its int64 view)
X_RADIUS, X_ZLO, X_ZHI, X_T0, X_T1, X_PSTART, X_OWNER, X_PCKIND = range(8)
NX = 8
# cells columns
CK_KEY, CK_START, CK_CLS, CK_N, CK_DZ = range(5)
NCK = 8  #: padded: one cache line a cell
# counters
C_NCELLS, C_POOL_HWM, C_QUERY, C_LIVE_ENTRIES = range(4)
NCOUNTERS = 8

cgutils: Any = _cgutils  # numba's code-generation helpers are untyped
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
PF_FAR = 32  #: the query prefetches a candidate's vi/vf rows this many candidates ahead ...
PF_CELL = 2  #: the scan fetches the segments of the cells this many ahead of the one it scans ...
PF_SEGMENT = 256  #: ... up to this many entries of each
PF_NEAR = 10  #: ... and its vertices this many ahead (its vi row, which says where they are, is in cache by then)


def _prefetch_typer(typingctx: Any, arr: Any, i: Any, j: Any) -> Any:
    """Hint the CPU to fetch arr[i, j] (arr[i] for 1D; j is then ignored) into cache; a no-op for results."""
    if not isinstance(arr, types.Array) or arr.ndim > 2:
        return None
    sig = types.void(arr, i, j)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        inds = [context.cast(builder, args[1], signature.args[1], types.intp)]
        if aryty.ndim == 2:
            inds.append(context.cast(builder, args[2], signature.args[2], types.intp))
        ptr = cgutils.get_item_pointer2(
            context, builder, data=ary.data, shape=cgutils.unpack_tuple(builder, ary.shape),
            strides=cgutils.unpack_tuple(builder, ary.strides), layout=aryty.layout, inds=inds, wraparound=False,
        )
        i32 = ir.IntType(32)
        ptr = builder.bitcast(ptr, ir.IntType(8).as_pointer())
        fnty = ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [ptr, i32(0), i32(3), i32(1)])  # read, keep in all cache levels, data
        return context.get_dummy_value()

    return sig, codegen


_prefetch: Any = intrinsic(_prefetch_typer)


@njit(cache=True, inline="always")
def _slot(key: int, bits: int) -> int:
    h = np.uint64(key) * _GOLDEN
    return np.int64(h >> np.uint64(64 - bits))


@njit(cache=True, inline="always")
def _bits(capacity: int) -> int:
    bits = 0
    while (1 << bits) < capacity:
        bits += 1
    return bits


@njit(cache=True, inline="always")
def cell_key(ks: int, kt: int, iy: int, ix: int, it: int) -> int:
    return ((ks * NKT + kt) << 56) | ((iy & 0xFFF) << 44) | ((ix & 0xFFF) << 32) | (it & 0xFFFFFFFF)


@borrowing
def lookup(hkeys: np.ndarray, hvals: np.ndarray, key: int) -> int:
    return _probe(hkeys, hvals, key, _bits(hkeys.shape[0]), hkeys.shape[0] - 1)


@borrowing
def _hash_put(hkeys: np.ndarray, hvals: np.ndarray, key: int, value: int) -> None:
    mask = np.int64(hkeys.shape[0] - 1)
    bits = _bits(hkeys.shape[0])
    i = _slot(key, bits)
    while hvals[i] >= 0:
        i = (i + 1) & mask
    hkeys[i] = key
    hvals[i] = value


@njit(cache=True)
def rehash(cells: np.ndarray, ncells: int, capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """A fresh hash table of `capacity` (a power of two) over the first `ncells` cells."""
    hkeys = np.zeros(capacity, dtype=np.int64)
    hvals = np.full(capacity, -1, dtype=np.int32)
    for c in range(ncells):
        _hash_put(hkeys, hvals, cells[c, CK_KEY], c)
    return hkeys, hvals


@borrowing
def level_of(vf: np.ndarray, v: int) -> tuple[int, int]:
    """The grid level (ks, kt) a volume is filed at: the finest whose cells are as large as the volume."""
    extent = max(vf[v, F_LATMAX] - vf[v, F_LATMIN], vf[v, F_LNGMAX] - vf[v, F_LNGMIN])
    ks = 0
    while ks < NKS - 1 and BASE_DEG * (1 << ks) < extent:
        ks += 1
    duration = vf[v, F_T1] - vf[v, F_T0]
    kt = 0
    while kt < NKT - 1 and BASE_S * (1 << kt) < duration:
        kt += 1
    return ks, kt


@njit(cache=True, inline="always")
def _rows(latmin: float, latmax: float, cs: float) -> tuple[int, int]:
    nrows = math.ceil(180.0 / cs)
    lo = math.floor((latmin + 90.0) / cs)
    hi = math.floor((latmax + 90.0) / cs)
    return max(lo, 0), min(hi, nrows - 1)


@njit(cache=True, inline="always")
def _cols(lngmin: float, lngmax: float, cs: float) -> tuple[int, int]:
    ncols = math.ceil(360.0 / cs)
    lo = math.floor((lngmin + 180.0) / cs)
    hi = math.floor((lngmax + 180.0) / cs)
    return max(lo, 0), min(hi, ncols - 1)


@njit(cache=True, inline="always")
def _lng_parts(lngmin: float, lngmax: float) -> tuple[int, float, float, float, float]:
    """Split a longitude range that runs past +180 into [lngmin, 180] and [-180, lngmax - 360]."""
    if lngmax - lngmin >= 360.0:
        return 1, -180.0, 180.0, 0.0, 0.0
    if lngmax <= 180.0:
        return 1, lngmin, lngmax, 0.0, 0.0
    return 2, lngmin, 180.0, -180.0, lngmax - 360.0


@njit(cache=True, inline="always")
def _qlo(x: float, origin: float, scale: float) -> int:
    """Quantised lower bound of x in a cell (0..QMAX over the cell), rounded down and clamped."""
    q = math.floor((x - origin) * scale - QEPS)
    return min(max(q, 0), QMAX)


@njit(cache=True, inline="always")
def _qhi(x: float, origin: float, scale: float) -> int:
    q = math.ceil((x - origin) * scale + QEPS)
    return min(max(q, 0), QMAX)


@njit(cache=True, inline="always")
def _pack(lat: int, lng: int, z: int, t: int) -> np.uint64:
    return np.uint64(lat) | (np.uint64(lng) << np.uint64(16)) | (np.uint64(z) << np.uint64(32)) | (
        np.uint64(t) << np.uint64(48)
    )


@njit(cache=True, inline="always")
def _zlane(w: np.uint64) -> int:
    return np.int64((w >> np.uint64(32)) & np.uint64(0x7FFF))


@njit(cache=True, inline="always")
def _meets(lo: np.uint64, hi_top: np.uint64, qlo: np.uint64, qhi_top: np.uint64) -> bool:
    """Whether two quantised boxes meet in every lane: lo <= qhi and hi >= qlo lane by lane. With the top bit
    of each lane of hi_top/qhi_top set and every value below 2^15, each lane of (hi_top - qlo) is 2^15 + hi - qlo:
    no borrow crosses lanes, and the lane's top bit survives exactly when hi >= qlo."""
    return ((qhi_top - lo) & (hi_top - qlo) & LANE_TOP) == LANE_TOP


@borrowing
def space_needed(
    vf: np.ndarray, v: int, hkeys: np.ndarray, hvals: np.ndarray, cells: np.ndarray
) -> tuple[int, int]:
    """(cells, pool entries) that filing volume v may take at most (free segments not counted)."""
    ks, kt = level_of(vf, v)
    cs = BASE_DEG * (1 << ks)
    ct = BASE_S * (1 << kt)
    r0, r1 = _rows(vf[v, F_LATMIN], vf[v, F_LATMAX], cs)
    t0 = math.floor(vf[v, F_T0] / ct)
    t1 = math.floor(vf[v, F_T1] / ct)
    nparts, a0, a1, b0, b1 = _lng_parts(vf[v, F_LNGMIN], vf[v, F_LNGMAX])
    ncells = 0
    pool = 0
    for part in range(nparts):
        c0, c1 = _cols(a0 if part == 0 else b0, a1 if part == 0 else b1, cs)
        for iy in range(r0, r1 + 1):
            for ix in range(c0, c1 + 1):
                for it in range(t0, t1 + 1):
                    c = lookup(hkeys, hvals, cell_key(ks, kt, iy, ix, it))
                    if c < 0:
                        ncells += 1
                        pool += MINCAP
                    elif cells[c, CK_CLS] < 0:
                        pool += MINCAP
                    elif cells[c, CK_N] == MINCAP << cells[c, CK_CLS]:
                        pool += MINCAP << (cells[c, CK_CLS] + 1)
    return ncells, pool


@borrowing
def _alloc(k: int, pool_vol: np.ndarray, free_head: np.ndarray, counters: np.ndarray) -> int:
    """Start of a free segment of MINCAP << k entries, or -1 when the pool is full."""
    h = free_head[k]
    if h >= 0:
        free_head[k] = pool_vol[h]
        return h
    s = counters[C_POOL_HWM]
    if s + (MINCAP << k) > pool_vol.shape[0]:
        return -1
    counters[C_POOL_HWM] = s + (MINCAP << k)
    return s


@njit(cache=True, inline="always")
def _free(start: int, k: int, pool_vol: np.ndarray, free_head: np.ndarray) -> None:
    pool_vol[start] = free_head[k]
    free_head[k] = start


@borrowing
def _move_segment(
    c: int, k: int, cells: np.ndarray, pool_vol: np.ndarray, pool_box: np.ndarray, free_head: np.ndarray,
    counters: np.ndarray,
) -> bool:
    """Move cell c's entries into a fresh segment of class k; False (nothing changed) when the pool is full."""
    s = _alloc(k, pool_vol, free_head, counters)
    if s < 0:
        return False
    old = cells[c, CK_START]
    n = cells[c, CK_N]
    for j in range(n):
        pool_vol[s + j] = pool_vol[old + j]
        pool_box[s + j, 0] = pool_box[old + j, 0]
        pool_box[s + j, 1] = pool_box[old + j, 1]
    if cells[c, CK_CLS] >= 0:
        _free(old, cells[c, CK_CLS], pool_vol, free_head)
    cells[c, CK_START] = s
    cells[c, CK_CLS] = k
    return True


@borrowing
def _file_entry(
    v: int,
    ks: int,
    kt: int,
    iy: int,
    ix: int,
    it: int,
    lngmin: float,
    lngmax: float,
    vf: np.ndarray,
    hkeys: np.ndarray,
    hvals: np.ndarray,
    cells: np.ndarray,
    pool_vol: np.ndarray,
    pool_box: np.ndarray,
    free_head: np.ndarray,
    counters: np.ndarray,
) -> None:
    key = cell_key(ks, kt, iy, ix, it)
    c = lookup(hkeys, hvals, key)
    if c < 0:
        c = counters[C_NCELLS]
        counters[C_NCELLS] += 1
        cells[c, CK_KEY] = key
        cells[c, CK_START] = -1
        cells[c, CK_CLS] = -1
        cells[c, CK_N] = 0
        cells[c, CK_DZ] = 0
        _hash_put(hkeys, hvals, key, c)
    n = cells[c, CK_N]
    k = cells[c, CK_CLS]
    if k < 0 or n == MINCAP << k:
        _move_segment(c, k + 1, cells, pool_vol, pool_box, free_head, counters)  # room checked by the caller
    s = cells[c, CK_START]
    zq0 = _qlo(vf[v, F_ZLO], Z_ORIGIN, Z_SCALE)
    zq1 = _qhi(vf[v, F_ZHI], Z_ORIGIN, Z_SCALE)
    e = s + n
    while e > s and _zlane(pool_box[e - 1, 0]) > zq0:  # keep the segment sorted by lower altitude
        pool_vol[e] = pool_vol[e - 1]
        pool_box[e, 0] = pool_box[e - 1, 0]
        pool_box[e, 1] = pool_box[e - 1, 1]
        e -= 1
    cells[c, CK_N] = n + 1
    cells[c, CK_DZ] = max(cells[c, CK_DZ], zq1 - zq0)
    pool_vol[e] = v
    cs = BASE_DEG * (1 << ks)
    ct = BASE_S * (1 << kt)
    sl = QMAX / cs
    st = QMAX / ct
    lat0 = iy * cs - 90.0
    lng0 = ix * cs - 180.0
    t0 = it * ct
    pool_box[e, 0] = _pack(
        _qlo(vf[v, F_LATMIN], lat0, sl), _qlo(lngmin, lng0, sl), zq0, _qlo(vf[v, F_T0], t0, st)
    )
    pool_box[e, 1] = LANE_TOP | _pack(
        _qhi(vf[v, F_LATMAX], lat0, sl), _qhi(lngmax, lng0, sl), zq1, _qhi(vf[v, F_T1], t0, st)
    )
    counters[C_LIVE_ENTRIES] += 1


@borrowing
def insert_volumes(
    first: int,
    last: int,
    vf: np.ndarray,
    vi: np.ndarray,
    hkeys: np.ndarray,
    hvals: np.ndarray,
    cells: np.ndarray,
    pool_vol: np.ndarray,
    pool_box: np.ndarray,
    free_head: np.ndarray,
    counters: np.ndarray,
    level_count: np.ndarray,
) -> int:
    """File volumes first..last-1 (already written to vf/vi). Returns how far it got: stops early, before
    touching a volume, when the pool, cells or the hash might run out, so the caller can grow them and resume."""
    for v in range(first, last):
        need_cells, need_pool = space_needed(vf, v, hkeys, hvals, cells)
        if (
            counters[C_POOL_HWM] + need_pool > pool_vol.shape[0]
            or counters[C_NCELLS] + need_cells > cells.shape[0]
            or 2 * (counters[C_NCELLS] + need_cells) > hkeys.shape[0]
        ):
            return v
        ks, kt = level_of(vf, v)
        level_count[ks, kt] += 1
        cs = BASE_DEG * (1 << ks)
        ct = BASE_S * (1 << kt)
        r0, r1 = _rows(vf[v, F_LATMIN], vf[v, F_LATMAX], cs)
        t0 = math.floor(vf[v, F_T0] / ct)
        t1 = math.floor(vf[v, F_T1] / ct)
        nparts, a0, a1, b0, b1 = _lng_parts(vf[v, F_LNGMIN], vf[v, F_LNGMAX])
        for part in range(nparts):
            lo = a0 if part == 0 else b0
            hi = a1 if part == 0 else b1
            c0, c1 = _cols(lo, hi, cs)
            for iy in range(r0, r1 + 1):
                for ix in range(c0, c1 + 1):
                    for it in range(t0, t1 + 1):
                        _file_entry(
                            v, ks, kt, iy, ix, it, lo, hi, vf, hkeys, hvals, cells, pool_vol, pool_box, free_head,
                            counters,
                        )
        vi[v, I_ALIVE] = 1
    return last


@borrowing
def remove_volume(
    v: int,
    vf: np.ndarray,
    vi: np.ndarray,
    hkeys: np.ndarray,
    hvals: np.ndarray,
    cells: np.ndarray,
    pool_vol: np.ndarray,
    pool_box: np.ndarray,
    free_head: np.ndarray,
    counters: np.ndarray,
    level_count: np.ndarray,
) -> bool:
    """Take volume v out of each of its cells (the cell's last entry fills the hole; a cell left a quarter
    full moves to a smaller segment, an empty one gives its segment back). False if v was not alive."""
    if vi[v, I_ALIVE] != 1:
        return False
    vi[v, I_ALIVE] = 0
    ks, kt = level_of(vf, v)
    level_count[ks, kt] -= 1
    cs = BASE_DEG * (1 << ks)
    ct = BASE_S * (1 << kt)
    r0, r1 = _rows(vf[v, F_LATMIN], vf[v, F_LATMAX], cs)
    t0 = math.floor(vf[v, F_T0] / ct)
    t1 = math.floor(vf[v, F_T1] / ct)
    nparts, a0, a1, b0, b1 = _lng_parts(vf[v, F_LNGMIN], vf[v, F_LNGMAX])
    for part in range(nparts):
        c0, c1 = _cols(a0 if part == 0 else b0, a1 if part == 0 else b1, cs)
        for iy in range(r0, r1 + 1):
            for ix in range(c0, c1 + 1):
                for it in range(t0, t1 + 1):
                    c = lookup(hkeys, hvals, cell_key(ks, kt, iy, ix, it))
                    if c < 0:
                        continue
                    s = cells[c, CK_START]
                    n = cells[c, CK_N]
                    for e in range(s, s + n):
                        if pool_vol[e] == v:
                            dz = _zlane(pool_box[e, 1]) - _zlane(pool_box[e, 0])
                            for f in range(e, s + n - 1):  # close the gap, keeping the order
                                pool_vol[f] = pool_vol[f + 1]
                                pool_box[f, 0] = pool_box[f + 1, 0]
                                pool_box[f, 1] = pool_box[f + 1, 1]
                            n -= 1
                            cells[c, CK_N] = n
                            counters[C_LIVE_ENTRIES] -= 1
                            if dz >= cells[c, CK_DZ]:  # it may have been the thickest
                                top = 0
                                for f in range(s, s + n):
                                    top = max(top, _zlane(pool_box[f, 1]) - _zlane(pool_box[f, 0]))
                                cells[c, CK_DZ] = top
                            break
                    k = cells[c, CK_CLS]
                    if n == 0 and k >= 0:
                        _free(s, k, pool_vol, free_head)
                        cells[c, CK_START] = -1
                        cells[c, CK_CLS] = -1
                    elif k > 0 and 4 * n <= MINCAP << k:
                        _move_segment(c, k - 1, cells, pool_vol, pool_box, free_head, counters)
    return True


@borrowing
def write_volumes(
    slots: np.ndarray,
    order: np.ndarray,
    offsets: np.ndarray,
    bpoints: np.ndarray,
    radius: np.ndarray,
    zlo: np.ndarray,
    zhi: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    bbox: np.ndarray,
    owner: np.ndarray,
    kind: np.ndarray,
    vf: np.ndarray,
    vi: np.ndarray,
    xr: np.ndarray,
    xri: np.ndarray,
    points: np.ndarray,
    npoints: int,
) -> int:
    """Write a batch's footprints into rows `slots` of vf/vi and their vertices from points[npoints:], in the
    order of `order` (not yet filed: alive 0). owner/kind have one value per footprint or one for all. Returns
    the most vertices of one."""
    most = 0
    at = npoints
    for i in range(order.shape[0]):
        j = order[i]
        v = slots[j]
        s = offsets[j]
        pc = offsets[j + 1] - s
        for k in range(pc):
            for d in range(3):
                points[at + k, d] = bpoints[s + k, d]
        vf[v, F_RADIUS] = radius[j]
        vf[v, F_ZLO] = zlo[j]
        vf[v, F_ZHI] = zhi[j]
        vf[v, F_T0] = t0[j]
        vf[v, F_T1] = t1[j]
        vf[v, F_LATMIN] = bbox[j, 0]
        vf[v, F_LATMAX] = bbox[j, 1]
        vf[v, F_LNGMIN] = bbox[j, 2]
        vf[v, F_LNGMAX] = bbox[j, 3]
        vi[v, I_ALIVE] = 0
        vi[v, I_OWNER] = owner[j if owner.shape[0] > 1 else 0]
        vi[v, I_KIND] = kind[j if kind.shape[0] > 1 else 0]
        vi[v, I_PSTART] = at
        vi[v, I_PCOUNT] = pc
        xr[v, X_RADIUS] = radius[j]
        xr[v, X_ZLO] = zlo[j]
        xr[v, X_ZHI] = zhi[j]
        xr[v, X_T0] = t0[j]
        xr[v, X_T1] = t1[j]
        xri[v, X_PSTART] = at
        xri[v, X_OWNER] = vi[v, I_OWNER]
        xri[v, X_PCKIND] = pc | (vi[v, I_KIND] << 32)
        at += pc
        most = max(most, pc)
    return most


@njit(cache=True)
def write_and_file(
    slots: np.ndarray,
    order: np.ndarray,
    offsets: np.ndarray,
    bpoints: np.ndarray,
    radius: np.ndarray,
    zlo: np.ndarray,
    zhi: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    bbox: np.ndarray,
    owner: np.ndarray,
    kind: np.ndarray,
    npoints: int,
    first: int,
    vf: np.ndarray,
    vi: np.ndarray,
    points: np.ndarray,
    hkeys: np.ndarray,
    hvals: np.ndarray,
    cells: np.ndarray,
    pool_vol: np.ndarray,
    pool_box: np.ndarray,
    free_head: np.ndarray,
    counters: np.ndarray,
    level_count: np.ndarray,
    xr: np.ndarray,
    xri: np.ndarray,
) -> tuple[int, int]:
    """`write_volumes`, then, when the slots are first..first+n-1 (first >= 0), `insert_volumes` over them:
    (most vertices of one footprint, the first slot not filed)."""
    most = write_volumes(
        slots, order, offsets, bpoints, radius, zlo, zhi, t0, t1, bbox, owner, kind, vf, vi, xr, xri, points,
        npoints,
    )
    if first < 0:
        return most, first
    filed = insert_volumes(
        first, first + slots.shape[0], vf, vi, hkeys, hvals, cells, pool_vol, pool_box, free_head, counters,
        level_count,
    )
    return most, filed


@njit(cache=True)
def locality_order(bbox: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
    """An order of footprints that groups them by the first grid cell they are filed in (level, time bucket,
    row, column): slots given in this order put the rows and vertices of a cell's volumes side by side, so a
    query's candidates share cache lines and pages."""
    n = bbox.shape[0]
    keys = np.empty(n, dtype=np.int64)
    for j in range(n):
        extent = max(bbox[j, 1] - bbox[j, 0], bbox[j, 3] - bbox[j, 2])
        ks = 0
        while ks < NKS - 1 and BASE_DEG * (1 << ks) < extent:
            ks += 1
        kt = 0
        while kt < NKT - 1 and BASE_S * (1 << kt) < t1[j] - t0[j]:
            kt += 1
        cs = BASE_DEG * (1 << ks)
        r0, _ = _rows(bbox[j, 0], bbox[j, 1], cs)
        c0, _ = _cols(bbox[j, 2], min(bbox[j, 3], 180.0), cs)
        it = math.floor(t0[j] / (BASE_S * (1 << kt)))
        keys[j] = ((ks * NKT + kt) << 56) | ((it & 0xFFFFF) << 24) | ((r0 & 0xFFF) << 12) | (c0 & 0xFFF)
    return np.argsort(keys, kind="mergesort")


@njit(cache=True)
def expired(vi: np.ndarray, vf: np.ndarray, count: int, now: float) -> np.ndarray:
    """Slots of live volumes whose window ended before `now`."""
    out = np.empty(count, dtype=np.int64)
    m = 0
    for v in range(count):
        if vi[v, I_ALIVE] == 1 and vf[v, F_T1] < now:
            out[m] = v
            m += 1
    return out[:m]


@njit(cache=True, inline="always")
def _project(frame: np.ndarray, inv_m: float, inv_n: float, x: float, y: float, z: float) -> tuple[float, float]:
    """`geo.project_point` with half the divisions and, for chords under 4% of the radius (255 km), the arcsine as
    its series (to double precision): the exact test projects every vertex of every candidate."""
    dx = x - frame[0]
    dy = y - frame[1]
    dz = z - frame[2]
    e = dx * frame[3] + dy * frame[4] + dz * frame[5]
    n = dx * frame[6] + dy * frame[7] + dz * frame[8]
    hz2 = e * e + n * n
    if hz2 == 0.0:
        return 0.0, 0.0
    r = hz2 / (n * n * inv_m + e * e * inv_n)  # radius of curvature in the azimuth
    half = 0.5 * math.sqrt(dx * dx + dy * dy + dz * dz) / r
    if half < 0.02:  # asin by its series: the first term left out is below 3e-19 relative
        h2 = half * half
        a = half * (1.0 + h2 * (1.0 / 6.0 + h2 * (3.0 / 40.0 + h2 * (5.0 / 112.0 + h2 * (35.0 / 1152.0)))))
    else:
        a = math.asin(min(half, 1.0))
    k = 2.0 * r * a / math.sqrt(hz2)
    return k * e, k * n


@njit(cache=True, inline="always")
def _vertex_in_core(frame: np.ndarray, points: np.ndarray, ps: int, pc: int) -> bool:
    for j in range(ps, ps + pc):  # noqa: SIM110 (numba compiles no generator into any())
        if _in_core(frame, points[j, 0], points[j, 1], points[j, 2], 0.0):
            return True
    return False


@njit(cache=True, inline="always")
def _exact(
    frame: np.ndarray,
    qring: np.ndarray,
    qradius: float,
    qzlo: float,
    qzhi: float,
    qt0: float,
    qt1: float,
    vradius: float,
    vzlo: float,
    vzhi: float,
    vt0: float,
    vt1: float,
    owner: int,
    ps: int,
    pc: int,
    points: np.ndarray,
    minima: np.ndarray,
    ring: np.ndarray,
) -> tuple[float, float, float]:
    """`exact_test` of a volume given by its values (radius, altitudes, window, owner, vertices ps..ps+pc)."""
    tgap = max(vt0 - qt1, qt0 - vt1)
    if tgap > minima[owner, 2]:
        return -1.0, 0.0, 0.0
    zgap = max(vzlo - qzhi, qzlo - vzhi)
    if zgap > minima[owner, 1]:
        return -1.0, 0.0, 0.0
    inv_m = frame[14]
    inv_n = frame[15]
    if vradius > 0.0 and _in_core(frame, points[ps, 0], points[ps, 1], points[ps, 2], vradius):
        d = 0.0  # the circle reaches the query's core: they overlap (most overlapping circles end here)
    elif pc > 1 and _vertex_in_core(frame, points, ps, pc):
        d = 0.0  # a vertex inside the query's core: they overlap, no vertex needs projecting
    elif qradius > 0.0 and vradius > 0.0:  # two circles (the most common pair): shape_distance's first case, inline
        x, y = _project(frame, inv_m, inv_n, points[ps, 0], points[ps, 1], points[ps, 2])
        d = math.hypot(qring[0, 0] - x, qring[0, 1] - y) - qradius - vradius
        d = d if d > 0.0 else 0.0
    else:
        for j in range(pc):
            ring[j, 0], ring[j, 1] = _project(
                frame, inv_m, inv_n, points[ps + j, 0], points[ps + j, 1], points[ps + j, 2]
            )
        d = shape_distance(qring, qradius, ring[:pc], vradius)
    if d > minima[owner, 0] + LATERAL_EPS_M:
        return -1.0, 0.0, 0.0
    return d, max(zgap, 0.0), max(tgap, 0.0)


@borrowing
def exact_test(
    frame: np.ndarray,
    qring: np.ndarray,
    qradius: float,
    qzlo: float,
    qzhi: float,
    qt0: float,
    qt1: float,
    v: int,
    vf: np.ndarray,
    vi: np.ndarray,
    points: np.ndarray,
    minima: np.ndarray,
    ring: np.ndarray,
) -> tuple[float, float, float]:
    """Exact test of volume v against a query projected in `frame` (from `query_frame`): (lateral m, vertical
    gap m, time gap s), or lateral -1 when v is outside the minima of its owner. `ring` is scratch with room for
    v's points."""
    return _exact(
        frame, qring, qradius, qzlo, qzhi, qt0, qt1, vf[v, F_RADIUS], vf[v, F_ZLO], vf[v, F_ZHI], vf[v, F_T0],
        vf[v, F_T1], vi[v, I_OWNER], vi[v, I_PSTART], vi[v, I_PCOUNT], points, minima, ring,
    )


@njit(cache=True)
def query_frame(qpoints: np.ndarray, qradius: float) -> tuple[np.ndarray, np.ndarray]:
    """The query's frame parameters (`geo.frame_params`, then 1/M and 1/N for `_project`, then the radius of its
    core disc: see `_in_core`) and its outline projected in that frame."""
    lat0, lng0 = frame_centre(qpoints)
    params = frame_params(lat0, lng0)
    np_ = params.shape[0]
    frame = np.empty(np_ + 3)
    frame[:np_] = params
    frame[np_] = 1.0 / params[12]
    frame[np_ + 1] = 1.0 / params[13]
    qring = np.empty((qpoints.shape[0], 2))
    for i in range(qpoints.shape[0]):
        qring[i, 0], qring[i, 1] = project_point(frame, qpoints[i, 0], qpoints[i, 1], qpoints[i, 2])
    if qradius > 0.0:
        core = qradius - math.hypot(qring[0, 0], qring[0, 1])
    elif point_in_ring(0.0, 0.0, qring):
        core = boundary_distance(0.0, 0.0, qring)
    else:
        core = -np.inf  # the centre is outside the polygon: no core disc
    frame[F_CORE] = core - CORE_MARGIN_M
    return frame, qring


@njit(cache=True, inline="always")
def _in_core(frame: np.ndarray, x: float, y: float, z: float, reach: float) -> bool:
    """Whether the surface point (x, y, z) projects within `reach` of the core disc: the disc about the frame
    centre of radius frame[F_CORE] that lies inside the query's footprint (its circle, or the largest disc about
    the centre inside its polygon), without projecting it. The projection keeps distances from the centre as
    s = 2 r asin(c / 2r) for the chord c and a radius of curvature r >= MIN_RADIUS_OF_CURVATURE_M, and
    asin(h) / h <= 1 + h^2 / 5 for h <= 1/2, so s <= c (1 + c^2 / (20 r^2)); CORE_MARGIN_M covers rounding. A point
    in reach of the core overlaps the query, so its lateral distance is 0 exactly, as the projection would find."""
    dx = x - frame[0]
    dy = y - frame[1]
    dz = z - frame[2]
    c2 = dx * dx + dy * dy + dz * dz
    lim = frame[F_CORE] + reach
    if lim <= 0.0 or c2 > lim * lim:
        return False
    c = math.sqrt(c2) + CORE_MARGIN_M
    if c > MIN_RADIUS_OF_CURVATURE_M:  # the bound on asin holds for c / 2r <= 1/2 (cores of continental size)
        return False
    return c * (1.0 + c * c * _CORE_K) <= lim


@njit(cache=True)
def _grown(a: np.ndarray, n: int) -> np.ndarray:
    out = np.empty(2 * a.shape[0], dtype=a.dtype)
    out[:n] = a[:n]
    return out


@njit(cache=True, inline="always")
def _prefetch_segment(c: int, cells: np.ndarray, pool_box: np.ndarray, pool_vol: np.ndarray) -> None:
    """Fetch (the first PF_SEGMENT entries of) cell c's segment ahead of its scan."""
    s = cells[c, CK_START]
    n = min(cells[c, CK_N], PF_SEGMENT)
    for e in range(s, s + n, 4):  # 16-byte entries: four to a cache line
        _prefetch(pool_box, e, 0)
    for e in range(s, s + n, 16):
        _prefetch(pool_vol, e, 0)


@njit(cache=True, inline="always")
def _probe(hkeys: np.ndarray, hvals: np.ndarray, key: int, bits: int, mask: int) -> int:
    """`lookup` with the table's size worked out once by the caller."""
    i = _slot(key, bits)
    while True:
        c = hvals[i]
        if c < 0:
            return -1
        if hkeys[i] == key:
            return c
        i = (i + 1) & mask


@borrowing
def _find_cells(
    latmin: float,
    latmax: float,
    nparts: int,
    a0: float,
    a1: float,
    b0: float,
    b1: float,
    tlo: float,
    thi: float,
    qz0: int,
    qz1: int,
    hkeys: np.ndarray,
    hvals: np.ndarray,
    cells: np.ndarray,
    level_count: np.ndarray,
    cl_c: np.ndarray,
    cl_lo: np.ndarray,
    cl_hi: np.ndarray,
) -> int:
    """`query`'s pass 1a: every live cell its widened box touches, on every level in use (independent probes: the
    CPU overlaps their misses), with the query's box quantised in each cell's terms, fetching the cells' rows.
    Returns how many there are; only as many as cl_c holds are written."""
    bits = _bits(hkeys.shape[0])
    mask = hkeys.shape[0] - 1
    cap = cl_c.shape[0]
    ncell = 0
    for ks in range(NKS):
        cs = BASE_DEG * (1 << ks)
        sl = QMAX / cs
        r0, r1 = _rows(latmin, latmax, cs)
        for kt in range(NKT):
            if level_count[ks, kt] == 0:
                continue
            ct = BASE_S * (1 << kt)
            st = QMAX / ct
            it0 = math.floor(tlo / ct)
            it1 = math.floor(thi / ct)
            for part in range(nparts):
                plo = a0 if part == 0 else b0
                phi = a1 if part == 0 else b1
                c0, c1 = _cols(plo, phi, cs)
                for iy in range(r0, r1 + 1):
                    lat0 = iy * cs - 90.0
                    qa0 = _qlo(latmin, lat0, sl)
                    qa1 = _qhi(latmax, lat0, sl)
                    for ix in range(c0, c1 + 1):
                        lng0 = ix * cs - 180.0
                        qb0 = _qlo(plo, lng0, sl)
                        qb1 = _qhi(phi, lng0, sl)
                        for it in range(it0, it1 + 1):
                            c = _probe(hkeys, hvals, cell_key(ks, kt, iy, ix, it), bits, mask)
                            if c < 0:
                                continue
                            if ncell < cap:
                                _prefetch(cells, c, 0)
                                t0c = it * ct
                                cl_c[ncell] = c
                                cl_lo[ncell] = _pack(qa0, qb0, qz0, _qlo(tlo, t0c, st))
                                cl_hi[ncell] = LANE_TOP | _pack(qa1, qb1, qz1, _qhi(thi, t0c, st))
                            ncell += 1
    return ncell


@njit(cache=True)
def query(
    i: int,
    q_offsets: np.ndarray,
    q_points: np.ndarray,
    q_radius: np.ndarray,
    q_zlo: np.ndarray,
    q_zhi: np.ndarray,
    q_t0: np.ndarray,
    q_t1: np.ndarray,
    q_bbox: np.ndarray,
    skip_owner: int,
    minima: np.ndarray,
    kind_mask: np.ndarray,
    xr: np.ndarray,
    xri: np.ndarray,
    points: np.ndarray,
    hkeys: np.ndarray,
    hvals: np.ndarray,
    cells: np.ndarray,
    pool_vol: np.ndarray,
    pool_box: np.ndarray,
    counters: np.ndarray,
    level_count: np.ndarray,
    out_vol: np.ndarray,
    out_val: np.ndarray,
) -> int:
    """Every live volume within the minima of footprint i of a batch (given as its columns), exactly, except
    those of `skip_owner`; returns the number found.

    minima[owner] = (lateral m, vertical m, time s) for each owner (the largest of each widen the search box).
    Results beyond out_vol's length are counted, not written, so the caller can grow the buffers and ask again.
    out_val[k] = lateral distance m, vertical gap m, time gap s, and the window (start, end epoch s): the overlap
    of the two time windows, or the gap between them.
    """
    # the query's own box, frame and projected outline
    qpoints = q_points[q_offsets[i] : q_offsets[i + 1]]
    qradius = q_radius[i]
    qzlo = q_zlo[i]
    qzhi = q_zhi[i]
    qt0 = q_t0[i]
    qt1 = q_t1[i]
    qbox = q_bbox[i]
    frame, qring = query_frame(qpoints, qradius)
    lmax = 0.0
    zmax = 0.0
    tmax = 0.0
    for o in range(minima.shape[0]):
        lmax = max(lmax, minima[o, 0])
        zmax = max(zmax, minima[o, 1])
        tmax = max(tmax, minima[o, 2])
    # widen the box by the largest lateral minimum (conservatively: 1% and 100 m more)
    widen = lmax * 1.01 + 100.0
    dlat = math.degrees(widen / MIN_RADIUS_OF_CURVATURE_M)
    latmin = max(qbox[0] - dlat, -90.0)
    latmax = min(qbox[1] + dlat, 90.0)
    phimax = min(max(abs(latmin), abs(latmax)), 89.9)
    x = math.sin(min(widen / MIN_RADIUS_OF_CURVATURE_M, math.pi / 2)) / math.cos(math.radians(phimax))
    dlng = math.degrees(math.asin(x)) if x < 1.0 else 180.0
    lo = qbox[2] - dlng
    hi = qbox[3] + dlng
    if lo < -180.0:  # widened past -180: shift into [-180, 180) so only the east end can wrap
        lo += 360.0
        hi += 360.0
    nparts, a0, a1, b0, b1 = _lng_parts(lo, hi)
    zlo = qzlo - zmax
    zhi = qzhi + zmax
    tlo = qt0 - tmax
    thi = qt1 + tmax
    counters[C_QUERY] += 1
    found = 0
    ring = np.empty((16, 2))
    # pass 1a: look the cells up (in a kernel without reference counting; again when more turn up than fit)
    qz0 = _qlo(zlo, Z_ORIGIN, Z_SCALE)
    qz1 = _qhi(zhi, Z_ORIGIN, Z_SCALE)
    cl_c = np.empty(256, dtype=np.int64)
    cl_lo = np.empty(256, dtype=np.uint64)
    cl_hi = np.empty(256, dtype=np.uint64)
    ncell = _find_cells(latmin, latmax, nparts, a0, a1, b0, b1, tlo, thi, qz0, qz1, hkeys, hvals, cells,
                        level_count, cl_c, cl_lo, cl_hi)
    if ncell > cl_c.shape[0]:
        cl_c = np.empty(ncell, dtype=np.int64)
        cl_lo = np.empty(ncell, dtype=np.uint64)
        cl_hi = np.empty(ncell, dtype=np.uint64)
        _find_cells(latmin, latmax, nparts, a0, a1, b0, b1, tlo, thi, qz0, qz1, hkeys, hvals, cells, level_count,
                    cl_c, cl_lo, cl_hi)
    # pass 1b: scan each cell's run, fetching the segments of the cells PF_CELL further on; entries whose boxes
    # meet the query's are candidates (a volume may repeat)
    cand = np.empty(1024, dtype=np.int64)
    ncand = 0
    for j in range(min(PF_CELL, ncell)):
        _prefetch_segment(cl_c[j], cells, pool_box, pool_vol)
    for j in range(ncell):
        if j + PF_CELL < ncell:
            _prefetch_segment(cl_c[j + PF_CELL], cells, pool_box, pool_vol)
        c = cl_c[j]
        qlo_w = cl_lo[j]
        qhi_w = cl_hi[j]
        # entries are sorted by bottom: skip those too low to reach the query even when as thick as the cell's
        # thickest, stop at the first whose bottom is above it
        s = cells[c, CK_START]
        end = s + cells[c, CK_N]
        a = s
        b = end
        zfrom = qz0 - cells[c, CK_DZ]
        while a < b:
            m = (a + b) >> 1
            if _zlane(pool_box[m, 0]) < zfrom:
                a = m + 1
            else:
                b = m
        while cand.shape[0] < ncand + (end - a):
            cand = _grown(cand, ncand)
        for e in range(a, end):
            lo_w = pool_box[e, 0]
            if _zlane(lo_w) > qz1:
                break
            # branch-free: always write, advance only on a hit (a quarter of them, at random: no prediction)
            cand[ncand] = pool_vol[e]
            ncand += _meets(lo_w, pool_box[e, 1], qlo_w, qhi_w)
    # pass 1c: take out the repeats (a volume filed in several cells the query scans), with a small hash set that
    # stays in the L1 cache
    bits = _bits(2 * ncand + 2)
    seen = np.full(1 << bits, -1, dtype=np.int64)
    mask = (1 << bits) - 1
    nuniq = 0
    for j in range(ncand):
        v = cand[j]
        h = _slot(v, bits)
        while seen[h] >= 0 and seen[h] != v:
            h = (h + 1) & mask
        if seen[h] < 0:
            seen[h] = v
            cand[nuniq] = v
            nuniq += 1
    ncand = nuniq
    # pass 2: exact tests, in a kernel without reference counting (the ring grows here when it must)
    j = 0
    while True:
        j, found = _exact_pass(
            j, found, cand, ncand, frame, qring, qradius, qzlo, qzhi, qt0, qt1, skip_owner, kind_mask, xr, xri,
            points, minima, ring, out_vol, out_val,
        )
        if j >= ncand:
            return found
        ring = np.empty((xri[cand[j], X_PCKIND] & 0xFFFFFFFF, 2))


@borrowing
def _exact_pass(
    j: int,
    found: int,
    cand: np.ndarray,
    ncand: int,
    frame: np.ndarray,
    qring: np.ndarray,
    qradius: float,
    qzlo: float,
    qzhi: float,
    qt0: float,
    qt1: float,
    skip_owner: int,
    kind_mask: np.ndarray,
    xr: np.ndarray,
    xri: np.ndarray,
    points: np.ndarray,
    minima: np.ndarray,
    ring: np.ndarray,
    out_vol: np.ndarray,
    out_val: np.ndarray,
) -> tuple[int, int]:
    """`query`'s exact tests of candidates j.. (the exact test inlined: no call, and no reference counting, per
    candidate), reading each candidate's xr row (one cache line), fetching rows and vertices of later candidates
    ahead (these are cache misses). Returns (where it
    stopped, found so far): at ncand, or at a candidate with more vertices than `ring` has room for."""
    cap = out_vol.shape[0]
    while j < ncand:
        if j + PF_FAR < ncand:
            _prefetch(xr, cand[j + PF_FAR], 0)
        if j + PF_NEAR < ncand:
            w = cand[j + PF_NEAR]
            ps = xri[w, X_PSTART]
            for k in range(0, xri[w, X_PCKIND] & 0xFFFFFFFF, 2):
                _prefetch(points, ps + k, 0)
        v = cand[j]
        owner = xri[v, X_OWNER]
        pckind = xri[v, X_PCKIND]
        pc = pckind & 0xFFFFFFFF
        if owner == skip_owner or kind_mask[pckind >> 32] == 0:
            j += 1
            continue
        if ring.shape[0] < pc:
            return j, found
        j += 1
        vt0 = xr[v, X_T0]
        vt1 = xr[v, X_T1]
        d, zgap, tgap = _exact(
            frame, qring, qradius, qzlo, qzhi, qt0, qt1, xr[v, X_RADIUS], xr[v, X_ZLO], xr[v, X_ZHI], vt0, vt1,
            owner, xri[v, X_PSTART], pc, points, minima, ring,
        )
        if d < 0.0:
            continue
        if found < cap:
            out_vol[found] = v
            out_val[found, 0] = d
            out_val[found, 1] = zgap
            out_val[found, 2] = tgap
            wlo = max(qt0, vt0)
            whi = min(qt1, vt1)
            out_val[found, 3] = min(wlo, whi)
            out_val[found, 4] = max(wlo, whi)
        found += 1
    return j, found


@njit(cache=True)
def check_and_file(
    q_offsets: np.ndarray,
    q_points: np.ndarray,
    q_radius: np.ndarray,
    q_zlo: np.ndarray,
    q_zhi: np.ndarray,
    q_t0: np.ndarray,
    q_t1: np.ndarray,
    q_bbox: np.ndarray,
    owner: int,
    kind: int,
    minima: np.ndarray,
    kind_mask: np.ndarray,
    slot: int,
    npoints: int,
    vf: np.ndarray,
    vi: np.ndarray,
    points: np.ndarray,
    hkeys: np.ndarray,
    hvals: np.ndarray,
    cells: np.ndarray,
    pool_vol: np.ndarray,
    pool_box: np.ndarray,
    free_head: np.ndarray,
    counters: np.ndarray,
    level_count: np.ndarray,
    xr: np.ndarray,
    xri: np.ndarray,
    label_a: np.ndarray,
    label_b: np.ndarray,
    out_labels: np.ndarray,
    out_val: np.ndarray,
) -> tuple[int, int, int]:
    """The common upsert in one call (one dispatch instead of two, no indexing left to Python): `query` of a
    one-footprint batch, skipping `owner`'s volumes, its hits written as their labels (out_labels[0] =
    label_a[slot], out_labels[1] = label_b[slot]: the caller's declaration and volume numbers) beside out_val;
    then, when the answer fitted, `write_volumes` of the footprint into `slot` and `insert_volumes` of it.
    Returns (found, vertices of the footprint or -1 when nothing was written, the first slot not filed: slot + 1
    when filed, slot when the grid must grow first)."""
    hits = out_labels[0]
    found = query(
        0, q_offsets, q_points, q_radius, q_zlo, q_zhi, q_t0, q_t1, q_bbox, owner, minima, kind_mask, xr, xri,
        points, hkeys, hvals, cells, pool_vol, pool_box, counters, level_count, hits, out_val,
    )
    if found > hits.shape[0]:
        return found, -1, slot
    for k in range(found):
        v = hits[k]
        out_labels[0, k] = label_a[v]
        out_labels[1, k] = label_b[v]
    one = np.empty(3, dtype=np.int64)
    one[0] = slot
    one[1] = owner
    one[2] = kind
    most = write_volumes(
        one[0:1], np.zeros(1, dtype=np.int64), q_offsets, q_points, q_radius, q_zlo, q_zhi, q_t0, q_t1, q_bbox,
        one[1:2], one[2:3], vf, vi, xr, xri, points, npoints,
    )
    filed = insert_volumes(
        slot, slot + 1, vf, vi, hkeys, hvals, cells, pool_vol, pool_box, free_head, counters, level_count
    )
    return found, most, filed
