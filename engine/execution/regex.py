"""Regular expressions: one engine's rules, from parse to run.

Every regular expression of a query (`artist:~"^al"`, `playlist:~...`) runs on the Rust
`regex` engine through polars: linear time, so no pattern can take exponential time, and
no look-around or back-references. `regex_error` checks a pattern by compiling it with
that engine; `Library.parse` passes it to the parser, so a pattern that could not run is
a query error with a caret at parse time, never a crash at run time.
"""

from __future__ import annotations

import polars as pl


def regex_error(pattern: str) -> str | None:
    """What the run-time engine says is wrong with `pattern` (None: it compiles)."""
    try:
        pl.Series([""], dtype=pl.String).str.contains("(?i)" + pattern)
    except (pl.exceptions.ComputeError, pl.exceptions.PolarsError) as exc:
        first = str(exc).strip().splitlines()
        detail = next((line.strip() for line in first if line.strip().startswith("error:")), first[-1] if first else "")
        return detail.removeprefix("error:").strip() or "not a regular expression this engine reads"
    return None


def matches(values: pl.Series, patterns: list[str]) -> pl.Series:
    """Which values match any of the patterns (case-insensitive), in one pass."""
    combined = "(?i)" + "|".join(f"(?:{p})" for p in patterns)
    return values.str.contains(combined).fill_null(False)
