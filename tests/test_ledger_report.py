"""`deconflict report` (issue 5): a briefing of what a party knew at T, for the late-notice scenario, from the
store (--db) and from a running service (--url/--token). report.html is opened in the system Chromium: the map's
inline SVG has the volumes drawn, the timeline shows the declarations and the late notice, nothing is fetched
from anywhere; map.png is a real PNG of the map's size. The coarse viewer's report carries no secret title."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser
from typer.testing import CliRunner

from deconflict.cli import app
from deconflict.errors import InvalidInput
from deconflict.service.server import RunningService

from .service_helpers import ManualClock
from .test_ledger_picture import SECRET_TITLE, at, late_scenario
from .test_web_ui import browser  # noqa: F401  (the system Chromium, as the web UI tests launch it)

runner = CliRunner()


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _open(chromium: Browser, page_path: Path) -> tuple[Any, list[str]]:
    page = chromium.new_page()
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url))
    page.goto(page_path.as_uri())
    return page, fetched


def test_report_from_the_store_shows_the_late_notice_on_map_and_timeline(
    timed: RunningService, clock: ManualClock, browser: Browser, tmp_path: Path,  # noqa: F811
) -> None:
    scene = late_scenario(timed, clock)
    db = timed.state.db.url.render_as_string(hide_password=False)
    result = runner.invoke(app, ["report", "--party", "ngo", "--at", at(121), "--db", db, "-o", str(tmp_path)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "1 late" in result.output
    html = (tmp_path / "report.html").read_text()
    assert SECRET_TITLE not in html and "<script" not in html
    page, fetched = _open(browser, tmp_path / "report.html")
    try:
        for decl in (scene["declaration"], scene["own"]):  # the coarse cells and the NGO's own circle
            shape = page.locator(f"#map svg [id='decl-{decl}'] path")
            assert shape.count() == 1
            assert len(shape.get_attribute("d") or "") > 40  # a drawn outline, not an empty path
            assert page.locator(f"#timeline svg [id='timeline-decl-{decl}']").count() == 1
        assert page.locator(f"#timeline svg [id='timeline-notice-{scene['to_ngo']}']").count() >= 3
        assert page.locator("#timeline svg [id='timeline-at']").count() == 1
        timeline = page.locator("#timeline").inner_text()
        assert "LATE" in timeline and "food drop" in timeline and "acknowledged (request_hold)" in timeline
        assert page.locator("#map svg").bounding_box()["width"] > 300  # type: ignore[index]
        assert [u for u in fetched if not u.startswith(("file:", "data:"))] == []
    finally:
        page.close()
    width, height = _png_size((tmp_path / "map.png").read_bytes())
    assert (width, height) == (900, 700)


def test_report_through_the_service_with_the_partys_token(
    timed: RunningService, clock: ManualClock, browser: Browser, tmp_path: Path,  # noqa: F811
) -> None:
    scene = late_scenario(timed, clock)
    token = scene["apis"]["med"].token
    result = runner.invoke(app, ["report", "--at", at(302), "--url", timed.url, "--token", token,
                                 "-o", str(tmp_path)])
    assert result.exit_code == 0, (result.output, result.exception)
    page, _ = _open(browser, tmp_path / "report.html")
    try:
        assert page.locator(f"#map svg [id='decl-{scene['declaration']}'] path").count() == 1
        timeline = page.locator("#timeline").inner_text()
        assert SECRET_TITLE in timeline and "LATE" in timeline and "escalated" in timeline  # full disclosure
    finally:
        page.close()
    bad = runner.invoke(app, ["report", "--at", "noon", "--url", timed.url, "--token", token, "-o", str(tmp_path)])
    assert isinstance(bad.exception, InvalidInput) and "'noon' is not an RFC 3339 time" in str(bad.exception)
    neither = runner.invoke(app, ["report", "--at", at(1), "-o", str(tmp_path)])
    assert isinstance(neither.exception, InvalidInput) and neither.exception.field == "--db"


def test_the_map_draws_tracks_and_the_alerts_between_them() -> None:
    from deconflict.report import render_report

    picture = {
        "at": "2030-06-01T08:05:00Z", "party_id": "x", "tree_size": 9, "declarations": [], "notifications": [],
        "alerts": [{"id": "a1", "state": "active", "raised_at": "2030-06-01T08:04:00Z", "parties": ["x"],
                    "tracks": [{"key": "asset:x-1", "lat": 35.0, "lng": 36.0, "alt_m": 900.0},
                               {"key": "alert:a1:other", "lat": 35.02, "lng": 36.03, "alt_m": 950.0}]}],
        "tracks": [{"key": "asset:x-1", "lat": 35.0, "lng": 36.0, "alt_m": 900.0, "t": "2030-06-01T08:04:00Z"},
                   {"key": "alert:a1:other", "lat": 35.02, "lng": 36.03, "alt_m": 950.0,
                    "t": "2030-06-01T08:04:00Z"}],
    }
    html, png = render_report(picture)
    for gid in ("track-asset:x-1", "track-alert:a1:other", "alert-a1", "timeline-at"):
        assert f'id="{gid}"' in html, gid
    assert "asset:x-1 900 m" in html and _png_size(png) == (900, 700)
