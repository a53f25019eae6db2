"""Recipes: derivation, round trip through the query language, expansion."""

import numpy as np
import pytest
from attune.query import parse, render


def test_recipe_contents(lib):
    recipe = lib.recipe("sunday morning")
    assert recipe.size == 4
    assert set(recipe.genres) == {"r&b", "soul"}
    energy = np.array([0.35, 0.45, 0.30, 0.55])
    assert recipe.stats["energy"] == pytest.approx((energy.mean(), energy.std()))
    assert recipe.artists[0] == "Al Green" and len(recipe.artists) == 3
    assert recipe.years == (1971, 2005)


def test_recipe_round_trips_and_returns_its_tracks(lib):
    recipe = lib.recipe("Sunday Morning")
    text = str(recipe)
    query = parse(text)
    assert render(query) == text
    assert text.endswith('like:playlist("Sunday Morning")')
    # The recipe's tracks, computed directly; the playlist's own are left out by like:.
    frame = lib.snapshot().frame
    ok = np.ones(frame.height, dtype=bool)
    for attr, (low, high) in recipe.ranges().items():
        ok &= frame[attr].is_between(low, high).fill_null(False).to_numpy()
    ok &= frame["year"].is_between(*recipe.years).fill_null(False).to_numpy()
    ok &= frame["artist"].is_in(recipe.artists).to_numpy()
    ok &= np.array([bool(set(g) & set(recipe.genres)) for g in frame["genres"].to_list()])
    want = set(frame["track_id"].filter(ok).to_list()) - set(lib.playlists.get("Sunday Morning").track_ids)
    assert set(lib.search(text).track_ids) == want
    kept = lib.search(text + ' playlist:"Sunday Morning"').track_ids
    assert set(kept) == set(frame["track_id"].filter(ok).to_list())


def test_expand_excludes_playlist_and_explains(lib):
    results = lib.expand("Gym", limit=5)
    ids = results.track_ids
    assert len(ids) == 5
    assert not set(ids) & {"t10", "t11", "t05", "t06"}
    assert any(n.startswith("recipe: ") for n in results.notes)
    assert any(n.startswith("relaxed: ") for n in results.notes)  # 8 candidates < 20 x 5
    assert "new artist, related" in results.explain()  # the playlist's artists have no other tracks


def test_expand_prefers_the_playlists_artists(lib):
    lib.playlists.create("Green only", ["t01"])
    assert lib.expand("Green only", limit=3).track_ids[0] == "t02"


@pytest.mark.parametrize("want", [1, 3, 6, 10, 15, 10_000])
@pytest.mark.parametrize("artists", [True, False])
def test_the_pool_is_the_first_relaxation_step_with_enough_candidates(lib, want, artists):
    """Bisection over the relaxation steps finds what trying them in order finds."""
    from attune.engine.playlists.expand import ConstraintMasks, _pool, _relaxation_steps
    from attune.engine.playlists.recipe import derive_recipe

    snap = lib.snapshot()
    for name in snap.playlists:
        playlist = snap.playlists[name]
        masks = ConstraintMasks(snap, derive_recipe(snap, playlist))
        outside = np.ones(len(snap), dtype=bool)
        outside[snap.playlist_rows(name)] = False
        expected, labels = outside & masks.steering(), []
        for widen, use, label in _relaxation_steps(artists=artists):
            labels += [label] if label else []
            pool = outside & masks.all(widen, use)
            if pool.sum() >= want:
                expected = pool
                break
        else:
            labels.append("every constraint but the include/exclude filters dropped")
        got, relaxed = _pool(masks, outside, want, artists=artists)
        assert relaxed == labels, name
        assert np.array_equal(got, expected), name
