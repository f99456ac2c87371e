"""Test strategy: a market buy of one share each minute, so each minute it runs leaves an order."""


class Strategy:
    def __init__(self, **params):
        pass

    def generate_signal(self, team, bars, current_prices):
        symbol = sorted(s for s in current_prices if "/" not in s)[0]
        return {"symbol": symbol, "action": "buy", "quantity": 1, "price": current_prices[symbol]}
