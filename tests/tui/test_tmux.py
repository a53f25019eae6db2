"""End to end: `attune tui` in a real terminal under tmux, typed at with send-keys."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from attune.engine import Library

TMUX = shutil.which("tmux")
if TMUX is None and os.environ.get("CI"):
    pytest.fail("tmux is needed for the end-to-end test (.ci/run installs it)", pytrace=False)
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")


def tmux(*args: str) -> str:
    return subprocess.run([TMUX, *args], capture_output=True, text=True, check=True).stdout


def wait_for(session: str, text: str, timeout: float = 30.0) -> str:
    deadline = time.time() + timeout
    screen = ""
    while time.time() < deadline:
        screen = tmux("capture-pane", "-p", "-t", session)
        if text in screen:
            return screen
        time.sleep(0.3)
    raise AssertionError(f"{text!r} never appeared on screen:\n{screen}")


def test_query_and_playlist_edit_in_a_real_terminal(tmp_path):
    from tests.engine.conftest import write_fixture_csv

    lib = Library.open(tmp_path / "lib")
    lib.import_spotify([write_fixture_csv(tmp_path / "f.csv")])
    lib.playlists.create("Mine", ["t12"])
    exe = Path(sys.executable).with_name("attune")
    session = f"attune-e2e-{os.getpid()}"
    command = f"{exe} tui --library {tmp_path / 'lib'}"
    tmux("new-session", "-d", "-s", session, "-x", "140", "-y", "40", command)
    def keys(*keys: str) -> None:
        for key in keys:
            tmux("send-keys", "-t", session, key)
            time.sleep(0.4)

    try:
        wait_for(session, "12 results")
        keys("/", "artist:green", "Enter")
        screen = wait_for(session, "2 results")
        assert "Tired of Being Alone" in screen and "Danny Boy" not in screen
        keys("Escape", "Space", "n")  # leave the query bar, mark the first result, new playlist
        wait_for(session, "name of the new playlist")
        keys("Picks", "Enter")
        wait_for(session, "created 'Picks'")
    finally:
        tmux("send-keys", "-t", session, "q")
        time.sleep(1.0)
        subprocess.run([TMUX, "kill-session", "-t", session], capture_output=True)
    lib = Library.open(tmp_path / "lib")
    assert lib.playlists.get("Picks").track_ids == ("t01",)
