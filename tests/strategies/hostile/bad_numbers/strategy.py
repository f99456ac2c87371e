class Strategy:
    def generate_signal(self, team, bars, current_prices):
        return [
            {"symbol": "AAA", "action": "buy", "quantity": float("nan")},
            {"symbol": "AAA", "action": "buy", "quantity": float("inf")},
            {"symbol": "AAA", "action": "buy", "quantity": -5},
            {"symbol": "AAA", "action": "buy", "quantity": 0},
            {"symbol": "AAA", "action": "buy", "quantity": 1, "price": float("-inf")},
        ]
