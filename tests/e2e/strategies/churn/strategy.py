"""Crypto churn for the end-to-end test: market and gtc limit orders, some large enough to fill
over several minutes, and cancels of its own old orders; quiet after `trade_minutes`.

Everything is decided from the bar timestamps and the team's open orders, never from memory,
so a restarted worker behaves exactly like the one that was killed."""

import math
from datetime import UTC, datetime

BTC = "BTC/USD"
ETH = "ETH/USD"


def _time(raw):
    moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Strategy:
    """`variant` staggers the teams; `start` is minute 0 of the schedule."""

    def __init__(self, start, variant=0, trade_minutes=36, max_age=5, **params):
        self.start = _time(start)
        self.variant = int(variant)
        self.trade_minutes = int(trade_minutes)
        self.max_age = int(max_age)

    def generate_signal(self, team, bars, current_prices):
        if BTC not in bars or ETH not in bars:
            return None
        now = _time(bars[BTC]["timestamp"][-1])
        minute = int((now - self.start).total_seconds() // 60)
        orders = team.get("open_orders", [])
        signals = []
        for order in orders:
            if order.get("status") in ("pending_cancel", "pending_new"):
                continue
            age = (now - _time(order["created_at"])).total_seconds() / 60
            if minute >= self.trade_minutes or age >= self.max_age:
                signals.append({"action": "cancel", "order_id": order["order_id"]})
        if minute < 0 or minute >= self.trade_minutes:
            return signals
        slot = (minute + 3 * self.variant) % 8
        btc = float(current_prices[BTC])
        eth = float(current_prices[ETH])
        if slot == 0:
            # larger than a minute's liquidity: fills over several minutes
            signals.append(
                {"symbol": BTC, "action": "buy", "quantity": 0.25, "time_in_force": "gtc"}
            )
        elif slot == 2:
            limit = round(eth * 0.9997, 2)
            signals.append(self._limit(ETH, "buy", 120 + 10 * self.variant, limit))
        elif slot == 4:
            signals.append({"symbol": ETH, "action": "buy", "quantity": 15, "time_in_force": "ioc"})
        elif slot == 5 and minute // 8 % 2 == 0:
            # a buy far below the price: rests until canceled as stale
            signals.append(self._limit(BTC, "buy", 0.05, round(btc * 0.99, 2)))
        elif slot == 7:
            signals.extend(self._sells(team, orders, btc, eth))
        return signals

    def _sells(self, team, orders, btc, eth):
        out = []
        for symbol, price, ratio, decimals in ((BTC, btc, 1.0002, 4), (ETH, eth, 1.0001, 2)):
            held = float(team.get("positions", {}).get(symbol, {}).get("quantity", 0))
            selling = sum(
                float(o["quantity"]) - float(o["filled_qty"])
                for o in orders
                if o["symbol"] == symbol and o["side"] == "sell"
            )
            scale = 10**decimals
            quantity = math.floor((held - selling) * 0.5 * scale) / scale
            if quantity > 0:
                out.append(self._limit(symbol, "sell", quantity, round(price * ratio, 2)))
        return out

    def _limit(self, symbol, side, quantity, price):
        return {
            "symbol": symbol,
            "action": side,
            "quantity": quantity,
            "price": price,
            "order_type": "limit",
            "time_in_force": "gtc",
        }
