class Strategy:
    def generate_signal(self, team, bars, current_prices):
        with open("/tmp/qtc-hostile-was-here", "w") as f:
            f.write("escaped")
