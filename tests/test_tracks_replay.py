"""Issue 6's done-when: the Paris recording replayed through the service (POST /v1/tracks, as JSON state vectors
or as SBS-1 lines decoded as `deconflict feed sbs1` does; the scheduler's tick on an injected clock), with two
parties owning different aircraft by ICAO address, raises the same conflicts as the brute-force oracle
(tests/tactical_oracle.py) over the same positions, minima (5 NM, 1,000 ft: the two parties share no agreement)
and look-ahead (300 s). SQLite and PostgreSQL.

The expected picture is the same reports fed to a core `TrackTable` in the same chunks, snapshot at each tick
(tracks heard within 10 s), on the ground left out. Pairs on the oracle's band of doubt (1 cm) may go either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pytest

from deconflict.core.tactical import FPM, FT, KT, PartyMinima, TrackBatch, TrackTable
from deconflict.feeds.forward import reports_json
from deconflict.feeds.sbs1 import Sbs1Decoder, format_sbs1
from deconflict.service.scheduler import tick
from deconflict.service.server import RunningService, start_in_thread

from .service_helpers import Api, ManualClock, world
from .tactical_oracle import EPS, PARIS, oracle, paris_records

START_S, END_S, TICK_S = 800.0, 1400.0, 3.0  #: a busy stretch of the recording: 20-30 aircraft, seconds after t0
LOOKAHEAD_S = 300.0


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    if not PARIS.exists():
        pytest.skip(f"the Paris recording is not at {PARIS} (../shared/data is absent)")
    return paris_records()


def _report(r: dict[str, Any]) -> dict[str, Any]:
    """A state vector as a JSON feed sends it (metres, m/s); nulls stay null for the service's rules to count."""
    def scaled(name: str, k: float) -> float | None:
        return None if r[name] is None else r[name] * k

    return {"time": datetime.fromtimestamp(r["timestamp"] / 1000.0, UTC).isoformat(), "lat": r["latitude"],
            "lng": r["longitude"], "altitude_m": scaled("altitude", FT), "ground_speed_mps": scaled("groundspeed", KT),
            "track_deg": r["track"], "vertical_rate_mps": scaled("vertical_rate", FPM), "icao24": r["icao24"],
            "callsign": (r["callsign"] or "").strip() or None, "on_ground": bool(r["onground"])}


def _batch(reports: list[dict[str, Any]], owners: dict[str, str]) -> TrackBatch:
    def col(name: str) -> list[float | None]:
        return [x[name] for x in reports]

    return TrackBatch.of(t_s=[datetime.fromisoformat(x["time"]).timestamp() for x in reports], lat_deg=col("lat"),
                         lng_deg=col("lng"), alt_m=col("altitude_m"), gs_mps=col("ground_speed_mps"),
                         track_deg=col("track_deg"), vs_mps=[v or 0.0 for v in col("vertical_rate_mps")],
                         icao24=col("icao24"), owner=[owners.get(x["icao24"]) for x in reports],  # type: ignore[arg-type]
                         on_ground=[x["on_ground"] for x in reports])


def _pages(api: Api, path: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    after = None
    while True:
        r = api.get(path, params={**params, "limit": 500, **({"after": after} if after else {})})
        assert r.status_code == 200, r.text
        yield from r.json()[key]
        after = r.json()["next"]
        if after is None:
            return


def _pair(alert: dict[str, Any]) -> tuple[str, str]:
    a, b = alert["own"]["icao24"], alert["other"]["icao24"]
    return (a, b) if a < b else (b, a)


class Sbs1Feed:
    """The records as dump1090's SBS-1 lines (a velocity and a position each), decoded as `deconflict feed sbs1`
    decodes them, into the reports it posts."""

    def __init__(self) -> None:
        self.decoder = Sbs1Decoder()

    def __call__(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for r in records:
            t = r["timestamp"] / 1000.0
            self.decoder.feed_line(format_sbs1(4, r["icao24"], t, gs_kt=r["groundspeed"], track_deg=r["track"],
                                               vs_fpm=r["vertical_rate"]))
            self.decoder.feed_line(format_sbs1(3, r["icao24"], t, alt_ft=r["altitude"], lat_deg=r["latitude"],
                                               lng_deg=r["longitude"], on_ground=bool(r["onground"])))
        return reports_json(self.decoder.rows.batch())


@pytest.mark.parametrize("feed", ["json", "sbs1"])
def test_paris_replayed_through_the_service_raises_the_oracles_conflicts(db_url: str, feed: str,
                                                                         records: list[dict[str, Any]]) -> None:
    t0 = records[0]["timestamp"] / 1000.0
    window = [r for r in records if t0 + START_S - 15.0 < r["timestamp"] / 1000.0 <= t0 + END_S]
    icaos = sorted({r["icao24"] for r in records})
    # alternate aircraft to alpha and bravo; every fifth stays unidentified
    share = {a: ("alpha" if k % 2 else "bravo") for k, a in enumerate(icaos) if k % 5}
    clock = ManualClock(datetime.fromtimestamp(t0 + START_S - 15.0, UTC))
    running: RunningService = start_in_thread(db_url, clock=clock, scheduler=False)
    http = httpx.Client()
    try:
        assert running.admin_token is not None
        admin, apis = world(running.url, running.admin_token, ["alpha", "bravo"], [])
        for name in ("alpha", "bravo"):
            r = apis[name].put("/v1/parties/me/assets", json={"icao24": [a for a, p in share.items() if p == name]})
            assert r.status_code == 200, r.text
        table, minima = TrackTable(), PartyMinima.of(["alpha", "bravo"])
        sure_by_tick: dict[float, set[tuple[str, str]]] = {}
        maybe_by_tick: dict[float, set[tuple[str, str]]] = {}
        as_reports = (lambda rs: [_report(r) for r in rs]) if feed == "json" else Sbs1Feed()
        times = np.array([r["timestamp"] / 1000.0 for r in window])
        done = 0
        for now in np.arange(t0 + START_S, t0 + END_S, TICK_S):
            upto = int(np.searchsorted(times, now, side="right"))
            chunk = as_reports(window[done:upto])
            done = upto
            if chunk:
                posted = apis["alpha"].post("/v1/tracks", json={"source": "paris", "reports": chunk})
                assert posted.status_code == 200, posted.text
                table.ingest(_batch(chunk, share))
            clock.now = datetime.fromtimestamp(float(now), UTC)
            tick(running.state, http)
            live = table.snapshot(float(now), 10.0)
            airborne = live.take(np.flatnonzero(~live.on_ground))
            args = (airborne, float(now), minima.codes(airborne.owner), minima.lateral_m, minima.vertical_m,
                    LOOKAHEAD_S)
            names = airborne.icao24.tolist()
            sure_by_tick[float(now)] = {(names[i], names[j]) if names[i] < names[j] else (names[j], names[i])
                                        for i, j in oracle(*args, slack=-EPS)}
            maybe_by_tick[float(now)] = {(names[i], names[j]) if names[i] < names[j] else (names[j], names[i])
                                         for i, j in oracle(*args, slack=EPS)}
        alerts = list(_pages(admin, "/v1/alerts", "alerts", state="all"))
        seen = {name: {a["id"] for a in _pages(apis[name], "/v1/alerts", "alerts", state="all")} for name in apis}
        told = {name: sorted(n["payload"]["alert"]["id"] for n in _pages(apis[name], "/v1/notifications",
                                                                           "notifications", pending="false")
                             if n["reason"] == "alert" and n["payload"]["event"] == "raised") for name in apis}
    finally:
        http.close()
        running.stop()
    assert sum(map(len, sure_by_tick.values())) > 100  # the stretch is busy: conflicts at most ticks

    def raised(a: dict[str, Any]) -> float:
        return datetime.fromisoformat(a["raised_at"]).timestamp()

    def active_at(a: dict[str, Any], now: float) -> bool:
        cleared = a["cleared_at"]
        return raised(a) <= now and (cleared is None or datetime.fromisoformat(cleared).timestamp() > now)

    # every alert was raised on a tick where the oracle found its pair
    for a in alerts:
        assert _pair(a) in maybe_by_tick[raised(a)], (_pair(a), a["raised_at"])
    # every pair the oracle is sure of, at every tick, has an alert active then; one alert per pair at a time
    by_pair: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for a in alerts:
        by_pair.setdefault(_pair(a), []).append(a)
    for now, sure in sure_by_tick.items():
        for pair in sure:
            assert sum(active_at(a, now) for a in by_pair.get(pair, [])) == 1, (pair, now)
    union_sure = set().union(*sure_by_tick.values())
    union_maybe = set().union(*maybe_by_tick.values())
    assert union_sure <= set(by_pair) <= union_maybe
    owned = [p for p in by_pair if share.get(p[0]) and share.get(p[1]) and share[p[0]] != share[p[1]]]
    assert len(owned) >= 10
    # each party sees exactly the alerts of its own aircraft, and was notified of each once (raised)
    for name in ("alpha", "bravo"):
        mine = {a["id"] for a in alerts if name in (share.get(_pair(a)[0]), share.get(_pair(a)[1]))}
        assert seen[name] == mine
        assert told[name] == sorted(mine)
