"""`deconflict bench hotline`: from a declaration's HTTP request to its partners' WebSockets receiving the notice.

Issue 4: an `activity` declared by a party is announced to every partner of its agreements (reason `notice`). The
bench makes `parties` parties in one agreement (reference minima, `full` disclosure, `inform` policy), optionally
seeds the store with N declarations of the reference workload (bench.service's bulk seeding), and starts the
service as a subprocess (`python -m deconflict.cli serve`, bench.service.start_service).

Three processes besides the service (spawned, so none shares a GIL with another):

- the listener: one asyncio event loop holding one `/v1/stream` WebSocket per party (an event loop rather than a
  thread per socket: 20 sockets and ~4,000 messages/s are cheap for one loop and contend for no lock); it stamps
  each message with `time.monotonic_ns()` as soon as `recv` returns it, before parsing, and keeps
  (notification id, stamp) for each `notification` event;
- the load generator: `concurrency` threads, one keep-alive httpx connection each, sending `activity`
  declarations open-loop at `rate` per second (request i is due at start + i / rate; a thread that is late sends at
  once). It stamps the send (`time.monotonic_ns()` just before the request) and the 201, and keeps the ids of
  the notifications the response lists;
- this process, which waits, drives the progress bar and correlates by notification id.

Clocks: `time.monotonic_ns()` is CLOCK_MONOTONIC on Linux, one clock for every process on the machine, so stamps
taken in the load generator and in the listener are comparable (all processes run on this one machine).

Latency = first receipt of a notification on the recipient's socket - the send stamp of its declaration; p50/p99
over every (declaration, partner) pair. `missing` counts notifications a 201 listed that never arrived before the
drain timeout. Baseline, in the same run and for the same requests: the HTTP create round trip alone (send to
201), so what the push adds beyond the write is the difference; and the stream's poll interval
(service.hub.POLL_S), the fallback poll for other processes' writes (this process's commits wake the hub).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from . import service as base
from .service import DEFAULT_PG_URL, Progress, Seeded

__all__ = ["DEFAULT_PG_URL", "TARGET", "run"]

TARGET = {"p99_ms": 50.0}  #: issue 4, SQLite, at 200 declarations/s with 20 parties


def prepare(db: str, parties: int) -> Seeded:
    """Migrate a new store; create the admin, `parties` parties and one agreement between them all."""
    return base.prepare(db, parties, name="hotline")


# -- the listener (its own process) -----------------------------------------------------------------------------
def listen_process(ws_url: str, tokens: list[str], ready: Any, stop: Any, received: Any, results: Any) -> None:
    """One WebSocket per token on one asyncio loop; `ready` is set once every socket has its hello. Until `stop`
    is set, notification events are stamped on arrival. Puts ("ok", {notification id: first stamp ns, ...})."""
    import asyncio

    from websockets.asyncio.client import connect

    first: dict[str, int] = {}
    counts = {"messages": 0, "notifications": 0, "duplicates": 0, "bytes": 0}

    async def one(token: str, hello: asyncio.Event) -> None:
        async with connect(ws_url, max_size=None, compression=None) as ws:
            await ws.send(json.dumps({"token": token}))
            if json.loads(await ws.recv())["type"] != "hello":
                raise RuntimeError("the stream refused a token")
            hello.set()
            while True:
                raw = await ws.recv()
                stamp = time.monotonic_ns()
                counts["messages"] += 1
                counts["bytes"] += len(raw)
                event = json.loads(raw)
                if event["type"] != "notification":
                    continue
                nid = event["notification"]["id"]
                if nid in first:
                    counts["duplicates"] += 1
                    continue
                first[nid] = stamp
                counts["notifications"] += 1
                received.value = counts["notifications"]  # one writer: no lock needed for a progress counter

    async def main() -> None:
        hellos = [asyncio.Event() for _ in tokens]
        tasks = [asyncio.ensure_future(one(tok, h)) for tok, h in zip(tokens, hellos, strict=True)]
        waiting = asyncio.ensure_future(asyncio.gather(*(h.wait() for h in hellos)))
        done, _ = await asyncio.wait([waiting, *tasks], return_when=asyncio.FIRST_COMPLETED, timeout=60)
        if waiting not in done:
            for task in done:
                task.result()  # raises what went wrong
            raise RuntimeError("not every stream said hello within 60 s")
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
            for task in tasks:
                if task.done():
                    task.result()
                    raise RuntimeError("a stream closed")
        for task in tasks:
            task.cancel()

    try:
        asyncio.run(main())
        results.put(("ok", {"first_ns": first, **counts}))
    except BaseException as exc:
        results.put(("error", repr(exc)))


# -- the load generator (its own process) -----------------------------------------------------------------------
def load_process(url: str, server_pid: int, requests: list[tuple[bytes, str]], warmup: int, rate: float,
                 concurrency: int, go: Any, done: Any, results: Any) -> None:
    """Send `requests` (body, token): the first `warmup` back to back, then the rest paced at `rate` per second
    from `concurrency` threads. Puts ("ok", {...}) with per-request send/201 stamps and notification ids."""
    import httpx

    n = len(requests)
    sent = [0] * n
    answered = [0] * n
    status = [0] * n
    notes: list[list[str]] = [[] for _ in range(n)]
    conflicts = [0] * n
    take = threading.Lock()
    next_index = iter(range(n))
    schedule = {"start": 0}

    def send(client: httpx.Client, i: int) -> None:
        body, token = requests[i]
        sent[i] = time.monotonic_ns()
        r = client.post("/v1/declarations", content=body,
                        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        answered[i] = time.monotonic_ns()
        status[i] = r.status_code
        if r.status_code == 201:
            out = r.json()
            notes[i] = [x["id"] for x in out["notifications"]]
            conflicts[i] = len(out["conflicts"])

    def worker(client: httpx.Client) -> None:
        while True:
            with take:
                i = next(next_index, None)
            if i is None:
                return
            if i >= warmup:
                delay = schedule["start"] + int((i - warmup) * 1e9 / rate) - time.monotonic_ns()
                if delay > 0:
                    time.sleep(delay / 1e9)
            send(client, i)
            with done.get_lock():
                done.value += 1

    try:
        clients = [httpx.Client(base_url=url, timeout=120) for _ in range(concurrency)]
        for i in range(warmup):  # unmeasured, one at a time; also opens each connection
            send(clients[i % concurrency], i)
        next_index = iter(range(warmup, n))
        go.wait()
        time.sleep(0.5)  # let the warm-up's notifications drain before the measured load
        cpu, server = time.process_time(), base._cpu_s(server_pid)
        schedule["start"] = time.monotonic_ns()
        threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in clients]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = (time.monotonic_ns() - schedule["start"]) / 1e9
        server_end = base._cpu_s(server_pid)
        for c in clients:
            c.close()
        results.put(("ok", {
            "sent_ns": sent, "answered_ns": answered, "status": status, "notifications": notes,
            "conflicts": conflicts, "start_ns": schedule["start"], "wall_s": wall,
            "client_cpu_s": time.process_time() - cpu,
            "server_cpu_s": None if server is None or server_end is None else server_end - server}))
    except BaseException as exc:
        results.put(("error", repr(exc)))


# -- one backend ------------------------------------------------------------------------------------------------
def _pct(values_ms: np.ndarray, q: float) -> float | None:
    return round(float(np.percentile(values_ms, q)), 3) if len(values_ms) else None


def _get(queue: Any, proc: Any, what: str, timeout_s: float) -> Any:
    """The next result `proc` puts on `queue`, or an error if it dies or takes longer than `timeout_s`."""
    import queue as q

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        with contextlib.suppress(q.Empty):
            kind, data = queue.get(timeout=0.2)
            if kind != "ok":
                raise RuntimeError(f"the {what} failed: {data}")
            return data
        if not proc.is_alive():
            raise RuntimeError(f"the {what} died")
    raise RuntimeError(f"the {what} gave no result within {timeout_s:.0f} s")


def run_backend(backend: str, db: str, workdir: Path, parties: int, n: int, declarations: int, rate: float,
                concurrency: int, seed: int, warmup: int, drain_s: float,
                progress: Progress | None = None) -> dict[str, Any]:
    """Seed `db` (a new store), start the service on it, connect the listeners, send the load, correlate."""
    import multiprocessing

    from ..service.hub import POLL_S

    t = time.perf_counter()
    seeded = prepare(db, parties)
    shift = base._shift()
    if n:  # bench.service's bulk seeding; its owners index 50 parties, mapped onto ours
        owners = Seeded(seeded.admin_token, seeded.tokens,
                        [seeded.party_ids[i % parties] for i in range(base.PARTIES)])
        base.seed_declarations(db, owners, n, seed, shift, progress)
    seed_s = time.perf_counter() - t

    fresh, owner_ix = base._volumes(warmup + declarations, seed + 7_777_777, shift)
    requests = [(json.dumps({"kind": "activity", "volumes": [v], "title": "hotline bench"}).encode(),
                 seeded.tokens[int(o) % parties]) for v, o in zip(fresh, owner_ix.tolist(), strict=True)]

    service = base.start_service(db, workdir)
    ctx = multiprocessing.get_context("spawn")
    ready, stop, go = ctx.Event(), ctx.Event(), ctx.Event()
    received, done = ctx.Value("q", 0), ctx.Value("q", 0)
    heard, loaded = ctx.Queue(), ctx.Queue()
    listener = ctx.Process(target=listen_process, name="deconflict-bench-listen",
                           args=(service.url.replace("http://", "ws://") + "/v1/stream", seeded.tokens, ready,
                                 stop, received, heard))
    loader = ctx.Process(target=load_process, name="deconflict-bench-load",
                         args=(service.url, service.proc.pid, requests, warmup, rate, concurrency, go, done, loaded))
    try:
        listener.start()
        while not ready.wait(0.2):
            if not listener.is_alive():
                _get(heard, listener, "listener", 1)
        loader.start()
        go.set()
        load: dict[str, Any] | None = None
        while load is None:
            with contextlib.suppress(Exception):
                kind, data = loaded.get(timeout=0.2)
                if kind != "ok":
                    raise RuntimeError(f"the load generator failed: {data}")
                load = data
            if progress is not None:
                progress("send", max(done.value, 0), declarations)
                progress("receive", received.value, declarations * (parties - 1))
            if load is None and not loader.is_alive():
                _get(loaded, loader, "load generator", 1)
        expected = sum(len(x) for x in load["notifications"])  # warm-up's too: the listener hears every one
        drain_end = time.monotonic() + drain_s
        while received.value < expected and time.monotonic() < drain_end:
            if progress is not None:
                progress("receive", received.value, declarations * (parties - 1))
            time.sleep(0.1)
        if progress is not None:
            progress("receive", received.value, declarations * (parties - 1))
        stop.set()
        heard_data = _get(heard, listener, "listener", 60)
        loader.join(10)
        listener.join(10)
    finally:
        stop.set()
        for proc in (loader, listener):
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
        service.stop()

    first: dict[str, int] = heard_data["first_ns"]
    measured = range(warmup, warmup + declarations)
    status = np.asarray([load["status"][i] for i in measured])
    ok = [i for i in measured if load["status"][i] == 201]
    sent = np.asarray([load["sent_ns"][i] for i in ok], dtype=np.int64)
    answered = np.asarray([load["answered_ns"][i] for i in ok], dtype=np.int64)
    create_ms = (answered - sent) / 1e6
    push_ms, beyond_ms, slowest_ms, missing = [], [], [], 0
    for i in ok:
        worst = None
        for nid in load["notifications"][i]:
            got = first.get(nid)
            if got is None:
                missing += 1
                continue
            push_ms.append((got - load["sent_ns"][i]) / 1e6)
            beyond_ms.append((got - load["answered_ns"][i]) / 1e6)
            worst = max(worst or 0.0, push_ms[-1])
        if worst is not None:
            slowest_ms.append(worst)
    push, beyond, slowest = np.asarray(push_ms), np.asarray(beyond_ms), np.asarray(slowest_ms)
    expected_measured = sum(len(load["notifications"][i]) for i in ok)
    last_sent = int(sent.max()) if len(sent) else load["start_ns"]
    send_span_s = max((last_sent - load["start_ns"]) / 1e9, 1e-9)
    # coordinated omission: how late each request left against its open-loop schedule
    behind_ms = np.asarray([(load["sent_ns"][i] - load["start_ns"]) / 1e6 - (i - warmup) * 1e3 / rate
                            for i in ok]) if ok else np.asarray([])
    p99 = _pct(push, 99)
    base_p50 = _pct(create_ms, 50)
    line = {
        "bench": "hotline", "backend": backend, "parties": parties, "n": n, "declarations": declarations,
        "concurrency": concurrency,
        "rate_per_s": {"offered": rate,
                       "achieved": round(len(ok) / load["wall_s"], 1) if load["wall_s"] > 0 else None,
                       "sent": round((len(sent) - 1) / send_span_s, 1) if len(sent) > 1 else None},
        "notifications_per_s": round(len(push) / load["wall_s"], 1) if load["wall_s"] > 0 else None,
        "notifications": expected_measured, "received": len(push), "missing": missing,
        "p50_ms": _pct(push, 50), "p99_ms": p99, "mean_ms": round(float(push.mean()), 3) if len(push) else None,
        "max_ms": round(float(push.max()), 3) if len(push) else None,
        "slowest_partner_p50_ms": _pct(slowest, 50), "slowest_partner_p99_ms": _pct(slowest, 99),
        "after_201_p50_ms": _pct(beyond, 50), "after_201_p99_ms": _pct(beyond, 99),
        "send_behind_schedule_p99_ms": _pct(behind_ms, 99),
        "errors": int((status != 201).sum()),
        "duplicates": heard_data["duplicates"], "stream_messages": heard_data["messages"],
        "stream_mb": round(heard_data["bytes"] / 1e6, 1),
        "conflicts_per_declaration": round(sum(load["conflicts"][i] for i in ok) / max(len(ok), 1), 2),
        "server_cpu_ms_per_declaration": None if load["server_cpu_s"] is None
        else round(load["server_cpu_s"] / max(len(ok), 1) * 1e3, 3),
        "server_cpu_share": None if load["server_cpu_s"] is None else round(load["server_cpu_s"] / load["wall_s"], 2),
        "clock": "time.monotonic_ns (CLOCK_MONOTONIC, shared by the load and listener processes on this machine)",
        "baseline": {"method": "HTTP create round trip (send to 201) of the same requests",
                     "p50_ms": base_p50, "p99_ms": _pct(create_ms, 99),
                     "stream_poll_interval_ms": POLL_S * 1e3},
        "ratio_p50": round(_pct(push, 50) / base_p50, 2) if len(push) and base_p50 else None,
        "ratio_p99": round(p99 / _pct(create_ms, 99), 2) if p99 is not None and len(create_ms) else None,
        "startup_s": round(service.startup_s, 2), "seed_s": round(seed_s, 1),
        "target": TARGET if backend == "sqlite" else None,
        "meets_target": (p99 is not None and p99 <= TARGET["p99_ms"] and missing == 0 and parties >= 20
                         and rate >= 200 and len(ok) / load["wall_s"] >= 0.95 * rate) if backend == "sqlite"
        else None,
    }
    return line


def run(backends: list[str], parties: int = 20, n: int = 10_000, declarations: int = 2_000, rate: float = 200.0,
        concurrency: int = 8, seed: int = 1, warmup: int = 20, drain_s: float = 30.0,
        sqlite_path: str | None = None, pg_url: str = DEFAULT_PG_URL,
        progress: Progress | None = None) -> Iterator[dict[str, Any]]:
    """Yield one JSON object per backend ("sqlite", "postgresql")."""
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="deconflict-hotline-") as tmp:
            store = base.sqlite_store(sqlite_path) if backend == "sqlite" else base.postgres_store(pg_url)
            with store as db:
                yield run_backend(backend, db, Path(tmp), parties, n, declarations, rate, concurrency, seed,
                                  warmup, drain_s, progress)
