"""`deconflict bench service` at a tiny size on SQLite: the JSON line has its fields and they make sense."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from deconflict.cli import app


def test_bench_service_tiny_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "bench.sqlite"
    result = CliRunner().invoke(app, ["bench", "service", "--n", "200", "--requests", "50", "--concurrency", "2",
                                      "--warmup", "5", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert len(lines) == 1
    line = lines[0]
    assert line["bench"] == "service"
    assert line["backend"] == "sqlite"
    assert (line["n"], line["requests"], line["concurrency"]) == (200, 50, 2)
    assert line["errors"] == 0
    assert 0 < line["p50_ms"] <= line["p99_ms"]
    assert line["ops_per_s"] > 0
    assert line["conflicts_per_create"] >= 0
    assert line["startup_s"] > 0 and line["seed_s"] > 0
    base = line["baseline"]
    assert "health" in base["method"]
    assert base["errors"] == 0 and 0 < base["p50_ms"] <= base["p99_ms"] and base["ops_per_s"] > 0
    assert line["ratio_p50"] > 0 and line["ratio_ops"] > 0
    assert isinstance(line["meets_target"], bool)
    assert db.exists()  # the store it seeded and served is the one named


def test_bench_service_refuses_an_existing_store(tmp_path: Path) -> None:
    db = tmp_path / "taken.sqlite"
    db.write_bytes(b"")
    result = CliRunner().invoke(app, ["bench", "service", "--n", "10", "--requests", "5", "--db", str(db)])
    assert result.exit_code != 0
    assert "exists" in str(result.exception)
    assert db.read_bytes() == b""
