"""Indexing throughput for 4-minute tracks, per stage and end to end, per backbone.

    python bench/bench_index.py [--tracks 40] [--workers 2] [--backbones msd-musicnn]

Tracks are the real test clip tiled to 4 minutes, resampled to 44.1 kHz stereo
and written as FLAC, each with a different gain (so each is its own track).
Per stage (one track, one process, 2 threads and 1 thread as in a worker): decode (PyAV +
soxr), log-mel, model, attributes (signal measures, tempo, taggram formulas), the rest
(trained heads, tags, the audio hash). Baselines in the same run: the model in plain fp32
next to the default precision, and the model stage before the max-pooling step (strided
amax), alternating. End to end: `attune index` with N workers, worker start-up and the
LanceDB writes included.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

CLIP = Path(__file__).resolve().parents[1] / "tests" / "data" / "joram-moments_of_clarity-08-solipsism-59-88.mp3"


def make_tracks(folder: Path, n: int) -> list[Path]:
    import soundfile
    import soxr
    from attune.indexer.audio import decode

    base = decode(CLIP).samples
    four_minutes = np.tile(base, int(np.ceil(240 * 16000 / len(base))))[: 240 * 16000]
    hi = soxr.resample(four_minutes, 16000, 44100)
    paths = []
    for i in range(n):
        path = folder / f"track{i:02d}.flac"
        soundfile.write(str(path), np.stack([hi, hi], axis=1) * (0.6 + 0.03 * i), 44100)
        paths.append(path)
    return paths


def stage_times(path: Path, backbone_name: str, precision: str, threads: int = 2) -> dict[str, float]:
    """Seconds per stage of `pipeline.process_file` for one track, in this process."""
    import torch
    from attune.indexer.attributes import describe
    from attune.indexer.audio import decode, log_mel, patches, read_tags
    from attune.indexer.backbones import load_backbone
    from attune.indexer.heads import active_heads
    from attune.indexer.pipeline import apply_heads, audio_id

    torch.set_num_threads(threads)
    backbone = load_backbone(backbone_name, precision=precision)
    heads = active_heads(backbone_name)
    out = {}
    t0 = time.perf_counter()
    decoded = decode(path)
    out["decode"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    spectrogram = log_mel(decoded.samples)
    out["mel"] = time.perf_counter() - t0
    batch, starts = patches(spectrogram)
    backbone.embed_spectrogram(spectrogram[: 8 * 187], decoded.samples)  # warm-up
    t0 = time.perf_counter()
    seg = backbone.embed_spectrogram(spectrogram, decoded.samples)
    out["model"] = time.perf_counter() - t0
    describe(decoded.samples[: 16000 * 5], spectrogram[:300], backbone.embed_spectrogram(spectrogram[:300], decoded.samples[: 16000 * 5]),
             backbone.tags, backbone.segment_seconds, 5.0)  # numba warm-up
    t0 = time.perf_counter()
    attrs = describe(decoded.samples, spectrogram, seg, backbone.tags, backbone.segment_seconds, decoded.duration)
    out["attributes"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if heads is not None:
        apply_heads(heads, attrs, seg, decoded.duration)
    read_tags(path)
    audio_id(decoded.samples)
    out["rest"] = time.perf_counter() - t0
    return out


def _amax_block(conv, bn, x):
    """The front-end block as it was before max pooling replaced the strided amax (the
    "before" of that step, measured in the same run)."""
    import torch
    import torch.nn.functional as F

    sign = torch.where(bn.weight >= 0, 1.0, -1.0)
    y = F.conv2d(x, conv.weight * sign.view(-1, 1, 1, 1), conv.bias * sign)
    if y.dim() == 4 and y.is_contiguous(memory_format=torch.channels_last) and not y.is_contiguous():
        pooled = y.permute(0, 2, 3, 1).amax(dim=2).transpose(1, 2)
    else:
        pooled = y.amax(dim=3)
    pooled = pooled * sign.view(1, -1, 1).to(pooled.dtype)
    return bn(F.relu(pooled).unsqueeze(3)).squeeze(3)


def pooling_step(path: Path, precision: str, repeat: int = 3) -> None:
    """The model stage with the strided amax (before) and with max pooling (now), one
    thread as in a worker, alternating, median of `repeat`."""
    from attune.indexer import models

    now = models._pooled_block
    times: dict[str, list[float]] = {"amax (before)": [], "max_pool2d (now)": []}
    for _ in range(repeat):
        for label, block in (("amax (before)", _amax_block), ("max_pool2d (now)", now)):
            models._pooled_block = block
            try:
                times[label].append(stage_times(path, "msd-musicnn", precision, 1)["model"])
            finally:
                models._pooled_block = now
    before, after = (float(np.median(v)) for v in times.values())
    print(f"model stage, msd-musicnn {precision}, 1 thread: strided amax {before:.2f} s, max pooling {after:.2f} s "
          f"per track ({before / after:.2f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--backbones", default="msd-musicnn,msd-vgg,dsp", help="comma-separated")
    ap.add_argument("--ray", action="store_true", help="also index on a local Ray instance (its overhead against the local pool)")
    args = ap.parse_args()

    from attune.engine import Library
    from attune.indexer import index
    from attune.indexer.backbones import default_precision, installed

    if not all(r["installed"] for r in installed()):
        raise SystemExit("install the models first: attune models install")
    precision = default_precision()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "music"
        folder.mkdir()
        paths = make_tracks(folder, args.tracks)
        print(f"{args.tracks} tracks of 4:00 (FLAC, 44.1 kHz stereo); default precision here: {precision}\n")
        print(f"{'backbone':<13}{'precision':<10}{'threads':>8}{'decode':>8}{'mel':>7}{'model':>8}{'attrs':>7}{'rest':>7}   (s per track, one process)")
        backbones = args.backbones.split(",")
        for name in backbones:
            for prec in ("fp32", precision) if name != "dsp" and precision != "fp32" else ("fp32",):
                for threads in (2, 1):
                    t = stage_times(paths[0], name, prec, threads)
                    print(f"{name:<13}{prec:<10}{threads:>8}{t['decode']:>8.2f}{t['mel']:>7.2f}{t['model']:>8.2f}"
                          f"{t['attributes']:>7.2f}{t['rest']:>7.2f}")
        if "msd-musicnn" in backbones:
            print()
            pooling_step(paths[0], precision)
        print(f"\nend to end, {args.workers} workers (tracks per minute; writes included):")
        for name in backbones:
            lib = Library.open(Path(tmp) / f"lib-{name}")
            t0 = time.perf_counter()
            report = index(lib, [folder], backbone=name, workers=args.workers)
            elapsed = time.perf_counter() - t0
            assert report.indexed == args.tracks, report
            print(f"  {name:<13} {args.tracks / elapsed * 60:6.1f} tracks/min  ({elapsed:.1f} s for {args.tracks}; includes worker start-up)")
            if args.ray:
                lib = Library.open(Path(tmp) / f"lib-{name}-ray")
                t0 = time.perf_counter()
                report = index(lib, [folder], backbone=name, ray="local")
                on_ray = time.perf_counter() - t0
                assert report.indexed == args.tracks, report
                print(f"  {name:<13} {args.tracks / on_ray * 60:6.1f} tracks/min on a local Ray instance ({on_ray:.1f} s, Ray's "
                      f"start-up included; {on_ray / elapsed:.2f}x the local pool)")


if __name__ == "__main__":
    main()
