"""The sort over every track's id that a big library's process does once for lookups of
many ids (`TrackData._ids`: the track ids' 64-bit hashes): polars' arg_sort (since
2026-12-03, fourth session) against numpy's argsort (the code before), in the same run,
on `--tracks` synthetic ids in a random order.

And the sort a playlist expansion does once over every track (`expand.artist_rank`: each
track's place among its artist's tracks by popularity): the 32-bit build (since
2026-12-03, sixth session) against `np.lexsort` with 64-bit places (the code before), time
and the peak of what numpy allocated for it (tracemalloc), on synthetic artists (one per
20 tracks) and popularity 0-100 with 5% unknown.

And the inverted index of a list column (`textindex.postings`: the genres' entries sorted by
genre): the counting sort a chunk at a time (since the same session) against one stable
argsort of every entry (the code before), on two entries a track from 1,500 genres.

And the codes of a text index's distinct values (`textindex.sorted_distinct`: one sort,
each run of equal strings a code) against the distinct values sorted and every string
searched among them (the code before), on one distinct title per two tracks.

    .venv/bin/python bench/bench_sorts.py --tracks 10000000
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import polars as pl


def best_of(fn, rounds: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def traced_peak(fn) -> float:
    """MB numpy allocated at the peak of one call (what it returns included)."""
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def lexsort_rank(codes: np.ndarray, popularity: np.ndarray) -> np.ndarray:
    """`expand.artist_rank`'s build before the sixth session of 2026-12-03."""
    pop = np.nan_to_num(popularity, nan=-1.0)
    order = np.lexsort((-pop, codes))
    sorted_codes = codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1]
    position = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = position
    return rank


def artist_ranks(n: int, rounds: int) -> None:
    from attune.engine.playlists.expand import _ARTIST_RANK, artist_rank
    from attune.engine.storage import Snapshot, TrackData

    rng = np.random.default_rng(11)
    popularity = rng.integers(0, 101, n).astype(np.float32)
    popularity[rng.random(n) < 0.05] = np.nan
    artists = pl.Series("artist", rng.integers(0, max(n // 20, 1), n)).cast(pl.String)
    snap = Snapshot(TrackData(pl.DataFrame({"track_id": pl.arange(n, eager=True).cast(pl.String), "artist": artists,
                                            "popularity": popularity})), [])
    codes, numbers = snap.tracks.text_index("artist").codes, snap.numbers("popularity")

    def attune():  # the build only: ranks asked for one row (an expansion asks for its candidates')
        snap.forget(_ARTIST_RANK)
        artist_rank(snap, np.zeros(1, dtype=np.int64))
        return snap.memo(_ARTIST_RANK, lambda: None)

    before, old = best_of(lambda: lexsort_rank(codes, numbers), rounds)
    after, new = best_of(attune, rounds)
    assert np.array_equal(old, new)
    old_peak, new_peak = traced_peak(lambda: lexsort_rank(codes, numbers)), traced_peak(attune)
    print(f"  artist ranks: np.lexsort {before:.2f} s, peak {old_peak:.0f} MB; attune {after:.2f} s "
          f"({after / before:.2f}x), peak {new_peak:.0f} MB ({new_peak / old_peak:.2f}x)", flush=True)


def whole_postings(codes: np.ndarray, distinct: int) -> tuple[np.ndarray, np.ndarray]:
    """`TextIndex._postings` before the sixth session of 2026-12-03."""
    narrow = next((t for t in (np.uint8, np.uint16) if distinct <= np.iinfo(t).max + 1), None)
    order = np.argsort(codes.astype(narrow) if narrow is not None else codes, kind="stable")
    order = order.astype(np.int32) if len(order) < 2**31 else order
    return np.searchsorted(codes[order], np.arange(distinct + 1)), order


def genre_postings(n: int, rounds: int) -> None:
    from attune.engine.storage.textindex import postings

    distinct = 1_500
    codes = np.random.default_rng(13).zipf(1.3, 2 * n).clip(1, distinct).astype(np.int32) - 1
    before, old = best_of(lambda: whole_postings(codes, distinct), rounds)
    after, new = best_of(lambda: postings(codes, distinct), rounds)
    assert np.array_equal(old[0], new[0]) and np.array_equal(old[1], new[1])
    old_peak, new_peak = traced_peak(lambda: whole_postings(codes, distinct)), traced_peak(lambda: postings(codes, distinct))
    print(f"  genre postings ({len(codes):,} entries): one argsort {before:.2f} s, peak {old_peak:.0f} MB; attune "
          f"{after:.2f} s ({after / before:.2f}x), peak {new_peak:.0f} MB ({new_peak / old_peak:.2f}x)", flush=True)


def searched_places(strings: pl.Series) -> tuple[pl.Series, np.ndarray]:
    """The distinct values' codes before the sixth session of 2026-12-03."""
    values = strings.unique().sort()
    return values, values.search_sorted(strings).to_numpy().astype(np.int32)


def title_codes(n: int, rounds: int) -> None:
    from attune.engine.storage.textindex import sorted_distinct

    titles = pl.Series("v", [f"title {i}" for i in np.random.default_rng(17).permutation(max(n // 2, 1))])
    before, old = best_of(lambda: searched_places(titles), rounds)
    after, new = best_of(lambda: sorted_distinct(titles), rounds)
    assert old[0].equals(new[0]) and np.array_equal(old[1], new[1])
    print(f"  title codes ({len(titles):,} distinct): sorted and searched {before:.2f} s; attune {after:.2f} s "
          f"({after / before:.2f}x)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    id_sorts(args.tracks, args.rounds)
    artist_ranks(args.tracks, args.rounds)
    genre_postings(args.tracks, args.rounds)
    title_codes(args.tracks, args.rounds)


def id_sorts(n: int, rounds: int) -> None:
    from attune.engine.storage import TrackData
    from attune.engine.storage import snapshot as snapshot_module

    rng = np.random.default_rng(7)
    tracks = TrackData(pl.DataFrame({"track_id": pl.Series([f"t{i:09d}" for i in rng.permutation(n)])}))
    print(f"{n:,} track ids; best of {rounds}", flush=True)
    ids = tracks.column("track_id")

    def numpy_ids():
        hashes = ids.hash(snapshot_module._SEED).to_numpy()
        order = np.argsort(hashes)
        return hashes[order], order.astype(np.int64)

    def attune_ids():
        tracks._sorted_ids = None
        return tracks._ids()

    before, old = best_of(numpy_ids, rounds)
    after, new = best_of(attune_ids, rounds)
    assert np.array_equal(old[0], new[0]) and np.array_equal(ids.gather(old[1]), ids.gather(new[1]))
    print(f"  ids:   numpy argsort {before:.2f} s, attune (polars) {after:.2f} s ({after / before:.2f}x); "
          f"their rows {old[1].nbytes / 2**20:.0f} MB -> {new[1].nbytes / 2**20:.0f} MB", flush=True)


if __name__ == "__main__":
    main()
