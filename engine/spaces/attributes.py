"""The attribute space's raw vectors: scaled numeric attributes and genre indicators.

The numeric dimensions and their scaling come from the field registry
(`attune.query.fields.SPACE_DIMS`); the genre dimensions are the library's
MAX_GENRE_DIMS most frequent genres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from attune.query.fields import SPACE_DIMS

from ..storage import Key, Snapshot, TextIndex

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
    layout = _layout(snap)
    dims, top, column = layout.dims, layout.top, layout.column
    pick = slice(None) if rows is None else np.asarray(rows, dtype=np.int64)
    x = np.empty((len(tracks) if rows is None else len(pick), len(dims) + len(top)), dtype=np.float32)
    for j, dim in enumerate(dims):
        x[:, j] = _scaled(dim, tracks.numbers_at(dim, None if rows is None else pick))
        x[np.isnan(x[:, j]), j] = layout.means[dim]
    if top:
        # Each entry's column (-1: not a top genre); the entries of the rows asked for are
        # found by binary search (an index's entries are in row order), not by a pass over all.
        at, entries = layout.index.entries_of(None if rows is None else pick)
        wanted = column[layout.index.codes[entries]]
        x[:, len(dims):] = 0.0
        x[at[wanted >= 0], wanted[wanted >= 0]] = 1.0
        if layout.shares is not None:
            x[np.ix_(np.flatnonzero(layout.unknown[pick]), np.arange(len(dims), len(dims) + len(top)))] = layout.shares
    return x, layout.names


@dataclass
class _Layout:
    """What the attribute space's dimensions are: the numeric attributes (with their
    library means) and the top genres (with each genre index code's column)."""

    dims: tuple[str, ...]  # numeric attributes
    means: dict[str, float]
    index: TextIndex  # the genre index
    top: list[int]  # its codes of the top genres
    column: np.ndarray  # each genre code's column (-1: not a top genre)
    unknown: np.ndarray  # rows with no genre at all
    shares: np.ndarray | None  # the mean genre profile they get (None: no such row, or every row)

    @property
    def names(self) -> tuple[str, ...]:
        return self.dims + tuple(f"genre:{self.index.values[c]}" for c in self.top)


def _layout(snap: Snapshot) -> _Layout:
    means = _means(snap)  # dim -> the library's mean (scaled); dims no track has a value of are left out
    dims = tuple(d for d in SPACE_DIMS if d in means)
    index = snap.text_index("genre")
    counts = index.counts()
    top = sorted(range(len(counts)), key=lambda c: (-counts[c], index.values[c]))[:MAX_GENRE_DIMS]
    column = np.full(len(index.values), -1, dtype=np.int64)
    column[top] = np.arange(len(dims), len(dims) + len(top))
    unknown = snap.genre_unknown() if top else np.zeros(len(snap), dtype=bool)
    shares = None
    if unknown.any() and not unknown.all():
        # the share of tracks with some genre that have each (an index holds each
        # (track, genre) once, so its count is the tracks')
        shares = (counts[top] / max(int((~unknown).sum()), 1)).astype(np.float32)
    return _Layout(dims, means, index, top, column, unknown, shares)


@dataclass
class AttributeParts:
    """The attribute space's raw vectors held in parts, for a library over its memory
    budget: each track's numeric attributes (scaled, a missing one at its mean) and which
    genre profile it has (its top genres as 0/1, or the mean profile for a track with no
    genre; a library has a few thousand distinct ones). About 4a + 2 bytes a track where
    the (N, d) float32 matrix takes 4d: 26 against 120 with 6 attributes and 24 genres.
    `rows` gives exactly the rows of `attribute_matrix`."""

    numbers: np.ndarray  # (N, a) float32
    profile: np.ndarray  # (N,) the row of `profiles` of each track (uint16 when there are few)
    profiles: np.ndarray  # (P, g) float32
    names: tuple[str, ...]
    #: Each profile as bits (bit j: the j-th top genre; -1: the mean profile `shares`), what
    #: `stored` writes instead of the (P, g) matrix.
    kinds: np.ndarray
    shares: np.ndarray | None = None
    #: Read back from what `attune optimize` stored (`from_stored`), not computed from the columns.
    stored_by_optimize: bool = False

    def __len__(self) -> int:
        return len(self.numbers)

    def rows(self, rows: np.ndarray | slice) -> np.ndarray:
        return np.hstack([self.numbers[rows], self.profiles[self.profile[rows]]])

    @property
    def nbytes(self) -> int:
        return int(self.numbers.nbytes + self.profile.nbytes + self.profiles.nbytes)

    def stored(self) -> dict:
        """What `from_stored` takes: the per-track arrays, and the rest as JSON-able values
        (the profiles as their bits: a few thousand numbers, not a (P, g) matrix)."""
        return {"numbers": self.numbers, "profile": self.profile, "names": list(self.names),
                "genres": self.profiles.shape[1], "kinds": [int(k) for k in self.kinds],
                "shares": None if self.shares is None else [float(v) for v in self.shares]}

    @classmethod
    def from_stored(cls, data: dict) -> AttributeParts:
        """The parts `stored` gave (read back by the library: `Library._stored_parts`)."""
        g = int(data["genres"])
        kinds = np.asarray(data["kinds"], dtype=np.int64)
        profiles = ((np.maximum(kinds, 0)[:, None] >> np.arange(g)) & 1).astype(np.float32)
        shares = None if data.get("shares") is None else np.asarray(data["shares"], dtype=np.float32)
        if shares is not None:
            profiles[kinds == -1] = shares
        numbers = np.ascontiguousarray(data["numbers"], dtype=np.float32)
        small = np.uint16 if len(kinds) <= 1 << 16 else np.int32
        return cls(numbers, np.asarray(data["profile"]).astype(small), profiles, tuple(data["names"]), kinds, shares,
                   stored_by_optimize=True)


def attribute_parts(snap: Snapshot) -> AttributeParts:
    """The attribute vectors of every row as `AttributeParts` (no (N, d) matrix is made).
    Each attribute column is read once (over the budget a read is for this call only), its
    mean taken from the same read as `_means` takes it."""
    n = len(snap)
    candidates = [dim for dim in SPACE_DIMS if dim in snap.tracks.columns]
    numbers = np.empty((n, len(candidates)), dtype=np.float32)
    means: dict[str, float] = {}
    for j, dim in enumerate(candidates):
        values = _scaled(dim, snap.tracks.numbers_at(dim))
        if not np.isnan(values).all():
            means[dim] = float(np.nanmean(values))
            numbers[:, j] = values
        del values
    snap.memo(_MEANS, lambda: means)
    layout = _layout(snap)
    if list(layout.dims) != candidates:  # a column with no value at all
        numbers = np.ascontiguousarray(numbers[:, [candidates.index(dim) for dim in layout.dims]])
    a, g = len(layout.dims), len(layout.top)
    for j, dim in enumerate(layout.dims):
        numbers[np.isnan(numbers[:, j]), j] = layout.means[dim]
    if not g:
        return AttributeParts(numbers, np.zeros(n, dtype=np.uint16), np.zeros((1, 0), dtype=np.float32), layout.names,
                              np.zeros(1, dtype=np.int64))
    # Each track's top genres as bits (at most 32 genres: exact in float64), -1 for a
    # track with no genre when it gets the mean profile.
    at, entries = layout.index.entries_of(None)
    wanted = layout.column[layout.index.codes[entries]] - a
    keep = wanted >= 0
    bits = np.bincount(at[keep], weights=np.exp2(wanted[keep]), minlength=n).astype(np.int64)
    del at, entries, wanted, keep
    if layout.shares is not None:
        bits[layout.unknown] = -1
    kinds, profile = np.unique(bits, return_inverse=True)
    del bits
    profiles = ((kinds[:, None] >> np.arange(g)) & 1).astype(np.float32)
    if layout.shares is not None and kinds[0] == -1:
        profiles[0] = layout.shares
    small = np.uint16 if len(kinds) <= 1 << 16 else np.int32
    shares = layout.shares if layout.shares is not None and kinds[0] == -1 else None
    return AttributeParts(numbers, profile.astype(small), profiles, layout.names, kinds, shares)


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


