"""Printing results for people (a table) and for scripts (json, csv, m3u)."""

from __future__ import annotations

import io
import json
import math
import sys
from collections.abc import Sequence

import polars as pl

FORMATS = ("table", "json", "csv", "m3u")
_TABLE_COLUMNS = ("title", "artist", "year", "energy", "valence", "vocalness", "tempo", "genres", "passage", "score")

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values) -> str:
    """Values as a row of block characters, scaled to the largest."""
    if not values:
        return ""
    top = max(values) or 1.0
    return "".join(SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1)))] for v in values)


def result_rows(results, columns: Sequence[str] | None = None) -> list[dict]:
    """The results as plain rows (NaN as None), as the json format writes them."""
    return results.rows(columns)


def select(results, columns: Sequence[str] | None) -> pl.DataFrame:
    """The result columns asked for, in that order (all of them when None)."""
    return results.table(columns)


def render_results(results, fmt: str, columns: Sequence[str] | None = None) -> str:
    """Results as a table (for people) or json, csv or m3u (for scripts).

    `columns` picks and orders the columns of a table, json or csv.
    """
    if fmt == "json":
        return json.dumps(result_rows(results, columns), ensure_ascii=False, indent=2)
    if fmt == "csv":
        return results.to_csv(columns)
    if fmt == "m3u":
        from attune.engine.playlists.formats import write_m3u

        out = io.StringIO()
        write_m3u("attune search", results.frame.to_dicts(), out)
        return out.getvalue()
    return _table(select(results, columns), results, columns)


def _table(frame: pl.DataFrame, results, shown: Sequence[str] | None = None) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("#", justify="right")
    columns = list(shown) if shown else [c for c in _TABLE_COLUMNS if c in frame.columns]
    if not shown and frame["score"].is_nan().all():
        columns.remove("score")
    for c in columns:
        table.add_column(c, justify="right" if frame[c].dtype.is_numeric() else "left", overflow="ellipsis", no_wrap=True,
                         max_width=28 if c in ("title", "artist", "genres") else 48 if c in ("tags", "path") else None)
    for i, row in enumerate(frame.iter_rows(named=True), start=1):
        table.add_row(str(i), *(cell(row[c], c) for c in columns))
    out = io.StringIO()
    width = 160 if not sys.stdout.isatty() else None
    Console(file=out, width=width, no_color=True, highlight=False).print(table)
    text = out.getvalue().rstrip("\n")
    notes = [f"{len(frame)} results"] + list(results.notes)
    return text + "\n" + "\n".join(notes)


def cell(value, column: str, *, digits: int = 3, genres: int = 3) -> str:
    """One value as a table shows it (shared by the command line and the terminal app)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if column == "genres":
        return ", ".join(value[:genres])
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if column == "tempo":
        return f"{value:.0f}"
    if column == "passage":
        from attune.query import timestamp

        return timestamp(round(value))
    if isinstance(value, float):
        return f"{value:.{digits}f}" if column != "score" else f"{value:.2f}"
    return str(value)
