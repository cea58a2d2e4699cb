"""The command line as a user runs it: the demo's conflicts and the benchmark's JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from typer.testing import CliRunner

from deconflict.cli import app

from .service_helpers import running_demo

runner = CliRunner()


def test_demo_serves_the_drill_and_hands_out_tokens(tmp_path: Path) -> None:
    """`deconflict demo` as a user runs it: a real process, then the printed URL and tokens used over HTTP."""
    with running_demo(tmp_path) as (url, tokens, output, tokens_file):
        assert "blocked" in output  # the drone operator's reconnaissance flight, refused under `block`
        assert {"admin", "coalition-air", "relief-ngo", "drone-ops", "air-defence", "civil-authority"} <= set(tokens)
        assert tokens_file.stat().st_mode & 0o077 == 0
        ngo = {"Authorization": f"Bearer {tokens['relief-ngo']}"}
        conflicts = httpx.get(url + "/v1/conflicts", params={"state": "all"}, headers=ngo).json()["conflicts"]
        seen = {(c["state"], c["severity"], c["declaration"]["kind"], c["other"]["party"]) for c in conflicts}
        # the medevac corridor overlapped the strike until it moved west; the field hospital stays too close
        assert ("superseded", "overlap", "flight", "coalition-air") in seen
        assert ("open", "proximity", "protected", "coalition-air") in seen
        kinds = {d["kind"] for d in httpx.get(url + "/v1/declarations",
                                              headers={"Authorization": f"Bearer {tokens['admin']}"}).json()[
            "declarations"]}
        assert kinds == {"flight", "activity", "hazard", "protected", "restriction"}


def test_demo_refuses_a_store_that_is_not_fresh(tmp_path: Path) -> None:
    used = tmp_path / "used.sqlite"
    used.write_bytes(b"")
    out = runner.invoke(app, ["demo", "--db", str(used), "--port", "0"])
    assert out.exit_code != 0
    assert "fresh" in str(out.exception or out.output)


def test_bench_strategic_prints_json_lines_beside_the_baseline() -> None:
    out = runner.invoke(app, ["bench", "strategic", "--volumes", "2000", "--queries", "50", "--json"])
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    load, check = lines
    assert load["op"] == "load" and load["n"] == 2000
    for key in ("bench", "n", "p50_ms", "p99_ms", "ops_per_s", "cpu_p50_ms", "cpu_ops_per_s", "speedup"):
        assert key in check
    assert set(check["baseline"]) >= {"p50_ms", "p99_ms", "ops_per_s"}
    assert check["agree_with_baseline"] is True


def test_bench_rejects_bad_arguments_without_a_traceback() -> None:
    out = runner.invoke(app, ["bench", "strategic", "--volumes", "0"])
    assert out.exit_code == 2 and "Traceback" not in out.output
