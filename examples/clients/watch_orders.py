"""Print a team's order updates and fills as they happen (Server-Sent Events, stdlib only).

QTC_URL=http://127.0.0.1:8000 QTC_TEAM=alpha QTC_API_KEY=... python watch_orders.py [MAX]
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request


def main(max_events: int | None = None) -> None:
    """Follow the stream; stop after `max_events` events (default: never)."""
    team = os.environ["QTC_TEAM"]
    request = urllib.request.Request(
        f"{os.environ.get('QTC_URL', 'http://127.0.0.1:8000')}/api/v1/team/{team}/orders/stream",
        headers={"X-API-Key": os.environ["QTC_API_KEY"], "Accept": "text/event-stream"},
    )
    seen = 0
    kind = ""
    with urllib.request.urlopen(request, timeout=60) as stream:
        for raw in stream:
            line = raw.decode().rstrip("\n")
            if line == ": connected":
                print("connected", flush=True)
            elif line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
                if kind == "fill":
                    print(
                        f"fill  {data['order_id']} {data['side']} {data['quantity']} "
                        f"{data['symbol']} @ {data['execution_price']}",
                        flush=True,
                    )
                else:
                    print(
                        f"order {data['order_id']} {data['status']} "
                        f"{data['filled_qty']}/{data['quantity']} {data['symbol']}",
                        flush=True,
                    )
                seen += 1
                if max_events is not None and seen >= max_events:
                    return


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else None)
