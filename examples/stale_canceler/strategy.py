"""Stale canceler: day limit orders just off the price, canceled when they sit too long.

Orders that fill show fills (large ones over several minutes, in a thin market); those still
open after `max_age` minutes are canceled, partly filled or not; one order rests far below the
price all session (`rest_offset`), never canceled, and expires at the close with the orders
placed in the last minutes.
"""

import math

RESTING = "resting until the close"


class Strategy:
    """Places day limit orders near the price and cancels its own orders older than max_age."""

    def __init__(self, max_age=5, offset=0.0005, order_value=2000, rest_offset=0.03, **params):
        self.max_age = int(max_age)
        self.offset = float(offset)
        self.order_value = float(order_value)
        self.rest_offset = float(rest_offset)
        self.minute = 0
        self.first_seen = {}

    def generate_signal(self, team, bars, current_prices):
        self.minute += 1
        open_orders = team.get("open_orders", [])
        signals = []
        live = set()
        resting = False
        for order in open_orders:
            order_id = order.get("order_id")
            live.add(order_id)
            if (order.get("extra") or {}).get("reason") == RESTING:
                resting = True
                continue
            # Age counted in this strategy's own minutes: independent of clocks and formats.
            seen = self.first_seen.setdefault(order_id, self.minute)
            if self.minute - seen >= self.max_age and order.get("status") != "pending_cancel":
                signals.append({"action": "cancel", "order_id": order_id, "reason": "stale"})
        self.first_seen = {k: v for k, v in self.first_seen.items() if k in live}

        symbols = sorted(s for s in current_prices if "/" not in s)
        if not symbols:
            return signals
        cash = float(team["cash"])
        if self.rest_offset > 0 and not resting:
            # the calmest symbol, if it trades: far below its price, it waits all session
            rest_symbol = "SPY" if "SPY" in symbols else symbols[0]
            limit = round(float(current_prices[rest_symbol]) * (1 - self.rest_offset), 2)
            quantity = math.floor(min(self.order_value, cash * 0.1) / limit)
            if quantity >= 1:
                cash -= quantity * limit
                signals.append(self._limit(rest_symbol, "buy", quantity, limit, RESTING))
        symbol = symbols[self.minute % len(symbols)]
        price = float(current_prices[symbol])
        held = float(team.get("positions", {}).get(symbol, {}).get("quantity", 0))
        busy = {(o.get("symbol"), o.get("side")) for o in open_orders}
        if held >= 1 and self.minute % 2 == 0 and (symbol, "sell") not in busy:
            limit = round(price * (1 + self.offset), 2)
            signals.append(self._limit(symbol, "sell", math.floor(held), limit))
        elif (symbol, "buy") not in busy:
            quantity = math.floor(min(self.order_value, cash * 0.2) / price)
            if quantity >= 1:
                limit = round(price * (1 - self.offset), 2)
                signals.append(self._limit(symbol, "buy", quantity, limit))
        return signals

    def _limit(self, symbol, side, quantity, limit, reason="near the price"):
        return {
            "symbol": symbol,
            "action": side,
            "quantity": quantity,
            "price": limit,
            "order_type": "limit",
            "time_in_force": "day",
            "reason": reason,
        }
