"""How tracks are named: character n-grams of a track's title, album and artist, and how
close those are to a set of tracks (expansion's "names" part).

A playlist's names say a lot that its sound attributes do not: the language it is in
("corazón", "liebe", "l'amour"), the words its scene uses ("remix", "feat.", "riddim",
"op. 27", "vol. 2"), the soundtrack or compilation it draws on. On the dev playlists,
adding this part to the score of candidates by new artists raised discovery recall@100
from 0.105 to about 0.15 (bench/README.md, `attune eval expand`).

Each track is one document: its title, album and artist, lower-cased, whitespace
collapsed. Its vector counts the document's character 2-, 3- and 4-grams, hashed into
BUCKETS buckets (no vocabulary to fit or store), weighted by sublinear term frequency
(1 + log tf) times the smoothed inverse document frequency log((1 + n) / (1 + df)) + 1,
and scaled to unit length: the TF-IDF of scikit-learn's character analyzer, with the
document frequencies counted over at most IDF_SAMPLE evenly spaced tracks. The closeness
of a track to a set of seeds is the mean of its NEAREST highest cosine similarities to
them.

Vectors are built for the rows asked for only (their three fields taken by position), in
numpy, so nothing per track is held: only one float per bucket (4 MB).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
import scipy.sparse as sp

from ..storage import Key, Snapshot

#: The n-gram lengths, the hash buckets, the tracks the document frequencies are counted on.
NGRAMS = (2, 3, 4)
BUCKETS = 1 << 20
IDF_SAMPLE = 100_000
#: Documents whose n-grams are counted at a time for the IDF (`idf`): 2,500 peaked 27-28 MB
#: over what the process held at 1M tracks where 10,000 peaked 84-86, in the same time.
IDF_CHUNK = 2_500
#: A candidate's closeness is the mean of its similarities to this many nearest seeds,
#: out of at most MAX_SEEDS (evenly spaced).
NEAREST = 5
MAX_SEEDS = 1000
#: The fields of a track's document.
FIELDS = ("title", "album", "artist")

_IDF = Key[np.ndarray]("words.names.idf", "tracks")
_SHIFT = np.uint64(64 - (BUCKETS.bit_length() - 1))
# Odd 64-bit multipliers: one per position in an n-gram, and one per n-gram length.
_POSITION = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93], dtype=np.uint64)
_LENGTH = np.array([0, 0, 0x27D4EB2F165667C5, 0x94D049BB133111EB, 0xBF58476D1CE4E5B9], dtype=np.uint64)


#: Gives the FIELDS of some rows, in their order (`fields_of`).
Fields = Callable[[np.ndarray], pl.DataFrame]


def fields_of(snap: Snapshot, rows: np.ndarray) -> Fields:
    """The FIELDS of these rows taken once (over the memory budget a take is a read from
    LanceDB), then given for any of them: for a caller that needs them twice."""
    rows = np.unique(np.asarray(rows, dtype=np.int64))
    frame = snap.tracks.take_columns(rows, list(FIELDS))
    return lambda some: frame[np.searchsorted(rows, np.asarray(some, dtype=np.int64))]


def documents(snap: Snapshot, rows: np.ndarray, fields: Fields | None = None) -> list[str]:
    """The lower-cased "title album artist" of these rows (taken by position: a library
    over its memory budget reads these rows' three fields, not whole columns)."""
    rows = np.asarray(rows, dtype=np.int64)
    frame = fields(rows) if fields is not None else snap.tracks.take_columns(rows, list(FIELDS))
    text = pl.concat_str([pl.col(f).fill_null("") for f in FIELDS], separator=" ").str.to_lowercase()
    return frame.select(text.str.replace_all(r"\s+", " ").str.strip_chars(" ")).to_series().to_list()


def counts(docs: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(document, bucket, count) of each distinct n-gram bucket in each document, by
    document; each document is padded with a space."""
    if not docs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    text = "\0".join(f" {d} " for d in docs)
    cp = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    separator = cp == 0
    doc = np.cumsum(separator)  # the document of each character (a separator starts the next)
    keys = []
    with np.errstate(over="ignore"):
        for n in NGRAMS:
            if len(cp) < n:
                continue
            last = len(cp) - n + 1
            h = np.full(last, _LENGTH[n], dtype=np.uint64)
            for j in range(n):
                h += cp[j:j + last] * _POSITION[j]
            valid = ~separator[:last] & (doc[:last] == doc[n - 1:])
            bucket = ((h[valid] * _POSITION[0]) >> _SHIFT).astype(np.int64)
            keys.append(doc[:last][valid].astype(np.int64) * BUCKETS + bucket)
    key, count = np.unique(np.concatenate(keys), return_counts=True)
    return key // BUCKETS, key % BUCKETS, count


def idf(snap: Snapshot) -> np.ndarray:
    """Smoothed inverse document frequency per bucket, over an even sample of the tracks."""

    def build() -> np.ndarray:
        n = len(snap)
        sample = np.unique(np.linspace(0, n - 1, min(n, IDF_SAMPLE)).astype(np.int64)) if n else np.zeros(0, np.int64)
        df = np.zeros(BUCKETS, dtype=np.float64)
        for start in range(0, len(sample), IDF_CHUNK):
            df += np.bincount(counts(documents(snap, sample[start:start + IDF_CHUNK]))[1], minlength=BUCKETS)
        return (np.log((1.0 + len(sample)) / (1.0 + df)) + 1.0).astype(np.float32)

    return snap.memo(_IDF, build)


def weights(snap: Snapshot, rows: np.ndarray, fields: Fields | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(position in rows, bucket, weight) of the rows' unit-length TF-IDF vectors."""
    doc, bucket, count = counts(documents(snap, np.asarray(rows, dtype=np.int64), fields))
    w = (1.0 + np.log(count)) * idf(snap)[bucket]
    norm = np.sqrt(np.bincount(doc, weights=w * w, minlength=len(rows)))
    return doc, bucket, w / np.maximum(norm[doc], 1e-12)


def vectors(snap: Snapshot, rows: np.ndarray) -> sp.csr_matrix:
    """Unit-length TF-IDF vectors of these rows' names (rows x BUCKETS)."""
    doc, bucket, w = weights(snap, rows)
    return sp.csr_matrix((w, (doc, bucket)), shape=(len(rows), BUCKETS))


def closeness(snap: Snapshot, rows: np.ndarray, seeds: np.ndarray, nearest: int = NEAREST,
              fields: Fields | None = None) -> np.ndarray:
    """Per row, the mean of its `nearest` highest cosine similarities to the seeds' names
    (0..1; 0 without seeds). Only the buckets the seeds have can add to a similarity, so
    the product runs over those. `fields`: the rows' and seeds' names taken already."""
    rows = np.asarray(rows, dtype=np.int64)
    if not len(rows) or not len(seeds):
        return np.zeros(len(rows))
    if len(seeds) > MAX_SEEDS:
        seeds = np.asarray(seeds)[np.linspace(0, len(seeds) - 1, MAX_SEEDS).astype(np.int64)]
    s_doc, s_bucket, s_w = weights(snap, seeds, fields)
    vocabulary, s_col = np.unique(s_bucket, return_inverse=True)
    seed_matrix = sp.csc_matrix((s_w, (s_col.ravel(), s_doc)), shape=(len(vocabulary), len(seeds)))
    doc, bucket, w = weights(snap, rows, fields)
    column = np.full(BUCKETS, -1, dtype=np.int32)
    column[vocabulary] = np.arange(len(vocabulary), dtype=np.int32)
    place = column[bucket]
    shared = place >= 0
    mine = sp.csr_matrix((w[shared], (doc[shared], place[shared])), shape=(len(rows), len(vocabulary)))
    sims = (mine @ seed_matrix).toarray()
    k = min(nearest, sims.shape[1])
    return np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:].mean(axis=1).astype(np.float64)
