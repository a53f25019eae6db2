"""The indexer on a local Ray instance the tests start: the library equals a serial run's,
a worker killed mid-run changes nothing, bad files are reported."""

import os
import signal
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from attune.engine import Library
from attune.indexer import index

from .conftest import tone, write_audio

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

AUDIO = Path(__file__).resolve().parents[2] / "examples" / "audio"
FLOATS = ("energy", "valence", "vocalness", "tempo", "consistency", "energy_start", "energy_end", "energy_slope",
          "energy_confidence", "valence_confidence", "danceability", "acousticness")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def _corpus(folder: Path, n: int = 10) -> Path:
    folder.mkdir()
    for i in range(n):
        write_audio(folder / f"tone{i:02d}.wav", tone(20.0, 16000, freq=220.0 * (1 + i / 4), seed=i), 16000)
    (folder / "broken.mp3").write_bytes(os.urandom(4096))
    return folder


def _tables(lib: Library) -> tuple[pl.DataFrame, pl.DataFrame]:
    tracks = pl.from_arrow(lib.store.read("tracks", ["track_id", "path", "title", "backbone", "tags", *FLOATS])).sort("track_id")
    segments = pl.from_arrow(lib.store.read("segments", ["track_id", "start", "embedding"])).sort(["track_id", "start"])
    return tracks, segments


def _same(a: Library, b: Library) -> None:
    (ta, sa), (tb, sb) = _tables(a), _tables(b)
    assert ta.select("track_id", "path", "title", "backbone", "tags").equals(tb.select("track_id", "path", "title", "backbone", "tags"))
    for column in FLOATS:
        assert np.allclose(ta[column].to_numpy(), tb[column].to_numpy(), atol=1e-5, equal_nan=True), column
    assert sa.select("track_id", "start").equals(sb.select("track_id", "start"))
    assert np.allclose(np.stack(sa["embedding"].to_list()), np.stack(sb["embedding"].to_list()), atol=1e-4)
    assert a.index_errors() == b.index_errors()


def test_dsp_on_ray_equals_a_serial_run_and_reports_bad_files(tmp_path, local_ray):
    folder = _corpus(tmp_path / "m")
    serial, on_ray = Library.open(tmp_path / "serial"), Library.open(tmp_path / "ray")
    index(serial, [folder], backbone="dsp", workers=1)
    report = index(on_ray, [folder], backbone="dsp", ray="local")
    assert (report.indexed, report.failed) == (10, 1)
    assert on_ray.index_errors()[0][0].endswith("broken.mp3")
    _same(serial, on_ray)
    again = index(on_ray, [folder], backbone="dsp", ray="local")  # resumable: nothing left to do
    assert (again.indexed, again.unchanged, again.failed) == (0, 10, 1)


def test_the_stages_apart_as_on_a_gpu_cluster_give_the_same_library(tmp_path, local_ray):
    """Where the cluster has GPUs the stages run apart (decode tasks, model actors, attribute
    tasks); forced here on CPUs, the library is the same."""
    from attune.indexer.distributed import index_on_ray

    folder = _corpus(tmp_path / "m", n=6)
    serial, on_ray = Library.open(tmp_path / "serial"), Library.open(tmp_path / "ray")
    index(serial, [folder], backbone="dsp", workers=1)
    report = index_on_ray(on_ray, [folder], address="local", backbone="dsp", precision=None, prune=False, batch_size=16,
                          progress=None, split=True)
    assert (report.indexed, report.failed) == (6, 1)
    _same(serial, on_ray)


def test_a_worker_killed_mid_run_changes_nothing(tmp_path, local_ray):
    folder = _corpus(tmp_path / "m")
    serial, on_ray = Library.open(tmp_path / "serial"), Library.open(tmp_path / "ray")
    index(serial, [folder], backbone="dsp", workers=1)
    killed: list[int] = []

    def kill_a_worker(done: int, total: int, path: str) -> None:
        if killed:
            return
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if cmdline.startswith("ray::") and "IDLE" not in cmdline and ("Map" in cmdline or "Embed" in cmdline):
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))

    report = index(on_ray, [folder], backbone="dsp", ray="local", progress=kill_a_worker)
    assert killed, "no Ray worker was running to kill"
    assert (report.indexed, report.failed) == (10, 1)
    _same(serial, on_ray)


def test_msd_musicnn_on_ray_equals_a_serial_run_on_the_shipped_clips(tmp_path, local_ray, models_dir):
    serial, on_ray = Library.open(tmp_path / "serial"), Library.open(tmp_path / "ray")
    index(serial, [AUDIO], workers=1)
    report = index(on_ray, [AUDIO], ray="local")
    assert report.indexed == len(list(AUDIO.glob("*.ogg"))) and report.failed == 0
    _same(serial, on_ray)


def test_the_command_line_takes_a_folder_right_after_ray(tmp_path, local_ray):
    from attune.tui.main import main

    folder = _corpus(tmp_path / "m", n=3)
    with pytest.raises(SystemExit) as done:  # `--ray FOLDER`: a folder, not an address
        main(["--library", str(tmp_path / "lib"), "index", "--ray", str(folder), "--backbone", "dsp"])
    assert done.value.code == 0
    assert Library.open(tmp_path / "lib").track_count() == 3
