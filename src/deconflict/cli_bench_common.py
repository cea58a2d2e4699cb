"""What the `deconflict bench` commands share: which stores a run measures, and its progress bars (on stderr, so
that stdout carries only the JSON lines)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = ["Backend", "progress_bars", "stores"]

ProgressFn = Callable[[str, int, int], None]


class Backend(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"
    BOTH = "both"


def stores(backend: Backend | None, db: str | None, pg_url: str | None,
           default_pg: str) -> tuple[list[str], str | None, str]:
    """The stores to measure (--backend, else the kind of --db), the SQLite file to seed (None: a temporary one)
    and the PostgreSQL URL (--pg-url, else --db when it is one, else `default_pg`)."""
    is_pg = db is not None and db.startswith(("postgresql://", "postgres://", "postgresql+psycopg://"))
    chosen = backend or (Backend.POSTGRESQL if is_pg else Backend.SQLITE)
    backends = ["sqlite", "postgresql"] if chosen is Backend.BOTH else [chosen.value]
    return backends, None if is_pg else db, pg_url or (db if is_pg else None) or default_pg


def progress_bars(labels: Mapping[str, str]) -> tuple[Progress, ProgressFn, Callable[[], None]]:
    """A transient rich Progress on stderr; the `progress(phase, done, total)` callback the benches call (one bar a
    phase, named by `labels`); and `reset()`, which clears the bars between stores."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    tasks: dict[str, int] = {}

    def progress(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(labels.get(phase, phase), total=total)
        bar.update(tasks[phase], completed=done, total=total)

    def reset() -> None:
        tasks.clear()
        for task in list(bar.task_ids):
            bar.remove_task(task)

    return bar, progress, reset
