"""The operations picture against the real demo (`deconflict demo`), as the humanitarian party sees it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from .test_web_ui import VIEWPORT, browser  # noqa: F401

DRONE_TITLES = ["Damage survey drones", "Reconnaissance drone, replanned"]  # drone-ops discloses only coarse cells


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    tokens_file = tmp_path / "tokens.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "deconflict.cli", "demo", "--port", "0", "--tokens-out", str(tokens_file),
         "--speed", "1000"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert proc.stdout is not None
        output = ""
        for line in proc.stdout:
            output += line
            if "is running at" in line:
                break
        found = re.search(r"running at (http://\S+)", output)
        assert found is not None, output
        yield found.group(1), json.loads(tokens_file.read_text())
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        if proc.stdout:
            proc.stdout.close()


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
    assert not errors, errors
