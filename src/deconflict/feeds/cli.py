"""`deconflict replay-tracks FILE --speed 10`: a recording replayed as a feed into a `TrackTable`, with its
statistics (per source: what the parser set aside and why, then what the core's quality rules accepted and
refused, by reason) printed as one JSON object when the replay ends."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..core.tactical.tracks import TrackTable
from .replay import open_recording, paced, ticks

__all__ = ["replay_tracks"]


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
