"""Writes a file into its scratch folder (allowed) with pandas."""

import pandas as pd


class Strategy:
    def generate_signal(self, team, bars, current_prices):
        pd.DataFrame({"close": bars["AAA"]["close"]}).to_csv("history.csv", index=False)
        return None
