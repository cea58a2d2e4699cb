"""`deconflict bench tactical` at tiny sizes: the JSON lines have their fields and the dense baseline agrees
(timing is not asserted: these machines are shared)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from deconflict.cli import app


def test_bench_tactical_tiny() -> None:
    result = CliRunner().invoke(app, ["bench", "tactical", "--aircraft", "200", "--aircraft", "50", "--ticks", "3",
                                      "--baseline-ticks", "1", "--baseline-max", "100", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert [(x["workload"], x["n"]) for x in lines] == [("enroute", 50), ("enroute", 200), ("drone", 50),
                                                         ("drone", 200)]
    for line in lines:
        assert line["bench"] == "tactical" and line["ticks"] == 3
        assert 0 < line["p50_ms"] <= line["p99_ms"]
        assert line["candidates_per_aircraft"] >= 0 and line["conflict_pairs_per_tick"] >= 0
        assert line["lookahead_s"] > 0 and line["density_per_km2"] > 0
        if line["n"] == 50:
            base = line["baseline"]
            assert base["agree"] is True and 0 < base["p50_ms"] <= base["p99_ms"] and line["speedup_p50"] > 0
        else:
            assert line["baseline"] is None
