"""The strategic index's kernels (numba): a multi-resolution 4D grid over volumes held in flat arrays.

Why this shape: one query must touch few memory lines. Each volume is filed, with a copy of its 4D box, in the
cells of one grid level whose cells are at least as large as the volume in space (0.25 deg x 2^ks) and in time
(1 h x 2^kt); so it sits in at most 2 x 2 x 2 cells, and a query scans contiguous blocks of boxes. Cells live in
an open-addressing hash keyed by (level, lat row, lng column, time bucket). Inserts append to a cell's head block;
removals are tombstones, and a cell is compacted once half of it is dead, so nothing is ever rebuilt wholesale.

State arrays (owned by `VolumeIndex`, grown there):
  vf[v]  float64: radius, zlo, zhi, t0, t1, latmin, latmax, lngmin, lngmax
  vi[v]  int64:   alive, owner, kind, first point, point count
  points float64[:, 3] ECEF vertices; cells int64[c]: key, head block, entries, dead entries
  blk_meta int32[b]: next block, fill; blk_vol int32[b, B]; blk_box float32[b, B, 8] (rounded outward)
  counters int64: see the C_* constants; level_count int64[NKS, NKT]
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..footprint import compute_bboxes
from ..geo import MIN_RADIUS_OF_CURVATURE_M, frame_centre, frame_params, project_point
from ..planar import shape_distance

BLOCK = 16
BASE_DEG = 0.25
BASE_S = 3600.0
NKS = 11
NKT = 16
LATERAL_EPS_M = 0.001  #: float noise allowance: footprints that share an edge must touch, not miss by 1e-9 m

# vf columns
F_RADIUS, F_ZLO, F_ZHI, F_T0, F_T1, F_LATMIN, F_LATMAX, F_LNGMIN, F_LNGMAX = range(9)
NF = 9
# vi columns
I_ALIVE, I_OWNER, I_KIND, I_PSTART, I_PCOUNT = range(5)
NI = 5
# cells columns
CK_KEY, CK_HEAD, CK_N, CK_DEAD = range(4)
# counters
C_NCELLS, C_BLOCKS_HWM, C_NFREE, C_QUERY, C_LIVE_ENTRIES = range(5)
NCOUNTERS = 8
# query params
Q_LMAX, Q_ZMAX, Q_TMAX, Q_SKIP_OWNER = range(4)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


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


@njit(cache=True)
def lookup(hkeys: np.ndarray, hvals: np.ndarray, key: int) -> int:
    mask = np.int64(hkeys.shape[0] - 1)
    bits = _bits(hkeys.shape[0])
    i = _slot(key, bits)
    while True:
        c = hvals[i]
        if c < 0:
            return -1
        if hkeys[i] == key:
            return c
        i = (i + 1) & mask


@njit(cache=True)
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


@njit(cache=True)
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


@njit(cache=True)
def cells_needed(vf: np.ndarray, v: int) -> int:
    ks, kt = level_of(vf, v)
    cs = BASE_DEG * (1 << ks)
    ct = BASE_S * (1 << kt)
    r0, r1 = _rows(vf[v, F_LATMIN], vf[v, F_LATMAX], cs)
    nparts, a0, a1, b0, b1 = _lng_parts(vf[v, F_LNGMIN], vf[v, F_LNGMAX])
    c0, c1 = _cols(a0, a1, cs)
    ncols = c1 - c0 + 1
    if nparts == 2:
        d0, d1 = _cols(b0, b1, cs)
        ncols += d1 - d0 + 1
    nt = math.floor(vf[v, F_T1] / ct) - math.floor(vf[v, F_T0] / ct) + 1
    return (r1 - r0 + 1) * ncols * nt


@njit(cache=True)
def _alloc_block(blk_meta: np.ndarray, free_stack: np.ndarray, counters: np.ndarray) -> int:
    if counters[C_NFREE] > 0:
        counters[C_NFREE] -= 1
        b = free_stack[counters[C_NFREE]]
    else:
        b = counters[C_BLOCKS_HWM]
        counters[C_BLOCKS_HWM] += 1
    blk_meta[b, 0] = -1
    blk_meta[b, 1] = 0
    return b


@njit(cache=True, inline="always")
def _down(x: float) -> np.float32:
    """float32 at or below x: boxes are stored in float32 (half the memory traffic), rounded outward."""
    f = np.float32(x)
    if f > x:
        f = np.nextafter(f, np.float32(-np.inf))
    return f


@njit(cache=True, inline="always")
def _up(x: float) -> np.float32:
    f = np.float32(x)
    if f < x:
        f = np.nextafter(f, np.float32(np.inf))
    return f


@njit(cache=True)
def _file_entry(
    v: int,
    key: int,
    lngmin: float,
    lngmax: float,
    vf: np.ndarray,
    hkeys: np.ndarray,
    hvals: np.ndarray,
    cells: np.ndarray,
    blk_meta: np.ndarray,
    blk_vol: np.ndarray,
    blk_box: np.ndarray,
    free_stack: np.ndarray,
    counters: np.ndarray,
) -> None:
    c = lookup(hkeys, hvals, key)
    if c < 0:
        c = counters[C_NCELLS]
        counters[C_NCELLS] += 1
        cells[c, CK_KEY] = key
        cells[c, CK_HEAD] = -1
        cells[c, CK_N] = 0
        cells[c, CK_DEAD] = 0
        _hash_put(hkeys, hvals, key, c)
    b = cells[c, CK_HEAD]
    if b < 0 or blk_meta[b, 1] >= BLOCK:
        nb = _alloc_block(blk_meta, free_stack, counters)
        blk_meta[nb, 0] = b
        cells[c, CK_HEAD] = nb
        b = nb
    k = blk_meta[b, 1]
    blk_meta[b, 1] = k + 1
    blk_vol[b, k] = v
    box = blk_box[b, k]
    box[0] = _down(vf[v, F_LATMIN])
    box[1] = _up(vf[v, F_LATMAX])
    box[2] = _down(lngmin)
    box[3] = _up(lngmax)
    box[4] = _down(vf[v, F_ZLO])
    box[5] = _up(vf[v, F_ZHI])
    box[6] = _down(vf[v, F_T0])
    box[7] = _up(vf[v, F_T1])
    cells[c, CK_N] += 1
    counters[C_LIVE_ENTRIES] += 1


@njit(cache=True)
def insert_volumes(
    first: int,
    last: int,
    vf: np.ndarray,
    vi: np.ndarray,
    hkeys: np.ndarray,
    hvals: np.ndarray,
    cells: np.ndarray,
    blk_meta: np.ndarray,
    blk_vol: np.ndarray,
    blk_box: np.ndarray,
    free_stack: np.ndarray,
    counters: np.ndarray,
    level_count: np.ndarray,
) -> int:
    """File volumes first..last-1 (already written to vf/vi). Returns how far it got: stops early, before
    touching a volume, when blocks, cells or the hash might run out, so the caller can grow them and resume."""
    for v in range(first, last):
        need = cells_needed(vf, v)
        free_blocks = counters[C_NFREE] + blk_meta.shape[0] - counters[C_BLOCKS_HWM]
        if (
            free_blocks < need
            or counters[C_NCELLS] + need > cells.shape[0]
            or 2 * (counters[C_NCELLS] + need) > hkeys.shape[0]
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
                        key = cell_key(ks, kt, iy, ix, it)
                        _file_entry(
                            v, key, lo, hi, vf, hkeys, hvals, cells, blk_meta, blk_vol, blk_box, free_stack, counters
                        )
        vi[v, I_ALIVE] = 1
    return last


@njit(cache=True)
def _compact_cell(
    c: int,
    vi: np.ndarray,
    cells: np.ndarray,
    blk_meta: np.ndarray,
    blk_vol: np.ndarray,
    blk_box: np.ndarray,
    free_stack: np.ndarray,
    counters: np.ndarray,
) -> None:
    """Rewrite a cell's blocks keeping only live entries; freed blocks go back to the pool."""
    n = cells[c, CK_N]
    keep_vol = np.empty(n, dtype=np.int32)
    keep_box = np.empty((n, 8), dtype=np.float32)
    m = 0
    b = cells[c, CK_HEAD]
    while b >= 0:
        for k in range(blk_meta[b, 1]):
            v = blk_vol[b, k]
            if vi[v, I_ALIVE] == 1:
                keep_vol[m] = v
                keep_box[m] = blk_box[b, k]
                m += 1
        nxt = blk_meta[b, 0]
        free_stack[counters[C_NFREE]] = b
        counters[C_NFREE] += 1
        b = nxt
    cells[c, CK_HEAD] = -1
    head = -1
    for start in range(0, m, BLOCK):
        nb = _alloc_block(blk_meta, free_stack, counters)
        blk_meta[nb, 0] = head
        cnt = min(BLOCK, m - start)
        for k in range(cnt):
            blk_vol[nb, k] = keep_vol[start + k]
            blk_box[nb, k] = keep_box[start + k]
        blk_meta[nb, 1] = cnt
        head = nb
    cells[c, CK_HEAD] = head
    counters[C_LIVE_ENTRIES] -= n - m
    cells[c, CK_N] = m
    cells[c, CK_DEAD] = 0


@njit(cache=True)
def remove_volume(
    v: int,
    vf: np.ndarray,
    vi: np.ndarray,
    hkeys: np.ndarray,
    hvals: np.ndarray,
    cells: np.ndarray,
    blk_meta: np.ndarray,
    blk_vol: np.ndarray,
    blk_box: np.ndarray,
    free_stack: np.ndarray,
    counters: np.ndarray,
    level_count: np.ndarray,
) -> bool:
    """Tombstone volume v in each of its cells; compact a cell once half of it is dead. False if not alive."""
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
                    cells[c, CK_DEAD] += 1
                    if 2 * cells[c, CK_DEAD] >= cells[c, CK_N]:
                        _compact_cell(c, vi, cells, blk_meta, blk_vol, blk_box, free_stack, counters)
    return True


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


@njit(cache=True)
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
    """Exact test of volume v against a query projected in `frame`: (lateral m, vertical gap m, time gap s),
    or lateral -1 when v is outside the minima of its owner. `ring` is scratch with room for v's points."""
    owner = vi[v, I_OWNER]
    tgap = max(vf[v, F_T0] - qt1, qt0 - vf[v, F_T1])
    if tgap > minima[owner, 2]:
        return -1.0, 0.0, 0.0
    zgap = max(vf[v, F_ZLO] - qzhi, qzlo - vf[v, F_ZHI])
    if zgap > minima[owner, 1]:
        return -1.0, 0.0, 0.0
    ps = vi[v, I_PSTART]
    pc = vi[v, I_PCOUNT]
    for j in range(pc):
        ring[j, 0], ring[j, 1] = project_point(frame, points[ps + j, 0], points[ps + j, 1], points[ps + j, 2])
    d = shape_distance(qring, qradius, ring[:pc], vf[v, F_RADIUS])
    if d > minima[owner, 0] + LATERAL_EPS_M:
        return -1.0, 0.0, 0.0
    return d, max(zgap, 0.0), max(tgap, 0.0)


@njit(cache=True)
def query_frame(qpoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The query's frame parameters and its outline projected in that frame."""
    lat0, lng0 = frame_centre(qpoints)
    frame = frame_params(lat0, lng0)
    qring = np.empty((qpoints.shape[0], 2))
    for i in range(qpoints.shape[0]):
        qring[i, 0], qring[i, 1] = project_point(frame, qpoints[i, 0], qpoints[i, 1], qpoints[i, 2])
    return frame, qring


@njit(cache=True)
def query(
    qpoints: np.ndarray,
    qradius: float,
    qzlo: float,
    qzhi: float,
    qt0: float,
    qt1: float,
    qparams: np.ndarray,
    minima: np.ndarray,
    kind_mask: np.ndarray,
    vf: np.ndarray,
    vi: np.ndarray,
    points: np.ndarray,
    stamp: np.ndarray,
    hkeys: np.ndarray,
    hvals: np.ndarray,
    cells: np.ndarray,
    blk_meta: np.ndarray,
    blk_vol: np.ndarray,
    blk_box: np.ndarray,
    counters: np.ndarray,
    level_count: np.ndarray,
    out_vol: np.ndarray,
    out_val: np.ndarray,
) -> int:
    """Every live volume within the minima of the query footprint, exactly; returns the number found.

    minima[owner] = (lateral m, vertical m, time s) for each owner; qparams holds the largest of them (used to
    widen the search box) and the owner to skip. Results beyond out_vol's length are counted, not written,
    so the caller can grow the buffers and ask again. out_val[k] = lateral distance m, vertical gap m, time gap s.
    """
    # the query's own box, frame and projected outline
    qoff = np.empty(2, dtype=np.int64)
    qoff[0] = 0
    qoff[1] = qpoints.shape[0]
    qr = np.empty(1)
    qr[0] = qradius
    qbox = compute_bboxes(qoff, qpoints, qr)[0]
    frame, qring = query_frame(qpoints)
    lmax = qparams[Q_LMAX]
    zmax = qparams[Q_ZMAX]
    tmax = qparams[Q_TMAX]
    skip_owner = int(qparams[Q_SKIP_OWNER])
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
    qid = counters[C_QUERY]
    found = 0
    cap = out_vol.shape[0]
    ring = np.empty((1, 2))
    for ks in range(NKS):
        cs = BASE_DEG * (1 << ks)
        r0, r1 = _rows(latmin, latmax, cs)
        for kt in range(NKT):
            if level_count[ks, kt] == 0:
                continue
            ct = BASE_S * (1 << kt)
            it0 = math.floor(tlo / ct)
            it1 = math.floor(thi / ct)
            for part in range(nparts):
                plo = a0 if part == 0 else b0
                phi = a1 if part == 0 else b1
                c0, c1 = _cols(plo, phi, cs)
                for iy in range(r0, r1 + 1):
                    for ix in range(c0, c1 + 1):
                        for it in range(it0, it1 + 1):
                            c = lookup(hkeys, hvals, cell_key(ks, kt, iy, ix, it))
                            if c < 0:
                                continue
                            b = cells[c, CK_HEAD]
                            while b >= 0:
                                for k in range(blk_meta[b, 1]):
                                    box = blk_box[b, k]
                                    if (
                                        box[0] > latmax
                                        or box[1] < latmin
                                        or box[2] > phi
                                        or box[3] < plo
                                        or box[4] > zhi
                                        or box[5] < zlo
                                        or box[6] > thi
                                        or box[7] < tlo
                                    ):
                                        continue
                                    v = blk_vol[b, k]
                                    if stamp[v] == qid or vi[v, I_ALIVE] != 1:
                                        continue
                                    stamp[v] = qid
                                    owner = vi[v, I_OWNER]
                                    if owner == skip_owner or kind_mask[vi[v, I_KIND]] == 0:
                                        continue
                                    if ring.shape[0] < vi[v, I_PCOUNT]:
                                        ring = np.empty((vi[v, I_PCOUNT], 2))
                                    d, zgap, tgap = exact_test(
                                        frame, qring, qradius, qzlo, qzhi, qt0, qt1, v, vf, vi, points, minima, ring
                                    )
                                    if d < 0.0:
                                        continue
                                    if found < cap:
                                        out_vol[found] = v
                                        out_val[found, 0] = d
                                        out_val[found, 1] = zgap
                                        out_val[found, 2] = tgap
                                    found += 1
                                b = blk_meta[b, 0]
    return found
