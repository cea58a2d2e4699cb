"""Beast binary framing and hex-frame lines (deconflict.feeds.beast), on made-up frames and the dump1090 file."""

from __future__ import annotations

import pytest

from deconflict.feeds.beast import BeastFrame, BeastFramer, beast_encode, parse_hex_line
from deconflict.feeds.modes import ModeSTracker

from .shared_data import DATA

BEAST = DATA / "adsb" / "sample_dump1090.bin"

LONG = bytes.fromhex("8D40621D58C382D690C8AC2863A7")
# 0x1a in the counter, the signal byte and the payload: each must be doubled on the wire
ESCAPED = BeastFrame("3", 0x1A00001A1A01, 0x1A, bytes.fromhex("8D1A621D58C382D690C8AC28631A"))


def test_escapes_are_doubled_and_undone() -> None:
    wire = beast_encode(ESCAPED)
    assert wire.count(b"\x1a\x1a") == 6 and wire[:2] == b"\x1a3"
    f = BeastFramer()
    assert f.feed(wire) == [ESCAPED]
    assert f.stats.as_dict() == {"frames": 1}


@pytest.mark.parametrize("split", [1, 2, 3, 7, 13])
def test_frames_split_across_reads(split: int) -> None:
    frames = [ESCAPED, BeastFrame("2", 5, 200, LONG[:7]), BeastFrame("1", 6, 1, b"\x12\x34"),
              BeastFrame("3", 12_000_000, 99, LONG)]
    wire = b"".join(beast_encode(fr) for fr in frames)
    f = BeastFramer()
    got = [fr for k in range(0, len(wire), split) for fr in f.feed(wire[k:k + split])]
    assert got == frames
    assert f.stats.as_dict() == {"frames": 4, "mode_ac": 1}
    assert got[3].time_s(1000.0) == 1001.0


def test_split_between_escape_bytes_waits() -> None:
    wire = beast_encode(ESCAPED)
    cut = wire.index(b"\x1a\x1a", 2) + 1  # between the two bytes of an escape
    f = BeastFramer()
    assert f.feed(wire[:cut]) == []
    assert f.feed(wire[cut:]) == [ESCAPED]


def test_garbage_truncated_and_unknown_frames_are_counted_and_skipped() -> None:
    good = beast_encode(BeastFrame("3", 1, 2, LONG))
    truncated = good[:10]  # then the next frame starts
    status = b"\x1a4" + b"\x00" * 8  # a status frame: type '4'
    f = BeastFramer()
    got = f.feed(b"hello" + truncated + good + status + good)
    assert got == [BeastFrame("3", 1, 2, LONG)] * 2
    assert f.stats["truncated"] == 1 and f.stats["bad_type"] == 1 and f.stats["frames"] == 2
    assert f.stats["garbage"] == 5 + 9  # "hello", then the status frame's type byte and body


@pytest.fixture(scope="module")
def beast_bytes() -> bytes:
    if not BEAST.exists():
        pytest.skip(f"the Beast sample is not at {BEAST} (../shared/data is absent)")
    return BEAST.read_bytes()


def test_dump1090_file_frames(beast_bytes: bytes) -> None:
    f = BeastFramer()
    frames = f.feed(beast_bytes)
    assert len(frames) == 239 and f.stats.as_dict() == {"frames": 239}
    assert b"".join(beast_encode(fr) for fr in frames) == beast_bytes  # escapes included, byte for byte
    assert {fr.kind for fr in frames} == {"2", "3"}
    byte_by_byte = BeastFramer()
    assert [fr for k in range(len(beast_bytes)) for fr in byte_by_byte.feed(beast_bytes[k:k + 1])] == frames
    ticks = [fr.mlat_ticks for fr in frames]
    assert ticks == sorted(ticks)


def test_dump1090_file_decodes(beast_bytes: bytes) -> None:
    tr = ModeSTracker()
    for fr in BeastFramer().feed(beast_bytes):
        tr.feed(fr.time_s(), fr.payload)
    assert tr.stats.as_dict() == {"messages": 239, "not_adsb": 216, "unsupported": 10, "cpr_pending": 1,
                                  "reports": 3}
    batch = tr.rows.batch()
    assert set(batch.icao24) == {"48520a"} and batch.callsign[-1] == "TRA89M"
    # Toulouse area (the receiver's), FL380
    assert ((batch.lat_deg > 43.6) & (batch.lat_deg < 43.7)).all()
    assert ((batch.lng_deg > 1.2) & (batch.lng_deg < 1.25)).all()
    assert batch.alt_m[0] == pytest.approx(38000 * 0.3048)


@pytest.mark.parametrize(("line", "expected"), [
    ('{"timestamp": 1720248189.5, "frame": "8f393322384a02aea63afc43dcba", "df": "17"}',
     (1720248189.5, bytes.fromhex("8f393322384a02aea63afc43dcba"))),
    ("1720248189.5 8D40621D58C382D690C8AC2863A7", (1720248189.5, LONG)),
    ("*8D40621D58C382D690C8AC2863A7;\r\n", (None, LONG)),
    ("@0000000001F48D40621D58C382D690C8AC2863A7;", (100.0 + 500 / 12e6, LONG)),
    ("*02e191b1a88b16;", (None, bytes.fromhex("02e191b1a88b16"))),
    ("", "blank"),
    ('{"timestamp": 1}', "json"),
    ("{not json", "json"),
    ("*8D40621D58C382D690C8AC2863;", "hex"),
    ("*8D40621D58C382D690C8AC2863AZ;", "hex"),
    ("@zz;", "hex"),
    ("hello", "format"),
    ("x 8D40621D58C382D690C8AC2863A7", "format"),
])
def test_hex_lines(line: str, expected: object) -> None:
    assert parse_hex_line(line, mlat_epoch_s=100.0) == expected


def test_reset_drops_a_partial_frame() -> None:
    wire = beast_encode(BeastFrame("3", 1, 2, LONG))
    f = BeastFramer()
    assert f.feed(wire[:9]) == []
    f.reset()
    assert f.feed(wire) == [BeastFrame("3", 1, 2, LONG)]
    assert f.stats.as_dict() == {"frames": 1, "partial": 1}
