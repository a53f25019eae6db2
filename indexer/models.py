"""MusiCNN and VGG (Pons & Serra, musicnn 0.1.0) re-implemented in pure torch.

Both take (batch, 187, 96) log-mel patches and return (taggram, embedding):
the 50 tag probabilities and, for MusiCNN, the 200-d penultimate layer (after
its batch norm); for VGG, pool5 averaged over its two time steps (128-d).
Layer shapes, paddings and the order of the flattened pooled features follow
the TensorFlow graph exactly, so the original checkpoints load unchanged
(`from_tensorflow`). Weights are stored as config.json + model.safetensors.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

TF_BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization's default epsilon

MTT_LABELS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
    "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing",
    "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop",
    "soft", "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance", "male voice",
    "female vocal", "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice", "choral",
)
MSD_LABELS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock", "jazz",
    "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s",
    "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy", "catchy",
    "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)


@dataclass(frozen=True)
class ModelConfig:
    name: str  # e.g. "msd-musicnn"
    architecture: str  # "musicnn" or "vgg"
    dataset: str  # "MSD" or "MTT"
    tags: tuple[str, ...]
    n_mels: int = 96
    patch_frames: int = 187
    frontend_filters: float = 1.6
    midend_filters: int = 64
    backend_units: int = 200
    vgg_filters: int = 128

    @property
    def embedding_dim(self) -> int:
        return self.backend_units if self.architecture == "musicnn" else self.vgg_filters


def _bn(n: int, dims: int = 2) -> nn.Module:
    return (nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d)(n, eps=TF_BN_EPS)


def _same_time_pad(x: torch.Tensor, k: int) -> torch.Tensor:
    """TensorFlow 'same' padding along time for a stride-1 kernel of height k."""
    top = (k - 1) // 2
    return F.pad(x, (0, 0, top, k - 1 - top))


def _pooled_block(conv: nn.Conv2d, bn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """max over frequency of bn(relu(conv(x))), computed on the pooled tensor.

    relu and an inference batch norm are monotone per channel (increasing where
    gamma >= 0, decreasing where gamma < 0), so the max of bn(relu(y)) is
    bn(relu(max y)) or bn(relu(min y)) channel by channel. Negating the filters
    of the gamma < 0 channels turns every min into a max (min y = -max(-y)), so
    one max reduction over (B, C, T, F) remains and the elementwise work runs on
    (B, C, T). The result equals the original's.
    """
    sign = torch.where(bn.weight >= 0, 1.0, -1.0)
    y = F.conv2d(x, conv.weight * sign.view(-1, 1, 1, 1), conv.bias * sign)
    if y.dim() == 4 and y.is_contiguous(memory_format=torch.channels_last) and not y.is_contiguous():
        pooled = F.max_pool2d(y, kernel_size=(1, y.shape[3])).squeeze(3)  # 2x a strided amax over channels-last
    else:
        pooled = y.amax(dim=3)
    pooled = pooled * sign.view(1, -1, 1).to(pooled.dtype)
    return bn(F.relu(pooled).unsqueeze(3)).squeeze(3)


class MusiCNN(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        m = config.n_mels
        timbral = int(config.frontend_filters * 128)
        temporal = int(config.frontend_filters * 32)
        self.bn_input = _bn(1)
        self.timbral = nn.ModuleList([nn.Conv2d(1, timbral, (7, int(0.4 * m))), nn.Conv2d(1, timbral, (7, int(0.7 * m)))])
        self.timbral_bn = nn.ModuleList([_bn(timbral), _bn(timbral)])
        self.temporal_kernels = (128, 64, 32)
        self.temporal = nn.ModuleList([nn.Conv2d(1, temporal, (k, 1)) for k in self.temporal_kernels])
        self.temporal_bn = nn.ModuleList([_bn(temporal) for _ in self.temporal_kernels])
        front = 2 * timbral + 3 * temporal
        mid = config.midend_filters
        self.midend = nn.ModuleList([nn.Conv2d(1, mid, (7, front)), nn.Conv2d(1, mid, (7, mid)), nn.Conv2d(1, mid, (7, mid))])
        self.midend_bn = nn.ModuleList([_bn(mid) for _ in range(3)])
        pooled = 2 * (front + 3 * mid)
        self.bn_flat = _bn(pooled, 1)
        self.dense = nn.Linear(pooled, config.backend_units)
        self.bn_dense = _bn(config.backend_units, 1)
        self.output = nn.Linear(config.backend_units, len(config.tags))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.bn_input(x.unsqueeze(1))  # (B, 1, T, F)
        padded = F.pad(x, (0, 0, 3, 3))
        front = [_pooled_block(conv, bn, padded) for conv, bn in zip(self.timbral, self.timbral_bn)]
        for k, conv, bn in zip(self.temporal_kernels, self.temporal, self.temporal_bn):
            front.append(_pooled_block(conv, bn, _same_time_pad(x, k)))
        frontend = torch.cat(front, dim=1)  # (B, 561, T)
        layers = [frontend]
        h = frontend
        for i, (conv, bn) in enumerate(zip(self.midend, self.midend_bn)):
            out = bn(F.relu(conv(F.pad(h.unsqueeze(1).transpose(2, 3), (0, 0, 3, 3))))).squeeze(3)
            h = out if i == 0 else out + h
            layers.append(h)
        features = torch.cat(layers, dim=1)  # (B, 753, T)
        # TF flattens [max, mean] per channel: channel-major, max first.
        pooled = torch.stack([features.amax(dim=2), features.mean(dim=2)], dim=2).flatten(1)
        penultimate = self.bn_dense(F.relu(self.dense(self.bn_flat(pooled))))
        return torch.sigmoid(self.output(penultimate)), penultimate


class VGG(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        n = config.vgg_filters
        self.bn_input = _bn(1)
        self.convs = nn.ModuleList([nn.Conv2d(1 if i == 0 else n, n, 3, padding=1) for i in range(5)])
        self.bns = nn.ModuleList([_bn(n) for _ in range(5)])
        self.pools = [((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4))]
        self.output = nn.Linear(self._flat_size(config), len(config.tags))

    @staticmethod
    def _flat_size(config: ModelConfig) -> int:
        h, w = config.patch_frames, config.n_mels
        for (kh, kw), (sh, sw) in [((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4))]:
            h, w = (h - kh) // sh + 1, (w - kw) // sw + 1
        return h * w * config.vgg_filters

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.bn_input(x.unsqueeze(1))
        for conv, bn, (kernel, stride) in zip(self.convs, self.bns, self.pools):
            h = F.max_pool2d(bn(F.relu(conv(h))), kernel, stride)
        pool5 = h  # (B, 128, 2, 1)
        flat = pool5.permute(0, 2, 3, 1).flatten(1)  # TF's NHWC flatten order
        return torch.sigmoid(self.output(flat)), pool5.mean(dim=(2, 3))


ARCHITECTURES = {"musicnn": MusiCNN, "vgg": VGG}


def build(config: ModelConfig) -> nn.Module:
    return ARCHITECTURES[config.architecture](config).eval()


# -- loading the original TensorFlow weights ---------------------------------------------


def _conv(tf_kernel: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(tf_kernel.transpose(3, 2, 0, 1)))


def _bn_state(prefix: str, tensors: dict[str, np.ndarray], name: str) -> dict[str, torch.Tensor]:
    return {
        f"{prefix}.weight": torch.from_numpy(tensors[f"{name}/gamma"]),
        f"{prefix}.bias": torch.from_numpy(tensors[f"{name}/beta"]),
        f"{prefix}.running_mean": torch.from_numpy(tensors[f"{name}/moving_mean"]),
        f"{prefix}.running_var": torch.from_numpy(tensors[f"{name}/moving_variance"]),
        f"{prefix}.num_batches_tracked": torch.tensor(0),
    }


def _layer_names(architecture: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """(conv, batch norm, dense) pairs of (torch prefix, TF scope), in TF creation order."""
    bn = lambda i: "batch_normalization" + (f"_{i}" if i else "")  # noqa: E731
    if architecture == "musicnn":
        convs = [("timbral.0", "conv2d"), ("timbral.1", "conv2d_1")]
        convs += [(f"temporal.{i}", f"conv2d_{i + 2}") for i in range(3)]
        convs += [(f"midend.{i}", f"conv2d_{i + 5}") for i in range(3)]
        bns = [("bn_input", bn(0)), ("timbral_bn.0", bn(1)), ("timbral_bn.1", bn(2))]
        bns += [(f"temporal_bn.{i}", bn(i + 3)) for i in range(3)]
        bns += [(f"midend_bn.{i}", bn(i + 6)) for i in range(3)]
        bns += [("bn_flat", bn(9)), ("bn_dense", bn(10))]
        return convs, bns, [("dense", "dense"), ("output", "dense_1")]
    convs = [(f"convs.{i}", f"{i + 1}CNN") for i in range(5)]
    bns = [("bn_input", bn(0))] + [(f"bns.{i}", bn(i + 1)) for i in range(5)]
    return convs, bns, [("output", "dense")]


def from_tensorflow(config: ModelConfig, tensors: dict[str, np.ndarray]) -> nn.Module:
    """A model with the weights of an original musicnn checkpoint (see tfcheckpoint.py)."""
    model = build(config)
    convs, bns, denses = _layer_names(config.architecture)
    state: dict[str, torch.Tensor] = {}
    for prefix, scope in convs:
        state[f"{prefix}.weight"] = _conv(tensors[f"{scope}/kernel"])
        state[f"{prefix}.bias"] = torch.from_numpy(tensors[f"{scope}/bias"])
    for prefix, scope in bns:
        state.update(_bn_state(prefix, tensors, scope))
    for prefix, scope in denses:
        state[f"{prefix}.weight"] = torch.from_numpy(np.ascontiguousarray(tensors[f"{scope}/kernel"].T))
        state[f"{prefix}.bias"] = torch.from_numpy(tensors[f"{scope}/bias"])
    model.load_state_dict(state, strict=True)
    return model.eval()


# -- our own format ------------------------------------------------------------------------


def save(model: nn.Module, directory: Path) -> Path:
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    config: ModelConfig = model.config  # type: ignore[assignment]
    (directory / "config.json").write_text(json.dumps(asdict(config), indent=2))
    weights = directory / "model.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    return weights


def load(directory: Path) -> nn.Module:
    from safetensors.torch import load_file

    data = json.loads((directory / "config.json").read_text())
    data["tags"] = tuple(data["tags"])
    model = build(ModelConfig(**data))
    model.load_state_dict(load_file(str(directory / "model.safetensors")), strict=True)
    return model.eval()


CONFIGS = {
    "msd-musicnn": ModelConfig("msd-musicnn", "musicnn", "MSD", MSD_LABELS),
    "mtt-musicnn": ModelConfig("mtt-musicnn", "musicnn", "MTT", MTT_LABELS),
    "msd-vgg": ModelConfig("msd-vgg", "vgg", "MSD", MSD_LABELS),
    "mtt-vgg": ModelConfig("mtt-vgg", "vgg", "MTT", MTT_LABELS),
}
#: Our name -> the checkpoint folder in the musicnn wheel.
CHECKPOINTS = {"msd-musicnn": "MSD_musicnn", "mtt-musicnn": "MTT_musicnn", "msd-vgg": "MSD_vgg", "mtt-vgg": "MTT_vgg"}
