"""Compile the engine's kernels before a service takes requests.

numba compiles each kernel on first use (and caches it on disk); on a fresh machine that first use can take
tens of seconds, which a first declaration must not wait for. `warm_up` exercises every kernel once on a
throwaway engine.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..footprint import FootprintBatch
from ..model import Activation, Declaration, DeclarationKind, SeparationMinima, Volume4D
from .engine import StrategicEngine

__all__ = ["warm_up"]


def warm_up() -> None:
    """Insert, check, query, cancel and expire circles and polygons once (pure; takes no input, keeps nothing)."""
    t = datetime(2000, 1, 1, tzinfo=UTC)
    hour = timedelta(hours=1)
    engine = StrategicEngine(default_minima=SeparationMinima(100.0, 10.0, 10.0))
    circle = Volume4D.circle(35.0, 36.0, 1000.0, 0.0, 100.0, t, t + hour)
    polygon = Volume4D.polygon([(35.0, 36.0), (35.01, 36.0), (35.01, 36.01)], 0.0, 100.0, t, t + hour)
    engine.upsert(Declaration("warm-a", "p", DeclarationKind.FLIGHT, (circle,)))
    engine.upsert(Declaration("warm-b", "q", DeclarationKind.ACTIVITY, (polygon,))).conflicts()
    engine.upsert(Declaration("warm-c", "r", DeclarationKind.HAZARD, (circle, polygon),
                              activation=Activation.INDUCED))
    engine.intersecting(FootprintBatch.of([polygon]))
    engine.activations("warm-c")
    engine.cancel("warm-a")
    engine.expire(t + 2 * hour)
