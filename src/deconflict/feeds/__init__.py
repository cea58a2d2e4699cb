"""Track feeds: the real formats aircraft positions arrive in, parsed into `TrackBatch` rows for the tactical core.

- `sbs1`: SBS-1 / BaseStation CSV lines (dump1090 port 30003), with line framing across reads;
- `beast`: Beast binary framing (dump1090 port 30005) and hex frames with timestamps;
- `modes`: the Mode S / ADS-B subset those carry (CRC, identification, airborne and surface position with CPR
  global and local decoding, airborne velocity), written here: the usual library (pyModeS) is GPL-3.0;
- `replay`: the recordings in ../shared/data as timed batches, paced at real or accelerated speed.

Pure parsers: bytes or lines in, reports out, every refusal counted by reason (`FeedStats`). No clock, no I/O,
except `replay`, whose clock and sleep are injected.
"""

from __future__ import annotations

from .reports import FeedStats, ReportRows

__all__ = ["FeedStats", "ReportRows"]
