"""A team changes its strategy from the team page in a real headless Chromium: a good upload
becomes the active version and the run swaps to it, a bad one lists its reasons and changes
nothing, and Roll back returns to the version before."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.support.waiting import wait_until

from .conftest import LiveRun, Requests, screenshot

pytestmark = pytest.mark.browser
LIVE = 60_000  # ms
TEAM = "buyhold"
GOOD = b"""class Strategy:
    def __init__(self, **params):
        pass

    def generate_signal(self, team, bars, current_prices):
        return None
"""
EVERY_ORDER_TYPE = (
    Path(__file__).parents[2] / "examples" / "every_order_type" / "strategy.py"
).read_bytes()
BROKEN = b"""class Strategy:
    def generate_signal(self, team, bars, current_prices)
        return None
"""


def _versions(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("#versions tbody td:first-child").all_inner_texts()]


def _active(page: Page) -> str | None:
    return page.locator('#versions tbody tr[data-active="true"]').get_attribute("data-version")


def test_a_team_uploads_is_refused_with_reasons_and_rolls_back_from_its_page(
    live_run: LiveRun, page_and_requests: tuple[Page, Requests]
) -> None:
    page, _ = page_and_requests
    key = live_run.keys[TEAM]
    page.goto(live_run.url + "/team")
    page.get_by_label("Team API key").fill(key)
    page.get_by_role("button", name="Open console").click()
    expect(page.locator("#strategy-panel")).to_be_visible(timeout=LIVE)
    expect(page.locator("#versions tbody tr")).to_have_count(1, timeout=LIVE)
    assert _active(page) == "1"

    files = page.get_by_label("Strategy files")
    files.set_input_files({"name": "strategy.py", "mimeType": "text/x-python", "buffer": GOOD})
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#versions tbody tr")).to_have_count(2, timeout=LIVE)
    expect(page.locator('#versions tbody tr[data-version="2"]')).to_have_attribute(
        "data-active", "true"
    )
    api = httpx.Client(base_url=live_run.url, headers={"X-API-Key": key}, timeout=10)

    def swapped() -> bool:
        errors = api.get(f"/api/v1/team/{TEAM}/errors", params={"limit": 100}).json()["errors"]
        return any("now runs strategy v2" in e["message"] for e in errors)

    wait_until(swapped, 60, "the run to swap the team to v2")

    files.set_input_files({"name": "strategy.py", "mimeType": "text/x-python", "buffer": BROKEN})
    page.get_by_role("button", name="Upload").click()
    answer = page.locator("#strategy-answer")
    expect(answer).to_contain_text("Refused (nothing changed)", timeout=LIVE)
    expect(answer.locator("li").first).to_contain_text("strategy.py:2", timeout=LIVE)
    screenshot(page, "team-strategy-refused.png")
    assert _versions(page) == ["v2", "v1"]
    assert api.get(f"/api/v1/team/{TEAM}/strategy").json()["active"] == 2

    page.get_by_role("button", name="Roll back").click()
    expect(page.locator('#versions tbody tr[data-version="1"]')).to_have_attribute(
        "data-active", "true", timeout=LIVE
    )
    assert api.get(f"/api/v1/team/{TEAM}/strategy").json()["active"] == 1
    screenshot(page, "team-strategy.png")


def test_a_team_sees_every_order_type_with_its_prices_and_legs(
    live_run: LiveRun, page_and_requests: tuple[Page, Requests]
) -> None:
    page, _ = page_and_requests
    team = "meanrev"
    page.goto(live_run.url + "/team")
    page.get_by_label("Team API key").fill(live_run.keys[team])
    page.get_by_role("button", name="Open console").click()
    expect(page.locator("#strategy-panel")).to_be_visible(timeout=LIVE)
    page.get_by_label("Strategy files").set_input_files(
        {"name": "strategy.py", "mimeType": "text/x-python", "buffer": EVERY_ORDER_TYPE}
    )
    page.get_by_role("button", name="Upload").click()
    history = page.locator("#orders tbody tr")
    # the type column names the group; the prices column what makes each order
    for kind, prices in [
        ("limit (bracket)", "limit "),
        ("limit (bracket leg)", "limit "),
        ("stop (bracket leg)", "stop "),
        ("stop (oto leg)", "stop "),
        ("stop_limit", "stop "),
        ("trailing_stop", "trail 0.05%"),
        ("market", "$1000"),
    ]:
        row = history.filter(has=page.locator("td:nth-child(5)", has_text=kind)).filter(
            has=page.locator("td:nth-child(6)", has_text=prices)
        )
        expect(row.first).to_be_visible(timeout=LIVE)
    replaced = history.filter(has=page.locator("td:nth-child(9)", has_text="replaced"))
    expect(replaced.first).to_be_visible(timeout=LIVE)
    screenshot(page, "team-order-types.png")
