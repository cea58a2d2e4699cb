"""`deconflict bench f3548` at a tiny size: every write succeeds with correct keys, beside the baseline."""

from __future__ import annotations

from deconflict.bench import f3548


def test_bench_f3548_small_sqlite() -> None:
    (line,) = f3548.run(["sqlite"], writes=24, concurrency=3, seed=2)
    intents = line["intent_writes"]
    assert line["backend"] == "sqlite" and line["area_km2"] == 1.0
    assert intents["ok"] == 24 and intents["creates"] + intents["updates"] == 24 and intents["updates"] > 0
    assert intents["other_errors"] == 0 and intents["gave_up"] == 0
    assert line["declaration_creates_baseline"]["ok"] == 24 and line["declaration_creates_baseline"]["errors"] == 0
    assert intents["per_s"] > 0 and intents["p99_ms"] >= intents["p50_ms"] > 0
    assert line["target_writes_per_s"] is None and line["meets_target"] is None
