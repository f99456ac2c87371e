class Strategy:
    def generate_signal(self, team, bars, current_prices):
        hoard = []
        while True:
            hoard.append(bytes(50_000_000))
