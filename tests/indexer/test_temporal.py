"""Temporal energy (equations 1 and 2 of the seed paper) against longhand versions."""

import numpy as np
from attune.indexer.temporal import consistency, peak_energy, tiles, window
from hypothesis import given
from hypothesis import strategies as st

energies = st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=80)


def longhand_peak(e):
    n = len(e)
    w = min(max(3, n // 6), n)
    return max(sum(e[i : i + w]) / w for i in range(0, n - w + 1))


def longhand_consistency(e):
    n = len(e)
    w = min(max(3, n // 6), n)
    a = []
    for i in range(n):
        part = [e[j] for j in range(i - w // 2, i - w // 2 + w) if 0 <= j < n]
        a.append(sum(part) / len(part))
    den = sum(a[i] for i in range(n - 1))
    if den == 0:
        return 1.0
    return min(1.0, max(0.0, 1 - sum(abs(a[i + 1] - a[i]) for i in range(n - 1)) / den))


@given(energies)
def test_peak_energy_matches_equation_1(e):
    assert abs(peak_energy(e) - longhand_peak(e)) < 1e-9


@given(energies)
def test_consistency_matches_equation_2(e):
    assert abs(consistency(e) - longhand_consistency(e)) < 1e-9


@given(energies)
def test_bounds(e):
    assert min(e) - 1e-12 <= peak_energy(e) <= max(e) + 1e-12
    assert 0.0 <= consistency(e) <= 1.0


@given(st.floats(0, 1, allow_nan=False), st.integers(1, 60))
def test_constant_energy_is_perfectly_consistent(c, n):
    e = [c] * n
    assert abs(peak_energy(e) - c) < 1e-12
    assert abs(consistency(e) - 1.0) < 1e-12


def test_window_and_examples():
    assert [window(n) for n in (1, 2, 3, 17, 18, 60)] == [1, 2, 3, 3, 3, 10]
    assert peak_energy([0.1, 0.2, 0.9, 0.9, 0.9, 0.1, 0.1]) == 0.9
    assert consistency([0.0] * 5) == 1.0
    assert consistency([0, 1] * 10) < consistency([0.5] * 20)
    assert np.isnan(peak_energy([]))


def test_tiles_average_segments_by_start():
    starts = np.array([0, 3, 6, 9, 12, 15, 18, 21])
    values = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=float)
    assert tiles(starts, values, 24.0).tolist() == [1.0, 0.0, 0.0]
