"""The same queries on the same library with this checkout's code and with an earlier
revision's, in fresh processes, alternating: the p50 of each kind, the ratio, and whether
the two answered alike (track ids and scores to 5 decimals).

    python bench/bench_against.py --library bench/.cache/catalogue-10000000-200 --budget 4GB --against HEAD~2 [--rounds 2] [--queries 30]

The revision is checked out once into bench/.cache/worktrees/REV (git worktree) and
imported through PYTHONPATH ahead of the installed checkout (`git worktree prune` forgets
it once bench/.cache is removed). Each round runs one process
per arm (old, new; then new, old: ABBA over rounds), each opening the library with the
budget, answering one query to load, then every kind's queries on seeds drawn from the
round's own seed, so both arms of a round answer the same queries. Kinds (--kinds):

  attr       like:track(ID) limit:10                           (the attribute space)
  attr_sel   like:track(ID) popularity:42..42 year:1990..1999 limit:10   (about 0.1% pass)
  attr_range like:track(ID) energy:0.2..0.6 limit:10
  filter     genre:=rock energy:0.2..0.4 year:1990..1999 limit:50
  audio      like:track(ID) in:audio limit:10
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

KINDS = {
    "attr": 'like:track("{id}") limit:10',
    "attr_sel": 'like:track("{id}") popularity:42..42 year:1990..1999 limit:10',
    "attr_range": 'like:track("{id}") energy:0.2..0.6 limit:10',
    "filter": "genre:=rock energy:0.2..0.4 year:1990..1999 limit:50",
    "audio": 'like:track("{id}") in:audio limit:10',
}

CHILD = r"""
import hashlib, json, os, sys, time
import numpy as np
import attune.engine
from attune.engine import Library
a = json.loads(sys.argv[1])
lib = Library.open(a["library"], memory_budget=a["budget"])
snap = lib.snapshot()
rows = np.random.default_rng(a["seed"]).integers(0, len(snap), a["queries"] + 1)
ids = snap.gather(rows)["track_id"].to_list()
lib.search(a["kinds"][0][1].format(id=ids[0]))
out = {"code": os.path.realpath(attune.engine.__file__)}
for kind, template in a["kinds"]:
    times, digest = [], hashlib.sha1()
    for t in ids[1:]:
        start = time.perf_counter()
        r = lib.search(template.format(id=t))
        times.append((time.perf_counter() - start) * 1000)
        digest.update(repr((r.frame["track_id"].to_list(), np.round(r.frame["score"].to_numpy(), 5).tolist())).encode())
    out[kind] = {"p50": float(np.percentile(times, 50)), "p90": float(np.percentile(times, 90)), "digest": digest.hexdigest()}
print(json.dumps(out))
"""


def worktree(rev: str) -> Path:
    """A checkout of `rev` importable as `attune` (a folder holding an `attune` link to it)."""
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    place = HERE / ".cache" / "worktrees" / sha
    tree = place / "tree"
    if not tree.exists():
        place.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "worktree", "add", "--detach", "-f", str(tree), sha], cwd=ROOT, check=True, capture_output=True)
    link = place / "path" / "attune"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(tree)
    return link.parent


def run(path: Path | None, args: argparse.Namespace, seed: int) -> dict:
    env = dict(os.environ)
    if path is not None:
        env["PYTHONPATH"] = str(path) + os.pathsep + env.get("PYTHONPATH", "")
    payload = {"library": str(args.library), "budget": args.budget, "queries": args.queries, "seed": seed,
               "kinds": [(k, KINDS[k]) for k in args.kinds.split(",")]}
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(payload)], env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", type=Path, required=True)
    ap.add_argument("--budget", default="4GB")
    ap.add_argument("--against", required=True, help="the git revision to compare with")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--kinds", default="attr,attr_sel,attr_range,filter")
    ap.add_argument("--seed", type=int, default=100)
    args = ap.parse_args()
    old = worktree(args.against)
    kinds = args.kinds.split(",")
    got: dict[str, list[dict]] = {"old": [], "new": []}
    for r in range(args.rounds):
        arms = [("old", old), ("new", None)] if r % 2 == 0 else [("new", None), ("old", old)]
        for name, path in arms:
            result = run(path, args, args.seed + r)
            got[name].append(result)
            print(f"round {r + 1} {name} ({result['code'].rsplit('/engine', 1)[0]}): "
                  + ", ".join(f"{k} {result[k]['p50']:.1f}" for k in kinds), flush=True)
    print(f"\n{args.library.name}, budget {args.budget}, {args.queries} queries a kind, {args.rounds} rounds; "
          f"p50 ms, median over rounds: this checkout against {args.against}")
    print(f"{'kind':<12}{'new':>9}{'old':>9}{'ratio':>8}  same answers")
    for k in kinds:
        new = float(np.median([g[k]["p50"] for g in got["new"]]))
        old_ = float(np.median([g[k]["p50"] for g in got["old"]]))
        same = all(a[k]["digest"] == b[k]["digest"] for a, b in zip(got["new"], got["old"]))
        print(f"{k:<12}{new:9.1f}{old_:9.1f}{new / old_:7.2f}x  {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
