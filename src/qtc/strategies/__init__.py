"""Team strategies: team specs, the static check, and the sandboxed worker pool."""
