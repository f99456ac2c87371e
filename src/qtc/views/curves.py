"""Equity curves cut down to a number of points that keeps every peak and trough visible."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def downsample(values: Sequence[int], points: int) -> list[int]:
    """Indices (ascending) of at most `points` of `values` to draw: all of them when they
    fit, else per equal bucket its first, lowest, highest and last point in time order
    (the lowest and highest only when `points` < 8), so the curve's overall minimum and
    maximum always stay."""
    n = len(values)
    if n <= points:
        return list(range(n))
    per = 4 if points >= 8 else 2
    buckets = points // per
    size = -(-n // buckets)  # ceil: `buckets` buckets of `size` cover all n
    padded = np.empty(buckets * size, dtype=np.int64)
    padded[:n] = values
    padded[n:] = values[-1]  # the padding repeats the last point, index clipped below
    grid = padded.reshape(buckets, size)
    starts = np.arange(0, buckets * size, size)
    picks = [starts + grid.argmin(axis=1), starts + grid.argmax(axis=1)]
    if per == 4:
        picks += [starts, starts + (size - 1)]
    chosen = np.concatenate(picks)
    np.minimum(chosen, n - 1, out=chosen)
    chosen.sort()
    first_of_each = np.concatenate(([True], chosen[1:] != chosen[:-1]))
    return list(chosen[first_of_each].tolist())
