"""A first pass over the catalogue's audio index: Lance's CPU pool as attune sizes it
(at least 8 threads, `engine/storage/quickimport.py`) against one thread per core, in the
same run.

    sudo .venv/bin/python bench/bench_first_pass.py [--library bench/.cache/catalogue-10000000-200] [--rounds 4] [--seed 1000]

Needs the catalogue `bench_catalogue.py` builds, and root: each measurement is a fresh
process that opens the library (4 GB budget), answers one audio-space query, drops the
page cache (`/proc/sys/vm/drop_caches`), then answers 15 audio-space likes and 15 under a
1% filter on new seeds: what a query costs when the IVF partitions it reads are not in
memory. The two pool sizes alternate (ABBA), each run on new seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def once(path: str, seed: int) -> dict[str, float]:
    """One fresh process's first-pass p50s (ms), run in the child."""
    from attune.engine import Library

    lib = Library.open(path, memory_budget="4GB")
    n = len(lib.snapshot())
    ids = [f"c{i:08d}" for i in np.random.default_rng(seed).integers(0, n, 31)]
    lib.search(f'like:track("{ids[0]}") in:audio limit:10')  # the index's metadata and row map loaded
    subprocess.run("sync; echo 3 > /proc/sys/vm/drop_caches", shell=True, check=True)
    out = {}
    for name, seeds, extra in (("audio", ids[1:16], ""), ("audio_1pct", ids[16:], " popularity:42..42")):
        times = []
        for t in seeds:
            start = time.perf_counter()
            lib.search(f'like:track("{t}"){extra} in:audio limit:10')
            times.append((time.perf_counter() - start) * 1000)
        out[name] = float(np.percentile(times, 50))
        out[name + "_p90"] = float(np.percentile(times, 90))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", default=str(HERE / ".cache" / "catalogue-10000000-200"))
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1000, help="the first run's seeds; use new ones each time")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_first_pass.py drops the page cache: run it as root")
    if not Path(args.library).exists():
        sys.exit(f"no catalogue at {args.library}: run bench/bench_catalogue.py first")
    from attune.engine.storage.quickimport import LANCE_THREADS

    cores = os.cpu_count() or 1
    pools = {f"attune ({max(cores, LANCE_THREADS)} threads)": None, f"one per core ({cores})": str(cores)}
    code = f"import sys, json; sys.path.insert(0, {str(HERE)!r}); import bench_first_pass as b; print(json.dumps(b.once(sys.argv[1], int(sys.argv[2]))))"
    got: dict[str, list[dict]] = {name: [] for name in pools}
    for r in range(args.rounds):
        # Each run on seeds of its own, in the order ABBA...: a virtual disk's host may keep
        # what a run read, which would favour whichever ran second on the same seeds.
        order = list(pools.items()) if r % 2 == 0 else list(pools.items())[::-1]
        for arm, (name, threads) in enumerate(order):
            env = {k: v for k, v in os.environ.items() if k != "LANCE_CPU_THREADS"}
            if threads:
                env["LANCE_CPU_THREADS"] = threads
            done = subprocess.run([sys.executable, "-c", code, args.library, str(args.seed + 2 * r + arm)], env=env, capture_output=True,
                                  text=True, check=True)
            got[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"  round {r + 1} {name}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in got[name][-1].items()), flush=True)
    print(f"\nfirst pass, page cache dropped, median over {args.rounds} rounds of each round's p50 (ms)")
    base = list(pools)[1]
    for kind in ("audio", "audio_p90", "audio_1pct", "audio_1pct_p90"):
        row = {name: statistics.median(g[kind] for g in runs) for name, runs in got.items()}
        print(f"  {kind:<16} " + "  ".join(f"{name} {v:7.1f}" for name, v in row.items())
              + f"   ratio {row[list(pools)[0]] / row[base]:.2f}x")


if __name__ == "__main__":
    main()
