"""SBS-1 / BaseStation lines (deconflict.feeds.sbs1): framing across reads, validation, per-aircraft state, and
the Paris recording carried through SBS-1 lines."""

from __future__ import annotations

import gzip
import json
import math

import pytest

from deconflict.core.tactical.cpa import FPM, FT, KT
from deconflict.core.tactical.tracks import TrackTable
from deconflict.feeds.sbs1 import LineFramer, Sbs1Decoder, format_sbs1

from .shared_data import DATA

PARIS = DATA / "tracks" / "paris_2021-10-07.json.gz"

# dump1090 port 30003 lines, field for field
ID = "MSG,1,1,1,4CA2D6,1,2021/10/07,12:00:00.000,2021/10/07,12:00:00.010,RYR8EN  ,,,,,,,,0,0,0,0"
VEL = "MSG,4,1,1,4CA2D6,1,2021/10/07,12:00:00.500,2021/10/07,12:00:00.510,,,452,87.2,,,-1280,,0,0,0,0"
POS = "MSG,3,1,1,4CA2D6,1,2021/10/07,12:00:01.250,2021/10/07,12:00:01.260,,36000,,,48.85341,2.34880,,,0,0,0,0"
ALT = "MSG,5,1,1,4CA2D6,1,2021/10/07,12:00:01.500,2021/10/07,12:00:01.510,,35975,,,,,,,0,0,0,0"
POS2 = "MSG,3,1,1,4CA2D6,1,2021/10/07,12:00:02.000,2021/10/07,12:00:02.010,,,,,48.85400,2.35500,,,0,0,0,0"
T0 = 1633608000.0  # 2021-10-07T12:00:00Z

# the first 20,000 Paris state vectors as MSG 4 + MSG 3 lines: positions of aircraft whose altitude is not yet
# known (on the ground: null altitude) are held back; the core then refuses one teleport
INCOMPLETE = 5095
PARIS_SBS1_COUNTS = {"accepted": 14904, "teleport": 1}


def test_position_joins_the_last_altitude_velocity_and_callsign() -> None:
    d = Sbs1Decoder()
    d.feed_lines([POS, ID, VEL, POS, ALT, POS2])
    assert d.stats.as_dict() == {"lines": 6, "incomplete": 1, "reports": 2}
    b = d.rows.batch()
    assert list(b.t_s) == [T0 + 1.25, T0 + 2.0]
    assert list(b.icao24) == ["4ca2d6"] * 2 and list(b.callsign) == ["RYR8EN"] * 2
    assert list(b.alt_m) == [36000 * FT, 35975 * FT]
    assert b.gs_mps[0] == pytest.approx(452 * KT) and b.track_deg[0] == 87.2
    assert b.vs_mps[0] == pytest.approx(-1280 * FPM)
    assert (b.lat_deg[1], b.lng_deg[1]) == (48.854, 2.355)
    assert TrackTable().ingest(b).counts == {"accepted": 2}


def test_velocity_too_old_holds_the_position_back() -> None:
    d = Sbs1Decoder(velocity_max_age_s=0.5)
    d.feed_lines([VEL, ALT, POS])
    assert d.stats["incomplete"] == 1 and len(d.rows) == 0


def test_utc_offset() -> None:
    d = Sbs1Decoder(utc_offset_s=7200.0)  # the receiver wrote Paris summer time
    d.feed_lines([VEL, POS])
    assert d.rows.batch().t_s[0] == T0 + 1.25 - 7200.0


@pytest.mark.parametrize(("line", "reason"), [
    ("MSG,3,1,1,4CA2D6,1", "fields"),
    (POS + ",extra", "fields"),
    (POS.replace("MSG,3", "SEL,3"), "kind"),
    (POS.replace("MSG,3", "MSG,9"), "msg_type"),
    (POS.replace("MSG,3", "MSG,"), "msg_type"),
    (POS.replace("4CA2D6", "4CA2D"), "icao"),
    (POS.replace("4CA2D6", "4CA2DX"), "icao"),
    (POS.replace("2021/10/07,12:00:01.250", "2021/13/07,12:00:01.250"), "time"),
    (POS.replace("12:00:01.250", "25:00:01.250"), "time"),
    (POS.replace("12:00:01.250", "noon"), "time"),
    (POS.replace("48.85341", "48.8x"), "number"),
    (POS.replace("36000", "high"), "number"),
    (VEL.replace("452", "fast"), "number"),
    (POS.replace("48.85341,2.34880", ","), "no_position"),
])
def test_bad_lines_are_counted_by_reason(line: str, reason: str) -> None:
    d = Sbs1Decoder()
    d.feed_lines([VEL, line])
    assert d.stats.as_dict() == {"lines": 2, reason: 1}
    assert len(d.rows) == 0


def test_surface_positions_are_counted_and_reported_only_on_request() -> None:
    surf = "MSG,2,1,1,4CA2D6,1,2021/10/07,12:00:03.000,2021/10/07,12:00:03.000,,,12,270,49.0,2.55,,,,,,-1"
    d = Sbs1Decoder()
    d.feed_line(surf)
    assert d.stats.as_dict() == {"lines": 1, "surface": 1} and len(d.rows) == 0
    d = Sbs1Decoder(report_surface=True)
    d.feed_line(surf)
    b = d.rows.batch()
    assert b.on_ground[0] and b.gs_mps[0] == pytest.approx(12 * KT) and math.isnan(b.alt_m[0])


@pytest.mark.parametrize("split", [1, 5, 17, 64, 4096])
def test_lines_split_across_reads(split: int) -> None:
    wire = ("\r\n".join([ID, VEL, POS]) + "\n" + POS2 + "\n" + ALT).encode()  # the last line is not finished
    f = LineFramer()
    got = [line for k in range(0, len(wire), split) for line in f.feed(wire[k:k + split])]
    assert got == [ID, VEL, POS, POS2]
    assert f.feed(b"\n") == [ALT]


def test_overlong_and_undecodable_lines_are_dropped() -> None:
    f = LineFramer(max_line=200)
    assert f.feed(b"x" * 150) == []
    assert f.feed(b"x" * 150) == []  # past the limit without a newline: dropped, the rest skipped
    assert f.feed(b"x" * 10 + b"\n" + POS.encode() + b"\n\xff\xfe\n") == [POS]
    assert f.stats.as_dict() == {"overlong": 1, "encoding": 1}


def test_format_round_trip() -> None:
    line = format_sbs1(3, "4ca2d6", T0 + 1.25, alt_ft=36000, lat_deg=48.85341, lng_deg=2.3488)
    assert line == POS.replace("12:00:01.260", "12:00:01.250")


def test_paris_recording_through_sbs1_lines() -> None:
    if not PARIS.exists():
        pytest.skip(f"the Paris recording is not at {PARIS} (../shared/data is absent)")
    with gzip.open(PARIS, "rt") as fh:
        records = sorted(json.load(fh), key=lambda r: r["timestamp"])[:20_000]
    lines = []
    for r in records:
        t = r["timestamp"] / 1000.0
        lines.append(format_sbs1(4, r["icao24"], t, gs_kt=r["groundspeed"], track_deg=r["track"],
                                 vs_fpm=r["vertical_rate"]))
        lines.append(format_sbs1(3, r["icao24"], t, alt_ft=r["altitude"], lat_deg=r["latitude"],
                                 lng_deg=r["longitude"], on_ground=r["onground"]))
    f, d = LineFramer(), Sbs1Decoder()
    wire = ("\n".join(lines) + "\n").encode()
    for k in range(0, len(wire), 1500):  # TCP-sized reads
        d.feed_lines(f.feed(wire[k:k + 1500]))
    b = d.rows.batch()
    assert len(b) == 20_000 - INCOMPLETE
    # every report is the state vector it came from, to the precision SBS-1 carries
    by_key = {(r["icao24"], r["timestamp"] / 1000.0): r for r in records}
    for k in range(0, len(b), 97):
        r = by_key[(b.icao24[k], b.t_s[k])]
        assert b.lat_deg[k] == pytest.approx(r["latitude"], abs=1e-5)
        assert b.lng_deg[k] == pytest.approx(r["longitude"], abs=1e-5)
        if r["altitude"] is not None:
            assert b.alt_m[k] == pytest.approx(r["altitude"] * FT, abs=0.5 * FT)
        assert b.gs_mps[k] == pytest.approx(r["groundspeed"] * KT, abs=0.05 * KT)
    assert ((b.lat_deg > 47.5) & (b.lat_deg < 50.5) & (b.lng_deg > 0.5) & (b.lng_deg < 4.5)).all()
    assert d.stats.as_dict() == {"lines": 40_000, "incomplete": INCOMPLETE, "reports": 20_000 - INCOMPLETE}
    counts = TrackTable().ingest(b).counts
    assert counts == PARIS_SBS1_COUNTS
