"""Asks for a quantity worth a hundred times its cash."""


class Strategy:
    def generate_signal(self, team, bars, current_prices):
        price = current_prices["AAA"]
        return {"symbol": "AAA", "action": "buy", "quantity": int(team["cash"] * 100 / price)}
