"""`deconflict bench tactical`: screening tick time at N aircraft beside the dense N x N method
(deconflict.bench.tactical). Kept apart from cli.py, which registers it; the benchmark is imported when it runs."""

from __future__ import annotations

import json
from enum import StrEnum

import typer

__all__ = ["bench_tactical"]


class Workload(StrEnum):
    ENROUTE = "enroute"
    DRONE = "drone"
    BOTH = "both"


def bench_tactical(
    aircraft: list[int] = typer.Option([1_000, 4_000, 10_000, 100_000], "--aircraft", min=2,
                                       help="Aircraft screened (repeat the option for several sizes)."),
    workload: Workload = typer.Option(Workload.BOTH, help="Traffic: European-like en-route, drones, or both."),
    ticks: int = typer.Option(100, min=1, help="Ticks measured at each size (one second apart)."),
    baseline_max: int = typer.Option(4_000, min=0, help="Largest N the dense N x N baseline is run at."),
    baseline_ticks: int = typer.Option(3, min=1, help="Ticks measured for the dense baseline."),
    seed: int = typer.Option(1, help="Seed of the synthetic traffic."),
    as_json: bool = typer.Option(True, "--json/--no-json", help="Print JSON lines (the only format)."),
) -> None:
    """Screening tick (extrapolate + screen all pairs of different parties) p50/p99 per N and workload."""
    from .bench import tactical

    kinds = ["enroute", "drone"] if workload is Workload.BOTH else [workload.value]
    for line in tactical.run(sorted(aircraft), kinds, ticks, baseline_max, baseline_ticks, seed):
        print(json.dumps(line), flush=True)
