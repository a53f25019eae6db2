"""Tag relatedness: latent semantic indexing over the track-by-tag matrix.

Schindler and Knees ("Multi-tag annotations", LSI): every track is a document
whose words are its genres and tags; a TF-IDF weighted track-by-tag matrix is
factorised by a truncated SVD (gensim's LsiModel, seeded), and two tags are
related when their rows of U*S point the same way (cosine). Tags carried by
fewer than MIN_TRACKS tracks are left out. Used by `attune tags related`, by
`ask` to widen a rare genre, and by recipes to name a playlist's genre cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ..storage import Key, Snapshot

MIN_TRACKS = 2
MAX_TOPICS = 64
#: Larger libraries are sampled (every n-th track) to bound the fit's time.
MAX_DOCUMENTS = 200_000


@dataclass
class TagSpace:
    tags: list[str]
    vectors: np.ndarray  # (tags, topics), unit rows
    counts: dict[str, int]

    def related(self, tag: str, *, limit: int = 10) -> list[tuple[str, float]]:
        """The tags most related to `tag`, with their cosine similarity, best first."""
        at = {t: i for i, t in enumerate(self.tags)}.get(tag.lower().strip())
        if at is None:
            return []
        sims = self.vectors @ self.vectors[at]
        order = np.argsort(-sims, kind="stable")
        return [(self.tags[j], float(sims[j])) for j in order if j != at][:limit]

    def __contains__(self, tag: str) -> bool:
        return tag.lower().strip() in self.counts


def fit(documents: list[list[str]], *, seed: int = 0) -> TagSpace:
    """Fit the LSI model on documents of tags (lower-cased, one list per track)."""
    from gensim.corpora import Dictionary
    from gensim.models import LsiModel, TfidfModel

    if len(documents) > MAX_DOCUMENTS:
        documents = documents[:: -(-len(documents) // MAX_DOCUMENTS)]
    documents = [sorted(set(d)) for d in documents if d]
    dictionary = Dictionary(documents)
    dictionary.filter_extremes(no_below=MIN_TRACKS, no_above=1.0, keep_n=None)
    counts = {dictionary[i]: int(dictionary.dfs[i]) for i in dictionary.keys()}
    if len(dictionary) < 2:
        return TagSpace(list(counts), np.ones((len(counts), 1), dtype=np.float32), counts)
    corpus = [dictionary.doc2bow(d) for d in documents]
    tfidf = TfidfModel(corpus, id2word=dictionary)
    # Far fewer topics than tags, or LSI only rotates the matrix and relates nothing.
    topics = max(2, min(MAX_TOPICS, len(dictionary) // 4))
    lsi = LsiModel(tfidf[corpus], id2word=dictionary, num_topics=topics, random_seed=seed)
    vectors = lsi.projection.u * lsi.projection.s
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    tags = [dictionary[i] for i in range(len(dictionary))]
    return TagSpace(tags, vectors.astype(np.float32), counts)


_TAGS_TRACKS = Key["TagSpace"]("words.tags", "tracks")
_TAGS_PLAYLISTS = Key["TagSpace"]("words.tags.playlists")


def tag_space(snap: Snapshot) -> TagSpace:
    """The snapshot's tag relatedness model, fitted on first use (seconds on a large library).

    A track's words are its genres (with those it inherits from playlists) and its tags,
    so the model depends on the playlists only where playlists give genres.
    """
    def build() -> TagSpace:
        frame = snap.frame.select(
            pl.concat_list(pl.col("genres").fill_null([]), pl.col("tags").fill_null([])).list.eval(pl.element().str.to_lowercase())
        )
        return fit(frame.to_series().to_list())

    return snap.memo(_TAGS_PLAYLISTS if snap.inherits_genres else _TAGS_TRACKS, build)
