"""Returns a different kind of garbage depending on `kind`."""


class Thing:
    pass


def numbers():
    yield {"symbol": "AAA", "action": "buy", "quantity": 1}


class Strategy:
    def __init__(self, kind="set", **params):
        self.kind = kind

    def generate_signal(self, team, bars, current_prices):
        if self.kind == "set":
            return {"AAA", "BBB"}
        if self.kind == "object":
            return Thing()
        if self.kind == "generator":
            return numbers()
        if self.kind == "huge_string":
            return {"symbol": "A" * 50_000_000, "action": "buy", "quantity": 1}
        if self.kind == "bytes":
            return {"symbol": b"AAA", "action": "buy", "quantity": 1}
        if self.kind == "int_key":
            return {1: "AAA"}
        if self.kind == "deep":
            deep = []
            for _ in range(100):
                deep = [deep]
            return deep
        if self.kind == "many":
            return [{"symbol": "AAA", "action": "buy", "quantity": 1}] * 100_000
        return None
