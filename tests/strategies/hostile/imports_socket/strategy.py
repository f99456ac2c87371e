class Strategy:
    def generate_signal(self, team, bars, current_prices):
        import socket

        socket.create_connection(("127.0.0.1", 9))
