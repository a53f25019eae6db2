"""The torch ports reproduce the original musicnn outputs on the reference clip."""

import json

import numpy as np
import pytest
from attune.indexer import load_backbone

from .conftest import REFERENCE

CHECKPOINT = {"msd-musicnn": "MSD_musicnn", "mtt-musicnn": "MTT_musicnn", "msd-vgg": "MSD_vgg", "mtt-vgg": "MTT_vgg"}


@pytest.fixture(scope="module")
def reference():
    return json.loads(REFERENCE.read_text())


@pytest.mark.parametrize("name", list(CHECKPOINT))
def test_fp32_matches_the_original(models_dir, clip, reference, name):
    ref = reference[CHECKPOINT[name]]
    backbone = load_backbone(name, precision="fp32")
    seg = backbone.embed_file(clip)
    assert seg.taggram.shape == (ref["n_patches"], 50)
    assert np.allclose(seg.starts, np.arange(ref["n_patches"]) * 187 * 256 / 16000)
    mean = seg.taggram.mean(axis=0)
    assert np.abs(mean - np.array(ref["mean_taggram"])).max() < 0.01
    top10 = [backbone.tags[i] for i in np.argsort(-mean)[:10]]
    assert top10 == ref["top10"]
    feat = np.array(ref["feat_mean"])
    if "vgg" in name:
        # pool5 averaged over its two time steps and over patches
        assert np.abs(seg.embeddings.mean(axis=0) - feat).max() < 1e-3
    else:
        # The original extractor repeats patch 0's penultimate features for every
        # patch (extractor.py unpacks `backend_` but concatenates `penultimate_`),
        # so its mean is patch 0's vector; ours are per patch.
        assert np.abs(seg.embeddings[0] - feat).max() < 1e-3
    assert seg.embeddings.shape[1] == backbone.dim


@pytest.mark.parametrize("name", list(CHECKPOINT))
def test_bf16_stays_within_tolerance(models_dir, clip, reference, name):
    ref = reference[CHECKPOINT[name]]
    seg = load_backbone(name, precision="bf16").embed_file(clip)
    assert np.abs(seg.taggram.mean(axis=0) - np.array(ref["mean_taggram"])).max() < 0.01


def test_missing_weights_say_which_command_to_run(tmp_path):
    from attune.indexer import ModelError

    with pytest.raises(ModelError, match="attune models install"):
        load_backbone("msd-musicnn", directory=tmp_path)
    with pytest.raises(ModelError, match="unknown backbone"):
        load_backbone("resnet")


def test_damaged_weights_are_detected(models_dir, tmp_path):
    import shutil

    from attune.indexer import ModelError

    shutil.copytree(models_dir / "mtt-vgg", tmp_path / "mtt-vgg")
    weights = tmp_path / "mtt-vgg" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="damaged"):
        load_backbone("mtt-vgg", directory=tmp_path)


def test_checkpoint_reader_reads_every_weight(models_dir):
    import zipfile

    from attune.indexer.tfcheckpoint import read_checkpoint

    wheel = next((models_dir / "cache").glob("musicnn-0.1.0-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        index = archive.read("musicnn/MTT_musicnn/.index")
    assert index[-8:] == bytes.fromhex("57fb808b247547db")
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp, [m for m in archive.namelist() if m.startswith("musicnn/MTT_musicnn/")])
        tensors = read_checkpoint(str(Path(tmp) / "musicnn" / "MTT_musicnn") + "/")
    assert tensors["conv2d/kernel"].shape == (7, 38, 1, 204)
    assert tensors["dense_1/kernel"].shape == (200, 50)
    assert tensors["batch_normalization_9/moving_variance"].min() > 0
