"""Filter evaluation over a snapshot as numpy masks: the backend of every in-memory search.

Text columns are dictionary-encoded once per snapshot (`storage.TextIndex`): a text
predicate is matched against the distinct values (tens of thousands of artists, not a
million rows) and mapped back to rows with one gather. Numbers are float arrays with NaN
for "unknown". Boolean structure uses Kleene logic over (true, false) mask pairs, so an
unknown number stays unknown under NOT and is left out, exactly as the SQL and polars
backends do.
"""

from __future__ import annotations

import time
from functools import singledispatchmethod

import numpy as np
from attune.query import And, Compare, Expr, Not, Or, Range, TextMatch

from ..storage import QueryTimeout, Snapshot
from .playlists import PlaylistMatcher

_NP_OPS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "=": np.equal,
    "!=": np.not_equal,
}


def compare(values: np.ndarray, op: str, value: float) -> np.ndarray:
    """`values op value`, exactly as over float64 also where `values` are float32 (a column
    over the memory budget: `TrackData.numbers`). There the bound is not rounded to the
    nearest float32, which would move the boundary, but replaced by the float32 on the
    side that keeps each comparison's answer: none lies strictly between the two."""
    if values.dtype != np.float32:
        return _NP_OPS[op](values, value)
    value = float(value)
    with np.errstate(over="ignore"):
        near = np.float32(value)
    if float(near) == value or not np.isfinite(value):
        return _NP_OPS[op](values, near)
    below = near if float(near) < value else np.nextafter(near, np.float32(-np.inf))
    above = near if float(near) > value else np.nextafter(near, np.float32(np.inf))
    if op == "=":
        return np.zeros(len(values), dtype=bool)
    if op == "!=":
        return ~np.isnan(values)
    # v < value and v <= value: v <= below; v > value and v >= value: v >= above
    return np.less_equal(values, below) if op in ("<", "<=") else np.greater_equal(values, above)


class NumpyBackend:
    """Evaluates a filter expression over a snapshot; returns the row mask."""

    def __init__(self, snap: Snapshot, matcher: PlaylistMatcher | None = None, query_text: str = "",
                 *, deadline: float | None = None) -> None:
        self.snap = snap
        self.matcher = matcher or PlaylistMatcher(snap.playlists)
        self.query_text = query_text
        #: time.monotonic() past which evaluation stops with QueryTimeout (None: no limit).
        self.deadline = deadline

    def mask(self, node: Expr | None) -> np.ndarray:
        if node is None:
            return np.ones(len(self.snap), dtype=bool)
        return self.true(node)

    def _in_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise QueryTimeout("the query ran past its time limit and was stopped; make the filter narrower")

    def eval(self, node: Expr) -> tuple[np.ndarray, np.ndarray]:
        """(rows where the node is true, rows where it is false); the rest are unknown."""
        return self.true(node), self.false(node)

    # Where a node is false is only needed under a NOT: each pass over a 10M-row mask costs
    # milliseconds, so the two sides are computed apart, each only when asked for.

    def true(self, node: Expr) -> np.ndarray:
        """Rows where the node is true."""
        return self._side(node, True)

    def false(self, node: Expr) -> np.ndarray:
        """Rows where the node is false (known, and not true)."""
        return self._side(node, False)

    def _side(self, node: Expr, truth: bool) -> np.ndarray:
        if isinstance(node, (And, Or)):
            self._in_time()
            every = isinstance(node, And) == truth  # an AND is true, an OR false, where every item is
            join = np.logical_and if every else np.logical_or
            sides = [self._side(i, truth) for i in node.items]
            if len(sides) == 1:
                return sides[0].copy()
            # folded into one new mask: `join.reduce` over the list stacks the masks into a
            # matrix first (6.5 ms for three at 10M rows against 1.8)
            out = join(sides[0], sides[1])
            for side in sides[2:]:
                join(out, side, out=out)
            return out
        if isinstance(node, Not):
            return self._side(node.item, not truth)
        hit, known = self.leaf(node)
        if truth:
            return hit
        return ~hit if known is None else known & ~hit

    @singledispatchmethod
    def leaf(self, node: Expr) -> tuple[np.ndarray, np.ndarray | None]:
        """(rows where the predicate holds, rows where it is known: None for everywhere)."""
        raise TypeError(f"not a filter node: {type(node).__name__}")

    @leaf.register
    def _(self, node: Compare) -> tuple[np.ndarray, np.ndarray | None]:
        values = self.snap.numbers(node.field)
        known = self.snap.known(node.field)
        with np.errstate(invalid="ignore"):
            hit = compare(values, node.op, node.value)
        np.logical_and(hit, known, out=hit)
        return hit, known

    @leaf.register
    def _(self, node: Range) -> tuple[np.ndarray, np.ndarray | None]:
        values = self.snap.numbers(node.field)
        known = self.snap.known(node.field)
        with np.errstate(invalid="ignore"):  # NaN (unknown) compares false: never a hit
            if node.low is not None and node.low == node.high:
                hit = compare(values, "=", node.low)  # one pass, not two
            elif node.low is not None:
                hit = compare(values, ">=", node.low)
                if node.high is not None:
                    np.logical_and(hit, compare(values, "<=", node.high), out=hit)
            elif node.high is not None:
                hit = compare(values, "<=", node.high)
            else:
                hit = known.copy()
        return hit, known

    @leaf.register
    def _(self, node: TextMatch) -> tuple[np.ndarray, np.ndarray | None]:
        self._in_time()
        if node.field == "playlist":
            ids = set().union(*(self.matcher.track_ids(node, v, self.query_text) for v in node.values))
            hit = np.zeros(len(self.snap), dtype=bool)
            hit[self.snap.rows_of(ids)] = True
            return hit, None
        index = self.snap.text_index(node.field)
        hit = index.rows_where(index.matching_any(node.mode, node.values))
        return hit, None
