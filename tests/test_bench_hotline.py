"""`deconflict bench hotline` at a tiny size on SQLite: the JSON line has its fields and nothing goes missing
(timing is not asserted: these machines are shared)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from deconflict.cli import app


def test_bench_hotline_tiny_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "hotline.sqlite"
    result = CliRunner().invoke(app, ["bench", "hotline", "--parties", "3", "--rate", "10", "--declarations", "20",
                                      "--n", "50", "--concurrency", "2", "--warmup", "2", "--drain-s", "15",
                                      "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert len(lines) == 1
    line = lines[0]
    assert (line["bench"], line["backend"]) == ("hotline", "sqlite")
    assert (line["parties"], line["declarations"], line["n"]) == (3, 20, 50)
    assert line["rate_per_s"]["offered"] == 10.0 and line["rate_per_s"]["achieved"] > 0
    assert line["errors"] == 0
    assert line["notifications"] == 20 * 2  # an activity is announced to each of the other two parties
    assert line["missing"] == 0 and line["received"] == line["notifications"]
    assert 0 < line["p50_ms"] <= line["p99_ms"]
    base = line["baseline"]
    assert "201" in base["method"] and 0 < base["p50_ms"] <= base["p99_ms"]
    assert base["stream_poll_interval_ms"] > 0
    assert line["ratio_p50"] > 0
    assert isinstance(line["meets_target"], bool) and line["meets_target"] is False  # 3 parties at 10/s
    assert db.exists()
