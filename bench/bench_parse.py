"""Parse time of typical queries (target: under 1 ms for a 10-term query).

Baseline, measured in the same run: Lark's bare LALR parse of the same text (no
AST building, no validation), so the ratio shows what attune's own layer costs.

    python bench/bench_parse.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from attune.query import parse
from attune.query.parser import _lark

QUERIES = {
    "1 term": "genre:soul",
    "readme (5 terms)": 'genre:soul energy<0.4 like:playlist("Sunday Morning") -artist:"Al Green" limit:50',
    "10 terms": (
        'genre:(soul,funk) energy:0.2..0.5 valence>0.4 year:1970..1979 -artist:"Al Green" '
        'tempo:90.. length<4:30 like:playlist("Sunday Morning") unlike:artist(Drake) limit:50'
    ),
    "boolean (12 terms)": (
        "(genre:soul OR genre:funk OR genre:jazz) -(artist:x OR album:live) energy<0.6 "
        "valence>0.3 vocalness>0.5 year:1965..1985 popularity>=20 per:artist=2 sort:-energy"
    ),
}


def timings(fn, text: str, repeat: int) -> list[float]:
    fn(text)  # warm: builds the parser once
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(text)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100)[int(q) - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    _lark.cache_clear()
    parse("genre:soul")
    print(f"parser construction (first parse): {(time.perf_counter() - t0) * 1e3:.1f} ms")
    raw = _lark().parse
    print(f"{'query':<20} {'attune p50':>11} {'p99':>8} {'lark-only p50':>14} {'ratio':>6}   (ms)")
    for name, text in QUERIES.items():
        ours = timings(parse, text, args.repeat)
        base = timings(raw, text, args.repeat)
        p50, b50 = statistics.median(ours), statistics.median(base)
        print(f"{name:<20} {p50:>11.3f} {pct(ours, 99):>8.3f} {b50:>14.3f} {p50 / b50:>6.2f}")


if __name__ == "__main__":
    main()
