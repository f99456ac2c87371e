"""The competition's two existing client scripts, run unchanged against a live API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Stack

# The organisers' scripts, kept unchanged in the repository (QTC_CLIENTS_DIR: another copy).
CLIENTS = Path(os.environ.get("QTC_CLIENTS_DIR", Path(__file__).resolve().parents[1] / "clients"))
LIST_SCRIPT = CLIENTS / "list_open_orders.sh"
CANCEL_SCRIPT = CLIENTS / "cancel_gtc_orders.py"


def _run(stack: Stack, *command: str) -> str:
    env = dict(os.environ, BASE_URL=stack.base_url, API_KEY=stack.key["alpha"], TEAM_ID="alpha")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _jq_objects(text: str) -> list[dict[str, object]]:
    """The concatenated pretty-printed JSON objects jq prints."""
    decoder = json.JSONDecoder()
    objects, at = [], 0
    text = text.strip()
    while at < len(text):
        obj, end = decoder.raw_decode(text, at)
        objects.append(obj)
        at = end
        while at < len(text) and text[at].isspace():
            at += 1
    return objects


def test_the_original_clients_list_and_cancel_gtc_orders(stack: Stack) -> None:
    missing = [tool for tool in ("curl", "jq") if shutil.which(tool) is None]
    assert not missing, f"list_open_orders.sh needs {missing} (apt-get install -y curl jq)"
    assert LIST_SCRIPT.is_file() and CANCEL_SCRIPT.is_file(), f"client scripts not in {CLIENTS}"
    partial = stack.place("alpha", "AAPL", "buy", "300", "99.5", tif="gtc")
    resting = stack.place("alpha", "NVDA", "buy", "2", "450", tif="gtc")
    day = stack.place("alpha", "AAPL", "buy", "1", "90", tif="day")
    stack.place("beta", "AAPL", "buy", "1", "90", tif="gtc")
    stack.trade_minute("AAPL", low="99", high="101", volume="1000")  # fills 100 of 300
    stack.wait_for(
        lambda: stack.tracker.get_order("alpha", partial.order_id).filled_qty == 100,
        "the partial fill",
    )

    listing = _run(stack, "bash", str(LIST_SCRIPT))
    head, _, details = listing.partition("Order details:")
    assert head.startswith("Open orders:")
    assert _jq_objects(head.removeprefix("Open orders:")) == [
        {"symbol": "AAPL", "status": "partially_filled", "filled_qty": "100", "quantity": "300"},
        {"symbol": "NVDA", "status": "new", "filled_qty": "0", "quantity": "2"},
        {"symbol": "AAPL", "status": "new", "filled_qty": "0", "quantity": "1"},
    ]
    (first,) = _jq_objects(details)
    assert first["order_id"] == partial.order_id and first["time_in_force"] == "gtc"

    printed = _run(stack, sys.executable, str(CANCEL_SCRIPT)).splitlines()
    assert len(printed) == 2
    assert printed[0].startswith("Cancelled AAPL order: {'success': True")
    assert printed[1].startswith("Cancelled NVDA order: {'success': True")
    assert partial.order_id in printed[0] and resting.order_id in printed[1]

    def status(order_id: str) -> str:
        return stack.tracker.get_order("alpha", order_id).status.value

    stack.wait_for(
        lambda: status(partial.order_id) == status(resting.order_id) == "canceled",
        "both GTC orders canceled",
    )
    assert status(day.order_id) == "new"
    assert stack.tracker.get_order("alpha", partial.order_id).filled_qty == 100
    ledger = [
        json.loads(line)
        for line in (stack.data_dir / "team" / "alpha" / "trades.jsonl").read_text().splitlines()
    ]
    assert [(t["order_id"], t["quantity"]) for t in ledger] == [(partial.order_id, "100")]
    assert sum(Decimal(t["quantity"]) for t in ledger) == 100

    after = _run(stack, "bash", str(LIST_SCRIPT))
    objects = _jq_objects(after.partition("Order details:")[0].removeprefix("Open orders:"))
    assert objects == [{"symbol": "AAPL", "status": "new", "filled_qty": "0", "quantity": "1"}]
    assert _run(stack, sys.executable, str(CANCEL_SCRIPT)) == ""
