"""The live picture is bounded: aircraft not heard from for RETAIN_S are forgotten (in memory and in the store),
and a party's ingest statistics keep at most MAX_SOURCES_PER_PARTY sources, so a feed of ever-new addresses or
source names cannot grow the service without bound."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from deconflict.core.tactical import Rejection
from deconflict.core.tactical.tracks import TrackBatch, TrackTable
from deconflict.service import tactical
from deconflict.service.scheduler import tick
from deconflict.service.server import RunningService
from deconflict.store import schema as t

from .service_helpers import T0, ManualClock
from .test_tracks_service import _post, _world, report


def _one(icao: str, at: float, lat: float = 48.0) -> TrackBatch:
    return TrackBatch.of(t_s=[at], lat_deg=[lat], lng_deg=[2.0], alt_m=[1000.0], gs_mps=[100.0],
                         track_deg=[0.0], icao24=[icao])


def test_the_table_forgets_silent_aircraft_and_keeps_the_others_intact() -> None:
    table = TrackTable()
    table.ingest(_one("aaaaaa", 100.0))
    table.ingest(_one("bbbbbb", 500.0, lat=49.0))
    table.ingest(_one("cccccc", 510.0, lat=50.0))
    assert table.forget_before(400.0) == 1 and len(table) == 2
    live = table.snapshot(510.0, max_age_s=60.0)
    assert sorted(zip(live.icao24, live.lat_deg, strict=True)) == [("bbbbbb", 49.0), ("cccccc", 50.0)]
    # a kept aircraft is still checked against its last state (here: time going backwards)
    assert table.ingest(_one("bbbbbb", 499.0, lat=49.0)).reasons.tolist() == [Rejection.TIME_BACKWARDS]
    # a forgotten one starts afresh, and the others stay where they were
    assert table.ingest(_one("aaaaaa", 90.0, lat=47.0)).reasons.tolist() == [0]
    everyone = table.snapshot(510.0, max_age_s=1000.0)
    assert sorted(zip(everyone.icao24, everyone.lat_deg, strict=True)) == [
        ("aaaaaa", 47.0), ("bbbbbb", 49.0), ("cccccc", 50.0)]
    assert table.forget_before(0.0) == 0


def test_the_tick_forgets_aircraft_silent_for_the_retention_time(timed: RunningService, clock: ManualClock
                                                                 ) -> None:
    _, apis = _world(timed)
    _post(apis["air"], report(T0, 10.0, 90.0, icao24="abc123"))
    tick(timed.state)
    table = tactical.tactical_of(timed.state).table
    with timed.state.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.tracks)).scalar_one() == 1
    clock.advance(tactical.RETAIN_S + tactical.PRUNE_EVERY_S + 1)
    _post(apis["air"], report(T0 + timedelta(seconds=tactical.RETAIN_S + tactical.PRUNE_EVERY_S), 11.0, 90.0,
                              icao24="def456"))
    tick(timed.state)
    assert len(table) == 1  # the silent one is gone, the one just heard from stays
    with timed.state.db.connect() as conn:
        assert conn.execute(sa.select(t.tracks.c.icao24)).scalars().all() == ["def456"]


def test_a_partys_sources_are_bounded(timed: RunningService, clock: ManualClock) -> None:
    _, apis = _world(timed)
    for n in range(tactical.MAX_SOURCES_PER_PARTY + 3):
        clock.advance(1)
        _post(apis["air"], report(T0 + timedelta(seconds=n + 1), 10.0, 90.0, icao24="abc123"), source=f"feed-{n}")
    sources = [s["source"] for s in apis["air"].get("/v1/tracks/stats").json()["sources"]]
    assert len(sources) == tactical.MAX_SOURCES_PER_PARTY
    assert {"feed-0", "feed-1", "feed-2"}.isdisjoint(sources)  # the least recent gave way
    assert f"feed-{tactical.MAX_SOURCES_PER_PARTY + 2}" in sources
    _post(apis["ngo"], report(T0 + timedelta(seconds=50), 20.0, 90.0, icao24="fed123"), source="ngo-radar")
    assert [s["source"] for s in apis["ngo"].get("/v1/tracks/stats").json()["sources"]] == ["ngo-radar"]
