"""The `deconflict` command line: parses flags and calls the library; errors print without a traceback."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Multi-party airspace de-confliction.")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks; each prints one JSON object per line.")
app.add_typer(bench_app, name="bench")
app.add_typer(__import__("deconflict.cli_scenario", fromlist=["scenario_app"]).scenario_app, name="scenario")


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeRemainingColumn(), console=_stderr_console(), transient=True)


def _stderr_console():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=True)


@bench_app.command("strategic")
def bench_strategic(
    volumes: int = typer.Option(1_000_000, min=1, help="Live volumes in the index."),
    queries: int = typer.Option(2_000, min=1, help="Inserts measured (each checked for conflicts)."),
    baseline_queries: int = typer.Option(200, min=1, help="Queries answered by the numpy baseline too."),
    seed: int = typer.Option(1, help="Seed of the reference workload."),
    as_json: bool = typer.Option(True, "--json/--no-json", help="Print JSON lines (the only format)."),
) -> None:
    """Insert + full conflict check against N volumes of the reference workload, beside a numpy scan."""
    from .bench import strategic

    with _progress() as bar:
        task = bar.add_task("insert + check", total=queries)
        for line in strategic.run(volumes, queries, min(baseline_queries, queries), seed,
                                  progress=lambda done, total: bar.update(task, completed=done)):
            print(json.dumps(line), flush=True)


bench_app.command("service")(__import__("deconflict.cli_bench_service", fromlist=["*"]).bench_service)


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8080, min=0, max=65535, help="TCP port."),
    db: str = typer.Option("deconflict.sqlite", help="SQLite file, or a postgresql:// URL."),
    admin_token_out: Path | None = typer.Option(
        None, help="On first start, write the admin token to this file (mode 600) instead of printing it."),
) -> None:
    """Run the service. On a new store an admin party is created and its token shown once."""
    from .service.server import build, serve_forever

    state, admin_token = build(db)
    if admin_token is not None:
        _hand_over_admin_token(admin_token, admin_token_out)
    serve_forever(state, host, port)


def _hand_over_admin_token(token: str, path: Path | None) -> None:
    if path is None:
        print(f"admin token (shown once): {token}", file=sys.stderr)
        return
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(token + "\n")
    print(f"admin token written to {path}", file=sys.stderr)


@app.command("demo")
def demo() -> None:
    """Run the demo scenario through the strategic engine and print what conflicts (the service comes next)."""
    from datetime import datetime

    from rich.console import Console
    from rich.table import Table

    from .scenarios.demo import run_demo

    now = datetime.now(UTC).replace(microsecond=0)
    result = run_demo(now)
    console = Console()
    declared = Table(title=f"Declarations (now {now:%Y-%m-%d %H:%M}Z)")
    for col in ("id", "owner", "kind", "title", "window (UTC)"):
        declared.add_column(col)
    for d in result.declarations:
        v = d.volumes[0]
        kind = d.kind.value + (" (induced)" if d.activation.value == "induced" else "")
        declared.add_row(d.id, d.owner, kind, d.title, _span(v.time_start.value, v.time_end.value))
    console.print(declared)
    table = Table(title="Conflicts found as each declaration was filed")
    for col in ("declaration", "conflicts with", "owner", "severity", "window (UTC)", "lateral m", "vertical m"):
        table.add_column(col)
    for c in result.conflicts:
        table.add_row(c.declaration_id, c.other_declaration_id, c.other_owner, c.severity.value,
                      _span(c.window_start, c.window_end), f"{c.lateral_distance_m:.0f}",
                      f"{c.vertical_gap_m:.0f}")
    console.print(table)
    for hazard, windows in result.activations.items():
        spans = ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in windows) or "never"
        console.print(f"Induced hazard [bold]{hazard}[/bold] is live: {spans}")


def _span(start: datetime, end: datetime) -> str:
    """HH:MM-HH:MM, with the day of the end when it is another day."""
    return f"{start:%H:%M}-{end:%H:%M}" + (f" ({end:%d %b})" if end.date() != start.date() else "")


def main() -> None:
    try:
        app()
    except Exception as exc:  # a CLI error is a message, never a traceback
        from .errors import DeconflictError

        if isinstance(exc, DeconflictError):
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        raise


if __name__ == "__main__":
    main()
