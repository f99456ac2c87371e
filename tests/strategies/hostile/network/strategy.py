"""Passes the static check but tries to reach the network through pandas."""

import pandas as pd


class Strategy:
    def __init__(self, url="", **params):
        self.url = url

    def generate_signal(self, team, bars, current_prices):
        return {"data": pd.read_csv(self.url).to_dict()}
