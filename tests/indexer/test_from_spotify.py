"""`attune train attributes --from-spotify`: an Exportify CSV matched to indexed files (ISRC
from FLAC, MP3 and MP4 tags, else artist and title), heads fitted from Spotify's values."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
from attune.indexer.audio import read_tags

from .conftest import write_audio

pytestmark = pytest.mark.slow

EXPORTIFY = ["Track URI", "Track Name", "Artist URI(s)", "Artist Name(s)", "Album Name", "ISRC", "Danceability",
             "Energy", "Key", "Loudness", "Mode", "Speechiness", "Acousticness", "Instrumentalness", "Liveness",
             "Valence", "Tempo"]


def write_m4a(path, samples: np.ndarray, rate: int = 16000):
    """AAC in an MP4 container, with PyAV."""
    import av

    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples[None, :].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def tag(path, kind: str, title: str, artist: str, isrc: str | None) -> None:
    import mutagen
    from mutagen.mp4 import MP4FreeForm

    if kind == "m4a":
        f = mutagen.File(str(path))
        f.add_tags() if f.tags is None else None
        f.tags["\xa9nam"], f.tags["\xa9ART"] = [title], [artist]
        if isrc:
            f.tags["----:com.apple.iTunes:ISRC"] = [MP4FreeForm(isrc.encode())]
        f.save()
        return
    f = mutagen.File(str(path), easy=True)
    if f.tags is None:
        f.add_tags()
    f["title"], f["artist"] = title, artist
    if isrc:
        f["isrc"] = isrc  # ID3 TSRC in an MP3, an ISRC comment in a FLAC
    f.save()


def test_isrc_is_read_from_the_tags_each_format_uses(tmp_path):
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.1, 32000).astype(np.float32)
    for kind in ("flac", "mp3", "m4a"):
        path = tmp_path / f"x.{kind}"
        write_m4a(path, noise) if kind == "m4a" else write_audio(path, noise[:, None], 16000)
        tag(path, kind, "Song", "Band", "US-RC1-76-07839")
        tags = read_tags(path)
        assert (tags["title"], tags["artist"], tags["isrc"]) == ("Song", "Band", "US-RC1-76-07839"), kind


def test_train_from_spotify_matches_reports_and_rescores(tmp_path):
    env = dict(os.environ, ATTUNE_MODELS=str(tmp_path / "models"), ATTUNE_LIBRARY=str(tmp_path / "lib"))
    music = tmp_path / "music"
    music.mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for i in range(36):
        level = 0.01 + 0.5 * (i % 12) / 11  # Spotify's energy follows the level, valence the pitch
        pitch = 150 + 40 * (i % 9)
        t = np.arange(64000) / 16000
        samples = (level * (0.6 * rng.normal(0, 1, len(t)) + np.sin(2 * np.pi * pitch * t))).astype(np.float32) * 0.6
        kind = ("flac", "mp3", "m4a")[i % 3]
        path = music / f"{i:02d}.{kind}"
        write_m4a(path, samples) if kind == "m4a" else write_audio(path, samples[:, None], 16000)
        isrc = f"GBAAA26{i:05d}" if i % 2 == 0 else None
        tag(path, kind, f"Song {i}", "The Band" if i % 4 else "Beyoncé", isrc)
        title = f"Song {i} - 2011 Remaster" if i % 5 == 0 else f"Song {i}"
        artist = "Beyonce" if i % 4 == 0 else "The Band, Someone Else"
        energy = (i % 12) / 11
        rows.append({"Track URI": f"spotify:track:T{i:020d}", "Track Name": title if isrc is None else f"Renamed {i}",
                     "Artist Name(s)": artist, "ISRC": isrc.replace("GBAAA", "GB-AAA-") if isrc and i % 3 == 0 else isrc or "",
                     "Energy": f"{energy:.3f}", "Valence": f"{(i % 9) / 8:.3f}", "Danceability": f"{0.3 + 0.4 * energy:.3f}",
                     "Acousticness": f"{1 - energy:.3f}", "Tempo": "120"})
    rows.append({"Track URI": "spotify:track:Missing", "Track Name": "Not Indexed", "Artist Name(s)": "Nobody",
                 "Energy": "0.5", "Valence": "0.5"})
    rows.append({"Track URI": "spotify:track:Live", "Track Name": "Song 1 (Live)", "Artist Name(s)": "The Band",
                 "Energy": "0.9", "Valence": "0.5"})
    export = tmp_path / "Liked Songs.csv"
    with export.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, EXPORTIFY, restval="")
        writer.writeheader()
        writer.writerows(rows)

    def attune(*args):
        out = subprocess.run([sys.executable, "-m", "attune.tui.main", *args], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        return out.stdout

    attune("index", str(music), "--backbone", "dsp", "--workers", "1")
    before = attune("models", "list")
    assert "dsp: attributes from the zero-shot formulas" in before
    out = attune("train", "attributes", "--from-spotify", str(export))
    assert "matched 36 of 38 rows to indexed files (18 by ISRC, 18 by artist and title); 2 matched none" in out
    assert "no match  Nobody - Not Indexed" in out and "no match  The Band - Song 1 (Live)" in out
    quality = {line.split()[0]: float(line.split()[2]) for line in out.splitlines() if "Spearman" in line}
    assert set(quality) == {"energy", "valence", "danceability", "acousticness"}
    assert quality["energy"] > 0.7 and quality["acousticness"] > 0.7, out
    listed = attune("models", "list")
    assert "dsp: energy, valence, danceability, acousticness from heads trained on 36 tracks (Spotify's values)" in listed

    from attune.engine import Library

    frame = Library.open(tmp_path / "lib").snapshot().frame.sort("path")
    energy = np.array(frame["energy"].to_list())
    truth = np.array([(int(p.rsplit("/", 1)[1][:2]) % 12) / 11 for p in frame["path"].to_list()])
    assert np.corrcoef(energy, truth)[0, 1] > 0.8
    assert frame["danceability"].null_count() == 0 and frame["acousticness"].null_count() == 0
    assert frame["energy_confidence"].drop_nulls().n_unique() == 1  # the head's cross-validated confidence
    assert frame["isrc"].drop_nulls().len() == 18 and frame["isrc"].drop_nulls().str.len_chars().min() == 12
