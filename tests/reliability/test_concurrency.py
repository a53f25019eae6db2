"""Concurrent writers: every acknowledged change is kept, nothing is written twice.

Each case ran two processes at once against one library; before the write locks, adds
were lost (the second process's edits overwrote the first's), an import of the same file
inserted every track twice, and names came out twice.
"""

import multiprocessing as mp

import pytest
from attune.engine import Library

from .conftest import bare_tracks

pytestmark = pytest.mark.slow

IDS = ["t01", "t02", "t03", "t04", "t05", "t06", "t07", "t08", "t09", "t10", "t11", "t12"]


def _adder(path: str, offset: int, n: int, ids: list[str]) -> None:
    lib = Library.open(path)
    for i in range(n):
        lib.playlists.add("Both", [ids[(offset + i) % len(ids)]])


def _creator(path: str, names: list[str]) -> None:
    from attune.query import AttuneError

    lib = Library.open(path)
    for name in names:
        try:
            lib.playlists.create(name, ["t01"])
        except AttuneError:
            pass  # "already exists": the other process won; that is the expected refusal


def _importer(path: str, csv_path: str) -> None:
    Library.open(path).import_spotify([csv_path])


def _run_together(*jobs) -> None:
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=fn, args=args) for fn, args in jobs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
        assert p.exitcode == 0


def test_concurrent_adds_to_one_playlist_are_all_kept(tmp_path, fixture_csv):
    path = tmp_path / "lib"
    lib = Library.open(path)
    lib.import_spotify([fixture_csv])
    many = bare_tracks(lib, 60)
    lib.playlists.create("Both", [])
    _run_together((_adder, (str(path), 0, 30, many)), (_adder, (str(path), 30, 30, many)))
    assert sorted(Library.open(path).playlists.get("Both").track_ids) == many


def test_concurrent_imports_of_one_file_insert_each_track_once(tmp_path, fixture_csv):
    path = tmp_path / "lib"
    _run_together((_importer, (str(path), str(fixture_csv))), (_importer, (str(path), str(fixture_csv))))
    lib = Library.open(path)
    ids = lib.store.read("tracks", ["track_id"])["track_id"].to_pylist()
    assert sorted(ids) == IDS
    playlists = lib.store.read("playlists", ["playlist_id", "name"]).to_pylist()
    assert len(playlists) == 3 == len({p["playlist_id"] for p in playlists}) == len({p["name"] for p in playlists})


def test_concurrent_creates_keep_names_unique(tmp_path, fixture_csv):
    path = tmp_path / "lib"
    Library.open(path).import_spotify([fixture_csv])
    names = [f"Mix {i}" for i in range(10)]
    _run_together((_creator, (str(path), names)), (_creator, (str(path), names)))
    rows = Library.open(path).store.read("playlists", ["name"])["name"].to_pylist()
    assert sorted(n for n in rows if n.startswith("Mix")) == sorted(names)


def test_duplicate_rows_left_by_an_older_version_are_repaired_by_the_next_import(tmp_path, fixture_csv):
    lib = Library.open(tmp_path / "lib")
    lib.import_spotify([fixture_csv])
    twice = lib.store.read("tracks").slice(0, 5)
    lib.store.tables["tracks"].add(twice)  # what two racing imports used to leave
    assert lib.store.count("tracks") == 17
    report = lib.import_spotify([fixture_csv])
    assert report.repaired == 5 and "5 duplicate track rows merged" in str(report)
    ids = lib.store.read("tracks", ["track_id"])["track_id"].to_pylist()
    assert sorted(ids) == IDS
