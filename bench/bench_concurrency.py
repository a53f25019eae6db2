"""Concurrent writers on one library: nothing acknowledged is lost, nothing is written twice.

    .venv/bin/python bench/bench_concurrency.py [--workers 4] [--edits 200]

A library is built from the first 2,000 rows of the demo playlists; then, all at once:
  - WORKERS processes make EDITS playlist edits each (create, add, remove, move, rename)
    on playlists of their own, and add and remove tracks of one playlist they all share;
  - two processes import the whole demo file into the same library.
Every edit a worker saw succeed is logged. At the end the library must hold exactly
what the logs say (each worker's own playlists in order, the shared playlist's set),
every track id and playlist id once, every playlist name once. Prints the counts and
the throughput; exits non-zero if anything was lost or duplicated. Stops by itself
(every process has a time limit).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import multiprocessing as mp
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data" / "spotify_playlists_dev.csv.gz"
SHARED = "Shared"


def _subset(target: Path, rows: int) -> Path:
    with gzip.open(DATA, "rt", encoding="utf-8", newline="") as handle:
        lines = handle.read().splitlines(keepends=True)
    target.write_text("".join(lines[: rows + 1]), encoding="utf-8")
    return target


def _track_ids(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return sorted({row["track_id"] for row in csv.DictReader(io.StringIO(handle.read()))})


def editor(library: str, worker: int, edits: int, ids: list[str], log: str) -> None:
    from attune.engine import Library
    from attune.query import AttuneError

    rng = random.Random(worker)
    lib = Library.open(library)
    mine = [t for i, t in enumerate(ids) if i % 64 == worker]  # the shared playlist's ids this worker adds
    own: dict[str, list[str]] = {}
    out = open(log, "w", encoding="utf-8")
    done = 0
    start = time.monotonic()
    while done < edits:
        op = rng.choice(["create", "add", "add", "remove", "move", "rename", "shared_add", "shared_add", "shared_remove"])
        try:
            if op == "create" or not own:
                name = f"W{worker}-{done}"
                lib.playlists.create(name, rng.sample(ids, 3))
                own[name] = list(lib.playlists.get(name).track_ids)
            elif op == "add":
                name = rng.choice(sorted(own))
                track = rng.choice(ids)
                lib.playlists.add(name, [track])
                if track not in own[name]:
                    own[name].append(track)
            elif op == "remove":
                name = rng.choice(sorted(own))
                if own[name]:
                    track = rng.choice(own[name])
                    lib.playlists.remove(name, [track])
                    own[name].remove(track)
            elif op == "move":
                name = rng.choice(sorted(own))
                if len(own[name]) > 1:
                    track = rng.choice(own[name])
                    lib.playlists.move(name, track, 0)
                    own[name].remove(track)
                    own[name].insert(0, track)
            elif op == "rename":
                name = rng.choice(sorted(own))
                new = f"W{worker}-r{done}"
                lib.playlists.rename(name, new)
                own[new] = own.pop(name)
            elif op == "shared_add":
                track = rng.choice(mine)
                lib.playlists.add(SHARED, [track])
                out.write(json.dumps({"shared_add": track}) + "\n")
            else:
                track = rng.choice(mine)
                lib.playlists.remove(SHARED, [track])
                out.write(json.dumps({"shared_remove": track}) + "\n")
        except AttuneError as exc:  # a clear, retryable error is allowed; it is counted, not acknowledged
            out.write(json.dumps({"refused": str(exc)}) + "\n")
            continue
        done += 1
    out.write(json.dumps({"own": own, "seconds": time.monotonic() - start}) + "\n")
    out.close()


def importer(library: str, data: str, log: str) -> None:
    from attune.engine import Library

    start = time.monotonic()
    report = Library.open(library).import_spotify([data])
    Path(log).write_text(json.dumps({"new": report.tracks_new, "updated": report.tracks_updated,
                                     "seconds": time.monotonic() - start}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--edits", type=int, default=200)
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds before the run is stopped")
    args = ap.parse_args()
    from attune.engine import Library

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        library = str(folder / "lib")
        small = _subset(folder / "small.csv", 2000)
        lib = Library.open(library)
        lib.import_spotify([small])
        ids = _track_ids(small)
        lib.playlists.create(SHARED, [])
        ctx = mp.get_context("spawn")
        logs = [str(folder / f"w{i}.jsonl") for i in range(args.workers)]
        procs = [ctx.Process(target=editor, args=(library, i, args.edits, ids, logs[i])) for i in range(args.workers)]
        imports = [str(folder / f"import{i}.json") for i in range(2)]
        procs += [ctx.Process(target=importer, args=(library, str(DATA), imports[i])) for i in range(2)]
        start = time.monotonic()
        for p in procs:
            p.start()
        for p in procs:
            p.join(max(1.0, args.timeout - (time.monotonic() - start)))
        stuck = [p for p in procs if p.is_alive()]
        for p in stuck:
            p.kill()
        seconds = time.monotonic() - start
        if stuck or any(p.exitcode != 0 for p in procs):
            print(f"FAILED: {len(stuck)} processes did not finish in {args.timeout:.0f} s; exit codes {[p.exitcode for p in procs]}")
            return 1
        return check(library, logs, imports, args, seconds)


def check(library: str, logs: list[str], imports: list[str], args, seconds: float) -> int:
    from attune.engine import Library

    lib = Library.open(library)
    playlists = {p.name: p for p in lib.playlists.all()}
    lost, refused, shared = 0, 0, set()
    edits_done = 0
    for log in logs:
        lines = [json.loads(line) for line in Path(log).read_text(encoding="utf-8").splitlines()]
        refused += sum("refused" in x for x in lines)
        for x in lines:
            if "shared_add" in x:
                shared.add(x["shared_add"])
            elif "shared_remove" in x:
                shared.discard(x["shared_remove"])
        final = lines[-1]
        for name, tracks in final["own"].items():
            if name not in playlists or list(playlists[name].track_ids) != tracks:
                lost += 1
        edits_done += args.edits
    got_shared = set(playlists[SHARED].track_ids)
    lost_shared = len(shared - got_shared) + len(got_shared - shared)
    tracks = lib.store.read("tracks", ["track_id"])["track_id"].to_pylist()
    rows = lib.store.read("playlists", ["playlist_id", "name"]).to_pylist()
    duplicate_tracks = len(tracks) - len(set(tracks))
    duplicate_playlists = len(rows) - len({r["playlist_id"] for r in rows})
    duplicate_names = len(rows) - len({r["name"].lower() for r in rows})
    reports = [json.loads(Path(p).read_text()) for p in imports]
    print(f"{args.workers} editors x {args.edits} edits + 2 concurrent imports of {DATA.name}, in {seconds:.1f} s")
    print(f"  acknowledged edits: {edits_done} ({edits_done / seconds:.1f} edits/s overall); refused with a retryable error: {refused}")
    summary = ", ".join(f"{r['new']} new + {r['updated']} updated in {r['seconds']:.1f} s" for r in reports)
    print(f"  imports: {summary}")
    print(f"  own playlists lost or different: {lost}; shared playlist entries lost or extra: {lost_shared} (of {len(shared)})")
    print(f"  track rows {len(tracks)} (duplicates {duplicate_tracks}); playlist rows {len(rows)} "
          f"(duplicate ids {duplicate_playlists}, duplicate names {duplicate_names})")
    bad = lost + lost_shared + duplicate_tracks + duplicate_playlists + duplicate_names
    print("OK: nothing lost, nothing duplicated" if bad == 0 else f"FAILED: {bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
