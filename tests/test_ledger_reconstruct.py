"""core.ledger.reconstruct on hand-made entries: alerts from alert notifications and from ALERT entries (whose
exact field names another branch settles: the reader keys on what it needs), track positions kept to the last
one known, another party's track never named unless disclosed, and a conflict area as the precision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from deconflict.core.ledger import EntryType, LedgerEntry, decode_entry, encode_entry
from deconflict.core.ledger.reconstruct import circle_ring, picture_at

T0 = datetime(2030, 6, 1, 8, 0, tzinfo=UTC)
X, Y = "party-x", "party-y"


def iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def entry(entry_type: EntryType, seconds: float, **body: Any) -> LedgerEntry:
    """Through the canonical bytes, as the service stores it."""
    return decode_entry(encode_entry(entry_type, {**body, "recorded_at": iso(seconds)}))


def track(lat: float, lng: float, seconds: float, **extra: Any) -> dict[str, Any]:
    return {"lat": lat, "lng": lng, "altitude_m": 900.0, "time": iso(seconds), **extra}


def test_alert_entries_raise_update_and_clear_with_tolerant_field_names() -> None:
    entries = [
        (0, entry(EntryType.ALERT, 10, alert_id="a1", event="raised", parties=[X, Y], tracks={
            "asset:x-1": track(35.0, 36.0, 10, owner_id=X), "asset:y-secret": track(35.01, 36.01, 10, owner_id=Y)})),
        (1, entry(EntryType.ALERT, 20, id="a1", state="updated", party_a=X, party_b=Y, positions=[
            {"key": "asset:x-1", "owner_id": X, "lat": 35.1, "lng": 36.1, "alt_m": 950.0, "t": iso(20)},
            {"key": "asset:y-secret", "owner_id": Y, "lat": 35.11, "lng": 36.11, "alt": 940.0, "t": iso(20)}])),
        (2, entry(EntryType.ALERT, 30, alert_id="a1", event="cleared", parties=[X, Y], tracks={})),
    ]
    raised = picture_at(entries, X, T0 + timedelta(seconds=15))
    (alert,) = raised["alerts"]
    assert alert["id"] == "a1" and alert["state"] == "active" and alert["raised_at"] == iso(10)
    assert set(alert["parties"]) == {X, Y}
    assert {(t["key"], t["lat"]) for t in alert["tracks"]} == {("asset:x-1", 35.0), ("alert:a1:other", 35.01)}
    updated = picture_at(entries, X, T0 + timedelta(seconds=25))
    assert {t["key"]: (t["lat"], t["alt_m"], t["t"]) for t in updated["tracks"]} == {
        "asset:x-1": (35.1, 950.0, iso(20)), "alert:a1:other": (35.11, 940.0, iso(20))}
    cleared = picture_at(entries, X, T0 + timedelta(seconds=35))
    assert cleared["alerts"] == [] and len(cleared["tracks"]) == 2  # the last positions known stay
    assert "y-secret" not in repr(picture_at(entries, X, T0 + timedelta(seconds=35)))
    assert picture_at(entries, X, T0 + timedelta(seconds=5))["alerts"] == []


def test_an_alert_notification_names_the_other_aircraft_only_when_disclosed() -> None:
    def notice(seconds: float, other: dict[str, Any]) -> LedgerEntry:
        return entry(EntryType.NOTIFICATION_DELIVERY, seconds, event="created", id=f"n{seconds}", recipient_id=X,
                     sender_id=X, reason="alert", payload={"reason": "alert", "event": "raised", "alert": {
                         "id": "a2", "state": "active", "raised_at": iso(seconds),
                         "own": track(1.0, 2.0, seconds, identified=True, asset_id="x-9", icao24=None),
                         "other": other}})

    hidden = picture_at([(0, notice(5, track(1.01, 2.01, 5, identified=True, disclosure="none")))], X,
                        T0 + timedelta(seconds=6))
    assert sorted(t["key"] for t in hidden["tracks"]) == ["alert:a2:other", "asset:x-9"]
    shown = picture_at([(0, notice(5, track(1.01, 2.01, 5, identified=True, party="y", icao24="abc123",
                                            asset_id=None)))], X, T0 + timedelta(seconds=6))
    assert sorted(t["key"] for t in shown["tracks"]) == ["asset:x-9", "icao:abc123"]
    (alert,) = shown["alerts"]
    assert alert["state"] == "active" and len(alert["tracks"]) == 2


def test_a_conflict_area_is_drawn_with_its_precision_and_circles_as_polygons() -> None:
    area = [{"volume": {"altitude_lower": {"value": 0.0}, "altitude_upper": {"value": 500.0},
                        "outline_circle": {"center": {"lat": 10.0, "lng": 20.0}, "radius": {"value": 1000.0}}},
             "time_start": {"value": iso(600)}, "time_end": {"value": iso(1200)}}]
    payload = {"reason": "conflict", "declaration": {"id": "d", "disclosure": "none", "kind": "activity"},
               "conflicts": [{"other": {"declaration_id": "d", "disclosure": "conflict_area", "area": area}}]}
    entries = [
        (0, entry(EntryType.NOTIFICATION_DELIVERY, 0, event="created", id="n", recipient_id=X, sender_id=Y,
                  reason="conflict", declaration_id="d", declaration_version=1, payload=payload,
                  ack_deadline_at=iso(300))),
        (1, entry(EntryType.NOTIFICATION_DELIVERY, 1, event="delivered", notification_id="n", recipient_id=X,
                  delivered_at=iso(1), lead_time_s=599.0, late=False)),
    ]
    (decl,) = picture_at(entries, X, T0 + timedelta(seconds=2))["declarations"]
    assert decl["precision"] == "conflict_area" and decl["owner_id"] == Y and "title" not in decl
    assert decl["geometry"] == {"type": "Polygon", "coordinates": [circle_ring(10.0, 20.0, 1000.0)]}
    ring = decl["geometry"]["coordinates"][0]
    assert len(ring) == 65 and ring[0] == ring[-1]
    assert all(abs(lat - 10.0) < 0.0091 and abs(lng - 20.0) < 0.0092 for lng, lat in ring)  # 1 km ~ 0.009 deg
    (n,) = picture_at(entries, X, T0 + timedelta(seconds=2))["notifications"]
    assert n["precision"] == "conflict_area" and n["ack"]["state"] == "pending"
    assert picture_at(entries, Y, T0 + timedelta(seconds=2))["notifications"] == []  # addressed to X only


def test_alert_entries_as_the_tactical_screen_stages_them() -> None:
    """The shape service/tactical.py's _stage_alert writes (branch `tactical`): tracks by key with t_s."""
    def staged(seconds: float, event: str, lat: float) -> LedgerEntry:
        return entry(EntryType.ALERT, seconds, alert_id="a3", event=event, version=1, kind="aircraft",
                     pair=["asset:x-2", "icao:4ca123"], parties=[X, Y], tracks={
                         "asset:x-2": {"lat": lat, "lng": 8.0, "alt_m": 1200.0,
                                       "t_s": (T0 + timedelta(seconds=seconds)).timestamp(), "owner_id": X},
                         "icao:4ca123": {"lat": lat + 0.01, "lng": 8.0, "alt_m": 1250.0,
                                         "t_s": (T0 + timedelta(seconds=seconds)).timestamp(), "owner_id": Y}},
                     finding={"t_cpa_s": 30.0}, minima={"lateral_m": 500.0})

    entries = [(0, staged(10, "raised", 47.0)), (1, staged(20, "updated", 47.1)), (2, staged(40, "cleared", 47.2))]
    mid = picture_at(entries, X, T0 + timedelta(seconds=30))
    (alert,) = mid["alerts"]
    assert alert["id"] == "a3" and alert["state"] == "active" and alert["raised_at"] == iso(10)
    assert {t["key"]: (t["lat"], t["t"]) for t in mid["tracks"]} == {
        "asset:x-2": (47.1, iso(20)), "alert:a3:other": (47.11, iso(20))}
    assert "4ca123" not in repr(mid)  # the other party's aircraft is not named to X
    assert picture_at(entries, X, T0 + timedelta(seconds=41))["alerts"] == []


def test_a_hazard_owner_sees_the_aircraft_that_entered_its_hazard_as_it_was_shown() -> None:
    """A hazard-entry alert notification to the hazard's owner carries the aircraft as `aircraft` (no `own` side):
    its position is part of what the owner knew; its identity only as shown."""
    def notice(aircraft: dict[str, Any]) -> LedgerEntry:
        return entry(EntryType.NOTIFICATION_DELIVERY, 5, event="created", id="n1", recipient_id=Y, sender_id=Y,
                     reason="alert", payload={"reason": "alert", "event": "raised", "alert": {
                         "id": "a4", "kind": "hazard_entry", "state": "active", "raised_at": iso(5),
                         "hazard": {"declaration_id": "d-1", "kind": "hazard", "party": "y"}, "aircraft": aircraft}})

    hidden = picture_at([(0, notice(track(3.0, 4.0, 5, identified=True, disclosure="none")))], Y,
                        T0 + timedelta(seconds=6))
    (alert,) = hidden["alerts"]
    assert alert["kind"] == "hazard_entry" and [t["key"] for t in alert["tracks"]] == ["alert:a4:other"]
    assert [(t["key"], t["lat"]) for t in hidden["tracks"]] == [("alert:a4:other", 3.0)]
    shown = picture_at([(0, notice(track(3.0, 4.0, 5, identified=True, party="x", icao24="abc123",
                                         asset_id=None)))], Y, T0 + timedelta(seconds=6))
    assert [t["key"] for t in shown["tracks"]] == ["icao:abc123"]
