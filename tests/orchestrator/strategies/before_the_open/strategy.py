"""Before the stock market opens (crypto trades): a day buy of AAPL, and an ioc one."""


class Strategy:
    def __init__(self, **params):
        self.sent = False

    def generate_signal(self, team, bars, current_prices):
        if self.sent:
            return None
        self.sent = True
        return [
            {"symbol": "AAPL", "action": "buy", "quantity": 3, "price": 200, "reason": "queued"},
            {
                "symbol": "AAPL",
                "action": "buy",
                "quantity": 1,
                "price": 200,
                "time_in_force": "ioc",
            },
        ]
