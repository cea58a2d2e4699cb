"""`deconflict bench tactical`: one screening tick (extrapolate every track to now, screen all pairs of different
parties) at N aircraft, p50/p99, beside the dense N x N numpy method in the same run where it fits.

Workloads (positions uniform on a spherical cap centred at 50N 10E whose area gives the density):
- `enroute`: European-like en-route density, one aircraft per 1,000 km^2; 75 % cruising at flight levels
  FL290-FL410 (level, 210-260 m/s), 25 % climbing or descending (1,000-11,000 m, 5-15 m/s, 120-230 m/s);
  minima 5 NM / 1,000 ft, look-ahead 300 s.
- `drone`: one drone per km^2 at 30-120 m, 5-25 m/s, 30 % climbing or descending at up to 3 m/s; minima 150 m /
  30 m, look-ahead 60 s (UTM-like agreements: 5 NM between drones would be meaningless).
Three parties own 80 % of the aircraft; 20 % are unidentified. Each tick is one second later (reports age).

The dense method is BlueSky's state-based detector's: every pair as N x N numpy matrices; here it computes the
same model as the screen (`deconflict.core.tactical.cpa`), so the two answers are compared pair for pair.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..core.tactical import FT, PartyMinima, TrackBatch, kinematics, screen
from ..core.tactical.tracks import Kinematics

DENSITY_PER_KM2 = {"enroute": 1e-3, "drone": 1.0}
TARGETS = {"p99_ms_at_10000": 15.0, "p50_ms_at_100000": 30.0, "speedup_at_4000": 50.0}
R_EARTH_KM = 6371.0


def workload(kind: str, n: int, seed: int = 1) -> tuple[TrackBatch, PartyMinima, float]:
    """N synthetic aircraft of a workload, their parties' minima, and the look-ahead (s)."""
    rng = np.random.default_rng(seed)
    area = n / DENSITY_PER_KM2[kind]
    cos_theta = 1.0 - area / (2.0 * math.pi * R_EARTH_KM**2)
    if cos_theta <= -1.0:
        raise ValueError(f"{n} aircraft at {kind} density do not fit on Earth")
    # uniform on the cap around the pole, then rotated to 50N 10E
    z = rng.uniform(cos_theta, 1.0, n)
    phi = rng.uniform(0, 2 * math.pi, n)
    s = np.sqrt(1 - z * z)
    pts = np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=1)
    lat0, lng0 = math.radians(50.0), math.radians(10.0)
    tilt = math.pi / 2 - lat0
    ry = np.array([[math.cos(tilt), 0, math.sin(tilt)], [0, 1, 0], [-math.sin(tilt), 0, math.cos(tilt)]])
    rz = np.array([[math.cos(lng0), -math.sin(lng0), 0], [math.sin(lng0), math.cos(lng0), 0], [0, 0, 1]])
    pts = pts @ ry.T @ rz.T
    lat = np.degrees(np.arcsin(np.clip(pts[:, 2], -1, 1)))
    lng = np.degrees(np.arctan2(pts[:, 1], pts[:, 0]))
    moving = rng.random(n) < (0.25 if kind == "enroute" else 0.3)
    if kind == "enroute":
        alt = np.where(moving, rng.uniform(1_000, 11_000, n), rng.integers(29, 42, n) * 1000 * FT)
        gs = np.where(moving, rng.uniform(120, 230, n), rng.uniform(210, 260, n))
        vs = np.where(moving, rng.choice([-1.0, 1.0], n) * rng.uniform(5, 15, n), 0.0)
        minima = PartyMinima.of(["p0", "p1", "p2"])
        lookahead = 300.0
    else:
        alt = rng.uniform(30, 120, n)
        gs = rng.uniform(5, 25, n)
        vs = np.where(moving, rng.uniform(-3, 3, n), 0.0)
        minima = PartyMinima.of(["p0", "p1", "p2"], lateral_m=150.0, vertical_m=30.0)
        lookahead = 60.0
    owners = np.array(["p0", "p1", "p2", None], dtype=object)[
        np.minimum(rng.integers(0, 4, n), np.where(rng.random(n) < 0.2, 3, 2))]
    batch = TrackBatch.of(t_s=-rng.uniform(0, 2, n), lat_deg=lat, lng_deg=lng, alt_m=alt, gs_mps=gs,
                          track_deg=rng.uniform(0, 360, n), vs_mps=vs, icao24=[f"{k:06x}" for k in range(n)],
                          owner=owners)
    return batch, minima, lookahead


def dense(kin: Kinematics, party: np.ndarray, minima: PartyMinima, lookahead: float) -> set[tuple[int, int]]:
    """The dense N x N method: every quantity as a full matrix, then the pairs that lose separation."""
    e2 = 6.69437999014e-3
    p, v = kin.pos, kin.vel
    m = p[:, None, :] + p[None, :, :]
    m[..., 2] /= 1.0 - e2
    m /= np.linalg.norm(m, axis=2)[..., None]
    h = np.hypot(m[..., 0], m[..., 1])
    h = np.where(h > 1e-12, h, 1.0)
    ex, ey = -m[..., 1] / h, m[..., 0] / h
    nx, ny, nz = -m[..., 2] * ey, m[..., 2] * ex, m[..., 0] * ey - m[..., 1] * ex
    r = p[None, :, :] - p[:, None, :]
    w = v[None, :, :] - v[:, None, :]
    rx = r[..., 0] * ex + r[..., 1] * ey
    ry = r[..., 0] * nx + r[..., 1] * ny + r[..., 2] * nz
    wx = w[..., 0] * ex + w[..., 1] * ey
    wy = w[..., 0] * nx + w[..., 1] * ny + w[..., 2] * nz
    cls = np.where(party < 0, len(minima.parties), party)
    big_l = minima.lateral_m[cls[:, None], cls[None, :]]
    big_v = minima.vertical_m[cls[:, None], cls[None, :]]
    dz = kin.alt_m[None, :] - kin.alt_m[:, None]
    dvz = kin.vs_mps[None, :] - kin.vs_mps[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        w2 = wx * wx + wy * wy
        tc = -(rx * wx + ry * wy) / w2
        d2 = (rx * wy - ry * wx) ** 2 / w2
        half = np.sqrt((big_l * big_l - d2) / w2)
        still = w2 == 0
        inside = rx * rx + ry * ry < big_l * big_l
        h_lo = np.where(still, np.where(inside, -np.inf, np.inf), np.where(d2 < big_l**2, tc - half, np.inf))
        h_hi = np.where(still, np.where(inside, np.inf, -np.inf), np.where(d2 < big_l**2, tc + half, -np.inf))
        a = (-big_v - dz) / dvz
        b = (big_v - dz) / dvz
        level = dvz == 0
        vin = np.abs(dz) < big_v
        v_lo = np.where(level, np.where(vin, -np.inf, np.inf), np.minimum(a, b))
        v_hi = np.where(level, np.where(vin, np.inf, -np.inf), np.maximum(a, b))
    t_in = np.maximum(np.maximum(h_lo, v_lo), 0.0)
    t_out = np.minimum(np.minimum(h_hi, v_hi), lookahead)
    hit = (t_in < t_out) & ~((party[:, None] == party[None, :]) & (party[:, None] >= 0))
    i, j = np.nonzero(np.triu(hit, 1))
    return set(zip(i.tolist(), j.tolist(), strict=True))


def _ms(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples) * 1e3
    return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p99_ms": round(float(np.percentile(a, 99)), 3)}


def run(sizes: list[int], workloads: list[str], ticks: int = 100, baseline_max: int = 4_000,
        baseline_ticks: int = 3, seed: int = 1) -> Iterator[dict[str, Any]]:
    """Yield one JSON object per (workload, N)."""
    for kind in workloads:
        for n in sizes:
            batch, minima, lookahead = workload(kind, n, seed)
            party = minima.codes(batch.owner)
            screen(kinematics(batch, 0.0), party, minima, lookahead)  # compile / warm
            samples: list[float] = []
            cpu: list[float] = []
            found = candidates = computed = 0
            for k in range(ticks):
                t = time.perf_counter()
                c = time.process_time()
                f = screen(kinematics(batch, float(k)), party, minima, lookahead)
                samples.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
                found += len(f)
                candidates += f.candidates
                computed += f.computed
            line: dict[str, Any] = {
                "bench": "tactical", "workload": kind, "n": n, "ticks": ticks,
                "density_per_km2": DENSITY_PER_KM2[kind], "lookahead_s": lookahead, **_ms(samples),
                **{f"cpu_{k}": v for k, v in _ms(cpu).items()},
                "conflict_pairs_per_tick": round(found / ticks, 1),
                "candidates_per_aircraft": round(candidates / ticks / n, 1),
                "cpa_per_aircraft": round(computed / ticks / n, 2),
                "method": "ECEF grid of swept boxes + exact CPA, numba, single thread",
            }
            if n <= baseline_max:
                base: list[float] = []
                agree = True
                for k in range(baseline_ticks):
                    kin = kinematics(batch, float(k))
                    t = time.perf_counter()
                    pairs = dense(kin, party, minima, lookahead)
                    base.append(time.perf_counter() - t)
                    agree &= pairs == screen(kin, party, minima, lookahead).pairs()
                line["baseline"] = {"method": "dense N x N numpy (BlueSky's state-based detector), same model",
                                    "ticks": baseline_ticks, **_ms(base), "agree": agree}
                line["speedup_p50"] = round(line["baseline"]["p50_ms"] / line["p50_ms"], 1)
            else:
                line["baseline"] = None
            if n == 10_000:
                line["target"] = {"p99_ms": TARGETS["p99_ms_at_10000"], "met": line["p99_ms"] <= 15.0}
            elif n == 100_000:
                line["target"] = {"p50_ms": TARGETS["p50_ms_at_100000"], "met": line["p50_ms"] <= 30.0}
            elif n == 4_000 and "speedup_p50" in line:
                line["target"] = {"speedup": TARGETS["speedup_at_4000"], "met": line["speedup_p50"] >= 50.0}
            yield line
