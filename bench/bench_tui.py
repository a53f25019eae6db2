"""The terminal app on a 100,000-track library: keystroke-to-rendered-results and start-up.

    python bench/bench_tui.py [--tracks 100000] [--repeat 30]

Keystroke-to-results: from pressing Enter in the query bar to the results table
and status bar being updated (the engine call, the message back, the table
render), for a typical query. Start-up: from constructing the app to the first
interactive frame with results. Baseline in the same run: the bare
`lib.search()` call for the same query, so the ratio is the app's own overhead.
Targets: under 100 ms median, start-up under 1.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

QUERIES = [
    "genre:=rock energy:0.2..0.4 year:1990..1999 limit:50",
    "like:track(t0001234) limit:50",
    'like:playlist("P0007") energy>0.3 limit:50',
]


async def measure(path: Path, repeat: int) -> tuple[float, list[float], list[float]]:
    from attune.tui.app import AttuneApp

    class Timed(AttuneApp):
        def _show_results(self, *args):
            super()._show_results(*args)
            self.shown_at = time.perf_counter()

    t0 = time.perf_counter()
    app = Timed(library_path=path, cursor_blink=False)
    keystroke, shown, bare = [], [], []
    async with app.run_test(size=(140, 40)) as pilot:
        interactive = time.perf_counter() - t0  # mounted: the query bar takes keys
        while app.results_serial == 0:
            await pilot.pause(0.01)
        startup = (interactive, time.perf_counter() - t0)
        lib = app.lib
        for i in range(repeat):
            query = QUERIES[i % len(QUERIES)]
            app.query_bar.value = query
            app.query_bar.focus()
            before = app.serial
            start = time.perf_counter()
            await pilot.press("enter")
            while app.serial == before or app.results_serial != app.serial:
                await pilot.pause(0.001)
            await pilot.pause()
            keystroke.append((time.perf_counter() - start) * 1e3)
            shown.append((app.shown_at - start) * 1e3)
            start = time.perf_counter()
            lib.search(query)
            bare.append((time.perf_counter() - start) * 1e3)
    return startup, keystroke, shown, bare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    path = Path(__file__).parent / ".cache" / f"lib-{args.tracks}"
    if not (path / "tracks.lance").exists():
        code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_search as b; b.generate(__import__('pathlib').Path({str(path)!r}), {args.tracks})"
        subprocess.run([sys.executable, "-c", code], check=True)
    startup, keystroke, shown, bare = asyncio.run(measure(path, args.repeat))
    k50, s50, b50 = statistics.median(keystroke), statistics.median(shown), statistics.median(bare)
    print(f"library: {args.tracks} tracks")
    print(f"start-up to the first interactive frame: {startup[0] * 1000:.0f} ms (target < 1500); to the first results: {startup[1] * 1000:.0f} ms")
    print(f"Enter to results in the table (engine + message + table update): p50 {s50:.1f} ms, max {max(shown):.1f} ms")
    print(f"Enter to the Pilot harness going idle (includes the headless full-screen repaint): p50 {k50:.1f} ms (target p50 < 100)")
    print(f"bare lib.search for the same queries: p50 {b50:.1f} ms; ratio (table update / bare) {s50 / b50:.2f}")


if __name__ == "__main__":
    main()
