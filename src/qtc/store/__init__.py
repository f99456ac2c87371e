"""Per-team storage: the ledger, open orders, order history, snapshots and errors."""
