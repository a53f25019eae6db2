"""Opening libraries, schema versions, defaults, crash safety, evaluation."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from attune.engine import Library, LibraryError
from attune.engine.analysis.evaluate import evaluate_expansion
from attune.engine.storage import default_library_path, sql_string
from attune.engine.storage.schema import SCHEMA_VERSION


def test_open_creates_tables(tmp_path):
    lib = Library.open(tmp_path / "new")
    assert set(lib.store.tables) == {"tracks", "segments", "playlists", "meta", "index_errors"}
    assert lib.store.get_meta("schema_version") == SCHEMA_VERSION
    assert "segments" in lib.store._table_names()
    # imported tracks have the audio columns, empty
    assert {"embedding", "taggram", "path"} <= set(lib.store.tables["tracks"].schema.names)


def test_newer_schema_is_refused(tmp_path):
    lib = Library.open(tmp_path / "lib")
    lib.store.set_meta("schema_version", SCHEMA_VERSION + 1)
    with pytest.raises(LibraryError, match="newer attune"):
        Library.open(tmp_path / "lib")


def test_a_file_is_not_a_library(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(LibraryError, match="is a file"):
        Library.open(tmp_path / "f")


def test_default_path_honours_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTUNE_LIBRARY", str(tmp_path / "env"))
    assert default_library_path() == tmp_path / "env"
    monkeypatch.delenv("ATTUNE_LIBRARY")
    assert default_library_path().name == "library"


@pytest.mark.parametrize("value", ["plain", "O'Brien", "''", "back\\slash", "50%_", "x'; DROP TABLE t; --", "ünï©ødé"])
def test_sql_string_round_trips_through_lancedb(tmp_path, value):
    import pyarrow as pa

    lib = Library.open(tmp_path / "lib")
    lib.store.set_meta(value, 1)
    assert lib.store.get_meta(value) == 1
    rows = lib.store.read("meta", ["key"], where=f"key = {sql_string(value)}")
    assert rows["key"].to_pylist() == [value]
    assert pa is not None


def test_sql_string_refuses_nul():
    with pytest.raises(ValueError):
        sql_string("a\x00b")


CRASH_SCRIPT = textwrap.dedent(
    """
    import csv, sys
    from attune.engine import Library
    from tests.engine.conftest import HEADER
    path, lib_path = sys.argv[1], sys.argv[2]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(60000):
            w.writerow([f"id{i:06d}", f"T{i}", f"A{i % 500}", 10, "x", "Al", "2000", "", "", "", "",
                        0.5, 0.5, 1, -6, 1, 0.1, 0.2, 0.0, 0.1, 0.3, 100, 200000])
    print("written", flush=True)
    Library.open(lib_path).import_spotify([path], batch_size=500)
    print("done", flush=True)
    """
)


@pytest.mark.slow
def test_killed_import_leaves_whole_batches(tmp_path):
    lib_path = tmp_path / "lib"
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, str(tmp_path / "big.csv"), str(lib_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    assert proc.stdout.readline().strip() == "written"
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(0.2)
        try:
            n = Library.open(lib_path).track_count()
        except Exception:
            continue
        if n >= 1500:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lib = Library.open(lib_path)
    count = lib.track_count()
    assert 0 < count < 60000, count
    assert count % 500 == 0
    frame = lib.snapshot().frame
    assert frame["title"].null_count() == 0 and frame["energy"].null_count() == 0
    # A re-run completes the import without duplicates.
    lib.import_spotify([tmp_path / "big.csv"], batch_size=5000)
    assert lib.track_count() == 60000


def test_evaluation_reports_every_method(lib):
    from attune.engine.analysis.evaluate import split_playlists

    for i in range(3):
        lib.playlists.create(f"P{i}", ["t01", "t02", "t03", "t04", "t05", "t06", "t07", "t08", "t09", "t10"][i : i + 6])
    snap = lib.snapshot()
    result = evaluate_expansion(snap, holdout=0.34, k=3, min_size=4)
    methods = {
        "attune expand", "attune expand --discover", "expand with co-listen 0.5", "random", "most popular",
        "centroid (z-scored attrs)", "strict recipe by popularity", "same artists by popularity", "co-listen centroid",
        "co-occurring artists",
    }
    assert set(result.recall) == set(result.discovery) == set(result.cold) == set(result.artists) == methods
    assert result.playlists == 6
    table = str(result)
    assert "@3" in table and "discovery" in table and "cold start" in table and "against the best baseline" in table
    # With k as large as the catalogue, a method that scores every candidate finds every
    # hidden track (they are candidates; the visible part never is).
    everything = evaluate_expansion(snap, holdout=0.34, k=len(snap), min_size=4)
    for method in ("random", "most popular", "centroid (z-scored attrs)", "attune expand"):
        assert everything.recall[method] == 1.0, method
    # "same artists" finds exactly the hidden tracks whose artist is in the visible part.
    visible, hidden = split_playlists(snap, holdout=0.34, min_size=4, seed=0)
    artist = dict(snap.frame.select("track_id", "artist").iter_rows())
    shares = []
    for p in visible:
        if p.name in hidden and hidden[p.name]:
            seen = {artist[t] for t in p.track_ids}
            shares.append(sum(artist[t] in seen for t in hidden[p.name]) / len(hidden[p.name]))
    expected = sum(shares) / len(shares)
    assert 0.0 < expected < 1.0  # the fixture has both kinds of hidden track
    assert everything.recall["same artists by popularity"] == pytest.approx(expected)
    # Discovery counts only hidden tracks by artists the visible part lacks: the same-artist
    # baseline never finds one, a method that ranks everything finds all.
    assert everything.discovery["same artists by popularity"] == 0.0
    assert everything.discovery["random"] == 1.0
    assert 0 < everything.hidden_new_artist < everything.hidden
    assert all(0 <= everything.artists[m] <= len(set(snap.frame["artist"].to_list())) for m in methods)
    assert everything.artists["random"] > everything.artists["same artists by popularity"]
    # Hidden tracks by new artists that no visible playlist has: nothing relates them.
    in_visible = {artist[t] for p in visible for t in p.track_ids}
    unlinked = 0
    for p in visible:
        seen = {artist[t] for t in p.track_ids}
        unlinked += sum(artist[t] not in seen and artist[t] not in in_visible for t in hidden.get(p.name, ()))
    assert everything.hidden_unlinked == unlinked
    assert f"of which {unlinked} by artists in no visible playlist" in str(everything)
    # Other shares of places for new artists are reported as attune's own rankings, not baselines.
    traded = evaluate_expansion(snap, holdout=0.34, k=3, min_size=4, shares=[0.0, 1.0])
    assert {"expand, 0% new", "expand, 100% new"} <= set(traded.recall)
    assert "expand, 0% new" not in traded.baselines and "random" in traded.baselines
    assert traded.best_baseline == max(traded.discovery[m] for m in methods - {"attune expand", "attune expand --discover",
                                                                                "expand with co-listen 0.5"})


def test_columns_added_since_a_library_was_written_are_added(tmp_path):
    import lancedb
    import pyarrow as pa
    from attune.engine.storage import TRACKS_SCHEMA

    lib = Library.open(tmp_path / "lib")
    older = pa.schema([f for f in TRACKS_SCHEMA if f.name not in ("energy_tiles", "file_size")])
    db = lancedb.connect(str(tmp_path / "lib"))
    db.drop_table("tracks")
    db.create_table("tracks", schema=older)
    again = Library.open(tmp_path / "lib")
    assert {"energy_tiles", "file_size"} <= set(again.store.tables["tracks"].schema.names)
    assert again.search("").track_ids == []
    assert lib is not None


def test_a_snapshot_built_for_older_versions_does_not_replace_a_newer_one(lib, tmp_path):
    """A request that read the versions just before another thread found newer ones (the
    service's look for other processes' writes) answers from its own snapshot; the library
    keeps the newer, instead of building it a second time on the next call."""
    old_key = lib.store.versions()
    lib.snapshot()
    other = Library.open(tmp_path / "lib")  # another writer
    other.playlists.create("Late Additions", ["t01", "t02"])
    new_key = lib.store.newest_versions()
    assert new_key.playlists > old_key.playlists
    newer = lib.snapshot(new_key)
    stale = lib.snapshot(old_key)
    assert "Late Additions" in newer.playlists and stale is not newer and stale.key == old_key
    assert lib.snapshot() is newer
