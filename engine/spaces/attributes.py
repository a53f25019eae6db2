"""The attribute space's raw vectors: scaled numeric attributes and genre indicators.

The numeric dimensions and their scaling come from the field registry
(`attune.query.fields.SPACE_DIMS`); the genre dimensions are the library's
MAX_GENRE_DIMS most frequent genres.
"""

from __future__ import annotations

import numpy as np
from attune.query.fields import SPACE_DIMS

from ..storage import Snapshot

#: At most this many genre dimensions (the library's most frequent genres).
MAX_GENRE_DIMS = 32


def attribute_matrix(snap: Snapshot) -> tuple[np.ndarray, tuple[str, ...]]:
    """(N, d) float32 raw attribute vectors and their dimension names.

    A missing value is replaced by the attribute's mean over the library, so it
    neither pulls a track towards nor away from anything; a track with no genre
    at all gets the library's mean genre profile for the same reason.
    """
    tracks = snap.tracks
    dims = [d for d in SPACE_DIMS if d in tracks.columns and tracks.column(d).null_count() < len(tracks)]
    index = snap.text_index("genre")
    counts = index.counts()
    top = sorted(range(len(counts)), key=lambda c: (-counts[c], index.values[c]))[:MAX_GENRE_DIMS]
    x = np.empty((len(tracks), len(dims) + len(top)), dtype=np.float32)
    for j, dim in enumerate(dims):
        offset, scale = SPACE_DIMS[dim]
        values = (snap.numbers(dim) - offset) / scale
        x[:, j] = np.where(np.isnan(values), np.nanmean(values), values)
    unknown = snap.genre_unknown() if top else None
    for j, code in enumerate(top, start=len(dims)):
        assert index.rows is not None and unknown is not None
        column = x[:, j]
        column[:] = 0.0
        column[index.rows[index.codes == code]] = 1.0
        if unknown.any() and not unknown.all():
            column[unknown] = column[~unknown].mean()
    return x, tuple(dims) + tuple(f"genre:{index.values[c]}" for c in top)
