class Strategy:
    def generate_signal(self, team, bars, current_prices):
        n = 0
        while True:
            n += 1
