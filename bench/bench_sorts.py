"""The sorts over every track that a big library's process does once, each against the
way it was done before (2026-12-03, fourth session), in the same run:

  ids     the track ids' 64-bit hashes sorted for lookups of many ids (`TrackData._ids`):
          polars' arg_sort against numpy's argsort
  ranks   each track's rank among its artist's tracks by popularity, which the first
          expansion computes (`playlists.expand.artist_rank`): polars' ordinal rank over
          each artist against numpy's lexsort of (artist, popularity)

The tracks are synthetic: `--tracks` ids in a random order, artists of Zipf-distributed
sizes (`--artists` of them), popularity 0-100 with a tenth unknown.

    .venv/bin/python bench/bench_sorts.py --tracks 10000000 --artists 1000000
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import polars as pl


def best_of(fn, rounds: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=2_000_000)
    parser.add_argument("--artists", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import attune.engine.playlists.expand  # noqa: F401
    from attune.engine.storage import Snapshot, TrackData
    from attune.engine.storage import snapshot as snapshot_module

    expand_module = sys.modules["attune.engine.playlists.expand"]
    rng = np.random.default_rng(7)
    n = args.tracks
    sizes = 1.0 / np.arange(1, args.artists + 1)
    artist = rng.choice(args.artists, size=n, p=sizes / sizes.sum())
    popularity = rng.integers(0, 101, n).astype(np.float64)
    popularity[rng.random(n) < 0.1] = np.nan
    frame = pl.DataFrame({"track_id": pl.Series([f"t{i:09d}" for i in rng.permutation(n)]),
                          "artist": pl.Series([f"Artist {a}" for a in artist]), "popularity": popularity})
    print(f"{n:,} tracks, {len(np.unique(artist)):,} artists; best of {args.rounds}", flush=True)

    tracks = TrackData(frame)
    ids = tracks.column("track_id")

    def numpy_ids():
        hashes = ids.hash(snapshot_module._SEED).to_numpy()
        order = np.argsort(hashes)
        return hashes[order], order.astype(np.int64)

    def attune_ids():
        tracks._sorted_ids = None
        return tracks._ids()

    before, old = best_of(numpy_ids, args.rounds)
    after, new = best_of(attune_ids, args.rounds)
    assert np.array_equal(old[0], new[0]) and np.array_equal(ids.gather(old[1]), ids.gather(new[1]))
    print(f"  ids:   numpy argsort {before:.2f} s, attune (polars) {after:.2f} s ({after / before:.2f}x); "
          f"their rows {old[1].nbytes / 2**20:.0f} MB -> {new[1].nbytes / 2**20:.0f} MB", flush=True)

    snap = Snapshot(TrackData(frame), [])
    codes = snap.tracks.text_index("artist").codes  # (built by an expansion in either case)

    def numpy_ranks():
        order = np.lexsort((-np.nan_to_num(popularity, nan=-1.0), codes))
        sorted_codes = codes[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1]
        position = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
        rank = np.empty(len(order), dtype=np.int32)
        rank[order] = position
        return 1.0 / (1.0 + rank)

    def attune_ranks():
        snap.tracks.cache.drop(expand_module._ARTIST_RANK)
        return expand_module.artist_rank(snap)

    before, old = best_of(numpy_ranks, args.rounds)
    after, new = best_of(attune_ranks, args.rounds)
    assert np.array_equal(old, new)
    print(f"  ranks: numpy lexsort {before:.2f} s, attune (polars) {after:.2f} s ({after / before:.2f}x)", flush=True)


if __name__ == "__main__":
    main()
