"""Names as character n-grams (`words/names.py`): the vectors against scikit-learn's TF-IDF,
and expansion preferring new artists whose names sound like the playlist's."""

from __future__ import annotations

import numpy as np
import pytest
from attune.engine import Library
from attune.engine.words import names
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from .test_discovery import _write

SPANISH = ["Corazón de fuego", "La noche contigo", "Bailando en la calle", "Mi amor eterno", "Canción del mar",
           "Quiero volver a casa", "Sueños de verano", "La vida es un carnaval"]


def _library(tmp_path, rows):
    lib = Library.open(tmp_path / "lib")
    lib.import_spotify([_write(tmp_path / "t.csv", rows)])
    return lib


def _reference(docs: list[str]) -> np.ndarray:
    """scikit-learn's character TF-IDF of the same padded documents (cosine similarities)."""
    tfidf = TfidfVectorizer(analyzer="char", ngram_range=(2, 4), lowercase=False, sublinear_tf=True)
    x = tfidf.fit_transform([f" {d} " for d in docs])
    return (x @ x.T).toarray()


@settings(max_examples=10, deadline=None)
@given(st.lists(st.text(alphabet="abcdeñé xyz", min_size=1, max_size=20).filter(str.strip), min_size=2, max_size=8))
def test_similarities_equal_scikit_learns_tfidf(tmp_path_factory, titles):
    lib = _library(tmp_path_factory.mktemp("names"), [(f"t{i}", t, "", "", 0.5) for i, t in enumerate(titles)])
    snap = lib.snapshot()
    rows = snap.rows_of([f"t{i}" for i in range(len(titles))])
    docs = names.documents(snap, rows)
    # the document is the lower-cased title, album and artist, whitespace collapsed
    assert docs == [" ".join(f"{t} album".lower().split()) for t in titles]
    x = names.vectors(snap, rows)
    assert np.allclose((x @ x.T).toarray(), _reference(docs), atol=1e-5)  # 2^20 buckets: no collision here


def test_closeness_is_the_mean_of_the_nearest_seeds(tmp_path):
    rows = [(f"s{i}", t, "Banda", "Fiesta", 0.5) for i, t in enumerate(SPANISH)]
    rows += [("c1", "Amor de verano", "Nuevo", "", 0.5), ("c2", "Walking through the night", "Newbie", "", 0.5)]
    snap = _library(tmp_path, rows).snapshot()
    seeds = snap.playlist_rows("Fiesta")
    candidates = snap.rows_of(["c1", "c2"])
    close = names.closeness(snap, candidates, seeds)
    assert close[0] > close[1] > 0
    x = names.vectors(snap, np.r_[candidates, seeds])
    sims = (x[:2] @ x[2:].T).toarray()
    assert close == pytest.approx(np.sort(sims, axis=1)[:, -names.NEAREST:].mean(axis=1))
    assert names.closeness(snap, candidates, seeds[:2]) == pytest.approx(sims[:, :2].mean(axis=1))
    assert names.closeness(snap, candidates, seeds[:0]).tolist() == [0.0, 0.0]


def test_expansion_finds_new_artists_that_sound_like_the_playlist_by_name(tmp_path):
    # Two new artists, in no playlist, with the same sound, year and popularity; only the
    # language of their titles differs. The English one comes first in the library, so
    # without the names part it would win the tie.
    rows = [(f"s{i}", t, f"Banda {i % 4}", "Fiesta", 0.5) for i, t in enumerate(SPANISH)]
    rows += [("e1", "Walking through the night", "Newbie", "", 0.5), ("e2", "Thinking about you", "Newbie", "", 0.5)]
    rows += [("n1", "Te quiero mañana", "Nuevo", "", 0.5), ("n2", "El camino del sol", "Nuevo", "", 0.5)]
    lib = _library(tmp_path, rows)
    found = lib.expand("Fiesta", limit=4, discover=True)
    assert found.frame["artist"].to_list()[:2] == ["Nuevo", "Nuevo"]
    assert "names" in found.extra_explanations[0]["why"]


def test_another_artists_version_of_a_playlist_song_is_not_a_discovery(tmp_path):
    rows = [(f"s{i}", t, f"Banda {i % 4}", "Fiesta", 0.5) for i, t in enumerate(SPANISH)]
    rows += [("v1", "Corazón de fuego - Remix", "DJ Remixer", "", 0.5), ("v2", "Canción del mar (Live)", "Cover Band", "", 0.5)]
    rows += [("o1", "Lejos de ti", "Otro", "", 0.5)]
    lib = _library(tmp_path, rows)
    found = lib.expand("Fiesta", limit=3, discover=True)
    assert found.frame["artist"].to_list()[0] == "Otro"  # the versions' names are closer, but they are the playlist's songs
    why = {r["track_id"]: e["why"] for r, e in zip(found.frame.iter_rows(named=True), found.extra_explanations)}
    assert "version of a song the playlist has" in why["v1"] and "version" not in why["o1"]
