"""Every order type once: a notional buy, a bracket entry, stops, a trailing stop, an OCO, an OTO, a resting
limit that is replaced and then canceled. Prices are set just around the current one, so that
stops trigger within minutes on a moving market."""

SYMBOL = "AAPL"


class Strategy:
    """Places one order of each type and class, then replaces and cancels the resting one."""

    def __init__(self, **params):
        self.minute = 0

    def generate_signal(self, team, bars, current_prices):
        self.minute += 1
        price = current_prices.get(SYMBOL)
        if price is None:
            return None
        if self.minute == 1:
            return [
                {"symbol": SYMBOL, "action": "buy", "quantity": 40},
                {"symbol": SYMBOL, "action": "buy", "notional": 1000},
                {
                    "symbol": SYMBOL,
                    "action": "buy",
                    "quantity": 5,
                    "order_type": "limit",
                    "price": round(price * 1.001, 2),
                    "order_class": "bracket",
                    "take_profit": {"limit_price": round(price * 1.003, 2)},
                    "stop_loss": {"stop_price": round(price * 0.998, 2)},
                },
            ]
        if self.minute == 2:
            return [
                {
                    "symbol": SYMBOL,
                    "action": "sell",
                    "quantity": 5,
                    "order_type": "stop",
                    "stop_price": round(price * 0.9995, 2),
                    "time_in_force": "gtc",
                },
                {
                    "symbol": SYMBOL,
                    "action": "buy",
                    "quantity": 2,
                    "order_type": "stop_limit",
                    "stop_price": round(price * 1.0005, 2),
                    "price": round(price * 1.01, 2),
                },
                {
                    "symbol": SYMBOL,
                    "action": "sell",
                    "quantity": 5,
                    "order_type": "trailing_stop",
                    "trail_percent": 0.05,
                },
                {
                    "symbol": SYMBOL,
                    "action": "sell",
                    "quantity": 5,
                    "order_type": "limit",
                    "order_class": "oco",
                    "time_in_force": "gtc",
                    "take_profit": {"limit_price": round(price * 1.002, 2)},
                    "stop_loss": {"stop_price": round(price * 0.998, 2)},
                },
                {
                    "symbol": SYMBOL,
                    "action": "buy",
                    "quantity": 3,
                    "order_class": "oto",
                    "stop_loss": {"stop_price": round(price * 0.995, 2)},
                },
                {
                    "symbol": SYMBOL,
                    "action": "buy",
                    "quantity": 4,
                    "order_type": "limit",
                    "price": round(price * 0.9, 2),
                    "time_in_force": "gtc",
                    "reason": "resting",
                },
            ]
        resting = [
            o
            for o in team.get("open_orders", [])
            if (o.get("extra") or {}).get("reason") == "resting"
        ]
        if self.minute == 4:
            return [
                {"action": "replace", "order_id": o["order_id"], "price": round(price * 0.95, 2)}
                for o in resting
                if not o.get("replaces")
            ]
        if self.minute == 6:
            return [{"action": "cancel", "order_id": o["order_id"]} for o in resting]
        return None
