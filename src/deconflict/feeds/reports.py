"""What every feed shares: counted outcomes (`FeedStats`) and a row builder for `TrackBatch` (`ReportRows`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..core.tactical.tracks import TrackBatch

__all__ = ["FeedStats", "ReportRows"]


@dataclass(slots=True)
class FeedStats:
    """Counts per outcome of one source: "reports" (rows handed on) and each reason a message was set aside."""

    counts: Counter[str] = field(default_factory=Counter)

    def count(self, reason: str, n: int = 1) -> None:
        self.counts[reason] += n

    def __getitem__(self, reason: str) -> int:
        return self.counts[reason]

    def as_dict(self) -> dict[str, int]:
        """The counts, sorted by name, zeros omitted."""
        return {k: v for k, v in sorted(self.counts.items()) if v}


@dataclass(slots=True)
class ReportRows:
    """Position reports gathered one at a time, turned into a `TrackBatch` by `batch()` (which empties it).

    Units are the core's: epoch seconds, degrees, metres, m/s, degrees from true north, m/s up."""

    rows: list[tuple[float, float, float, float, float, float, float, str, str, bool]] = field(default_factory=list)

    def add(self, t_s: float, lat_deg: float, lng_deg: float, alt_m: float, gs_mps: float, track_deg: float,
            vs_mps: float, icao24: str, callsign: str = "", on_ground: bool = False) -> None:
        self.rows.append((t_s, lat_deg, lng_deg, alt_m, gs_mps, track_deg, vs_mps, icao24, callsign, on_ground))

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self) -> TrackBatch:
        rows, self.rows = self.rows, []
        if not rows:
            return TrackBatch.of(t_s=[], lat_deg=[], lng_deg=[], alt_m=[], gs_mps=[], track_deg=[], vs_mps=[])
        cols = list(zip(*rows, strict=True))
        f = [np.array(c, dtype=np.float64) for c in cols[:7]]
        return TrackBatch.of(t_s=f[0], lat_deg=f[1], lng_deg=f[2], alt_m=f[3], gs_mps=f[4], track_deg=f[5],
                             vs_mps=f[6], icao24=cols[7], callsign=cols[8], on_ground=np.array(cols[9], dtype=bool))
