"""Replay of the recordings (deconflict.feeds.replay) and `deconflict replay-tracks`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from deconflict.cli import app
from deconflict.core.tactical.tracks import DEFAULT_TRACK_LIMITS, TrackBatch, TrackTable
from deconflict.errors import InvalidInput
from deconflict.feeds.replay import open_recording, paced, read_state_vectors, ticks

from .shared_data import DATA

PARIS = DATA / "tracks" / "paris_2021-10-07.json.gz"
BEAST = DATA / "adsb" / "sample_dump1090.bin"
FLIGHT = DATA / "adsb" / "full_flight_short.jsonl"
CDG = (49.0097, 2.5479)


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path.name} is not at {path} (../shared/data is absent)")
    return path


def batch_at(times: list[float]) -> TrackBatch:
    n = len(times)
    return TrackBatch.of(t_s=times, lat_deg=[48.0] * n, lng_deg=[2.0] * n, alt_m=[1000.0] * n,
                         gs_mps=[100.0] * n, track_deg=[0.0] * n, icao24=["abcdef"] * n)


def test_ticks_cut_recording_time_into_windows() -> None:
    got = list(ticks(batch_at([10.0, 10.2, 10.99, 11.0, 13.5, 13.6]), tick_s=1.0))
    assert [(t, list(b.t_s)) for t, b in got] == [(11.0, [10.0, 10.2, 10.99]), (12.0, [11.0]),
                                                  (14.0, [13.5, 13.6])]
    assert list(ticks(batch_at([]))) == []
    with pytest.raises(InvalidInput):
        list(ticks(batch_at([1.0]), tick_s=0.0))


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def test_paced_at_ten_times_real_time() -> None:
    fake = FakeClock()
    windows = list(ticks(batch_at([0.0, 1.0, 2.0, 12.0]), 1.0))
    out = [t for t, _ in paced(windows, speed=10.0, clock=fake.clock, sleep=fake.sleep)]
    assert out == [1.0, 2.0, 3.0, 13.0]
    assert fake.sleeps == pytest.approx([0.1, 0.1, 1.0])
    assert fake.now == pytest.approx(501.2)


def test_paced_does_not_wait_when_behind_or_unpaced() -> None:
    fake = FakeClock()
    windows = list(ticks(batch_at([0.0, 1.0, 2.0]), 1.0))

    def slow_clock() -> float:
        fake.now += 5.0  # the consumer takes 5 s per window: always late
        return fake.now

    assert len(list(paced(windows, speed=1.0, clock=slow_clock, sleep=fake.sleep))) == 3
    assert fake.sleeps == []
    assert len(list(paced(windows, speed=0.0, clock=fake.clock, sleep=fake.sleep))) == 3
    assert fake.sleeps == []


def test_unknown_format_and_malformed_state_vectors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown recording format"):
        open_recording(tmp_path / "x.csv")
    p = tmp_path / "bad.json"
    p.write_text(json.dumps([
        {"icao24": "abc123", "timestamp": 2000, "latitude": 48.0, "longitude": 2.0, "altitude": 1000,
         "groundspeed": 200, "track": 90, "vertical_rate": None, "callsign": None, "onground": False},
        {"icao24": "abc123", "timestamp": 1000, "latitude": None, "longitude": 2.0, "altitude": 1000,
         "groundspeed": 200, "track": 90, "vertical_rate": 0},
        {"timestamp": 3000}, "nonsense", {"icao24": "abc123", "timestamp": "soon"},
    ]))
    rec = read_state_vectors(p)
    assert rec.stats.as_dict() == {"records": 5, "malformed": 3, "reports": 2}
    assert list(rec.batch.t_s) == [1.0, 2.0]
    assert TrackTable().ingest(rec.batch).counts == {"accepted": 1, "position": 1}
    p.write_text("{}")
    with pytest.raises(InvalidInput):
        read_state_vectors(p)


def test_paris_recording_counts_and_bounds() -> None:
    rec = open_recording(need(PARIS))
    assert rec.source == "state-vectors" and rec.stats.as_dict() == {"records": 284_505, "reports": 284_505}
    b = rec.batch
    assert (np.diff(b.t_s) >= 0).all() and len(set(b.icao24)) == 213
    table = TrackTable()
    n = sum(1 for _, w in ticks(b, 1.0) if table.ingest(w))
    assert n > 10_000  # three hours of one-second windows, minus the silent ones
    assert table.stats == {"accepted": 229_463, "altitude": 50_670, "velocity": 4_307, "teleport": 65}
    # the 123,100 ft altitudes are among the refused; what is accepted is in the Paris region and plausible
    assert np.nanmax(b.alt_m) == pytest.approx(123_100 * 0.3048)
    live = table.snapshot(float(b.t_s[-1]), max_age_s=1e9)
    assert (len(live), len(table)) == (210, 213)  # 3 aircraft never sent an acceptable report
    assert ((live.lat_deg > 47.5) & (live.lat_deg < 50.5) & (live.lng_deg > 0.5) & (live.lng_deg < 4.5)).all()
    assert (live.alt_m <= DEFAULT_TRACK_LIMITS.max_altitude_m).all()


def test_hex_frames_recording() -> None:
    rec = open_recording(need(FLIGHT), reference=CDG)
    assert rec.source == "hex-frames"
    assert rec.stats.as_dict() == {"messages": 57_793, "not_adsb": 42_220, "no_velocity": 1, "reports": 6_456,
                                   "surface": 1_867}
    b = rec.batch
    # from CDG towards Toulouse
    assert b.lat_deg.max() == pytest.approx(49.0, abs=0.01) and b.lat_deg.min() > 43.4
    assert ((b.lng_deg > 1.3) & (b.lng_deg < 2.6)).all()
    assert TrackTable().ingest(b).counts == {"accepted": 6_415, "duplicate": 41}


def test_beast_recording_with_its_epoch() -> None:
    rec = open_recording(need(BEAST), epoch_s=1_600_000_000.0)
    assert rec.source == "beast" and len(rec.batch) == 3
    assert rec.stats["frames"] == 239 and rec.stats["reports"] == 3
    assert (rec.batch.t_s > 1_600_000_000.0).all() and (rec.batch.t_s < 1_600_000_060.0).all()


def test_cli_replay_tracks_prints_statistics() -> None:
    result = CliRunner().invoke(app, ["replay-tracks", str(need(BEAST)), "--speed", "0", "--progress"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["reports"] for line in lines[:-1]] == [1, 1, 1]
    assert lines[-1]["source"] == "beast" and lines[-1]["ticks"] == 3 and lines[-1]["aircraft"] == 1
    assert lines[-1]["parser"]["frames"] == 239 and lines[-1]["tracks"] == {"accepted": 3}


def test_cli_replay_tracks_refuses_an_unknown_format(tmp_path: Path) -> None:
    p = tmp_path / "tracks.csv"
    p.write_text("a,b\n")
    result = CliRunner().invoke(app, ["replay-tracks", str(p), "--speed", "0"])
    assert result.exit_code != 0
