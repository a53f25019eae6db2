"""The numeric kernel of search: whitened squared distances to centres, and top-k.

Distance (lower is better), for like targets c_l (s_l = +1) and unlike targets
(s_l = -1), with per-dimension weights w and per-target dimension masks m_l:

    D(z) = sum_l s_l * sum_j w_j m_lj (z_j - c_lj)^2

computed for every row in one matrix-vector product from |z|^2 (precomputed per space).
Pure numpy: nothing here knows about tracks, queries or LanceDB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Centre:
    """One like (+1) or unlike (-1) target: its centre and the dimensions it speaks about."""

    sign: int
    vector: np.ndarray
    mask: np.ndarray | None = None  # 0/1 per dimension; None: all


def centroid(z: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The mean of some rows of a whitened matrix (zeros when there are none)."""
    return z[rows].mean(axis=0) if len(rows) else np.zeros(z.shape[1], dtype=z.dtype)


def distance_to(z: np.ndarray, sqnorm: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """|z - c|^2 for every row, from |z|^2: one matrix-vector product, never negative."""
    d = sqnorm - 2.0 * (z @ centre) + float(centre @ centre)
    return np.maximum(d, 0)


def weighted(centres: list[Centre], w: np.ndarray | None, dims: int) -> tuple[list[tuple[int, np.ndarray, np.ndarray]], bool]:
    """(s_l, c_l, w * m_l) for each centre (m_l all ones when absent), and whether any had m_l."""
    base = np.ones(dims, dtype=np.float32) if w is None else w.astype(np.float32)
    out = [(c.sign, c.vector, base if c.mask is None else base * c.mask) for c in centres]
    return out, any(c.mask is not None for c in centres)


def partial_distances(z: np.ndarray, sqnorm: np.ndarray, centres: list[Centre], w: np.ndarray | None) -> np.ndarray:
    """D minus its constant term (the same order, one pass less), float32."""
    parts, masked = weighted(centres, w, z.shape[1])
    lin = sum(s * wl * c for s, c, wl in parts).astype(np.float32)
    d = z @ (-2.0 * lin).astype(np.float32)
    if masked:
        d += (z * z) @ sum(s * wl for s, _, wl in parts).astype(np.float32)
        return d
    total = sum(s for s, _, _ in parts)
    if total:
        base = sqnorm if w is None else (z * z) @ w.astype(np.float32)
        d += np.float32(total) * base if total != 1 else base
    return d


def distance_constant(centres: list[Centre], w: np.ndarray | None) -> float:
    """The term of D that does not depend on z: sum_l s_l sum_j w_j m_lj c_lj^2."""
    if not centres:
        return 0.0
    parts, _ = weighted(centres, w, len(centres[0].vector))
    return float(sum(s * float((wl * c) @ c) for s, c, wl in parts))


def distances(z: np.ndarray, sqnorm: np.ndarray, centres: list[Centre], w: np.ndarray | None) -> np.ndarray:
    """D(z) for every row (see the module docstring)."""
    d = partial_distances(z, sqnorm, centres, w)
    d += np.float32(distance_constant(centres, w))
    return d


def per_dimension(z: np.ndarray, centres: list[Centre], w: np.ndarray | None) -> np.ndarray:
    """Each dimension's share of D for a few rows (for explanations): (rows, d)."""
    parts, _ = weighted(centres, w, z.shape[1])
    return sum(s * wl * (z - c) ** 2 for s, c, wl in parts)


def smallest(d: np.ndarray, k: int, where: np.ndarray | None = None) -> np.ndarray:
    """Indices of the k smallest values of d, best first: exactly the first k of a stable
    sort (ties go to the lower index). The one top-k of attune. `where` (a row mask): only
    those rows count, as if every other row were inf (no pass over d to make it so: at
    10M rows, setting the rows a filter leaves out to inf took 45 ms).

    A threshold from a strided sample keeps the partial sort to a few thousand
    candidates instead of every row. Where the sample has too few finite values for one
    (a selective filter, or distances known at a few rows only) the finite rows are the
    candidates; when too few pass either, all rows are used.
    """
    n = len(d)
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    candidates = None
    if n > 50_000 and k < n // 100:
        step = max(1, n // 20_000)
        sample = d[::step]
        counted = np.isfinite(sample) if where is None else np.isfinite(sample) & where[::step]
        finite = sample[counted]
        if len(finite) >= 100:
            threshold = np.quantile(finite, min(1.0, 4.0 * k / (n * len(finite) / len(sample)) + 0.001))
            below = d <= threshold
            candidates = np.flatnonzero(below if where is None else below & where)
        else:  # (the sample holds at least 20,000 values: under 100 finite, the rows are mostly inf)
            finite_rows = d < np.inf
            candidates = np.flatnonzero(finite_rows if where is None else finite_rows & where)
        if candidates is not None and len(candidates) < k:
            candidates = None
    if candidates is None:
        if where is not None:  # (small arrays, large k: the other rows made inf after all)
            return smallest(np.where(where, d, np.inf), k)
        if k == n:
            return np.argsort(d, kind="stable")
        candidates = np.arange(n)
    values = d[candidates]
    kth = np.partition(values, k - 1)[k - 1]
    below = candidates[values < kth]
    part = np.concatenate([below, candidates[values == kth][: k - len(below)]])
    return part[np.argsort(d[part], kind="stable")]


def largest(score: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest finite values, best first (ties to the lower index);
    -inf (excluded) never counts."""
    finite = np.isfinite(score)
    return smallest(np.where(finite, -score, np.inf), min(k, int(finite.sum())))
