"""How long a fresh process takes to start: importing LanceDB as attune does (its REST
namespace client's `__init__` deferred, `engine/storage/quickimport.py`) against a plain
`import lancedb` in the same run, and `attune search` end to end on a small library.

    python bench/bench_startup.py [--runs 7]

Each figure is the median of --runs fresh processes (the first run of each kind is not
counted: it warms the page cache).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ATTUNE = str(Path(sys.executable).with_name("attune"))

PLAIN = "import lancedb"
AS_ATTUNE = "import attune.engine.storage, lancedb"  # what every attune command does first
CLIENT = "import sys; sys.exit('lance_namespace_urllib3_client.api' in sys.modules)"


def seconds(argv: list[str], runs: int) -> float:
    """The median wall time of `argv` over `runs` fresh processes (after one not counted)."""
    times = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        if i:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    python = [sys.executable, "-c"]
    bare = seconds(python + ["pass"], args.runs)
    plain = seconds(python + [PLAIN], args.runs)
    ours = seconds(python + [AS_ATTUNE], args.runs)
    deferred = subprocess.run(python + [AS_ATTUNE + "; " + CLIENT]).returncode == 0
    with tempfile.TemporaryDirectory() as folder:
        csv = Path(folder) / "tracks.csv"
        csv.write_text("track_id,track_name,track_artist,playlist_genre,energy,valence,tempo\n"
                       + "".join(f"t{i},Song {i},Artist {i % 5},soul,{i / 20:.2f},0.5,100\n" for i in range(20)))
        library = str(Path(folder) / "lib")
        subprocess.run([ATTUNE, "--library", library, "import", "spotify", str(csv)], check=True, capture_output=True)
        search = seconds([ATTUNE, "--library", library, "search", "genre:soul energy<0.4"], args.runs)
    print(f"fresh processes, median of {args.runs} (Python itself: {bare * 1000:.0f} ms)")
    print(f"  import lancedb, plainly                      {plain * 1000:7.0f} ms")
    print(f"  import lancedb as attune does                {ours * 1000:7.0f} ms   {ours / plain:.2f}x "
          f"(REST client's API modules {'not imported' if deferred else 'IMPORTED'})")
    print(f"  attune search on a 20-track library          {search * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
