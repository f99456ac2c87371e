from subprocess import run


class Strategy:
    def generate_signal(self, team, bars, current_prices):
        run(["true"])
