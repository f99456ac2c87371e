import time


class Strategy:
    def generate_signal(self, team, bars, current_prices):
        while True:
            time.sleep(60)
