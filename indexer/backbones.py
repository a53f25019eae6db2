"""Backbones: audio -> per-segment embeddings and taggrams. The plug-in point.

A backbone is anything with `name`, `dim`, `tags`, `segment_seconds` and
`embed(samples) -> Segments` (16 kHz mono float32 in). Four are the original
musicnn models ported to torch (`msd-musicnn`, `mtt-musicnn`, `msd-vgg`,
`mtt-vgg`; weights installed by `attune models install`); `dsp` needs no
weights and describes each segment by documented spectral statistics - a
fallback, labelled as such wherever results are shown.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from attune.engine import AttuneError

from .audio import PATCH_FRAMES, SECONDS_PER_FRAME, decode, log_mel, patches

BACKBONES = ("msd-musicnn", "mtt-musicnn", "msd-vgg", "mtt-vgg", "dsp")
DEFAULT_BACKBONE = "msd-musicnn"
MUSICNN_WHEEL = "musicnn==0.1.0"


class ModelError(AttuneError):
    title = "model error"


@dataclass
class Segments:
    starts: np.ndarray  # (n,) seconds
    embeddings: np.ndarray  # (n, dim) float32
    taggram: np.ndarray  # (n, len(tags)) float32
    duration: float = 0.0


class Backbone(Protocol):
    name: str
    dim: int
    tags: tuple[str, ...]
    segment_seconds: float
    fallback: bool

    def embed(self, samples: np.ndarray) -> Segments: ...

    def embed_spectrogram(self, spectrogram: np.ndarray, samples: np.ndarray) -> Segments: ...

    def embed_file(self, path: str | Path) -> Segments: ...


def models_dir() -> Path:
    """$ATTUNE_MODELS, else `models` in the platform's user data directory."""
    env = os.environ.get("ATTUNE_MODELS")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("attune") / "models"


class _FileMixin:
    def embed_file(self, path: str | Path) -> Segments:
        decoded = decode(path)
        segments = self.embed(decoded.samples)  # type: ignore[attr-defined]
        segments.duration = decoded.duration
        return segments


class TorchBackbone(_FileMixin):
    """A ported musicnn model. `precision` "bf16" runs the convolutions in bfloat16
    (about 2.5x faster on CPUs with AVX-512 BF16; taggrams stay within 0.005)."""

    fallback = False
    segment_seconds = PATCH_FRAMES * SECONDS_PER_FRAME

    def __init__(self, model, *, precision: str = "fp32", batch_size: int | None = None, device: str = "cpu") -> None:
        import torch

        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.name = model.config.name
        self.tags = tuple(model.config.tags)
        self.dim = model.config.embedding_dim
        self.precision = precision
        # On a GPU a whole 4-minute track (80 patches) is one batch; on a CPU 8 keep the caches warm.
        self.batch_size = batch_size or (8 if self.device.type == "cpu" else 128)
        if precision == "bf16":
            self.model = self.model.to(memory_format=torch.channels_last)

    def embed(self, samples: np.ndarray) -> Segments:
        return self.embed_spectrogram(log_mel(samples), samples)

    def embed_spectrogram(self, spectrogram: np.ndarray, samples: np.ndarray) -> Segments:
        """Segments of `samples` from their `audio.log_mel` spectrogram (the indexer computes
        it once and measures the signal from it too)."""
        return self.embed_patches(*patches(spectrogram))

    def embed_patches(self, batch: np.ndarray, starts: np.ndarray) -> Segments:
        import torch

        tags, embeddings = [], []
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            for i in range(0, len(batch), self.batch_size):
                t, e = self.model(torch.from_numpy(batch[i : i + self.batch_size]).to(self.device))
                tags.append(t.float().cpu().numpy())
                embeddings.append(e.float().cpu().numpy())
        return Segments(starts, np.concatenate(embeddings), np.concatenate(tags), len(starts) * self.segment_seconds)


class DSPBackbone(_FileMixin):
    """No learned weights: per 3-second segment, the mean and standard deviation of
    each of the 96 log-mel bands, the mean spectral flux (mean positive change of
    log-mel between frames) and the RMS level in dB. 194 dimensions, no tags."""

    name = "dsp"
    dim = 194
    tags: tuple[str, ...] = ()
    fallback = True
    segment_seconds = PATCH_FRAMES * SECONDS_PER_FRAME

    def embed(self, samples: np.ndarray) -> Segments:
        return self._embed(samples, log_mel(samples))

    def embed_spectrogram(self, spectrogram: np.ndarray, samples: np.ndarray) -> Segments:
        return self._embed(samples, spectrogram)

    def _embed(self, samples: np.ndarray, spectrogram: np.ndarray) -> Segments:
        batch, starts = patches(spectrogram)
        flux = np.clip(np.diff(batch, axis=1), 0, None).mean(axis=(1, 2))
        hop = int(round(self.segment_seconds * 16000))
        rms = np.array([_rms_db(samples[int(s * 16000) : int(s * 16000) + hop]) for s in starts])
        emb = np.concatenate([batch.mean(axis=1), batch.std(axis=1), flux[:, None], rms[:, None]], axis=1)
        return Segments(starts, emb.astype(np.float32), np.zeros((len(starts), 0), np.float32), len(starts) * self.segment_seconds)


def _rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-9)) if len(x) else -180.0


def default_precision() -> str:
    """bf16 where the CPU computes it natively (AVX-512 BF16 or AMX), else fp32."""
    env = os.environ.get("ATTUNE_PRECISION")
    if env in ("fp32", "bf16"):
        return env
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "fp32"
    return "bf16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "fp32"


def is_installed(name: str, directory: Path | None = None) -> bool:
    """Whether `load_backbone(name)` finds its weights (dsp needs none)."""
    return name == "dsp" or ((directory or models_dir()) / name / "model.safetensors").exists()


def check_backbone(name: str = DEFAULT_BACKBONE, *, directory: Path | None = None) -> tuple[str, ...]:
    """The tags of a backbone whose weights are installed and intact (a ModelError naming
    the command to run otherwise), without loading it: the indexer checks this before
    its workers start, and only they import torch."""
    if name == "dsp":
        return DSPBackbone.tags
    if name not in BACKBONES:
        raise ModelError(f"unknown backbone '{name}'; backbones are {', '.join(BACKBONES)}")
    folder = (directory or models_dir()) / name
    if not is_installed(name, directory):
        raise ModelError(
            f"the {name} weights are not installed in {folder.parent}; run `attune models install` "
            "(it fetches the musicnn 0.1.0 wheel from PyPI) or `attune models install --from musicnn-0.1.0-py3-none-any.whl`"
        )
    _verify(folder)
    return tuple(json.loads((folder / "config.json").read_text())["tags"])


DEVICES = ("cpu", "cuda")


def check_device(device: str) -> str:
    """"cpu", or "cuda" when torch sees a CUDA GPU (a ModelError saying why not otherwise)."""
    if device not in DEVICES and not device.startswith("cuda:"):
        raise ModelError(f"unknown device '{device}'; devices are cpu, cuda and cuda:N")
    if device != "cpu":
        import torch

        if not torch.cuda.is_available():
            why = "this torch is a CPU build" if torch.version.cuda is None else "torch sees no CUDA device"
            raise ModelError(f"--device {device}: no GPU to run on ({why}); index with --device cpu")
    return device


def load_backbone(name: str = DEFAULT_BACKBONE, *, precision: str | None = None, directory: Path | None = None,
                  device: str = "cpu") -> Backbone:
    """A backbone by name; the musicnn ones need `attune models install` first. `device`:
    "cpu" or "cuda" (batched inference on the GPU; bf16 where the GPU has it)."""
    check_backbone(name, directory=directory)
    if name == "dsp":
        return DSPBackbone()
    from .models import load

    if device != "cpu":
        import torch

        check_device(device)
        precision = precision or ("bf16" if torch.cuda.is_bf16_supported() else "fp32")
    return TorchBackbone(load((directory or models_dir()) / name), precision=precision or default_precision(), device=device)


# -- installing --------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(folder: Path) -> None:
    manifest = folder / "checksums.json"
    if not manifest.exists():
        return
    expected = json.loads(manifest.read_text())
    for filename, digest in expected.items():
        if _sha256(folder / filename) != digest:
            raise ModelError(f"{folder / filename} is damaged (checksum mismatch); run `attune models install` again")


def fetch_wheel(cache: Path) -> Path:
    """`pip download --no-deps musicnn==0.1.0` into `cache` (its dependencies are not wanted)."""
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob("musicnn-0.1.0-*.whl"))
    if found:
        return found[0]
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(cache), MUSICNN_WHEEL],
        capture_output=True,
        text=True,
    )
    found = sorted(cache.glob("musicnn-0.1.0-*.whl"))
    if result.returncode != 0 or not found:
        raise ModelError(f"could not download {MUSICNN_WHEEL} with pip: {result.stderr.strip()[-400:]}")
    return found[0]


def install_musicnn(wheel: Path | None = None, *, directory: Path | None = None, names=None) -> list[Path]:
    """Convert the musicnn wheel's TensorFlow checkpoints to safetensors + config."""
    from .models import CHECKPOINTS, CONFIGS, from_tensorflow, save
    from .tfcheckpoint import read_checkpoint

    target = directory or models_dir()
    wheel = Path(wheel) if wheel else fetch_wheel(target / "cache")
    if not zipfile.is_zipfile(wheel):
        raise ModelError(f"{wheel} is not a wheel (zip) file")
    written = []
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as archive:
        for name in names or CHECKPOINTS:
            folder = f"musicnn/{CHECKPOINTS[name]}/"
            members = [m for m in archive.namelist() if m.startswith(folder)]
            if not members:
                raise ModelError(f"{wheel.name} has no {folder} checkpoint")
            archive.extractall(tmp, members)
            # The checkpoints are named ".index" / ".data-*" inside their folder: the prefix ends in "/".
            model = from_tensorflow(CONFIGS[name], read_checkpoint(str(Path(tmp) / folder) + "/"))
            out = target / name
            if out.exists():
                shutil.rmtree(out)
            weights = save(model, out)
            (out / "checksums.json").write_text(json.dumps({weights.name: _sha256(weights)}, indent=2))
            (out / "SOURCE").write_text(f"converted from {wheel.name} ({CHECKPOINTS[name]}), ISC licence\n")
            written.append(out)
    return written


def installed(directory: Path | None = None) -> list[dict]:
    """What `attune models list` shows."""
    root = directory or models_dir()
    rows = [{"name": "dsp", "kind": "backbone (fallback, no weights)", "path": "-", "installed": True}]
    for name in BACKBONES[:-1]:
        folder = root / name
        rows.append({"name": name, "kind": "backbone", "path": str(folder), "installed": (folder / "model.safetensors").exists()})
    heads = root / "heads"
    if heads.exists():
        for folder in sorted(p for p in heads.iterdir() if (p / "config.json").exists()):
            config = json.loads((folder / "config.json").read_text())
            names = [n for n in config.get("heads", {}) if n != "genres"] + (["genres"] if "genres" in config.get("heads", {}) else [])
            rows.append({"name": folder.name, "kind": "attribute heads (active)", "path": str(folder), "installed": True,
                         "heads": names, "source": "Spotify's values" if config.get("source") == "spotify" else "your labels",
                         "tracks": config.get("tracks", 0)})
    return rows
