"""Reports the types it was given, to show how values cross into strategy code."""


class Strategy:
    def __init__(self, **params):
        self.params = params

    def generate_signal(self, team, bars, current_prices):
        first = next(iter(bars.values()))
        position = next(iter(team["positions"].values()), {})
        return {
            "cash": type(team["cash"]).__name__,
            "price": type(next(iter(current_prices.values()))).__name__,
            "close": type(first["close"][0]).__name__,
            "quantity": type(position.get("quantity")).__name__,
            "team_id": team["id"],
            "params": self.params,
        }
