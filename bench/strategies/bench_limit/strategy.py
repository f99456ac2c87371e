"""Benchmark strategy: one resting limit buy per minute, canceled after three minutes."""


class Strategy:
    def __init__(self, **params):
        self.minute = 0
        self.seen = {}

    def generate_signal(self, team, bars, current_prices):
        self.minute += 1
        signals = []
        for order in team["open_orders"]:
            first = self.seen.setdefault(order["order_id"], self.minute)
            if self.minute - first >= 3 and order["status"] != "pending_cancel":
                signals.append({"action": "cancel", "order_id": order["order_id"]})
        symbols = sorted(s for s in current_prices if "/" not in s) or sorted(current_prices)
        symbol = symbols[self.minute % len(symbols)]
        price = round(current_prices[symbol] * 0.95, 2)
        signals.append(
            {
                "symbol": symbol,
                "action": "buy",
                "quantity": 1,
                "price": price,
                "order_type": "limit",
                "time_in_force": "gtc" if "/" in symbol else "day",
            }
        )
        return signals
