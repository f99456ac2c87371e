"""Helpers of the mean-reversion strategy: moving average and how far a price strays from it."""

import statistics


def moving_average(closes, window):
    """Mean of the last `window` closes, or None while the history is shorter."""
    if len(closes) < window:
        return None
    return statistics.fmean(closes[-window:])


def deviation(price, average):
    """Relative distance of the price from its average (-0.01 is 1 % below)."""
    return (price - average) / average
