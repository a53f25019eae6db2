"""`attune serve` under load: 16 clients for 60 s against a 100,000-track library, with an
import into the same library from another process halfway.

    .venv/bin/python bench/bench_serve.py [--tracks 100000] [--clients 16] [--seconds 60]

Loopback only; stops by itself. The library is bench_search.py's synthetic one (built once
into bench/.cache/lib-N), copied to a temporary folder so the bench's edits stay there.
Each client loops over a mix of requests: search (a filter, like:track, like:playlist),
ask, expand, playlist reads and playlist edits (each client appends to and removes from
playlists of its own and appends to one shared playlist), and logs every edit the service
acknowledged. Halfway, `attune import spotify` of the demo playlists (15,175 tracks, 471
playlists) runs in another process against the same library.

Reported: requests and 5xx per endpoint, p50 and p99 latency per endpoint, and the same
engine calls made directly through the Python API in this process (one thread, warm) for
the ratio; then the check that every acknowledged edit is in the library at the end.
Exits non-zero on any 5xx or any lost edit.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
DEMO = ROOT / "examples" / "data" / "spotify_playlists_dev.csv.gz"
SHARED = "Shared"

QUERIES = [
    "genre:soul energy<0.4",
    "energy:0.6..0.8 tempo>120 year>=2000 limit:20",
    'like:track("t0000042") limit:20',
    "like:playlist(P0007) -artist:\"Artist 3\" limit:20",
    "genre:(rock,pop) valence>0.7 sort:-popularity limit:20",
]
WORDS = ["calm soul from the 70s", "upbeat rock", "something sad and slow", "energetic electronic music"]


def start_server(library: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "attune.tui.main", "serve", "--library", str(library), "--port", "0"],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        found = re.search(r"on (http://\S+?:\d+)", line or "")
        if found:
            import httpx

            while time.monotonic() < deadline:  # listening; now wait for the library to be open
                if httpx.get(found.group(1) + "/health").status_code == 200:
                    return process, found.group(1)
                time.sleep(0.1)
        if process.poll() is not None:
            raise SystemExit("attune serve did not start")
    raise SystemExit("attune serve did not start in 120 s")


async def client(n: int, url: str, stop: float, rng: random.Random, stats: dict, acked: dict) -> None:
    import httpx

    own = f"C{n:02d}"
    async with httpx.AsyncClient(base_url=url, timeout=60) as c:
        made = await c.post("/playlists", json={"name": own, "track_ids": []})
        stats["create"].append((made.elapsed.total_seconds(), made.status_code))
        mine: list[str] = []
        while time.monotonic() < stop:
            op = rng.choices(["search", "ask", "expand", "playlist", "add", "remove", "shared"], [40, 10, 10, 10, 15, 7, 8])[0]
            t0 = time.perf_counter()
            if op == "search":
                r = await c.get("/search", params={"q": rng.choice(QUERIES)})
            elif op == "ask":
                r = await c.post("/ask", json={"text": rng.choice(WORDS), "limit": 20})
            elif op == "expand":
                r = await c.get(f"/playlists/P{rng.randrange(40):04d}/expand", params={"limit": 20})
            elif op == "playlist":
                r = await c.get(f"/playlists/P{rng.randrange(40):04d}")
            elif op == "add" or (op == "remove" and not mine):
                track = f"t{rng.randrange(100_000):07d}"
                r = await c.post(f"/playlists/{own}/tracks", json={"track_ids": [track]})
                op = "add"
                if r.status_code == 200 and track not in mine:
                    mine.append(track)
            elif op == "remove":
                track = rng.choice(mine)
                r = await c.delete(f"/playlists/{own}/tracks/{track}")
                if r.status_code == 200:
                    mine.remove(track)
            else:
                track = f"t{rng.randrange(100_000):07d}"
                r = await c.post(f"/playlists/{SHARED}/tracks", json={"track_ids": [track]})
                if r.status_code == 200:
                    acked["shared"].add(track)
            stats[op].append((time.perf_counter() - t0, r.status_code))
            if r.status_code >= 500:
                stats["errors"].append((op, str(r.request.url)[:200], r.text[:300]))
        acked[own] = mine


def direct_baseline(library: Path, rng: random.Random, seconds: float = 10.0) -> dict[str, list[float]]:
    """The same engine calls through the Python API, one thread, warm."""
    from attune.engine import Library

    lib = Library.open(library)
    lib.snapshot()
    lib.search(QUERIES[0])
    out: dict[str, list[float]] = defaultdict(list)
    calls = {
        "search": lambda: lib.search(rng.choice(QUERIES)),
        "ask": lambda: lib.ask(rng.choice(WORDS), limit=20),
        "expand": lambda: lib.expand(f"P{rng.randrange(40):04d}", limit=20),
        "playlist": lambda: lib.playlists.get(f"P{rng.randrange(40):04d}"),
    }
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        for name, call in calls.items():
            t0 = time.perf_counter()
            call()
            out[name].append(time.perf_counter() - t0)
    return out


def sequential(url: str, rng: random.Random, rounds: int = 40) -> dict[str, list[float]]:
    """One client, one request at a time: the service's own cost over the engine's."""
    import httpx

    out: dict[str, list[float]] = defaultdict(list)
    with httpx.Client(base_url=url, timeout=60) as c:
        for _ in range(rounds):
            for name, call in (("search", lambda: c.get("/search", params={"q": rng.choice(QUERIES)})),
                               ("ask", lambda: c.post("/ask", json={"text": rng.choice(WORDS), "limit": 20})),
                               ("expand", lambda: c.get(f"/playlists/P{rng.randrange(40):04d}/expand", params={"limit": 20})),
                               ("playlist", lambda: c.get(f"/playlists/P{rng.randrange(40):04d}"))):
                t0 = time.perf_counter()
                call().raise_for_status()
                out[name].append(time.perf_counter() - t0)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    from bench_search import generate

    cached = ROOT / "bench" / ".cache" / f"lib-{args.tracks}"
    if not cached.exists():
        print(f"building a {args.tracks:,}-track library in {cached} (once)")
        generate(cached, args.tracks)
    work = Path(tempfile.mkdtemp(prefix="attune-serve-bench-"))
    try:
        library = work / "lib"
        shutil.copytree(cached, library)
        from attune.engine import Library

        Library.open(library).playlists.create(SHARED, [])
        rng = random.Random(0)
        base = direct_baseline(library, rng)
        server, url = start_server(library)
        try:
            alone = sequential(url, rng)
            stats: dict[str, list] = defaultdict(list)
            acked: dict = {"shared": set()}
            stop = time.monotonic() + args.seconds

            async def run_all() -> None:
                tasks = [asyncio.create_task(client(n, url, stop, random.Random(n), stats, acked))
                         for n in range(args.clients)]
                await asyncio.sleep(args.seconds / 2)
                t0 = time.perf_counter()
                imported = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "attune.tui.main", "import", "spotify", str(DEMO), "--library", str(library),
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
                _, err = await imported.communicate()
                print(f"import in another process: exit {imported.returncode} in {time.perf_counter() - t0:.1f} s"
                      + (f" ({err.decode()[-200:]})" if imported.returncode else ""))
                await asyncio.gather(*tasks)

            asyncio.run(run_all())
        finally:
            server.terminate()
            server.wait(30)

        print(f"\none client, one request at a time ({args.tracks:,} tracks): p50 ms over HTTP / through the Python API")
        for name, times in alone.items():
            over, direct = np.median(times) * 1000, np.median(base[name]) * 1000
            print(f"  {name:<10} {over:7.1f} / {direct:6.1f}   ({over - direct:+.1f} ms, x{over / direct:.1f})")
        print(f"\n{args.clients} clients, {args.seconds:.0f} s, {args.tracks:,} tracks "
              f"(+ the import halfway; clients, service and import share this machine's cores)\n")
        print(f"{'endpoint':<10} {'requests':>8} {'5xx':>5} {'4xx':>5} {'p50 ms':>8} {'p99 ms':>8}   "
              f"{'direct p50':>10} {'ratio':>6}")
        server_errors = 0
        for name in ("search", "ask", "expand", "playlist", "add", "remove", "shared", "create"):
            rows = stats.get(name, [])
            if not rows:
                continue
            ms = np.array([r[0] for r in rows]) * 1000
            fivexx = sum(1 for r in rows if r[1] >= 500)
            fourxx = sum(1 for r in rows if 400 <= r[1] < 500)
            server_errors += fivexx
            direct = np.median(base[name]) * 1000 if base.get(name) else None
            ratio = f"{np.median(ms) / direct:6.1f}" if direct else "     -"
            direct_text = f"{direct:10.1f}" if direct else "         -"
            print(f"{name:<10} {len(rows):>8} {fivexx:>5} {fourxx:>5} {np.median(ms):8.1f} {np.percentile(ms, 99):8.1f}   "
                  f"{direct_text} {ratio}")
        for op, url_text, body in stats.get("errors", [])[:10]:
            print(f"  5xx on {op}: {url_text}: {body}")
        lib = Library.open(library)
        lost = 0
        for n in range(args.clients):
            own = f"C{n:02d}"
            have = list(lib.playlists.get(own).track_ids)
            if have != acked.get(own, []):
                lost += len(set(acked.get(own, [])) ^ set(have))
        shared = set(lib.playlists.get(SHARED).track_ids)
        lost += len(acked["shared"] - shared)
        total = sum(len(v) for k, v in stats.items() if k != "errors")
        print(f"\n{total} requests ({total / args.seconds:.0f}/s), {server_errors} 5xx; acknowledged edits lost: {lost} "
              f"(own playlists exact, shared {len(acked['shared'])} acknowledged, {len(shared)} present); "
              f"tracks after the import: {lib.track_count():,}")
        return 1 if server_errors or lost else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
