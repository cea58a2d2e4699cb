"""Mode S / ADS-B decoding: the subset a track feed needs, and a tracker that turns messages into reports.

Written here rather than taken from pyModeS, the maintained decoder on PyPI, because pyModeS is GPL-3.0 and
Deconflict is Apache-2.0: depending on it would put the whole distribution under the GPL. The subset follows
ICAO Annex 10 Vol. IV / DO-260B as explained in Junzi Sun, "The 1090 Megahertz Riddle" (2nd ed.), and is tested
against that book's published vectors and against the reference fields of the recording in ../shared/data.

- `crc24`: the Mode S parity (generator 0xFFF409); DF17/18 must leave remainder 0.
- `decode`: one frame (bytes) to a `ModeS` value: downlink format, address, type code and the decoded fields of
  DF17/18 identification (TC 1-4), surface position (TC 5-8), airborne position (TC 9-18 barometric altitude,
  20-22 GNSS height) and airborne velocity (TC 19 subtypes 1-2, ground speed; 3-4 airspeed and heading).
- `cpr_global_airborne`, `cpr_local`: Compact Position Reporting, global (an even/odd pair) and local (one
  message and a reference position within half a zone: 180 NM airborne, 45 NM on the surface).
- `ModeSTracker`: per ICAO address, the last even and odd CPR frames, the last fix, altitude, velocity and
  callsign; each new airborne fix with a known velocity becomes a report row. Refusals are counted.

Units at the boundary: feet, knots and ft/min in `ModeS` (as broadcast), metres and m/s in reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..core.tactical.cpa import FPM, FT, KT
from .reports import FeedStats, ReportRows

__all__ = [
    "ModeS",
    "ModeSTracker",
    "cpr_global_airborne",
    "cpr_local",
    "cpr_nl",
    "crc24",
    "decode",
]

_GENERATOR = 0xFFF409


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc = ((crc << 1) ^ _GENERATOR) if crc & 0x800000 else (crc << 1)
        table.append(crc & 0xFFFFFF)
    return table


_TABLE = _crc_table()


def crc24(msg: bytes) -> int:
    """The Mode S parity remainder over the whole frame (data and parity field): 0 for an intact DF17/18 frame,
    the sender's address for DF0/4/5/16/20/21 (address/parity overlay)."""
    crc = 0
    for b in msg[:-3]:
        crc = ((crc << 8) & 0xFFFFFF) ^ _TABLE[((crc >> 16) ^ b) & 0xFF]
    return crc ^ int.from_bytes(msg[-3:], "big")


_CHARS = "#ABCDEFGHIJKLMNOPQRSTUVWXYZ##### ###############0123456789######"


@dataclass(frozen=True, slots=True)
class ModeS:
    """One decoded frame. Fields not carried by this frame are None."""

    df: int
    icao24: str  #: lower-case hex; for DF0/4/5/16/20/21 the address recovered from the parity (not checked)
    crc_ok: bool  #: DF17/18: remainder 0; other formats: True (their parity is the address)
    tc: int | None = None  #: ADS-B type code (DF17/18)
    callsign: str | None = None
    surface: bool | None = None  #: a position frame: True for surface (TC 5-8)
    cpr_odd: bool | None = None
    cpr_lat: int | None = None  #: 17-bit CPR latitude
    cpr_lon: int | None = None
    alt_ft: float | None = None  #: barometric (or, for TC 20-22, GNSS height converted to feet)
    gs_kt: float | None = None  #: ground speed (airborne velocity subtypes 1-2, surface movement)
    track_deg: float | None = None  #: ground track, degrees from true north
    heading_deg: float | None = None  #: velocity subtypes 3-4: magnetic heading (no ground track)
    airspeed_kt: float | None = None
    vs_fpm: float | None = None


def _bits(value: int, width: int, start: int, length: int) -> int:
    """`length` bits of a `width`-bit number, starting at bit `start` counted from the most significant (0)."""
    return (value >> (width - start - length)) & ((1 << length) - 1)


def _ac12_ft(alt: int) -> float | None:
    """The 12-bit altitude of an airborne position: 25 ft steps when the Q bit is set; Gillham (Q=0) not decoded."""
    if alt == 0 or not alt & 0x010:
        return None
    n = ((alt & 0xFE0) >> 1) | (alt & 0x00F)
    return n * 25.0 - 1000.0


def _ac13_ft(alt: int) -> float | None:
    """The 13-bit altitude of DF0/4/16/20 surveillance replies: 25 ft steps when M=0 and Q=1."""
    if alt == 0 or alt & 0x0040 or not alt & 0x0010:
        return None
    n = ((alt & 0x1F80) >> 2) | ((alt & 0x0020) >> 1) | (alt & 0x000F)
    return n * 25.0 - 1000.0


_MOV_EDGES = ((2, 0.125, 0.125), (9, 1.0, 0.25), (13, 2.0, 0.5), (39, 15.0, 1.0), (94, 70.0, 2.0),
              (109, 100.0, 5.0))


def _movement_kt(mov: int) -> float | None:
    if mov == 0 or mov > 124:
        return None
    if mov == 1:
        return 0.0
    if mov == 124:
        return 175.0
    for lo, kt, step in reversed(_MOV_EDGES):
        if mov >= lo:
            return kt + (mov - lo) * step
    return None  # pragma: no cover - mov >= 2 here


def _me_fields(me: int) -> dict[str, object]:
    tc = _bits(me, 56, 0, 5)
    out: dict[str, object] = {"tc": tc}
    if 1 <= tc <= 4:
        out["callsign"] = "".join(_CHARS[_bits(me, 56, 8 + 6 * k, 6)] for k in range(8)).replace("#", "").strip()
    elif 5 <= tc <= 8 or 9 <= tc <= 18 or 20 <= tc <= 22:
        surface = tc <= 8
        out.update(surface=surface, cpr_odd=bool(_bits(me, 56, 21, 1)), cpr_lat=_bits(me, 56, 22, 17),
                   cpr_lon=_bits(me, 56, 39, 17))
        if surface:
            out["gs_kt"] = _movement_kt(_bits(me, 56, 5, 7))
            if _bits(me, 56, 12, 1):
                out["track_deg"] = _bits(me, 56, 13, 7) * 360.0 / 128.0
        elif tc <= 18:
            out["alt_ft"] = _ac12_ft(_bits(me, 56, 8, 12))
        else:
            out["alt_ft"] = _bits(me, 56, 8, 12) / FT
    elif tc == 19:
        st = _bits(me, 56, 5, 3)
        vr = _bits(me, 56, 37, 9)
        if vr:
            out["vs_fpm"] = (vr - 1) * 64.0 * (-1.0 if _bits(me, 56, 36, 1) else 1.0)
        scale = 4.0 if st in (2, 4) else 1.0
        if st in (1, 2):
            vew, vns = _bits(me, 56, 14, 10), _bits(me, 56, 25, 10)
            if vew and vns:
                ve = (vew - 1) * scale * (-1.0 if _bits(me, 56, 13, 1) else 1.0)
                vn = (vns - 1) * scale * (-1.0 if _bits(me, 56, 24, 1) else 1.0)
                out["gs_kt"] = math.hypot(ve, vn)
                out["track_deg"] = math.degrees(math.atan2(ve, vn)) % 360.0
        elif st in (3, 4):
            if _bits(me, 56, 13, 1):
                out["heading_deg"] = _bits(me, 56, 14, 10) * 360.0 / 1024.0
            asp = _bits(me, 56, 25, 10)
            if asp:
                out["airspeed_kt"] = (asp - 1) * scale
    return out


def decode(msg: bytes) -> ModeS | None:
    """One Mode S frame (7 or 14 bytes) decoded, or None when a long format comes in 7 bytes (or another length)."""
    if len(msg) not in (7, 14):
        return None
    df = msg[0] >> 3
    if df >= 24:
        df = 24
    if df < 16 and len(msg) == 14:
        msg = msg[:7]  # a short reply captured as 112 bits (some receivers do): the first 56 are the reply
    elif df >= 16 and len(msg) == 7:
        return None
    if df in (17, 18):
        crc_ok = crc24(msg) == 0
        icao = msg[1:4].hex()
        if not crc_ok:
            return ModeS(df, icao, False)
        if df == 18 and (msg[0] & 7) not in (0, 6):  # CF 0/6: ADS-B with an ICAO address; others not decoded
            return ModeS(df, icao, True)
        me = int.from_bytes(msg[4:11], "big")
        return ModeS(df, icao, True, **_me_fields(me))  # type: ignore[arg-type]
    if df in (0, 4, 5, 16, 20, 21):
        icao = f"{crc24(msg):06x}"
        alt = None
        if df in (0, 4, 16, 20):
            alt = _ac13_ft(int.from_bytes(msg[2:4], "big") & 0x1FFF)
        return ModeS(df, icao, True, alt_ft=alt)
    if df == 11:
        return ModeS(df, msg[1:4].hex(), crc24(msg) & 0xFFFF80 == 0)  # the interrogator code may be in the CRC
    return ModeS(df, "", False)


# --- Compact Position Reporting ---------------------------------------------------------------------------

_NZ = 15
_CPR_MAX = 131072.0  # 2**17


def cpr_nl(lat_deg: float) -> int:
    """The number of longitude zones at a latitude (1 to 59)."""
    lat = abs(lat_deg)
    if lat == 0.0:
        return 59
    if lat == 87.0:
        return 2
    if lat > 87.0:
        return 1
    a = 1.0 - math.cos(math.pi / (2.0 * _NZ))
    b = math.cos(math.pi / 180.0 * lat) ** 2
    return math.floor(2.0 * math.pi / math.acos(1.0 - a / b))


def cpr_global_airborne(lat_even: int, lon_even: int, lat_odd: int, lon_odd: int,
                        even_is_newer: bool) -> tuple[float, float] | None:
    """Latitude and longitude (degrees) from an airborne even/odd pair, or None when the two straddle a zone
    boundary (different NL). The position is that of the newer frame; the pair must be close in time (10 s)."""
    yl0, yl1 = lat_even / _CPR_MAX, lat_odd / _CPR_MAX
    xl0, xl1 = lon_even / _CPR_MAX, lon_odd / _CPR_MAX
    j = math.floor(59.0 * yl0 - 60.0 * yl1 + 0.5)
    lat0 = 360.0 / 60.0 * (j % 60 + yl0)
    lat1 = 360.0 / 59.0 * (j % 59 + yl1)
    if lat0 >= 270.0:
        lat0 -= 360.0
    if lat1 >= 270.0:
        lat1 -= 360.0
    if abs(lat0) > 90.0 or abs(lat1) > 90.0:
        return None
    nl = cpr_nl(lat0)
    if nl != cpr_nl(lat1):
        return None
    m = math.floor(xl0 * (nl - 1) - xl1 * nl + 0.5)
    if even_is_newer:
        lat, ni, x = lat0, max(nl, 1), xl0
    else:
        lat, ni, x = lat1, max(nl - 1, 1), xl1
    lon = 360.0 / ni * (m % ni + x)
    if lon >= 180.0:
        lon -= 360.0
    return lat, lon


def cpr_local(cpr_lat: int, cpr_lon: int, odd: bool, ref_lat: float, ref_lon: float,
              surface: bool = False) -> tuple[float, float]:
    """Latitude and longitude (degrees) of one frame, from a reference position within half a zone of it
    (180 NM airborne, 45 NM on the surface). A reference further away gives a wrong answer, not an error."""
    i = 1 if odd else 0
    span = 90.0 if surface else 360.0
    yl, xl = cpr_lat / _CPR_MAX, cpr_lon / _CPR_MAX
    dlat = span / (4 * _NZ - i)
    j = math.floor(ref_lat / dlat) + math.floor(0.5 + (ref_lat % dlat) / dlat - yl)
    lat = dlat * (j + yl)
    dlon = span / max(cpr_nl(lat) - i, 1)
    m = math.floor(ref_lon / dlon) + math.floor(0.5 + (ref_lon % dlon) / dlon - xl)
    lon = dlon * (m + xl)
    return lat, lon


# --- Tracker ----------------------------------------------------------------------------------------------

_PAIR_MAX_S = 10.0  #: an airborne even/odd pair further apart in time is not decoded globally
_LOCAL_MAX_S = 60.0  #: a fix older than this is not used as the reference of a local decode
_LOCAL_MAX_JUMP_DEG = 1.0  #: a local decode further than this from its reference is refused (zone error)
_VELOCITY_MAX_AGE_S = 30.0


@dataclass(slots=True)
class _Aircraft:
    even: tuple[float, int, int, bool] | None = None  # (t, lat_cpr, lon_cpr, surface)
    odd: tuple[float, int, int, bool] | None = None
    fix: tuple[float, float, float] | None = None  # (t, lat, lon)
    alt_ft: float | None = None
    gs_kt: float | None = None
    track_deg: float | None = None
    vs_fpm: float | None = None
    velocity_t: float = -math.inf
    callsign: str = ""


@dataclass(slots=True)
class ModeSTracker:
    """Messages in (time, frame), report rows out: one row per new airborne fix of an aircraft with a velocity.

    `reference` (lat, lon degrees), the receiver's position, lets surface frames be decoded (they need one) and
    is otherwise unused. `stats` counts: "messages", "crc" (bad parity), "length", "not_adsb" (formats other than
    DF17/18: decoded, not used), "unsupported" (other type codes), "cpr_pending" (no fix yet),
    "cpr_zone" (a pair straddling a zone boundary), "cpr_jump" (a local decode too far from its reference),
    "surface" (surface fixes: decoded, not reported unless `report_surface`), "no_velocity", "reports".
    """

    reference: tuple[float, float] | None = None
    report_surface: bool = False
    stats: FeedStats = field(default_factory=FeedStats)
    rows: ReportRows = field(default_factory=ReportRows)
    aircraft: dict[str, _Aircraft] = field(default_factory=dict)

    def feed(self, t_s: float, frame: bytes) -> ModeS | None:
        """Take one frame received at `t_s` (epoch seconds); returns what it decoded to (None if refused)."""
        self.stats.count("messages")
        msg = decode(frame)
        if msg is None:
            self.stats.count("length")
            return None
        if not msg.crc_ok:
            self.stats.count("crc")
            return None
        if msg.df not in (17, 18):
            # decoded, not used: their parity is the address, so a corrupted reply cannot be told from a good one
            # (the recorded flight holds one DF20 reply reading 39,150 ft at 5,590 ft); ADS-B carries altitude
            self.stats.count("not_adsb")
            return msg
        ac = self.aircraft.setdefault(msg.icao24, _Aircraft())
        if msg.callsign is not None:
            ac.callsign = msg.callsign
        elif msg.cpr_lat is not None:
            self._position(t_s, msg, ac)
        elif msg.tc == 19:
            if msg.gs_kt is not None and msg.track_deg is not None:
                ac.gs_kt, ac.track_deg, ac.velocity_t = msg.gs_kt, msg.track_deg, t_s
            if msg.vs_fpm is not None:
                ac.vs_fpm = msg.vs_fpm
        else:
            self.stats.count("unsupported")
        return msg

    def _position(self, t: float, msg: ModeS, ac: _Aircraft) -> None:
        assert msg.cpr_lat is not None and msg.cpr_lon is not None and msg.surface is not None
        surface, odd = msg.surface, bool(msg.cpr_odd)
        frame = (t, msg.cpr_lat, msg.cpr_lon, surface)
        if odd:
            ac.odd = frame
        else:
            ac.even = frame
        if msg.alt_ft is not None:
            ac.alt_ft = msg.alt_ft
        pos: tuple[float, float] | None = None
        if ac.fix is not None and t - ac.fix[0] <= _LOCAL_MAX_S:
            pos = cpr_local(msg.cpr_lat, msg.cpr_lon, odd, ac.fix[1], ac.fix[2], surface)
            if abs(pos[0] - ac.fix[1]) > _LOCAL_MAX_JUMP_DEG or abs(pos[1] - ac.fix[2]) > _LOCAL_MAX_JUMP_DEG:
                self.stats.count("cpr_jump")
                ac.fix = None  # start again from a global pair
                return
        elif surface:
            if self.reference is None:
                self.stats.count("cpr_pending")
                return
            pos = cpr_local(msg.cpr_lat, msg.cpr_lon, odd, *self.reference, surface=True)
        else:
            e, o = ac.even, ac.odd
            if e is None or o is None or e[3] or o[3] or abs(e[0] - o[0]) > _PAIR_MAX_S:
                self.stats.count("cpr_pending")
                return
            pos = cpr_global_airborne(e[1], e[2], o[1], o[2], even_is_newer=not odd)
            if pos is None:
                self.stats.count("cpr_zone")
                return
        ac.fix = (t, pos[0], pos[1])
        if surface:
            self.stats.count("surface")
            if not self.report_surface:
                return
            gs, trk = msg.gs_kt, msg.track_deg
            self._report(t, pos, float("nan"), gs, trk, 0.0, msg.icao24, ac.callsign, True)
            return
        if ac.gs_kt is None or t - ac.velocity_t > _VELOCITY_MAX_AGE_S:
            self.stats.count("no_velocity")
            return
        alt = math.nan if ac.alt_ft is None else ac.alt_ft * FT
        self._report(t, pos, alt, ac.gs_kt, ac.track_deg, (ac.vs_fpm or 0.0), msg.icao24, ac.callsign, False)

    def _report(self, t: float, pos: tuple[float, float], alt_m: float, gs_kt: float | None,
                track: float | None, vs_fpm: float, icao: str, callsign: str, on_ground: bool) -> None:
        self.stats.count("reports")
        self.rows.add(t, pos[0], pos[1], alt_m, math.nan if gs_kt is None else gs_kt * KT,
                      math.nan if track is None else track, vs_fpm * FPM, icao, callsign, on_ground)
