"""Market data feeds, clocks and the market calendar."""
