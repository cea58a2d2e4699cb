"""`deconflict bench f3548`: F3548 intent writes per second in one busy 1 km^2 area (deconflict.bench.f3548).

Kept apart from cli.py, which registers it; the benchmark itself is imported only when the command runs.
"""

from __future__ import annotations

import json

import typer

__all__ = ["bench_f3548"]


def bench_f3548(
    writes: int = typer.Option(1_000, min=1, help="Successful intent writes measured (and as many declarations)."),
    concurrency: int = typer.Option(8, min=1, help="Client threads, each one USS with one keep-alive connection."),
    backend: list[str] = typer.Option(["sqlite", "postgresql"], help="sqlite and/or postgresql (repeatable)."),
    pg_url: str | None = typer.Option(
        None, help="PostgreSQL database (default: $DECONFLICT_BENCH_PG or postgresql://postgres@127.0.0.1:5432/test);"
        " the bench creates and drops its own schema there."),
    seed: int = typer.Option(1, help="Seed of the positions, bands and slots."),
    as_json: bool = typer.Option(True, "--json/--no-json", help="Print JSON lines (the only format)."),
) -> None:
    """Operational intent creates/updates per second and p50/p99 in one 1 km^2 area, with correct keys, beside
    declaration creates on the same service and area."""
    from .bench import f3548
    from .errors import InvalidInput

    for b in backend:
        if b not in ("sqlite", "postgresql"):
            raise InvalidInput(f"unknown backend {b!r} (sqlite or postgresql)", field="--backend")
    for line in f3548.run(list(dict.fromkeys(backend)), writes, concurrency, seed, pg_url):
        print(json.dumps(line), flush=True)
