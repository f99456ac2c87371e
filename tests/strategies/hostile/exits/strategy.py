class Strategy:
    def generate_signal(self, team, bars, current_prices):
        raise SystemExit(3)
