"""Dictionary-encoded text columns: the distinct lower-case values of a column and,
per entry, its value's code.

A text predicate is matched against the distinct values (tens of thousands of artists,
not a million rows) and mapped back to rows with one gather; a list column (genres,
tags) has one entry per (row, value). Built once per snapshot per field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl


@dataclass
class TextIndex:
    """Distinct lower-case values of a text column and, per entry, its value's code."""

    values: pl.Series  # distinct values; position = code
    codes: np.ndarray  # (entries,) code of each entry
    rows: np.ndarray | None  # (entries,) row of each entry; None: one entry per row
    n_rows: int
    _index: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def of_scalars(cls, series: pl.Series) -> TextIndex:
        text = series.fill_null("").str.to_lowercase()
        return cls._encode(text, None, len(series))

    @classmethod
    def of_lists(cls, series: pl.Series) -> TextIndex:
        return cls.of_pairs(cls.pairs(series), len(series))

    @staticmethod
    def pairs(series: pl.Series, rows: np.ndarray | None = None) -> pl.DataFrame:
        """(row, v) for every value of a list column; `rows` gives each list's row."""
        frame = pl.DataFrame({"v": series.fill_null([])})
        frame = frame.with_row_index("row") if rows is None else frame.with_columns(pl.Series("row", rows, dtype=pl.UInt32))
        return frame.explode("v").drop_nulls("v").select(pl.col("row").cast(pl.Int64), "v")

    @classmethod
    def of_pairs(cls, pairs: pl.DataFrame, n_rows: int) -> TextIndex:
        """An index of a list field from its (row, v) pairs, values lowered and deduplicated per row."""
        frame = pairs.with_columns(pl.col("v").str.to_lowercase()).unique(["row", "v"], maintain_order=True)
        return cls._encode(frame["v"], frame["row"].to_numpy().astype(np.int64), n_rows)

    @classmethod
    def _encode(cls, text: pl.Series, rows: np.ndarray | None, n_rows: int) -> TextIndex:
        values = text.unique().sort()
        codes = text.rank("dense").to_numpy().astype(np.int64) - 1 if len(text) else np.zeros(0, dtype=np.int64)
        return cls(values, codes, rows, n_rows)

    def matching(self, mode: str, value: str) -> np.ndarray:
        """Which distinct values match (bool per code)."""
        return self.matching_any(mode, [value])

    def matching_any(self, mode: str, values: list[str] | tuple[str, ...]) -> np.ndarray:
        """Which distinct values match any of `values` (bool per code), in one pass over
        the distinct values however many there are: a set lookup for exact values, one
        Aho-Corasick scan for substrings, one alternation for regular expressions."""
        lows = [v.lower() for v in values]
        if mode == "exact":
            hit = self.values.is_in(lows)
        elif mode == "contains":
            if "" in lows:
                return np.ones(len(self.values), dtype=bool)
            hit = self.values.str.contains(lows[0], literal=True) if len(lows) == 1 else self.values.str.contains_any(lows)
        else:
            hit = self.values.str.contains("(?i)" + "|".join(f"(?:{v})" for v in values))
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
