"""The demo scenario: read the bundled file into declarations, run them through the strategic engine."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from ..core.model import Activation, Declaration, DeclarationKind, SeparationMinima, Volume4D
from ..core.strategic import Conflict, StrategicEngine
from ..core.validation import validate_volume


@dataclass(frozen=True, slots=True)
class DemoResult:
    declarations: list[Declaration]
    conflicts: list[Conflict]
    activations: dict[str, list[tuple[datetime, datetime]]]


def _volume(item: dict[str, Any], now: datetime) -> Volume4D:
    start = now + timedelta(minutes=item["minutes"][0])
    end = now + timedelta(minutes=item["minutes"][1])
    lower, upper = item["altitude_m"]
    if "circle" in item:
        c = item["circle"]
        return Volume4D.circle(c["lat"], c["lng"], c["radius_m"], lower, upper, start, end)
    return Volume4D.polygon([tuple(p) for p in item["polygon"]], lower, upper, start, end)


def run_demo(now: datetime) -> DemoResult:
    """Declare the demo's volumes in order, as parties would, collecting each declaration's conflicts."""
    data = json.loads(resources.files(__package__).joinpath("demo.json").read_text())
    engine = StrategicEngine()
    for agreement in data["agreements"]:
        a, b = agreement["parties"]
        engine.set_minima(a, b, SeparationMinima(**agreement["minima"]))
    declarations, conflicts = [], []
    for item in data["declarations"]:
        volume = _volume(item, now)
        validate_volume(volume, now=now, field=f"declarations[{item['id']}].volumes[0]")
        decl = Declaration(id=item["id"], owner=item["owner"], kind=DeclarationKind(item["kind"]),
                           volumes=(volume,), activation=Activation(item.get("activation", "always")),
                           title=item.get("title", ""))
        declarations.append(decl)
        conflicts.extend(engine.upsert(decl).conflicts())
    hazards = [d.id for d in declarations if d.activation is Activation.INDUCED]
    return DemoResult(declarations, conflicts, {h: engine.activations(h) for h in hazards})
