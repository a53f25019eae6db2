"""The library's history: every write is listed, and any can be undone with what followed it."""

import pytest
from attune.engine import Library, LibraryError

from .conftest import attune

pytestmark = pytest.mark.slow  # most cases run `attune` in a subprocess


def test_writes_are_listed_and_a_bad_edit_is_undone(lib_path):
    lib = Library.open(lib_path)
    lib.playlists.add("Gym", ["t01"])
    lib.playlists.rename("Gym", "Workout")
    lib.playlists.delete("Odd Names")
    entries = lib.history()
    assert [e.what for e in entries[:3]] == ["delete playlist 'Odd Names'", "rename playlist 'Gym' to 'Workout'",
                                             "add 1 to playlist 'Gym'"]
    assert entries[0].tables == ["playlists"]
    assert entries[-1].what == "import spotify fixture.csv" and set(entries[-1].tables) >= {"tracks", "playlists"}
    rename = entries[1].number
    restored = lib.restore(rename)  # undo the rename and the delete after it
    assert set(restored) == {"playlists"}
    names = lib.playlists.names()
    assert "Gym" in names and "Odd Names" in names and "Workout" not in names
    assert "t01" in lib.playlists.get("Gym").track_ids  # the add before it stays
    newest = lib.history(1)[0]
    assert newest.what.startswith(f"restore to before #{rename}")
    lib.restore(newest.number)  # a restore can be undone like any write
    assert "Workout" in lib.playlists.names()


def test_unknown_entry_is_a_clear_error(lib_path):
    lib = Library.open(lib_path)
    with pytest.raises(LibraryError, match="there is no history entry 99; entries are 1 to"):
        lib.restore(99)


def test_history_and_restore_commands(lib_path):
    assert attune("playlist", "create", "Mine", "t01", "--library", str(lib_path)).returncode == 0
    out = attune("history", "--library", str(lib_path))
    newest = out.stdout.splitlines()[0]
    assert "create playlist 'Mine'" in newest and "[playlists]" in newest
    number = newest.split()[0]
    done = attune("restore", number, "--yes", "--library", str(lib_path))
    assert done.returncode == 0 and "playlists to version" in done.stdout
    assert "Mine" not in attune("playlist", "list", "--library", str(lib_path)).stdout
