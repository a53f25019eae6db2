"""Files and names: imports never destroy, exports are contained and read back the same,
every bad input is one line on stderr, and a read command never creates a library.

Before: `playlist import` of a file that matched nothing emptied the playlist of that
name, the terminal app crashed on "EDM/POP" and wrote "../../escaped" outside the library,
a newline in a title broke the M3U, a NUL made the XSPF unreadable, and Latin-1 or UTF-16
CSVs, huge fields, DTDs, unwritable paths, unknown spaces, empty or damaged libraries
ended in tracebacks; a mistyped --library answered "0 results".
"""

import glob
import os
from pathlib import Path

import pyarrow as pa
import pytest
from attune.engine import Library, LibraryError
from attune.engine.storage import TRACKS_SCHEMA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import attune, one_line_error

pytestmark = pytest.mark.slow  # most cases run `attune` in a subprocess


def test_playlist_import_never_destroys_an_existing_playlist(lib_path, tmp_path):
    lib = Library.open(lib_path)
    before = lib.playlists.get("Sunday Morning").track_ids
    nothing = tmp_path / "Sunday Morning.m3u"
    nothing.write_text("#EXTM3U\n/nowhere/a.mp3\nspotify:track:nope\n")
    with pytest.raises(LibraryError, match=r"none of the 2 entries .* matches a track in the library .*; nothing was imported"):
        lib.playlists.import_file(nothing)
    some = tmp_path / "Sunday Morning.xspf"
    some.write_text(Library.open(lib_path).playlists.export("Gym", "xspf"))
    with pytest.raises(LibraryError, match="already exists .* --replace .* --as NAME"):
        lib.playlists.import_file(some)
    assert lib.playlists.get("Sunday Morning").track_ids == before
    lib.playlists.import_file(some, name="Gym copy")
    assert lib.playlists.get("Gym copy").track_ids == lib.playlists.get("Gym").track_ids
    report = lib.playlists.import_file(some, replace=True)
    assert "replacing its 4 tracks" in str(report)
    assert lib.playlists.get("Sunday Morning").track_ids == lib.playlists.get("Gym").track_ids


def test_playlist_import_from_the_command_line(lib_path, tmp_path):
    path = tmp_path / "Gym.csv"
    path.write_text(Library.open(lib_path).playlists.export("Gym", "csv"))
    one_line_error(attune("playlist", "import", str(path), "--library", str(lib_path)))
    out = attune("playlist", "import", str(path), "--as", "Gym 2", "--library", str(lib_path))
    assert out.returncode == 0 and "4 of 4 entries matched" in out.stdout


@pytest.mark.parametrize("name", ["EDM/POP", "../../escaped", "/tmp/absolute", "..", "a\x00b\nc", "con", ". ."])
def test_export_file_names_stay_in_the_export_folder(lib_path, name):
    lib = Library.open(lib_path)
    lib.playlists.create(name, ["t01"])
    folder = lib_path / "exports"
    for written in lib.playlists.export_files(name):
        assert written.resolve().parent == folder.resolve()
        assert written.read_text(encoding="utf-8")
    assert not (lib_path.parent.parent / "escaped.m3u").exists()


odd = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(titles=st.lists(odd, min_size=1, max_size=4), ids=st.lists(odd, min_size=1, max_size=4, unique=True),
       fmt=st.sampled_from(["m3u", "xspf", "csv"]))
def test_every_export_reads_back_as_the_same_playlist(tmp_path_factory, titles, ids, fmt):
    """Titles, artists, paths and ids with newlines, NULs, quotes, '#' and ' - ' in them."""
    folder = tmp_path_factory.mktemp("roundtrip")
    lib = Library.open(folder / "lib")
    rows = []
    for i, track_id in enumerate(ids):
        title = titles[i % len(titles)]
        rows.append(dict.fromkeys(TRACKS_SCHEMA.names) | {
            "track_id": track_id, "title": title, "artist": f"{title} - {i}", "source": "spotify" if i % 2 else "audio",
            "path": str(folder / f"{title.replace('/', '_')}{i}.mp3") if i % 3 == 0 and "\x00" not in title else None,
        })
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(rows, schema=TRACKS_SCHEMA))
    lib.playlists.create("Odd", ids)
    written = lib.playlists.export_files("Odd", (fmt,))[0]
    report = lib.playlists.import_file(written, name="Back")
    assert report.unmatched == []
    assert lib.playlists.get("Back").track_ids == lib.playlists.get("Odd").track_ids


def _csv(tmp_path, text: str, encoding: str) -> Path:
    path = tmp_path / f"in-{encoding}.csv"
    path.write_bytes(text.encode(encoding))
    return path


HEADER = "track_id,track_name,track_artist,energy\n"


def test_text_encodings_of_imported_tables(tmp_path):
    lib = str(tmp_path / "lib")
    latin = _csv(tmp_path, HEADER + "a1,Café,Björk,0.5\n", "latin-1")
    err = one_line_error(attune("import", "spotify", str(latin), "--library", lib))
    assert "is not utf-8 text" in err and "--encoding" in err
    assert attune("import", "spotify", str(latin), "--encoding", "latin-1", "--library", lib).returncode == 0
    utf16 = _csv(tmp_path, "\ufeff" + HEADER + "a2,Ünïcode,Sigur Rós,0.4\n", "utf-16-le")
    assert attune("import", "spotify", str(utf16), "--library", lib).returncode == 0
    titles = sorted(Library.open(lib).snapshot().frame["title"].to_list())
    assert titles == ["Café", "Ünïcode"]
    noise = tmp_path / "noise.csv"
    noise.write_bytes(bytes(range(256)) * 40)
    one_line_error(attune("import", "spotify", str(noise), "--library", lib))
    huge = tmp_path / "huge.csv"
    huge.write_text(HEADER + "a3," + "x" * 200_000 + ",y,0.5\n")
    assert "line" in one_line_error(attune("import", "spotify", str(huge), "--library", lib))
    assert attune("import", "spotify", str(tmp_path / "missing.csv"), "--library", lib).returncode == 2


def test_bad_files_and_places_are_one_line_errors(lib_path, tmp_path):
    lib = str(lib_path)
    dtd = tmp_path / "bomb.xspf"
    dtd.write_text('<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
                   '<playlist xmlns="http://xspf.org/ns/0/"><trackList><track><title>&b;</title></track></trackList></playlist>')
    assert "DTD or entities" in one_line_error(attune("playlist", "import", str(dtd), "--library", lib))
    err = one_line_error(attune("playlist", "export", "Gym", "-o", "/nonexistent/x.m3u", "--library", lib))
    assert "cannot write /nonexistent/x.m3u" in err
    assert "unknown space 'foo'" in one_line_error(attune("analyze", "--spaces", "foo", "--library", lib))


def test_analyze_an_empty_library(tmp_path):
    Library.open(tmp_path / "empty")
    out = attune("analyze", "--library", str(tmp_path / "empty"))
    assert out.returncode == 0 and "nothing to analyze" in out.stdout and "Traceback" not in out.stderr


@pytest.mark.parametrize("command", [["search", "genre:soul"], ["playlist", "list"], ["recipe", "Gym"], ["analyze"],
                                     ["ask", "calm soul"], ["history"], ["genres"]])
def test_read_commands_never_create_a_library(tmp_path, command):
    missing = tmp_path / "typo"
    err = one_line_error(attune(*command, "--library", str(missing)))
    assert f"no attune library at {missing}" in err
    assert not missing.exists()


def test_a_damaged_table_is_named_with_the_way_out(lib_path):
    lib = Library.open(lib_path)
    lib.playlists.create("Later", ["t01"])
    data = sorted(glob.glob(str(lib_path / "tracks.lance" / "data" / "*.lance")))
    with open(data[-1], "r+b") as handle:
        handle.truncate(os.path.getsize(data[-1]) // 2)
    err = one_line_error(attune("search", "genre:soul", "--library", str(lib_path)))
    assert "the tracks table" in err and "attune restore" in err
    history = attune("history", "--library", str(lib_path))
    assert history.returncode == 0 and "import spotify fixture.csv" in history.stdout
    first = min(int(line.split()[0]) for line in history.stdout.splitlines())
    assert attune("restore", str(first), "--yes", "--library", str(lib_path)).returncode == 0
    # before the first import: the library is as it was created, and readable again
    assert attune("search", "genre:soul", "--library", str(lib_path)).returncode == 0


def test_a_damaged_manifest_is_set_aside_by_restore(lib_path):
    Library.open(lib_path).playlists.create("Later", ["t01"])
    manifests = sorted(glob.glob(str(lib_path / "tracks.lance" / "_versions" / "*.manifest")))
    newest = manifests[0]  # Lance names version v's manifest 2**64 - 1 - v: the newest sorts first
    with open(newest, "r+b") as handle:
        handle.truncate(os.path.getsize(newest) // 2)
    err = one_line_error(attune("playlist", "list", "--library", str(lib_path)))
    assert "the tracks table" in err and "attune restore" in err
    history = attune("history", "--library", str(lib_path))  # still readable: it is not in the damaged table
    assert history.returncode == 0, history.stderr
    first = min(int(line.split()[0]) for line in history.stdout.splitlines())
    done = attune("restore", str(first), "--yes", "--library", str(lib_path))
    assert done.returncode == 0 and "tracks to version" in done.stdout, done.stderr
    assert attune("playlist", "list", "--library", str(lib_path)).returncode == 0
    assert (lib_path / "tracks.lance" / "_versions" / "set-aside" / Path(newest).name).exists()  # kept, not deleted
