class Strategy:
    def __init__(self, **params):
        raise RuntimeError("cannot start")
