"""`deconflict feed sbs1|beast`: a receiver's TCP stream (a local asyncio server serving recorded data: the Paris
state vectors as dump1090's SBS-1 lines, the CDG flight's real Mode S frames as Beast binary) forwarded into a
running service, with a dropped connection on the way; what the service accepted and refused matches the same
data decoded and checked locally, and the statistics say so per source."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from deconflict.bench import feeds as feeds_bench
from deconflict.cli import app
from deconflict.client import Client
from deconflict.core.tactical import TrackTable
from deconflict.feeds.forward import Decoding, ForwardStats, forward, reports_json
from deconflict.feeds.sbs1 import format_sbs1
from deconflict.service.server import RunningService

from .service_helpers import world
from .shared_data import DATA
from .tactical_oracle import PARIS, paris_records

FLIGHT = DATA / "adsb" / "full_flight_short.jsonl"


def _need(path: Any) -> Any:
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/data)")
    return path


@pytest.fixture(scope="module")
def sbs1_wire() -> bytes:
    """The Paris recording's first 4,000 state vectors as MSG 4 (velocity) + MSG 3 (position) lines."""
    _need(PARIS)
    lines = []
    for r in paris_records()[:4000]:
        t = r["timestamp"] / 1000.0
        lines.append(format_sbs1(4, r["icao24"], t, gs_kt=r["groundspeed"], track_deg=r["track"],
                                 vs_fpm=r["vertical_rate"]))
        lines.append(format_sbs1(3, r["icao24"], t, alt_ft=r["altitude"], lat_deg=r["latitude"],
                                 lng_deg=r["longitude"], on_ground=bool(r["onground"])))
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.fixture(scope="module")
def beast_wire() -> bytes:
    """The CDG flight's first 20,000 recorded frames, re-framed as Beast with the receiver's 12 MHz counter."""
    return feeds_bench.beast_wire(_need(FLIGHT), 20_000)[0]


def _expected(kind: str, wire: bytes) -> dict[str, int]:
    """The same bytes decoded and checked here (times to the microsecond, as JSON carries them): what the
    service must accept and refuse."""
    local = Decoding(kind, clock=lambda: 1.7e9)  # type: ignore[arg-type]
    local.feed(wire)
    batch = local.take()
    batch.t_s = np.array([datetime.fromisoformat(r["time"]).timestamp() for r in reports_json(batch)])
    return dict(TrackTable().ingest(batch).counts)


def _halves(wire: bytes, kind: str) -> tuple[bytes, bytes]:
    """Cut at a message boundary near the middle (the first connection serves one half, then drops)."""
    mid = len(wire) // 2
    cut = wire.index(b"\n", mid) + 1 if kind == "sbs1" else wire.index(b"\x1a3", mid)
    return wire[:cut], wire[cut:]


async def _serve(wire: bytes, kind: str) -> tuple[asyncio.Server, int, asyncio.Event]:
    """A receiver: the first connection gets the first half and is dropped, the next the rest, then holds."""
    first, rest = _halves(wire, kind)
    sessions = 0
    served = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sessions
        sessions += 1
        for k in range(0, len(first if sessions == 1 else rest), 4096):  # in reads of any size
            writer.write((first if sessions == 1 else rest)[k:k + 4096])
            await writer.drain()
        if sessions > 1:
            served.set()
            await reader.read()  # keep the connection until the client leaves
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], served


async def _all_read(rounds: list[ForwardStats], size: int) -> None:
    """Until the reader has taken in every byte the receiver sent (the statistics of a round say so)."""
    while not rounds or rounds[-1].tcp["bytes"] < size:
        await asyncio.sleep(0.02)


def _party(service: RunningService) -> str:
    assert service.admin_token is not None
    _, apis = world(service.url, service.admin_token, ["radar"], [])
    return str(apis["radar"].token)


@pytest.mark.parametrize("kind", ["sbs1", "beast"])
def test_forward_posts_what_the_receiver_sends(service: RunningService, kind: str, sbs1_wire: bytes,
                                               beast_wire: bytes) -> None:
    wire = sbs1_wire if kind == "sbs1" else beast_wire
    expected = _expected(kind, wire)
    token = _party(service)
    rounds: list[ForwardStats] = []

    async def scenario(client: Client) -> ForwardStats:
        server, port, served = await _serve(wire, kind)
        stop = asyncio.Event()

        async def fast(_: float) -> None:
            await asyncio.sleep(0.01)

        # the receiver's counter anchored as in _expected (times go to the microsecond, as JSON carries them)
        decoding = Decoding(kind, clock=lambda: 1.7e9)  # type: ignore[arg-type]
        task = asyncio.create_task(forward("127.0.0.1", port, decoding, lambda r: client.post_tracks(
            r, f"{kind}-test"), stop, source=f"{kind}-test", interval_s=0.1, on_stats=rounds.append, sleep=fast))
        await asyncio.wait_for(served.wait(), 60)
        await asyncio.wait_for(_all_read(rounds, len(wire)), 60)
        stop.set()
        stats = await asyncio.wait_for(task, 60)
        server.close()
        await server.wait_closed()
        return stats

    with Client(service.url, token) as client:
        stats = asyncio.run(scenario(client))
        (source,) = client._json("GET", "/v1/tracks/stats")["sources"]
    assert stats.tcp["connections"] == 2 and stats.tcp["disconnected"] == 1
    assert stats.decoder["reports"] == sum(expected.values()) > 1000
    got = stats.service.as_dict()
    assert got["posted"] == stats.decoder["reports"] and got["accepted"] == expected["accepted"]
    assert {k.removeprefix("rejected:"): v for k, v in got.items() if k.startswith("rejected:")} == {
        k: v for k, v in expected.items() if k != "accepted"}
    assert source["source"] == f"{kind}-test" and source["accepted"] == expected["accepted"]
    assert source["rejected"] == sum(expected.values()) - expected["accepted"]
    assert rounds and rounds[-1].service.as_dict() == got  # the statistics hook saw the final counts


def test_reports_wait_while_the_service_is_away(sbs1_wire: bytes) -> None:
    """Posts that fail are counted and their reports kept for the next round, up to a bound (then dropped)."""
    calls: list[int] = []

    def post(reports: list[dict[str, Any]]) -> dict[str, Any]:
        calls.append(len(reports))
        if len(calls) <= 2:
            from deconflict.errors import ServiceUnavailable

            raise ServiceUnavailable("cannot reach http://127.0.0.1:9: refused")
        return {"accepted": len(reports), "rejected_by_reason": {}}

    async def scenario() -> ForwardStats:
        server, port, served = await _serve(sbs1_wire, "sbs1")
        stop = asyncio.Event()
        rounds: list[ForwardStats] = []
        task = asyncio.create_task(forward("127.0.0.1", port, Decoding("sbs1"), post, stop, interval_s=0.05,
                                           max_pending=2_000, on_stats=rounds.append))
        await asyncio.wait_for(served.wait(), 60)
        await asyncio.wait_for(_all_read(rounds, len(sbs1_wire)), 60)
        stop.set()
        stats = await task
        server.close()
        await server.wait_closed()
        return stats

    stats = asyncio.run(scenario())
    counts = stats.service.as_dict()
    assert counts["post_failed"] == 2 and "refused" in (stats.last_error or "")
    assert counts["posted"] + counts.get("dropped", 0) == stats.decoder["reports"]
    assert counts["accepted"] == counts["posted"]


@pytest.fixture
def receiver(sbs1_wire: bytes) -> Iterator[int]:
    """The SBS-1 receiver in its own thread (the CLI runs its own event loop)."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    port = 0

    def run() -> None:
        nonlocal port
        asyncio.set_event_loop(loop)
        server, port, _ = loop.run_until_complete(_serve(sbs1_wire, "sbs1"))
        started.set()
        loop.run_forever()
        server.close()
        loop.run_until_complete(server.wait_closed())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    yield port
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_cli_feed_prints_statistics_per_source(service: RunningService, receiver: int, sbs1_wire: bytes) -> None:
    token = _party(service)
    env = {"DECONFLICT_TOKEN": token, "DECONFLICT_URL": service.url, "COLUMNS": "200"}
    result = CliRunner().invoke(app, ["feed", "sbs1", "--connect", f"127.0.0.1:{receiver}", "--source", "roof",
                                      "--interval", "0.2", "--duration", "5", "--every", "1"], env=env)
    assert result.exit_code == 0, result.output
    assert "source roof" in result.output and "service accepted" in result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    expected = _expected("sbs1", sbs1_wire)
    assert summary["source"] == "roof" and summary["service"]["accepted"] == expected["accepted"]
    assert token not in result.output
    for args, hint in ((["feed", "sbs1", "--connect", "nowhere"], "HOST:PORT"),
                       (["feed", "mlat", "--connect", "127.0.0.1:1"], "sbs1 or beast")):
        bad = CliRunner().invoke(app, args, env=env)
        assert bad.exit_code == 2 and hint in bad.output
