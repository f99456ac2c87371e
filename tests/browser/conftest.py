"""A live `qtc run --demo` on 127.0.0.1 and Debian's Chromium driven by Playwright, with every
request the page makes checked to stay on 127.0.0.1."""

from __future__ import annotations

import os
import re
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright
from tests.support.processes import Processes
from tests.support.waiting import wait_until

CHROMIUM = Path(os.environ.get("QTC_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
KEY_LINE = re.compile(r"API key for team (\w+): (\S+)")
# slow enough to click before the demo's stale canceler cancels its own orders (5 minutes)
SPEED = "20"


@dataclass
class LiveRun:
    """The run's base URL and the keys it printed for the demo teams."""

    url: str
    keys: dict[str, str]
    out: Path


@dataclass
class Requests:
    """Every URL the browser asked for, and those that would have left 127.0.0.1 (refused)."""

    seen: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QTC_", "ALPACA_", "APCA_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRun]:
    folder = tmp_path_factory.mktemp("run")
    port = free_port()
    command = [sys.executable, "-m", "qtc", "run", "--demo", "--quiet", "--speed", SPEED]
    command += ["--data-dir", str(folder / "data"), "--log-file", str(folder / "qtc.log")]
    command += ["--api-port", str(port)]
    out = folder / "run.out"
    with Processes() as started:
        run = started.start(command, out, _env())

        def keys() -> dict[str, str] | None:
            assert run.poll() is None, out.read_text()
            found = dict(KEY_LINE.findall(out.read_text()))
            return found if len(found) == 3 and "API http" in out.read_text() else None

        yield LiveRun(f"http://127.0.0.1:{port}", wait_until(keys, 60, "the demo's keys"), out)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium; "
            "or set QTC_CHROMIUM); .ci/run installs it",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page_and_requests(browser: Browser) -> Iterator[tuple[Page, Requests]]:
    requests = Requests()
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def guard(route: Route) -> None:
        url = route.request.url
        requests.seen.append(url)
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith("data:"):
            route.continue_()
        else:
            requests.outside.append(url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    yield page, requests
    context.close()
    assert requests.outside == [], f"requests that would have left 127.0.0.1: {requests.outside}"


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ and print where."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
