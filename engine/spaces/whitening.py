"""Vector spaces and their whitening (Patwari et al., ISMIR 2020, section 3.2).

Each space maps a track to a vector. Before distances are measured, vectors are
standardised globally and then whitened by the pooled within-playlist
covariance, Tikhonov-regularised:

    x' = (x - mu) / sigma                                  (global z-score)
    S  = sum_k sum_{i in k} (x'_i - m_k)(x'_i - m_k)^T / (N - K)
    z  = (S + lambda I)^(-1/2) x'                           lambda = LAMBDA_FRACTION * mean(diag S)

so that playlists are, on average, identity-covariance Gaussians and squared
Euclidean distance between z vectors is the distance used everywhere. The
inverse square root is the symmetric (ZCA) one, which keeps each whitened axis
as close as possible to its original attribute, so per-dimension weights and
explanations still speak of "energy" or "genre:soul". With fewer than two
playlists of two or more tracks the pooled covariance is not estimable and the
space falls back to global standardisation (S = I).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: lambda as a fraction of the mean within-playlist variance.
LAMBDA_FRACTION = 0.05


@dataclass(frozen=True)
class Whitener:
    """z = (x - mean) @ matrix.T, fitted as described in the module docstring."""

    dims: tuple[str, ...]
    mean: np.ndarray  # (d,)
    matrix: np.ndarray  # (d, d): W @ diag(1/sigma)
    lam: float
    n_playlists: int
    n_entries: int
    pooled: bool  # False: fell back to global standardisation

    def transform(self, x: np.ndarray, chunk: int = 131_072, out: np.ndarray | None = None) -> np.ndarray:
        """Whitened float32 vectors, computed a chunk of rows at a time; `out` may be `x`
        itself (float32, as many dimensions): then no second matrix is allocated."""
        out = np.empty((len(x), len(self.dims)), dtype=np.float32) if out is None else out
        m = self.matrix.T
        for start in range(0, len(x), chunk):
            block = np.asarray(x[start : start + chunk], dtype=np.float64)
            out[start : start + chunk] = (block - self.mean) @ m
        return out

    def to_json(self) -> dict:
        return {
            "dims": list(self.dims),
            "mean": self.mean.tolist(),
            "matrix": self.matrix.tolist(),
            "lambda": self.lam,
            "n_playlists": self.n_playlists,
            "n_entries": self.n_entries,
            "pooled": self.pooled,
        }

    @classmethod
    def from_json(cls, data: dict) -> Whitener:
        return cls(
            tuple(data["dims"]),
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["matrix"], dtype=np.float64),
            float(data["lambda"]),
            int(data["n_playlists"]),
            int(data["n_entries"]),
            bool(data["pooled"]),
        )


def group_scatter(block: np.ndarray) -> np.ndarray:
    """One group's scatter around its own mean, sum_i (x_i - m)(x_i - m)^T, in float64."""
    block = np.asarray(block, dtype=np.float64)
    centred = block - block.mean(axis=0)
    return centred.T @ centred


def pooled_covariance(x: np.ndarray, groups: Sequence[np.ndarray]) -> tuple[np.ndarray, int, int]:
    """Pooled within-group covariance: scatter around each group's mean / (N - K).

    `groups` are row-index arrays into `x`; groups with fewer than two rows are
    ignored. Returns (S, N, K).
    """
    return pooled(*summed_scatter(x, groups))


def pooled(scatter: np.ndarray, n: int, k: int) -> tuple[np.ndarray, int, int]:
    """(S, N, K) from the summed scatter of K groups of N entries in all."""
    if k == 0 or n - k <= 0:
        return np.eye(len(scatter)), n, k
    return scatter / (n - k), n, k


def inverse_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Symmetric inverse square root of a symmetric positive-definite matrix."""
    values, vectors = np.linalg.eigh(matrix)
    values = np.clip(values, 1e-12, None)
    return (vectors / np.sqrt(values)) @ vectors.T


class Moments:
    """Column mean and standard deviation in float64, accumulated a block of rows at a time
    (a library's vectors can be streamed through it without ever being in memory at once)."""

    def __init__(self, dims: int | None = None) -> None:
        """`dims`: the vectors' length, when known before the first block."""
        self.total = np.zeros(dims) if dims is not None else None
        self.squares = np.zeros(dims) if dims is not None else None
        self.n = 0

    def add(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=np.float64)
        if self.total is None or self.squares is None:
            self.total, self.squares = np.zeros(block.shape[1]), np.zeros(block.shape[1])
        self.total += block.sum(axis=0)
        self.squares += (block * block).sum(axis=0)
        self.n += len(block)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        assert self.total is not None and self.squares is not None
        mean = self.total / max(self.n, 1)
        return mean, np.sqrt(np.maximum(self.squares / max(self.n, 1) - mean * mean, 0.0))


def moments(x: np.ndarray, chunk: int = 131_072) -> tuple[np.ndarray, np.ndarray]:
    """Column mean and standard deviation in float64, a chunk of rows at a time."""
    acc = Moments(x.shape[1])
    for start in range(0, len(x), chunk):
        acc.add(x[start : start + chunk])
    return acc.result()


def summed_scatter(x: np.ndarray, groups: Sequence[np.ndarray]) -> tuple[np.ndarray, int, int]:
    """The summed scatter of the groups (row-index arrays into `x`) with two or more rows,
    their entries and their number: what `whitener_from` takes."""
    usable = [g for g in groups if len(g) >= 2]
    scatter = sum((group_scatter(x[g]) for g in usable), np.zeros((x.shape[1], x.shape[1])))
    return scatter, sum(len(g) for g in usable), len(usable)


def fit_whitener(x: np.ndarray, groups: Sequence[np.ndarray], dims: Sequence[str]) -> Whitener:
    """Fit the whitening of a space from its vectors (any float dtype) and its playlists' rows."""
    d = x.shape[1]
    mean, sigma = moments(x) if len(x) else (np.zeros(d), np.ones(d))
    return whitener_from(mean, sigma, *summed_scatter(x, groups), dims)


def whitener_from(mean: np.ndarray, sigma: np.ndarray, scatter: np.ndarray, n: int, k: int, dims: Sequence[str]) -> Whitener:
    """The whitening from the global moments and the summed within-playlist scatter of
    the raw vectors (K playlists of two or more entries, N entries in all)."""
    sigma = np.where(sigma > 1e-9, sigma, 1.0)
    if k < 2:
        return Whitener(tuple(dims), mean, np.diag(1.0 / sigma), 0.0, k, 0, pooled=False)
    # Standardising is affine, so the pooled covariance of standardised vectors is
    # D^-1 S D^-1 with S that of the raw vectors: no standardised copy is needed.
    raw, n, k = pooled(scatter, n, k)
    cov = raw / np.outer(sigma, sigma)
    lam = max(LAMBDA_FRACTION * float(np.mean(np.diag(cov))), 1e-6)
    w = inverse_sqrt(cov + lam * np.eye(len(cov)))
    return Whitener(tuple(dims), mean, w @ np.diag(1.0 / sigma), lam, k, n, pooled=True)
