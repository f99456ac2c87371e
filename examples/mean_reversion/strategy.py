"""Mean reversion: good-till-canceled limit orders below the moving average, sells above it."""

import math

from signals import deviation, moving_average


class Strategy:
    """Buys dips and sells rallies around a moving average, with gtc limit orders."""

    def __init__(self, window=20, threshold=0.002, offset=0.001, allocation=0.1, **params):
        self.window = int(window)
        self.threshold = float(threshold)
        self.offset = float(offset)
        self.allocation = float(allocation)

    def generate_signal(self, team, bars, current_prices):
        open_sides = {(o.get("symbol"), o.get("side")) for o in team.get("open_orders", [])}
        positions = team.get("positions", {})
        cash = float(team["cash"])
        signals = []
        for symbol, history in sorted(bars.items()):
            price = current_prices.get(symbol)
            average = moving_average(history.get("close", []), self.window)
            if not price or average is None:
                continue
            move = deviation(float(price), average)
            held = float(positions.get(symbol, {}).get("quantity", 0))
            if move < -self.threshold and (symbol, "buy") not in open_sides:
                limit = round(float(price) * (1 - self.offset), 2)
                quantity = math.floor(cash * self.allocation / limit)
                if quantity >= 1:
                    cash -= quantity * limit
                    signals.append(self._order(symbol, "buy", quantity, limit, move))
            elif move > self.threshold and held >= 1 and (symbol, "sell") not in open_sides:
                limit = round(float(price) * (1 + self.offset), 2)
                signals.append(self._order(symbol, "sell", math.floor(held), limit, move))
        return signals

    def _order(self, symbol, side, quantity, limit, move):
        return {
            "symbol": symbol,
            "action": side,
            "quantity": quantity,
            "price": limit,
            "order_type": "limit",
            "time_in_force": "gtc",
            "reason": f"{move:+.2%} from the {self.window}-minute average",
        }
