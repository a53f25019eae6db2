"""Sequencing: the arc and the steps on real playlists, and the time it takes at 1M tracks.

    python bench/bench_sequence.py [--library bench/.cache/dev-library] [--tracks 1000000]

1. On the dev playlists (the Spotify library `make demo` imports; built into
   bench/.cache/dev-library if missing): every playlist of 30+ tracks sequenced with
   `--arc peak --by energy` in the attribute space. Reported: the share of playlists whose
   highest-energy third lands exactly in the middle third, and the mean step distance
   (whitened attribute space) of the new order against the playlist's own order.
2. At 1M tracks (bench_search.py's library): sequencing a 100-track playlist, warm, p50 and
   p99 over 20 playlists; a 10-step path between a low- and a high-energy track, warm.
3. Passages: a library of 10,000 indexed tracks of 80 synthetic 3-second segments each
   (200-d, clustered; generated once into bench/.cache/passages-10000): the first passage
   query (reads the segments and their whitened norms), then p50/p99 of
   `like:track("x" @ m:ss) limit:20` warm, next to the same nearest-segment-per-track scan
   done directly in numpy on a whitened copy (the baseline) in the same run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def dev(path: Path) -> None:
    from attune.engine import Library

    if not (path / "tracks.lance").exists():
        data = HERE.parent / "examples" / "data" / "spotify_playlists_dev.csv.gz"
        Library.open(path).import_spotify([data])
    lib = Library.open(path)
    snap = lib.snapshot()
    middle, lowered, before, after, times = 0, 0, [], [], []
    names = [n for n, p in snap.playlists.items() if len(snap.playlist_rows(n)) >= 30]
    for name in names:
        t0 = time.perf_counter()
        done = lib.sequence(name, arc="peak", by="energy")
        times.append((time.perf_counter() - t0) * 1000)
        n = len(done.values)
        third = n // 3
        top = set(np.argsort(-np.array(done.values), kind="stable")[:third])
        middle += top <= set(range((n - third) // 2, (n - third) // 2 + third)) or top <= set(range(third, n - third))
        lowered += done.mean_step < done.mean_step_before
        before.append(done.mean_step_before)
        after.append(done.mean_step)
    print(f"dev playlists of 30+ tracks: {len(names)}")
    print(f"  highest-energy third in the middle third: {middle}/{len(names)} ({middle / len(names):.0%})")
    print(f"  mean step (whitened attribute space): own order {np.mean(before):.3f} -> sequenced {np.mean(after):.3f} "
          f"({np.mean(np.array(after) / np.array(before)):.2f}x on average); lowered in {lowered}/{len(names)}")
    print(f"  time per playlist: p50 {np.percentile(times, 50):.1f} ms, p99 {np.percentile(times, 99):.1f} ms")


def at_scale(tracks: int) -> None:
    from attune.engine import Library
    from attune.engine.playlists.sequence import sequence
    from attune.engine.storage import Playlist, Snapshot

    path = HERE / ".cache" / f"lib-{tracks}"
    if not (path / "tracks.lance").exists():
        subprocess.run([sys.executable, str(HERE / "bench_search.py"), "--tracks", str(tracks), "--repeat", "2"], check=True)
    lib = Library.open(path)
    snap = lib.snapshot()
    rng = np.random.default_rng(0)
    ids = snap.tracks.column("track_id")
    extra = [Playlist(f"seq{k}", f"Seq {k}", tuple(ids.gather(rng.integers(0, len(snap), 100)).to_list())) for k in range(20)]
    view = Snapshot(snap.tracks, [*snap.playlists.values(), *extra])
    t0 = time.perf_counter()
    sequence(view, "Seq 0", arc="peak")  # builds the attribute space for this view (cold)
    cold = (time.perf_counter() - t0) * 1000
    times = []
    for p in extra:
        t0 = time.perf_counter()
        sequence(view, p.name, arc="peak")
        times.append((time.perf_counter() - t0) * 1000)
    print(f"{len(snap):,} tracks: sequencing a 100-track playlist (peak, energy, attr): first {cold:.0f} ms (builds the "
          f"space), then p50 {np.percentile(times, 50):.1f} ms, p99 {np.percentile(times, 99):.1f} ms")
    from attune.engine.search.path import path_between

    e = snap.numbers("energy")
    low, high = np.flatnonzero(e < 0.1), np.flatnonzero(e > 0.9)
    times, lengths = [], []
    for k in range(21):
        t0 = time.perf_counter()
        found = path_between(snap, int(low[k]), int(high[k]), steps=10)
        times.append((time.perf_counter() - t0) * 1000)
        lengths.append(len(found.rows))
    print(f"{len(snap):,} tracks: a 10-step path (attr): p50 {np.percentile(times[1:], 50):.1f} ms, "
          f"p99 {np.percentile(times[1:], 99):.1f} ms (first {times[0]:.0f} ms); {np.mean(lengths):.1f} steps on average")


def passages(tracks: int, per_track: int = 80, dims: int = 200) -> None:
    from attune.engine import Library
    from attune.engine.ingest import Indexed
    from attune.engine.spaces import space
    from attune.engine.spaces.segments import segments

    path = HERE / ".cache" / f"passages-{tracks}"
    if not (path / "tracks.lance").exists():
        print(f"generating {tracks:,} tracks x {per_track} segments into {path} ...", flush=True)
        rng = np.random.default_rng(0)
        centres = rng.normal(size=(500, dims)).astype(np.float32)
        lib = Library.open(path)
        for start in range(0, tracks, 1000):
            batch = []
            for i in range(start, min(start + 1000, tracks)):
                # a track wanders between a few sound clusters, segment by segment
                own = centres[rng.integers(0, len(centres), 4)]
                x = own[rng.integers(0, 4, per_track)] + rng.normal(scale=0.4, size=(per_track, dims)).astype(np.float32)
                tid = f"s{i:06d}"
                track = {"track_id": tid, "source": "audio", "title": tid, "artist": f"a{i % 3000}", "path": f"/m/{tid}.flac",
                         "length": per_track * 3.0, "genres": [], "raw_genres": [], "embedding": x.mean(axis=0).tolist()}
                batch.append(Indexed(track["path"], track, np.arange(per_track) * 3.0, x, np.zeros((per_track, 0), np.float32), 3.0))
            lib.write_indexed(batch)
    lib = Library.open(path)
    ids = lib.snapshot().tracks.column("track_id").to_list()
    rng = np.random.default_rng(1)
    queries = [f'like:track("{ids[int(rng.integers(len(ids)))]}" @ {int(rng.integers(0, per_track * 3 - 3))}) limit:20'
               for _ in range(21)]
    t0 = time.perf_counter()
    lib.search(queries[0])
    cold = (time.perf_counter() - t0) * 1000
    times = []
    for q in queries[1:]:
        t0 = time.perf_counter()
        lib.search(q)
        times.append((time.perf_counter() - t0) * 1000)
    snap = lib.snapshot()
    seg, audio = segments(snap), space(snap, "audio")
    z = audio.transform(seg.x)  # the baseline holds a whitened copy (this bench's memory, not attune's)
    sq = np.einsum("ij,ij->i", z, z)
    base = []
    for k in range(20):
        t0 = time.perf_counter()
        q = z[k * 997 % len(z)]
        d = sq - 2.0 * (z @ q) + float(q @ q)
        best = np.minimum.reduceat(d, seg.first)
        np.argpartition(best, 20)[:20]
        base.append((time.perf_counter() - t0) * 1000)
    p50, base50 = np.percentile(times, 50), np.percentile(base, 50)
    print(f"passages over {len(ids):,} tracks, {len(seg.rows):,} segments x {seg.x.shape[1]}-d: first query {cold:.0f} ms "
          f"(reads the segments), then p50 {p50:.1f} ms, p99 {np.percentile(times, 99):.1f} ms; numpy scan of a whitened "
          f"copy {base50:.1f} ms p50 ({p50 / base50:.2f}x); segments held in memory {seg.x.nbytes / 2**20:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", type=Path, default=HERE / ".cache" / "dev-library")
    ap.add_argument("--tracks", type=int, default=1_000_000)
    ap.add_argument("--passage-tracks", type=int, default=10_000)
    ap.add_argument("--only", choices=("dev", "scale", "passages"))
    args = ap.parse_args()
    if args.only in (None, "dev"):
        dev(args.library)
    if args.only in (None, "scale"):
        at_scale(args.tracks)
    if args.only in (None, "passages"):
        passages(args.passage_tracks)


if __name__ == "__main__":
    main()
