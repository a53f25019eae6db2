"""Playlist analysis against a direct numpy / scipy computation on the fixture library."""

import numpy as np
import polars as pl
import pytest
from attune.engine import LibraryError
from attune.engine.analysis import Analysis, SpaceAnalysis, histogram
from attune.engine.spaces import space as space_of
from scipy import stats


def direct(lib):
    snap = lib.snapshot()
    space = space_of(snap, "attr")
    names = list(snap.playlists)
    entries = {n: [snap.rows_of([t])[0] for t in snap.playlists[n].track_ids] for n in names}
    means = {n: space.z[entries[n]].astype(float).mean(axis=0) for n in names}
    d = {(n, r, j): float(((space.z[r] - means[j]) ** 2).sum()) for n in names for r in entries[n] for j in names}
    m = np.array([[np.mean([d[(k, r, j)] for r in entries[k]]) for j in names] for k in names])
    delta = {(k, r): min(d[(k, r, j)] for j in names if j != k) - d[(k, r, k)] for k in names for r in entries[k]}
    return names, m, delta, snap


def test_mean_distances_and_deltas(lib):
    names, m, delta, snap = direct(lib)
    analysis = lib.analyze(spaces=("attr",))
    a = analysis.spaces["attr"]
    order = [a.playlists.index(n) for n in names]
    assert np.allclose(a.mean_distances[np.ix_(order, order)], m, atol=1e-3)
    ids = snap.frame["track_id"].to_list()
    got = {(r["playlist"], r["track_id"]): r["delta"] for r in a.deltas.iter_rows(named=True)}
    for (k, row), value in delta.items():
        assert got[(k, ids[row])] == pytest.approx(value, abs=1e-3)
    assert analysis.deltas.columns == ["playlist", "track_id", "space", "delta"]
    table = analysis.mean_distances("attr")
    assert table.columns[0] == "playlist" and table.height == 3


def test_summary_outliers_and_skips(lib):
    analysis = lib.analyze(spaces=("attr", "audio", "colisten"))
    assert set(analysis.skipped) == {"audio"}
    summary = analysis.summary("attr")
    assert set(summary["playlist"]) == {"Gym", "Odd Names", "Sunday Morning"}
    assert summary["entries"].sum() == 13
    outliers = analysis.outliers("attr", "Odd Names")
    assert (outliers["delta"] < 0).all()
    t, p, tw, pw = analysis.ttest("attr", "colisten")
    assert np.isfinite([t, p, tw, pw]).all() and 0 <= p <= 1
    with pytest.raises(LibraryError, match="no analysis in the audio space"):
        analysis.ttest("attr", "audio")


def test_ttests_match_scipy():
    rng = np.random.default_rng(0)
    frame = pl.DataFrame({"playlist": ["p"] * 30, "track_id": [f"t{i}" for i in range(30)], "delta": rng.normal(1, 1, 30)})
    other = frame.with_columns(pl.col("delta") - 0.5 + pl.Series(rng.normal(0, 0.3, 30)))
    analysis = Analysis({"a": SpaceAnalysis("a", ["p"], np.zeros((1, 1)), frame), "b": SpaceAnalysis("b", ["p"], np.zeros((1, 1)), other.head(25))})
    t, p, tw, pw = analysis.ttest("a", "b")
    x, y = frame["delta"].to_numpy()[:25], other["delta"].to_numpy()[:25]
    assert t == pytest.approx(stats.ttest_rel(x, y, alternative="greater").statistic)
    assert p == pytest.approx(stats.ttest_rel(x, y, alternative="greater").pvalue)
    assert tw == pytest.approx(stats.ttest_ind(x, y, equal_var=False, alternative="greater").statistic)
    assert pw == pytest.approx(stats.ttest_ind(x, y, equal_var=False, alternative="greater").pvalue)


def test_histogram_text():
    text = histogram(np.array([0.0, 1.0, 1.0, 2.0]), bins=2, width=4)
    assert text.splitlines()[1].endswith("████ 3")
