"""`deconflict bench feeds`: ingest rate of the SBS-1 and Beast decoders (messages per second), from bytes as they
arrive on dump1090's ports to report rows, and with the core's quality rules (`TrackTable.ingest`) after them.

Inputs: SBS-1 lines made from the en-route workload of `deconflict bench tactical` (each aircraft sends an
identification, then per second a velocity (MSG 4) and an airborne position (MSG 3): the mix a receiver sends);
Beast binary made from a recording of real Mode S frames (a hex-frame file such as ../shared/data/adsb/
full_flight_short.jsonl), framed as dump1090 writes them. Both are fed in 64 KiB reads.
Baseline, same run and bytes: the least any reader does (SBS-1: split into lines and fields; Beast: the framer
alone), so the ratio says what the decoding itself costs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..core.tactical import TrackTable
from ..feeds.beast import BEAST_CLOCK_HZ, BeastFrame, BeastFramer, beast_encode
from ..feeds.modes import ModeSTracker
from ..feeds.sbs1 import LineFramer, Sbs1Decoder, format_sbs1
from .tactical import workload

__all__ = ["beast_wire", "run", "sbs1_wire"]

CHUNK = 65_536
TARGET_SBS1_MSGS_S = 50_000.0


def sbs1_wire(aircraft: int, seconds: int, seed: int = 1) -> tuple[bytes, int]:
    """(the bytes, the number of lines) of `aircraft` en-route aircraft reporting for `seconds` seconds."""
    batch, _, _ = workload("enroute", aircraft, seed)
    t0 = 1_700_000_000.0
    lines = [format_sbs1(1, icao, t0, callsign=f"BENCH{k % 1000:03d}") for k, icao in enumerate(batch.icao24)]
    ft, kt, fpm = 0.3048, 1852.0 / 3600.0, 0.3048 / 60.0
    for s in range(seconds):
        t = t0 + s
        # a straight flat-Earth step per second is enough to make positions move plausibly
        north = batch.gs_mps * np.cos(np.radians(batch.track_deg)) * s / 111_320.0
        east = batch.gs_mps * np.sin(np.radians(batch.track_deg)) * s / (111_320.0 * np.cos(np.radians(
            batch.lat_deg)))
        for i, icao in enumerate(batch.icao24):
            lines.append(format_sbs1(4, icao, t + 0.2, gs_kt=batch.gs_mps[i] / kt, track_deg=batch.track_deg[i],
                                     vs_fpm=batch.vs_mps[i] / fpm))
            lines.append(format_sbs1(3, icao, t + 0.5, alt_ft=(batch.alt_m[i] + batch.vs_mps[i] * s) / ft,
                                     lat_deg=batch.lat_deg[i] + north[i], lng_deg=batch.lng_deg[i] + east[i]))
    return ("\r\n".join(lines) + "\r\n").encode(), len(lines)


def beast_wire(frames_file: Path, limit: int | None = None) -> tuple[bytes, int]:
    """(the bytes, the number of frames) of a hex-frame JSON-lines recording, as Beast binary."""
    rows = []
    with open(frames_file) as fh:
        for line in fh:
            rows.append(json.loads(line))
            if limit is not None and len(rows) >= limit:
                break
    t0 = rows[0]["timestamp"]
    wire = b"".join(beast_encode(BeastFrame("3" if len(r["frame"]) == 28 else "2",
                                            round((r["timestamp"] - t0) * BEAST_CLOCK_HZ), 128,
                                            bytes.fromhex(r["frame"]))) for r in rows)
    return wire, len(rows)


def _rate(messages: int, fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return messages / best, out


def _sbs1_decode(wire: bytes, rules: bool) -> tuple[int, dict[str, int]]:
    framer, decoder = LineFramer(), Sbs1Decoder()
    for k in range(0, len(wire), CHUNK):
        decoder.feed_lines(framer.feed(wire[k:k + CHUNK]))
    batch = decoder.rows.batch()
    return len(batch), (TrackTable().ingest(batch).counts if rules else {})


def _sbs1_baseline(wire: bytes) -> int:
    n, tail = 0, b""
    for k in range(0, len(wire), CHUNK):
        parts = (tail + wire[k:k + CHUNK]).split(b"\n")
        tail = parts.pop()
        for raw in parts:
            n += len(raw.decode().split(","))
    return n


def _beast_decode(wire: bytes, rules: bool) -> tuple[int, dict[str, int]]:
    framer, tracker = BeastFramer(), ModeSTracker()
    for k in range(0, len(wire), CHUNK):
        for frame in framer.feed(wire[k:k + CHUNK]):
            if frame.kind != "1":
                tracker.feed(frame.time_s(1_700_000_000.0), frame.payload)
    batch = tracker.rows.batch()
    return len(batch), (TrackTable().ingest(batch).counts if rules else {})


def _beast_baseline(wire: bytes) -> int:
    framer = BeastFramer()
    return sum(len(framer.feed(wire[k:k + CHUNK])) for k in range(0, len(wire), CHUNK))


def run(aircraft: int, seconds: int, frames_file: Path | None, frames: int | None, repeat: int = 3
        ) -> Iterator[dict[str, Any]]:
    """Yield one JSON object per format."""
    wire, n = sbs1_wire(aircraft, seconds)
    decode, (rows, _) = _rate(n, lambda: _sbs1_decode(wire, False), repeat)
    full, (_, counts) = _rate(n, lambda: _sbs1_decode(wire, True), repeat)
    base, _ = _rate(n, lambda: _sbs1_baseline(wire), repeat)
    yield {"bench": "feeds", "format": "sbs1", "messages": n, "bytes": len(wire), "aircraft": aircraft,
           "reports": rows, "msgs_per_s": round(decode), "msgs_per_s_with_rules": round(full),
           "rules": counts, "baseline": {"method": "split into lines and fields only", "msgs_per_s": round(base)},
           "ratio_to_baseline": round(decode / base, 3),
           "target": {"msgs_per_s": TARGET_SBS1_MSGS_S, "met": decode >= TARGET_SBS1_MSGS_S}}
    if frames_file is None or not frames_file.exists():
        yield {"bench": "feeds", "format": "beast", "skipped": f"no hex-frame recording at {frames_file}"}
        return
    wire, n = beast_wire(frames_file, frames)
    decode, (rows, _) = _rate(n, lambda: _beast_decode(wire, False), repeat)
    full, (_, counts) = _rate(n, lambda: _beast_decode(wire, True), repeat)
    base, _ = _rate(n, lambda: _beast_baseline(wire), repeat)
    yield {"bench": "feeds", "format": "beast", "messages": n, "bytes": len(wire), "source": str(frames_file),
           "reports": rows, "msgs_per_s": round(decode), "msgs_per_s_with_rules": round(full), "rules": counts,
           "baseline": {"method": "Beast framing only", "msgs_per_s": round(base)},
           "ratio_to_baseline": round(decode / base, 3)}
