"""Temporal energy (seed paper, section 2.3) over per-tile energies e_0..e_{N-1}.

Tiles are 10 seconds long. With W = max(3, floor(N / 6)) capped at N:

    (1)  E = max over i in 0..N-W of  mean(e_i .. e_{i+W-1})
    (2)  A_i = mean of e over tiles i - floor(W/2) .. i - floor(W/2) + W - 1,
               truncated at the ends of the track
         consistency = 1 - sum_{i=0}^{N-2} |A_{i+1} - A_i| / sum_{i=0}^{N-2} A_i,
               clipped to 0..1, and 1.0 when the denominator is 0.
"""

from __future__ import annotations

import numpy as np
from attune.engine.ingest.energy import TILE_SECONDS


def window(n: int) -> int:
    """W = max(3, floor(N/6)), capped at N."""
    return min(max(3, n // 6), n)


def peak_energy(e) -> float:
    """Equation (1): the highest mean energy over W consecutive tiles inside the track."""
    e = np.asarray(e, dtype=np.float64)
    n = len(e)
    if n == 0:
        return float("nan")
    w = window(n)
    sums = np.convolve(e, np.ones(w), mode="valid")  # every full window of w tiles
    return float(sums.max() / w)


def smoothed(e) -> np.ndarray:
    """A_i of equation (2): centred moving average of width W, truncated at the ends."""
    e = np.asarray(e, dtype=np.float64)
    n = len(e)
    w = window(n)
    out = np.empty(n)
    for i in range(n):
        lo = max(0, i - w // 2)
        hi = min(n, i - w // 2 + w)
        out[i] = e[lo:hi].mean()
    return out


def consistency(e) -> float:
    """Equation (2): one minus the normalised total variation of the smoothed energy."""
    e = np.asarray(e, dtype=np.float64)
    if len(e) < 2:
        return 1.0
    a = smoothed(e)
    denominator = a[:-1].sum()
    if denominator == 0:
        return 1.0
    with np.errstate(over="ignore"):  # a vanishing denominator: the clip below bounds it
        return float(np.clip(1.0 - np.abs(np.diff(a)).sum() / denominator, 0.0, 1.0))


def tiles(starts: np.ndarray, values: np.ndarray, duration: float, *, tile_seconds: float = TILE_SECONDS) -> np.ndarray:
    """Per-tile means of per-segment values: tile i holds the segments starting in [10i, 10i + 10)."""
    n = max(1, int(np.ceil(duration / tile_seconds)))
    index = np.minimum((np.asarray(starts) // tile_seconds).astype(int), n - 1)
    sums = np.bincount(index, weights=values, minlength=n)
    counts = np.bincount(index, minlength=n)
    filled = counts > 0
    out = np.interp(np.arange(n), np.flatnonzero(filled), sums[filled] / counts[filled]) if filled.any() else np.zeros(n)
    return out
