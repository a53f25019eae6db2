"""Filter expressions -> polars expressions (in memory) and LanceDB SQL (pushed down).

Each node type has one entry in each registry (pygeofilter style): `expr()`
always works; `sql()` returns None where a node cannot be pushed down (regular
expressions, which LanceDB and Python read differently, and genres a track
inherits from its playlists). `split()` pushes the largest part of a query that
can go to LanceDB and leaves the rest to be evaluated after retrieval. String
literals reach SQL only through `store.sql_string`.

Both evaluate text case-insensitively, treat a missing text value as "" and a
missing number as unknown (a comparison with it is false, and so is its NOT),
so the two executors return the same rows; the tests check that they do.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from functools import reduce, singledispatchmethod

import numpy as np
import polars as pl

from attune.query import And, Compare, Expr, Not, Or, QueryError, Range, TextMatch
from attune.query.fields import suggest

from .snapshot import Playlist, joined, lower
from .store import sql_string

SCALAR_TEXT = ("artist", "album", "title", "path")
LIST_TEXT = ("genre", "tag")
_LIST_COLUMN = {"genre": "genres", "tag": "tags"}
#: `playlist:` resolves to track ids; past this many the SQL IN list is not worth it.
MAX_SQL_IDS = 2000

_SQL_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "=": "=", "!=": "<>"}
_PL_OPS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "!=": operator.ne,
}


def sql_number(value: float) -> str:
    """A number as SQL reads it: positional notation, never an exponent."""
    return np.format_float_positional(value, trim="-")


class FilterCompiler:
    """Compiles filter expressions against one library's playlists."""

    def __init__(self, playlists: Mapping[str, Playlist], query_text: str = "") -> None:
        self.playlists = playlists
        self.query_text = query_text
        self._genres_inherited: bool | None = None

    @property
    def genres_inherited(self) -> bool:
        """Whether any playlist gives its tracks genres (then genre: cannot go to SQL)."""
        if self._genres_inherited is None:
            self._genres_inherited = any(p.genres for p in self.playlists.values())
        return self._genres_inherited

    # -- polars ------------------------------------------------------------------

    @singledispatchmethod
    def expr(self, node: Expr) -> pl.Expr:
        raise TypeError(f"not a filter node: {type(node).__name__}")

    @expr.register
    def _(self, node: And) -> pl.Expr:
        return reduce(operator.and_, (self.expr(i) for i in node.items))

    @expr.register
    def _(self, node: Or) -> pl.Expr:
        return reduce(operator.or_, (self.expr(i) for i in node.items))

    @expr.register
    def _(self, node: Not) -> pl.Expr:
        return ~self.expr(node.item)

    @expr.register
    def _(self, node: Compare) -> pl.Expr:
        return _PL_OPS[node.op](pl.col(node.field), node.value)

    @expr.register
    def _(self, node: Range) -> pl.Expr:
        return _range(pl.col(node.field), node.low, node.high)

    @expr.register
    def _(self, node: TextMatch) -> pl.Expr:
        return reduce(operator.or_, (self._text_expr(node, v) for v in node.values))

    def _text_expr(self, node: TextMatch, value: str) -> pl.Expr:
        if node.field == "playlist":
            return pl.col("track_id").is_in(sorted(self.playlist_tracks(node, value)))
        if node.field in SCALAR_TEXT:
            col = lower(node.field)
            if node.mode == "contains":
                return col.str.contains(value.lower(), literal=True)
            if node.mode == "exact":
                return col == value.lower()
            return pl.col(node.field).fill_null("").str.contains("(?i)" + value)
        col = joined(_LIST_COLUMN[node.field])
        if node.mode == "contains":
            return col.str.contains(value.lower(), literal=True)
        if node.mode == "exact":
            return col.str.contains("\n" + value.lower() + "\n", literal=True)
        pattern = "(?i)" + value
        return (
            pl.col(_LIST_COLUMN[node.field]).fill_null([]).list.eval(pl.element().str.contains(pattern)).list.any()
        )

    # -- SQL ---------------------------------------------------------------------

    @singledispatchmethod
    def sql(self, node: Expr) -> str | None:
        """The node as a LanceDB filter, or None when it cannot be pushed down whole."""
        raise TypeError(f"not a filter node: {type(node).__name__}")

    @sql.register(And)
    @sql.register(Or)
    def _(self, node: And | Or) -> str | None:
        parts = [self.sql(i) for i in node.items]
        if any(p is None for p in parts):
            return None
        glue = " AND " if isinstance(node, And) else " OR "
        return "(" + glue.join(parts) + ")"  # type: ignore[arg-type]

    @sql.register
    def _(self, node: Not) -> str | None:
        inner = self.sql(node.item)
        return None if inner is None else f"(NOT {inner})"

    @sql.register
    def _(self, node: Compare) -> str | None:
        return f"({node.field} {_SQL_OPS[node.op]} {sql_number(node.value)})"

    @sql.register
    def _(self, node: Range) -> str | None:
        parts = []
        if node.low is not None:
            parts.append(f"{node.field} >= {sql_number(node.low)}")
        if node.high is not None:
            parts.append(f"{node.field} <= {sql_number(node.high)}")
        return "(" + " AND ".join(parts) + ")"

    @sql.register
    def _(self, node: TextMatch) -> str | None:
        parts = [self._text_sql(node, v) for v in node.values]
        if any(p is None for p in parts):
            return None
        return "(" + " OR ".join(parts) + ")"  # type: ignore[arg-type]

    def _text_sql(self, node: TextMatch, value: str) -> str | None:
        if node.mode == "regex" or "\x00" in value:
            return None
        if node.field == "playlist":
            ids = self.playlist_tracks(node, value)
            if len(ids) > MAX_SQL_IDS:
                return None
            if not ids:
                return "(track_id IS NULL)"  # matches nothing: track_id is never null
            return "(track_id IN (" + ", ".join(sql_string(i) for i in sorted(ids)) + "))"
        if node.field in SCALAR_TEXT:
            col = f"lower(coalesce({node.field}, ''))"
        elif node.field == "genre" and self.genres_inherited:
            return None
        else:
            column = _LIST_COLUMN[node.field]
            col = f"concat(chr(10), lower(coalesce(array_to_string({column}, chr(10)), '')), chr(10))"
            if node.mode == "exact":
                return f"contains({col}, concat(chr(10), {sql_string(value.lower())}, chr(10)))"
        if node.mode == "exact":
            return f"({col} = {sql_string(value.lower())})"
        return f"contains({col}, {sql_string(value.lower())})"

    def split(self, where: Expr | None) -> tuple[str | None, list[Expr]]:
        """(SQL pushed to LanceDB, nodes left to evaluate after retrieval)."""
        if where is None:
            return None, []
        items = list(where.items) if isinstance(where, And) else [where]
        pushed, post = [], []
        for item in items:
            sql = self.sql(item)
            (pushed if sql is not None else post).append(sql if sql is not None else item)
        return (" AND ".join(pushed) if pushed else None), post

    # -- playlists ---------------------------------------------------------------

    def playlist_tracks(self, node: TextMatch, value: str) -> set[str]:
        """Track ids of every playlist whose name matches; no match is an error."""
        low = value.lower()
        if node.mode == "contains":
            names = [n for n in self.playlists if low in n.lower()]
        elif node.mode == "exact":
            names = [n for n in self.playlists if n.lower() == low]
        else:
            rx = re.compile(value, re.IGNORECASE)
            names = [n for n in self.playlists if rx.search(n)]
        if not names:
            guess = suggest(value, self.playlists)
            raise QueryError(
                f"no playlist matches '{value}'",
                query=self.query_text,
                position=node.span.start if node.span else 0,
                hint=f"did you mean '{guess}'?" if guess else "attune playlist list shows them",
            )
        return {tid for n in names for tid in self.playlists[n].track_ids}


def _range(col: pl.Expr, low: float | None, high: float | None) -> pl.Expr:
    parts = []
    if low is not None:
        parts.append(col >= low)
    if high is not None:
        parts.append(col <= high)
    return reduce(operator.and_, parts)


def leaves(node: Expr | None) -> list[Expr]:
    """The filter's leaf predicates, left to right (for explanations)."""
    if node is None:
        return []
    if isinstance(node, (And, Or)):
        return [leaf for item in node.items for leaf in leaves(item)]
    if isinstance(node, Not):
        return [node] if not isinstance(node.item, (And, Or, Not)) else leaves(node.item)
    return [node]
