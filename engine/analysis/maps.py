"""Maps of a library and the agreement of two spaces (Tovstogan 2022, chapter 4).

- `library_map`: 2-D coordinates of tracks in one whitened space, by PCA (numpy's SVD of
  the centred vectors: axes of largest variance, each axis's share of variance reported;
  fitted without the farthest 1% of tracks, which are projected like the rest)
  or UMAP (umap-learn: neighbourhoods kept, distances not), for a plot with the named
  playlists coloured. At most `sample` tracks (a seeded random sample of those with a
  vector; every track of a named playlist is always in it).
- `agreement`: S_n of two spaces, the mean over tracks of the share of a track's n nearest
  neighbours in space A that are also among its n nearest in space B (exact neighbours,
  whitened squared distance, the track itself left out), over the tracks with a vector in
  both (a seeded sample of at most `sample`). A space agrees with itself fully (1); two
  unrelated spaces agree by chance, n / (N - 1) on average.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ..errors import LibraryError, NotAvailableError
from ..spaces import SPACE_NAMES
from ..spaces import space as space_of
from ..storage import Snapshot

#: The most tracks a map or an agreement is computed over (a seeded sample beyond it).
SAMPLE = 20_000
METHODS = ("pca", "umap")


@dataclass
class LibraryMap:
    space: str
    method: str
    #: track_id, title, artist, playlist (the first named playlist holding it, else ""), x, y
    frame: pl.DataFrame
    #: PCA: the share of variance along x and along y; None for UMAP.
    explained: tuple[float, float] | None
    notes: list[str] = field(default_factory=list)


def _usable(snap: Snapshot, name: str):
    if name not in SPACE_NAMES:
        raise LibraryError(f"unknown space '{name}'; spaces are {', '.join(SPACE_NAMES)}")
    data = space_of(snap, name)
    has = data.has.copy()
    if data.estimated is not None:  # co-listen positions guessed for tracks in no playlist are left out
        has &= ~data.estimated
    if not has.any():
        raise NotAvailableError(f"no track in this library has a vector in the {name} space"
                                + ("; index audio files with `attune index` first" if name == "audio" else ""))
    return data, has


def library_map(snap: Snapshot, *, space: str = "attr", playlists: list[str] = (), method: str = "pca",
                sample: int = SAMPLE, seed: int = 0) -> LibraryMap:
    """The tracks of one space in two dimensions (see the module docstring); `playlists`
    are playlist names (already resolved) whose tracks are labelled."""
    if method not in METHODS:
        raise LibraryError(f"unknown map method '{method}'; methods are {', '.join(METHODS)}")
    data, has = _usable(snap, space)
    notes: list[str] = []
    label = np.full(len(snap), "", dtype=object)
    for name in reversed(playlists):  # the first named playlist wins where they share tracks
        rows = snap.playlist_rows(name)
        label[rows] = name
        if missing := int((~has[rows]).sum()):
            notes.append(f"{missing} tracks of '{name}' have no {space} vector and are not on the map")
    named = np.flatnonzero(has & (label != ""))
    rest = np.flatnonzero(has & (label == ""))
    room = max(sample - len(named), 0)
    if len(rest) > room:
        rest = np.sort(np.random.default_rng(seed).choice(rest, room, replace=False))
        notes.append(f"a sample of {room:,} of the other tracks (of {int((has & (label == '')).sum()):,})")
    rows = np.r_[named, rest].astype(np.int64)
    if len(rows) < 3:
        raise NotAvailableError(f"a map needs at least 3 tracks with a {space} vector")
    z = data.z[rows].astype(np.float64)
    explained = None
    if method == "pca":
        # The axes are fitted on all but the farthest 1% of tracks (from the median), so a
        # handful of far-off tracks cannot claim both axes; every track is then projected.
        far = ((z - np.median(z, axis=0)) ** 2).sum(axis=1)
        fit = far <= np.percentile(far, 99) if len(z) >= 100 else np.ones(len(z), dtype=bool)
        mean = z[fit].mean(axis=0)
        _, s, vt = np.linalg.svd(z[fit] - mean, full_matrices=False)
        axes = vt[:2] if len(vt) > 1 else np.r_[vt, np.zeros_like(vt)]
        xy = (z - mean) @ axes.T
        total = float((s**2).sum()) or 1.0
        explained = (float(s[0] ** 2 / total), float(s[1] ** 2 / total) if len(s) > 1 else 0.0)
        if not fit.all():
            notes.append(f"the PCA axes were fitted without the {int((~fit).sum())} farthest tracks (1%); they are projected "
                         "like the rest")
    else:
        try:
            import umap
        except ImportError:
            raise NotAvailableError("--method umap needs umap-learn (pip install umap-learn)") from None
        reducer = umap.UMAP(n_neighbors=min(15, len(rows) - 1), random_state=seed, n_jobs=1)
        xy = reducer.fit_transform(z)
    frame = snap.gather(rows).select("track_id", "title", "artist").with_columns(
        pl.Series("playlist", label[rows].tolist(), dtype=pl.String),
        pl.Series("x", xy[:, 0].astype(np.float64)), pl.Series("y", xy[:, 1].astype(np.float64)),
    )
    return LibraryMap(space, method, frame, explained, notes)


@dataclass
class Agreement:
    n: int
    #: (space A, space B) -> (S_n, tracks it was measured over)
    pairs: dict[tuple[str, str], tuple[float, int]]
    notes: list[str] = field(default_factory=list)

    def chance(self, pair: tuple[str, str]) -> float:
        """What two unrelated spaces would score over the same tracks: n / (N - 1)."""
        count = self.pairs[pair][1]
        return self.n / max(count - 1, 1)


def nearest_neighbours(z: np.ndarray, n: int, block: int = 2048) -> np.ndarray:
    """(N, n) rows of each row's n nearest other rows (squared Euclidean), exact, in blocks."""
    z = np.asarray(z, dtype=np.float32)
    sq = np.einsum("ij,ij->i", z, z)
    out = np.empty((len(z), n), dtype=np.int64)
    for start in range(0, len(z), block):
        stop = min(start + block, len(z))
        d = sq[start:stop, None] - 2.0 * (z[start:stop] @ z.T) + sq[None, :]
        d[np.arange(stop - start), np.arange(start, stop)] = np.inf  # not its own neighbour
        out[start:stop] = np.argpartition(d, n - 1, axis=1)[:, :n]
    return out


def neighbour_overlap(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Per row: the share of its n nearest neighbours in `a` that are among its n nearest in `b`."""
    if not 1 <= n < len(a):
        raise LibraryError(f"n must be from 1 to {len(a) - 1} (the number of tracks less one), not {n}")
    both = np.sort(np.c_[nearest_neighbours(a, n), nearest_neighbours(b, n)], axis=1)
    return (both[:, 1:] == both[:, :-1]).sum(axis=1) / n


def agreement(snap: Snapshot, spaces: list[str], *, n: int = 10, sample: int = SAMPLE, seed: int = 0) -> Agreement:
    """S_n for every pair of the spaces (see the module docstring)."""
    if len(spaces) < 2:
        raise LibraryError("an agreement compares at least two spaces, e.g. attr,audio")
    usable, notes = {}, []
    for name in dict.fromkeys(spaces):
        try:
            usable[name] = _usable(snap, name)
        except NotAvailableError as exc:
            notes.append(f"{name}: skipped ({exc})")
    pairs: dict[tuple[str, str], tuple[float, int]] = {}
    names = list(usable)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            rows = np.flatnonzero(usable[a][1] & usable[b][1])
            if len(rows) <= n:
                notes.append(f"{a} vs {b}: only {len(rows)} tracks have vectors in both; S_{n} needs more than {n}")
                continue
            if len(rows) > sample:
                notes.append(f"{a} vs {b}: a sample of {sample:,} of the {len(rows):,} tracks with vectors in both")
                rows = np.sort(np.random.default_rng(seed).choice(rows, sample, replace=False))
            share = neighbour_overlap(usable[a][0].z[rows], usable[b][0].z[rows], n)
            pairs[(a, b)] = (float(share.mean()), len(rows))
    return Agreement(n, pairs, notes)
