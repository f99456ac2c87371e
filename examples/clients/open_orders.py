"""List a team's open orders (standard library only).

QTC_URL=http://127.0.0.1:8000 QTC_TEAM=alpha QTC_API_KEY=... python open_orders.py
"""

from __future__ import annotations

import json
import os
import urllib.request


def get(path: str) -> dict:
    """GET a JSON document from the API with the team's key in the X-API-Key header."""
    request = urllib.request.Request(
        os.environ.get("QTC_URL", "http://127.0.0.1:8000") + path,
        headers={"X-API-Key": os.environ["QTC_API_KEY"]},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def main() -> None:
    """Print one line per open order: id, side, quantity filled of ordered, symbol, status."""
    team = os.environ["QTC_TEAM"]
    body = get(f"/api/v1/team/{team}/orders/open")
    print(f"{body['open_orders_count']} open orders for {team}")
    for order in body["orders"]:
        price = order["limit_price"] or "market"
        print(
            f"{order['order_id']}  {order['side']:4} {order['filled_qty']}/{order['quantity']} "
            f"{order['symbol']} @ {price} ({order['time_in_force']}, {order['status']})"
        )


if __name__ == "__main__":
    main()
