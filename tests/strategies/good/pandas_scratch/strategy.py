"""Writes a file into its scratch folder (allowed) with pandas, and reads it back next minute."""

import pandas as pd


class Strategy:
    def generate_signal(self, team, bars, current_prices):
        try:
            rows = len(pd.read_csv("history.csv"))
        except FileNotFoundError:
            pd.DataFrame({"close": bars["AAA"]["close"]}).to_csv("history.csv", index=False)
            return None
        return [{"symbol": "AAA", "action": "buy", "quantity": rows}]
