"""The co-listen space (Alonso-Jimenez et al. 2023, "Playlist W2V"): track vectors
learned from the library's playlists with gensim's Word2Vec.

Playlists are sentences of track ids; CBOW with a context window covering the
whole playlist; seeded, one worker and a stable hash, so the same playlists
give the same vectors. Tracks in no playlist have no co-listen vector.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

DIMENSIONS = 32
EPOCHS = 100
SEED = 0


def _stable_hash(text: str) -> int:
    # gensim seeds each word's initial vector with hashfxn(word + str(seed)); Python's own
    # str hash changes between processes, which would change the vectors.
    return int(hashlib.blake2b(text.encode("utf-8"), digest_size=4).hexdigest(), 16)


def train(playlists: Iterable[Iterable[str]], *, dimensions: int = DIMENSIONS) -> dict[str, np.ndarray]:
    """track id -> co-listen vector, for every track in at least one playlist."""
    from gensim.models import Word2Vec

    sentences = [list(dict.fromkeys(p)) for p in playlists]
    sentences = [s for s in sentences if s]
    if not sentences:
        return {}
    window = max(len(s) for s in sentences)
    model = Word2Vec(
        sentences,
        vector_size=dimensions,
        window=window,
        min_count=1,
        sg=0,
        seed=SEED,
        workers=1,
        epochs=EPOCHS,
        hashfxn=_stable_hash,
        sample=0,  # no down-sampling: in a playlist corpus every track is "frequent"
    )
    return {word: model.wv[word].astype(np.float32) for word in model.wv.index_to_key}
