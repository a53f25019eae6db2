"""Importing Spotify tables: both layouts, bad rows, idempotency."""

import csv

import pytest
from attune.engine import Library, LibraryError

from .conftest import HEADER


def write(path, header, rows):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_fixture_import_report(tmp_path, fixture_csv):
    lib = Library.open(tmp_path / "lib")
    report = lib.import_spotify([fixture_csv])
    assert (report.rows, report.tracks_new, report.tracks_updated, len(report.skipped)) == (14, 12, 0, 0)
    assert (report.playlists_new, report.playlists_updated) == (3, 0)
    assert report.warnings == []
    again = lib.import_spotify([fixture_csv])
    assert (again.tracks_new, again.tracks_updated, again.playlists_new, again.playlists_updated) == (0, 12, 0, 3)
    assert lib.track_count() == 12
    assert sorted(lib.playlists.names()) == ["Gym", "Odd Names", "Sunday Morning"]
    assert lib.playlists.get("gym").track_ids == ("t10", "t11", "t05", "t06")


def test_importing_again_replaces_the_imported_columns_and_keeps_what_else_was_written(tmp_path, fixture_csv):
    """A re-import (a newer export of the same playlists) must not wipe what the indexer
    and the co-listen space wrote for those tracks: it used to upsert whole rows, every
    column it does not read set to null (an indexed track lost its audio embedding)."""
    import pyarrow as pa

    lib = Library.open(tmp_path / "lib")
    lib.import_spotify([fixture_csv])
    lib.store.update_columns("tracks", "track_id", pa.table({"track_id": ["t03", "t05"], "embedding": [[0.1, 0.2], [0.3, 0.4]],
                                                             "colisten": [[1.0, 2.0], [3.0, 4.0]], "energy": [0.01, 0.02]}))
    lib.store.update_file("t03", 1234, 1.5e9)
    before = lib.store.read("tracks", ["track_id", "updated_at"]).to_pydict()
    again = Library.open(tmp_path / "lib").import_spotify([fixture_csv])
    assert (again.tracks_new, again.tracks_updated) == (0, 12)
    rows = {r["track_id"]: r for r in Library.open(tmp_path / "lib").store.read("tracks").to_pylist()}
    assert rows["t03"]["embedding"] == pytest.approx([0.1, 0.2]) and rows["t05"]["colisten"] == pytest.approx([3.0, 4.0])
    assert rows["t03"]["file_size"] == 1234
    fresh = Library.open(tmp_path / "fresh")
    fresh.import_spotify([fixture_csv])
    want = {r["track_id"]: r for r in fresh.store.read("tracks").to_pylist()}
    assert rows["t03"]["energy"] == want["t03"]["energy"] != 0.01  # the imported columns are the table's again
    assert all(rows[t]["updated_at"] > dict(zip(before["track_id"], before["updated_at"]))[t] for t in rows)  # stamped


def test_values_are_mapped(lib):
    row = lib.snapshot().frame.filter(lib.snapshot().frame["track_id"] == "t03").row(0, named=True)
    assert row["year"] == 1973 and row["release_date"] == "1973-10"
    assert row["vocalness"] == pytest.approx(0.99)
    assert row["length"] == pytest.approx(155.0)
    assert row["popularity"] == 65
    assert set(row["genres"]) == {"r&b", "soul"}
    empty = lib.snapshot().frame.filter(lib.snapshot().frame["track_id"] == "t12").row(0, named=True)
    assert empty["year"] is None and empty["album"] is None and empty["genres"] == []


BAD = [
    (["", "No id", "X", "10", "a", "alb", "2000", "", "", "", "", 0.5, 0.5, 1, -5, 1, 0.1, 0.1, 0, 0.1, 0.5, 120, 1000], "missing track id"),
    (["b1", "Bad energy", "X", "10", "a", "alb", "2000", "", "", "", "", 0.5, "loud", 1, -5, 1, 0.1, 0.1, 0, 0.1, 0.5, 120, 1000], "energy 'loud' is not a number"),
    (["b2", "Hot", "X", "10", "a", "alb", "2000", "", "", "", "", 0.5, 1.7, 1, -5, 1, 0.1, 0.1, 0, 0.1, 0.5, 120, 1000], "energy 1.7 is outside 0..1"),
    (["b3", "Nan", "X", "10", "a", "alb", "2000", "", "", "", "", 0.5, "nan", 1, -5, 1, 0.1, 0.1, 0, 0.1, 0.5, 120, 1000], "not a finite number"),
    (["b4", "Pop", "X", "200", "a", "alb", "2000", "", "", "", "", 0.5, 0.5, 1, -5, 1, 0.1, 0.1, 0, 0.1, 0.5, 120, 1000], "popularity 200 is outside 0..100"),
    (["b5", "Short row", "X"], "cells"),
]


def test_bad_rows_are_reported_with_line_numbers(tmp_path):
    good = ["g1", "Good", "X", "10", "a", "alb", "2000-13", "P", "p1", "rock", "", 0.5, 0.5, 1, -5, 1, 0.1, 0.1, 0.25, 0.1, 0.5, 120, 1000]
    path = write(tmp_path / "bad.csv", HEADER, [good] + [row for row, _ in BAD])
    lib = Library.open(tmp_path / "lib")
    report = lib.import_spotify([path])
    assert report.tracks_new == 1
    assert [s.line for s in report.skipped] == [3, 4, 5, 6, 7, 8]
    for skipped, (_, reason) in zip(report.skipped, BAD):
        assert reason in skipped.reason
    assert "bad.csv:3: missing track id" in str(report)
    assert len(report.warnings) == 1 and "2000-13" in report.warnings[0].reason
    track = lib.snapshot().frame.row(0, named=True)
    assert track["year"] is None and track["vocalness"] == pytest.approx(0.75)


def test_exportify_layout_and_case_insensitive_headers(tmp_path):
    header = ["Track URI", "Track Name", "Artist Name(s)", "Album Name", "Album Release Date", "POPULARITY",
              "Danceability", "Energy", "Key", "Loudness", "Mode", "Speechiness", "Acousticness",
              "Instrumentalness", "Liveness", "Valence", "Tempo", "Track Duration (ms)", "Artist Genres"]
    rows = [
        ["spotify:track:AAA", "One", "Ann, Bob", "Alb", "1999-01", 40, 0.5, 0.4, 1, -6, 1, 0.1, 0.2, 0.0, 0.1, 0.3, 100, 200000, "soul,neo soul"],
        ["spotify:track:BBB", "Two", "Cy", "Alb", "2001", 50, 0.5, 0.6, 1, -6, 1, 0.1, 0.2, 0.0, 0.1, 0.3, 100, 200000, "Funk"],
    ]
    path = write(tmp_path / "Late Night.csv", header, rows)
    lib = Library.open(tmp_path / "lib")
    report = lib.import_spotify([path])
    assert report.tracks_new == 2 and report.playlists_new == 1
    assert lib.playlists.get("Late Night").track_ids == ("AAA", "BBB")
    assert lib.search("genre:=funk").track_ids == ["BBB"]
    assert lib.search('genre:"neo soul"').track_ids == ["AAA"]
    # The same tracks in the other layout keep their ids: one track, two memberships.
    other = write(tmp_path / "tt.csv", HEADER, [["AAA", "One", "Ann", 40, "x", "Alb", "1999", "Soul Mix", "pm", "r&b", "soul",
                                                 0.5, 0.4, 1, -6, 1, 0.1, 0.2, 0.0, 0.1, 0.3, 100, 200000]])
    lib.import_spotify([other])
    assert lib.track_count() == 2
    assert lib.search('playlist:"soul mix"').track_ids == ["AAA"]


def test_duplicate_playlist_names_are_kept_apart(tmp_path):
    base = [0.5, 0.4, 1, -6, 1, 0.1, 0.2, 0.0, 0.1, 0.3, 100, 200000]
    rows = [
        ["a", "A", "X", 1, "x", "Al", "2000", "Chill", "id1", "pop", "", *base],
        ["b", "B", "X", 1, "x", "Al", "2000", "Chill", "id2", "pop", "", *base],
        ["a", "A", "X", 1, "x", "Al", "2000", "Chill", "id1", "rock", "", *base],
    ]
    lib = Library.open(tmp_path / "lib")
    lib.import_spotify([write(tmp_path / "d.csv", HEADER, rows)])
    assert sorted(lib.playlists.names()) == ["Chill", "Chill (2)"]
    assert lib.playlists.get("Chill").track_ids == ("a",)
    assert set(lib.playlists.get("Chill").genres) == {"pop", "rock"}
    lib.import_spotify([tmp_path / "d.csv"])
    assert sorted(lib.playlists.names()) == ["Chill", "Chill (2)"]


def test_missing_id_column_is_a_clear_error(tmp_path):
    path = write(tmp_path / "x.csv", ["name", "energy"], [["a", 0.5]])
    with pytest.raises(LibraryError, match="no track id column"):
        Library.open(tmp_path / "lib").import_spotify([path])


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(LibraryError, match="cannot read"):
        Library.open(tmp_path / "lib").import_spotify([tmp_path / "nope.csv"])


def test_gzip_compressed_file_reads_like_the_plain_one(tmp_path, fixture_csv):
    import gzip

    packed = tmp_path / "fixture.csv.gz"
    packed.write_bytes(gzip.compress(fixture_csv.read_bytes()))
    plain = Library.open(tmp_path / "plain").import_spotify([fixture_csv])
    lib = Library.open(tmp_path / "packed")
    report = lib.import_spotify([packed])
    assert (report.rows, report.tracks_new, report.playlists_new) == (plain.rows, plain.tracks_new, plain.playlists_new)
    assert lib.playlists.get("Sunday Morning").track_ids == ("t01", "t02", "t03", "t08")


def test_shipped_demo_playlists_import(tmp_path):
    """examples/data holds the demo's real playlists (236 playlists, 15,175 tracks)."""
    from pathlib import Path

    data = Path(__file__).resolve().parents[2] / "examples" / "data" / "spotify_playlists_dev.csv.gz"
    from attune.engine.ingest.spotify import read_spotify

    read = read_spotify([data])
    assert (read.rows, len(read.tracks), len(read.playlists), len(read.skipped)) == (16944, 15175, 236, 0)
