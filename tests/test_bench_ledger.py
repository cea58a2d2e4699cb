"""`deconflict bench ledger` at tiny sizes: the JSON line has its fields (timing is not asserted: shared machines)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from deconflict.cli import app


def test_bench_ledger_tiny() -> None:
    result = CliRunner().invoke(app, ["bench", "ledger", "--entries", "5000", "--proofs", "50",
                                      "--bundle-entries", "300", "--appends", "500", "--baseline-sample", "100",
                                      "--sqlite-appends", "2500", "--stage-batch", "400",
                                      "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert len(lines) == 1
    line = lines[0]
    assert (line["bench"], line["entries"]) == ("ledger", 5000)
    assert line["sha256"]["hashes_per_s"] > 0 and line["sha256"]["bulk_mb_per_s"] > 0
    append = line["append"]
    assert append["appends"] == 500 and append["in_memory_per_s"] > 0 and append["with_encoding_per_s"] > 0
    sqlite = line["sqlite"]  # every staged entry was sequenced (the bench asserts it), in batches of 400
    assert (sqlite["entries"], sqlite["stage_batch"]) == (2500, 400)
    assert min(sqlite["stage_per_s"], sqlite["sequence_per_s"], sqlite["sqlite_batched_per_s"]) > 0
    assert isinstance(sqlite["meets_target"], bool)
    assert line["build"]["leaves_per_s"] > 0 and line["build"]["memory_mb"] > 0
    for key in ("inclusion_proof", "consistency_proof"):
        assert line[key]["samples"] == 50
        assert 0 < line[key]["p50_ms"] <= line[key]["p99_ms"]
        assert line[key]["check_p50_ms"] > 0
    assert isinstance(line["inclusion_proof"]["meets_target"], bool)
    assert line["baseline"]["root_from_all_leaves_s"] >= 0 and "root" in line["baseline"]["method"]
    bundle = line["bundle"]
    assert bundle["entries"] == 300 and bundle["heads"] == 3 and bundle["verify_s"] > 0
    assert isinstance(bundle["meets_target"], bool) and bundle["baseline"]["full_check_s"] > 0
