"""The attribute space's raw vectors: scaled numeric attributes and genre indicators.

The numeric dimensions and their scaling come from the field registry
(`attune.query.fields.SPACE_DIMS`); the genre dimensions are the library's
MAX_GENRE_DIMS most frequent genres.
"""

from __future__ import annotations

import numpy as np
from attune.query.fields import SPACE_DIMS

from ..storage import Key, Snapshot

#: At most this many genre dimensions (the library's most frequent genres).
MAX_GENRE_DIMS = 32


def attribute_matrix(snap: Snapshot, rows: np.ndarray | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """(N, d) float32 raw attribute vectors and their dimension names; `rows`: only these
    rows, in this order (the same values as those rows of the whole matrix).

    A missing value is replaced by the attribute's mean over the library, so it
    neither pulls a track towards nor away from anything; a track with no genre
    at all gets the library's mean genre profile for the same reason.
    """
    tracks = snap.tracks
    means = _means(snap)  # dim -> the library's mean (scaled); dims no track has a value of are left out
    dims = [d for d in SPACE_DIMS if d in means]
    index = snap.text_index("genre")
    counts = index.counts()
    top = sorted(range(len(counts)), key=lambda c: (-counts[c], index.values[c]))[:MAX_GENRE_DIMS]
    pick = slice(None) if rows is None else np.asarray(rows, dtype=np.int64)
    x = np.empty((len(tracks) if rows is None else len(pick), len(dims) + len(top)), dtype=np.float32)
    for j, dim in enumerate(dims):
        x[:, j] = _scaled(dim, tracks.numbers_at(dim, None if rows is None else pick))
        x[np.isnan(x[:, j]), j] = means[dim]
    if top:
        # Each entry's column (-1: not a top genre); the entries of the rows asked for are
        # found by binary search (an index's entries are in row order), not by a pass over all.
        column = np.full(len(index.values), -1, dtype=np.int64)
        column[top] = np.arange(len(dims), len(dims) + len(top))
        at, entries = index.entries_of(None if rows is None else pick)
        wanted = column[index.codes[entries]]
        x[:, len(dims):] = 0.0
        x[at[wanted >= 0], wanted[wanted >= 0]] = 1.0
        unknown = snap.genre_unknown()
        if unknown.any() and not unknown.all():
            # the share of tracks with some genre that have each (an index holds each
            # (track, genre) once, so its count is the tracks')
            shares = (counts[top] / max(int((~unknown).sum()), 1)).astype(np.float32)
            x[np.ix_(np.flatnonzero(unknown[pick]), np.arange(len(dims), len(dims) + len(top)))] = shares
    return x, tuple(dims) + tuple(f"genre:{index.values[c]}" for c in top)


def _scaled(dim: str, values: np.ndarray) -> np.ndarray:
    offset, scale = SPACE_DIMS[dim]
    return (values - offset) / scale


def _means(snap: Snapshot) -> dict[str, float]:
    """Each attribute column's mean over the library (scaled), for those with any value:
    read once per track data (over the memory budget each column is read for this only)."""
    def means() -> dict[str, float]:
        out = {}
        for dim in SPACE_DIMS:
            if dim in snap.tracks.columns:
                values = snap.tracks.numbers_at(dim)
                if not np.isnan(values).all():
                    out[dim] = float(np.nanmean(_scaled(dim, values)))
        return out

    return snap.memo(_MEANS, means)


_MEANS = Key[dict]("spaces.attr.means", "tracks")


