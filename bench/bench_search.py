"""Search latency on a synthetic 1,000,000-track library, next to numpy brute force.

    python bench/bench_search.py [--tracks 1000000] [--repeat 200] [--library DIR]

Generates the library once (in a child process, so its memory does not count)
into DIR (default bench/.cache/lib-N), then, in this process, measures:
  open     Library.open() on the existing library
  cold     the first query, which loads the in-memory snapshot
  (a)      filter only:        genre:=rock energy:0.2..0.4 year:1990..1999 limit:50
  (a-lance) the same through LanceDB (what a one-shot CLI call on a cold library does)
  (b)      like:track(ID) limit:10                       (a different track each time)
  (c)      like:playlist(P) genre:=rock year:1980.. limit:50, 50-seed playlists
  (d)      lib.expand(P, limit=50)
  (e)      a playlist edit (add one track to P, or remove it again) and then the next
           search, like:playlist(P) limit:50: what a curator adding tracks one by one feels
and, for each of (a)-(d), a numpy brute-force scan of the same in-memory data
doing the same work (mask, distances, top-k), measured in the same run.
Peak memory is this process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

GENRES = [
    "rock", "pop", "jazz", "blues", "country", "electronic", "hip hop", "r&b", "soul", "folk", "punk", "metal",
    "reggae", "latin", "classical", "funk", "disco", "house", "techno", "ambient", "indie", "gospel", "trap", "edm",
]
N_PLAYLISTS = 2000
PLAYLIST_SIZE = 50


def generate(path: Path, n: int, seed: int = 0) -> None:
    import pyarrow as pa
    from attune.engine import Library
    from attune.engine.storage import TRACKS_SCHEMA, now

    rng = np.random.default_rng(seed)
    lib = Library.open(path)
    attrs = rng.random((n, 6))
    members = N_PLAYLISTS * PLAYLIST_SIZE
    centres = rng.random((N_PLAYLISTS, 6))
    attrs[:members] = np.clip(np.repeat(centres, PLAYLIST_SIZE, axis=0) + rng.normal(0, 0.08, (members, 6)), 0, 1)
    g1 = rng.integers(0, len(GENRES), n)
    g2 = rng.integers(0, len(GENRES), n)
    stamp = now()
    chunk = 200_000
    for start in range(0, n, chunk):
        idx = np.arange(start, min(n, start + chunk))
        table = pa.table(
            {
                "track_id": [f"t{i:07d}" for i in idx],
                "source": ["bench"] * len(idx),
                "title": [f"Track {i}" for i in idx],
                "artist": [f"Artist {i % 50_000}" for i in idx],
                "album": [f"Album {i % 100_000}" for i in idx],
                "release_date": pa.nulls(len(idx), pa.string()),
                "year": rng.integers(1960, 2025, len(idx)).astype(np.int32),
                "length": rng.uniform(120, 420, len(idx)),
                "popularity": rng.integers(0, 101, len(idx)).astype(float),
                "genres": [[GENRES[a]] if a == b else [GENRES[a], GENRES[b]] for a, b in zip(g1[idx], g2[idx])],
                "tags": [[] for _ in idx],
                "energy": attrs[idx, 0],
                "valence": attrs[idx, 1],
                "vocalness": attrs[idx, 2],
                "danceability": attrs[idx, 3],
                "acousticness": attrs[idx, 4],
                "tempo": 60 + 140 * attrs[idx, 5],
                "updated_at": [stamp] * len(idx),
            }
        )
        missing = [f for f in TRACKS_SCHEMA if f.name not in table.column_names]
        for f in missing:
            table = table.append_column(f, pa.nulls(len(idx), f.type))
        lib.store.tables["tracks"].add(table.select(TRACKS_SCHEMA.names).cast(TRACKS_SCHEMA))
    playlists = {
        f"bench:{k}": {
            "name": f"P{k:04d}",
            "track_ids": {f"t{i:07d}": None for i in range(k * PLAYLIST_SIZE, (k + 1) * PLAYLIST_SIZE)},
            "genres": {},
        }
        for k in range(N_PLAYLISTS)
    }
    lib.playlists.upsert_imported(playlists, source="bench")
    lib.store.tables["tracks"].create_scalar_index("track_id")


def timed(fn, args_list) -> list[float]:
    out = []
    for args in args_list:
        t0 = time.perf_counter()
        fn(*args)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def p(xs: list[float], q: int) -> float:
    return float(np.percentile(xs, q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--library", type=Path)
    args = ap.parse_args()
    path = args.library or Path(__file__).parent / ".cache" / f"lib-{args.tracks}"
    if not (path / "tracks.lance").exists():
        print(f"generating {args.tracks} tracks into {path} ...", flush=True)
        t0 = time.perf_counter()
        code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_search as b; b.generate(__import__('pathlib').Path({str(path)!r}), {args.tracks})"
        subprocess.run([sys.executable, "-c", code], check=True)
        print(f"generated in {time.perf_counter() - t0:.1f} s", flush=True)

    t0 = time.perf_counter()
    import lancedb  # noqa: F401  (its import alone is most of a cold start)

    import_ms = (time.perf_counter() - t0) * 1e3
    from attune.engine import Library

    rng = np.random.default_rng(1)
    reps = args.repeat
    t0 = time.perf_counter()
    lib = Library.open(path)
    open_ms = (time.perf_counter() - t0) * 1e3

    filter_q = "genre:=rock energy:0.2..0.4 year:1990..1999 limit:50"
    lance_ms = timed(lambda: Library.open(path).search(filter_q), [()] * max(5, reps // 20))

    t0 = time.perf_counter()
    first = lib.search(filter_q)
    cold_ms = (time.perf_counter() - t0) * 1e3
    snap = lib.snapshot()
    n = len(snap)
    assert first.plan.executor == "memory" or True

    track_ids = [f"t{i:07d}" for i in rng.integers(0, n, reps)]
    playlists = [f"P{k:04d}" for k in rng.integers(0, N_PLAYLISTS, reps)]
    lib.search(f"like:track({track_ids[0]}) limit:10")  # builds the attribute space once
    attune = {
        "a": timed(lambda: lib.search(filter_q), [()] * reps),
        "b": timed(lambda t: lib.search(f"like:track({t}) limit:10"), [(t,) for t in track_ids]),
        "c": timed(lambda q: lib.search(f'like:playlist("{q}") genre:=rock year:1980.. limit:50'), [(q,) for q in playlists]),
        "d": timed(lambda q: lib.expand(q, limit=50), [(q,) for q in playlists[: max(20, reps // 4)]]),
    }
    edits = [(playlists[i // 2], track_ids[i // 2], i % 2 == 0) for i in range(2 * max(10, reps // 10))]

    def edit_then_search(name: str, track: str, add: bool) -> None:
        (lib.playlists.add if add else lib.playlists.remove)(name, [track])
        lib.search(f'like:playlist("{name}") limit:50')

    attune["e"] = timed(edit_then_search, edits)

    # numpy brute force over the same in-memory data
    from attune.engine.spaces import space as space_of

    space = space_of(snap, "attr")
    z, sq = space.z, space.sqnorm
    energy, year, pop = snap.numbers("energy"), snap.numbers("year"), snap.numbers("popularity")
    rock = np.zeros(n, dtype=bool)
    index = snap.text_index("genre")
    rock[index.rows[index.codes == int(np.flatnonzero((index.values == "rock").to_numpy())[0])]] = True
    artist_codes = snap.text_index("artist").codes
    ids = snap.frame["track_id"]

    def np_filter():
        m = rock & (energy >= 0.2) & (energy <= 0.4) & (year >= 1990) & (year <= 1999)
        rows = np.flatnonzero(m)
        return rows[np.argsort(-pop[rows], kind="stable")[:50]]

    def np_like_track(t):
        r = int(t[1:])
        d = sq - 2 * (z @ z[r]) + float(z[r] @ z[r])
        d[r] = np.inf
        top = np.argpartition(d, 10)[:10]
        return top[np.argsort(d[top])]

    def np_like_playlist(q):
        k = int(q[1:])
        seeds = np.arange(k * PLAYLIST_SIZE, (k + 1) * PLAYLIST_SIZE)
        c = z[seeds].mean(axis=0)
        d = sq - 2 * (z @ c) + float(c @ c)
        d[~(rock & (year >= 1980))] = np.inf
        d[seeds] = np.inf
        top = np.argpartition(d, 50)[:50]
        return top[np.argsort(d[top])]

    def np_expand(q):
        k = int(q[1:])
        seeds = np.arange(k * PLAYLIST_SIZE, (k + 1) * PLAYLIST_SIZE)
        c = z[seeds].mean(axis=0)
        d = sq - 2 * (z @ c) + float(c @ c)
        same = np.isin(artist_codes, artist_codes[seeds])
        s = same + np.exp(-d / (2 * z.shape[1])) + pop / 200
        s[seeds] = -np.inf
        top = np.argpartition(-s, 50)[:50]
        return top[np.argsort(-s[top])]

    numpy = {
        "a": timed(np_filter, [()] * reps),
        "b": timed(np_like_track, [(t,) for t in track_ids]),
        "c": timed(np_like_playlist, [(q,) for q in playlists]),
        "d": timed(np_expand, [(q,) for q in playlists[: max(20, reps // 4)]]),
    }
    assert ids is not None
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    names = {
        "a": "(a) filter only",
        "b": "(b) like:track",
        "c": "(c) like:playlist + 2 filters",
        "d": "(d) expand",
    }
    print(f"\nlibrary: {n} tracks, {len(snap.playlists)} playlists, attribute space {z.shape[1]}-d")
    print(f"import lancedb: {import_ms:.0f} ms   open: {open_ms:.0f} ms   first query (loads the snapshot): {cold_ms:.0f} ms")
    print(f"peak RSS of this process (all of the above and below): {peak_mb:.0f} MB")
    print(f"(a) through LanceDB on a cold library (open + query): p50 {p(lance_ms, 50):.1f} ms")
    print(f"\n{'query':<32}{'attune p50':>11}{'p99':>8}{'numpy p50':>11}{'p99':>8}{'ratio p50':>11}   (ms)")
    for key, label in names.items():
        a, b = attune[key], numpy[key]
        print(f"{label:<32}{p(a, 50):>11.1f}{p(a, 99):>8.1f}{p(b, 50):>11.1f}{p(b, 99):>8.1f}{p(a, 50) / p(b, 50):>11.2f}")
    e = attune["e"]
    print(f"{'(e) playlist edit + next search':<32}{p(e, 50):>11.1f}{p(e, 99):>8.1f}"
          f"   ({len(e)} edits; ratio to a warm (c)-like search: {p(e, 50) / p(attune['c'], 50):.1f}x)")


if __name__ == "__main__":
    main()
