"""Feed commands. `deconflict replay-tracks FILE --speed 10`: a recording replayed as a feed into a `TrackTable`,
with its statistics (per source: what the parser set aside and why, then what the core's quality rules accepted
and refused, by reason) printed as one JSON object when the replay ends. `deconflict feed sbs1|beast --connect
HOST:PORT`: a receiver's live stream forwarded into the service (`deconflict.feeds.forward`)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..cli_liaison import DEFAULT_URL, _party_token  # one way to read a token: never from the command line
from ..client import Client
from ..core.tactical.tracks import TrackTable
from .forward import Decoding, ForwardStats, Kind, forward
from .replay import open_recording, paced, ticks

__all__ = ["feed", "replay_tracks"]


def replay_tracks(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A recording: .json[.gz] state vectors, "
                                ".bin Beast binary, .jsonl hex frames."),
    speed: float = typer.Option(10.0, min=0.0, help="Times real time; 0 replays as fast as it can."),
    tick: float = typer.Option(1.0, min=0.01, help="Seconds of recording time handed on at once."),
    epoch: float = typer.Option(0.0, help="Epoch seconds of the Beast MLAT counter's zero (files do not say)."),
    ref_lat: float | None = typer.Option(None, help="Receiver latitude (deg): lets surface positions decode."),
    ref_lon: float | None = typer.Option(None, help="Receiver longitude (deg)."),
    progress: bool = typer.Option(False, help="Print a JSON line per tick: time, reports, live tracks."),
) -> None:
    """Replay a recording at SPEED times real time into the track table; print per-source statistics."""
    reference = None if ref_lat is None or ref_lon is None else (ref_lat, ref_lon)
    rec = open_recording(file, epoch_s=epoch, reference=reference)
    table = TrackTable()
    n_ticks = 0
    for t, batch in paced(ticks(rec.batch, tick), speed):
        table.ingest(batch)
        n_ticks += 1
        if progress:
            print(json.dumps({"t": t, "reports": len(batch), "live": len(table.snapshot(t))}), flush=True)
    print(json.dumps({"file": str(file), "source": rec.source, "ticks": n_ticks, "parser": rec.stats.as_dict(),
                      "tracks": dict(sorted(table.stats.items())), "aircraft": len(table)}))


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise typer.BadParameter(f"expected HOST:PORT, got {text!r}", param_hint="--connect")
    return host.strip("[]"), int(port)


def _table(stats: ForwardStats) -> Table:
    table = Table(title=f"source {stats.source}", show_header=True, header_style="bold")
    table.add_column("stage")
    table.add_column("count", justify="right")
    for stage, counts in (("tcp", stats.tcp.as_dict()), ("decoder", stats.decoder),
                          ("service", stats.service.as_dict())):
        for name, n in counts.items():
            table.add_row(f"{stage} {name}", f"{n:,}")
    if stats.last_error:
        table.add_row("last error", escape(stats.last_error))
    return table


def feed(
    kind: str = typer.Argument(..., help="sbs1: dump1090's port 30003 lines; beast: its port 30005 binary."),
    connect: str = typer.Option(..., help="The receiver, HOST:PORT (e.g. localhost:30003)."),
    url: str = typer.Option(DEFAULT_URL, envvar="DECONFLICT_URL", help="The service's base URL."),
    token_file: Path | None = typer.Option(None, help="File holding the party's token (else DECONFLICT_TOKEN)."),
    source: str = typer.Option("", help="Name of this source in the service's statistics (default: the kind)."),
    interval: float = typer.Option(1.0, min=0.05, help="Seconds between posts of what was decoded."),
    utc_offset: float = typer.Option(0.0, help="SBS-1: seconds the receiver's clock is ahead of UTC."),
    every: float = typer.Option(10.0, min=0.0, help="Seconds between statistics tables (0: only at the end)."),
    duration: float = typer.Option(0.0, min=0.0, help="Stop after this many seconds (0: until Ctrl-C)."),
) -> None:
    """Forward a receiver's SBS-1 or Beast stream into the service, reconnecting with back-off; print per-source
    statistics (connection, decoding, accepted and refused by reason), then one JSON line when it stops."""
    if kind not in ("sbs1", "beast"):
        raise typer.BadParameter(f"expected sbs1 or beast, got {kind!r}", param_hint="KIND")
    host, port = _address(connect)
    name = source or kind
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", name):
        raise typer.BadParameter("letters, digits and . _ : - (at most 64)", param_hint="--source")
    token = _party_token(token_file)
    console = Console(stderr=True)
    decoding = Decoding(cast(Kind, kind), utc_offset_s=utc_offset)
    last_shown = time.monotonic()

    def show(stats: ForwardStats) -> None:
        nonlocal last_shown
        if every > 0 and time.monotonic() - last_shown >= every:
            last_shown = time.monotonic()
            console.print(_table(stats))

    async def run(client: Client) -> ForwardStats:
        stop = asyncio.Event()
        if duration > 0:
            asyncio.get_running_loop().call_later(duration, stop.set)
        return await forward(host, port, decoding, lambda reports: client.post_tracks(reports, name), stop,
                             source=name, interval_s=interval, on_stats=show)

    with Client(url, token) as client:
        try:
            stats = asyncio.run(run(client))
        except KeyboardInterrupt:
            console.print("stopped")
            return
    console.print(_table(stats))
    print(json.dumps(stats.as_dict()), flush=True)
