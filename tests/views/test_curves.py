"""Downsampled equity curves keep every stretch's first, lowest, highest and last point."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from qtc.views.curves import downsample
from qtc.views.money import money, money_from_cents


@pytest.mark.parametrize(("n", "points"), [(10_000, 200), (390, 200), (391, 8), (1000, 2), (50, 7)])
def test_downsampling_keeps_the_extremes_in_time_order(n: int, points: int) -> None:
    rng = np.random.default_rng(n + points)
    values = [int(v) for v in 10_000_000 + np.cumsum(rng.integers(-500, 501, n))]
    keep = downsample(values, points)
    assert len(keep) <= points
    assert keep == sorted(set(keep)) and keep[0] >= 0 and keep[-1] < n
    assert values.index(min(values)) in keep and values.index(max(values)) in keep
    if points >= 8:
        assert keep[0] == 0 and keep[-1] == n - 1


def test_a_short_curve_is_kept_whole() -> None:
    assert downsample([5, 3, 9], 200) == [0, 1, 2]
    assert downsample([], 200) == []


@pytest.mark.parametrize("cents", [0, 1, 10, 99, 100, 2360, 2364, 10_000_000, -1, -2360, -100])
def test_money_from_cents_reads_as_money(cents: int) -> None:
    assert money_from_cents(cents) == money(Decimal(cents) / 100)
