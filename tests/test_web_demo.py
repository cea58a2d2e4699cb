"""The operations picture against the real demo (`deconflict demo`), as the humanitarian party sees it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from .service_helpers import running_demo
from .test_web_ui import VIEWPORT, browser  # noqa: F401

DRONE_TITLES = ["Damage survey drones", "Reconnaissance drone, replanned"]  # drone-ops discloses only coarse cells


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    with running_demo(tmp_path) as (url, tokens, _output, _file):
        yield url, tokens


def test_the_relief_ngo_sees_the_demo_as_disclosed(demo: tuple[str, dict[str, str]],
                                                    browser: Browser) -> None:  # noqa: F811
    url, tokens = demo
    page = browser.new_context(viewport=VIEWPORT).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/ui/")
    page.get_by_label("Party API token").fill(tokens["relief-ngo"])
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    # its own declarations in full, the coalition's in full, the drone operator's as coarse cells only
    expect(page.locator('path[data-disclosure="own"]').first).to_be_visible()
    expect(page.locator('path[data-disclosure="full"]').first).to_be_attached()
    expect(page.locator('[data-disclosure="coarse"]').first).to_be_attached()
    # the strike's notice waits for its acknowledgement; the gunship sweep (acknowledged in the drill with a request
    # to hold) is on the timeline, and the record says it came late
    expect(page.locator("#notifications")).to_contain_text("Air strike area north")
    expect(page.locator("#timeline")).to_contain_text("Gunship sweep")
    told = httpx.get(f"{url}/v1/notifications", params={"pending": "false"},
                     headers={"Authorization": f"Bearer {tokens['relief-ngo']}"}).json()["notifications"]
    sweep = next(n for n in told if "Gunship" in str(n["payload"]))
    assert sweep["late"] is True and sweep["ack_reply"] == "request_hold"
    content = page.content() + json.dumps(page.evaluate("() => ({...sessionStorage})"))
    for title in DRONE_TITLES:
        assert title not in content
    # the record of the drill, replayed: the sweep's late notice is there, and still no drone titles
    page.get_by_role("button", name="Replay the record").click()
    expect(page.locator("#replay-status")).to_contain_text("The record at")
    expect(page.locator("#replay-notes li", has_text="LATE").first).to_be_attached()
    expect(page.locator("path[data-replay-declaration]").first).to_be_attached()
    content = page.content()
    for title in DRONE_TITLES:
        assert title not in content
    assert not errors, errors
