"""The simulated exchange's matching engine: deterministic, no I/O but its journal."""
