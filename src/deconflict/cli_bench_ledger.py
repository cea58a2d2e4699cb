"""`deconflict bench ledger`: the Merkle log's appends, proofs and bundle verification (deconflict.bench.ledger).

Kept apart from cli.py, which registers it; the benchmark itself is imported only when the command runs.
"""

from __future__ import annotations

import json

import typer

__all__ = ["bench_ledger"]


def bench_ledger(
    entries: int = typer.Option(10_000_000, min=1, help="Leaves in the log that proofs are measured on."),
    proofs: int = typer.Option(2_000, min=1, help="Inclusion and consistency proofs measured (each)."),
    bundle_entries: int = typer.Option(1_000_000, min=1, help="Entries in the bundle whose verification is timed."),
    appends: int = typer.Option(200_000, min=1, help="Single appends timed (in-memory appends/s)."),
    baseline_sample: int = typer.Option(100_000, min=1, help="Bundle entries checked in full for the baseline."),
    sqlite_appends: int = typer.Option(100_000, min=1, help="Entries staged and sequenced on a fresh SQLite store."),
    stage_batch: int = typer.Option(1_000, min=1, help="Entries staged per transaction on SQLite."),
    seed: int = typer.Option(1, help="Seed of the synthetic entries and the proof positions."),
    as_json: bool = typer.Option(True, "--json/--no-json", help="Print one JSON line (the only format)."),
) -> None:
    """Appends/s into the in-memory log and on SQLite through the service's staging and sequencing,
    inclusion/consistency proof p50/p99 at `entries`, and verification of a `bundle-entries` bundle, beside the raw
    SHA-256 rate and baselines measured in the same run."""
    from .bench import ledger
    from .cli_bench_common import progress_bars

    bar, progress, _ = progress_bars({"build": "building the log", "proofs": "proofs",
                                      "bundle": "building the bundle"})

    with bar:
        line = ledger.run(entries, proofs, bundle_entries, appends, seed, progress=progress,
                          baseline_sample=baseline_sample, sqlite_appends=sqlite_appends, stage_batch=stage_batch)
    print(json.dumps(line), flush=True)
