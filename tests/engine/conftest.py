"""A small fixture library: 12 tracks, 3 playlists, awkward names on purpose."""

import csv
from pathlib import Path

import pytest
from attune.engine import Library

HEADER = [
    "track_id", "track_name", "track_artist", "track_popularity", "track_album_id", "track_album_name",
    "track_album_release_date", "playlist_name", "playlist_id", "playlist_genre", "playlist_subgenre",
    "danceability", "energy", "key", "loudness", "mode", "speechiness", "acousticness", "instrumentalness",
    "liveness", "valence", "tempo", "duration_ms",
]

# id, title, artist, popularity, album, date, energy, valence, instrumentalness, tempo, duration_ms
TRACKS = {
    "t01": ("Let's Stay Together", "Al Green", 80, "Let's Stay Together", "1972-01-01", 0.35, 0.70, 0.00, 102.0, 198000),
    "t02": ("Tired of Being Alone", "Al Green", 70, "Gets Next to You", "1971", 0.45, 0.60, 0.00, 97.0, 168000),
    "t03": ("I Can't Stand the Rain", "Ann Peebles", 65, "I Can't Stand the Rain", "1973-10", 0.30, 0.50, 0.01, 95.0, 155000),
    "t04": ("Danny Boy", "O'Brien", 20, "Irish Airs", "1990-05-05", 0.20, 0.30, 0.10, 80.0, 240000),
    "t05": ("Half Price", "50% Off", 30, "Sale", "2001", 0.85, 0.80, 0.20, 128.0, 210000),
    "t06": ("Path\\Finder", "Back\\slash", 25, "Escapes", "2005", 0.90, 0.40, 0.90, 140.0, 300000),
    "t07": ("DROP TABLE tracks", "Select * From", 10, "SQL", "2010", 0.60, 0.20, 0.95, 150.0, 180000),
    "t08": ("Hoppípolla", "Sigur Rós", 60, "Takk...", "2005-09-12", 0.55, 0.45, 0.30, 80.0, 268000),
    "t09": ("Say \"Hi\"", "Quoted \"Band\"", 15, "Quotes", "2012", 0.70, 0.90, 0.00, 120.0, 200000),
    "t10": ("Workout Anthem", "DJ Pump", 50, "Gym", "2019-02", 0.95, 0.75, 0.60, 130.0, 190000),
    "t11": ("Cardio", "DJ Pump", 45, "Gym", "2020", 0.92, 0.70, 0.70, 135.0, 185000),
    "t12": ("Quiet Piano", "Pianist", 5, None, "", 0.05, 0.25, 0.99, 60.0, 3725000),
}

# playlist name, id, genre, subgenre, members
PLAYLISTS = [
    ("Sunday Morning", "pl_sun", "r&b", "soul", ["t01", "t02", "t03", "t08"]),
    ("Gym", "pl_gym", "edm", "big room", ["t10", "t11", "t05", "t06"]),
    ("Odd Names", "pl_odd", "pop", "indie", ["t04", "t05", "t06", "t07", "t09"]),
]


def write_fixture_csv(path: Path) -> Path:
    in_playlist = {t for *_, members in PLAYLISTS for t in members}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for name, pid, genre, sub, members in PLAYLISTS:
            for tid in members:
                writer.writerow(_row(tid, name, pid, genre, sub))
        for tid in TRACKS:
            if tid not in in_playlist:
                writer.writerow(_row(tid, "", "", "", ""))
    return path


def _row(tid, name, pid, genre, sub):
    title, artist, pop, album, date, energy, valence, instr, tempo, dur = TRACKS[tid]
    return [tid, title, artist, pop, f"alb_{tid}", album or "", date, name, pid, genre, sub,
            0.5, energy, 5, -8.0, 1, 0.05, 0.3, instr, 0.1, valence, tempo, dur]


@pytest.fixture(scope="session")
def fixture_csv(tmp_path_factory) -> Path:
    return write_fixture_csv(tmp_path_factory.mktemp("data") / "fixture.csv")


@pytest.fixture(scope="session")
def shared_lib(tmp_path_factory, fixture_csv) -> Library:
    """A read-only library shared by the query tests (do not edit it)."""
    lib = Library.open(tmp_path_factory.mktemp("lib"))
    lib.import_spotify([fixture_csv])
    return lib


@pytest.fixture
def lib(tmp_path, fixture_csv) -> Library:
    """A fresh library per test, for tests that write."""
    library = Library.open(tmp_path / "lib")
    library.import_spotify([fixture_csv])
    return library
