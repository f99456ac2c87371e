"""The pages against a live `qtc run` on the Alpaca adapter (alpaca-py against `qtc exchange`
on 127.0.0.1): the leaderboard lists the teams, a team sees a fill arrive live and cancels a
resting order with a click, and the exchange agrees that it is canceled."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.e2e.conftest import STRATEGIES, Exchange, issue_key, start_exchange
from tests.support.processes import Processes
from tests.support.waiting import wait_until

from .conftest import Requests, free_port, screenshot

pytestmark = pytest.mark.browser
START = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # a Friday: the market is open
RESTING = Path(__file__).parent / "strategies" / "resting"
LIVE = 60_000  # ms


@dataclass
class AlpacaRun:
    url: str
    keys: dict[str, str]
    exchange: Exchange


@pytest.fixture(scope="module")
def alpaca_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlpacaRun]:
    folder = tmp_path_factory.mktemp("alpaca")
    data = folder / "data"
    port = free_port()
    with Processes() as started:
        exchange = start_exchange(started, folder, seed=5, start=START, symbols=["BTC/USD"])
        keys = {team: issue_key(team, data) for team in ("buyer", "resting")}
        run = started.start(
            [
                sys.executable, "-m", "qtc", "run",
                "--teams", f"buyer;{STRATEGIES / 'steady_buyer'};strategy:Strategy;100000",
                "--teams", f"resting;{RESTING};strategy:Strategy;100000",
                "--market", "simulated", "--symbols", "BTC/USD", "--start", START.isoformat(),
                "--speed", "400", "--duration", "5000", "--reconcile-interval", "2",
                "--data-dir", str(data), "--api-port", str(port), "--quiet",
                "--log-file", str(folder / "run.log"),
            ],
            folder / "run.out",
            exchange.run_env(),
        )  # fmt: skip

        def serving() -> bool:
            assert run.poll() is None, (folder / "run.out").read_text()[-3000:]
            return "API http" in (folder / "run.out").read_text()

        wait_until(serving, 60, "the Alpaca-mode run's API")
        yield AlpacaRun(f"http://127.0.0.1:{port}", keys, exchange)


def _open_console(page: Page, url: str, key: str) -> None:
    page.goto(url + "/team")
    page.get_by_label("Team API key").fill(key)
    page.get_by_role("button", name="Open console").click()
    expect(page.locator("#live")).to_contain_text("live", timeout=LIVE)


def test_the_leaderboard_lists_the_alpaca_run_teams(
    alpaca_run: AlpacaRun, page_and_requests: tuple[Page, Requests]
) -> None:
    page, _ = page_and_requests
    page.goto(alpaca_run.url + "/")
    expect(page.locator("#board tbody tr")).to_have_count(2, timeout=LIVE)
    teams = sorted(
        t.strip() for t in page.locator("#board tbody td:nth-child(2)").all_inner_texts()
    )
    assert teams == ["buyer", "resting"]


def test_a_fill_arrives_live_and_a_resting_order_is_canceled_at_the_exchange(
    alpaca_run: AlpacaRun, page_and_requests: tuple[Page, Requests]
) -> None:
    page, _ = page_and_requests
    _open_console(page, alpaca_run.url, alpaca_run.keys["buyer"])
    fills = page.locator("#fills tbody tr")
    before = fills.count()

    def filled() -> bool:
        if fills.count() > before:
            return True
        alpaca_run.exchange.advance(1)  # the buyer's market order fills at the next minute
        return False

    wait_until(filled, 30, "a fill shown live in the buyer's console")

    page.get_by_role("button", name="Sign out").click()
    _open_console(page, alpaca_run.url, alpaca_run.keys["resting"])
    resting = page.locator("#open-orders tbody tr").first
    expect(resting).to_be_visible(timeout=LIVE)
    order_id = resting.get_attribute("data-order")
    assert order_id
    resting.get_by_role("button", name=f"Cancel order {order_id}").click()
    expect(page.locator("#cancel-answer")).to_contain_text(order_id, timeout=LIVE)
    row = page.locator(f'#orders tbody tr[data-order="{order_id}"]')
    expect(row.locator("td:nth-child(9)")).to_have_text("canceled", timeout=LIVE)
    at_exchange = alpaca_run.exchange.alpaca_get(
        f"/v2/orders:by_client_order_id?client_order_id={order_id}"
    )
    assert at_exchange["status"] == "canceled"
    screenshot(page, "team-alpaca.png")
