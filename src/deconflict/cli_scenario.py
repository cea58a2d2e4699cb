"""`deconflict scenario run FILE`: play a drill against a running service, with a progress bar and a summary.

The heavy imports (client, runner) wait until a command runs, so the rest of the CLI starts fast.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .cli_liaison import read_token_file

if TYPE_CHECKING:
    from .scenarios.runner import EventOutcome, ScenarioResult

__all__ = ["scenario_app"]

scenario_app = typer.Typer(no_args_is_help=True, help="Timed drills written in YAML (see docs/scenarios.md).")

DEFAULT_URL = "http://127.0.0.1:8080"


@scenario_app.command("run")
def run(
    file: str = typer.Argument(..., help="A scenario YAML file, or the name of a bundled one ('demo')."),
    url: str = typer.Option(DEFAULT_URL, envvar="DECONFLICT_URL", help="The service's base URL."),
    token: str | None = typer.Option(None, envvar="DECONFLICT_TOKEN", show_default=False,
                                     help="The admin token (or set DECONFLICT_TOKEN)."),
    token_file: Path | None = typer.Option(None, help="Read the admin token from this file instead."),
    speed: float = typer.Option(1.0, min=0.001, help="Play faster (10: ten times) or slower (0.5)."),
    tokens_out: Path | None = typer.Option(
        None, help="Write the new parties' tokens to this JSON file (mode 600) instead of printing them."),
) -> None:
    """Create the scenario's parties and agreements, play its events in time, and summarise what happened."""
    from .client import Client
    from .errors import DeconflictError
    from .scenarios.runner import bundled_scenario, load_scenario, run_scenario

    admin_token = _admin_token(token, token_file)
    err = Console(stderr=True)
    try:
        path = Path(file)
        if not path.exists():
            path = bundled_scenario(file) or path
        scenario = load_scenario(path)
        now = datetime.now(UTC).replace(microsecond=0)
        with Client(url, admin_token) as admin, Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=err, transient=True) as bar:
            task = bar.add_task(f"playing {path.name}", total=len(scenario.events))

            def advance(done: int, total: int, outcome: EventOutcome) -> None:
                bar.update(task, completed=done,
                           description=f"events[{outcome.index}] {outcome.event} {outcome.ref}: {outcome.status}")

            result = run_scenario(scenario, admin, now=now, speed=speed, progress=advance)
    except DeconflictError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    out = Console()
    out.print(_summary(result))
    if tokens_out is not None:
        tokens_out.touch(mode=0o600, exist_ok=True)
        tokens_out.write_text(json.dumps(result.tokens, indent=2) + "\n")
        out.print(f"tokens of {len(result.tokens)} parties written to {tokens_out}")
    else:
        out.print(_tokens(result))
    failed = result.by_status("failed")
    if failed:
        err.print(f"[red]{len(failed)} event(s) failed[/red]: " + escape("; ".join(
            f"events[{o.index}]: {o.message}" for o in failed)), highlight=False)
        raise typer.Exit(1)


def _admin_token(token: str | None, token_file: Path | None) -> str:
    if token_file is not None:
        if token is not None and "DECONFLICT_TOKEN" not in os.environ:
            raise typer.BadParameter("give --token or --token-file, not both", param_hint="--token-file")
        return read_token_file(token_file)
    if not token:
        raise typer.BadParameter("an admin token is needed: --token, --token-file or DECONFLICT_TOKEN",
                                 param_hint="--token")
    return token


def _summary(result: ScenarioResult) -> Table:
    names = {decl_id: ref for ref, decl_id in result.refs.items()}
    table = Table(title=f"Scenario played (start {result.started_at:%Y-%m-%d %H:%M:%S}Z)")
    for col in ("#", "at s", "event", "party", "ref", "outcome", "conflicts"):
        table.add_column(col, justify="right" if col in ("#", "at s") else "left")
    colour = {"blocked": "red", "failed": "red", "skipped": "yellow"}
    for o in result.outcomes:
        found = [f"{names.get(c['other']['declaration_id'], c['other']['declaration_id'][:8])} "
                 f"({c['other']['party']}, {c['severity']}, {c['policy']})" for c in o.conflicts]
        status = o.status if o.status not in colour else f"[{colour[o.status]}]{o.status}[/{colour[o.status]}]"
        note = escape("\n".join(found + ([o.message] if o.message and o.status != "blocked" else [])))
        table.add_row(str(o.index), f"{o.at:g}", o.event, o.party, escape(o.ref), status, note)
    return table


def _tokens(result: ScenarioResult) -> Table:
    table = Table(title="Tokens of the new parties (shown once; keep them)")
    table.add_column("party")
    table.add_column("token", no_wrap=True)
    for name, tok in result.tokens.items():
        table.add_row(name, tok)
    return table
