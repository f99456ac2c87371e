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
    padded[:n] = np.asarray(values, dtype=np.int64)
    padded[n:] = padded[n - 1]  # the padding repeats the last point, index clipped below
    grid = padded.reshape(buckets, size)
    offsets = np.arange(buckets) * size
    picks = [offsets + grid.argmin(axis=1), offsets + grid.argmax(axis=1)]
    if per == 4:
        picks += [offsets, np.minimum(offsets + size - 1, n - 1)]
    chosen = np.unique(np.minimum(np.concatenate(picks), n - 1))
    return [int(i) for i in chosen]
