"""Small builders for service tests: volumes in the wire shape, parties, agreements (raw HTTP, no client)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx

NOW = datetime.now(UTC).replace(microsecond=0)
T0 = datetime(2030, 6, 1, 8, 0, tzinfo=UTC)  #: where a ManualClock starts in tests that drive time


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += timedelta(seconds=seconds)


def vol(lat: float, lng: float, radius_m: float = 2000.0, hours: tuple[float, float] = (1.0, 2.0),
        alt: tuple[float, float] = (0.0, 1000.0)) -> dict[str, Any]:
    """A circle volume, `hours` from now."""
    return {
        "volume": {
            "altitude_lower": {"value": alt[0], "reference": "W84", "units": "M"},
            "altitude_upper": {"value": alt[1], "reference": "W84", "units": "M"},
            "outline_circle": {"center": {"lat": lat, "lng": lng}, "radius": {"value": radius_m, "units": "M"}},
        },
        "time_start": {"value": (NOW + timedelta(hours=hours[0])).isoformat(), "format": "RFC3339"},
        "time_end": {"value": (NOW + timedelta(hours=hours[1])).isoformat(), "format": "RFC3339"},
    }


def square(lat: float, lng: float, half_deg: float = 0.02, hours: tuple[float, float] = (1.0, 2.0),
           alt: tuple[float, float] = (0.0, 1000.0)) -> dict[str, Any]:
    v = vol(lat, lng, 1.0, hours, alt)
    del v["volume"]["outline_circle"]
    v["volume"]["outline_polygon"] = {"vertices": [
        {"lat": lat - half_deg, "lng": lng - half_deg}, {"lat": lat - half_deg, "lng": lng + half_deg},
        {"lat": lat + half_deg, "lng": lng + half_deg}, {"lat": lat + half_deg, "lng": lng - half_deg}]}
    return v


class Api:
    """httpx bound to a base URL and one party's token (closed after each test, see conftest)."""

    opened: ClassVar[list[Api]] = []

    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        self.token = token
        Api.opened.append(self)

    @classmethod
    def close_all(cls) -> None:
        while cls.opened:
            cls.opened.pop().http.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.http, name)

    def declare(self, kind: str, *volumes: dict[str, Any], **extra: Any) -> httpx.Response:
        return self.http.post("/v1/declarations", json={"kind": kind, "volumes": list(volumes), **extra})


def world(url: str, admin_token: str, parties: list[str],
          agreements: list[dict[str, Any]]) -> tuple[Api, dict[str, Api]]:
    """Create parties and agreements (each: parties, disclosure, policy, optional minima)."""
    admin = Api(url, admin_token)
    apis = {}
    for name in parties:
        r = admin.post("/v1/parties", json={"name": name})
        assert r.status_code == 201, r.text
        apis[name] = Api(url, r.json()["token"])
    for i, g in enumerate(agreements):
        body = {"name": f"agreement-{i}", "minima": {"lateral_m": 1000, "vertical_m": 150, "time_s": 60},
                "ack_deadline_s": 600, **g}
        r = admin.post("/v1/agreements", json=body)
        assert r.status_code == 201, r.text
    return admin, apis


@contextmanager
def running_demo(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], str, Path]]:
    """`deconflict demo` as a user runs it, in a real process: (URL, tokens, what it printed, the tokens file)."""
    tokens_file = tmp_path / "tokens.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "deconflict.cli", "demo", "--port", "0", "--tokens-out", str(tokens_file),
         "--speed", "1000"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert proc.stdout is not None
        output = ""
        for line in proc.stdout:
            output += line
            if "is running at" in line:
                break
        url = re.search(r"running at (http://\S+)", output)
        assert url is not None, output
        yield url.group(1), json.loads(tokens_file.read_text()), output, tokens_file
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        if proc.stdout:
            proc.stdout.close()
    assert proc.returncode == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_subprocess(db_url: str, *args: str, health: str = "/v1/health") -> tuple[subprocess.Popen[bytes], str]:
    """`deconflict serve` over `db_url` as a process of its own, on a free port; returned (with its URL) once
    `health` answers 200. The caller terminates it."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "deconflict.cli", "serve", "--port", str(port), "--db", db_url, *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "service exited")
        try:
            if httpx.get(url + health, timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("service did not start")
