"""`deconflict bench feeds` at a tiny size: the JSON lines have their fields, the decoders' report counts are
what the inputs hold (timing is not asserted: these machines are shared)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from deconflict.cli import app

from .shared_data import DATA


def test_bench_feeds_tiny() -> None:
    frames = DATA / "adsb" / "full_flight_short.jsonl"
    result = CliRunner().invoke(app, ["bench", "feeds", "--aircraft", "20", "--seconds", "3", "--frames", "3000",
                                      "--repeat", "1", "--frames-file", str(frames), "--json"])
    assert result.exit_code == 0, result.output
    sbs1, beast = (json.loads(x) for x in result.stdout.splitlines() if x.startswith("{"))
    # 20 identifications, then per second a velocity and a position per aircraft; each position is a report
    assert (sbs1["format"], sbs1["messages"], sbs1["reports"]) == ("sbs1", 20 + 3 * 40, 60)
    assert sbs1["rules"] == {"accepted": 60}
    assert sbs1["msgs_per_s"] > 0 and sbs1["baseline"]["msgs_per_s"] > 0 and sbs1["ratio_to_baseline"] > 0
    if frames.exists():
        assert beast["format"] == "beast" and beast["messages"] == 3000 and beast["reports"] > 0
        assert sum(beast["rules"].values()) == beast["reports"] and beast["msgs_per_s"] > 0
    else:
        assert "skipped" in beast


def test_bench_feeds_without_frames_says_so() -> None:
    result = CliRunner().invoke(app, ["bench", "feeds", "--aircraft", "5", "--seconds", "1", "--repeat", "1",
                                      "--frames-file", "/nonexistent/frames.jsonl"])
    assert result.exit_code == 0, result.output
    assert "no hex-frame recording" in json.loads(result.stdout.splitlines()[-1])["skipped"]
