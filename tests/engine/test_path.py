"""Paths between two tracks: A first and B last, every step nearer to B and farther from A
than the one before, no artist twice, the filter applied to the steps."""

import numpy as np
import polars as pl
import pytest
from attune.engine import Library, LibraryError
from attune.engine.search.path import path_between
from attune.engine.storage import Playlist, Snapshot
from attune.query import QueryError


def _snap(n: int = 400, seed: int = 0) -> Snapshot:
    rng = np.random.default_rng(seed)
    ids = [f"p{i:03d}" for i in range(n)]
    frame = pl.DataFrame({
        "track_id": ids, "title": ids, "artist": [f"A{i % 150}" for i in range(n)],
        "energy": rng.uniform(0, 1, n), "valence": rng.uniform(0, 1, n), "danceability": rng.uniform(0, 1, n),
        "tempo": rng.uniform(60, 180, n), "year": rng.integers(1960, 2020, n), "genres": [["pop"]] * n,
    })
    return Snapshot.build(frame, [Playlist("x", "All", tuple(ids))])


def _far_apart(snap: Snapshot) -> tuple[int, int]:
    e = snap.numbers("energy") + snap.numbers("valence")
    return int(np.argmin(e)), int(np.argmax(e))


def test_every_step_is_nearer_the_end_and_farther_from_the_start():
    snap = _snap()
    a, b = _far_apart(snap)
    found = path_between(snap, a, b, steps=10)
    assert found.rows[0] == a and found.rows[-1] == b and len(found.rows) == 10 and not found.notes
    assert all(x < y for x, y in zip(found.to_a, found.to_a[1:]))  # farther from A each step
    assert all(x > y for x, y in zip(found.to_b, found.to_b[1:]))  # nearer to B each step
    artists = snap.tracks.column("artist").gather(found.rows).to_list()
    assert len(set(artists)) == len(artists)


def test_a_filter_applies_to_the_steps_and_a_short_path_says_why():
    snap = _snap()
    a, b = _far_apart(snap)
    years = snap.numbers("year")
    found = path_between(snap, a, b, steps=8, mask=years >= 1990)
    assert all(years[r] >= 1990 for r in found.rows[1:-1])
    tiny = path_between(snap, a, b, steps=6, mask=np.zeros(len(snap), dtype=bool))
    assert tiny.rows == [a, b] and "only 2 of 6 steps" in tiny.notes[0]


def test_the_library_resolves_tracks_and_takes_a_filter_query(tmp_path, fixture_csv):
    lib = Library.open(tmp_path / "lib")
    lib.import_spotify([fixture_csv])
    found = lib.path_between("t12", "t10", steps=4, where="year>=1990")
    assert found.track_ids[0] == "t12" and found.track_ids[-1] == "t10"
    assert found.frame["to_end"].to_list() == sorted(found.frame["to_end"].to_list(), reverse=True)
    with pytest.raises(LibraryError, match="not like: terms"):
        lib.path_between("t12", "t10", where='like:track("t01")')
    with pytest.raises(LibraryError, match="two different tracks"):
        lib.path_between("t12", "t12")


def test_the_corridor_changes_nothing(monkeypatch):
    """Each step searches the tracks nearest the line first; a corridor of 3 tracks must
    give the path a search of every track gives."""
    import attune.engine.search.path as path_module

    snap = _snap(n=600, seed=3)
    years = snap.numbers("year")
    for seed in range(6):
        rng = np.random.default_rng(seed)
        a, b = (int(x) for x in rng.choice(len(snap), 2, replace=False))
        for mask in (None, years >= 1980):
            monkeypatch.setattr(path_module, "CORRIDOR", 10**9)
            whole = path_between(snap, a, b, steps=8, mask=mask)
            monkeypatch.setattr(path_module, "CORRIDOR", 3)
            narrow = path_between(snap, a, b, steps=8, mask=mask)
            assert narrow.rows == whole.rows


def test_a_path_in_the_query_language_is_the_path_the_library_gives(tmp_path, fixture_csv):
    lib = Library.open(tmp_path / "lib")
    lib.import_spotify([fixture_csv])
    direct = lib.path_between("t12", "t10", steps=4, where="year>=1990")
    results = lib.search('path:track("t12")..track(t10) year>=1990 limit:4')
    assert results.track_ids == direct.track_ids
    assert results.to_polars()["score"].to_list() == [-d for d in direct.frame["to_end"].to_list()]
    assert "the path from track(\"t12\") to track(\"t10\")" in lib.explain('path:track("t12")..track(t10) limit:4')
    assert len(lib.search('path:track("t12")..track(t10)').track_ids) <= 10  # 10 steps unless limit: says otherwise
    with pytest.raises(QueryError, match="no track with id, path or title 'nope'") as err:
        lib.search('genre:rock path:track("t12")..track(nope)')
    assert err.value.position == 11
    with pytest.raises(QueryError, match="two different tracks"):
        lib.search('path:track("t12")..track(t12)')
