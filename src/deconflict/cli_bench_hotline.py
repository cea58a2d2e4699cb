"""`deconflict bench hotline`: declaration request to the partners' WebSocket notification (deconflict.bench.hotline).

Kept apart from cli.py, which registers it; the benchmark itself is imported only when the command runs.
"""

from __future__ import annotations

import json

import typer

from .cli_bench_common import Backend, progress_bars, stores

__all__ = ["bench_hotline"]


def bench_hotline(
    parties: int = typer.Option(20, min=2, max=64, help="Parties in the one agreement, each with a WebSocket."),
    rate: float = typer.Option(200.0, min=0.1, help="Offered load: activity declarations per second."),
    declarations: int = typer.Option(2_000, min=1, help="Declarations measured (each notifies parties - 1)."),
    n: int = typer.Option(10_000, "--n", min=0, help="Declarations seeded in the store before the service starts."),
    concurrency: int = typer.Option(8, min=1, help="Sender threads, each with one keep-alive connection."),
    backend: Backend | None = typer.Option(
        None, help="Store(s) to measure; default: postgresql when --db is a postgresql:// URL, else sqlite."),
    db: str | None = typer.Option(
        None, help="A new SQLite file to seed (default: one in a temporary directory), or a postgresql:// URL "
        "(the bench creates and drops its own schema there)."),
    pg_url: str | None = typer.Option(
        None, help="PostgreSQL database for --backend postgresql/both (default: $DECONFLICT_BENCH_PG or "
        "postgresql://postgres@127.0.0.1:5432/test)."),
    warmup: int = typer.Option(20, min=0, help="Unmeasured declarations sent first, one at a time."),
    drain_s: float = typer.Option(30.0, min=0.0, help="How long to wait for late notifications after the load."),
    seed: int = typer.Option(1, help="Seed of the reference workload."),
    as_json: bool = typer.Option(True, "--json/--no-json", help="Print JSON lines (the only format)."),
) -> None:
    """Time from an activity declaration's HTTP request to each partner's WebSocket receiving its notification
    (p50/p99) at a paced rate, beside the HTTP create round trip of the same requests."""
    from .bench import hotline, service

    backends, sqlite_path, pg = stores(backend, db, pg_url, service.DEFAULT_PG_URL)
    bar, progress, reset = progress_bars({"seed": "seeding declarations", "send": "declarations sent",
                                          "receive": "notifications received"})

    with bar:
        for b in backends:
            reset()
            for line in hotline.run([b], parties, n, declarations, rate, concurrency, seed, warmup, drain_s,
                                    sqlite_path, pg, progress=progress):
                print(json.dumps(line), flush=True)
