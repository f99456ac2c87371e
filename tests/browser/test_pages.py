"""The leaderboard and the team console in a real headless Chromium against a live demo run."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import LiveRun, Requests, screenshot

pytestmark = pytest.mark.browser
LIVE = 60_000  # ms: a few of the run's minutes


def _cells(page: Page, selector: str) -> list[str]:
    return [text.strip() for text in page.locator(selector).all_inner_texts()]


def test_the_leaderboard_renders_sorts_and_updates_live(
    live_run: LiveRun, page_and_requests: tuple[Page, Requests]
) -> None:
    page, requests = page_and_requests
    page.goto(live_run.url + "/")
    rows = page.locator("#board tbody tr")
    expect(rows).to_have_count(3, timeout=LIVE)
    assert sorted(_cells(page, "#board tbody td:nth-child(2)")) == ["buyhold", "meanrev", "stale"]
    expect(page.locator("#market")).to_have_text("market open", timeout=LIVE)
    expect(page.locator("#chart canvas")).to_have_count(1, timeout=LIVE)

    minute = page.locator("#last-minute").inner_text()
    expect(page.locator("#last-minute")).not_to_have_text(minute, timeout=LIVE)  # no reload

    page.get_by_role("button", name="Team").click()
    assert _cells(page, "#board tbody td:nth-child(2)") == ["buyhold", "meanrev", "stale"]
    assert page.locator('th[data-key="team_id"]').get_attribute("aria-sort") == "ascending"
    page.get_by_role("button", name="Team").press("Enter")  # the keyboard sorts too
    assert _cells(page, "#board tbody td:nth-child(2)") == ["stale", "meanrev", "buyhold"]
    assert page.locator('th[data-key="team_id"]').get_attribute("aria-sort") == "descending"
    screenshot(page, "leaderboard.png")
    assert any("/api/v1/leaderboard/history" in url for url in requests.seen)


def test_a_wrong_key_is_refused_and_shows_no_data(
    live_run: LiveRun, page_and_requests: tuple[Page, Requests]
) -> None:
    page, _ = page_and_requests
    page.goto(live_run.url + "/team")
    page.get_by_label("Team API key").fill("not-a-team-key")
    page.get_by_role("button", name="Open console").click()
    expect(page.locator("#login-error")).to_contain_text("401", timeout=LIVE)
    expect(page.locator("#console")).to_be_hidden()
    assert page.locator("#open-orders tbody tr").count() == 0
    assert page.evaluate("sessionStorage.getItem('qtc.team_key')") is None


def test_a_team_sees_fills_live_and_cancels_a_partly_filled_order(
    live_run: LiveRun, page_and_requests: tuple[Page, Requests]
) -> None:
    page, requests = page_and_requests
    key = live_run.keys["stale"]
    page.goto(live_run.url + "/team")
    page.get_by_label("Team API key").fill(key)
    page.get_by_role("button", name="Open console").click()
    expect(page.locator("#team-name")).to_have_text("· stale", timeout=LIVE)
    expect(page.locator("#summary")).to_contain_text("Free cash")
    expect(page.locator("#live")).to_contain_text("live", timeout=LIVE)

    newest = page.locator("#fills tbody tr").first
    before = newest.inner_text() if newest.count() else ""
    # a new fill arrives over the SSE stream and is shown first, without a reload
    expect(newest).not_to_have_text(before, timeout=LIVE)
    partial = page.locator("#open-orders tbody tr", has_text="partially_filled").first
    expect(partial).to_be_visible(timeout=LIVE)
    order_id = partial.get_attribute("data-order")
    assert order_id
    filled = partial.locator("td:nth-child(7)").inner_text()
    partial.get_by_role("button", name=f"Cancel order {order_id}").click()
    expect(page.locator("#cancel-answer")).to_contain_text(
        f"cancel requested for order {order_id}", timeout=LIVE
    )
    row = page.locator(f'#orders tbody tr[data-order="{order_id}"]')
    expect(row.locator("td:nth-child(9)")).to_have_text("canceled", timeout=LIVE)
    kept = row.locator("td:nth-child(7)").inner_text()
    assert float(kept) >= float(filled) > 0  # the partial fill stays
    expect(page.locator(f'#open-orders tbody tr[data-order="{order_id}"]')).to_have_count(0)
    assert page.locator("#fills tbody tr", has_text=order_id).count() >= 1
    screenshot(page, "team.png")
    assert not [url for url in requests.seen if key in url], "the key must never be in a URL"


def test_docs_load_with_no_outside_request(
    live_run: LiveRun, page_and_requests: tuple[Page, Requests]
) -> None:
    page, requests = page_and_requests
    page.goto(live_run.url + "/docs")
    expect(page.locator(".swagger-ui .information-container")).to_be_visible(timeout=LIVE)
    assert any(url.endswith("/openapi.json") for url in requests.seen)


@pytest.mark.parametrize("path", ["/", "/team"])
def test_the_pages_fit_a_phone_screen(live_run: LiveRun, browser: Browser, path: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(live_run.url + path)
        expect(page.locator("h1")).to_be_visible(timeout=LIVE)
        if path == "/":
            expect(page.locator("#board tbody tr")).to_have_count(3, timeout=LIVE)
        # wide tables scroll inside their panel; the page itself never scrolls sideways
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow} px wider than a phone's screen"
        screenshot(
            page,
            f"phone{path.replace('/', '-') or '-'}.png".replace("phone-.png", "phone-board.png"),
        )
    finally:
        context.close()
