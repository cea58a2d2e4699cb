"""A receiver's TCP stream forwarded into the service: `deconflict feed sbs1|beast --connect HOST:PORT`.

`Decoding` turns the bytes of dump1090's port 30003 (SBS-1 lines: `LineFramer` + `Sbs1Decoder`) or port 30005
(Beast binary: `BeastFramer` + `ModeSTracker`) into position reports. A Beast stream's times come from the
receiver's 12 MHz counter, anchored to the wall clock at the first frame (the stream does not say when the counter
was zero; anchoring keeps the receiver's exact spacing between frames), and anchored again when the counter goes
back (the receiver restarted).

`forward` reads with `read_tcp` (reconnecting with back-off), and every `interval_s` posts what was decoded, in
batches of at most 5,000 reports, through `post` (the typed client's `post_tracks`). A post that fails (service
unreachable) keeps its reports for the next try, up to `max_pending`; beyond it the oldest are dropped and counted.
`ForwardStats` holds the three sides of the pipeline: the connection (tcp), the decoder (framing and parsing,
reasons a message was set aside) and the service's answers (accepted, rejected by reason).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ..core.tactical.tracks import TrackBatch
from ..errors import DeconflictError
from .beast import BEAST_CLOCK_HZ, BeastFramer
from .modes import ModeSTracker
from .reports import FeedStats
from .sbs1 import LineFramer, Sbs1Decoder
from .tcp import read_tcp

__all__ = ["MAX_BATCH", "Decoding", "ForwardStats", "forward", "reports_json"]

MAX_BATCH = 5_000  #: reports per post (the service's limit)
Kind = Literal["sbs1", "beast"]


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def reports_json(batch: TrackBatch) -> list[dict[str, Any]]:
    """Reports in the `POST /v1/tracks` shape; a missing number is null, for the service to count as refused."""
    out = []
    for i in range(len(batch)):
        callsign = str(batch.callsign[i] or "").strip()[:16]
        out.append({"time": datetime.fromtimestamp(float(batch.t_s[i]), UTC).isoformat(),
                    "lat": _num(batch.lat_deg[i]), "lng": _num(batch.lng_deg[i]), "altitude_m": _num(batch.alt_m[i]),
                    "ground_speed_mps": _num(batch.gs_mps[i]), "track_deg": _num(batch.track_deg[i]),
                    "vertical_rate_mps": _num(batch.vs_mps[i]), "icao24": batch.icao24[i],
                    "callsign": callsign or None, "on_ground": bool(batch.on_ground[i])})
    return out


@dataclass(slots=True)
class Decoding:
    """Bytes of one receiver stream in, reports out (`take`). `reset` on each new connection."""

    kind: Kind
    utc_offset_s: float = 0.0  #: SBS-1: dump1090 writes its local time
    clock: Callable[[], float] = time.time
    sbs_framer: LineFramer = field(default_factory=LineFramer)
    sbs: Sbs1Decoder = field(init=False)
    beast_framer: BeastFramer = field(default_factory=BeastFramer)
    modes: ModeSTracker = field(default_factory=ModeSTracker)
    _epoch_s: float | None = None
    _last_ticks: int = -1

    def __post_init__(self) -> None:
        self.sbs = Sbs1Decoder(utc_offset_s=self.utc_offset_s)

    def reset(self) -> None:
        if self.kind == "sbs1":
            self.sbs_framer.reset()
        else:  # the anchor stays: the receiver's counter runs on through a dropped connection
            self.beast_framer.reset()

    def feed(self, data: bytes) -> None:
        if self.kind == "sbs1":
            self.sbs.feed_lines(self.sbs_framer.feed(data))
            return
        for frame in self.beast_framer.feed(data):
            if frame.kind == "1":
                continue
            if self._epoch_s is None or frame.mlat_ticks < self._last_ticks:  # first frame, or the counter restarted
                self._epoch_s = self.clock() - frame.mlat_ticks / BEAST_CLOCK_HZ
            self._last_ticks = frame.mlat_ticks
            self.modes.feed(frame.time_s(self._epoch_s), frame.payload)

    def take(self) -> TrackBatch:
        return (self.sbs.rows if self.kind == "sbs1" else self.modes.rows).batch()

    def stats(self) -> dict[str, int]:
        """The framer's and the decoder's counts together."""
        both = (self.sbs_framer.stats, self.sbs.stats) if self.kind == "sbs1" else (self.beast_framer.stats,
                                                                                     self.modes.stats)
        out: Counter[str] = Counter()
        for s in both:
            out.update(s.counts)
        return {k: v for k, v in sorted(out.items()) if v}


@dataclass(slots=True)
class ForwardStats:
    """One source's pipeline: connection, decoding, and what the service accepted and refused (by reason)."""

    source: str
    tcp: FeedStats = field(default_factory=FeedStats)
    service: FeedStats = field(default_factory=FeedStats)
    decoder: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "tcp": self.tcp.as_dict(), "decoder": dict(self.decoder),
                "service": self.service.as_dict(), "last_error": self.last_error}


Post = Callable[[list[dict[str, Any]]], dict[str, Any]]


def _post_all(post: Post, pending: list[dict[str, Any]], stats: ForwardStats) -> list[dict[str, Any]]:
    """Post the pending reports in batches; returns those left for the next try (after a failure)."""
    while pending:
        chunk = pending[:MAX_BATCH]
        try:
            answer = post(chunk)
        except DeconflictError as exc:
            stats.service.count("post_failed")
            stats.last_error = str(exc)
            return pending
        pending = pending[MAX_BATCH:]
        stats.service.count("posted", len(chunk))
        stats.service.count("accepted", int(answer.get("accepted", 0)))
        for reason, n in answer.get("rejected_by_reason", {}).items():
            stats.service.count(f"rejected:{reason}", int(n))
    return pending


async def forward(host: str, port: int, decoding: Decoding, post: Post, stop: asyncio.Event, *,
                  source: str = "feed", interval_s: float = 1.0, max_pending: int = 50_000,
                  on_stats: Callable[[ForwardStats], None] | None = None,
                  sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> ForwardStats:
    """Read host:port until `stop` is set, posting decoded reports every `interval_s` (and once more at the end).
    `post` runs in a worker thread (it is the blocking client); `on_stats` is called after each round."""
    stats = ForwardStats(source)
    reader = asyncio.create_task(read_tcp(host, port, decoding.feed, stop, stats=stats.tcp, sleep=sleep,
                                          on_connect=decoding.reset))
    pending: list[dict[str, Any]] = []

    async def round_trip() -> None:
        nonlocal pending
        pending += reports_json(decoding.take())
        if len(pending) > max_pending:
            stats.service.count("dropped", len(pending) - max_pending)
            pending = pending[-max_pending:]
        if pending:
            pending = await asyncio.to_thread(_post_all, post, pending, stats)
        stats.decoder = decoding.stats()
        if on_stats is not None:
            on_stats(stats)

    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
            await round_trip()
    finally:
        stop.set()
        await reader
    await round_trip()
    return stats
