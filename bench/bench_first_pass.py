"""A first pass over the catalogue's audio index: one of Lance's pools as attune sizes it
(`engine/storage/quickimport.py`) against Lance's own default, in the same run.

    sudo .venv/bin/python bench/bench_first_pass.py [--pool cpu|io|warm] [--library bench/.cache/catalogue-10000000-200] [--rounds 4] [--seed 1000]

--pool cpu (default): the CPU pool, at least 8 threads, against one thread per core.
--pool io: Lance's I/O pool (how many reads it has in flight, LANCE_IO_THREADS), 64 against
its 8 for a local disk (attune leaves it at Lance's default: no gain measured).
--pool rerank: not a pool: under the 1% filter, the best candidates by the codes read in
steps until none left could be nearer (`served.rerank`, attune's) against all 1,000 read at
once (the code before 2026-12-03, fifth session).
--pool warm: not a pool: `Library.warm()` (what `attune serve` runs at start, which reads
the served indexes through into the page cache when they fit) after the page cache is
dropped and before the queries, against no warm; prints the warm's seconds.

Needs the catalogue `bench_catalogue.py` builds, and root: each measurement is a fresh
process that opens the library (4 GB budget), answers one audio-space query, drops the
page cache (`/proc/sys/vm/drop_caches`), then answers 15 audio-space likes and 15 under a
1% filter on new seeds: what a query costs when the IVF partitions it reads are not in
memory; then the 15 audio-space likes again (`audio_again`: their pages cached). The two
pool sizes alternate (ABBA), each run on new seeds.

Before the runs it measures the disk under the audio space's table (direct reads, no page
cache): 4 KiB reads at random places with 1, 8 and 32 in flight (what re-ranking on exact
vectors costs a vector) and 2.5 MiB reads (about one IVF partition at 10M) - the floor
under a first pass on this machine.
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


def disk(path: str, seed: int = 0) -> list[str]:
    """Direct (O_DIRECT) reads at random places of the space table's largest data file."""
    import mmap
    from concurrent.futures import ThreadPoolExecutor

    files = sorted(Path(path).glob("space_audio.lance/data/*.lance"), key=lambda f: f.stat().st_size)
    if not files:
        return ["no space_audio table to read"]
    fd = os.open(files[-1], os.O_RDONLY | os.O_DIRECT)
    try:
        size = os.fstat(fd).st_size
        rng = np.random.default_rng(seed)
        lines = []
        for block, count in ((4096, 3000), (2_621_440, 120)):
            for depth in (1, 8, 32):
                places = rng.integers(0, (size - block) // 4096, count) * 4096

                def read(part: np.ndarray, block: int = block) -> None:
                    buf = mmap.mmap(-1, block)  # page-aligned, as O_DIRECT needs
                    for at in part:
                        os.preadv(fd, [buf], int(at))

                start = time.perf_counter()
                with ThreadPoolExecutor(depth) as pool:
                    list(pool.map(read, np.array_split(places, depth)))
                took = time.perf_counter() - start
                lines.append(f"{block // 1024:>5} KiB reads, {depth:2d} in flight: {count / took:8,.0f} a second, "
                             f"{count * block / took / 1e6:6,.0f} MB/s")
        return lines
    finally:
        os.close(fd)


def once(path: str, seed: int, warm: bool = False) -> dict[str, float]:
    """One fresh process's first-pass p50s (ms), run in the child; `warm`: Library.warm()
    after the page cache is dropped."""
    from attune.engine import Library

    lib = Library.open(path, memory_budget="4GB")
    n = len(lib.snapshot())
    ids = [f"c{i:08d}" for i in np.random.default_rng(seed).integers(0, n, 31)]
    lib.search(f'like:track("{ids[0]}") in:audio limit:10')  # the index's metadata and row map loaded
    subprocess.run("sync; echo 3 > /proc/sys/vm/drop_caches", shell=True, check=True)
    out = {}
    if warm:
        start = time.perf_counter()
        lib.warm()
        out["warm_s"] = time.perf_counter() - start
    for name, seeds, extra in (("audio", ids[1:16], ""), ("audio_1pct", ids[16:], " popularity:42..42")):
        times = []
        for t in seeds:
            start = time.perf_counter()
            lib.search(f'like:track("{t}"){extra} in:audio limit:10')
            times.append((time.perf_counter() - start) * 1000)
        out[name] = float(np.percentile(times, 50))
        out[name + "_p90"] = float(np.percentile(times, 90))
    times = []
    for t in ids[1:16]:  # the same audio-space likes again, their pages now cached
        start = time.perf_counter()
        lib.search(f'like:track("{t}") in:audio limit:10')
        times.append((time.perf_counter() - start) * 1000)
    out["audio_again"] = float(np.percentile(times, 50))
    return out


def files_note(path: str) -> str:
    files = list(Path(path).glob("space_audio.lance/data/*.lance"))
    return f"{len(files)} data files, {sum(f.stat().st_size for f in files) / 1e9:.1f} GB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", default=str(HERE / ".cache" / "catalogue-10000000-200"))
    ap.add_argument("--pool", choices=("cpu", "io", "warm", "rerank"), default="cpu",
                    help="which of Lance's pools to compare (or warm, or rerank)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1000, help="the first run's seeds; use new ones each time")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_first_pass.py drops the page cache: run it as root")
    if not Path(args.library).exists():
        sys.exit(f"no catalogue at {args.library}: run bench/bench_catalogue.py first")
    from attune.engine.storage.quickimport import LANCE_THREADS

    cores = os.cpu_count() or 1
    if args.pool == "cpu":
        variable = "LANCE_CPU_THREADS"
        pools = {f"attune ({max(cores, LANCE_THREADS)} threads)": None, f"one per core ({cores})": str(cores)}
    elif args.pool == "io":
        variable = "LANCE_IO_THREADS"
        pools = {"64 reads": "64", "Lance's local default (8)": "8"}
    elif args.pool == "rerank":
        variable = "ATTUNE_BENCH_RERANK_FIRST"
        pools = {"in steps (attune)": None, "1,000 at once (before)": "1000"}
    else:
        variable = "ATTUNE_BENCH_WARM"
        pools = {"warmed": "1", "not warmed": "0"}
    code = (f"import sys, json; sys.path.insert(0, {str(HERE)!r}); import os, bench_first_pass as b; "
            "import attune.engine.spaces.served as s; "
            "s.RERANK_FIRST = int(os.environ.get('ATTUNE_BENCH_RERANK_FIRST', s.RERANK_FIRST)); "
            "print(json.dumps(b.once(sys.argv[1], int(sys.argv[2]), os.environ.get('ATTUNE_BENCH_WARM') == '1')))")
    print(f"the disk under {args.library} (direct reads, {files_note(args.library)}):")
    for line in disk(args.library, args.seed):
        print("  " + line, flush=True)
    got: dict[str, list[dict]] = {name: [] for name in pools}
    for r in range(args.rounds):
        # Each run on seeds of its own, in the order ABBA...: a virtual disk's host may keep
        # what a run read, which would favour whichever ran second on the same seeds.
        order = list(pools.items()) if r % 2 == 0 else list(pools.items())[::-1]
        for arm, (name, threads) in enumerate(order):
            env = {k: v for k, v in os.environ.items() if k != variable}
            if threads:
                env[variable] = threads
            done = subprocess.run([sys.executable, "-c", code, args.library, str(args.seed + 2 * r + arm)], env=env, capture_output=True,
                                  text=True, check=True)
            got[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"  round {r + 1} {name}: " + ", ".join(f"{k} {v:.1f} {'s' if k.endswith('_s') else 'ms'}" for k, v in got[name][-1].items()), flush=True)
    print(f"\nfirst pass, page cache dropped, median over {args.rounds} rounds of each round's p50 (ms)")
    base = list(pools)[1]
    for kind in ("audio", "audio_p90", "audio_1pct", "audio_1pct_p90", "audio_again") + (("warm_s",) if args.pool == "warm" else ()):
        row = {name: statistics.median(g.get(kind, 0.0) for g in runs) for name, runs in got.items()}
        print(f"  {kind:<16} " + "  ".join(f"{name} {v:7.1f}" for name, v in row.items())
              + (f"   ratio {row[list(pools)[0]] / row[base]:.2f}x" if row[base] else ""))


if __name__ == "__main__":
    main()
