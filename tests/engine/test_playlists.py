"""Playlist editing and the M3U / XSPF / CSV formats."""

import pytest
from attune.engine import Library, LibraryError
from attune.query import QueryError


def test_create_edit_delete(lib):
    p = lib.playlists.create("Late", ["t01", "t02"])
    assert lib.playlists.get("late").track_ids == ("t01", "t02")
    lib.playlists.add("Late", ["t03", "t01"])
    assert lib.playlists.get("Late").track_ids == ("t01", "t02", "t03")
    lib.playlists.add("Late", ["t04"], position=0)
    lib.playlists.remove("Late", ["t02"])
    lib.playlists.move("Late", "t03", 0)
    assert lib.playlists.get("Late").track_ids == ("t03", "t04", "t01")
    lib.playlists.rename("Late", "Later")
    assert "Later" in lib.playlists.names() and "Late" not in lib.playlists.names()
    assert lib.playlists.get("Later").playlist_id == p.playlist_id
    lib.playlists.delete("Later")
    assert "Later" not in lib.playlists.names()


def test_edits_are_visible_to_queries_at_once(lib):
    lib.playlists.create("Mine", ["t12"])
    assert lib.search("playlist:=mine").track_ids == ["t12"]
    lib.playlists.add("Mine", ["t01"])
    assert lib.search("playlist:=mine").track_ids == ["t01", "t12"]


def test_errors(lib):
    with pytest.raises(LibraryError, match="already exists"):
        lib.playlists.create("gym")
    with pytest.raises(LibraryError, match="no track with id nope"):
        lib.playlists.create("X", ["nope"])
    with pytest.raises(QueryError, match="did you mean 'Gym'"):
        lib.playlists.get("Gmy")
    with pytest.raises(LibraryError, match="taken"):
        lib.playlists.rename("Gym", "odd names")
    with pytest.raises(LibraryError, match="needs a name"):
        lib.playlists.create("  ")


def test_edits_survive_reopening(lib):
    lib.playlists.create("Keep", ["t05", "t06"])
    again = Library.open(lib.path)
    assert again.playlists.get("Keep").track_ids == ("t05", "t06")


@pytest.mark.parametrize("fmt", ["m3u", "xspf", "csv"])
def test_export_import_round_trip(lib, tmp_path, fmt):
    text = lib.playlists.export("Odd Names", fmt)
    path = tmp_path / f"copy.{fmt}"
    path.write_text(text, encoding="utf-8")
    report = lib.playlists.import_file(path)
    assert report.matched == report.entries == 5
    assert lib.playlists.get("copy").track_ids == lib.playlists.get("Odd Names").track_ids


def test_m3u_export_has_extinf(lib):
    text = lib.playlists.export("Sunday Morning", "m3u")
    assert text.startswith("#EXTM3U\n")
    assert "#EXTINF:198,Al Green - Let's Stay Together\nspotify:track:t01\n" in text


def test_m3u_import_matches_paths_urls_and_names(lib, tmp_path):
    path = tmp_path / "mix.m3u8"
    path.write_text(
        "#EXTM3U\n"
        "#EXTINF:200,Ann Peebles - I Can't Stand the Rain\n"
        "/nowhere/rain.mp3\n"
        "https://open.spotify.com/track/t10?si=abc\n"
        "#EXTINF:-1,Nobody - Nothing\n"
        "missing.flac\n",
        encoding="utf-8",
    )
    report = lib.playlists.import_file(path, name="Mix")
    assert lib.playlists.get("Mix").track_ids == ("t03", "t10")
    assert report.unmatched == [(6, "missing.flac")]
    assert "line 6: no track matches missing.flac" in str(report)


def test_xspf_without_namespace_and_bad_xml(lib, tmp_path):
    good = tmp_path / "a.xspf"
    good.write_text("<playlist><trackList><track><creator>Al Green</creator><title>Tired of Being Alone</title></track>"
                    "</trackList></playlist>", encoding="utf-8")
    lib.playlists.import_file(good)
    assert lib.playlists.get("a").track_ids == ("t02",)
    bad = tmp_path / "b.xspf"
    bad.write_text("<playlist><trackList>", encoding="utf-8")
    with pytest.raises(LibraryError, match="not valid XSPF"):
        lib.playlists.import_file(bad)


def test_unknown_format(lib, tmp_path):
    path = tmp_path / "x.pls"
    path.write_text("[playlist]", encoding="utf-8")
    with pytest.raises(LibraryError, match="unknown playlist format"):
        lib.playlists.import_file(path)
    with pytest.raises(LibraryError, match="unknown format"):
        lib.playlists.export("Gym", "wpl")
