"""The co-listen space learned from playlists."""

import numpy as np
from attune.engine.spaces.colisten import train


def test_tracks_sharing_playlists_end_up_close():
    rng = np.random.default_rng(0)
    pop = [f"p{i}" for i in range(30)]
    jazz = [f"j{i}" for i in range(30)]
    playlists = [list(rng.choice(pop, 12, replace=False)) for _ in range(20)] + [list(rng.choice(jazz, 12, replace=False)) for _ in range(20)]
    raw = train(playlists)
    centre = np.mean(list(raw.values()), axis=0)  # the space is centred (whitened) before use
    vectors = {k: v - centre for k, v in raw.items()}

    def cos(a, b):
        return float(vectors[a] @ vectors[b] / np.linalg.norm(vectors[a]) / np.linalg.norm(vectors[b]))

    within = np.mean([cos(pop[i], pop[j]) for i in range(10) for j in range(10) if i != j])
    across = np.mean([cos(pop[i], jazz[j]) for i in range(10) for j in range(10)])
    assert within > 0.5 > -0.5 > across


def test_training_is_deterministic_and_follows_edits():
    playlists = [["a", "b", "c", "d"], ["c", "d", "e"], ["x", "y", "a"]]
    first, again = train(playlists), train(playlists)
    assert all(np.array_equal(first[k], again[k]) for k in first)
    edited = train([["a", "b", "c", "d", "y"], ["c", "d", "e"], ["x", "y", "a"]])
    assert not np.allclose(first["y"], edited["y"])


def test_library_space_and_retrain_after_playlist_edit(lib):
    before = lib.space("colisten")
    assert before.has.sum() == 11  # t12 is in no playlist
    lib.playlists.create("Bridge", ["t01", "t10", "t12"])
    after = lib.space("colisten")
    assert after.has.sum() == 12
    assert not np.allclose(before.z, after.z)


def test_vectors_are_stored_in_tracks_and_reused_until_playlists_change(lib, monkeypatch):
    from attune.engine import Library
    from attune.engine.spaces import colisten

    lib.search("like:track(t01) in:colisten")
    stored = dict(lib.store.read("tracks", ["track_id", "colisten"]).to_pydict().items())
    vectors = dict(zip(stored["track_id"], stored["colisten"]))
    assert len(vectors["t01"]) == colisten.DIMENSIONS and not vectors["t12"]  # t12 is in no playlist

    def no_training(*args, **kwargs):
        raise AssertionError("retrained although the playlists did not change")

    monkeypatch.setattr(colisten, "train", no_training)
    again = Library.open(lib.path)
    assert again.search("like:track(t01) in:colisten").track_ids == lib.search("like:track(t01) in:colisten").track_ids
    monkeypatch.undo()
    again.playlists.add("Sunday Morning", ["t12"])
    again.search("like:track(t01) in:colisten")
    after = dict(zip(*again.store.read("tracks", ["track_id", "colisten"]).to_pydict().values()))
    assert len(after["t12"]) == colisten.DIMENSIONS and after["t01"] != vectors["t01"]
