"""Rests one limit buy far below the market, once: an open order to cancel from the console."""


class Strategy:
    def __init__(self):
        self.placed = False

    def generate_signal(self, team, bars, current_prices):
        price = current_prices.get("BTC/USD")
        if self.placed or price is None:
            return None
        self.placed = True
        limit = round(float(price) / 2, 2)
        return {
            "symbol": "BTC/USD",
            "action": "buy",
            "quantity": 0.01,
            "price": limit,
            "order_type": "limit",
            "time_in_force": "gtc",
        }
