"""Plain-words search and playlist analysis, timed.

ask (target: warm under 50 ms):
- first call in a fresh process, text model load included (a phrase with a
  word outside the word lists, so the model must load);
- warm calls over a set of curator phrasings (about half of them need the
  model), p50 / p99, and the same queries through `lib.search` as the
  baseline measured in the same run: the ratio is what reading the words costs.

analysis: `lib.analyze` over 200 playlists in the attribute and co-listen
spaces (co-listen training included on the first run, then warm), next to a
bare numpy computation of the same distances (d_ikj for every entry and playlist).

    python bench/bench_ask.py [--csv examples/data/spotify_playlists_dev.csv.gz] [--repeat N]

Without the dev CSV a synthetic library of 20,000 tracks and 250 playlists is used.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PHRASINGS = [
    "mellow instrumental music for a late night", "upbeat 80s pop", "sad songs", "energetic workout rap",
    "chill latin summer hits", "late 90s hip hop", "around 120 bpm house from 2015", "no vocals, for studying",
    "something like Drake but slower", "happy rock without rap", "obscure edm deep cuts", "tranquil sounds for napping",
    "jubilant dance tracks", "furious loud rock", "dreamy pop for a rainy day", "songs like Ed Sheeran",
    "gloomy trap from 2019", "feel-good latin pop", "music for cooking dinner", "hard hitting gangster rap bangers",
]
NEW_WORDS = ["wistful", "sultry", "brash", "ethereal", "gritty", "lush", "breezy", "haunting", "raucous", "swaggering",
             "tender", "frantic", "hazy", "stomping", "glossy", "brooding", "jangly", "spacey", "twangy", "woozy"]
FIRST = "jubilant electro house"  # "jubilant" is in no word list: the text model must load


def library(csv: Path | None, folder: Path):
    from attune.engine import Library

    lib = Library.open(folder)
    if csv and csv.exists():
        lib.import_spotify([csv])
        return lib
    import pyarrow as pa
    from attune.engine.storage import TRACKS_SCHEMA

    rng = np.random.default_rng(0)
    genres = ["pop", "rap", "rock", "latin", "r&b", "edm", "hip hop", "trap", "house", "soul"]
    rows = [
        {"track_id": f"t{i}", "title": f"Song {i}", "artist": f"Artist {i % 3000}", "year": int(rng.integers(1960, 2021)),
         "genres": [genres[i % 10]], "energy": float(rng.random()), "valence": float(rng.random()),
         "vocalness": float(rng.random()), "tempo": float(rng.uniform(60, 180)), "popularity": float(rng.integers(0, 100))}
        for i in range(20_000)
    ]
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(rows, schema=TRACKS_SCHEMA))
    for p in range(250):
        lib.playlists.create(f"playlist {p}", [f"t{j}" for j in rng.choice(20_000, 60, replace=False)])
    return lib


def pct(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=100)[q - 1] if len(xs) > 1 else xs[0]


def first_call(folder: Path) -> None:
    code = (
        "import time; t0 = time.perf_counter(); from attune.engine import Library; "
        f"lib = Library.open({str(folder)!r}); t1 = time.perf_counter(); lib.snapshot(); t2 = time.perf_counter(); "
        f"a = lib.ask({FIRST!r}); t3 = time.perf_counter(); "
        "print(f'{(t1-t0)*1e3:.0f} {(t2-t1)*1e3:.0f} {(t3-t2)*1e3:.0f}')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    imp, snap, ask = map(float, out[-3:])
    print(f"first ask in a fresh process: {ask:.0f} ms (text model load included), after import+open {imp:.0f} ms "
          f"and the snapshot {snap:.0f} ms")


def warm(lib, repeat: int) -> None:
    from attune.engine.words import textmodel

    lib.ask(FIRST)
    assert textmodel.loaded()
    t0 = time.perf_counter()
    for text in PHRASINGS:  # one round to warm up: spaces and name dictionaries are built on first use
        lib.ask(text)
    print(f"warm-up round over {len(PHRASINGS)} phrasings: {(time.perf_counter() - t0) * 1e3:.0f} ms")
    asks, searches, model = [], [], []
    for _ in range(repeat):
        for text in PHRASINGS:
            t0 = time.perf_counter()
            answer = lib.ask(text)
            t1 = time.perf_counter()
            lib.search(answer.query)
            t2 = time.perf_counter()
            asks.append((t1 - t0) * 1e3)
            searches.append((t2 - t1) * 1e3)
            if any(t.kind == "meaning" for t in answer.terms) or answer.unmapped:
                model.append((t1 - t0) * 1e3)
    print(f"warm ask over {len(PHRASINGS)} phrasings x {repeat}: p50 {pct(asks, 50):.1f} ms, p99 {pct(asks, 99):.1f} ms "
          f"(target < 50 ms); those that used the text model: p50 {pct(model, 50):.1f} ms")
    fresh = []
    for word in NEW_WORDS:  # words never seen: each one is encoded by the model
        textmodel._cache.pop(word, None)
        t0 = time.perf_counter()
        lib.ask(f"{word} pop")
        fresh.append((time.perf_counter() - t0) * 1e3)
    print(f"warm ask with a word the model has not encoded yet ({len(NEW_WORDS)} words): p50 {pct(fresh, 50):.1f} ms, "
          f"max {max(fresh):.1f} ms")
    print(f"baseline lib.search of the same queries: p50 {pct(searches, 50):.1f} ms; "
          f"ratio ask/search at p50 {pct(asks, 50) / pct(searches, 50):.2f}")


def analysis(lib, playlists: int) -> None:
    snap = lib.snapshot()
    names = sorted(snap.playlists)[:playlists]
    t0 = time.perf_counter()
    lib.analyze(spaces=("attr", "colisten"), playlists=names)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = lib.analyze(spaces=("attr", "colisten"), playlists=names)
    warm_s = time.perf_counter() - t0
    entries = result.spaces["attr"].deltas.height
    z = lib.space("attr").z
    member = snap.membership.filter(snap.membership["playlist"].is_in(names))
    rows, labels = member["_row"].to_numpy(), member["playlist"].to_numpy()
    t0 = time.perf_counter()
    e = z[rows].astype(np.float64)
    means = np.stack([e[labels == n].mean(axis=0) for n in names])
    _ = ((e[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)
    bare = time.perf_counter() - t0
    print(f"analysis of {len(names)} playlists ({entries} entries), attr + colisten: first {cold * 1e3:.0f} ms "
          f"(co-listen training and whitening included), warm {warm_s * 1e3:.0f} ms; "
          f"bare numpy d_ikj in attr {bare * 1e3:.0f} ms (ratio warm/bare {warm_s / bare:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=Path(__file__).resolve().parents[1] / "examples/data/spotify_playlists_dev.csv.gz")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--playlists", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        lib = library(args.csv, Path(tmp) / "lib")
        print(f"library: {lib.track_count()} tracks, {len(lib.playlists.all())} playlists (built in {time.perf_counter() - t0:.1f} s)")
        first_call(Path(tmp) / "lib")
        warm(lib, args.repeat)
        analysis(lib, args.playlists)


if __name__ == "__main__":
    main()
