"""The simulated exchange: a deterministic matching engine and what drives and serves it."""
