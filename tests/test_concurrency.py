"""Two service processes on one store, racing conflicting declarations under a `block` agreement.

Each round sends two declarations that conflict with each other, at the same instant, one to each process.
Exactly one may be accepted. Declarations in separate areas, sent the same way, must both be accepted.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from .service_helpers import Api, serve_subprocess, vol, world

ROUNDS = 12


def _start(db_url: str, token_file: Path) -> tuple[subprocess.Popen[bytes], str]:
    return serve_subprocess(db_url, "--admin-token-out", str(token_file))


@pytest.fixture
def two_processes(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    token_file = tmp_path / "admin-token"
    first, url1 = _start(db_url, token_file)
    second, url2 = _start(db_url, tmp_path / "unused")
    try:
        yield url1, url2, token_file.read_text().strip()
    finally:
        for proc in (first, second):
            proc.terminate()
        for proc in (first, second):
            proc.wait(timeout=20)
            if proc.stderr:
                proc.stderr.close()


def _race(a: Api, b: Api, body_a: dict, body_b: dict) -> tuple[int, int]:  # type: ignore[type-arg]
    barrier = threading.Barrier(2)
    codes: dict[str, int] = {}

    def send(name: str, api: Api, body: dict) -> None:  # type: ignore[type-arg]
        barrier.wait()
        codes[name] = api.post("/v1/declarations", json=body).status_code

    threads = [threading.Thread(target=send, args=("a", a, body_a)),
               threading.Thread(target=send, args=("b", b, body_b))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return codes["a"], codes["b"]


def test_exactly_one_of_two_conflicting_block_declarations_is_accepted(two_processes: tuple[str, str, str]) -> None:
    url1, url2, admin_token = two_processes
    _, apis = world(url1, admin_token, ["air", "ngo"], [
        {"parties": ["air", "ngo"], "disclosure": "full", "policy": "block",
         "minima": {"lateral_m": 2000, "vertical_m": 150, "time_s": 60}}])
    air = apis["air"]  # talks to process 1
    ngo = Api(url2, apis["ngo"].token)  # talks to process 2
    outcomes = []
    for k in range(ROUNDS):
        lat = 30.0 + 0.5 * k  # each round in its own area
        a = {"kind": "activity", "volumes": [vol(lat, 36.0, 3000)]}
        b = {"kind": "flight", "volumes": [vol(lat + 0.03, 36.0, 1000)]}  # 3.3 km apart: within 2 km minima
        outcomes.append(sorted(_race(air, ngo, a, b)))
    assert outcomes == [[201, 409]] * ROUNDS
    accepted = len(air.get("/v1/declarations", params={"scope": "own"}).json()["declarations"]) + len(
        ngo.get("/v1/declarations", params={"scope": "own"}).json()["declarations"])
    assert accepted == ROUNDS


def test_declarations_in_separate_areas_are_all_accepted(two_processes: tuple[str, str, str]) -> None:
    url1, url2, admin_token = two_processes
    _, apis = world(url1, admin_token, ["air", "ngo"], [
        {"parties": ["air", "ngo"], "disclosure": "full", "policy": "block"}])
    air, ngo = apis["air"], Api(url2, apis["ngo"].token)
    for k in range(4):
        a = {"kind": "activity", "volumes": [vol(30.0 + k, 36.0, 3000)]}
        b = {"kind": "flight", "volumes": [vol(30.0 + k, 40.0, 3000)]}
        assert _race(air, ngo, a, b) == (201, 201)
