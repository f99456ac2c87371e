"""Passes the static check but tries to write outside its scratch folder through pandas."""

import pandas as pd


class Strategy:
    def __init__(self, target="", **params):
        self.target = target

    def generate_signal(self, team, bars, current_prices):
        pd.DataFrame({"a": [1]}).to_csv(self.target)
