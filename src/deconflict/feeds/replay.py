"""Replay of recorded traffic as a feed: the recordings in ../shared/data, as timed batches of reports.

`open_recording(path)` reads a whole file into one `Recording` (a `TrackBatch` in time order, the source's
`FeedStats`); the format follows the name: ".json" / ".json.gz" state vectors (a JSON array of objects with
timestamp in epoch ms, icao24, callsign, latitude, longitude, altitude ft, groundspeed kt, track deg,
vertical_rate ft/min, onground), ".bin" / ".beast" Beast binary, ".jsonl" / ".txt" / ".hex" hex frames.
`ticks(batch, tick_s)` cuts it into consecutive windows of recording time, and `paced(windows, speed, clock,
sleep)` hands each out when it is due at `speed` times real time (the clock and sleep are injected: tests pass
fakes; speed 0 means as fast as possible).
"""

from __future__ import annotations

import gzip
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from ..core.tactical.cpa import FPM, FT, KT
from ..core.tactical.tracks import TrackBatch
from ..errors import InvalidInput
from .beast import BeastFramer, parse_hex_line
from .modes import ModeSTracker
from .reports import FeedStats

__all__ = ["Recording", "open_recording", "paced", "read_beast", "read_hex_frames", "read_state_vectors", "ticks"]


@dataclass(frozen=True, slots=True)
class Recording:
    source: str  #: "state-vectors", "beast" or "hex-frames"
    batch: TrackBatch  #: reports in time order
    stats: FeedStats  #: what the parser set aside, and why


def _open_text(path: Path) -> TextIO:
    return gzip.open(path, "rt") if path.suffix == ".gz" else path.open()


def _f(v: object) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan


def read_state_vectors(path: str | Path) -> Recording:
    """State vectors (the `traffic` library's JSON) as reports; "malformed" counts records without an address
    or a time. Missing or null numbers become NaN, for the core's rules to refuse."""
    path = Path(path)
    with _open_text(path) as fh:
        records = json.load(fh)
    stats = FeedStats()
    if not isinstance(records, list):
        raise InvalidInput("a state-vector file holds a JSON array of objects", field=str(path))
    keep = []
    for r in records:
        stats.count("records")
        if not isinstance(r, dict) or not isinstance(r.get("icao24"), str) or not isinstance(
                r.get("timestamp"), int | float):
            stats.count("malformed")
            continue
        keep.append(r)
    keep.sort(key=lambda r: r["timestamp"])
    stats.count("reports", len(keep))
    col = np.array([[r["timestamp"] / 1000.0, _f(r.get("latitude")), _f(r.get("longitude")), _f(r.get("altitude")),
                     _f(r.get("groundspeed")), _f(r.get("track")), _f(r.get("vertical_rate"))] for r in keep],
                   dtype=np.float64).reshape(-1, 7)
    batch = TrackBatch.of(t_s=col[:, 0], lat_deg=col[:, 1], lng_deg=col[:, 2], alt_m=col[:, 3] * FT,
                          gs_mps=col[:, 4] * KT, track_deg=col[:, 5], vs_mps=col[:, 6] * FPM,
                          icao24=[r["icao24"] for r in keep], callsign=[(r.get("callsign") or "") for r in keep],
                          on_ground=np.array([bool(r.get("onground")) for r in keep], dtype=bool))
    return Recording("state-vectors", batch, stats)


def _ordered(batch: TrackBatch) -> TrackBatch:
    return batch.take(np.argsort(batch.t_s, kind="stable"))


def read_beast(path: str | Path, *, epoch_s: float = 0.0, reference: tuple[float, float] | None = None,
               chunk: int = 65536) -> Recording:
    """A Beast binary file through `BeastFramer` and `ModeSTracker`; times are `epoch_s` plus the MLAT counter
    (the file does not say when the counter was zero). Stats: the framer's and the tracker's, together."""
    framer, tracker = BeastFramer(), ModeSTracker(reference=reference)
    with open(path, "rb") as fh:
        while data := fh.read(chunk):
            for frame in framer.feed(data):
                if frame.kind != "1":
                    tracker.feed(frame.time_s(epoch_s), frame.payload)
    stats = FeedStats()
    stats.counts.update(framer.stats.counts)
    stats.counts.update(tracker.stats.counts)
    return Recording("beast", _ordered(tracker.rows.batch()), stats)


def read_hex_frames(path: str | Path, *, mlat_epoch_s: float = 0.0,
                    reference: tuple[float, float] | None = None) -> Recording:
    """Hex frames, one per line (`parse_hex_line`), through `ModeSTracker`. Lines without a time ("*...;") are
    counted as "no_time"; refused lines under their reason."""
    tracker = ModeSTracker(reference=reference)
    stats = FeedStats()
    path = Path(path)
    with _open_text(path) as fh:
        for line in fh:
            got = parse_hex_line(line, mlat_epoch_s)
            if isinstance(got, str):
                stats.count(got)
            elif got[0] is None:
                stats.count("no_time")
            else:
                tracker.feed(got[0], got[1])
    stats.counts.update(tracker.stats.counts)
    return Recording("hex-frames", _ordered(tracker.rows.batch()), stats)


def open_recording(path: str | Path, *, epoch_s: float = 0.0,
                   reference: tuple[float, float] | None = None) -> Recording:
    """The recording at `path`, read by the reader its name calls for (see the module docstring)."""
    path = Path(path)
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".json"):
        return read_state_vectors(path)
    if name.endswith((".bin", ".beast")):
        return read_beast(path, epoch_s=epoch_s, reference=reference)
    if name.endswith((".jsonl", ".txt", ".hex")):
        return read_hex_frames(path, mlat_epoch_s=epoch_s, reference=reference)
    raise InvalidInput(f"unknown recording format {path.name!r}: expected .json[.gz] state vectors, "
                       ".bin/.beast Beast binary or .jsonl/.txt/.hex hex frames", field="file")


def ticks(batch: TrackBatch, tick_s: float = 1.0) -> Iterator[tuple[float, TrackBatch]]:
    """Consecutive windows of `tick_s` seconds of recording time, each as (end time, its reports); the batch
    must be in time order. Windows without reports are skipped."""
    if len(batch) == 0:
        return
    if tick_s <= 0:
        raise InvalidInput("the tick must be positive", field="tick_s")
    t0 = float(batch.t_s[0])
    n = np.floor((batch.t_s - t0) / tick_s).astype(np.int64)
    cuts = np.flatnonzero(np.diff(n)) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [len(batch)]))
    for s, e in zip(starts, ends, strict=True):
        yield t0 + (int(n[s]) + 1) * tick_s, batch.take(slice(int(s), int(e)))


def paced(windows: Iterable[tuple[float, TrackBatch]], speed: float = 1.0,
          clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> Iterator[tuple[float, TrackBatch]]:
    """Each window when it is due: at `speed` times real time from the first (speed 0: no waiting)."""
    start_wall: float | None = None
    start_t = 0.0
    for t, batch in windows:
        if start_wall is None:
            start_wall, start_t = clock(), t
        elif speed > 0:
            wait = start_wall + (t - start_t) / speed - clock()
            if wait > 0:
                sleep(wait)
        yield t, batch
