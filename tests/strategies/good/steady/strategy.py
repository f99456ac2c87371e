"""A well-behaved strategy: one market buy per minute, counting its calls (state is kept)."""


class Strategy:
    def __init__(self, symbol="AAA", **params):
        self.symbol = symbol
        self.calls = 0

    def generate_signal(self, team, bars, current_prices):
        self.calls += 1
        return {
            "symbol": self.symbol,
            "action": "buy",
            "quantity": 1,
            "order_type": "market",
            "reason": f"call {self.calls}",
        }
