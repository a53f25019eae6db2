"""Filter evaluation over a snapshot as numpy masks.

Text columns are dictionary-encoded once per snapshot (`TextIndex`): a text
predicate is matched against the distinct values (tens of thousands of
artists, not a million rows) and mapped back to rows with one gather. Numbers
are float arrays with NaN for "unknown". Boolean structure uses Kleene logic
over (true, false) mask pairs, so an unknown number stays unknown under NOT
and is left out, exactly as the SQL and polars paths do.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatchmethod
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from attune.query import And, Compare, Expr, Not, Or, Range, TextMatch

from .filters import FilterCompiler

if TYPE_CHECKING:
    from .snapshot import Snapshot

_NP_OPS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "=": np.equal,
    "!=": np.not_equal,
}


@dataclass
class TextIndex:
    """Distinct lower-case values of a text column and, per entry, its value's code."""

    values: pl.Series  # distinct values; position = code
    codes: np.ndarray  # (entries,) code of each entry
    rows: np.ndarray | None  # (entries,) row of each entry; None: one entry per row
    n_rows: int
    _index: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def of_scalars(cls, series: pl.Series) -> "TextIndex":
        text = series.fill_null("").str.to_lowercase()
        return cls._encode(text, None, len(series))

    @classmethod
    def of_lists(cls, series: pl.Series) -> "TextIndex":
        frame = (
            pl.DataFrame({"v": series.fill_null([])})
            .with_row_index("row")
            .explode("v")
            .drop_nulls("v")
            .with_columns(pl.col("v").str.to_lowercase())
            .unique(["row", "v"], maintain_order=True)
        )
        return cls._encode(frame["v"], frame["row"].to_numpy().astype(np.int64), len(series))

    @classmethod
    def _encode(cls, text: pl.Series, rows: np.ndarray | None, n_rows: int) -> "TextIndex":
        values = text.unique().sort()
        codes = text.rank("dense").to_numpy().astype(np.int64) - 1 if len(text) else np.zeros(0, dtype=np.int64)
        return cls(values, codes, rows, n_rows)

    def matching(self, mode: str, value: str) -> np.ndarray:
        """Which distinct values match (bool per code)."""
        low = value.lower()
        if mode == "contains":
            hit = self.values.str.contains(low, literal=True)
        elif mode == "exact":
            hit = self.values == low
        else:
            hit = self.values.str.contains("(?i)" + value)
        return hit.fill_null(False).to_numpy()

    def rows_where(self, matched: np.ndarray) -> np.ndarray:
        """Row mask: rows with at least one entry whose value is matched.

        Few matched values (an artist, a genre) are read from their postings
        lists; many (a broad substring) with one gather over all entries.
        """
        codes = np.flatnonzero(matched)
        starts, order = self._postings()
        sizes = starts[codes + 1] - starts[codes]
        if sizes.sum() * 8 > len(self.codes):
            hit = matched[self.codes]
            if self.rows is None:
                return hit
            out = np.zeros(self.n_rows, dtype=bool)
            out[self.rows[hit]] = True
            return out
        entries = np.concatenate([order[starts[c] : starts[c + 1]] for c in codes]) if len(codes) else order[:0]
        out = np.zeros(self.n_rows, dtype=bool)
        out[entries if self.rows is None else self.rows[entries]] = True
        return out

    def _postings(self) -> tuple[np.ndarray, np.ndarray]:
        """Entries sorted by code, and where each code's run starts (an inverted index)."""
        if self._index is None:
            order = np.argsort(self.codes, kind="stable")
            starts = np.searchsorted(self.codes[order], np.arange(len(self.values) + 1))
            self._index = (starts, order)
        return self._index

    def counts(self) -> np.ndarray:
        """Rows per distinct value."""
        return np.bincount(self.codes, minlength=len(self.values))

    def value_counts(self) -> dict[str, int]:
        """`counts` by value, empty values left out (tracks per genre or tag)."""
        return {v: int(c) for v, c in zip(self.values.to_list(), self.counts()) if v}


class MaskEvaluator:
    """Evaluates a filter expression over a snapshot; returns the row mask."""

    def __init__(self, snap: "Snapshot", compiler: FilterCompiler) -> None:
        self.snap = snap
        self.compiler = compiler

    def mask(self, node: Expr | None) -> np.ndarray:
        if node is None:
            return np.ones(len(self.snap), dtype=bool)
        true, _ = self.eval(node)
        return true

    @singledispatchmethod
    def eval(self, node: Expr) -> tuple[np.ndarray, np.ndarray]:
        """(rows where the node is true, rows where it is false); the rest are unknown."""
        raise TypeError(f"not a filter node: {type(node).__name__}")

    @eval.register
    def _(self, node: And) -> tuple[np.ndarray, np.ndarray]:
        parts = [self.eval(i) for i in node.items]
        return np.logical_and.reduce([t for t, _ in parts]), np.logical_or.reduce([f for _, f in parts])

    @eval.register
    def _(self, node: Or) -> tuple[np.ndarray, np.ndarray]:
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
        known = ~np.isnan(values)
        hit = known.copy()
        with np.errstate(invalid="ignore"):
            if node.low is not None:
                hit &= values >= node.low
            if node.high is not None:
                hit &= values <= node.high
        return hit, ~hit & known

    @eval.register
    def _(self, node: TextMatch) -> tuple[np.ndarray, np.ndarray]:
        if node.field == "playlist":
            ids = set().union(*(self.compiler.playlist_tracks(node, v) for v in node.values))
            hit = np.zeros(len(self.snap), dtype=bool)
            hit[self.snap.rows_of(ids)] = True
            return hit, ~hit
        index = self.snap.text_index(node.field)
        matched = np.logical_or.reduce([index.matching(node.mode, v) for v in node.values])
        hit = index.rows_where(matched)
        return hit, ~hit
