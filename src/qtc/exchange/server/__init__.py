"""The Alpaca-compatible HTTP and websocket server around the engine (`qtc exchange`)."""
