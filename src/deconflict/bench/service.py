"""`deconflict bench service`: checked declaration creates over HTTP against a service holding N declarations.

The store is seeded in bulk (SQLAlchemy Core executemany into `declarations`, `declaration_versions` and
`changes`) with the reference strategic workload (bench/workload.py) turned into Volume4D JSON; 50 parties and
one agreement between all of them (reference minima, full disclosure, `inform` policy) are made by the service's
own functions. Then the service starts as a subprocess (`python -m deconflict.cli serve`), rebuilding its index
from the store; that start-up is timed. A load generator in another process sends each new declaration (a fresh
volume of the same distribution, so conflicts occur) from a few threads over keep-alive connections.

Baseline: the same client, connections and concurrency against `GET /v1/health` (routing, a thread-pool hop and
one trivial SELECT), measured in the same run. The ratio says what the write path costs above a bare round trip.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DEFAULT_PG_URL", "Progress", "run"]

DEFAULT_PG_URL = os.environ.get("DECONFLICT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
PARTIES = 50
MINIMA = {"lateral_m": 9_260.0, "vertical_m": 300.0, "time_s": 60.0}
LEAD_S = 1_800.0  #: the workload's day starts this long after the bench starts (declarations lie in the future)
CHUNK = 5_000
TARGET = {"ops_per_s": 500.0, "p99_ms": 20.0}  #: issue 3, SQLite

Progress = Callable[[str, int, int], None]  #: (phase, done, total)


# -- the workload as Volume4D JSON ------------------------------------------------------------------------------
def _volumes(n: int, seed: int, shift_s: float) -> tuple[list[dict[str, Any]], np.ndarray]:
    """n volumes of the reference workload as Volume4D JSON (times moved by `shift_s`), and their owners."""
    from ..core.geo import E2
    from ..core.model import Altitude, Circle, LatLngPoint, Polygon, Radius, Time, Volume3D, Volume4D
    from ..service.codec import volume_json
    from .workload import reference_workload

    work = reference_workload(n, seed=seed, parties=PARTIES)
    b = work.batch
    x, y, z = b.points[:, 0], b.points[:, 1], b.points[:, 2]  # surface points: the inverse of core.geo.ecef
    lat = np.round(np.degrees(np.arctan2(z, (1.0 - E2) * np.hypot(x, y))), 7).tolist()
    lng = np.round(np.degrees(np.arctan2(y, x)), 7).tolist()
    offsets = b.offsets.tolist()
    radius = b.radius.tolist()
    zlo, zhi = np.round(b.zlo, 1).tolist(), np.round(b.zhi, 1).tolist()
    t0, t1 = (b.t0 + shift_s).tolist(), (b.t1 + shift_s).tolist()
    out = []
    for i in range(n):
        s, e = offsets[i], offsets[i + 1]
        if radius[i] > 0.0:
            shape: dict[str, Any] = {"outline_circle": Circle(LatLngPoint(lat[s], lng[s]),
                                                              Radius(round(radius[i], 1)))}
        else:
            shape = {"outline_polygon": Polygon(tuple(LatLngPoint(lat[k], lng[k]) for k in range(s, e)))}
        volume = Volume4D(
            volume=Volume3D(altitude_lower=Altitude.m(zlo[i]), altitude_upper=Altitude.m(zhi[i]), **shape),
            time_start=Time(datetime.fromtimestamp(t0[i], UTC)), time_end=Time(datetime.fromtimestamp(t1[i], UTC)))
        out.append(volume_json(volume))
    return out, work.owners


def _shift() -> float:
    from .workload import DAY_START

    return time.time() + LEAD_S - DAY_START


# -- stores -----------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def sqlite_store(path: str | None) -> Iterator[str]:
    """A new SQLite file: `path` (which must not exist yet), or one in a temporary directory removed after."""
    if path is not None:
        if Path(path).exists():
            from ..errors import InvalidInput

            raise InvalidInput(f"{path} exists; the bench seeds a new store", field="--db")
        yield path
        return
    tmp = tempfile.mkdtemp(prefix="deconflict-bench-")
    try:
        yield str(Path(tmp) / "bench.sqlite")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def postgres_store(base_url: str) -> Iterator[str]:
    """A new schema in the PostgreSQL database `base_url` names, dropped after."""
    import sqlalchemy as sa

    from ..store.database import database_url

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(database_url(base_url))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in base_url else "?"
        yield f"{base_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# -- seeding ----------------------------------------------------------------------------------------------------
@dataclass
class Seeded:
    admin_token: str
    tokens: list[str]  #: party p's token
    party_ids: list[str]


def prepare(db: str, parties: int = PARTIES, name: str = "bench") -> Seeded:
    """Migrate a new store; create the admin, `parties` parties and one agreement between them all."""
    from ..core.protocol import ConflictPolicy, Disclosure
    from ..service.auth import new_token
    from ..service.bodies import AgreementIn, MinimaIn
    from ..service.bootstrap import ensure_admin
    from ..service.routes.agreements import create_agreement
    from ..service.routes.parties import create_party
    from ..service.state import ServiceState
    from ..store.database import migrate, open_database

    engine = open_database(db)
    try:
        migrate(engine)
        state = ServiceState(engine)
        admin_token = new_token()
        ensure_admin(state, admin_token)
        tokens, ids, names = [], [], []
        for p in range(parties):
            party, token = create_party(state, f"{name}-{p}")
            tokens.append(token)
            ids.append(party["id"])
            names.append(party["name"])
        create_agreement(state, AgreementIn(
            name=name, parties=names, minima=MinimaIn(**MINIMA), disclosure=Disclosure.FULL,
            policy=ConflictPolicy.INFORM, ack_deadline_s=600.0))
    finally:
        engine.dispose()
    return Seeded(admin_token, tokens, ids)


def seed_declarations(db: str, seeded: Seeded, n: int, seed: int, shift_s: float,
                      progress: Progress | None = None) -> None:
    """Insert n declarations (version 1, state `declared`) and their versions and change-log rows in bulk."""
    import sqlalchemy as sa

    from ..store import schema as t
    from ..store.database import open_database

    engine = open_database(db)
    try:
        for start in range(0, n, CHUNK):
            count = min(CHUNK, n - start)
            volumes, owners = _volumes(count, seed * 1_000_003 + start, shift_s)
            now = datetime.now(UTC)
            decls, versions, changes = [], [], []
            for v, owner in zip(volumes, owners.tolist(), strict=True):
                decl_id = str(uuid.uuid4())
                row = {"owner_id": seeded.party_ids[owner], "kind": "flight", "activation": "always",
                       "state": "declared", "version": 1, "title": "", "extra": {}, "volumes": [v]}
                decls.append({"id": decl_id, **row, "created_at": now, "updated_at": now,
                              "time_start": datetime.fromisoformat(v["time_start"]["value"]),
                              "time_end": datetime.fromisoformat(v["time_end"]["value"])})
                versions.append({"declaration_id": decl_id, "version": 1, "state": "declared", "created_at": now,
                                 "body": row})
                changes.append({"entity": "declaration", "entity_id": decl_id, "version": 1, "created_at": now})
            with engine.begin() as conn:
                conn.execute(sa.insert(t.declarations), decls)
                conn.execute(sa.insert(t.declaration_versions), versions)
                conn.execute(sa.insert(t.changes), changes)
            if progress is not None:
                progress("seed", start + count, n)
        if engine.dialect.name == "postgresql":
            # what autovacuum would have done to a store that grew by ordinary writes; without statistics the
            # planner scans all of `changes` for every catch-up (seconds of difference per hundred writes)
            with engine.begin() as conn:
                for table in (t.changes, t.declarations, t.declaration_versions, t.parties, t.agreements):
                    conn.execute(sa.text(f"ANALYZE {table.name}"))
    finally:
        engine.dispose()


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of process `pid` so far (Linux /proc), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the service subprocess -------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    proc: subprocess.Popen[bytes]
    url: str
    startup_s: float
    log: Path

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_service(db: str, workdir: Path, timeout_s: float = 600.0) -> Service:
    """`deconflict serve` on a free port; returns once /v1/health answers, with the seconds that took."""
    import httpx

    port = _free_port()
    log = workdir / f"serve-{port}.log"
    began = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "deconflict.cli", "serve", "--db", db, "--port", str(port),
             "--admin-token-out", str(workdir / f"admin-token-{port}")],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url + "/v1/health", timeout=2).status_code == 200:
                return Service(proc, url, time.perf_counter() - began, log)
        except httpx.TransportError:
            pass
        if time.perf_counter() - began > timeout_s:
            proc.kill()
            raise RuntimeError("the service did not start in time")
        time.sleep(0.05)


# -- the load generator (runs in its own process) ---------------------------------------------------------------
def _phase(url: str, requests: list[tuple[str, bytes | None, str | None]], concurrency: int,
           done: Any) -> dict[str, Any]:
    """Send `requests` (path, body or None for GET, token) from `concurrency` threads, one keep-alive
    connection each. Returns latencies (ns), statuses and conflicts per response, and the wall time."""
    import httpx

    latency = [0] * len(requests)
    status = [0] * len(requests)
    conflicts = [0] * len(requests)
    next_index = iter(range(len(requests)))
    take = threading.Lock()

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            while True:
                with take:
                    i = next(next_index, None)
                if i is None:
                    return
                path, body, token = requests[i]
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                t0 = time.perf_counter_ns()
                if body is None:
                    r = client.get(path, headers=headers)
                else:
                    headers["Content-Type"] = "application/json"
                    r = client.post(path, content=body, headers=headers)
                latency[i] = time.perf_counter_ns() - t0
                status[i] = r.status_code
                if body is not None and r.status_code == 201:
                    conflicts[i] = len(r.json()["conflicts"])
                if done is not None:
                    with done.get_lock():
                        done.value += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return {"latency_ns": latency, "status": status, "conflicts": conflicts, "wall_s": time.perf_counter() - began}


def load_process(url: str, server_pid: int, warmup: list[Any], phases: dict[str, list[Any]], concurrency: int,
                 done: Any, results: Any) -> None:
    """Entry point of the load-generator process: warm up, then each phase in order; results go to a queue.
    Each phase also records the CPU time it cost this process and the service process."""
    try:
        _phase(url, warmup, concurrency, None)
        out = {}
        for name, reqs in phases.items():
            cpu, server = time.process_time(), _cpu_s(server_pid)
            out[name] = _phase(url, reqs, concurrency, done)
            out[name]["client_cpu_s"] = time.process_time() - cpu
            server_end = _cpu_s(server_pid)
            out[name]["server_cpu_s"] = None if server is None or server_end is None else server_end - server
        results.put(("ok", out))
    except BaseException as exc:
        results.put(("error", repr(exc)))


# -- one backend ------------------------------------------------------------------------------------------------
def _stats(phase: dict[str, Any], ok_status: int) -> dict[str, Any]:
    lat = np.asarray(phase["latency_ns"], dtype=np.float64) / 1e6
    status = np.asarray(phase["status"])
    return {
        "p50_ms": round(float(np.percentile(lat, 50)), 3),
        "p99_ms": round(float(np.percentile(lat, 99)), 3),
        "mean_ms": round(float(lat.mean()), 3),
        "ops_per_s": round(len(lat) / phase["wall_s"], 1),
        "errors": int((status != ok_status).sum()),
    }


def run_backend(backend: str, db: str, workdir: Path, n: int, requests: int, concurrency: int, seed: int,
                warmup: int, progress: Progress | None = None) -> dict[str, Any]:
    """Seed `db` (a new store), start the service on it, measure the baseline and the creates."""
    import multiprocessing

    t = time.perf_counter()
    seeded = prepare(db)
    empty = start_service(db, workdir)  # the same start-up on a store without declarations
    empty.stop()
    shift = _shift()
    seed_declarations(db, seeded, n, seed, shift, progress)
    seed_s = time.perf_counter() - t

    fresh, owners = _volumes(warmup + requests, seed + 7_777_777, shift)
    bodies = [(
        "/v1/declarations",
        json.dumps({"kind": "flight", "volumes": [v], "title": "bench"}).encode(),
        seeded.tokens[int(o)],
    ) for v, o in zip(fresh, owners.tolist(), strict=True)]
    health: list[tuple[str, bytes | None, str | None]] = [("/v1/health", None, None)] * requests
    warm = [("/v1/health", None, None)] * warmup + bodies[:warmup]

    service = start_service(db, workdir)
    try:
        ctx = multiprocessing.get_context("spawn")
        done = ctx.Value("q", 0)
        results = ctx.Queue()
        proc = ctx.Process(target=load_process, name="deconflict-bench-load",
                           args=(service.url, service.proc.pid, warm, {"health": health, "create": bodies[warmup:]},
                                 concurrency, done, results))
        proc.start()
        outcome = None
        while outcome is None:
            with contextlib.suppress(Exception):
                outcome = results.get(timeout=0.2)
            if progress is not None:
                progress("load", done.value, 2 * requests)
            if outcome is None and not proc.is_alive():
                raise RuntimeError("the load generator died")
        proc.join()
    finally:
        service.stop()
    kind, data = outcome
    if kind != "ok":
        raise RuntimeError(f"load generator failed: {data}")
    base = _stats(data["health"], 200)
    ours = _stats(data["create"], 201)
    created = [c for c, s in zip(data["create"]["conflicts"], data["create"]["status"], strict=True) if s == 201]

    def per_op_ms(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds / requests * 1e3, 3)

    return {
        "bench": "service", "backend": backend, "n": n, "requests": requests, "concurrency": concurrency,
        **ours,
        "conflicts_per_create": round(sum(created) / max(len(created), 1), 2),
        "server_cpu_ms_per_op": per_op_ms(data["create"]["server_cpu_s"]),
        "client_cpu_ms_per_op": per_op_ms(data["create"]["client_cpu_s"]),
        "startup_s": round(service.startup_s, 2),
        "startup_empty_s": round(empty.startup_s, 2),
        "rebuild_s": round(service.startup_s - empty.startup_s, 2),
        "seed_s": round(seed_s, 1),
        "baseline": {"method": "GET /v1/health, same client, connections and concurrency", **base,
                     "server_cpu_ms_per_op": per_op_ms(data["health"]["server_cpu_s"]),
                     "client_cpu_ms_per_op": per_op_ms(data["health"]["client_cpu_s"])},
        "ratio_p50": round(ours["p50_ms"] / base["p50_ms"], 2),
        "ratio_ops": round(base["ops_per_s"] / ours["ops_per_s"], 2),
        "target": TARGET if backend == "sqlite" else None,
        "meets_target": (ours["ops_per_s"] >= TARGET["ops_per_s"] and ours["p99_ms"] <= TARGET["p99_ms"])
        if backend == "sqlite" else None,
    }


def run(backends: list[str], n: int = 100_000, requests: int = 2_000, concurrency: int = 4, seed: int = 1,
        warmup: int = 50, sqlite_path: str | None = None, pg_url: str = DEFAULT_PG_URL,
        progress: Progress | None = None) -> Iterator[dict[str, Any]]:
    """Yield one JSON object per backend ("sqlite", "postgresql")."""
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="deconflict-bench-run-") as tmp:
            store = sqlite_store(sqlite_path) if backend == "sqlite" else postgres_store(pg_url)
            with store as db:
                yield run_backend(backend, db, Path(tmp), n, requests, concurrency, seed, warmup, progress)
