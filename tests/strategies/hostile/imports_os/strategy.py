"""Refused at load: imports os on line 3."""

import os


class Strategy:
    def generate_signal(self, team, bars, current_prices):
        return os.listdir("/")
