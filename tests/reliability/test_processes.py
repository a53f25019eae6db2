"""Processes: index workers leave with their parent; Ctrl-C stops a command with one line."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.indexer.conftest import tone, write_audio

from .conftest import ATTUNE

pytestmark = pytest.mark.slow


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_index_workers_exit_when_the_index_command_is_killed(tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    for i in range(12):
        write_audio(folder / f"t{i:02d}.wav", tone(120.0, 16000, freq=200 + 30 * i, seed=i), 16000)
    proc = subprocess.Popen([*ATTUNE, "index", str(folder), "--backbone", "dsp", "--workers", "2",
                             "--library", str(tmp_path / "lib")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while time.monotonic() < deadline and len(workers) < 2:
        workers = {c for c in children_of(proc.pid) if "multiprocessing" not in Path(f"/proc/{c}/cmdline").read_text()
                   or "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()}
        time.sleep(0.05)
    assert len(workers) >= 2, "the index run did not start its workers"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(alive(w) for w in workers):
        time.sleep(0.1)
    left = [w for w in workers if alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert left == [], "index workers outlived the killed parent"


def test_ctrl_c_at_start_up_is_one_line_too():
    proc = subprocess.Popen([*ATTUNE, "search", "genre:soul"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.send_signal(signal.SIGINT)  # while Python is still importing the program
    out, err = proc.communicate(timeout=60)
    assert proc.returncode in (130, -signal.SIGINT), (proc.returncode, err)
    assert "Traceback" not in err


def test_ctrl_c_stops_a_command_with_one_line(tmp_path):
    data = Path(__file__).resolve().parents[2] / "examples" / "data" / "spotify_playlists_dev.csv.gz"
    proc = subprocess.Popen([*ATTUNE, "import", "spotify", str(data), "--library", str(tmp_path / "lib")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    data_files = tmp_path / "lib" / "tracks.lance" / "data"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (data_files.is_dir() and any(data_files.iterdir())):
        time.sleep(0.05)  # until the import has written its first batch: well inside the command
    assert proc.poll() is None, "the import finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert err.strip() == "interrupted" and "Traceback" not in err
