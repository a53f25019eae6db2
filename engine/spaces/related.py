"""Related artists: which artists share playlists with some artists (the co-listen
space at the level of artists: expansion's "new artists" part, and what
`like:artist("X") in:colisten` pulls in).

Built from the library's playlists as a sparse playlists x artists incidence matrix M
(1 where the playlist has a track by the artist). For a playlist P with artist shares
s (the share of P's tracks by each artist), P's own row left out:

    cooc(b)    = sum over other playlists Q of [b in Q] * (s . M[Q])   (co-occurrence mass)
    related(b) = norm(cooc(b) / n_b) + 0.57 * norm(cooc(b) / sqrt(n_b)),  divided by its maximum

where n_b is the number of playlists artist b is in and norm() divides by the maximum. Dividing by n_b damps the
"wallpaper" artists that sit in a large share of all playlists (they co-occur with
everyone); the square-root term keeps some weight on well-connected artists. The
0.57 and the sharpness were fitted with `attune eval expand` on the dev playlists
(bench/README.md). Linear in the number of playlist entries: milliseconds at a million
tracks.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..storage import Key, Snapshot

#: Weight of the square-root-damped term next to the fully damped one.
BROAD = 0.57

_INCIDENCE = Key[tuple]("playlists.related.incidence")


def incidence(snap: Snapshot) -> tuple[sp.csr_matrix, list[str], np.ndarray]:
    """(playlists x artists presence matrix, playlist names in row order, playlists per artist)."""

    def build() -> tuple[sp.csr_matrix, list[str], np.ndarray]:
        artist = snap.text_index("artist")
        names = list(snap.playlists)
        rows, cols = [], []
        snap.resolve_playlists()
        for k, name in enumerate(names):
            found = snap.playlist_rows(name)
            rows.append(np.full(len(found), k, dtype=np.int64))
            cols.append(artist.codes[found])
        row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        col = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        named = ~np.isin(col, np.flatnonzero((artist.values == "").to_numpy()))  # "no artist" relates to nobody
        m = sp.csr_matrix((np.ones(int(named.sum())), (row[named], col[named])), shape=(len(names), len(artist.values)))
        m.sum_duplicates()
        m.data[:] = 1.0
        return m, names, np.asarray(m.sum(axis=0)).ravel()

    return snap.memo(_INCIDENCE, build)


def related_artists(snap: Snapshot, shares: np.ndarray, playlist: str | None = None) -> np.ndarray:
    """Each artist's relatedness (0..1) to artists weighted by `shares` (one value per
    artist code), through the library's playlists other than `playlist`."""
    m, names, per_artist = incidence(snap)
    if m.shape[0] == 0 or not shares.any():
        return np.zeros(len(shares))
    mass = m @ shares  # per playlist: how much of the seed it holds
    cooc = m.T @ mass
    counts = per_artist.astype(float)
    if playlist is not None and playlist in names:  # leave the playlist's own row out
        own = m.getrow(names.index(playlist))
        cooc[own.indices] -= mass[names.index(playlist)]
        counts[own.indices] -= 1
    counts = np.maximum(counts, 1.0)
    cooc = np.maximum(cooc, 0)
    score = _norm(cooc / counts) + BROAD * _norm(cooc / np.sqrt(counts))
    return _norm(score)


def _norm(x: np.ndarray) -> np.ndarray:
    top = x.max() if len(x) else 0.0
    return x / top if top > 0 else x
