"""Buy and hold: spend a share of the cash on each symbol once, with market orders, then hold."""

import math


class Strategy:
    """Buys each chosen symbol once with a market order and never sells."""

    def __init__(self, symbols=None, allocation=0.9, **params):
        self.symbols = list(symbols) if symbols else None
        self.allocation = float(allocation)
        self.bought = set()

    def generate_signal(self, team, bars, current_prices):
        symbols = self.symbols or sorted(s for s in current_prices if "/" not in s)
        held = set(team.get("positions", {}))
        pending = {o.get("symbol") for o in team.get("open_orders", [])}
        # After a worker restart the memory is gone: what is held or pending counts as bought.
        self.bought |= held | pending
        todo = [s for s in symbols if s not in self.bought and current_prices.get(s)]
        if not todo:
            return None
        budget = float(team["cash"]) * self.allocation / len(todo)
        signals = []
        for symbol in todo:
            price = float(current_prices[symbol])
            quantity = math.floor(budget / price)
            if quantity < 1:
                continue
            self.bought.add(symbol)
            signals.append(
                {
                    "symbol": symbol,
                    "action": "buy",
                    "quantity": quantity,
                    "price": price,
                    "order_type": "market",
                    "reason": "buy and hold",
                }
            )
        return signals
