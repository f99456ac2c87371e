"""Real symbol, impossible quantities and prices."""


class Strategy:
    def generate_signal(self, team, bars, current_prices):
        price = current_prices["SPY"]
        return [
            {"symbol": "SPY", "action": "buy", "quantity": float("nan"), "price": price},
            {"symbol": "SPY", "action": "buy", "quantity": float("inf"), "price": price},
            {"symbol": "SPY", "action": "buy", "quantity": -5, "price": price},
            {"symbol": "SPY", "action": "buy", "quantity": 0, "price": price},
            {"symbol": "SPY", "action": "buy", "quantity": 1, "price": -1.0},
            {"symbol": "SPY", "action": "hold", "quantity": 1, "price": price},
        ]
