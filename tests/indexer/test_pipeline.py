"""Indexing real and generated audio, a corpus of bad files, crash and resume."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from attune.engine import Library
from attune.indexer.audio import decode, read_tags
from attune.indexer.pipeline import audio_id, index

from .conftest import tone, write_audio


@pytest.mark.parametrize(
    "rate, channels, suffix",
    [(8000, 1, ".wav"), (44100, 2, ".flac"), (48000, 6, ".flac"), (192000, 2, ".wav"), (22050, 1, ".ogg")],
)
def test_decode_any_rate_and_layout(tmp_path, rate, channels, suffix):
    path = write_audio(tmp_path / f"x{suffix}", tone(4.0, rate, channels), rate)
    decoded = decode(path)
    assert decoded.sample_rate == 16000 and decoded.channels == channels and decoded.source_rate == rate
    assert abs(decoded.duration - 4.0) < 0.05
    assert decoded.samples.ndim == 1 and decoded.samples.dtype == np.float32
    assert 0.15 < np.abs(decoded.samples).max() < 0.4


def test_tags_are_read(tmp_path):
    import mutagen

    path = write_audio(tmp_path / "t.flac", tone(1.0, 44100), 44100)
    f = mutagen.File(str(path), easy=True)
    f["title"], f["artist"], f["album"], f["date"], f["genre"] = "Song", "Band", "Record", "1999-05-01", "Soul/Funk"
    f["isrc"] = "USRC17607839"
    f.save()
    assert read_tags(path) == {"title": "Song", "artist": "Band", "album": "Record", "date": "1999-05-01", "genre": "Soul/Funk",
                               "tracknumber": None, "isrc": "USRC17607839"}


def test_id_survives_moving_and_retagging(tmp_path):
    data = tone(3.0, 44100, seed=4)
    a = write_audio(tmp_path / "a.flac", data, 44100)
    b = write_audio(tmp_path / "b.flac", data, 44100)
    assert audio_id(decode(a).samples) == audio_id(decode(b).samples)
    assert audio_id(decode(a).samples) != audio_id(decode(write_audio(tmp_path / "c.flac", tone(3.0, 44100, seed=5), 44100)).samples)


def bad_corpus(folder, clip):
    folder.mkdir()
    (folder / "empty.mp3").write_bytes(b"")
    (folder / "truncated.mp3").write_bytes(clip.read_bytes()[:3000])
    (folder / "notes.mp3").write_text("these are not the sounds you are looking for")
    write_audio(folder / "really-a-wav.mp3", tone(5.0, 44100, freq=330), 44100)  # wrong extension
    write_audio(folder / "silence.wav", np.zeros((16000 * 12, 1), np.float32), 16000)
    write_audio(folder / "phone.wav", tone(6.0, 8000, freq=300), 8000)
    write_audio(folder / "hires.flac", tone(5.0, 192000, 2, freq=880), 192000)
    write_audio(folder / "surround.flac", tone(5.0, 48000, 6, freq=220), 48000)
    write_audio(folder / "long-mix.flac", tone(40 * 60.0, 8000, freq=110, amplitude=0.2), 8000)
    (folder / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    locked = folder / "locked"
    locked.mkdir()
    write_audio(locked / "hidden.wav", tone(2.0, 8000), 8000)
    os.symlink(folder, folder / "loop")
    return folder


@pytest.mark.slow
def test_bad_files_never_stop_a_run(tmp_path, clip):
    folder = bad_corpus(tmp_path / "music", clip)
    lib = Library.open(tmp_path / "lib")
    report = index(lib, [folder, tmp_path / "missing-folder"], backbone="dsp", workers=1)
    failed = dict(report.errors)
    assert set(failed) >= {str(folder / "empty.mp3"), str(folder / "notes.mp3"), str(tmp_path / "missing-folder")}
    assert "empty (0 bytes)" in failed[str(folder / "empty.mp3")]
    indexed = {p for p in lib.snapshot().frame["path"].to_list() if p}
    for name in ("really-a-wav.mp3", "silence.wav", "phone.wav", "hires.flac", "surround.flac", "long-mix.flac"):
        assert str(folder / name) in indexed, name
    assert str(folder / "cover.jpg") not in failed  # not an audio file: not even tried
    assert sorted(lib.index_errors()) == sorted(report.errors)
    frame = lib.snapshot().frame
    silence = frame.filter(frame["path"] == str(folder / "silence.wav")).row(0, named=True)
    mix = frame.filter(frame["path"] == str(folder / "long-mix.flac")).row(0, named=True)
    assert silence["energy"] < 0.05 and silence["consistency"] == 1.0
    assert abs(mix["length"] - 2400) < 1
    # the symlink loop did not index anything twice
    assert len(indexed) == len(set(indexed))


@pytest.mark.slow
def test_unchanged_files_are_skipped_and_changed_ones_redone(tmp_path, clip):
    folder = tmp_path / "m"
    folder.mkdir()
    a = write_audio(folder / "a.wav", tone(4.0, 16000, freq=500), 16000)
    write_audio(folder / "b.wav", tone(4.0, 16000, freq=700), 16000)
    lib = Library.open(tmp_path / "lib")
    first = index(lib, [folder], backbone="dsp", workers=1)
    assert (first.indexed, first.unchanged) == (2, 0)
    again = index(lib, [folder], backbone="dsp", workers=1)
    assert (again.indexed, again.unchanged) == (0, 2)
    write_audio(a, tone(4.0, 16000, freq=900), 16000)
    os.utime(a, (time.time() + 5, time.time() + 5))
    third = index(lib, [folder], backbone="dsp", workers=1)
    assert (third.indexed, third.unchanged) == (1, 1)
    assert lib.track_count() == 3  # the old content of a.wav is still a track until pruned
    a.unlink()
    report = index(lib, [folder], backbone="dsp", workers=1, prune=True)
    assert report.pruned == 2 and lib.track_count() == 1


def test_real_clip_with_musicnn_and_audio_search(tmp_path, models_dir, clip):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "clip.mp3").write_bytes(clip.read_bytes())
    write_audio(folder / "tone.flac", tone(20.0, 44100, 2), 44100)
    lib = Library.open(tmp_path / "lib")
    report = index(lib, [folder], backbone="msd-musicnn", workers=2, precision="fp32")
    assert report.indexed == 2 and report.failed == 0
    frame = lib.snapshot().frame
    row = frame.filter(frame["path"] == str(folder / "clip.mp3")).row(0, named=True)
    assert row["artist"] == "Joram" and "electronic" in row["genres"]
    assert 0 <= row["energy"] <= 1 and 0 <= row["vocalness"] < 0.5 and 60 < row["tempo"] < 200
    segs = lib.store.read("segments", ["track_id", "start", "embedding", "taggram"]).to_pydict()
    assert sum(1 for t in segs["track_id"] if t == row["track_id"]) == 9
    assert len(segs["embedding"][0]) == 200 and len(segs["taggram"][0]) == 50
    results = lib.search(f"like:track({folder / 'tone.flac'}) in:audio").to_polars()
    assert results["path"].to_list() == [str(folder / "clip.mp3")]
    assert results["length"][0] == pytest.approx(29.124, abs=0.01)


RESUME_SCRIPT = """
import sys
from attune.engine import Library
from attune.indexer.pipeline import index
index(Library.open(sys.argv[2]), [sys.argv[1]], backbone="dsp", workers=1, batch_size=1)
"""


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_rows(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    for i in range(14):
        write_audio(folder / f"t{i:02d}.wav", tone(50.0, 16000, freq=200 + 40 * i, seed=i), 16000)
    clean = Library.open(tmp_path / "clean")
    index(clean, [folder], backbone="dsp", workers=1)
    crashed = tmp_path / "crashed"
    proc = subprocess.Popen([sys.executable, "-c", RESUME_SCRIPT, str(folder), str(crashed)])
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.3)
        try:
            if Library.open(crashed).track_count() >= 3:
                break
        except Exception:
            continue
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lib = Library.open(crashed)
    assert 0 < lib.track_count() < 14
    index(lib, [folder], backbone="dsp", workers=1)

    def rows(library):
        frame = library.snapshot().frame.sort("path")
        return frame.select("track_id", "path", "energy", "consistency").rows()

    assert rows(lib) == rows(clean)
    seg_counts = lambda library: sorted(library.store.read("segments", ["track_id"]).to_pydict()["track_id"])  # noqa: E731
    assert seg_counts(lib) == seg_counts(clean)


def test_touched_file_with_the_same_audio_is_not_rerun(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    a = write_audio(folder / "a.wav", tone(4.0, 16000, freq=500), 16000)
    lib = Library.open(tmp_path / "lib")
    index(lib, [folder], backbone="dsp", workers=1)
    os.utime(a, (time.time() + 50, time.time() + 50))
    again = index(lib, [folder], backbone="dsp", workers=1)
    assert (again.indexed, again.unchanged) == (0, 1)
    third = index(lib, [folder], backbone="dsp", workers=1)
    assert (third.indexed, third.unchanged) == (0, 1)  # the new date was recorded
    results = lib.search("path:a.wav").to_polars()
    assert results["duration"][0] == 4.0 and results["backbone"][0] == "dsp"
    assert any("dsp fallback" in n for n in lib.search("path:a.wav").notes)


def test_model_tags_are_the_most_probable_ones_in_lower_case():
    import numpy as np
    from attune.indexer.pipeline import MAX_MODEL_TAGS, model_tags

    tags = tuple(f"Tag{i}" for i in range(20))
    taggram = np.zeros((4, 20))
    taggram[:, 3], taggram[:, 7], taggram[:, 9] = 0.9, 0.4, 0.05
    assert model_tags(taggram, tags) == ["tag3", "tag7"]  # tag9 is below the threshold
    assert len(model_tags(np.full((2, 20), 0.5), tags)) == MAX_MODEL_TAGS
    assert model_tags(np.zeros((0, 20)), tags) == []


def test_index_installs_missing_weights_first(tmp_path, models_dir, clip, monkeypatch):
    """`attune index --backbone msd-musicnn` without the weights installs them (from the
    wheel pip already downloaded) and says so in one line; Python callers get the error."""
    import shutil
    import subprocess

    from attune.indexer.backbones import ModelError, load_backbone

    fresh = tmp_path / "models"
    (fresh / "cache").mkdir(parents=True)
    for wheel in (models_dir / "cache").glob("musicnn-*.whl"):
        shutil.copy(wheel, fresh / "cache")
    with pytest.raises(ModelError, match="attune models install"):
        load_backbone("msd-musicnn", directory=fresh)
    exe = [str(Path(sys.executable).with_name("attune"))]
    env = dict(os.environ, ATTUNE_MODELS=str(fresh))
    out = subprocess.run([*exe, "index", str(clip), "--backbone", "msd-musicnn", "--library", str(tmp_path / "lib")],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "not installed" in out.stderr and "installing them first" in out.stderr
    assert "1 indexed" in out.stdout
    assert (fresh / "msd-musicnn" / "model.safetensors").exists()


def test_a_passage_cut_from_a_real_recording_is_found_where_it_was_cut(tmp_path):
    """15 seconds cut from a shipped recording at 0:30, indexed beside it: a passage query
    from the cut finds the recording, at the moment the cut's segment came from."""
    import soundfile as sf

    source = Path(__file__).resolve().parents[2] / "examples" / "audio" / "Kevin_MacLeod_-_Vibe_Ace.ogg"
    x, rate = sf.read(source)
    folder = tmp_path / "m"
    folder.mkdir()
    for name in ("Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg", "Karissa_Hobbs_-_Lets_Go_Fishin.ogg"):
        (folder / name).write_bytes((source.parent / name).read_bytes())
    (folder / source.name).write_bytes(source.read_bytes())
    sf.write(folder / "cut.wav", x[30 * rate : 45 * rate], rate)
    lib = Library.open(tmp_path / "lib")
    index(lib, [folder], backbone="dsp", workers=1)
    for moment, expected in (("0:03", 33), ("0:09", 39)):
        rows = lib.search(f'like:track("cut" @ {moment}) limit:3').to_polars()
        assert rows["title"][0] == "Vibe Ace"
        assert abs(rows["passage"][0] - expected) <= 1.5, rows.select("title", "passage")


def test_a_gpu_that_is_not_there_is_a_clear_error_before_any_work(tmp_path):
    import torch
    from attune.indexer.backbones import ModelError

    folder = tmp_path / "m"
    folder.mkdir()
    write_audio(folder / "a.wav", tone(4.0, 16000), 16000)
    lib = Library.open(tmp_path / "lib")
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="--device cuda: no GPU to run on"):
            index(lib, [folder], backbone="dsp", device="cuda")
        assert lib.track_count() == 0
    with pytest.raises(ModelError, match="unknown device 'tpu'"):
        index(lib, [folder], backbone="dsp", device="tpu")
