"""Vector indexes in LanceDB for the audio space: build time, latency and recall@10 against an
exact scan, with and without a 1% prefilter. Groundwork for the catalogue issue (16): the
index type and its settings are chosen from these figures, not from defaults.

    .venv/bin/python bench/bench_ann.py [--rows 1000000] [--dim 200] [--queries 100] [--hnsw]
        [--only IVF_FLAT,IVF_SQ] [--cold] [--float16] [--partitions 1024,4096] [--index-cache-mb 200]
        [--space bench/.cache/catalogue-1000000-200] [--refine 5,10,20]

Data: N clustered unit vectors (2,000 Gaussian clusters of random sizes, as embeddings of
a catalogue cluster by artist and style) with an integer `bucket` column 0..99 (bucket = 0
is the 1% filter), written once into bench/.cache/ann-N-D. Queries are vectors of the
table perturbed a little (a "more like this" of a track in the library). The exact answer
is numpy's full scan (cosine, the same as the engine's whitened dot products up to scale).
Each index is built on a copy of the table, so the builds do not see each other.
`--float16` also builds each index over the vectors stored as float16 (half the bytes a
query reads); `--partitions` tries other partition counts; `--index-cache-mb` gives LanceDB's
index cache the size a budgeted library gives it (a fifth of the budget), so partitions not
held are read again, as in a library larger than its budget.
`--space LIBRARY` takes the vectors instead from a library's served audio space (the
whitened vectors `attune optimize` wrote into `space_audio`, e.g. bench_catalogue.py's
library): distances are then L2, as the engine's, each query is a track's own vector and
that track is left out of the answer and the truth, as in `like:track(ID) in:audio`.
`--refine` sets the refine factors tried for IVF_SQ.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def generate(path: Path, n: int, d: int, seed: int = 0) -> None:
    import lancedb
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (2000, d)).astype(np.float32)
    sizes = rng.pareto(1.5, 2000) + 1
    owner = rng.choice(2000, size=n, p=sizes / sizes.sum())
    db = lancedb.connect(path)
    table = None
    for start in range(0, n, 200_000):
        idx = np.arange(start, min(n, start + 200_000))
        x = centres[owner[idx]] + rng.normal(0, 0.6, (len(idx), d)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        batch = pa.table({"id": pa.array(idx, pa.int64()), "bucket": pa.array(idx % 100, pa.int32()),
                          "vector": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), d)})
        table = db.create_table("v", batch) if table is None else table
        if start:
            table.add(batch)


def from_space(path: Path, library: Path) -> None:
    """Copy a library's whitened audio space (`space_audio`: track_id, z) into a table of the
    same shape as `generate`'s (the row number as id, bucket = row % 100)."""
    import lancedb
    import pyarrow as pa

    source = lancedb.connect(library).open_table("space_audio")
    db = lancedb.connect(path)
    table, start = None, 0
    for batch in source.search().select(["z"]).limit(source.count_rows()).to_batches(200_000):
        idx = np.arange(start, start + batch.num_rows)
        start += batch.num_rows
        out = pa.table({"id": pa.array(idx, pa.int64()), "bucket": pa.array(idx % 100, pa.int32()),
                        "vector": batch.column(0).cast(pa.list_(pa.float32(), batch.column(0).type.list_size))})
        if table is None:
            table = db.create_table("v", out)
        else:
            table.add(out)


def exact(x: np.ndarray, q: np.ndarray, k: int, mask: np.ndarray | None = None, metric: str = "cosine",
          norms: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    scores = x @ q if metric == "cosine" else 2 * (x @ q) - norms
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top])], time.perf_counter() - t0


def main() -> None:
    import warnings

    os.environ.setdefault("LANCE_LOG", "error")  # lance's deprecation chatter about _distance
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    import lancedb
    import pyarrow as pa

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=200)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--hnsw", action="store_true", help="also build IVF_HNSW_SQ (minutes)")
    ap.add_argument("--only", default="", help="comma-separated index types to build (default: all)")
    ap.add_argument("--cold", action="store_true",
                    help="a first pass: every query on a new connection and with the page cache "
                         "dropped (needs root: writes /proc/sys/vm/drop_caches)")
    ap.add_argument("--float16", action="store_true", help="also store the vectors as float16")
    ap.add_argument("--partitions", default="1024", help="comma-separated partition counts (default 1024)")
    ap.add_argument("--space", type=Path, help="a library whose served audio space gives the vectors (L2)")
    ap.add_argument("--refine", default="2,5", help="comma-separated refine factors for IVF_SQ (default 2,5)")
    ap.add_argument("--index-cache-mb", type=int, default=0,
                    help="LanceDB's index cache in MB (default: LanceDB's own, 6 GB)")
    args = ap.parse_args()
    session = (lancedb.Session(index_cache_size_bytes=args.index_cache_mb << 20) if args.index_cache_mb else None)
    metric = "l2" if args.space else "cosine"
    if args.space:
        cache = ROOT / "bench" / ".cache" / f"ann-space-{args.space.resolve().name}"
        if not cache.exists():
            t0 = time.perf_counter()
            from_space(cache, args.space)
            print(f"copied {args.space}'s audio space in {time.perf_counter() - t0:.0f} s")
    else:
        cache = ROOT / "bench" / ".cache" / f"ann-{args.rows}-{args.dim}"
        if not cache.exists():
            t0 = time.perf_counter()
            generate(cache, args.rows, args.dim)
            print(f"generated {args.rows:,} x {args.dim} in {time.perf_counter() - t0:.0f} s")
    base = lancedb.connect(cache).open_table("v")
    data = base.to_arrow()
    args.dim = data.schema.field("vector").type.list_size
    x = np.asarray(data["vector"].combine_chunks().values.to_numpy()).reshape(len(data), args.dim)
    ids = data["id"].to_numpy()
    bucket = data["bucket"].to_numpy()
    rng = np.random.default_rng(1)
    picks = rng.choice(len(x), args.queries, replace=False)
    if args.space:  # a track's own vector; the track itself is no answer
        queries = x[picks].copy()
        norms = (x.astype(np.float64) ** 2).sum(1)
    else:
        queries = x[picks] + rng.normal(0, 0.02, (args.queries, args.dim)).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        norms = None
    # with --space each query's own row is dropped from the truth and the answers (k + 1 asked)
    k = 11 if args.space else 10
    own = ids[picks] if args.space else [None] * len(picks)
    truth, truth_f, t_exact, t_exact_f = [], [], [], []
    mask = bucket == 0
    for q, me in zip(queries, own):
        top, t = exact(x, q, k, metric=metric, norms=norms)
        truth.append(set([i for i in ids[top] if i != me][:10]))
        t_exact.append(t)
        top, t = exact(x, q, k, mask, metric=metric, norms=norms)
        truth_f.append(set([i for i in ids[top] if i != me][:10]))
        t_exact_f.append(t)
    print(f"exact numpy scan: p50 {np.median(t_exact) * 1000:.1f} ms (1% filter: {np.median(t_exact_f) * 1000:.1f} ms)")

    # (name, index settings, nprobes tried, refine factors tried); nprobes scale with the partitions
    configs = []
    for parts in (int(p) for p in args.partitions.split(",")):
        scale = parts / 1024
        def probes(*n: int, scale=scale) -> list[int]:
            return [max(1, round(p * scale)) for p in n]
        configs += [("IVF_FLAT", dict(index_type="IVF_FLAT", num_partitions=parts), probes(8, 16, 32), [None]),
                    ("IVF_PQ", dict(index_type="IVF_PQ", num_partitions=parts, num_sub_vectors=args.dim // 8),
                     probes(16, 32), [None, 4, 20, 50]),
                    ("IVF_SQ", dict(index_type="IVF_SQ", num_partitions=parts), probes(16, 32),
                     [None] + [int(r) for r in args.refine.split(",")]),
                    ("IVF_RQ", dict(index_type="IVF_RQ", num_partitions=parts), probes(16, 32), [None, 10, 30])]
    if args.hnsw:
        configs.append(("IVF_HNSW_SQ", dict(index_type="IVF_HNSW_SQ", num_partitions=64), [4, 8], [None]))
    if args.only:
        configs = [c for c in configs if c[0] in args.only.split(",")]

    def drop_page_cache() -> None:
        if args.cold:
            os.sync()
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
    print(f"\n{'index':<12} {'vectors':>7} {'parts':>5} {'build s':>8} {'nprobes':>7} {'refine':>6} {'p50 ms':>7} {'p99 ms':>7} {'recall@10':>9}   "
          f"{'1% p50':>7} {'recall':>6}")
    runs = [(c, t) for c in configs for t in (["float32", "float16"] if args.float16 else ["float32"])]
    for (name, config, probes, refines), vectors in runs:
        work = Path(tempfile.mkdtemp(prefix="attune-ann-"))
        try:
            if vectors == "float32":
                shutil.copytree(cache, work / "db")
            else:
                half = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel().astype(np.float16)), args.dim)
                lancedb.connect(work / "db").create_table("v", data.set_column(data.schema.get_field_index("vector"),
                                                                               "vector", half))
            table = lancedb.connect(work / "db", session=session).open_table("v")
            t0 = time.perf_counter()
            table.create_index(metric=metric, vector_column_name="vector", **config)
            build = time.perf_counter() - t0
            for nprobes in probes:
                for refine in refines:
                    lat, lat_f, rec, rec_f = [], [], [], []
                    for q, want, want_f, me in zip(queries, truth, truth_f, own):
                        def query(where=None, q=q, me=me):
                            s = table.search(q, vector_column_name="vector").metric(metric).nprobes(nprobes).limit(k)
                            if refine:
                                s = s.refine_factor(refine)
                            if where:
                                s = s.where(where, prefilter=True)
                            got = s.select(["id"]).to_arrow()["id"].to_numpy()
                            return [i for i in got if i != me][:10]

                        if args.cold:
                            # A new connection (LanceDB's partition cache empty) that has answered
                            # one other query (the index's centroids loaded), then no page cached.
                            table = lancedb.connect(work / "db", session=session).open_table("v")
                            query(q=-q)
                            query("bucket = 0", q=-q)
                        drop_page_cache()
                        t0 = time.perf_counter()
                        got = query()
                        lat.append(time.perf_counter() - t0)
                        rec.append(len(set(got) & want) / 10)
                        drop_page_cache()
                        t0 = time.perf_counter()
                        got = query("bucket = 0")
                        lat_f.append(time.perf_counter() - t0)
                        rec_f.append(len(set(got) & want_f) / 10)
                    print(f"{name:<12} {vectors:>7} {config['num_partitions']:5d} {build:8.0f} {nprobes:7d} {refine or '-':>6} {np.median(lat) * 1000:7.1f} "
                          f"{np.percentile(lat, 99) * 1000:7.1f} {np.mean(rec):9.3f}   {np.median(lat_f) * 1000:7.1f} "
                          f"{np.mean(rec_f):6.3f}")
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
