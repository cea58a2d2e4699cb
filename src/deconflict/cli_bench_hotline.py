"""`deconflict bench hotline`: declaration request to the partners' WebSocket notification (deconflict.bench.hotline).

Kept apart from cli.py, which registers it; the benchmark itself is imported only when the command runs.
"""

from __future__ import annotations

import json

import typer

from .cli_bench_service import Backend

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
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from .bench import hotline, service

    is_pg = db is not None and db.startswith(("postgresql://", "postgres://", "postgresql+psycopg://"))
    chosen = backend or (Backend.POSTGRESQL if is_pg else Backend.SQLITE)
    backends = ["sqlite", "postgresql"] if chosen is Backend.BOTH else [chosen.value]
    sqlite_path = None if is_pg else db
    pg = pg_url or (db if is_pg else None) or service.DEFAULT_PG_URL

    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    tasks: dict[str, int] = {}
    labels = {"seed": "seeding declarations", "send": "declarations sent", "receive": "notifications received"}

    def progress(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(labels.get(phase, phase), total=total)
        bar.update(tasks[phase], completed=done, total=total)

    with bar:
        for b in backends:
            tasks.clear()
            for task in list(bar.task_ids):
                bar.remove_task(task)
            for line in hotline.run([b], parties, n, declarations, rate, concurrency, seed, warmup, drain_s,
                                    sqlite_path, pg, progress=progress):
                print(json.dumps(line), flush=True)
