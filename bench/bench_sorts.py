"""The sort over every track's id that a big library's process does once for lookups of
many ids (`TrackData._ids`: the track ids' 64-bit hashes): polars' arg_sort (since
2026-12-03, fourth session) against numpy's argsort (the code before), in the same run,
on `--tracks` synthetic ids in a random order.

    .venv/bin/python bench/bench_sorts.py --tracks 10000000
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
    n = args.tracks
    tracks = TrackData(pl.DataFrame({"track_id": pl.Series([f"t{i:09d}" for i in rng.permutation(n)])}))
    print(f"{n:,} track ids; best of {args.rounds}", flush=True)
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


if __name__ == "__main__":
    main()
