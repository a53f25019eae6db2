"""Indexing throughput for 4-minute tracks, per stage and end to end, per backbone.

    python bench/bench_index.py [--tracks 8] [--workers 2]

Tracks are the real test clip tiled to 4 minutes, resampled to 44.1 kHz stereo
and written as FLAC, each with a different gain (so each is its own track).
Per stage (one track, one process, all cores): decode (PyAV + soxr), log-mel,
model, attributes (taggram formulas + librosa tempo), write (LanceDB).
Baseline in the same run: the same model in plain fp32 (the straightforward
port), next to the default precision. End to end: `attune index` with N workers.
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


def stage_times(path: Path, backbone_name: str, precision: str) -> dict[str, float]:
    import torch
    from attune.indexer.attributes import segment_loudness, tempo, track_attributes
    from attune.indexer.audio import decode, log_mel, patches
    from attune.indexer.backbones import load_backbone

    torch.set_num_threads(2)
    backbone = load_backbone(backbone_name, precision=precision)
    out = {}
    t0 = time.perf_counter()
    decoded = decode(path)
    out["decode"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    batch, starts = patches(log_mel(decoded.samples))
    out["mel"] = time.perf_counter() - t0
    embed = getattr(backbone, "embed_patches", None)
    embed = embed or (lambda b, s: backbone.embed(decoded.samples))
    embed(batch[:8], starts[:8])  # warm-up
    t0 = time.perf_counter()
    seg = embed(batch, starts)
    out["model"] = time.perf_counter() - t0
    tempo(decoded.samples[: 16000 * 5])  # numba warm-up
    t0 = time.perf_counter()
    loud = segment_loudness(decoded.samples, seg.starts, backbone.segment_seconds)
    track_attributes(seg.taggram, backbone.tags, loud, seg.starts, decoded.duration)
    tempo(decoded.samples)
    out["attributes"] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--backbones", default="msd-musicnn,msd-vgg,dsp", help="comma-separated")
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
        print(f"{'backbone':<13}{'precision':<10}{'decode':>8}{'mel':>7}{'model':>8}{'attrs':>7}   (s per track, one process, 2 threads)")
        backbones = args.backbones.split(",")
        for name in backbones:
            for prec in ("fp32", precision) if name != "dsp" and precision != "fp32" else ("fp32",):
                t = stage_times(paths[0], name, prec)
                print(f"{name:<13}{prec:<10}{t['decode']:>8.2f}{t['mel']:>7.2f}{t['model']:>8.2f}{t['attributes']:>7.2f}")
        print(f"\nend to end, {args.workers} workers (tracks per minute; writes included):")
        for name in backbones:
            lib = Library.open(Path(tmp) / f"lib-{name}")
            t0 = time.perf_counter()
            report = index(lib, [folder], backbone=name, workers=args.workers)
            elapsed = time.perf_counter() - t0
            assert report.indexed == args.tracks, report
            print(f"  {name:<13} {args.tracks / elapsed * 60:6.1f} tracks/min  ({elapsed:.1f} s for {args.tracks}; includes worker start-up)")


if __name__ == "__main__":
    main()
