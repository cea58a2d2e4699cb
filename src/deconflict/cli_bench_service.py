"""`deconflict bench service`: checked creates per second and latency over HTTP (see deconflict.bench.service).

Kept apart from cli.py, which registers it; the benchmark itself is imported only when the command runs.
"""

from __future__ import annotations

import json
from enum import StrEnum

import typer

__all__ = ["bench_service"]


class Backend(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"
    BOTH = "both"


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
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from .bench import service

    is_pg = db is not None and db.startswith(("postgresql://", "postgres://", "postgresql+psycopg://"))
    chosen = backend or (Backend.POSTGRESQL if is_pg else Backend.SQLITE)
    backends = ["sqlite", "postgresql"] if chosen is Backend.BOTH else [chosen.value]
    sqlite_path = None if is_pg else db
    pg = pg_url or (db if is_pg else None) or service.DEFAULT_PG_URL

    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    tasks: dict[str, int] = {}

    def progress(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            label = {"seed": "seeding declarations", "load": "health, then creates"}.get(phase, phase)
            tasks[phase] = bar.add_task(label, total=total)
        bar.update(tasks[phase], completed=done, total=total)

    with bar:
        for b in backends:
            tasks.clear()
            for task in list(bar.task_ids):
                bar.remove_task(task)
            for line in service.run([b], declarations, requests, concurrency, seed, warmup, sqlite_path, pg,
                                    progress=progress):
                print(json.dumps(line), flush=True)
