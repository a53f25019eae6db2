"""Product-quantisation codes for the selective-filter path of a served audio space: how
many of the true ten nearest passing tracks the best R by the codes hold, for the codes
attune keeps (`engine/spaces/pq.py`: codes of the whitened vectors themselves) against
codes of their residuals from coarse cells (IVFADC, Jegou et al. 2011), in the same run.

    .venv/bin/python bench/bench_codes.py [--tracks 1000000] [--queries 30]
    .venv/bin/python bench/bench_codes.py --unfiltered --tracks 4000000 --queries 30

Each candidate kept for re-ranking is one random read of an exact vector on a first pass
(1,000 of them took 30-35 ms of the 1% filter's first pass at 10M tracks), so codes that
hold the true ten in fewer candidates would shorten it, and so does reading the best
candidates in steps until none left could be nearer (`served.rerank`, since 2026-12-03):
the last line of each table is what attune reads that way (how many candidates, p50 and
p90 over the queries, and the share of the true ten it finds). The vectors are the catalogue's
(`bench_catalogue.py`: 200-d, 2,000 clusters of Pareto sizes, noise 0.6, here whitened by
the noise) and two filters pass a random 1% and 10% of them: 1% of 1M is the 1M
benchmark's selective filter (about 10,000 tracks, a few per cluster); 10% of 1M is as
dense as 1% of 10M (about 100,000 tracks, 50 per cluster).

The residual quantiser here is the benchmark's own (coarse k-means, then attune's PQ
trained on the residuals; distances as |x - c|^2 + (|r|^2 + 2 c.r) - 2 x.r with the bracket
stored per vector); attune does not ship it (`bench/README.md` says why).

`--unfiltered` asks whether the codes could answer a query with no filter too, instead of
the IVF_FLAT index whose partitions a first pass reads from disk (about 125 MB a query at
10M): coarse cells (k-means, about sqrt(N) of them) hold the codes in memory, a query ranks
the tracks of its nearest 1/128, 1/64 and 1/32 of the cells on the codes (attune's, then the
residual ones) and reads the best in steps as `served.rerank` does. It prints the share of
the true ten found, how many exact vectors were read (each a random read on a first pass)
and the milliseconds the codes took.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

CLUSTERS, NOISE = 2000, 0.6


def nearest(x: np.ndarray, centres: np.ndarray, chunk: int = 16_384) -> np.ndarray:
    norms = np.einsum("kd,kd->k", centres, centres)
    return np.concatenate([np.argmin(norms - 2.0 * (x[s : s + chunk] @ centres.T), axis=1)
                           for s in range(0, len(x), chunk)])


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 15) -> np.ndarray:
    centres = x[rng.choice(len(x), k, replace=False)].copy()
    for _ in range(iterations):
        cell = nearest(x, centres)
        counts = np.bincount(cell, minlength=k)
        sums = np.zeros((k, x.shape[1]))
        np.add.at(sums, cell, x)
        full = counts > 0
        centres[full] = (sums[full] / counts[full, None]).astype(np.float32)
    return centres


class Residual:
    """Coarse cells, then attune's PQ on what is left of each vector."""

    def __init__(self, sample: np.ndarray, cells: int, rng: np.random.Generator) -> None:
        from attune.engine.spaces.pq import train

        self.cells = kmeans(sample, cells, rng)
        self.pq = train(sample - self.cells[nearest(sample, self.cells)])

    def encode(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cell = nearest(z, self.cells)
        codes = self.pq.encode(z - self.cells[cell])
        m = self.pq.subspaces
        r = self.pq.centres[np.arange(m)[None, :], codes].reshape(len(z), -1)[:, : z.shape[1]]
        return codes, cell, np.einsum("ij,ij->i", r, r) + 2.0 * np.einsum("ij,ij->i", self.cells[cell], r)

    def distances(self, x: np.ndarray, coded) -> np.ndarray:
        codes, cell, term = coded
        parts = self.pq._slices(x[None, :])[0]
        inner = np.einsum("mkd,md->mk", self.pq.centres, parts)
        by_slice = np.ascontiguousarray(codes.T)
        d = np.einsum("kd,kd->k", self.cells - x, self.cells - x)[cell] + term
        for j in range(self.pq.subspaces):
            d -= 2.0 * inner[j].take(by_slice[j])
        return d


def vectors(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """The catalogue's clustered vectors, whitened by their noise."""
    centres = rng.normal(0, 1, (CLUSTERS, d)).astype(np.float32)
    sizes = rng.pareto(1.5, CLUSTERS) + 1
    owner = rng.choice(CLUSTERS, size=n, p=sizes / sizes.sum())
    z = np.empty((n, d), dtype=np.float32)
    for s in range(0, n, 100_000):
        part = owner[s : s + 100_000]
        z[s : s + len(part)] = (centres[part] + rng.normal(0, NOISE, (len(part), d)).astype(np.float32)) / NOISE
    return z


def unfiltered(n: int, queries: int) -> None:
    """Codes held in coarse cells against a query with no filter (see the module's text)."""
    from attune.engine.spaces.pq import train
    from attune.engine.spaces.served import RERANK_MIN, rerank

    rng = np.random.default_rng(0)
    z = vectors(n, 200, rng)
    sample = z[rng.choice(n, 100_000, replace=False)]
    cells = int(round(np.sqrt(n)))
    start = time.perf_counter()
    residual = Residual(sample, cells, rng)
    attune = train(sample[:25_000])
    print(f"{n:,} vectors of 200; {cells:,} cells and both codes trained in {time.perf_counter() - start:.0f} s", flush=True)
    start = time.perf_counter()
    cell = np.empty(n, dtype=np.int64)
    codes = np.empty((n, attune.subspaces), dtype=np.uint8)
    rcodes, rterm = np.empty_like(codes), np.empty(n, dtype=np.float32)
    for s in range(0, n, 200_000):
        rcodes[s : s + 200_000], cell[s : s + 200_000], rterm[s : s + 200_000] = residual.encode(z[s : s + 200_000])
        codes[s : s + 200_000] = attune.encode(z[s : s + 200_000])
    order = np.argsort(cell, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(cell, minlength=cells))])
    print(f"encoded in {time.perf_counter() - start:.0f} s", flush=True)
    norms = np.einsum("ij,ij->i", z, z)
    picks = np.random.default_rng(1).choice(n, queries, replace=False)
    truths = []
    for q in picks:  # a track's vector moved a little: the track itself is one of its ten
        centre = z[q] + np.random.default_rng(q).normal(0, 0.1, 200).astype(np.float32)
        truths.append((centre, set(np.argpartition(norms - 2.0 * (z @ centre), 10)[:10].tolist())))
    print("\nno filter: the nearest cells' tracks ranked on the codes, read in steps (1,000 at most)")
    for name in ("attune's codes", "residual codes"):
        for share in (1 / 128, 1 / 64, 1 / 32):
            probes = max(8, int(np.ceil(cells * share)))
            found, read, took, seen = [], [], [], []
            for centre, truth in truths:
                start = time.perf_counter()
                near = np.argpartition(((residual.cells - centre) ** 2).sum(axis=1), probes)[:probes]
                at = order[np.concatenate([np.arange(bounds[c], bounds[c + 1]) for c in near])]
                if name == "attune's codes":
                    approx = attune.distances(attune.table(centre), codes[at])
                else:
                    approx = residual.distances(centre, (rcodes[at], cell[at], rterm[at])).astype(np.float32)
                best = np.argpartition(approx, RERANK_MIN)[:RERANK_MIN]
                best = best[np.argsort(approx[best], kind="stable")]
                took.append(time.perf_counter() - start)
                rows, dist = rerank(lambda some, best=best, at=at: z[at[best[some]]], centre, 10,
                                    np.arange(len(best)), approx[best], np.zeros(0, dtype=np.float32))
                top = at[best[rows[np.argsort(dist, kind="stable")[:10]]]]
                found.append(len(truth & set(top.tolist())) / 10)
                read.append(len(rows))
                seen.append(len(at))
            print(f"  {name:<15} {probes:>4} of {cells:,} cells ({np.median(seen):>9,.0f} tracks): {np.mean(found):.3f} "
                  f"of the true ten, {np.median(read):,.0f} read p50 ({np.mean(read):,.0f} mean), codes "
                  f"{np.median(took) * 1000:.1f} ms p50", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--unfiltered", action="store_true", help="codes in coarse cells against a query with no filter")
    args = ap.parse_args()
    if args.unfiltered:
        unfiltered(args.tracks, args.queries)
        return
    from attune.engine.spaces.pq import train
    from attune.engine.spaces.served import RERANK_MIN, rerank

    rng = np.random.default_rng(0)
    n, d = args.tracks, 200
    z = vectors(n, d, rng)
    sample = z[rng.choice(n, 50_000, replace=False)]
    start = time.perf_counter()
    quantisers = {"vectors (attune)": train(sample[:25_000])}
    print(f"{n:,} vectors of {d}; attune's codes trained in {time.perf_counter() - start:.0f} s", flush=True)
    for cells in (256, 1024):
        start = time.perf_counter()
        quantisers[f"residuals, {cells:,} cells"] = Residual(sample, cells, rng)
        print(f"residual codes with {cells:,} cells trained in {time.perf_counter() - start:.0f} s", flush=True)
    kept = (100, 200, 300, 500, 1000)
    for share in (0.01, 0.10):
        passing = np.flatnonzero(rng.random(n) < share)
        zp = z[passing]
        coded = {name: q.encode(zp) for name, q in quantisers.items()}
        held = {name: {r: [] for r in kept} for name in quantisers}
        stepped, read = [], []
        for q in rng.choice(n, args.queries, replace=False):
            exact = ((zp - z[q]) ** 2).sum(axis=1)
            exact[passing == q] = np.inf
            truth = set(np.argpartition(exact, 10)[:10].tolist())
            for name, quantiser in quantisers.items():
                if isinstance(quantiser, Residual):
                    approx = quantiser.distances(z[q], coded[name])
                else:
                    approx = quantiser.distances(quantiser.table(z[q]), coded[name])
                for r in kept:
                    held[name][r].append(len(truth & set(np.argpartition(approx, r)[:r].tolist())) / 10)
                if name == "vectors (attune)":
                    best = np.argpartition(approx, RERANK_MIN)[:RERANK_MIN]
                    best = best[np.argsort(approx[best], kind="stable")]
                    rows, d = rerank(lambda at: zp[at], z[q], 10, best, approx[best], np.zeros(0, dtype=np.float32))
                    found = rows[np.argsort(d, kind="stable")[:10]]
                    stepped.append(len(truth & set(found.tolist())) / 10)
                    read.append(len(rows))
        print(f"\na filter passing {share:.0%} ({len(passing):,} tracks): share of the true ten among the best R by the codes")
        print("  codes of" + " " * 19 + "".join(f"R={r:<7,}" for r in kept))
        for name in quantisers:
            print(f"  {name:<26} " + "".join(f"{np.mean(held[name][r]):<9.3f}" for r in kept))
        print(f"  attune's codes read in steps: {np.percentile(read, 50):,.0f} candidates p50, "
              f"{np.percentile(read, 90):,.0f} p90, {np.mean(read):,.0f} mean; {np.mean(stepped):.3f} of the true ten")


if __name__ == "__main__":
    main()
