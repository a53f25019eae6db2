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
        true, _ = self.eval(node)
        return true

    def _in_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise QueryTimeout("the query ran past its time limit and was stopped; make the filter narrower")

    @singledispatchmethod
    def eval(self, node: Expr) -> tuple[np.ndarray, np.ndarray]:
        """(rows where the node is true, rows where it is false); the rest are unknown."""
        raise TypeError(f"not a filter node: {type(node).__name__}")

    @eval.register
    def _(self, node: And) -> tuple[np.ndarray, np.ndarray]:
        self._in_time()
        parts = [self.eval(i) for i in node.items]
        return np.logical_and.reduce([t for t, _ in parts]), np.logical_or.reduce([f for _, f in parts])

    @eval.register
    def _(self, node: Or) -> tuple[np.ndarray, np.ndarray]:
        self._in_time()
        parts = [self.eval(i) for i in node.items]
        return np.logical_or.reduce([t for t, _ in parts]), np.logical_and.reduce([f for _, f in parts])

    @eval.register
    def _(self, node: Not) -> tuple[np.ndarray, np.ndarray]:
        true, false = self.eval(node.item)
        return false, true

    @eval.register
    def _(self, node: Compare) -> tuple[np.ndarray, np.ndarray]:
        values = self.snap.numbers(node.field)
        known = ~np.isnan(values)
        with np.errstate(invalid="ignore"):
            hit = _NP_OPS[node.op](values, node.value)
        return hit & known, ~hit & known

    @eval.register
    def _(self, node: Range) -> tuple[np.ndarray, np.ndarray]:
        values = self.snap.numbers(node.field)
        known = self.snap.known(node.field)
        with np.errstate(invalid="ignore"):  # NaN (unknown) compares false: never a hit
            if node.low is not None:
                hit = values >= node.low
                if node.high is not None:
                    np.logical_and(hit, values <= node.high, out=hit)
            elif node.high is not None:
                hit = values <= node.high
            else:
                hit = known.copy()
        return hit, known & ~hit

    @eval.register
    def _(self, node: TextMatch) -> tuple[np.ndarray, np.ndarray]:
        self._in_time()
        if node.field == "playlist":
            ids = set().union(*(self.matcher.track_ids(node, v, self.query_text) for v in node.values))
            hit = np.zeros(len(self.snap), dtype=bool)
            hit[self.snap.rows_of(ids)] = True
            return hit, ~hit
        index = self.snap.text_index(node.field)
        hit = index.rows_where(index.matching_any(node.mode, node.values))
        return hit, ~hit
