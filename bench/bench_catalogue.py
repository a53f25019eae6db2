"""A catalogue-sized library under a memory budget: open time, memory, and the latency and
recall of filter, attribute-space and audio-space queries.

    python bench/bench_catalogue.py [--tracks 10000000] [--dim 200] [--budget 4GB] [--queries 50] [--s3]

The library (attributes, two genres, a 200-d clustered audio embedding per track, 2,000
playlists of 50 tracks drawn from the embedding's clusters) is generated once into
bench/.cache/catalogue-N-D, in batches, in a child process; `attune optimize` (the audio
index and the scalar indexes) runs there too, timed. Then this process opens the library
with the budget and measures:

  open      Library.open() and the first snapshot (lazy: the row count only)
  (f)       filter only:   genre:=rock energy:0.2..0.4 year:1990..1999 limit:50
  (t)       attribute-space like:   like:track(ID) limit:10
  (a)       audio-space like:       like:track(ID) in:audio limit:10
  (a1)      audio-space like under a 1% filter:  ... popularity:42..42 in:audio limit:10
  (c)       co-listen like:         like:track(ID) in:colisten limit:10
  expand    lib.expand(P, limit=50) on up to 11 of the playlists (with discovery on)

Recall@10 of (a), (a1) and (c) is against an exact scan of the same whitened vectors (the
co-listen table's, an estimate's residual included), with the same filter and the seed left out, computed by a child process that streams the space
table (so its memory is not counted here). Peak memory is this process's maximum resident
set size, read before anything else is loaded for the recall check.

--s3 runs the same measurements a second time (--s3-queries of each kind, 20 by default)
with the library copied to a local S3 server started here and prints each figure's ratio
to local disk. The server is s3rver (npm; installed into bench/.cache on first use; it
serves objects from files, a range read in about 3 ms) unless --s3-server moto (PyPI; it
holds every object in memory and answers one request at a time, so a query takes seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
GENRES = ["rock", "pop", "jazz", "blues", "country", "electronic", "hip hop", "r&b", "soul", "folk", "punk", "metal",
          "reggae", "latin", "classical", "funk", "disco", "house", "techno", "ambient", "indie", "gospel", "trap", "edm"]
CLUSTERS, N_PLAYLISTS, PLAYLIST_SIZE, BATCH = 2000, 2000, 50, 200_000


def generate(path: Path, n: int, d: int, seed: int = 0) -> dict:
    """Write the library in batches and optimize it; returns the timings."""
    import pyarrow as pa
    from attune.engine import Library
    from attune.engine.storage import TRACKS_SCHEMA, now

    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (CLUSTERS, d)).astype(np.float32)
    sizes = rng.pareto(1.5, CLUSTERS) + 1
    lib = Library.open(path)
    stamp = now()
    t0 = time.perf_counter()
    owner_all = rng.choice(CLUSTERS, size=n, p=sizes / sizes.sum())
    for start in range(0, n, BATCH):
        idx = np.arange(start, min(n, start + BATCH))
        owner = owner_all[idx]
        x = centres[owner] + rng.normal(0, 0.6, (len(idx), d)).astype(np.float32)
        attrs = rng.random((len(idx), 6))
        g1, g2 = rng.integers(0, len(GENRES), len(idx)), rng.integers(0, len(GENRES), len(idx))
        table = pa.table({
            "track_id": [f"c{i:08d}" for i in idx],
            "source": ["bench"] * len(idx),
            "title": [f"Track {i}" for i in idx],
            "artist": [f"Artist {o}-{i % 37}" for i, o in zip(idx, owner)],
            "album": [f"Album {i // 12}" for i in idx],
            "year": rng.integers(1960, 2025, len(idx)).astype(np.int32),
            "length": rng.uniform(120, 420, len(idx)),
            "popularity": rng.integers(0, 101, len(idx)).astype(float),
            "genres": [[GENRES[a]] if a == b else [GENRES[a], GENRES[b]] for a, b in zip(g1, g2)],
            "tags": [[] for _ in idx],
            "energy": attrs[:, 0], "valence": attrs[:, 1], "vocalness": attrs[:, 2],
            "danceability": attrs[:, 3], "acousticness": attrs[:, 4], "tempo": 60 + 140 * attrs[:, 5],
            "embedding": pa.ListArray.from_arrays(pa.array(np.arange(len(idx) + 1, dtype=np.int32) * d),
                                                  pa.array(x.ravel(), pa.float32())),
            "updated_at": [stamp] * len(idx),
        })
        for f in TRACKS_SCHEMA:
            if f.name not in table.column_names:
                table = table.append_column(f, pa.nulls(len(idx), f.type))
        lib.store.tables["tracks"].add(table.select(TRACKS_SCHEMA.names).cast(TRACKS_SCHEMA))
        print(f"  {min(n, start + BATCH):,} tracks written", flush=True)
    written = time.perf_counter() - t0
    by_cluster: dict[int, list[int]] = {}
    for i, o in enumerate(owner_all[: min(n, 2_000_000)]):
        by_cluster.setdefault(int(o), []).append(i)
    playlists = {}
    clusters = [c for c, rows in by_cluster.items() if len(rows) >= PLAYLIST_SIZE]
    for k in range(N_PLAYLISTS):
        rows = rng.choice(by_cluster[clusters[k % len(clusters)]], PLAYLIST_SIZE, replace=False)
        playlists[f"bench:{k}"] = {"name": f"P{k:04d}", "track_ids": {f"c{i:08d}": None for i in rows}, "genres": {}}
    lib.playlists.upsert_imported(playlists, source="bench")
    t0 = time.perf_counter()
    lib.store.tables["tracks"].create_scalar_index("track_id")
    done = Library.open(path, memory_budget="4GB").optimize()  # (a lazy snapshot: the catalogue is read in batches)
    return {"write_s": written, "optimize_s": time.perf_counter() - t0, "audio_index_s": done["audio"]["seconds"],
            "scalar_index_s": done["scalar"]["seconds"], "partitions": done["audio"]["partitions"],
            "colisten_index_s": done["colisten"]["seconds"], "colisten_partitions": done["colisten"]["partitions"]}


def add_colisten(path: Path) -> dict:
    """`attune optimize` on a catalogue generated before the co-listen space had an index:
    it learns the space and writes and indexes every track's position (timed)."""
    from attune.engine import Library

    t0 = time.perf_counter()
    done = Library.open(path, memory_budget="4GB").optimize()  # (a lazy snapshot: the catalogue is read in batches)
    return {"colisten_optimize_s": time.perf_counter() - t0, "colisten_index_s": done["colisten"]["seconds"],
            "colisten_partitions": done["colisten"]["partitions"]}


def exact_truth(path: str, seeds: list[str], filters: list[bool], k: int, space_name: str = "audio") -> list[list[str]]:
    """Exact top-k ids per seed (seed excluded; popularity == 42 where `filters`), streamed
    over the space table (runs in a child process). The co-listen space is its indexed
    table of estimates and the table of learned positions kept beside it; a row's last
    coordinate is its residual, 0 in a centre."""
    import lancedb
    import polars as pl
    from attune.engine.storage.place import place_of

    db = place_of(path).connect()
    tables = [db.open_table(f"space_{space_name}")] + ([db.open_table("space_colisten_exact")] if space_name == "colisten" else [])
    tracks = db.open_table("tracks")
    pop = pl.from_arrow(tracks.search().select(["track_id", "popularity"]).limit(tracks.count_rows()).to_arrow())
    pop42 = set(pop.filter(pl.col("popularity") == 42)["track_id"].to_list())
    del pop, lancedb
    z_seed: dict[str, np.ndarray] = {}
    best: list[list[tuple[float, str]]] = [[] for _ in seeds]
    def batches():
        for space in tables:
            yield from space.search().select(["track_id", "z"]).limit(space.count_rows()).to_batches(262_144)

    for batch in batches():  # first pass: the seeds' vectors
        ids = batch.column(0).to_pylist()
        for s in set(seeds) & set(ids):
            z_seed[s] = np.asarray(batch.column(1)[ids.index(s)].as_py(), dtype=np.float32)
    centres = np.stack([z_seed[s] for s in seeds]).astype(np.float64)  # (float64: no cancellation in |z|^2 - 2 c.z + |c|^2)
    if space_name == "colisten":
        centres[:, -1] = 0.0
    for batch in batches():
        ids = np.asarray(batch.column(0).to_pylist(), dtype=object)
        z = np.asarray(batch.column(1).values.to_numpy(), dtype=np.float64).reshape(len(ids), -1)
        d = (z * z).sum(1)[None, :] - 2 * centres @ z.T + (centres * centres).sum(1)[:, None]
        in42 = np.fromiter((t in pop42 for t in ids), bool, len(ids))
        for q, seed in enumerate(seeds):
            row = np.where(in42 | (not filters[q]), d[q], np.inf)
            row[ids == seed] = np.inf
            top = np.argpartition(row, k)[:k]
            best[q] = sorted(best[q] + [(float(row[i]), str(ids[i])) for i in top if np.isfinite(row[i])])[:k]
    return [[t for _, t in b] for b in best]


def measure(path: str, args, label: str) -> dict:
    from attune.engine import Library

    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    lib = Library.open(path, memory_budget=args.budget)
    snap = lib.snapshot()
    open_s = time.perf_counter() - t0
    n = len(snap)
    ids = [f"c{i:08d}" for i in rng.integers(0, n, args.queries)]
    out: dict = {"label": label, "tracks": n, "open_s": open_s}

    def run(name: str, queries: list[str]) -> list:
        times, results = [], []
        for q in queries:
            t = time.perf_counter()
            r = lib.search(q)
            times.append((time.perf_counter() - t) * 1000)
            results.append(r)
        out[name] = {"first_ms": times[0], "p50_ms": float(np.percentile(times[1:], 50)),
                     "p99_ms": float(np.percentile(times[1:], 99))}
        print(f"  ({label}) {name}: first {times[0]:.0f} ms, p50 {out[name]['p50_ms']:.1f} ms", flush=True)
        return results

    run("filter", ["genre:=rock energy:0.2..0.4 year:1990..1999 limit:50"] * (args.queries + 1))
    run("attr_like", [f'like:track("{ids[0]}") limit:10'] + [f'like:track("{t}") limit:10' for t in ids])
    audio = run("audio_like", [f'like:track("{ids[0]}") in:audio limit:10'] + [f'like:track("{t}") in:audio limit:10' for t in ids])
    audio1 = run("audio_like_1pct", [f'like:track("{ids[0]}") popularity:42..42 in:audio limit:10']
                 + [f'like:track("{t}") popularity:42..42 in:audio limit:10' for t in ids])
    colisten = run("colisten_like", [f'like:track("{ids[0]}") in:colisten limit:10']
                   + [f'like:track("{t}") in:colisten limit:10' for t in ids])
    # The same audio and co-listen queries again: the IVF partitions and vectors they read are now in the
    # page cache, as they are for a server that has answered many queries (the first pass
    # reads most of them from disk: 50 partitions of about 2.5 MB a query at 10M).
    for name in ("audio_like", "audio_like_1pct", "colisten_like"):
        filtered = " popularity:42..42" if name.endswith("1pct") else ""
        space = "colisten" if name.startswith("colisten") else "audio"
        again = []
        for t in ids:
            start = time.perf_counter()
            lib.search(f'like:track("{t}"){filtered} in:{space} limit:10')
            again.append((time.perf_counter() - start) * 1000)
        out[name]["again_p50_ms"] = float(np.percentile(again, 50))
        print(f"  ({label}) {name} again (pages cached): p50 {out[name]['again_p50_ms']:.1f} ms", flush=True)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the searches'
    names = sorted(snap.playlists)
    picked = [names[i] for i in rng.integers(0, len(names), min(args.queries, 10) + 1)] if names else []
    if picked:
        times = []
        for name in picked:
            t = time.perf_counter()
            lib.expand(name, limit=50)
            times.append((time.perf_counter() - t) * 1000)
        out["expand"] = {"first_ms": times[0], "p50_ms": float(np.percentile(times[1:], 50)),
                         "p99_ms": float(np.percentile(times[1:], 99))}
        print(f"  ({label}) expand: first {times[0]:.0f} ms, p50 {out['expand']['p50_ms']:.1f} ms", flush=True)
    out["peak_rss_expand_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["served"] = audio[-1].plan.served is not None
    out["how"] = {"audio_like": audio[-1].plan.served_how, "audio_like_1pct": audio1[-1].plan.served_how,
                  "colisten_like": colisten[-1].plan.served_how or "in memory"}
    out["budget"] = {k: v for k, v in lib.budget(snap).items() if k != "index"}
    out["_got"] = [[r.frame["track_id"].to_list() for r in audio[1:]], [r.frame["track_id"].to_list() for r in audio1[1:]],
                   [r.frame["track_id"].to_list() for r in colisten[1:]]]
    out["_seeds"] = ids
    return out


def recall(path: str, result: dict, env: dict | None = None) -> None:
    seeds = result.pop("_seeds")
    got, got1, got_c = result.pop("_got")
    code = (f"import sys, json; sys.path.insert(0, {str(HERE)!r}); import bench_catalogue as b; "
            "a = json.loads(sys.stdin.read()); "
            "print(json.dumps(b.exact_truth(a['path'], a['seeds'], a['filters'], 10, a['space'])))")

    def truth_of(space_name: str, filters: list[bool], seeds: list[str]) -> list[list[str]]:
        payload = json.dumps({"path": path, "seeds": seeds, "filters": filters, "space": space_name})
        done = subprocess.run([sys.executable, "-c", code], input=payload, capture_output=True, text=True, check=True,
                              env=dict(os.environ, **(env or {})))
        return json.loads(done.stdout.strip().splitlines()[-1])

    def share(got: list[list[str]], truth: list[list[str]]) -> float:
        return float(np.mean([len(set(g) & set(t)) / max(len(t), 1) for g, t in zip(got, truth)]))

    truth = truth_of("audio", [False] * len(seeds) + [True] * len(seeds), seeds + seeds)
    k = len(seeds)
    result["audio_like"]["recall@10"] = share(got, truth[:k])
    result["audio_like_1pct"]["recall@10"] = share(got1, truth[k:])
    result["colisten_like"]["recall@10"] = share(got_c, truth_of("colisten", [False] * len(seeds), seeds))


def report(r: dict) -> None:
    print(f"\n{r['label']}: {r['tracks']:,} tracks, budget {r['budget']['budget'] / 2**30:.1f} GiB; audio space "
          f"{'served from LanceDB' if r['served'] else 'in memory'}"
          f"{' (product-quantisation codes in memory)' if r['budget'].get('pq_codes') else ''}")
    print(f"  open (Library.open + snapshot): {r['open_s']:.2f} s   peak RSS {r['peak_rss_mb']:,.0f} MB"
          + (f" (the searches), {r['peak_rss_expand_mb']:,.0f} MB after the expansions" if "peak_rss_expand_mb" in r else ""))
    print(f"  {'query':<18} {'first ms':>9} {'p50 ms':>8} {'p99 ms':>8} {'recall@10':>9} {'again p50 ms':>13}")
    for name in ("filter", "attr_like", "audio_like", "audio_like_1pct", "colisten_like", "expand"):
        if name not in r:
            continue
        q = r[name]
        rec = f"{q['recall@10']:.3f}" if "recall@10" in q else "-"
        again = f"{q['again_p50_ms']:.1f}" if "again_p50_ms" in q else "-"
        print(f"  {name:<18} {q['first_ms']:9.0f} {q['p50_ms']:8.1f} {q['p99_ms']:8.1f} {rec:>9} {again:>13}")
    print("  (again: the same audio and co-listen queries a second time, their partitions and vectors in the page cache)")
    for name, how in r["how"].items():
        print(f"  {name}: {how}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=10_000_000)
    ap.add_argument("--dim", type=int, default=200)
    ap.add_argument("--budget", default="4GB")
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--s3", action="store_true", help="also measure the library on a local S3 server")
    ap.add_argument("--s3-server", choices=("s3rver", "moto"), default="s3rver",
                    help="s3rver (npm, installed into bench/.cache by this script; serves files from disk) or moto "
                         "(PyPI; holds every object in memory and answers one request at a time: seconds a query)")
    ap.add_argument("--s3-queries", type=int, default=20, help="queries of each kind on S3")
    ap.add_argument("--library", type=Path)
    args = ap.parse_args()
    path = args.library or HERE / ".cache" / f"catalogue-{args.tracks}-{args.dim}"
    built = path / "build.json"
    if not built.exists():
        print(f"generating {args.tracks:,} tracks x {args.dim}-d into {path} (once) ...", flush=True)
        code = (f"import sys, json; sys.path.insert(0, {str(HERE)!r}); import bench_catalogue as b; "
                f"print('TIMES', json.dumps(b.generate(__import__('pathlib').Path({str(path)!r}), {args.tracks}, {args.dim})))")
        done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        times = json.loads([line for line in done.stdout.splitlines() if line.startswith("TIMES")][-1][6:])
        built.write_text(json.dumps(times))
    times = json.loads(built.read_text())
    if "colisten_index_s" not in times:  # a catalogue generated before the co-listen index: add it (once)
        print("learning and indexing the co-listen space (once) ...", flush=True)
        code = (f"import sys, json; sys.path.insert(0, {str(HERE)!r}); import bench_catalogue as b; "
                f"print('TIMES', json.dumps(b.add_colisten(__import__('pathlib').Path({str(path)!r}))))")
        done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        times |= json.loads([line for line in done.stdout.splitlines() if line.startswith("TIMES")][-1][6:])
        built.write_text(json.dumps(times))
    print(f"build (once): tracks written in {times['write_s']:.0f} s; attune optimize {times['optimize_s']:.0f} s "
          f"(audio index {times['audio_index_s']:.0f} s, {times['partitions']} partitions; scalar indexes "
          f"{times['scalar_index_s']:.0f} s); co-listen index {times['colisten_index_s']:.0f} s "
          f"({times['colisten_partitions']} partitions"
          + (f", in an `attune optimize` of {times['colisten_optimize_s']:.0f} s added later)" if "colisten_optimize_s" in times
             else ")"))
    local = measure(str(path), args, "local disk")
    recall(str(path), local)
    report(local)
    if args.s3:
        from attune.engine import Library

        t0 = time.perf_counter()  # opening again in this process: what the S3 open is compared with
        Library.open(path, memory_budget=args.budget).snapshot()
        local["open_warm_s"] = time.perf_counter() - t0
        remote = s3_copy(path, args.s3_server)
        with remote as (uri, env):
            os.environ.update(env)
            args.queries = args.s3_queries
            r = measure(uri, args, f"local S3 server ({args.s3_server})")
            recall(str(path), r)  # the same vectors: the exact scan reads the local copy
            report(r)
        print(f"\n  open in a process that has opened a library before: local disk {local['open_warm_s']:.2f} s, "
              f"S3 {r['open_s']:.2f} s (peak RSS above is this process's, local run included)")
        print("  S3 / local disk: open {:.1f}x; p50 filter {:.1f}x, attr like {:.1f}x, audio like {:.1f}x, 1% audio like {:.1f}x".format(
            r["open_s"] / local["open_warm_s"], *(r[q]["p50_ms"] / local[q]["p50_ms"] for q in ("filter", "attr_like", "audio_like", "audio_like_1pct"))))


class s3_copy:
    """A local S3 server on loopback holding a copy of the library (uploaded file by file):
    s3rver (Node, objects as files on disk, installed from npm into bench/.cache once) or
    moto's server mode."""

    def __init__(self, path: Path, server: str = "s3rver") -> None:
        self.path, self.kind = path, server

    def _start(self, port: int) -> tuple[list[str], dict]:
        if self.kind == "moto":
            return ([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                    {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})
        import shutil
        import tempfile

        home = HERE / ".cache" / "s3rver"
        binary = home / "node_modules" / ".bin" / "s3rver"
        if not binary.exists():
            subprocess.run(["npm", "install", "--prefix", str(home), "s3rver@3.7.1", "--no-audit", "--no-fund"], check=True,
                           capture_output=True)
            # s3rver 3.7.1 lists with a delimiter wrongly: it stops walking one folder under
            # the prefix, so a folder holding only folders (a Lance table: data/, _versions/)
            # is never listed and LanceDB finds no table. Walk every folder under the prefix.
            store = home / "node_modules" / "s3rver" / "lib" / "stores" / "filesystem.js"
            text = store.read_text()
            prune = "dirPath.slice(prefixPath.length).indexOf(delimiterEnc) !== -1"
            assert prune in text, "s3rver changed: check its delimiter listing"
            store.write_text(text.replace(prune, "false"))
        self.data = Path(tempfile.mkdtemp(prefix="s3rver-", dir=HERE / ".cache"))
        self._cleanup = lambda: shutil.rmtree(self.data, ignore_errors=True)
        return ([str(binary), "--directory", str(self.data), "--address", "127.0.0.1", "--port", str(port),
                 "--configure-bucket", "catalogue", "--silent"],
                {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER"})  # s3rver's own credentials

    def __enter__(self):
        import socket

        import obstore
        from obstore.store import from_url

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command, keys = self._start(port)
        self.server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        env = {**keys, "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ALLOW_HTTP": "true"}
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        os.environ.update(env)
        if self.kind == "moto":
            import boto3

            boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"]).create_bucket(Bucket="catalogue")
        store = from_url("s3://catalogue/lib")
        t0 = time.perf_counter()
        size = 0
        for file in self.path.rglob("*"):
            if file.is_file() and ".locks" not in file.parts:
                data = file.read_bytes()
                size += len(data)
                obstore.put(store, str(file.relative_to(self.path)), data)
        print(f"\ncopied {size / 2**20:,.0f} MB to the local S3 server ({self.kind}) in {time.perf_counter() - t0:.0f} s")
        return "s3://catalogue/lib", env

    def __exit__(self, *exc) -> None:
        self.server.terminate()
        self.server.wait(10)
        if self.kind != "moto":
            self._cleanup()


if __name__ == "__main__":
    main()
