"""Whitening maths against a direct numpy computation."""

import numpy as np
from attune.engine.spaces.whitening import LAMBDA_FRACTION, fit_whitener, inverse_sqrt, pooled_covariance
from hypothesis import given, settings
from hypothesis import strategies as st


def direct(x, groups):
    """The paper's recipe written out longhand."""
    mu, sigma = x.mean(0), x.std(0)
    xs = (x - mu) / sigma
    scatter = sum((xs[g] - xs[g].mean(0)).T @ (xs[g] - xs[g].mean(0)) for g in groups)
    n = sum(len(g) for g in groups)
    s = scatter / (n - len(groups))
    lam = LAMBDA_FRACTION * np.trace(s) / len(s)
    vals, vecs = np.linalg.eigh(s + lam * np.eye(len(s)))
    w = vecs @ np.diag(vals**-0.5) @ vecs.T
    return (xs @ w.T), s, lam


def test_matches_direct_computation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5)) * [1, 2, 0.5, 3, 1] + [0, 1, 2, 3, 4]
    groups = [np.arange(0, 20), np.arange(20, 45), np.arange(45, 60)]
    w = fit_whitener(x, groups, list("abcde"))
    want, s, lam = direct(x, groups)
    assert np.allclose(w.transform(x), want, atol=1e-4)
    assert np.isclose(w.lam, lam)
    assert w.pooled and w.n_playlists == 3 and w.n_entries == 60


def test_pooled_covariance_uses_each_groups_own_mean():
    x = np.array([[0.0], [2.0], [10.0], [14.0]])
    s, n, k = pooled_covariance(x, [np.array([0, 1]), np.array([2, 3])])
    assert (n, k) == (4, 2)
    assert np.isclose(s[0, 0], (1 + 1 + 4 + 4) / 2)


def test_whitened_playlists_have_unit_covariance_without_regularisation():
    rng = np.random.default_rng(3)
    cov = np.array([[4.0, 1.5], [1.5, 1.0]])
    groups, rows = [], []
    for k in range(40):
        centre = rng.normal(size=2) * 5
        rows.append(rng.multivariate_normal(centre, cov, size=50))
        groups.append(np.arange(k * 50, (k + 1) * 50))
    x = np.vstack(rows)
    xs = (x - x.mean(0)) / x.std(0)
    s, _, _ = pooled_covariance(xs, groups)
    z = xs @ inverse_sqrt(s).T
    within, _, _ = pooled_covariance(z, groups)
    assert np.allclose(within, np.eye(2), atol=1e-6)


def test_falls_back_to_standardisation_with_too_few_playlists():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, 3)) * 4 + 1
    w = fit_whitener(x, [np.arange(5)], ["a", "b", "c"])
    assert not w.pooled
    z = w.transform(x)
    assert np.allclose(z.mean(0), 0, atol=1e-5) and np.allclose(z.std(0), 1, atol=1e-5)


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 6), st.integers(0, 1000))
def test_inverse_sqrt_property(d, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(d, d))
    m = a @ a.T + 0.1 * np.eye(d)
    r = inverse_sqrt(m)
    assert np.allclose(r @ m @ r, np.eye(d), atol=1e-6)
    assert np.allclose(r, r.T)


def test_library_space_transform_and_persistence(lib):
    space = lib.space("attr")
    assert "energy" in space.dims and "genre:soul" in space.dims
    from attune.engine.spaces.attributes import attribute_matrix

    x, dims = attribute_matrix(lib.snapshot())
    assert dims == space.dims
    assert np.allclose(space.transform(x), space.z, atol=1e-5)
    stored = lib.store.get_meta("whiteners")
    assert "attr" in stored["spaces"]
    fitted = lib.fit()
    assert fitted["attr"].pooled and fitted["attr"].n_playlists == 3


def test_many_playlist_edits_keep_one_earlier_snapshot_and_stay_exact(lib):
    """A long-running process (the service) sees thousands of edits: each new snapshot
    reuses what the one before computed, without holding the whole chain, and a space
    updated edit by edit equals one fitted from scratch."""
    from attune.engine.spaces import space

    lib.search('like:playlist("Sunday Morning")')
    ids = ["t04", "t05", "t06", "t07", "t09", "t10", "t11", "t12"]
    for i in range(60):
        if i % 2:
            lib.playlists.remove("Gym", [ids[i % len(ids)]])
        else:
            lib.playlists.add("Gym", [ids[i % len(ids)]])
        if i % 7 == 0:
            lib.search('like:playlist("Sunday Morning")')
    snap = lib.snapshot()
    assert snap.previous is None or snap.previous.previous is None
    rows = snap.playlist_rows("Gym")
    assert list(snap.tracks.frame["track_id"].gather(rows)) == list(lib.playlists.get("Gym").track_ids)
    fresh = type(snap).build(snap.tracks.frame, snap.playlists.values())
    assert np.allclose(space(snap, "attr").z, space(fresh, "attr").z, atol=1e-4)


def test_attribute_rows_equal_the_whole_matrix_and_the_space_whitens_in_place():
    """Rows of the attribute matrix computed alone (what a refit reads once the space has
    whitened the whole matrix in place) equal those rows of the whole matrix: missing
    values, tracks with no genre, genres repeated in other case, genres inherited from a
    playlist."""
    import polars as pl
    from attune.engine.spaces import space
    from attune.engine.spaces.attributes import attribute_matrix
    from attune.engine.storage import Playlist, Snapshot

    rng = np.random.default_rng(3)
    n = 400
    genres = [None if i % 17 == 0 else [] if i % 13 == 0 else [["Soul", "soul", "funk"], ["jazz"], ["Rock", "pop"]][i % 3]
              for i in range(n)]
    frame = pl.DataFrame({
        "track_id": [f"t{i}" for i in range(n)],
        "energy": [None if i % 11 == 0 else float(v) for i, v in enumerate(rng.random(n))],
        "valence": rng.random(n), "tempo": 60 + 120 * rng.random(n),
        "genres": pl.Series(genres, dtype=pl.List(pl.String)),
    })
    playlists = [Playlist(f"p{j}", f"P{j}", tuple(f"t{i}" for i in rng.choice(n, 20, replace=False)),
                          genres=("gospel",) if j == 0 else ()) for j in range(6)]
    snap = Snapshot.build(frame, playlists)
    whole, dims = attribute_matrix(snap)
    assert "genre:gospel" in dims and "genre:soul" in dims and "genre:Soul" not in dims
    rows = rng.choice(n, 50, replace=False)
    part, same = attribute_matrix(snap, rows)
    assert same == dims
    np.testing.assert_allclose(part, whole[rows], atol=1e-6)
    unknown = snap.genre_unknown()
    assert unknown.any() and (whole[unknown][:, dims.index("genre:soul")] > 0).all()  # the library's share, not 0
    z = space(snap, "attr")
    np.testing.assert_allclose(z.z, z.whitener.transform(whole), atol=1e-5)
