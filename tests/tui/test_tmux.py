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


#: A tmux server of the test's own (its own socket, no user configuration): a tmux the
#: person running the tests has open is never touched, and none of its settings leak in.
SOCKET = f"attune-test-{os.getpid()}"


def tmux(*args: str) -> str:
    return subprocess.run([TMUX, "-L", SOCKET, "-f", os.devnull, *args], capture_output=True, text=True,
                          check=True).stdout


def wait_for(session: str, text: str, *, gone: str | None = None, timeout: float = 60.0) -> str:
    """Poll the screen until `text` is on it (and `gone`, if given, is not): a condition,
    not a fixed delay, so a loaded machine only makes the test slower."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-t", session)
        if text in screen and (gone is None or gone not in screen):
            return screen
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared on screen" + (f" without {gone!r}" if gone else "") + f":\n{screen}")


def exit_status(status_file: Path, timeout: float = 60.0) -> str | None:
    """The app's exit status, as the shell that ran it wrote it. (Not tmux's
    #{pane_dead_status}: tmux sometimes leaves the ended app a zombie it never reaps, and
    then never records a status, though the app exited cleanly.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if status_file.exists() and status_file.read_text().strip():
            return status_file.read_text().strip()
        time.sleep(0.05)
    return None


def send(session: str, keys: str, shows: str, *, gone: str | None = None) -> str:
    """Type `keys`, then wait until the screen shows what those keys cause."""
    tmux("send-keys", "-t", session, keys)
    return wait_for(session, shows, gone=gone)


def test_query_and_playlist_edit_in_a_real_terminal(tmp_path):
    from tests.engine.conftest import write_fixture_csv

    lib = Library.open(tmp_path / "lib")
    lib.import_spotify([write_fixture_csv(tmp_path / "f.csv")])
    lib.playlists.create("Mine", ["t12"])
    exe = Path(sys.executable).with_name("attune")
    session = f"attune-e2e-{os.getpid()}"
    status_file = tmp_path / "exit-status"
    command = f"{exe} tui --library {tmp_path / 'lib'}; echo $? > {status_file}"
    # The session ends when the app exits; keep it, so a crash leaves its screen to read.
    tmux("new-session", "-d", "-s", session, "-x", "140", "-y", "40", command)
    tmux("set-option", "-t", session, "remain-on-exit", "on")
    try:
        wait_for(session, "12 results")
        send(session, "/", "/ query", gone="a add")  # the query bar has focus: the table's keys leave the footer
        send(session, "artist:green", "artist:green")
        screen = send(session, "Enter", " 2 results in")  # not "12 results"
        assert "Tired of Being Alone" in screen and "Danny Boy" not in screen
        send(session, "Escape", "a add")  # back in the results table: its keys are in the footer again
        send(session, "Space", "*  Let's Stay Together")  # the first result is marked
        send(session, "n", "name of the new playlist")
        send(session, "Picks", "Picks")
        send(session, "Enter", "created 'Picks'")
        tmux("send-keys", "-t", session, "q")
        status = exit_status(status_file)
        assert status == "0", f"the app did not exit cleanly on q ({status}); the screen:\n" + tmux(
            "capture-pane", "-p", "-t", session)
    finally:
        subprocess.run([TMUX, "-L", SOCKET, "kill-server"], capture_output=True)
    lib = Library.open(tmp_path / "lib")
    assert lib.playlists.get("Picks").track_ids == ("t01",)
