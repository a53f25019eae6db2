"""The attribute space of a library over its memory budget, without its (N, d) matrix.

At 10M tracks the whitened attribute vectors take 1.2 GB (30 float32 dimensions a
track). Over the budget the space keeps the raw vectors in parts instead
(`attributes.AttributeParts`: the numeric attributes and one genre profile per track,
about 26 bytes a track) and `CompactVectors` stands where the matrix was:

- `z[rows]` whitens those rows now: exactly the rows the matrix would hold (seeds,
  results, a playlist's tracks, an expansion's candidates);
- `z @ v` for every row goes through the raw parts: z = (x - mean) M, so
  z.v = x.(M v) - mean.(M v), and x.c is the numeric attributes' product with the first
  a entries of c plus one value per genre profile (the profiles times the rest of c)
  gathered by each track's profile: a pass over 6 float32 columns and one gather, about
  the cost of the product with the matrix. Its rounding differs from the matrix's, so a
  search ranks the best RERANK_MIN candidates again on their exact vectors
  (`search/run.py`), and gets the in-memory path's rows;
- what needs every row's whole vector (weights per dimension, a target that names some
  dimensions) whitens the rows a chunk at a time: exact, and slower (seconds at 10M).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .attributes import AttributeParts
from .whitening import Whitener

#: Rows whitened at a time (the chunk `Whitener.transform` and `whitening.moments` use, so
#: every row comes out exactly as in the whole matrix).
CHUNK = 131_072
#: Candidates by the raw parts' distances ranked again on their exact vectors: at least
#: RERANK_MIN, and RERANK_PER_RESULT per result asked for.
RERANK_MIN = 1000
RERANK_PER_RESULT = 8
#: Rows a pass over every row's parts takes at a time (`z @ v`).
PASS_CHUNK = 262_144


class CompactVectors:
    """Stands for the whitened (N, d) float32 matrix; see the module docstring."""

    dtype = np.dtype(np.float32)
    ndim = 2

    def __init__(self, parts: AttributeParts, whitener: Whitener) -> None:
        self.parts = parts
        self.whitener = whitener
        self.shape = (len(parts), len(whitener.dims))

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        return self.parts.nbytes

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, tuple):  # z[np.ix_(rows, columns)], z[rows, columns]: those columns only
            rows, columns = (np.asarray(k).reshape(-1) for k in key)
            return self.columns(rows.astype(np.int64, copy=False), columns)
        if isinstance(key, (int, np.integer)):
            return self[np.array([int(key)])][0]
        if isinstance(key, slice):  # a view of the parts' rows, not a gather
            return self.whitener.transform(self.parts.rows(key))
        rows = np.asarray(key)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        return self.whitener.transform(self.parts.rows(rows.astype(np.int64, copy=False)))

    def columns(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """Some columns of some rows, through the parts as `@` goes: an expansion's 100,000
        candidates' sound dimensions in a few milliseconds. Equal to the matrix's up to
        float32 rounding, not always to the last bit as `z[rows]` is."""
        return self._through_parts(self.whitener.matrix.T[:, columns], rows, np.float64).astype(np.float32)

    def __matmul__(self, v: np.ndarray) -> np.ndarray:
        """z @ v through the raw parts (float32; see the module docstring)."""
        return self._through_parts(self.whitener.matrix.T @ np.asarray(v, dtype=np.float64), slice(None), np.float32)

    def _through_parts(self, m: np.ndarray, rows: np.ndarray | slice, dtype) -> np.ndarray:
        """(x - mean) @ m at these rows, with z = (x - mean) @ matrix.T: the numeric
        attributes times their part of m, plus one value per genre profile, gathered;
        computed in `dtype` (float32 over every row: no float64 copy of the attributes)."""
        parts = self.parts
        a = parts.numbers.shape[1]
        numeric = m[:a].astype(dtype)
        # the mean's term is folded into the profiles' values: one pass over the rows less
        per_profile = (parts.profiles @ m[a:] - self.whitener.mean @ m).astype(dtype)
        if not (isinstance(rows, slice) and rows == slice(None)):
            out = parts.numbers[rows] @ numeric
            out += per_profile[parts.profile[rows]]
            return out
        # Every row: a chunk at a time, so that the gather's temporaries stay in the CPU's
        # cache (at 10M tracks 49 ms against 64 for the whole arrays at once).
        out = np.empty((len(self), *m.shape[1:]), dtype=dtype)  # (m: a vector, or one column per vector)
        for start in range(0, len(self), PASS_CHUNK):
            chunk = slice(start, min(len(self), start + PASS_CHUNK))
            np.matmul(parts.numbers[chunk], numeric, out=out[chunk])
            out[chunk] += per_profile[parts.profile[chunk]]
        return out

    def chunks(self) -> Iterator[tuple[slice, np.ndarray]]:
        """(rows, their whitened vectors) a chunk at a time, over every row."""
        for start in range(0, len(self), CHUNK):
            rows = slice(start, min(len(self), start + CHUNK))
            yield rows, self[rows]

    def sqnorm(self) -> np.ndarray:
        """|z|^2 of every row (float32) through the raw parts, without whitening a row:
        with z = u + v[profile], u = numbers T_a and v = profiles T_g - mean T (T the
        whitening's transposed matrix, T_a its numeric rows, T_g its genre rows),
        |z|^2 = n G n^T + 2 n . H[profile] + |v|^2[profile], G = T_a T_a^T and
        H = v T_a^T: a few products per row over the a numeric attributes (at 10M tracks
        0.3 s where whitening every row took 7 s). Like `@`, it rounds otherwise than
        the matrix (computed in float64, stored as float32): it only picks candidates;
        `search/run.py` takes the exact |z|^2 of the rows it ranks again."""
        parts, t = self.parts, self.whitener.matrix.T
        a = parts.numbers.shape[1]
        ta = t[:a]
        v = parts.profiles.astype(np.float64) @ t[a:] - self.whitener.mean @ t
        gram, cross, own = ta @ ta.T, v @ ta.T, np.einsum("ij,ij->i", v, v)
        out = np.empty(len(self), dtype=np.float32)
        for start in range(0, len(self), CHUNK):
            rows = slice(start, min(len(self), start + CHUNK))
            n, profile = parts.numbers[rows].astype(np.float64), parts.profile[rows]
            value = np.einsum("ij,ij->i", n @ gram, n) + 2.0 * np.einsum("ij,ij->i", n, cross[profile]) + own[profile]
            out[rows] = np.maximum(value, 0.0)
        return out


def exact_sqnorm(z: np.ndarray) -> np.ndarray:
    """|z|^2 of whitened rows, as the whole matrix's `sqnorm` has it (float32)."""
    return np.einsum("ij,ij->i", z, z)
