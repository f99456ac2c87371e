"""Tries to cancel an order id that is not its own."""


class Strategy:
    def generate_signal(self, team, bars, current_prices):
        return {"action": "cancel", "order_id": "buyhold-01ARZ3NDEKTSV4RRFFQ69G5FAV"}
