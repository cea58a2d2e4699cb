"""`deconflict bench service`: checked creates per second and latency over HTTP (see deconflict.bench.service).

Kept apart from cli.py, which registers it; the benchmark itself is imported only when the command runs.
"""

from __future__ import annotations

import json

import typer

from .cli_bench_common import Backend, progress_bars, stores

__all__ = ["bench_service"]


def bench_service(
    declarations: int = typer.Option(100_000, "--n", "--declarations", min=0,
                                     help="Declarations the store holds when the service starts."),
    requests: int = typer.Option(2_000, min=1, help="Creates measured (and as many baseline requests)."),
    concurrency: int = typer.Option(4, min=1, help="Client threads, each with one keep-alive connection."),
    backend: Backend | None = typer.Option(
        None, help="Store(s) to measure; default: postgresql when --db is a postgresql:// URL, else sqlite."),
    db: str | None = typer.Option(
        None, help="A new SQLite file to seed (default: one in a temporary directory), or a postgresql:// URL "
        "(the bench creates and drops its own schema there)."),
    pg_url: str | None = typer.Option(
        None, help="PostgreSQL database for --backend postgresql/both (default: $DECONFLICT_BENCH_PG or "
        "postgresql://postgres@127.0.0.1:5432/test)."),
    warmup: int = typer.Option(50, min=0, help="Unmeasured requests of each kind first."),
    seed: int = typer.Option(1, help="Seed of the reference workload."),
    as_json: bool = typer.Option(True, "--json/--no-json", help="Print JSON lines (the only format)."),
) -> None:
    """Declarations created per second and p50/p99 over HTTP against a service holding N declarations, beside
    GET /v1/health on the same connections."""
    from .bench import service

    backends, sqlite_path, pg = stores(backend, db, pg_url, service.DEFAULT_PG_URL)
    bar, progress, reset = progress_bars({"seed": "seeding declarations", "load": "health, then creates"})

    with bar:
        for b in backends:
            reset()
            for line in service.run([b], declarations, requests, concurrency, seed, warmup, sqlite_path, pg,
                                    progress=progress):
                print(json.dumps(line), flush=True)
