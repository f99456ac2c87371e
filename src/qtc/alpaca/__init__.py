"""Everything that speaks to Alpaca: the trading adapter, its translation table, the data feed,
the request budget they share, and the `AlpacaConfig` the wiring builds from the settings."""
