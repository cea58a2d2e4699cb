"""The operations picture (issue 7) in a real browser: Playwright driving the system Chromium against the service.

Chromium comes from Debian (`apt-get install -y chromium`; .ci/run installs it): Playwright cannot download its own
browser here. Without it these tests fail, saying so, rather than skip. Screenshots go to test-artifacts/screenshots
(DECONFLICT_SCREENSHOTS=docs/screenshots refreshes the README's). The UI is the same over either store, so these
run on SQLite only.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from deconflict.service.server import RunningService

from .service_helpers import Api, vol, world

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-artifacts" / "screenshots"
README_SHOT = ROOT / "docs" / "screenshots" / "ui.png"  # rewritten only with DECONFLICT_README_SHOT=1
VIEWPORT = {"width": 1366, "height": 768}
SECRET_TITLE = "Strike package ALPHA"
# the activity's exact vertices: digits that appear nowhere else (coarse cells are on a 0.1 degree grid)
SECRET_VERTICES = [(35.3917, 36.0813), (35.3917, 36.1587), (35.4483, 36.1587), (35.4483, 36.0813)]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("the system Chromium is missing: run `apt-get install -y chromium` (.ci/run installs it); "
                    "Playwright cannot download a browser here")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@dataclass
class World:
    apis: dict[str, Api]
    activity: str
    hazard: str
    flight: str
    hospital: str
    agreement_full: str
    note_to_partner: str


def polygon(vertices: list[tuple[float, float]], hours: tuple[float, float], alt: tuple[float, float]
            ) -> dict[str, Any]:
    v = vol(0, 0, 1.0, hours, alt)
    del v["volume"]["outline_circle"]
    v["volume"]["outline_polygon"] = {"vertices": [{"lat": a, "lng": b} for a, b in vertices]}
    return v


def seed(service: RunningService) -> World:
    """coalition and partner share everything (notice 2 h for activities: a 1 h notice is LATE); coalition and
    ngo (humanitarian) share coarse cells only; partner's flight conflicts with coalition's activity."""
    assert service.admin_token is not None
    _, apis = world(service.url, service.admin_token, ["coalition", "partner", "ngo"], [
        {"parties": ["coalition", "partner"], "disclosure": "full", "policy": "require_ack",
         "min_notice_s": {"activity": 7200}},
        {"parties": ["coalition", "ngo"], "disclosure": "coarse", "policy": "inform"},
    ])
    agreements = {tuple(a["parties"]): a["id"] for a in apis["coalition"].get("/v1/agreements").json()["agreements"]}
    r = apis["coalition"].declare("activity", polygon(SECRET_VERTICES, (1, 3), (0, 9000)), title=SECRET_TITLE)
    assert r.status_code == 201, r.text
    activity = r.json()["declaration"]["id"]
    r = apis["coalition"].declare("hazard", vol(35.75, 36.45, 6000, (0, 5), (0, 12000)), title="SAM site")
    assert r.status_code == 201, r.text
    hazard = r.json()["declaration"]["id"]
    r = apis["partner"].declare("flight", vol(35.42, 36.12, 3000, (1.5, 2.5), (500, 1500)), title="Medevac 7")
    assert r.status_code == 201, r.text
    assert r.json()["conflicts"], "the flight must conflict with the activity"
    flight = r.json()["declaration"]["id"]
    r = apis["ngo"].declare("protected", vol(35.1, 36.6, 1500, (0, 6), (0, 300)), title="Field hospital")
    assert r.status_code == 201, r.text
    hospital = r.json()["declaration"]["id"]
    notes = apis["partner"].get("/v1/notifications", params={"box": "inbox"}).json()["notifications"]
    note = next(n for n in notes if n["declaration_id"] == activity)
    return World(apis, activity, hazard, flight, hospital, agreements[("coalition", "partner")], note["id"])


def open_as(browser: Browser, service: RunningService, api: Api) -> Page:
    page = browser.new_context(viewport=VIEWPORT).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{service.url}/")
    page.get_by_label("Party API token").fill(api.token)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    assert not errors, errors
    return page


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))
    if name == README_SHOT.name and os.environ.get("DECONFLICT_README_SHOT") == "1":
        README_SHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(README_SHOT))


def test_page_without_token_asks_for_one_and_vendor_files_are_served(service: RunningService,
                                                                     browser: Browser) -> None:
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(f"{service.url}/")
    assert page.url.endswith("/ui/")
    page.get_by_label("Party API token").fill("dcf_not-a-token")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("not known")
    with httpx.Client(base_url=service.url) as http:
        assert http.get("/ui/vendor/leaflet/leaflet.css").status_code == 200
        assert http.get("/ui/vendor/leaflet/..%2F..%2Fpackage.json").status_code == 404
        assert http.get("/ui/static/index.html").status_code == 404  # only the named files
        assert http.get("/ui/static/basemap.json").json()["features"]


def test_map_notifications_and_acknowledgement(service: RunningService, browser: Browser) -> None:
    w = seed(service)
    page = open_as(browser, service, w.apis["partner"])
    mine = page.locator(f'path[data-declaration="{w.flight}"]')
    expect(mine).to_have_count(1)
    expect(mine).to_have_attribute("data-disclosure", "own")
    expect(mine).to_have_attribute("data-conflict", "yes")
    theirs = page.locator(f'path[data-declaration="{w.activity}"]')
    expect(theirs).to_have_attribute("data-disclosure", "full")
    expect(theirs).to_have_attribute("data-conflict", "yes")
    expect(page.locator(f'path[data-declaration="{w.hazard}"][data-kind="hazard"]')).to_have_count(1)
    expect(page.locator(f'path[data-declaration="{w.hospital}"]')).to_have_count(0)  # no agreement with ngo
    expect(page.locator("path[data-declaration]")).to_have_count(3)
    expect(page.locator("#timeline li[data-declaration]")).to_have_count(3)
    expect(page.locator(f'#timeline li[data-declaration="{w.flight}"]')).to_contain_text("CONFLICT")

    note = page.locator(f'#notifications li[data-notification="{w.note_to_partner}"]')
    expect(note).to_contain_text("LATE")
    expect(note).to_contain_text("Starts in")
    expect(note).to_contain_text("Ack due in")
    # the timeline: each window with its kind, the conflict's window marked, the acknowledgement due, an axis
    row = page.locator(f'#timeline li[data-declaration="{w.activity}"]')
    expect(row.locator(".bar-kind")).to_have_text("activity")
    expect(row.locator(f'[data-due="{w.note_to_partner}"]')).to_have_count(1)
    expect(row.get_by_role("button")).to_contain_text("ack due")
    expect(page.locator(f'#timeline li[data-declaration="{w.flight}"] .cmark')).to_have_count(1)
    expect(page.locator("#timeline li.axis .tick").first).to_contain_text(":00Z")
    shot(page, "map.png")

    # the altitude band and time window, from the timeline (keyboard) and from the map (click)
    page.locator(f'#timeline li[data-declaration="{w.activity}"] button').focus()
    page.keyboard.press("Enter")
    expect(page.locator("#details")).to_contain_text("0 m \N{EN DASH} 9000 m")
    expect(page.locator("#details")).to_contain_text(SECRET_TITLE)
    page.locator(f'path[data-declaration="{w.hazard}"]').dispatch_event("click")
    expect(page.locator(".leaflet-popup", has_text="SAM site")).to_contain_text("0 m \N{EN DASH} 12000 m")
    note.get_by_label("Reply text").fill("Medevac airborne, hold 20 min please")
    note.get_by_role("button", name="Request hold").click()
    expect(note).to_have_attribute("data-acked", "yes")
    expect(row.locator("[data-due]")).to_have_count(0)  # acknowledged: nothing due any more
    expect(note).to_contain_text("Acknowledged: request hold")

    # live: a new activity reaches the map and the queue over the stream, without a reload
    r = w.apis["coalition"].declare("activity", vol(35.9, 36.6, 4000, (3, 4), (0, 3000)), title="Resupply drop")
    assert r.status_code == 201, r.text
    later = r.json()["declaration"]["id"]
    expect(page.locator(f'path[data-declaration="{later}"][data-disclosure="full"]')).to_have_count(1)
    expect(page.locator("#notifications li[data-acked=no]")).to_contain_text("Resupply drop")
    sent = w.apis["coalition"].get("/v1/notifications", params={"box": "sent", "pending": "false"}).json()
    acked = next(n for n in sent["notifications"] if n["id"] == w.note_to_partner)
    assert acked["ack_reply"] == "request_hold"
    assert acked["ack_text"] == "Medevac airborne, hold 20 min please"
    assert acked["acked_at"] is not None


def test_hotline_message_reaches_the_other_browser(service: RunningService, browser: Browser) -> None:
    w = seed(service)
    r = w.apis["coalition"].post("/v1/threads", json={"agreement_id": w.agreement_full, "subject": "ALPHA timing"})
    assert r.status_code == 201, r.text
    thread = r.json()["thread"]["id"]
    coalition = open_as(browser, service, w.apis["coalition"])
    partner = open_as(browser, service, w.apis["partner"])
    coalition.locator(f'button[data-thread="{thread}"]').click()
    expect(coalition.locator("#messages")).to_contain_text("No messages yet")

    partner.locator(f'button[data-thread="{thread}"]').click()
    partner.get_by_label("Message").fill("Medevac 7 lifts at H+90, request hold of ALPHA")
    partner.get_by_role("button", name="Send").click()
    arrived = coalition.locator('#messages li[data-sender="partner"]')
    expect(arrived).to_contain_text("Medevac 7 lifts at H+90")
    # the coalition has the thread open, so it reads it at once: the sender sees the read receipt
    expect(partner.locator('#messages li[data-sender="partner"] .receipts')).to_contain_text("coalition: read")
    shot(partner, "hotline.png")

    # and the other way, to a page that has not opened the thread: an unread count
    partner.locator(f'button[data-thread="{thread}"]').blur()
    coalition.get_by_label("Message").fill("Copy, ALPHA holds until H+120")
    coalition.keyboard.press("Tab")
    coalition.keyboard.press("Enter")
    expect(partner.locator('#messages li[data-sender="coalition"]')).to_contain_text("ALPHA holds")

    # an acknowledgement reaches the sender's page as a reply
    note = partner.locator(f'#notifications li[data-notification="{w.note_to_partner}"]')
    note.get_by_role("button", name="Object").click()
    reply = coalition.locator(f'#replies li[data-notification="{w.note_to_partner}"]')
    expect(reply).to_contain_text("partner: object")


def test_humanitarian_page_shows_nothing_beyond_its_disclosure(service: RunningService, browser: Browser) -> None:
    w = seed(service)
    admin = Api(service.url, service.admin_token or "")
    r = admin.post("/v1/agreements", json={
        "name": "partner-ngo", "parties": ["partner", "ngo"], "disclosure": "conflict_area", "policy": "inform",
        "minima": {"lateral_m": 500, "vertical_m": 100, "time_s": 60}, "ack_deadline_s": 600})
    assert r.status_code == 201, r.text
    r = w.apis["partner"].declare("flight", vol(35.1, 36.63, 2500, (1, 2), (0, 600)), title="Medevac 9")
    assert r.status_code == 201 and r.json()["conflicts"], r.text
    near_hospital = r.json()["declaration"]["id"]
    page = open_as(browser, service, w.apis["ngo"])
    area = page.locator('path[data-conflict-area][data-owner="partner"]')
    expect(area.first).to_have_attribute("data-disclosure", "conflict_area")
    expect(page.locator(f'path[data-declaration="{near_hospital}"]')).to_have_count(0)  # areas only, not listed
    expect(page.locator(f'path[data-declaration="{w.hospital}"]')).to_have_attribute("data-conflict", "yes")
    expect(page.locator(f'path[data-declaration="{w.hospital}"][data-disclosure="own"]')).to_have_count(1)
    cells = page.locator(f'path[data-declaration="{w.activity}"]')
    expect(cells.first).to_have_attribute("data-shape", "cell")
    assert cells.count() >= 1
    expect(page.locator(f'path[data-declaration="{w.activity}"][data-shape="volume"]')).to_have_count(0)
    expect(page.locator('path[data-disclosure="coarse"][data-shape="volume"]')).to_have_count(0)
    expect(page.locator(f'path[data-declaration="{w.flight}"]')).to_have_count(0)  # partner: no agreement
    expect(page.locator("#notifications li[data-notification]")).to_have_count(2)  # the activity, the conflict

    # open everything the page offers: each timeline entry's details, each shape's popup
    for button in page.locator("#timeline li[data-declaration] button").all():
        button.click()
    for path in page.locator("path[data-declaration]").all():
        path.dispatch_event("click")
    page.locator(f'#timeline li[data-declaration="{w.activity}"] button').click()
    expect(page.locator("#details")).to_contain_text("Activity by coalition")
    expect(page.locator("#details")).to_contain_text("coarse")
    shot(page, "humanitarian.png")
    _nothing_beyond_disclosure(page)

    # and the replay of the record shows no more than it was told: the activity as coarse cells, untitled
    from deconflict.service.scheduler import tick

    tick(service.state)  # the ledger: staged entries into the log, a signed tree head
    page.get_by_role("button", name="Replay the record").click()
    replayed = page.locator(f'#replay-decls li[data-declaration="{w.activity}"]')
    expect(replayed).to_contain_text("COARSE")
    expect(page.locator(f'path[data-replay-declaration="{w.activity}"][data-precision="coarse"]').first
           ).to_be_attached()
    expect(page.locator(f'path[data-replay-declaration="{w.flight}"]')).to_have_count(0)
    for path in page.locator("path[data-replay-declaration]").all():
        path.dispatch_event("click")
    _nothing_beyond_disclosure(page)


def _nothing_beyond_disclosure(page: Page) -> None:
    """The humanitarian party's page holds none of what its agreements keep from it."""
    html = page.content()
    stored = page.evaluate("() => JSON.stringify(Object.fromEntries(Object.entries(sessionStorage)))")
    for text in (html, stored):
        assert SECRET_TITLE not in text
        assert "SAM site" not in text
        assert "Medevac" not in text
        for lat, lng in SECRET_VERTICES:
            assert str(lat) not in text and str(lng) not in text


def test_without_the_browser_libraries_the_page_says_how_to_install_them(service: RunningService,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from deconflict.web import ui

    monkeypatch.setattr(ui, "leaflet_dir", lambda: None)
    with httpx.Client(base_url=service.url) as http:
        r = http.get("/ui/")
        assert r.status_code == 503
        assert "make setup" in r.text and "npm ci" in r.text
        assert http.get("/ui/vendor/leaflet/leaflet.css").status_code == 404
        assert http.get("/v1/health").status_code == 200


def _utc_input(hours: float) -> str:
    """A `datetime-local` field's value `hours` from now (the form reads it as UTC)."""
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


def test_declare_by_drawing_shows_the_conflicts_first(service: RunningService, browser: Browser) -> None:
    w = seed(service)
    page = open_as(browser, service, w.apis["partner"])
    page.get_by_text("Declare a volume").click()
    # centre the map on the coalition's activity, then draw a polygon inside it, vertex by vertex
    page.locator(f'#timeline li[data-declaration="{w.activity}"] button').click()
    page.locator(".leaflet-popup-close-button").click()
    box = page.locator(f'path[data-declaration="{w.activity}"]').bounding_box()
    frame = page.locator("#map").bounding_box()
    assert box is not None and frame is not None
    page.get_by_role("button", name="Draw polygon on map").click()
    corners = [(0.3, 0.55), (0.7, 0.55), (0.7, 0.85), (0.3, 0.85)]
    points = [(box["x"] - frame["x"] + fx * box["width"], box["y"] - frame["y"] + fy * box["height"])
              for fx, fy in corners]
    for x, y in points:
        page.locator("#map").click(position={"x": x, "y": y})
    page.locator("#map").click(position={"x": points[0][0], "y": points[0][1]})  # the first vertex closes it
    expect(page.locator("#draw-status")).to_contain_text("Polygon closed with 4 vertices")
    expect(page.locator('path[data-sketch="yes"]')).to_have_count(1)
    page.get_by_label("Kind").select_option("flight")
    page.get_by_label("Title").fill("Medevac 8")
    page.get_by_label("Altitude lower").fill("0")
    page.get_by_label("Altitude upper").fill("1000")
    page.get_by_label("Start (UTC)").fill(_utc_input(1.5))
    page.get_by_label("End (UTC)").fill(_utc_input(2))
    # before anything is filed: the conflict with the coalition's activity, and nothing written yet
    conflict = page.locator(f'#preview li[data-other="{w.activity}"]')
    expect(conflict).to_contain_text("CONFLICT with coalition's activity (full)")
    expect(page.locator("#declare-form")).to_have_attribute("data-previewed", "yes")
    assert w.apis["partner"].get("/v1/declarations", params={"scope": "own"}).json()["declarations"].__len__() == 1
    expect(page.locator("#preview li[data-late-for]")).to_have_count(0)  # a flight owes the coalition no notice
    shot(page, "declare.png")
    # as an activity it would: 1 h 30 min against the 2 h agreed, and the preview says so before filing
    page.get_by_label("Kind").select_option("activity")
    expect(page.locator('#preview li[data-late-for="coalition"]')).to_contain_text("LATE notice to coalition")
    page.get_by_label("Kind").select_option("flight")
    expect(page.locator("#preview li[data-late-for]")).to_have_count(0)

    # a bad field is refused by the service, and the form says which
    page.get_by_label("Altitude lower").fill("2000")
    page.get_by_role("button", name="Declare", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="Altitude lower")).to_contain_text(
        "volumes[0].volume.altitude_lower")
    expect(page.get_by_label("Altitude lower")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Altitude lower").fill("0")
    page.get_by_role("button", name="Declare", exact=True).click()
    expect(page.locator("#declare-status")).to_contain_text("Declared Medevac 8 (")
    own = w.apis["partner"].get("/v1/declarations", params={"scope": "own"}).json()["declarations"]
    (new,) = [d for d in own if d["title"] == "Medevac 8"]
    assert len(new["volumes"][0]["volume"]["outline_polygon"]["vertices"]) == 4
    assert new["volumes"][0]["volume"]["altitude_upper"]["value"] == 1000
    expect(page.locator(f'#timeline li[data-declaration="{new["id"]}"]')).to_contain_text("Medevac 8")
    expect(page.locator(f'#timeline li[data-declaration="{new["id"]}"]')).to_contain_text("CONFLICT")
    expect(page.locator(f'path[data-declaration="{new["id"]}"][data-disclosure="own"]')).to_have_count(1)
    expect(page.locator('path[data-sketch="yes"]')).to_have_count(0)
    # the coalition hears of it as of any other declaration
    inbox = w.apis["coalition"].get("/v1/conflicts").json()["conflicts"]
    assert new["id"] in {c["other"]["declaration_id"] for c in inbox}


def _report(lat: float, lng: float, track: float, **ident: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {"time": datetime.now(UTC).isoformat(), "lat": lat, "lng": lng, "altitude_m": 3000.0,
            "ground_speed_mps": 100.0, "track_deg": track, "vertical_rate_mps": 0.0, **ident}


def test_live_tracks_and_alerts_on_the_map(service: RunningService, browser: Browser) -> None:
    from deconflict.service.scheduler import tick

    w = seed(service)
    assert w.apis["partner"].put("/v1/parties/me/assets", json={"icao24": ["abc123"]}).status_code == 200
    assert w.apis["coalition"].put("/v1/parties/me/assets", json={"asset_ids": ["drone-7"]}).status_code == 200
    page = open_as(browser, service, w.apis["partner"])
    ngo = open_as(browser, service, w.apis["ngo"])
    # the partner's aircraft head-on with the coalition's drone (18 km, closing at 200 m/s), and an unidentified
    # aircraft coming down from the north at it; an unidentified pair far away that concerns nobody here
    r = w.apis["partner"].post("/v1/tracks", json={"source": "radar", "reports": [
        _report(35.5, 36.0, 90.0, icao24="abc123", callsign="MEDEVAC7"),
        _report(35.5, 36.2, 270.0, asset_id="drone-7"),
        _report(35.6, 36.0, 180.0, icao24="fff002", callsign="GHOST1"),
        _report(40.0, 20.0, 90.0, icao24="fff003"), _report(40.0, 20.1, 270.0, icao24="fff004")]})
    assert r.status_code == 200 and r.json()["accepted"] == 5, r.text
    tick(service.state)
    own = page.locator('[data-track][data-category="own"]')
    expect(own).to_contain_text("OWN MEDEVAC7 3000 m")
    expect(page.locator('[data-track][data-category="other"]')).to_contain_text("OTHER coalition drone-7")
    expect(page.locator('[data-track][data-category="unidentified"]')).to_contain_text("UNIDENTIFIED GHOST1")
    expect(page.locator("[data-track]")).to_have_count(3)  # not the far pair
    alerts = page.locator("#alerts li[data-alert]")
    expect(alerts).to_have_count(3)
    expect(alerts.filter(has_text="drone-7")).to_contain_text("ALERT")
    expect(alerts.filter(has_text="GHOST1")).to_contain_text("OWN MEDEVAC7")
    # it flies outside its one flight declaration (Medevac 7: elsewhere, and later): non-conforming
    expect(alerts.filter(has_text="NON-CONFORMANCE")).to_contain_text(
        "OWN MEDEVAC7 is outside its declared flights")
    expect(page.locator("[data-cpa]")).to_have_count(2)
    expect(page.locator("path[data-alert-line]")).to_have_count(2)
    expect(page.locator("#notifications")).to_contain_text("Traffic alert")
    page.get_by_role("button", name="Zoom in").click()  # the aircraft's labels apart
    page.wait_for_timeout(500)  # the zoom animation, for the picture only
    shot(page, "ui.png")  # the README's: declarations, conflicts, traffic, alerts, the queue
    alerts.filter(has_text="drone-7").get_by_role("button").click()  # focuses the pair, by keyboard too
    shot(page, "tracks.png")
    # the record keeps the alerts as the partner was shown them: replayed, the pair and its positions
    tick(service.state)
    page.get_by_role("button", name="Replay the record").click()
    expect(page.locator("path[data-replay-alert]")).to_have_count(2)
    expect(page.locator('[data-replay-track="icao:abc123"]')).to_contain_text("abc123 3000 m")
    expect(page.locator("[data-track]")).to_have_count(0)  # the live aircraft are off the map
    expect(page.locator("#replay-alerts")).to_contain_text(
        "3 traffic alert(s) active then: 2 separation, 1 non-conformance")
    # the humanitarian party has no aircraft in this: it sees none of it
    expect(ngo.locator("#alerts")).to_contain_text("No traffic alerts")
    expect(ngo.locator("#track-count")).to_have_text("0 aircraft shown")
    expect(ngo.locator("[data-track]")).to_have_count(0)


def test_replay_scrubs_the_record_and_pauses_live_updates(service: RunningService, browser: Browser) -> None:
    import time
    from datetime import UTC, datetime, timedelta

    from deconflict.service.scheduler import tick

    w = seed(service)
    between = (datetime.now(UTC) + timedelta(seconds=1)).replace(microsecond=0)  # the form takes whole seconds
    time.sleep(2.2)
    r = w.apis["partner"].declare("flight", vol(35.6, 36.3, 2000, (2, 3), (0, 800)), title="Medevac 9")
    assert r.status_code == 201, r.text
    second = r.json()["declaration"]["id"]
    page = open_as(browser, service, w.apis["partner"])
    tick(service.state)  # the ledger: staged entries into the log, a signed tree head
    page.get_by_role("button", name="Replay the record").click()
    expect(page.locator("#live")).to_have_attribute("data-state", "paused")
    decls = page.locator("#replay-decls")
    expect(decls.locator(f'li[data-declaration="{second}"]')).to_contain_text("Medevac 9")
    expect(decls.locator(f'li[data-declaration="{w.flight}"]')).to_contain_text("Medevac 7")
    expect(page.locator(f'path[data-replay-declaration="{second}"]')).to_have_count(1)
    expect(page.locator("path[data-declaration]")).to_have_count(0)  # the live layers are off the map

    # the slider, by keyboard: to its start (a day ago, before anything was declared), and back to now
    slider = page.get_by_label("Replay time")
    slider.focus()
    page.keyboard.press("Home")
    expect(decls).to_contain_text("Nothing declared then")
    expect(page.locator("path[data-replay-declaration]")).to_have_count(0)
    page.keyboard.press("End")
    expect(page.locator(f'path[data-replay-declaration="{second}"]')).to_have_count(1)
    # a time between the two flights: the first is there, the second not yet
    page.get_by_label("At (UTC)").fill(between.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_label("At (UTC)").dispatch_event("change")
    expect(decls.locator(f'li[data-declaration="{second}"]')).to_have_count(0)
    expect(decls.locator(f'li[data-declaration="{w.flight}"]')).to_have_count(1)
    expect(page.locator(f'path[data-replay-declaration="{w.flight}"]')).to_have_count(1)
    shot(page, "replay.png")

    # live updates wait while replaying: a new declaration is not taken in, and is there once back to live
    r = w.apis["coalition"].declare("activity", vol(35.9, 36.6, 4000, (3, 4), (0, 3000)), title="Resupply drop")
    assert r.status_code == 201, r.text
    later = r.json()["declaration"]["id"]
    page.wait_for_timeout(1500)
    expect(page.locator("#notifications")).not_to_contain_text("Resupply drop")
    page.get_by_role("button", name="Back to live").click()
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    expect(page.locator(f'path[data-declaration="{later}"]')).to_have_count(1)
    expect(page.locator("#notifications")).to_contain_text("Resupply drop")
    expect(page.locator("path[data-replay-declaration]")).to_have_count(0)
    expect(page.get_by_role("button", name="Replay the record")).to_be_focused()


def test_declare_a_circle_by_keyboard_alone(service: RunningService, browser: Browser) -> None:
    w = seed(service)
    page = open_as(browser, service, w.apis["coalition"])
    page.locator("#declare summary").focus()
    page.keyboard.press("Enter")  # opens the form
    page.get_by_label("Circle").focus()
    page.keyboard.press("Space")
    expect(page.get_by_role("button", name="Draw circle on map")).to_be_visible()
    page.get_by_label("Centre").focus()
    page.keyboard.type("35.7, 36.9")
    page.keyboard.press("Tab")
    page.keyboard.type("1500")
    page.get_by_label("Title").focus()
    page.keyboard.type("Survey north")
    page.get_by_label("Start (UTC)").fill(_utc_input(4))
    page.get_by_label("End (UTC)").fill(_utc_input(5))
    expect(page.locator("#preview")).to_contain_text("No conflicts found")
    expect(page.locator('path[data-sketch="yes"]')).to_have_count(1)
    page.get_by_label("Title").focus()
    page.keyboard.press("Enter")  # submits
    expect(page.locator("#declare-status")).to_contain_text("Declared Survey north (no conflicts)")
    own = w.apis["coalition"].get("/v1/declarations", params={"scope": "own"}).json()["declarations"]
    (new,) = [d for d in own if d["title"] == "Survey north"]
    assert new["volumes"][0]["volume"]["outline_circle"]["radius"]["value"] == 1500
    expect(page.locator(f'#timeline li[data-declaration="{new["id"]}"]')).to_contain_text("Survey north")
