class Strategy:
    def generate_signal(self, team, bars, current_prices):
        return {"symbol": "NOPE", "action": "buy", "quantity": 1}
