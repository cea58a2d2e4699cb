"""The brute-force oracle of tactical screening, and the Paris recording as a `TrackBatch`, for the tests that
check the screen (test_tactical_screen) and the service's alerts (test_tracks_replay) against it.

The oracle is written apart from the kernels: pyproj for geodetic <-> ECEF, the pair's east/north/up from the
geodetic latitude and longitude of the midpoint, all N^2 pairs as numpy arrays, and the textbook quadratic for
the time inside the lateral minimum. It follows the model stated in `deconflict.core.tactical.cpa`. A pair is
borderline when moving the minima by `EPS` changes the oracle's answer.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import numpy as np
from pyproj import Geod, Transformer

from deconflict.core.tactical import FPM, FT, KT, TrackBatch

from .shared_data import DATA

__all__ = ["EPS", "GEOD", "PARIS", "load_paris", "oracle", "owned", "paris_records"]

GEOD = Geod(ellps="WGS84")
TO_ECEF = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
TO_GEO = Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)
PARIS = DATA / "tracks" / "paris_2021-10-07.json.gz"
A = 6378137.0
B = A * (1 - 1 / 298.257223563)
EPS = 0.01  # metres: the oracle's band of doubt around the minima


def oracle(batch: TrackBatch, now: float, party: np.ndarray, lat_m: np.ndarray, vert_m: np.ndarray,
           lookahead: float, slack: float = 0.0) -> dict[tuple[int, int], np.ndarray]:
    """Pairs (i < j) that lose separation, with (t_cpa, horizontal, vertical, t_in, t_out), by brute force."""
    n = len(batch)
    x, y, z = TO_ECEF.transform(batch.lng_deg, batch.lat_deg, np.zeros(n))
    p = np.stack([x, y, z], axis=1)
    lat = np.radians(batch.lat_deg)
    lng = np.radians(batch.lng_deg)
    east = np.stack([-np.sin(lng), np.cos(lng), np.zeros(n)], axis=1)
    north = np.stack([-np.sin(lat) * np.cos(lng), -np.sin(lat) * np.sin(lng), np.cos(lat)], axis=1)
    trk = np.radians(batch.track_deg)
    v = batch.gs_mps[:, None] * (np.sin(trk)[:, None] * east + np.cos(trk)[:, None] * north)
    age = now - batch.t_s
    vs = np.nan_to_num(batch.vs_mps)
    p = p + v * age[:, None]
    alt = batch.alt_m + vs * age
    i, j = np.triu_indices(n, 1)
    cls = np.where(party < 0, lat_m.shape[0] - 1, party)
    keep = ~((party[i] == party[j]) & (party[i] >= 0))
    i, j = i[keep], j[keep]
    mid = p[i] + p[j]
    # the surface point on the ray through the chord's midpoint: its geodetic latitude is the pair's "up"
    mid = mid / np.sqrt((mid[:, 0] ** 2 + mid[:, 1] ** 2) / A**2 + mid[:, 2] ** 2 / B**2)[:, None]
    mlng, mlat, _ = TO_GEO.transform(mid[:, 0], mid[:, 1], mid[:, 2])
    mlat, mlng = np.radians(mlat), np.radians(mlng)
    e = np.stack([-np.sin(mlng), np.cos(mlng), np.zeros_like(mlng)], axis=1)
    nn = np.stack([-np.sin(mlat) * np.cos(mlng), -np.sin(mlat) * np.sin(mlng), np.cos(mlat)], axis=1)
    r = p[j] - p[i]
    w = v[j] - v[i]
    rx, ry = (r * e).sum(1), (r * nn).sum(1)
    wx, wy = (w * e).sum(1), (w * nn).sum(1)
    dz = alt[j] - alt[i]
    dvz = vs[j] - vs[i]
    big_l = np.maximum(lat_m[cls[i], cls[j]] + slack, 0.0)
    big_v = np.maximum(vert_m[cls[i], cls[j]] + slack, 0.0)
    a = wx * wx + wy * wy
    b = 2 * (rx * wx + ry * wy)
    c = rx * rx + ry * ry - big_l * big_l
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        disc = b * b - 4 * a * c
        moving = a > 0
        root = np.sqrt(np.where(disc > 0, disc, 0.0))
        q = -0.5 * (b + np.copysign(root, b))  # the numerically stable pair of roots
        r1 = np.where(moving, q / a, 0.0)
        r2 = np.where(q != 0, c / q, -b / (2 * a))
        h_lo = np.where(moving, np.where(disc > 0, np.minimum(r1, r2), np.inf), np.where(c < 0, -np.inf, np.inf))
        h_hi = np.where(moving, np.where(disc > 0, np.maximum(r1, r2), -np.inf), np.where(c < 0, np.inf, -np.inf))
        v1 = (-big_v - dz) / dvz
        v2 = (big_v - dz) / dvz
        v_lo = np.where(dvz != 0, np.minimum(v1, v2), np.where(np.abs(dz) < big_v, -np.inf, np.inf))
        v_hi = np.where(dvz != 0, np.maximum(v1, v2), np.where(np.abs(dz) < big_v, np.inf, -np.inf))
        t_cpa = np.clip(np.where(moving, -b / (2 * a), 0.0), 0.0, lookahead)
    t_in = np.maximum(np.maximum(h_lo, v_lo), 0.0)
    t_out = np.minimum(np.minimum(h_hi, v_hi), lookahead)
    hit = t_in < t_out
    d_h = np.hypot(rx + wx * t_cpa, ry + wy * t_cpa)
    d_v = np.abs(dz + dvz * t_cpa)
    vals = np.stack([t_cpa, d_h, d_v, t_in, t_out], axis=1)
    return {(int(a_), int(b_)): vals[k] for k, (a_, b_) in enumerate(zip(i, j, strict=True)) if hit[k]}


def paris_records() -> list[dict[str, Any]]:
    """The recording's state vectors (altitude ft, groundspeed kt, vertical_rate ft/min), in time order."""
    records: list[dict[str, Any]] = json.loads(gzip.decompress(PARIS.read_bytes()))
    records.sort(key=lambda r: r["timestamp"])
    return records


def load_paris() -> TrackBatch:
    records = paris_records()

    def col(name: str, scale: float) -> list[float | None]:
        return [None if r[name] is None else r[name] * scale for r in records]

    return TrackBatch.of(t_s=[r["timestamp"] / 1000.0 for r in records], lat_deg=col("latitude", 1.0),
                         lng_deg=col("longitude", 1.0), alt_m=col("altitude", FT), gs_mps=col("groundspeed", KT),
                         track_deg=col("track", 1.0), vs_mps=col("vertical_rate", FPM),
                         icao24=[r["icao24"] for r in records], callsign=[r["callsign"] for r in records],
                         on_ground=[bool(r["onground"]) for r in records])


def owned(batch: TrackBatch) -> TrackBatch:
    """Two parties own alternate aircraft (by sorted ICAO address); every fifth stays unidentified."""
    icaos = sorted(set(batch.icao24.tolist()))
    assets = {f"icao:{a}": ("alpha" if k % 2 else "bravo") for k, a in enumerate(icaos) if k % 5}
    return batch.with_owners(assets)
