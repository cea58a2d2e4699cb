"""`deconflict bench f3548`: F3548 operational intent writes per second in one busy 1 km^2 area (issue 8).

Per backend (SQLite, PostgreSQL): a new store with 50 parties and one `inform` agreement between them all
(bench.service.prepare), then `deconflict serve` as a subprocess with an RSA key generated for the run
(`--f3548-public-key`, `--f3548-audience bench`). Client threads (one keep-alive connection and one USS each)
write operational intents, all inside one 1 km x 1 km square: each a 50 m circle at a random point, in one of
10 altitude bands (8 m thick, 2 m apart) and one of 144 time slots (5 min, 5 min apart) of the next day. Three
writes in four are creates, one an update moving one of the client's own intents to another band and slot.

Keys are correct: the bench is the only writer, so it knows every live intent's OVN per (band, slot); a write
presents the OVNs of its bucket (intents in other buckets cannot intersect it). Two clients writing the same bucket
at once race on stale keys: the loser gets 409 and retries with the bucket as it then stands (counted).

Baseline, in the same run, on the same service, clients and area: `POST /v1/declarations` (a `flight` of one
party of the agreement, same volumes), i.e. the checked declaration create that every intent write also does.
"""

from __future__ import annotations

import base64
import json
import math
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TARGET", "run"]

TARGET = {"writes_per_s_postgresql": 500.0}  #: issue 8
AUD = "bench"
CENTER = (47.0, 8.0)
HALF_M = 500.0  #: the area: a 1 km x 1 km square around CENTER
RADIUS_M = 50.0
BANDS = 10
SLOTS = 144
SLOT_S = 600.0  #: a slot every 10 min, 5 min long
Progress = Callable[[str, int, int], None]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(key: Any, sub: str, scope: str) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    now = int(time.time())
    claims = {"sub": sub, "iss": "deconflict-bench", "aud": AUD, "exp": now + 3 * 3600, "scope": scope}
    signing = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode()) + "." + _b64(json.dumps(claims).encode())
    return signing + "." + _b64(key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256()))


def _volume(rng: random.Random, band: int, slot: int, t0: datetime) -> dict[str, Any]:
    dx, dy = rng.uniform(-HALF_M + RADIUS_M, HALF_M - RADIUS_M), rng.uniform(-HALF_M + RADIUS_M, HALF_M - RADIUS_M)
    lat = CENTER[0] + dy / 111_320.0
    lng = CENTER[1] + dx / (111_320.0 * math.cos(math.radians(CENTER[0])))
    start = t0 + timedelta(seconds=slot * SLOT_S)
    return {
        "volume": {
            "outline_circle": {"center": {"lat": round(lat, 7), "lng": round(lng, 7)},
                               "radius": {"value": RADIUS_M, "units": "M"}},
            "altitude_lower": {"value": 30.0 + 10 * band, "reference": "W84", "units": "M"},
            "altitude_upper": {"value": 38.0 + 10 * band, "reference": "W84", "units": "M"},
        },
        "time_start": {"value": start.isoformat().replace("+00:00", "Z"), "format": "RFC3339"},
        "time_end": {"value": (start + timedelta(seconds=SLOT_S / 2)).isoformat().replace("+00:00", "Z"),
                     "format": "RFC3339"},
    }


class _Buckets:
    """The OVN of every live intent, per (band, slot): what a correct key holds."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ovns: dict[tuple[int, int], dict[str, str]] = {}

    def key(self, bucket: tuple[int, int], but: str | None = None) -> list[str]:
        with self.lock:
            return [ovn for i, ovn in self.ovns.get(bucket, {}).items() if i != but]

    def put(self, bucket: tuple[int, int], entity: str, ovn: str, old: tuple[int, int] | None = None) -> None:
        with self.lock:
            if old is not None:
                self.ovns.get(old, {}).pop(entity, None)
            self.ovns.setdefault(bucket, {})[entity] = ovn


def _f3548_phase(url: str, key: Any, writes: int, concurrency: int, seed: int, t0: datetime,
                 progress: Progress | None) -> dict[str, Any]:
    import httpx

    buckets = _Buckets()
    latency: list[float] = []
    counts = {"creates": 0, "updates": 0, "stale_key_409": 0, "other_errors": 0, "gave_up": 0}
    lock = threading.Lock()
    left = iter(range(writes))

    def worker(k: int) -> None:
        rng = random.Random(seed * 1000 + k)
        token = _token(key, f"bench-uss-{k}", "utm.strategic_coordination")
        mine: list[tuple[str, str, tuple[int, int]]] = []  # (id, ovn, bucket)
        with httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
            while True:
                with lock:
                    i = next(left, None)
                if i is None:
                    return
                update = bool(mine) and i % 4 == 3
                bucket = (rng.randrange(BANDS), rng.randrange(SLOTS))
                body: dict[str, Any] = {"extents": [_volume(rng, *bucket, t0)], "state": "Accepted",
                                        "uss_base_url": "https://bench-uss.example/base",
                                        "new_subscription": {"uss_base_url": "https://bench-uss.example/base"}}
                if update:
                    entity, ovn, old = mine.pop(rng.randrange(len(mine)))
                    path = f"/dss/v1/operational_intent_references/{entity}/{ovn}"
                else:
                    entity, old = str(uuid.uuid4()), None
                    path = f"/dss/v1/operational_intent_references/{entity}"
                for _attempt in range(8):
                    body["key"] = buckets.key(bucket, but=entity)
                    t = time.perf_counter_ns()
                    r = client.put(path, json=body)
                    ms = (time.perf_counter_ns() - t) / 1e6
                    if r.status_code in (200, 201):
                        ref = r.json()["operational_intent_reference"]
                        buckets.put(bucket, entity, ref["ovn"], old)
                        mine.append((entity, ref["ovn"], bucket))
                        with lock:
                            latency.append(ms)
                            counts["updates" if update else "creates"] += 1
                            if progress and len(latency) % 50 == 0:
                                progress("f3548", len(latency), writes)
                        break
                    with lock:
                        counts["stale_key_409" if r.status_code == 409 else "other_errors"] += 1
                    if r.status_code != 409:
                        break
                else:
                    with lock:
                        counts["gave_up"] += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return {**_stats(latency, time.perf_counter() - began), **counts}


def _declaration_phase(url: str, tokens: list[str], n: int, concurrency: int, seed: int, t0: datetime
                       ) -> dict[str, Any]:
    import httpx

    latency: list[float] = []
    errors = [0]
    lock = threading.Lock()
    left = iter(range(n))

    def worker(k: int) -> None:
        rng = random.Random(seed * 7919 + k)
        with httpx.Client(base_url=url, timeout=60,
                          headers={"Authorization": f"Bearer {tokens[k % len(tokens)]}"}) as client:
            while True:
                with lock:
                    i = next(left, None)
                if i is None:
                    return
                body = {"kind": "flight",
                        "volumes": [_volume(rng, rng.randrange(BANDS), rng.randrange(SLOTS), t0)]}
                t = time.perf_counter_ns()
                r = client.post("/v1/declarations", json=body)
                ms = (time.perf_counter_ns() - t) / 1e6
                with lock:
                    if r.status_code == 201:
                        latency.append(ms)
                    else:
                        errors[0] += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return {**_stats(latency, time.perf_counter() - began), "errors": errors[0]}


def _stats(latency_ms: list[float], wall_s: float) -> dict[str, Any]:
    a = np.asarray(latency_ms or [math.nan], dtype=np.float64)
    return {"ok": len(latency_ms), "per_s": round(len(latency_ms) / wall_s, 1), "wall_s": round(wall_s, 3),
            "p50_ms": round(float(np.percentile(a, 50)), 2), "p99_ms": round(float(np.percentile(a, 99)), 2)}


def _serve(db: str, workdir: Path, pem: Path) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    from .service import _free_port

    port = _free_port()
    log = (workdir / f"serve-{port}.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "deconflict.cli", "serve", "--db", db, "--port", str(port),
                             "--f3548-public-key", str(pem), "--f3548-audience", AUD],
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited:\n{(workdir / f'serve-{port}.log').read_text()[-3000:]}")
        try:
            if httpx.get(url + "/healthy", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the service did not start")


def run_backend(backend: str, db: str, workdir: Path, writes: int, concurrency: int, seed: int,
                progress: Progress | None = None) -> dict[str, Any]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from .service import prepare

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = workdir / "f3548-bench.pem"
    pem.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    seeded = prepare(db)
    proc, url = _serve(db, workdir, pem)
    t0 = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0)
    try:
        warm = max(20, concurrency * 4)
        _declaration_phase(url, seeded.tokens, warm, concurrency, seed + 1, t0)  # warm-up, unmeasured
        _f3548_phase(url, key, warm, concurrency, seed + 1, t0 + timedelta(days=1), None)
        baseline = _declaration_phase(url, seeded.tokens, writes, concurrency, seed, t0)
        intents = _f3548_phase(url, key, writes, concurrency, seed, t0 + timedelta(days=2), progress)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    target = TARGET["writes_per_s_postgresql"] if backend == "postgresql" else None
    return {"bench": "f3548", "backend": backend, "area_km2": 1.0, "concurrency": concurrency,
            "writes": writes, "intent_writes": intents, "declaration_creates_baseline": baseline,
            "ratio_to_baseline": round(intents["per_s"] / baseline["per_s"], 3) if baseline["per_s"] else None,
            "target_writes_per_s": target,
            "meets_target": None if target is None else intents["per_s"] >= target}


def run(backends: list[str], writes: int = 1_000, concurrency: int = 8, seed: int = 1, pg_url: str | None = None,
        progress: Progress | None = None) -> list[dict[str, Any]]:
    from .service import DEFAULT_PG_URL, postgres_store, sqlite_store

    out = []
    for backend in backends:
        workdir = Path(tempfile.mkdtemp(prefix="deconflict-bench-f3548-"))
        try:
            store = sqlite_store(None) if backend == "sqlite" else postgres_store(pg_url or DEFAULT_PG_URL)
            with store as db:
                out.append(run_backend(backend, db, workdir, writes, concurrency, seed, progress))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return out
