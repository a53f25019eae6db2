"""Training attribute heads from a curator's labels, on generated audio."""

import csv

import numpy as np
import pytest
from attune.engine import Library
from attune.indexer.heads import active_heads, heads_dir
from attune.indexer.pipeline import index

from .conftest import tone, write_audio


@pytest.mark.slow
def test_train_heads_report_and_rescore(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTUNE_MODELS", str(tmp_path / "models"))
    folder = tmp_path / "m"
    folder.mkdir()
    rows = []
    rng = np.random.default_rng(0)
    for i in range(40):
        loud = i % 2 == 0  # loud broadband noise against a quiet hum: every band tells them apart
        data = rng.normal(0, 0.3, (64000, 1)) if loud else tone(4.0, 16000, freq=100 + 5 * i, amplitude=0.02, seed=i)
        path = write_audio(folder / f"t{i:02d}.wav", data.astype(np.float32), 16000)
        rows.append({"path": str(path), "energy": "1" if loud else "0", "vocalness": "0", "genres": "noise" if loud else "hum"})
    rows.append({"path": str(folder / "nope.wav"), "energy": "1", "vocalness": "", "genres": ""})
    rows.append({"path": str(folder / "t00.wav"), "energy": "0.7", "vocalness": "", "genres": ""})
    labels = tmp_path / "labels.csv"
    with labels.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["path", "energy", "vocalness", "genres"])
        writer.writeheader()
        writer.writerows(rows)
    lib = Library.open(tmp_path / "lib")
    index(lib, [folder], backbone="dsp", workers=1)
    from attune.indexer.heads import train

    quality, read, rescored = train(lib, labels)
    assert len(read.track_ids) == 40 and [line for line, _ in read.skipped] == [42, 43]
    assert "0.7 is not one of 0, 0.5, 1" in read.skipped[1][1]
    assert quality["energy accuracy (within 0.25)"] > 0.9
    assert quality["genre precision"] > 0.9 and quality["genre recall"] > 0.9
    assert rescored == 40
    frame = lib.snapshot().frame.sort("path")
    energy = np.array(frame["energy"].to_list())
    assert energy[0::2].min() > 0.5 > energy[1::2].max()
    assert frame["genres"][0].to_list() == ["noise"]
    assert (heads_dir("dsp") / "heads.safetensors").exists()
    heads = active_heads("dsp")
    assert set(heads.models) == {"energy", "vocalness", "genres"}
    # a track indexed afterwards is scored by the heads
    new = write_audio(tmp_path / "new.wav", rng.normal(0, 0.3, (64000, 1)).astype(np.float32), 16000)
    index(lib, [new], backbone="dsp", workers=2)
    row = lib.snapshot().frame.filter(lib.snapshot().frame["path"] == str(new)).row(0, named=True)
    assert row["genres"] == ["noise"] and row["energy"] > 0.5
