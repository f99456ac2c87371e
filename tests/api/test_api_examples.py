"""The project's own example clients (examples/clients/) work against a live API."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Stack

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "clients"


def _env(stack: Stack) -> dict[str, str]:
    return dict(
        os.environ, QTC_URL=stack.base_url, QTC_TEAM="alpha", QTC_API_KEY=stack.key["alpha"]
    )


def _run(stack: Stack, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        env=_env(stack),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_list_and_cancel_examples(stack: Stack) -> None:
    order = stack.place("alpha", "NVDA", "buy", "2", "450")
    listed = _run(stack, "open_orders.py")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "1 open orders for alpha",
        f"{order.order_id}  buy  0/2 NVDA @ 450 (gtc, new)",
    ]
    canceled = _run(stack, "cancel_order.py", order.order_id)
    assert canceled.returncode == 0, canceled.stderr
    assert canceled.stdout.startswith(f"cancel requested for order {order.order_id}")
    stack.wait_for(lambda: not stack.tracker.get_order("alpha", order.order_id).is_open, "cancel")
    again = _run(stack, "cancel_order.py", order.order_id)
    assert again.returncode == 1
    assert again.stdout.strip() == f"not canceled (409): order {order.order_id} is already canceled"


def test_watch_example_prints_the_fill(stack: Stack) -> None:
    order = stack.place("alpha", "AAPL", "buy", "5", "99")
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "watch_orders.py"), "2"],
        env=_env(stack),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(30, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "connected"
        stack.trade_minute("AAPL", low="98", high="101", volume="1000")
        out, err = proc.communicate(timeout=30)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.splitlines() == [
        f"fill  {order.order_id} buy 5 AAPL @ 99",
        f"order {order.order_id} filled 5/5 AAPL",
    ]
