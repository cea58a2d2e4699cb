"""The command line as a user runs it: the demo's conflicts and the benchmark's JSON lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from typer.testing import CliRunner

from deconflict.cli import app
from deconflict.scenarios.demo import run_demo

runner = CliRunner()


def test_demo_scenario_finds_the_expected_conflicts() -> None:
    result = run_demo(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))
    pairs = {(c.declaration_id, c.other_declaration_id, c.severity.value) for c in result.conflicts}
    assert ("medevac-route", "strike-north", "overlap") in pairs
    assert ("field-hospital", "strike-north", "proximity") in pairs
    assert ("nfz-city", "survey-drone", "overlap") in pairs
    # the induced air-defence zone wakes up exactly while the strike is on
    (window,) = result.activations["sam-site"]
    strike = next(d for d in result.declarations if d.id == "strike-north").volumes[0]
    assert window == (strike.time_start.value, strike.time_end.value)


def test_demo_command_prints_the_conflicts() -> None:
    out = runner.invoke(app, ["demo"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "medevac-route" in out.output and "overlap" in out.output and "sam-site" in out.output


def test_bench_strategic_prints_json_lines_beside_the_baseline() -> None:
    out = runner.invoke(app, ["bench", "strategic", "--volumes", "2000", "--queries", "50", "--json"])
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    load, check = lines
    assert load["op"] == "load" and load["n"] == 2000
    for key in ("bench", "n", "p50_ms", "p99_ms", "ops_per_s", "speedup"):
        assert key in check
    assert set(check["baseline"]) >= {"p50_ms", "p99_ms", "ops_per_s"}
    assert check["agree_with_baseline"] is True


def test_bench_rejects_bad_arguments_without_a_traceback() -> None:
    out = runner.invoke(app, ["bench", "strategic", "--volumes", "0"])
    assert out.exit_code == 2 and "Traceback" not in out.output
