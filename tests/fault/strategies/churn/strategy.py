"""Every-minute churn for the fault tests: market and limit buys and sells, resting orders and
cancels of its own stale limits; quiet from `trade_minutes` on.

Each order carries `tag` = "<minute>:<slot>", so a test can see a minute's orders sent twice.
Everything is decided from the bars and the team's positions and open orders, never from
memory, so a restarted worker behaves exactly like the one that was killed."""

import math
from datetime import UTC, datetime

BTC = "BTC/USD"
ETH = "ETH/USD"


def _time(raw):
    moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _free(team, orders, symbol):
    held = float(team.get("positions", {}).get(symbol, {}).get("quantity", 0))
    selling = sum(
        float(o["quantity"]) - float(o["filled_qty"])
        for o in orders
        if o["symbol"] == symbol and o["side"] == "sell"
    )
    return held - selling


class Strategy:
    """`variant` staggers the teams; `start` is minute 0 of the schedule."""

    def __init__(self, start, variant=0, trade_minutes=10, **params):
        self.start = _time(start)
        self.variant = int(variant)
        self.trade_minutes = int(trade_minutes)

    def generate_signal(self, team, bars, current_prices):
        if BTC not in bars or ETH not in bars:
            return None
        now = _time(bars[BTC]["timestamp"][-1])
        minute = int((now - self.start).total_seconds() // 60)
        if minute < 0 or minute >= self.trade_minutes:
            return None
        orders = team.get("open_orders", [])
        btc = float(current_prices[BTC])
        eth = float(current_prices[ETH])
        signals = []
        for order in orders:
            tag = str((order.get("extra") or {}).get("tag", ""))
            if order.get("status") in ("pending_cancel", "pending_new") or tag.endswith(":r"):
                continue
            age = (now - _time(order["created_at"])).total_seconds() / 60
            if age >= 2 or (tag.endswith(":c") and age >= 1):
                signals.append({"action": "cancel", "order_id": order["order_id"]})

        def add(slot, **signal):
            signals.append({**signal, "tag": f"{minute}:{slot}"})

        add("m", symbol=BTC, action="buy", quantity=0.01 + 0.001 * self.variant)
        add(
            "l",
            symbol=ETH,
            action="buy",
            quantity=40 + 5 * self.variant,
            price=round(eth * 0.9999, 2),
            order_type="limit",
            time_in_force="gtc",
        )
        if (minute + self.variant) % 2 == 0:
            # far below the price: rests until the next minute cancels it
            add(
                "c",
                symbol=ETH,
                action="buy",
                quantity=1,
                price=round(eth * 0.95, 2),
                order_type="limit",
                time_in_force="gtc",
            )
        if (minute + self.variant) % 2 == 1:
            quantity = math.floor(_free(team, orders, BTC) * 0.5 * 10_000) / 10_000
            if quantity > 0:
                add(
                    "s",
                    symbol=BTC,
                    action="sell",
                    quantity=quantity,
                    price=round(btc * 1.0001, 2),
                    order_type="limit",
                    time_in_force="gtc",
                )
        if (minute + self.variant) % 3 == 2:
            quantity = math.floor(_free(team, orders, ETH) * 0.3 * 100) / 100
            if quantity > 0:
                add("x", symbol=ETH, action="sell", quantity=quantity)
        if minute % 4 == self.variant % 4:
            # far below the price: rests, and the tests check it is still open at the end
            add(
                "r",
                symbol=BTC,
                action="buy",
                quantity=0.002,
                price=round(btc * 0.9, 2),
                order_type="limit",
                time_in_force="gtc",
            )
        if minute % 5 == 3:
            # more than the team holds: refused, and written to the team's errors.jsonl
            add("e", symbol=BTC, action="sell", quantity=1000)
        return signals
