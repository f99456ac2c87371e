"""The order tracker: intake, applying broker updates, reconciliation, cancel and cleanup."""
