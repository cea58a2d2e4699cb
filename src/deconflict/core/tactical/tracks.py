"""Tracks as columns, and the rules a position report must pass before it is screened.

A `TrackBatch` holds position reports (or the latest state of each aircraft) as a struct of arrays: times in
epoch seconds, latitude/longitude degrees WGS84, altitude metres, ground speed m/s, track angle degrees clockwise
from true north, vertical rate m/s (positive up), and identity columns (ICAO 24-bit address as lower-case hex,
callsign, asset id, owning party or None for an unidentified track). Unit converters for the usual aviation
units (ft, kt, ft/min) are in `deconflict.core.tactical.cpa` (FT, KT, FPM).

Quality rules (`check_reports` for one report at a time, `TrackTable.ingest` for sequences) reject with a
counted `Rejection` reason: impossible position, impossible or missing altitude, impossible or missing velocity,
time going backwards, duplicates, teleporting (implied speed from the last accepted report beyond a limit), and,
when the receiver's clock is given, a time too far ahead of it (one such report would otherwise make every real
report of that aircraft "backwards" and hide it from screening). Pure: the clock is passed in, no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from numba import njit

from ...errors import InvalidInput
from .cpa import ecef_motion

__all__ = [
    "DEFAULT_TRACK_LIMITS",
    "IngestResult",
    "Kinematics",
    "Rejection",
    "TrackBatch",
    "TrackLimits",
    "TrackTable",
    "check_reports",
    "kinematics",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]


class Rejection(enum.IntEnum):
    """Why a report was refused (0: accepted). Counted per reason by `IngestResult.counts`."""

    ACCEPTED = 0
    POSITION = 1  #: latitude/longitude missing, not finite or out of range
    ALTITUDE = 2  #: altitude missing or outside [min_altitude_m, max_altitude_m]
    VELOCITY = 3  #: ground speed, track or vertical rate missing, negative or beyond the limits
    TIME_BACKWARDS = 4  #: older than the last accepted report of the same aircraft
    DUPLICATE = 5  #: same aircraft, same time as the last accepted report
    TELEPORT = 6  #: implied speed from the last accepted report beyond max_speed_mps
    IDENTITY = 7  #: no ICAO address and no asset id: nothing to key the track on
    FUTURE = 8  #: later than the receiver's clock plus max_ahead_s (checked only when a clock is given)


@dataclass(frozen=True, slots=True)
class TrackLimits:
    """What a plausible report looks like. Values beyond are refused, never clipped."""

    min_altitude_m: float = -500.0  #: below the Dead Sea shore, allowing for QNH error
    max_altitude_m: float = 25_000.0  #: about FL820; the Paris recording's 123,100 ft is refused
    max_speed_mps: float = 700.0  #: ground speed, and implied speed between reports (about Mach 2.3)
    max_vertical_rate_mps: float = 150.0  #: about 30,000 ft/min
    teleport_slack_m: float = 200.0  #: position noise allowed on top of max_speed_mps x elapsed time
    max_ahead_s: float = 10.0  #: how far a report's time may be ahead of the receiver's clock (clock skew)


DEFAULT_TRACK_LIMITS = TrackLimits()


def _floats(values: Iterable[float | None] | FloatArray, n: int, name: str) -> FloatArray:
    a = np.array([np.nan if v is None else v for v in values] if not isinstance(values, np.ndarray) else values,
                 dtype=np.float64)
    if a.shape != (n,):
        raise InvalidInput(f"expected {n} values, got shape {a.shape}", field=name)
    return a


def _objects(values: Iterable[str | None] | None, n: int, name: str, default: str | None) -> ObjArray:
    a = np.empty(n, dtype=object)
    if values is None:
        a[:] = default
        return a
    lst = list(values)
    if len(lst) != n:
        raise InvalidInput(f"expected {n} values, got {len(lst)}", field=name)
    a[:] = lst
    return a


@dataclass(slots=True)
class TrackBatch:
    """Position reports as columns (see the module docstring for units). Missing numbers are NaN."""

    t_s: FloatArray
    lat_deg: FloatArray
    lng_deg: FloatArray
    alt_m: FloatArray
    gs_mps: FloatArray
    track_deg: FloatArray
    vs_mps: FloatArray
    icao24: ObjArray
    callsign: ObjArray
    asset_id: ObjArray
    owner: ObjArray  #: party name, or None for an unidentified track
    on_ground: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))

    @classmethod
    def of(cls, *, t_s: Sequence[float] | FloatArray, lat_deg: Sequence[float | None] | FloatArray,
           lng_deg: Sequence[float | None] | FloatArray, alt_m: Sequence[float | None] | FloatArray,
           gs_mps: Sequence[float | None] | FloatArray, track_deg: Sequence[float | None] | FloatArray,
           vs_mps: Sequence[float | None] | FloatArray | None = None, icao24: Iterable[str | None] | None = None,
           callsign: Iterable[str | None] | None = None, asset_id: Iterable[str | None] | None = None,
           owner: Iterable[str | None] | None = None, on_ground: Sequence[bool] | BoolArray | None = None,
           ) -> TrackBatch:
        """Columns from sequences or arrays (None becomes NaN); identity columns default to "" and owner to None."""
        n = len(t_s)
        return cls(
            t_s=_floats(t_s, n, "t_s"),
            lat_deg=_floats(lat_deg, n, "lat_deg"),
            lng_deg=_floats(lng_deg, n, "lng_deg"),
            alt_m=_floats(alt_m, n, "alt_m"),
            gs_mps=_floats(gs_mps, n, "gs_mps"),
            track_deg=_floats(track_deg, n, "track_deg"),
            vs_mps=np.zeros(n) if vs_mps is None else _floats(vs_mps, n, "vs_mps"),
            icao24=_objects(None if icao24 is None else (s.lower() if s else "" for s in icao24), n, "icao24", ""),
            callsign=_objects(callsign, n, "callsign", ""),
            asset_id=_objects(asset_id, n, "asset_id", ""),
            owner=_objects(owner, n, "owner", None),
            on_ground=np.zeros(n, dtype=np.bool_) if on_ground is None else np.asarray(on_ground, dtype=np.bool_),
        )

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def take(self, rows: IntArray | BoolArray | slice) -> TrackBatch:
        """The reports at `rows` (an index array, a mask or a slice), as a new batch."""
        return TrackBatch(self.t_s[rows], self.lat_deg[rows], self.lng_deg[rows], self.alt_m[rows],
                          self.gs_mps[rows], self.track_deg[rows], self.vs_mps[rows], self.icao24[rows],
                          self.callsign[rows], self.asset_id[rows], self.owner[rows], self.on_ground[rows])

    def keys(self) -> list[str]:
        """The identity a track is keyed on: "asset:<id>" when an asset id is set, else "icao:<address>"."""
        return [f"asset:{a}" if a else (f"icao:{i}" if i else "") for a, i in zip(self.asset_id, self.icao24,
                                                                                    strict=True)]

    def with_owners(self, assets: Mapping[str, str]) -> TrackBatch:
        """A copy whose owner column is set from a registry of assets: key ("icao:..", "asset:..") -> party.

        Tracks matched by neither their asset id nor their ICAO address become unidentified (owner None); a
        callsign alone never identifies an aircraft (anyone can squawk any callsign)."""
        owners = np.empty(len(self), dtype=object)
        for k, (a, i) in enumerate(zip(self.asset_id, self.icao24, strict=True)):
            owners[k] = assets.get(f"asset:{a}") if a else None
            if owners[k] is None and i:
                owners[k] = assets.get(f"icao:{i}")
        out = self.take(slice(None))
        out.owner = owners
        return out


def check_reports(batch: TrackBatch, limits: TrackLimits = DEFAULT_TRACK_LIMITS, now: float | None = None
                  ) -> npt.NDArray[np.int8]:
    """Per report, the first field rule it breaks (a `Rejection` value), or 0; vectorised, no history needed.
    With `now` (epoch seconds), a report more than `limits.max_ahead_s` ahead of it is FUTURE."""
    with np.errstate(invalid="ignore"):
        bad_pos = ~(np.isfinite(batch.lat_deg) & np.isfinite(batch.lng_deg) & (np.abs(batch.lat_deg) <= 90.0)
                    & (np.abs(batch.lng_deg) <= 180.0) & np.isfinite(batch.t_s))
        bad_alt = ~((batch.alt_m >= limits.min_altitude_m) & (batch.alt_m <= limits.max_altitude_m))
        bad_vel = ~((batch.gs_mps >= 0.0) & (batch.gs_mps <= limits.max_speed_mps) & np.isfinite(batch.track_deg)
                    & ~(np.abs(batch.vs_mps) > limits.max_vertical_rate_mps))
    keyless = np.array([not (a or i) for a, i in zip(batch.asset_id, batch.icao24, strict=True)], dtype=np.bool_)
    out = np.zeros(len(batch), dtype=np.int8)
    if now is not None:
        out[batch.t_s > now + limits.max_ahead_s] = Rejection.FUTURE
    for mask, reason in ((keyless, Rejection.IDENTITY), (bad_vel, Rejection.VELOCITY),
                         (bad_alt, Rejection.ALTITUDE), (bad_pos, Rejection.POSITION)):
        out[mask] = reason  # later rules win: position is the most basic
    return out


@njit(cache=True)
def _sequence_rules(ids: IntArray, t: FloatArray, lat: FloatArray, lng: FloatArray, reasons: npt.NDArray[np.int8],
                    last_t: FloatArray, last_lat: FloatArray, last_lng: FloatArray, max_speed: float,
                    slack_m: float) -> None:
    """Time order, duplicates and teleporting against each aircraft's last accepted report, in report order."""
    for k in range(ids.shape[0]):
        if reasons[k] != 0:
            continue
        a = ids[k]
        lt = last_t[a]
        if not np.isnan(lt):
            if t[k] < lt:
                reasons[k] = 4
                continue
            if t[k] == lt:
                reasons[k] = 5
                continue
            x0, y0, z0, _, _, _ = ecef_motion(last_lat[a], last_lng[a], 0.0, 0.0)
            x1, y1, z1, _, _, _ = ecef_motion(lat[k], lng[k], 0.0, 0.0)
            chord = np.sqrt((x1 - x0) ** 2 + (y1 - y0) ** 2 + (z1 - z0) ** 2)
            if chord > max_speed * (t[k] - lt) + slack_m:
                reasons[k] = 6
                continue
        last_t[a] = t[k]
        last_lat[a] = lat[k]
        last_lng[a] = lng[k]


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What `TrackTable.ingest` decided: a reason per report (0: accepted) and the count per reason."""

    reasons: npt.NDArray[np.int8]

    @property
    def accepted(self) -> BoolArray:
        mask: BoolArray = self.reasons == 0
        return mask

    @property
    def counts(self) -> dict[str, int]:
        """Reports per outcome: "accepted" and each rejection reason's name in lower case (zeros omitted)."""
        values, counts = np.unique(self.reasons, return_counts=True)
        return {Rejection(int(v)).name.lower(): int(c) for v, c in zip(values, counts, strict=True)}


class TrackTable:
    """The latest accepted state of every aircraft, fed with batches of reports in arrival order.

    Keyed as `TrackBatch.keys` says. Holds columns, grown by doubling; `snapshot(now, max_age_s)` returns the
    tracks heard from within max_age_s of `now`. Statistics (`stats`) accumulate counts per reason.
    """

    def __init__(self, limits: TrackLimits = DEFAULT_TRACK_LIMITS) -> None:
        self.limits = limits
        self._index: dict[str, int] = {}
        self._state = TrackBatch.of(t_s=np.full(64, np.nan), lat_deg=np.full(64, np.nan),
                                    lng_deg=np.full(64, np.nan), alt_m=np.full(64, np.nan),
                                    gs_mps=np.full(64, np.nan), track_deg=np.full(64, np.nan),
                                    vs_mps=np.full(64, np.nan))
        self.stats: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._index)

    def _grow(self, need: int) -> None:
        cap = len(self._state)
        if need <= cap:
            return
        new = max(need, 2 * cap)
        s = self._state
        for name in ("t_s", "lat_deg", "lng_deg", "alt_m", "gs_mps", "track_deg", "vs_mps"):
            a = np.full(new, np.nan)
            a[:cap] = getattr(s, name)
            setattr(s, name, a)
        for name, fill in (("icao24", ""), ("callsign", ""), ("asset_id", ""), ("owner", None)):
            o = np.empty(new, dtype=object)
            o[:] = fill
            o[:cap] = getattr(s, name)
            setattr(s, name, o)
        g = np.zeros(new, dtype=np.bool_)
        g[:cap] = s.on_ground
        s.on_ground = g

    def ingest(self, batch: TrackBatch, now: float | None = None) -> IngestResult:
        """Check each report (in order) and keep the accepted ones as their aircraft's latest state; with the
        receiver's clock `now`, reports too far ahead of it are refused (`check_reports`)."""
        reasons = check_reports(batch, self.limits, now)
        keys = batch.keys()
        ids = np.empty(len(batch), dtype=np.int64)
        for k, key in enumerate(keys):
            if reasons[k] == Rejection.IDENTITY:
                ids[k] = -1
                continue
            ids[k] = self._index.setdefault(key, len(self._index))
        self._grow(len(self._index))
        s = self._state
        last_t = s.t_s.copy()
        _sequence_rules(ids, batch.t_s, batch.lat_deg, batch.lng_deg, reasons, last_t, s.lat_deg.copy(),
                        s.lng_deg.copy(), self.limits.max_speed_mps, self.limits.teleport_slack_m)
        ok = np.flatnonzero(reasons == 0)
        # the last accepted report of each aircraft wins (reports of one aircraft are in time order once accepted)
        rows = ids[ok]
        for name in ("t_s", "lat_deg", "lng_deg", "alt_m", "gs_mps", "track_deg", "vs_mps", "icao24",
                     "callsign", "asset_id", "owner", "on_ground"):
            getattr(s, name)[rows] = getattr(batch, name)[ok]
        result = IngestResult(reasons)
        for name, c in result.counts.items():
            self.stats[name] = self.stats.get(name, 0) + c
        return result

    def forget_before(self, before: float) -> int:
        """Drop the aircraft last heard from before `before` (and identities never accepted); returns how many.
        Without it the table keeps every aircraft it ever heard of, and a feed of ever-new addresses grows it
        without bound. A forgotten aircraft's next report is taken as its first."""
        s = self._state
        n = len(self._index)
        with np.errstate(invalid="ignore"):
            keep = np.flatnonzero(s.t_s[:n] >= before)  # NaN (never accepted) compares False
        if len(keep) == n:
            return 0
        keys = list(self._index)  # insertion order is row order (rows are handed out as len(_index))
        self._index = {keys[r]: j for j, r in enumerate(keep.tolist())}
        self._state = s.take(keep)
        return n - len(keep)

    def snapshot(self, now: float, max_age_s: float = 10.0) -> TrackBatch:
        """The tracks whose last accepted report is within max_age_s before `now` (and not after it)."""
        s = self._state
        n = len(self._index)
        with np.errstate(invalid="ignore"):
            live = (s.t_s[:n] <= now) & (s.t_s[:n] >= now - max_age_s)
        return s.take(np.flatnonzero(live))


@dataclass(frozen=True, slots=True)
class Kinematics:
    """Tracks brought to one time, as the screen wants them: ECEF surface position (m) and ground velocity (m/s),
    altitude (m) and vertical rate (m/s), ground speed (m/s) and how far each was extrapolated (s)."""

    now: float
    pos: FloatArray  #: (n, 3)
    vel: FloatArray  #: (n, 3)
    alt_m: FloatArray
    vs_mps: FloatArray
    gs_mps: FloatArray
    age_s: FloatArray


@njit(cache=True)
def _kinematics(t: FloatArray, lat: FloatArray, lng: FloatArray, alt: FloatArray, gs: FloatArray,
                trk: FloatArray, vs: FloatArray, now: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    n = t.shape[0]
    pos = np.empty((n, 3))
    vel = np.empty((n, 3))
    alt_now = np.empty(n)
    for i in range(n):
        x, y, z, vx, vy, vz = ecef_motion(lat[i], lng[i], gs[i], trk[i])
        dt = now - t[i]
        pos[i, 0] = x + vx * dt
        pos[i, 1] = y + vy * dt
        pos[i, 2] = z + vz * dt
        vel[i, 0] = vx
        vel[i, 1] = vy
        vel[i, 2] = vz
        alt_now[i] = alt[i] + vs[i] * dt
    return pos, vel, alt_now


def kinematics(batch: TrackBatch, now: float) -> Kinematics:
    """Each track extrapolated in a straight line (ECEF, and altitude at its vertical rate) from its time to `now`.

    A NaN vertical rate counts as level flight. Reports should be recent (the screen's slack grows with the square
    of speed x age; see `deconflict.core.tactical.screen`)."""
    vs = np.where(np.isfinite(batch.vs_mps), batch.vs_mps, 0.0)
    pos, vel, alt = _kinematics(batch.t_s, batch.lat_deg, batch.lng_deg, batch.alt_m, batch.gs_mps,
                                batch.track_deg, vs, float(now))
    return Kinematics(float(now), pos, vel, alt, vs, batch.gs_mps.copy(), now - batch.t_s)
