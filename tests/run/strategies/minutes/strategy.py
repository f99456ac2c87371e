"""Buys a sliver of BTC each minute it is called; the reason names the bar it saw."""


class Strategy:
    def __init__(self, **params):
        self.params = params

    def generate_signal(self, team, bars, current_prices):
        if "BTC/USD" not in bars:
            return None
        seen = bars["BTC/USD"]["timestamp"][-1]
        return {
            "symbol": "BTC/USD",
            "action": "buy",
            "quantity": 0.001,
            "price": float(current_prices["BTC/USD"]),
            "time_in_force": "gtc",
            "reason": f"bar {seen}",
        }
