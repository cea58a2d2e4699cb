"""SBS-1 / BaseStation CSV, as dump1090 writes it on port 30003: line framing, parsing, per-aircraft state.

A line has 22 comma-separated fields:

    MSG,3,1,1,4CA2D6,1,2021/10/07,12:00:01.000,2021/10/07,12:00:01.000,,36000,,,48.85,2.35,,,0,0,0,0
     0  1 2 3   4    5     6           7           8           9      10  11 12 13 14  15 16 17 ...21

(0) message kind (MSG, or SEL/ID/AIR/STA/CLK, which carry no state), (1) transmission type 1-8, (2-3) session and
aircraft ids, (4) ICAO address (hex), (5) flight id, (6-7) date and time generated, (8-9) logged, (10) callsign,
(11) altitude ft, (12) ground speed kt, (13) track deg, (14-15) latitude/longitude deg, (16) vertical rate ft/min,
(17) squawk, (18) alert, (19) emergency, (20) SPI, (21) on ground (flags "-1"/"1" true, "0" false).

Transmission types: 1 identification (callsign), 2 surface position, 3 airborne position, 4 airborne velocity,
5 surveillance altitude, 6 surveillance identity (squawk), 7 air-to-air, 8 all-call. `Sbs1Decoder` keeps, per
address, the last altitude (from 2/3/5/6/7), velocity (from 4) and callsign (from 1), and turns every airborne
position (3) into a report row once altitude and velocity are known. Times are the "generated" fields, read as
UTC plus `utc_offset_s` (dump1090 writes its local time).
"""

from __future__ import annotations

import calendar
import math
import time
from dataclasses import dataclass, field

from ..core.tactical.cpa import FPM, FT, KT
from .reports import FeedStats, ReportRows

__all__ = ["LineFramer", "Sbs1Decoder", "format_sbs1"]

_HEXDIGITS = frozenset("0123456789abcdefABCDEF")


@dataclass(slots=True)
class LineFramer:
    """Bytes in (any split), complete lines out (without "\\r\\n" or "\\n"); a line longer than `max_line` bytes
    is dropped and counted as "overlong" in `stats`, and a line that is not UTF-8 as "encoding"; `reset` drops a
    partial line when its connection is lost."""

    max_line: int = 1024
    stats: FeedStats = field(default_factory=FeedStats)
    _tail: bytes = b""
    _skipping: bool = False

    def reset(self) -> None:
        """Forget a partial line (the connection it came on is gone), counting it as "partial"."""
        if self._tail and not self._skipping:
            self.stats.count("partial")
        self._tail, self._skipping = b"", False

    def feed(self, data: bytes) -> list[str]:
        chunk = self._tail + data
        parts = chunk.split(b"\n")
        self._tail = parts.pop()
        out: list[str] = []
        for k, raw in enumerate(parts):
            if k == 0 and self._skipping:  # the end of an overlong line
                self._skipping = False
                continue
            if len(raw) > self.max_line:
                self.stats.count("overlong")
                continue
            try:
                out.append(raw.rstrip(b"\r").decode())
            except UnicodeDecodeError:
                self.stats.count("encoding")
        if len(self._tail) > self.max_line:
            if not self._skipping:
                self.stats.count("overlong")
            self._tail, self._skipping = b"", True
        return out


@dataclass(slots=True)
class _State:
    alt_ft: float = math.nan
    gs_kt: float = math.nan
    track_deg: float = math.nan
    vs_fpm: float = math.nan
    callsign: str = ""
    velocity_t: float = -math.inf


def _num(s: str) -> float:
    """A numeric field: "" is NaN; anything else unparseable raises ValueError."""
    return float(s) if s else math.nan


@dataclass(slots=True)
class Sbs1Decoder:
    """SBS-1 lines in, report rows out (`rows`). `stats` counts "lines" and, per line set aside: "fields" (not 22
    fields), "kind" (not MSG), "msg_type" (not 1-8), "icao" (not 6 hex digits), "time" (bad date or time),
    "number" (a numeric field that is not a number), "no_position" (type 3 without latitude/longitude),
    "incomplete" (type 3 before an altitude and a velocity younger than `velocity_max_age_s` are known),
    "surface" (type 2: kept for state, reported only with `report_surface`); "reports" counts rows."""

    utc_offset_s: float = 0.0
    velocity_max_age_s: float = 30.0
    report_surface: bool = False
    stats: FeedStats = field(default_factory=FeedStats)
    rows: ReportRows = field(default_factory=ReportRows)
    aircraft: dict[str, _State] = field(default_factory=dict)
    _days: dict[str, float] = field(default_factory=dict)

    def _time(self, date: str, clock: str) -> float:
        day = self._days.get(date)
        if day is None:
            y, m, d = date.split("/")
            day = float(calendar.timegm((int(y), int(m), int(d), 0, 0, 0))) - self.utc_offset_s
            if len(self._days) > 16:
                self._days.clear()
            self._days[date] = day
        hh, mm, ss = clock.split(":")
        h, mi, s = int(hh), int(mm), float(ss)
        if not (0 <= h < 24 and 0 <= mi < 60 and 0.0 <= s < 61.0):
            raise ValueError(clock)
        return day + h * 3600 + mi * 60 + s

    def feed_lines(self, lines: list[str]) -> None:
        for line in lines:
            self.feed_line(line)

    def feed_line(self, line: str) -> None:
        count = self.stats.count
        count("lines")
        f = line.split(",")
        if len(f) != 22:
            count("fields")
            return
        if f[0] != "MSG":
            count("kind")
            return
        kind = f[1]
        if len(kind) != 1 or kind not in "12345678":
            count("msg_type")
            return
        icao = f[4]
        if len(icao) != 6 or not _HEXDIGITS.issuperset(icao):
            count("icao")
            return
        icao = icao.lower()
        try:
            t = self._time(f[6], f[7])
        except (ValueError, OverflowError):
            count("time")
            return
        try:
            alt = _num(f[11])
            if kind == "4" or kind == "2":
                gs, trk = _num(f[12]), _num(f[13])
                vs = _num(f[16])
            if kind == "3" or kind == "2":
                lat, lng = _num(f[14]), _num(f[15])
        except ValueError:
            count("number")
            return
        st = self.aircraft.get(icao)
        if st is None:
            st = self.aircraft[icao] = _State()
        if kind == "1":
            st.callsign = f[10].strip()
            return
        if alt == alt:  # not NaN
            st.alt_ft = alt
        if kind == "4":
            if gs == gs and trk == trk:
                st.gs_kt, st.track_deg, st.velocity_t = gs, trk, t
            if vs == vs:
                st.vs_fpm = vs
            return
        if kind == "2":
            count("surface")
            if self.report_surface and lat == lat and lng == lng:
                count("reports")
                self.rows.add(t, lat, lng, math.nan, gs * KT, trk, 0.0, icao, st.callsign, True)
            return
        if kind != "3":
            return
        if not (lat == lat and lng == lng):
            count("no_position")
            return
        if st.alt_ft != st.alt_ft or t - st.velocity_t > self.velocity_max_age_s:
            count("incomplete")
            return
        count("reports")
        vs_mps = 0.0 if st.vs_fpm != st.vs_fpm else st.vs_fpm * FPM
        self.rows.add(t, lat, lng, st.alt_ft * FT, st.gs_kt * KT, st.track_deg, vs_mps, icao, st.callsign,
                      f[21] in ("-1", "1"))


def _clock(t_s: float) -> tuple[str, str]:
    whole = math.floor(t_s)
    tm = time.gmtime(whole)
    return (f"{tm.tm_year:04d}/{tm.tm_mon:02d}/{tm.tm_mday:02d}",
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}.{round((t_s - whole) * 1000) % 1000:03d}")


def format_sbs1(kind: int, icao24: str, t_s: float, *, callsign: str = "", alt_ft: float | None = None,
                gs_kt: float | None = None, track_deg: float | None = None, lat_deg: float | None = None,
                lng_deg: float | None = None, vs_fpm: float | None = None, on_ground: bool = False) -> str:
    """One SBS-1 line (UTC times, as `Sbs1Decoder` reads them by default); None fields are left empty."""
    def n(v: float | None, fmt: str) -> str:
        return "" if v is None or v != v else format(v, fmt)

    date, clock = _clock(t_s)
    fields = ["MSG", str(kind), "1", "1", icao24.upper(), "1", date, clock, date, clock, callsign,
              n(alt_ft, ".0f"), n(gs_kt, ".1f"), n(track_deg, ".1f"), n(lat_deg, ".5f"), n(lng_deg, ".5f"),
              n(vs_fpm, ".0f"), "", "0", "0", "0", "-1" if on_ground else "0"]
    return ",".join(fields)
