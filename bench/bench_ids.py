"""Sorting the track ids' 64-bit hashes, which a big library's process does once for its
lookups (`TrackData._ids`: a like: query's or a playlist's ids, the index's ids): polars'
arg_sort (since 2026-12-03, fourth session) against numpy's argsort (the code before), in
the same run, on `--tracks` synthetic ids in a random order.

    .venv/bin/python bench/bench_ids.py --tracks 10000000
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from attune.engine.storage import TrackData
    from attune.engine.storage import snapshot as snapshot_module

    rng = np.random.default_rng(7)
    tracks = TrackData(pl.DataFrame({"track_id": pl.Series([f"t{i:09d}" for i in rng.permutation(args.tracks)])}))
    ids = tracks.column("track_id")

    def numpy_sort():
        hashes = ids.hash(snapshot_module._SEED).to_numpy()
        order = np.argsort(hashes)
        return hashes[order], order.astype(np.int64)

    def attune_sort():
        tracks._sorted_ids = None
        return tracks._ids()

    before, old = best_of(numpy_sort, args.rounds)
    after, new = best_of(attune_sort, args.rounds)
    assert np.array_equal(old[0], new[0]) and np.array_equal(ids.gather(old[1]), ids.gather(new[1]))
    print(f"{args.tracks:,} track ids hashed and sorted, best of {args.rounds}: numpy argsort {before:.2f} s, "
          f"attune (polars) {after:.2f} s ({after / before:.2f}x); their rows {old[1].nbytes / 2**20:.0f} MB -> "
          f"{new[1].nbytes / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
