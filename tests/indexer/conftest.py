"""Shared fixtures: installed musicnn weights (fetched once from PyPI), real and generated audio."""

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = ROOT / "tests" / "data"
CLIP = TESTDATA / "joram-moments_of_clarity-08-solipsism-59-88.mp3"
REFERENCE = TESTDATA / "musicnn_reference_joram.json"
MODELS = ROOT / ".models"


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The four ported models, converted from the musicnn 0.1.0 wheel (pip-downloaded once)."""
    from attune.indexer.backbones import install_musicnn, installed

    os.environ["ATTUNE_MODELS"] = str(MODELS)
    if not all(r["installed"] for r in installed(MODELS)):
        install_musicnn(None, directory=MODELS)
    return MODELS


@pytest.fixture(scope="session")
def clip() -> Path:
    if not CLIP.exists():
        pytest.fail(f"the test clip is missing: {CLIP} (tests/data/README.md says what it is)")
    return CLIP


def tone(seconds: float, rate: int, channels: int = 1, freq: float = 440.0, amplitude: float = 0.3, seed: int = 0) -> np.ndarray:
    """A tone with a little noise, (samples, channels) float32."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    mono = amplitude * np.sin(2 * np.pi * freq * t) + 0.01 * rng.normal(size=len(t))
    return np.repeat(mono[:, None], channels, axis=1).astype(np.float32)


def write_audio(path: Path, data: np.ndarray, rate: int) -> Path:
    import soundfile

    soundfile.write(str(path), data, rate)
    return path
