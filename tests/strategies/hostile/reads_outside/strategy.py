"""Passes the static check but tries to read another team's file through pandas."""

import pandas as pd


class Strategy:
    def __init__(self, target="", **params):
        self.target = target

    def generate_signal(self, team, bars, current_prices):
        return {"stolen": pd.read_csv(self.target).to_dict()}
