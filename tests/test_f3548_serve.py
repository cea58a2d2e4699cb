"""`deconflict serve --f3548-public-key/--f3548-audience/--f3548-allow-http` (a real process answering /dss/v1
with a signed token), and concurrent intent writes on stale keys in one busy area: two threads on one service
(SQLite and PostgreSQL), two service processes on one PostgreSQL store. At most one write of each race succeeds;
the other gets 409 naming the winner among the missing intents (with its OVN left to its USS)."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from deconflict.f3548 import F3548Config
from deconflict.f3548.logic import NO_OVN
from deconflict.service.server import RunningService

from .service_helpers import serve_subprocess, vol
from .test_f3548 import KEY, OIR, intent, token

AUD = "localhost"
ROUNDS = 8


def _pem(tmp_path: Path) -> Path:
    path = tmp_path / "f3548-key.pem"
    path.write_bytes(KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def _serve(db_url: str, tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    token_file = tmp_path / f"admin-{uuid.uuid4().hex[:8]}"
    return serve_subprocess(db_url, "--admin-token-out", str(token_file), *extra, health="/healthy")


def _stop(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=20)
        if proc.stderr:
            proc.stderr.close()


def _headers(sub: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub, aud=AUD)}"}


def test_serve_takes_the_f3548_options(tmp_path: Path) -> None:
    pem = _pem(tmp_path)
    proc, url = _serve(str(tmp_path / "s.sqlite"), tmp_path, "--f3548-public-key", str(pem),
                       "--f3548-public-key", str(pem), "--f3548-audience", "other", "--f3548-audience", AUD,
                       "--f3548-allow-http")
    try:
        body = intent(vol(40.0, 20.0, 400), uss_base_url="http://uss.local:8074/base", implicit=False)
        body["new_subscription"] = {"uss_base_url": "http://uss.local:8074/base"}
        r = httpx.put(f"{url}{OIR}/{uuid.uuid4()}", json=body, headers=_headers("uss-a"))
        assert r.status_code == 201, r.text
        assert r.json()["operational_intent_reference"]["manager"] == "uss-a"
        assert httpx.post(url + OIR + "/query", json={"area_of_interest": vol(40.0, 20.0, 1000, (0.5, 3.0))},
                          headers={"Authorization": f"Bearer {token(aud='nobody')}"}).status_code == 401
    finally:
        _stop(proc)
    # without --f3548-allow-http an http:// base URL is refused (400); https is fine
    proc, url = _serve(str(tmp_path / "t.sqlite"), tmp_path, "--f3548-public-key", str(pem),
                       "--f3548-audience", AUD)
    try:
        body = intent(vol(40.0, 20.0, 400), uss_base_url="http://uss.local:8074/base", implicit=False)
        r = httpx.put(f"{url}{OIR}/{uuid.uuid4()}", json=body, headers=_headers("uss-a"))
        assert r.status_code == 400 and "uss_base_url" in r.json()["message"], r.text
        r = httpx.put(f"{url}{OIR}/{uuid.uuid4()}", json=intent(vol(40.0, 20.0, 400)), headers=_headers("uss-a"))
        assert r.status_code == 201, r.text
    finally:
        _stop(proc)


def test_serve_refuses_a_key_without_an_audience(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "deconflict.cli", "serve", "--db", str(tmp_path / "x.sqlite"),
                        "--f3548-public-key", str(_pem(tmp_path))], capture_output=True, timeout=60)
    assert r.returncode == 2 and b"--f3548-audience" in r.stderr
    (tmp_path / "bad.pem").write_text("not a key")
    r = subprocess.run([sys.executable, "-m", "deconflict.cli", "serve", "--db", str(tmp_path / "x.sqlite"),
                        "--f3548-public-key", str(tmp_path / "bad.pem"), "--f3548-audience", AUD],
                       capture_output=True, timeout=60)
    assert r.returncode == 2 and b"--f3548-public-key" in r.stderr


# -- races on stale keys -----------------------------------------------------------------------------------
def _race(urls: tuple[str, str], lat: float) -> list[tuple[int, Any]]:
    """USS a (to urls[0]) and USS b (to urls[1]) create Accepted intents overlapping each other, at the same
    instant, each with the key it read before (empty: the area was free)."""
    barrier = threading.Barrier(2)
    out: dict[int, tuple[int, Any]] = {}

    def send(k: int) -> None:
        body = intent(vol(lat + 0.001 * k, 20.0, 500), key=[])
        barrier.wait()
        r = httpx.put(f"{urls[k]}{OIR}/{uuid.uuid4()}", json=body, headers=_headers(f"uss-{'ab'[k]}"), timeout=60)
        out[k] = (r.status_code, r.json())

    threads = [threading.Thread(target=send, args=(k,)) for k in (0, 1)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return [out[0], out[1]]


def _check_rounds(urls: tuple[str, str]) -> None:
    for n in range(ROUNDS):
        results = _race(urls, 30.0 + 0.2 * n)  # each round in its own area
        codes = sorted(code for code, _ in results)
        assert codes == [201, 409], results
        won = next(body for code, body in results if code == 201)["operational_intent_reference"]
        lost = next(body for code, body in results if code == 409)
        # the winner, managed by the other USS: its OVN is to be had from that USS, as the standard says
        missing = {(m["id"], m["ovn"], m["manager"]) for m in lost["missing_operational_intents"]}
        assert missing == {(won["id"], NO_OVN, won["manager"])}, lost


def test_two_threads_on_stale_keys_one_wins(service: RunningService) -> None:
    service.server.config.app.state.f3548_config = F3548Config(public_keys=(KEY.public_key(),),
                                                               audiences=frozenset({AUD}))
    _check_rounds((service.url, service.url))


@pytest.fixture
def pg_processes(pg_db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two `serve` processes on one PostgreSQL store. (F3548 writes on SQLite serialise with a lock of one
    process; several processes on one SQLite file are not supported for F3548.)"""
    db_url = pg_db_url
    pem = str(_pem(tmp_path))
    args = ("--f3548-public-key", pem, "--f3548-audience", AUD)
    first, url1 = _serve(db_url, tmp_path, *args)
    try:
        second, url2 = _serve(db_url, tmp_path, *args)
    except Exception:
        _stop(first)
        raise
    try:
        yield url1, url2
    finally:
        _stop(first, second)


def test_two_processes_on_stale_keys_one_wins(pg_processes: tuple[str, str]) -> None:
    _check_rounds(pg_processes)
