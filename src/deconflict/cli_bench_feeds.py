"""`deconflict bench feeds`: SBS-1 and Beast ingest rates (deconflict.bench.feeds). Kept apart from cli.py, which
registers it; the benchmark is imported when it runs."""

from __future__ import annotations

import json
from pathlib import Path

import typer

__all__ = ["bench_feeds"]

DEFAULT_FRAMES = Path("../shared/data/adsb/full_flight_short.jsonl")


def bench_feeds(
    aircraft: int = typer.Option(2_000, min=1, help="En-route aircraft in the SBS-1 stream."),
    seconds: int = typer.Option(30, min=1, help="Seconds of SBS-1 traffic (two messages per aircraft each)."),
    frames_file: Path = typer.Option(DEFAULT_FRAMES, "--frames-file",
                                     help="Hex-frame JSON lines (timestamp, frame) to replay as Beast binary."),
    frames: int = typer.Option(0, min=0, help="Frames of that file to use (0: all)."),
    repeat: int = typer.Option(3, min=1, help="Runs per measurement; the best is kept."),
    as_json: bool = typer.Option(True, "--json/--no-json", help="Print JSON lines (the only format)."),
) -> None:
    """SBS-1 and Beast decoding rates, messages/s, beside the bare reading of the same bytes."""
    from .bench import feeds

    for line in feeds.run(aircraft, seconds, frames_file, frames or None, repeat):
        print(json.dumps(line), flush=True)
