"""`VolumeIndex`: the Python face of the grid kernels; owns and grows their arrays, reuses slots.

Volume-level and party-agnostic: owners and kinds are small integers, separation minima a matrix. The
declaration-level API (ids, versions, conflicts) is `StrategicEngine`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..footprint import FootprintBatch
from . import grid

__all__ = ["VolumeIndex"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def _lines(rows: int) -> tuple[np.ndarray, np.ndarray]:
    """A zeroed (rows, 8) float64 array whose rows start on 64-byte boundaries (each one cache line), and its
    int64 view."""
    raw = np.zeros(rows * grid.NX + 8)
    skip = (-raw.ctypes.data % 64) // 8
    xr = raw[skip : skip + rows * grid.NX].reshape(rows, grid.NX)
    return xr, xr.view(np.int64)


def _grow(a: np.ndarray, rows: int, fill: float | int = 0) -> np.ndarray:
    out = np.full((rows, *a.shape[1:]), fill, dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


class VolumeIndex:
    """Live 4D volumes in a multi-resolution grid; insert, remove, expire and query without rebuilds."""

    def __init__(self, capacity: int = 1024) -> None:
        capacity = max(int(capacity), 16)
        self.count = 0  # slots ever used (high-water mark)
        self.vf = np.zeros((capacity, grid.NF))
        self.vi = np.zeros((capacity, grid.NI), dtype=np.int64)
        self.xr, self.xri = _lines(capacity)
        self.points = np.zeros((capacity * 8, 3))
        self.npoints = 0
        self.garbage_points = 0
        self.free_slots: list[int] = []
        ncells = max(capacity // 8, 64)
        self.cells = np.zeros((ncells, grid.NCK), dtype=np.int64)
        self.hkeys, self.hvals = grid.rehash(self.cells, 0, _pow2(4 * ncells))
        self.pool_vol = np.zeros(max(capacity * 6, 1024), dtype=np.int32)
        self.pool_box = np.zeros((self.pool_vol.shape[0], 2), dtype=np.uint64)
        self.free_head = np.full(grid.NCLASS, -1, dtype=np.int64)
        self.counters = np.zeros(grid.NCOUNTERS, dtype=np.int64)
        self.level_count = np.zeros((grid.NKS, grid.NKT), dtype=np.int64)
        self.max_points = 1
        self._out_vol = np.zeros(1024, dtype=np.int64)
        self._out_val = np.zeros((1024, 5))
        self._out_labels = np.zeros((2, 1024), dtype=np.int64)

    # -- sizes -----------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.count - len(self.free_slots)

    @property
    def live_entries(self) -> int:
        return int(self.counters[grid.C_LIVE_ENTRIES])

    def is_alive(self, slot: int) -> bool:
        return bool(self.vi[slot, grid.I_ALIVE] == 1)

    # -- writes ----------------------------------------------------------------------------------------
    def insert(self, batch: FootprintBatch, owner: IntArray | int, kind: IntArray | int) -> IntArray:
        """File every footprint of `batch`; returns the slot of each."""
        n = len(batch)
        if n == 0:
            return np.empty(0, dtype=np.int64)
        fresh = not self.free_slots
        slots = self._take_slots(n)
        npts = batch.points.shape[0]
        self._reserve_points(npts)
        first = int(slots[0])
        if n >= LOCALITY_BATCH and fresh:
            # a bulk load: fresh slots handed out grouped by grid cell (see `grid.locality_order`)
            order = grid.locality_order(batch.bbox, batch.t0, batch.t1)
            slots = np.empty(n, dtype=np.int64)
            slots[order] = np.arange(first, first + n)
            contiguous = True
        else:
            order = np.arange(n)
            contiguous = n == 1 or (int(slots[-1]) - first == n - 1 and bool(np.all(np.diff(slots) == 1)))
        # one kernel call writes the rows and, when the slots are contiguous, files them as far as room allows
        most, filed = grid.write_and_file(
            slots, order, batch.offsets, batch.points, batch.radius, batch.zlo, batch.zhi, batch.t0, batch.t1,
            batch.bbox, _ints(owner), _ints(kind), self.npoints, first if contiguous else -1, self.vf, self.vi,
            self.points, self.hkeys, self.hvals, self.cells, self.pool_vol, self.pool_box, self.free_head,
            self.counters, self.level_count, self.xr, self.xri,
        )
        self.npoints += npts
        self.max_points = max(self.max_points, int(most))
        if contiguous:
            self._file(int(filed), first + n)
        else:
            for s in slots.tolist():
                self._file(s, s + 1)
        return slots

    def check_and_insert(
        self,
        batch: FootprintBatch,
        minima: FloatArray,
        kind_mask: npt.NDArray[np.uint8],
        owner: int,
        kind: int,
        label_a: IntArray,
        label_b: IntArray,
    ) -> tuple[int, IntArray, FloatArray]:
        """`query_rows` of a one-footprint batch (skipping `owner`'s volumes), then `insert` of it, in one kernel
        call: (its slot, the hits' labels: rows label_a[slot] and label_b[slot], the hits' rows). The labels are
        read before the insert."""
        if self.free_slots:
            slot = self.free_slots.pop()
        else:
            if self.count == self.vf.shape[0]:
                self._take_slots(1)  # grows the rows
                self.count -= 1
            slot = self.count
            self.count += 1
        npts = batch.points.shape[0]
        if self.npoints + npts > self.points.shape[0]:
            self._reserve_points(npts)
        while True:
            found, most, filed = grid.check_and_file(
                batch.offsets, batch.points, batch.radius, batch.zlo, batch.zhi, batch.t0, batch.t1, batch.bbox,
                owner, kind, minima, kind_mask, slot, self.npoints, self.vf, self.vi, self.points, self.hkeys,
                self.hvals, self.cells, self.pool_vol, self.pool_box, self.free_head, self.counters,
                self.level_count, self.xr, self.xri, label_a, label_b, self._out_labels, self._out_val,
            )
            if most >= 0:
                break
            self._out_labels = np.zeros((2, 2 * found), dtype=np.int64)
            self._out_val = np.zeros((2 * found, 5))
        self.npoints += npts
        if most > self.max_points:
            self.max_points = most
        if filed == slot:  # the grid needs room first
            self._file(slot, slot + 1)
        return slot, self._out_labels[:, :found].copy(), self._out_val[:found].copy()

    def remove(self, slots: IntArray | list[int]) -> int:
        """Remove live volumes; returns how many were alive. Their slots are reused by later inserts."""
        removed = 0
        for s in slots:
            s = int(s)
            if grid.remove_volume(
                s, self.vf, self.vi, self.hkeys, self.hvals, self.cells, self.pool_vol, self.pool_box,
                self.free_head, self.counters, self.level_count,
            ):
                removed += 1
                self.free_slots.append(s)
                self.garbage_points += int(self.vi[s, grid.I_PCOUNT])
        if self.garbage_points > max(self.npoints // 2, 1 << 16):
            self._compact_points()
        return removed

    def expire(self, now_s: float) -> IntArray:
        """Remove every volume whose window ended before `now_s` (epoch seconds); returns their slots."""
        slots = grid.expired(self.vi, self.vf, self.count, float(now_s))
        self.remove(slots)
        return slots

    # -- reads -----------------------------------------------------------------------------------------
    def query(
        self,
        batch: FootprintBatch,
        i: int,
        minima: FloatArray,
        kind_mask: npt.NDArray[np.uint8],
        skip_owner: int = -1,
    ) -> tuple[IntArray, FloatArray]:
        """Live volumes within `minima[owner]` of footprint i of `batch`: (slots, [lateral m, vgap m, tgap s])."""
        slots, rows = self.query_rows(batch, i, minima, kind_mask, skip_owner)
        return slots, np.ascontiguousarray(rows[:, :3])

    def query_rows(
        self,
        batch: FootprintBatch,
        i: int,
        minima: FloatArray,
        kind_mask: npt.NDArray[np.uint8],
        skip_owner: int = -1,
    ) -> tuple[IntArray, FloatArray]:
        """`query` with two more columns per hit: the window (start, end epoch s) over which it applies."""
        while True:
            found = grid.query(
                i, batch.offsets, batch.points, batch.radius, batch.zlo, batch.zhi, batch.t0, batch.t1, batch.bbox,
                skip_owner, minima, kind_mask, self.xr, self.xri, self.points, self.hkeys, self.hvals,
                self.cells, self.pool_vol, self.pool_box, self.counters, self.level_count, self._out_vol,
                self._out_val,
            )
            if found <= self._out_vol.shape[0]:
                return self._out_vol[:found].copy(), self._out_val[:found].copy()
            self._out_vol = np.zeros(2 * found, dtype=np.int64)
            self._out_val = np.zeros((2 * found, 5))

    # -- storage management ----------------------------------------------------------------------------
    def _take_slots(self, n: int) -> IntArray:
        if not self.free_slots and self.count + n <= self.vf.shape[0]:
            self.count += n
            return np.arange(self.count - n, self.count, dtype=np.int64)
        reuse = [self.free_slots.pop() for _ in range(min(n, len(self.free_slots)))]
        fresh = n - len(reuse)
        if self.count + fresh > self.vf.shape[0]:
            rows = max(2 * self.vf.shape[0], self.count + fresh)
            self.vf = _grow(self.vf, rows)
            self.vi = _grow(self.vi, rows)
            xr, xri = _lines(rows)
            xr[: self.xr.shape[0]] = self.xr
            self.xr, self.xri = xr, xri
        fresh_slots = np.arange(self.count, self.count + fresh, dtype=np.int64)
        slots = np.concatenate((np.array(reuse, dtype=np.int64), fresh_slots)) if reuse else fresh_slots
        self.count += fresh
        return slots

    def _reserve_points(self, n: int) -> None:
        if self.npoints + n > self.points.shape[0]:
            self.points = _grow(self.points, max(2 * self.points.shape[0], self.npoints + n))

    def _compact_points(self) -> None:
        live = np.flatnonzero(self.vi[: self.count, grid.I_ALIVE] == 1)
        starts = self.vi[live, grid.I_PSTART]
        counts = self.vi[live, grid.I_PCOUNT]
        new_starts = np.concatenate(([0], np.cumsum(counts)[:-1])) if len(live) else starts
        idx = np.repeat(starts - new_starts, counts) + np.arange(int(counts.sum()))
        self.points[: idx.shape[0]] = self.points[idx]
        self.vi[live, grid.I_PSTART] = new_starts
        self.xri[live, grid.X_PSTART] = new_starts
        self.npoints = int(counts.sum())
        self.garbage_points = 0

    def _file(self, first: int, last: int) -> None:
        while first < last:
            first = grid.insert_volumes(
                first, last, self.vf, self.vi, self.hkeys, self.hvals, self.cells, self.pool_vol, self.pool_box,
                self.free_head, self.counters, self.level_count,
            )
            if first < last:
                need_cells, need_pool = grid.space_needed(self.vf, first, self.hkeys, self.hvals, self.cells)
                self._grow_grid(int(need_cells), int(need_pool))

    def _grow_grid(self, need: int, need_pool: int) -> None:
        used = int(self.counters[grid.C_POOL_HWM])
        if used + need_pool > self.pool_vol.shape[0]:
            rows = max(2 * self.pool_vol.shape[0], used + need_pool)
            self.pool_vol = _grow(self.pool_vol, rows)
            self.pool_box = _grow(self.pool_box, rows)
        ncells = int(self.counters[grid.C_NCELLS])
        if ncells + need > self.cells.shape[0]:
            self.cells = _grow(self.cells, max(2 * self.cells.shape[0], ncells + need))
        if 2 * (ncells + need) > self.hkeys.shape[0]:
            self.hkeys, self.hvals = grid.rehash(self.cells, ncells, _pow2(4 * (ncells + need)))


_ONE = np.zeros(1, dtype=np.int64)
LOCALITY_BATCH = 256  #: batches at least this large (bulk loads) get their slots in grid-cell order


def _ints(x: IntArray | int) -> IntArray:
    if isinstance(x, int | np.integer):
        one = _ONE.copy()
        one[0] = x
        return one
    return np.asarray(x, dtype=np.int64).reshape(-1)


def _pow2(n: int) -> int:
    return 1 << max(int(n - 1).bit_length(), 4)
