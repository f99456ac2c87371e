"""Cancel one of a team's orders by its order_id or broker_order_id (standard library only).

QTC_URL=http://127.0.0.1:8000 QTC_TEAM=alpha QTC_API_KEY=... python cancel_order.py ORDER_ID
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request


def main(order_id: str) -> int:
    """Ask for the cancel; a closed order answers 409 with how it ended."""
    team = os.environ["QTC_TEAM"]
    request = urllib.request.Request(
        f"{os.environ.get('QTC_URL', 'http://127.0.0.1:8000')}/api/v1/team/{team}/orders/{order_id}",
        method="DELETE",
        headers={"X-API-Key": os.environ["QTC_API_KEY"]},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.load(response)
    except urllib.error.HTTPError as e:
        detail = json.load(e)
        print(f"not canceled ({e.code}): {detail['detail']}")
        return 1
    print(f"{body['message']} (status {body['status']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
