"""Places, once, a large marketable GTC buy (fills a little each minute), a resting GTC buy
and a resting day buy, then waits."""


class Strategy:
    def __init__(self, **params):
        self.placed = False

    def generate_signal(self, team, bars, current_prices):
        if self.placed or "SPY" not in current_prices or "AAPL" not in current_prices:
            return None
        self.placed = True
        spy = current_prices["SPY"]
        aapl = current_prices["AAPL"]
        return [
            {
                "symbol": "SPY",
                "action": "buy",
                "quantity": 1000,
                "price": round(spy * 1.02, 2),
                "order_type": "limit",
                "time_in_force": "gtc",
            },
            {
                "symbol": "AAPL",
                "action": "buy",
                "quantity": 5,
                "price": round(aapl * 0.5, 2),
                "order_type": "limit",
                "time_in_force": "gtc",
            },
            {
                "symbol": "AAPL",
                "action": "buy",
                "quantity": 3,
                "price": round(aapl * 0.5, 2),
                "order_type": "limit",
                "time_in_force": "day",
            },
        ]
