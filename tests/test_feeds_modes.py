"""Mode S / ADS-B decoding (deconflict.feeds.modes) against published vectors and the recorded flight.

Vectors: Junzi Sun, "The 1090 Megahertz Riddle" (2nd ed.), chapters on identification, airborne position (CPR
global and local), airborne velocity; the surface vector is pyModeS's test case (position with a reference)."""

from __future__ import annotations

import json

import pytest

from deconflict.feeds.modes import ModeSTracker, _me_fields, cpr_global_airborne, cpr_local, cpr_nl, crc24, decode

from .shared_data import DATA

FLIGHT = DATA / "adsb" / "full_flight_short.jsonl"
CDG = (49.0097, 2.5479)

EVEN = "8D40621D58C382D690C8AC2863A7"
ODD = "8D40621D58C386435CC412692AD6"


def frame(h: str) -> bytes:
    return bytes.fromhex(h)


def test_crc_accepts_intact_and_refuses_flipped_bits() -> None:
    assert crc24(frame(EVEN)) == 0
    for bit in (0, 40, 111):
        bad = bytearray(frame(EVEN))
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        assert crc24(bytes(bad)) != 0
        got = decode(bytes(bad))
        assert got is None or not got.crc_ok


def test_identification() -> None:
    m = decode(frame("8D4840D6202CC371C32CE0576098"))
    assert m is not None and (m.df, m.icao24, m.tc, m.callsign) == (17, "4840d6", 4, "KLM1023")


def test_airborne_position_fields_and_altitude() -> None:
    m = decode(frame(EVEN))
    assert m is not None
    assert (m.icao24, m.tc, m.surface, m.cpr_odd, m.cpr_lat, m.cpr_lon, m.alt_ft) == (
        "40621d", 11, False, False, 93000, 51372, 38000.0)
    o = decode(frame(ODD))
    assert o is not None and (o.cpr_odd, o.cpr_lat, o.cpr_lon) == (True, 74158, 50194)


def test_cpr_global_pair_gives_the_published_position() -> None:
    e, o = decode(frame(EVEN)), decode(frame(ODD))
    assert e is not None and o is not None
    lat, lon = cpr_global_airborne(e.cpr_lat, e.cpr_lon, o.cpr_lat, o.cpr_lon, even_is_newer=True)  # type: ignore[arg-type,misc]
    assert lat == pytest.approx(52.25720, abs=1e-5) and lon == pytest.approx(3.91937, abs=1e-5)
    lat1, lon1 = cpr_global_airborne(e.cpr_lat, e.cpr_lon, o.cpr_lat, o.cpr_lon, even_is_newer=False)  # type: ignore[arg-type,misc]
    assert lat1 == pytest.approx(52.26578, abs=1e-5) and lon1 == pytest.approx(3.93891, abs=1e-5)


def test_cpr_local_gives_the_published_position() -> None:
    e = decode(frame(EVEN))
    assert e is not None
    lat, lon = cpr_local(e.cpr_lat, e.cpr_lon, False, 52.258, 3.918)  # type: ignore[arg-type]
    assert lat == pytest.approx(52.25720, abs=1e-5) and lon == pytest.approx(3.91937, abs=1e-5)


def test_cpr_surface_local_with_reference() -> None:
    f = _me_fields(int.from_bytes(frame("8FC8200A3AB8F5F893096B000000")[4:11], "big"))
    assert f["surface"] is True
    lat, lon = cpr_local(f["cpr_lat"], f["cpr_lon"], f["cpr_odd"], -43.5, 172.5, surface=True)  # type: ignore[arg-type]
    assert lat == pytest.approx(-43.48564, abs=1e-5) and lon == pytest.approx(172.53942, abs=1e-5)


def test_nl_transition_latitudes() -> None:
    assert cpr_nl(0.0) == 59 and cpr_nl(10.4704712) == 59 and cpr_nl(10.4704714) == 58
    assert cpr_nl(52.2572) == 36 and cpr_nl(-52.2572) == 36
    assert cpr_nl(86.9999) == 2 and cpr_nl(87.0) == 2 and cpr_nl(87.5) == 1


def test_velocity_ground_speed_subtype() -> None:
    m = decode(frame("8D485020994409940838175B284F"))
    assert m is not None and m.tc == 19
    assert m.gs_kt == pytest.approx(159.20, abs=0.01) and m.track_deg == pytest.approx(182.88, abs=0.01)
    assert m.vs_fpm == -832.0


def test_velocity_airspeed_subtype_gives_no_ground_track() -> None:
    m = decode(frame("8DA05F219B06B6AF189400CBC33F"))
    assert m is not None and m.gs_kt is None and m.track_deg is None
    assert m.airspeed_kt == 375.0 and m.heading_deg == pytest.approx(243.98, abs=0.01) and m.vs_fpm == -2304.0


def test_short_replies_altitude_and_address_from_parity() -> None:
    # from the recording: DF4 and DF0 replies captured as 112 bits (first 56 are the reply)
    m = decode(frame("212800bf40f1ef7e5817e9cc428d"))
    assert m is not None and (m.df, m.icao24, m.alt_ft) == (4, "393322", 575.0)
    m = decode(frame("02e191b1a88b16b88212a170aa33"))
    assert m is not None and (m.df, m.icao24, m.alt_ft) == (0, "393322", 27425.0)
    assert decode(frame("8D40621D58C382")) is None  # a long format in 7 bytes
    assert decode(b"\x00" * 9) is None


def test_tracker_pairs_then_reports_with_velocity() -> None:
    tr = ModeSTracker()
    tr.feed(100.0, frame(ODD))
    tr.feed(101.0, frame(EVEN))  # fix, but no velocity yet
    tr.feed(101.5, frame("8D40621D99440994083817000000"))  # bad parity: counted, ignored
    assert tr.stats.as_dict() == {"messages": 3, "cpr_pending": 1, "no_velocity": 1, "crc": 1}
    assert tr.aircraft["40621d"].fix == (101.0, pytest.approx(52.25720, abs=1e-5), pytest.approx(3.91937, abs=1e-5))
    assert len(tr.rows) == 0


def test_tracker_refuses_a_pair_straddling_a_zone_or_too_far_apart() -> None:
    tr = ModeSTracker()
    tr.feed(100.0, frame(ODD))
    tr.feed(120.0, frame(EVEN))  # 20 s apart: no global decode
    assert tr.stats["cpr_pending"] == 2 and tr.aircraft["40621d"].fix is None


@pytest.fixture(scope="module")
def flight() -> list[dict[str, object]]:
    if not FLIGHT.exists():
        pytest.skip(f"the recorded flight is not at {FLIGHT} (../shared/data is absent)")
    with FLIGHT.open() as fh:
        return [json.loads(line) for line in fh]


def test_recorded_flight_positions_match_the_reference_fields(flight: list[dict[str, object]]) -> None:
    tr = ModeSTracker(reference=CDG, report_surface=True)
    checked = {"airborne": 0, "surface": 0}
    worst = 0.0
    surveillance_mismatch = 0
    for r in flight:
        m = tr.feed(float(r["timestamp"]), frame(str(r["frame"])))  # type: ignore[arg-type]
        assert m is not None and m.icao24 == r["icao24"]
        if m.df in (0, 4, 16, 20) and "altitude" in r and m.alt_ft != r["altitude"]:
            surveillance_mismatch += 1  # parity = address: corrupted replies pass (the tracker ignores them)
        if m.df != 17:
            continue
        if "altitude" in r:
            assert m.alt_ft == r["altitude"]
        if m.tc == 19 and "groundspeed" in r:
            assert m.gs_kt == pytest.approx(r["groundspeed"], abs=0.5)
            assert m.track_deg == pytest.approx(r["track"], abs=0.5)
            assert m.vs_fpm == r["vertical_rate"]
        if m.surface is not None and m.surface:
            assert m.track_deg == r.get("track")
        if "latitude" in r:
            fix = tr.aircraft[m.icao24].fix
            assert fix is not None and fix[0] == r["timestamp"]
            worst = max(worst, abs(fix[1] - r["latitude"]), abs(fix[2] - r["longitude"]))  # type: ignore[operator]
            checked["surface" if m.surface else "airborne"] += 1
    assert worst < 0.01
    assert surveillance_mismatch == 4  # of 28,000 replies: 1 DF20 reads 39,150 ft at 5,590 ft, 3 DF4 undecodable
    assert checked == {"airborne": 6457, "surface": 1867}
    assert tr.stats.as_dict() == {"messages": 57793, "not_adsb": 42220, "no_velocity": 1, "reports": 8323,
                                  "surface": 1867}
    assert {a.callsign for a in tr.aircraft.values()} == {"AFR34ZG"}
