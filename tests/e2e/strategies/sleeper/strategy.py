"""Takes longer than any sensible time limit on every call."""

import time


class Strategy:
    def generate_signal(self, team, bars, current_prices):
        time.sleep(3)
