"""The `deconflict` command line: parses flags and calls the library; errors print without a traceback."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from . import cli_f3548 as _f3548
from .errors import DeconflictError, InvalidInput

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Multi-party airspace de-confliction.")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks; each prints one JSON object per line.")
app.add_typer(bench_app, name="bench")
app.add_typer(__import__("deconflict.cli_scenario", fromlist=["scenario_app"]).scenario_app, name="scenario")
app.command("watch")(__import__("deconflict.cli_liaison", fromlist=["watch"]).watch)
app.command("send")(__import__("deconflict.cli_liaison", fromlist=["send"]).send)
app.command("replay-tracks")(__import__("deconflict.feeds.cli", fromlist=["*"]).replay_tracks)
app.command("feed")(__import__("deconflict.feeds.cli", fromlist=["*"]).feed)
app.command("export")(__import__("deconflict.cli_ledger", fromlist=["*"]).export)
app.command("verify")(__import__("deconflict.cli_ledger", fromlist=["*"]).verify)
app.command("report")(__import__("deconflict.cli_report", fromlist=["*"]).report)
app.add_typer(__import__("deconflict.cli_ledger", fromlist=["*"]).ledger_app, name="ledger")


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
bench_app.command("hotline")(__import__("deconflict.cli_bench_hotline", fromlist=["*"]).bench_hotline)
bench_app.command("tactical")(__import__("deconflict.cli_bench_tactical", fromlist=["*"]).bench_tactical)
bench_app.command("feeds")(__import__("deconflict.cli_bench_feeds", fromlist=["*"]).bench_feeds)
bench_app.command("ledger")(__import__("deconflict.cli_bench_ledger", fromlist=["*"]).bench_ledger)
bench_app.command("f3548")(__import__("deconflict.cli_bench_f3548", fromlist=["*"]).bench_f3548)


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8080, min=0, max=65535, help="TCP port."),
    db: str = typer.Option("deconflict.sqlite", help="SQLite file, or a postgresql:// URL."),
    admin_token_out: Path | None = typer.Option(
        None, help="On first start, write the admin token to this file (mode 600) instead of printing it."),
    f3548_public_key: list[Path] | None = _f3548.PUBLIC_KEYS, f3548_audience: list[str] | None = _f3548.AUDIENCES,
    f3548_allow_http: bool = _f3548.ALLOW_HTTP,
) -> None:
    """Run the service. On a new store an admin party is created and its token shown once."""
    from .service.server import build, serve_forever

    f3548 = _f3548.f3548_config(f3548_public_key, f3548_audience, f3548_allow_http)
    state, admin_token = build(db)
    if admin_token is not None:
        _hand_over_admin_token(admin_token, admin_token_out)
    serve_forever(state, host, port, f3548=f3548)


def _hand_over_admin_token(token: str, path: Path | None) -> None:
    if path is None:
        print(f"admin token (shown once): {token}", file=sys.stderr)
        return
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(token + "\n")
    print(f"admin token written to {path}", file=sys.stderr)


@app.command("demo")
def demo(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8080, min=0, max=65535, help="TCP port (0: any free one)."),
    db: str | None = typer.Option(None, help="A fresh SQLite file or postgresql:// URL (default: a new temp file)."),
    tokens_out: Path | None = typer.Option(None, help="Write {party name: token} as JSON to this file (mode 600)."),
    speed: float = typer.Option(30.0, min=0.001, help="How fast to play the demo drill's timed events."),
) -> None:
    """The main job: start the service on a fresh store, play the demo drill, print the URL and the tokens."""
    import tempfile
    import threading

    from rich.console import Console

    from .cli_scenario import _summary, _tokens
    from .client import Client
    from .scenarios.runner import bundled_scenario, load_scenario, run_scenario
    from .service.server import start_in_thread

    if db is None:
        db = str(Path(tempfile.mkdtemp(prefix="deconflict-demo-")) / "demo.sqlite")
    elif "://" not in db and Path(db).exists():
        raise InvalidInput(f"{db} exists; the demo needs a fresh store", field="--db")
    console = Console()
    service = start_in_thread(db, host=host, port=port)
    try:
        if service.admin_token is None:
            raise InvalidInput("the store already has parties; the demo needs a fresh one", field="--db")
        scenario_path = bundled_scenario("demo")
        assert scenario_path is not None
        now = datetime.now(UTC).replace(microsecond=0)
        with Client(service.url, service.admin_token, timeout=60.0) as admin, \
                console.status("playing the demo drill"):
            result = run_scenario(load_scenario(scenario_path), admin, now=now, speed=speed)
        tokens = {"admin": service.admin_token, **result.tokens}
        console.print(_summary(result))
        if tokens_out is not None:
            tokens_out.touch(mode=0o600, exist_ok=True)
            tokens_out.write_text(json.dumps(tokens, indent=2) + "\n")
            console.print(f"tokens written to {tokens_out}")
        else:
            console.print(_tokens(result))
            console.print(f"admin token: {service.admin_token}")
        console.print(f"store: {db}")
        console.print(f"[bold]Deconflict is running at {service.url}[/bold] (operations picture: {service.url}/ui/, "
                      f"log in with a token above; API docs: {service.url}/docs). Ctrl-C stops it.")
        threading.Event().wait()
    except KeyboardInterrupt:
        console.print("stopped")
    finally:
        service.stop()


def main() -> None:
    try:
        app()
    except Exception as exc:  # a CLI error is a message, never a traceback

        if isinstance(exc, DeconflictError):
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        raise


if __name__ == "__main__":
    main()
