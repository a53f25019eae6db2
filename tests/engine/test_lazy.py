"""A library's snapshot loads lazily: nothing but the row count at open, each column the
first time a query needs it, whole rows for results taken by position at the snapshot's
version (deleted rows and later writes included)."""

import numpy as np
import polars as pl
from attune.engine import Library


def test_open_reads_no_column_and_a_filter_reads_only_its_own(tmp_path, fixture_csv):
    Library.open(tmp_path / "lib").import_spotify([fixture_csv])
    lib = Library.open(tmp_path / "lib", memory_budget="1KB")  # over the budget: whole rows stay in LanceDB
    snap = lib.snapshot()
    assert snap.tracks.lazy and snap.tracks.nbytes() == 0 and len(snap) == 12
    found = lib.search("energy>0.5 limit:3")
    assert len(found) == 3
    assert snap.tracks.lazy and set(snap.tracks._loaded) <= {"energy", "popularity", "artist", "title", "track_id", "genres"}
    assert "album" not in snap.tracks._loaded
    assert found.frame["album"].null_count() < 3  # whole rows came back for the results all the same


def test_rows_taken_by_position_match_the_whole_frame_after_deletes_and_later_writes(tmp_path, fixture_csv):
    lib = Library.open(tmp_path / "lib")
    lib.import_spotify([fixture_csv])
    lib.store.delete("tracks", "track_id IN ('t03', 't07')")
    snap = lib.snapshot()
    rows = np.array([9, 0, 4, 4, 2])
    lazy = snap.tracks.take(rows)
    eager = pl.from_arrow(lib.store.read("tracks", snap.tracks.columns[1:])).with_row_index("_row")[rows]
    assert lazy.columns == eager.columns
    assert lazy.drop("_row").equals(eager.drop("_row")) and lazy["_row"].to_list() == rows.tolist()
    lib.store.delete("tracks", "track_id = 't01'")  # a write after the snapshot: it still reads its own version
    assert snap.tracks.take(rows).drop("_row").equals(eager.drop("_row"))
    assert snap.tracks.column("track_id").len() == 10


def test_without_a_budget_the_first_results_read_every_column_once(tmp_path, fixture_csv):
    Library.open(tmp_path / "lib").import_spotify([fixture_csv])
    lib = Library.open(tmp_path / "lib")
    snap = lib.snapshot()
    assert snap.tracks.lazy
    lib.search("energy>0.5 limit:3")
    assert not snap.tracks.lazy  # later result rows are gathered in memory


def test_ids_are_found_by_hash_and_checked_so_a_collision_never_gives_a_wrong_row(monkeypatch):
    from attune.engine.storage import TrackData

    ids = [f"id{i}" for i in range(500)]
    tracks = TrackData(pl.DataFrame({"track_id": ids[::-1]}))
    assert tracks.rows_or_missing(["id0", "nope", "id499", "id7"]).tolist() == [499, -1, 0, 492]
    assert tracks.rows_of(["nope", "id1"]).tolist() == [498]
    # Every id hashing alike: the lookups must still be exact.
    from attune.engine.storage import snapshot as snapshot_module

    monkeypatch.setattr(snapshot_module, "FEW_IDS", 0)  # by hash from the first lookup
    monkeypatch.setattr(pl.Series, "hash", lambda self, seed=0: pl.Series(np.zeros(len(self), dtype=np.uint64)))
    colliding = TrackData(pl.DataFrame({"track_id": ids[::-1]}))
    assert colliding.rows_or_missing(["id0", "nope", "id499", "id7"]).tolist() == [499, -1, 0, 492]
    assert colliding._sorted_ids is not None


def test_lookups_of_a_few_ids_scan_them_while_the_hashes_are_sorted_behind_them(monkeypatch):
    """A command that runs one query looks up its seed ids by a scan (at 10M tracks 50-70 ms,
    where sorting every id's hash takes 2-3 s); a process that goes on looking ids up has
    them sorted in a background thread from its second lookup, and scans until they are
    ready: no lookup waits for the sort. Both ways find the same rows."""
    import threading

    from attune.engine.storage import TrackData
    from attune.engine.storage import snapshot as snapshot_module
    from attune.engine.storage.snapshot import FEW_IDS, SORT_AFTER_SCANS

    assert SORT_AFTER_SCANS == 2
    release = threading.Event()
    real = snapshot_module.TrackData._ids
    monkeypatch.setattr(snapshot_module.TrackData, "_ids", lambda self: (release.wait(10), real(self))[1])
    ids = [f"id{i}" for i in range(500)]
    tracks = TrackData(pl.DataFrame({"track_id": ids[::-1]}))
    asked = [["id0", "nope", "id499", "id7", "id0"], ["id3"], [], ["x", "y"], ["id250"], ["id1", "id2"]]
    want = [[499, -1, 0, 492, 499], [496], [], [-1, -1], [249], [498, 497]]
    got = [tracks.rows_or_missing(asked[0]).tolist()]
    assert tracks._ids_thread is None  # one lookup: nothing sorted
    got += [tracks.rows_or_missing(query).tolist() for query in asked[1:5]]  # the sort is held back: these scan
    assert tracks._ids_thread is not None and tracks._ids_thread.is_alive() and tracks._sorted_ids is None
    assert tracks._id_scans == 4
    release.set()
    tracks._ids_thread.join(10)
    assert tracks._sorted_ids is not None
    got.append(tracks.rows_or_missing(asked[5]).tolist())  # by hash now
    assert got == want and tracks._id_scans == 4
    many = TrackData(pl.DataFrame({"track_id": ids}))  # many ids: by hash at once, waiting for the sort
    assert many.rows_or_missing(ids[: FEW_IDS + 1]).tolist() == list(range(FEW_IDS + 1)) and many._sorted_ids is not None


def test_every_playlists_rows_found_in_one_lookup_are_those_found_one_by_one(tmp_path, fixture_csv):
    """`resolve_playlists` finds all playlists' rows with one lookup of their ids (missing
    ids left out, order and repeats kept), as `playlist_rows` does one playlist at a time,
    and keeps what an earlier snapshot found for playlists that did not change."""
    from attune.engine.storage import Playlist

    lib = Library.open(tmp_path / "lib")
    lib.import_spotify([fixture_csv])
    ids = lib.snapshot().tracks.column("track_id").to_list()
    lib.playlists.create("Odd", [ids[3], ids[1]])
    one_by_one = {name: lib.snapshot().playlist_rows(name).tolist() for name in lib.snapshot().playlists}
    assert one_by_one["Odd"] == [3, 1] and len(one_by_one) > 2
    fresh = Library.open(tmp_path / "lib").snapshot()
    fresh.resolve_playlists()
    assert {name: fresh.playlist_rows(name).tolist() for name in fresh.playlists} == one_by_one
    lib.playlists.create("Later", [ids[0]])
    after = lib.snapshot()
    after.resolve_playlists()
    assert after.playlist_rows("Later").tolist() == [0]
    assert {n: after.playlist_rows(n).tolist() for n in one_by_one} == one_by_one
    view = fresh.with_playlists([Playlist("x", "X", (ids[2], "nowhere", ids[5], ids[2]))])
    view.resolve_playlists()
    assert view.playlist_rows("X").tolist() == [2, 5, 2]
