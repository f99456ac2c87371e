"""Spins only when the market shows a HANG symbol, so the next minute can prove recovery."""


class Strategy:
    def generate_signal(self, team, bars, current_prices):
        while "HANG" in current_prices:
            pass
        return {"symbol": "AAA", "action": "sell", "quantity": 1}
