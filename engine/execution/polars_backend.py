"""Filter expressions as polars expressions: the backend for frames (rows fetched from
LanceDB, the rows of a result being explained, and the differential tests).

Text is compared case-insensitively and a missing text value is ""; a comparison with a
missing number is null, which `filter` treats as false, and so is its NOT: the same
rows as the numpy and SQL backends (tests/engine/test_backends.py checks that they are).
"""

from __future__ import annotations

import operator
from functools import reduce, singledispatchmethod

import polars as pl
from attune.query import And, Compare, Expr, Not, Or, Range, TextMatch
from attune.query.fields import LIST_FIELDS, column

from ..storage import lower
from .playlists import PlaylistMatcher

_OPS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "!=": operator.ne,
}


def _matches(text: pl.Expr, mode: str, values: tuple[str, ...]) -> pl.Expr:
    """Lower-case `text` matches any of `values` (one expression however many values)."""
    lows = [v.lower() for v in values]
    if mode == "exact":
        return text.is_in(lows)
    if mode == "contains":
        if "" in lows:
            return text.is_not_null() | text.is_null()
        return text.str.contains(lows[0], literal=True) if len(lows) == 1 else text.str.contains_any(lows)
    return text.str.contains("(?i)" + "|".join(f"(?:{v})" for v in values))


class PolarsBackend:
    def __init__(self, matcher: PlaylistMatcher, query_text: str = "") -> None:
        self.matcher = matcher
        self.query_text = query_text

    def filter(self, frame: pl.DataFrame, node: Expr | None) -> pl.DataFrame:
        """The rows of `frame` the filter keeps (unknown counts as not kept)."""
        return frame if node is None else frame.filter(self.expr(node).fill_null(False))

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
        return _OPS[node.op](pl.col(node.field), node.value)

    @expr.register
    def _(self, node: Range) -> pl.Expr:
        col = pl.col(node.field)
        parts = [col >= node.low] if node.low is not None else []
        parts += [col <= node.high] if node.high is not None else []
        return reduce(operator.and_, parts)

    @expr.register
    def _(self, node: TextMatch) -> pl.Expr:
        if node.field == "playlist":
            ids = set().union(*(self.matcher.track_ids(node, v, self.query_text) for v in node.values))
            return pl.col("track_id").is_in(sorted(ids))
        name = column(node.field)
        if node.field not in LIST_FIELDS:
            return _matches(lower(name), node.mode, node.values)
        # A list matches when one of its elements does (an empty list never does).
        return pl.col(name).fill_null([]).list.eval(_matches(pl.element().str.to_lowercase(), node.mode, node.values)).list.any()
