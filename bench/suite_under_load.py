"""Run the whole test suite N times in a row while other processes keep every core busy.

    .venv/bin/python bench/suite_under_load.py [--runs 10] [--hogs 2] [-- PYTEST ARGS...]

Flaky tests show up here: a test that waits on a fixed sleep, or on a race, fails when
the machine is loaded. The busy loops (`python -c "while True: pass"`, one per core by
default) are started and stopped by this script, also when it is interrupted. Prints one
line per run and a summary; exits non-zero if any run failed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--hogs", type=int, default=os.cpu_count() or 2, help="busy-loop processes (default: one per core)")
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = ap.parse_args()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hogs)]
    failed = 0
    times = []
    try:
        print(f"{args.hogs} busy loops running; {args.runs} runs of the suite", flush=True)
        for run in range(1, args.runs + 1):
            start = time.monotonic()
            out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args.pytest_args],
                                 cwd=ROOT, capture_output=True, text=True)
            seconds = time.monotonic() - start
            times.append(seconds)
            summary = next((line for line in reversed(out.stdout.splitlines()) if re.search(r"\b(passed|failed|error)", line)), "?")
            ok = out.returncode == 0
            failed += not ok
            print(f"run {run:>2}: {'ok  ' if ok else 'FAIL'} {seconds:6.0f} s  {summary.strip('= ')}", flush=True)
            if not ok:
                failures = [line for line in out.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
                print("\n".join("         " + line for line in failures), flush=True)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    print(f"{args.runs - failed} of {args.runs} runs passed under load ({args.hogs} busy loops); "
          f"median {sorted(times)[len(times) // 2]:.0f} s per run")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
