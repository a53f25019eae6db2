"""Dictionary-encoded text columns: the distinct lower-case values of a column and,
per entry, its value's code.

A text predicate is matched against the distinct values (tens of thousands of artists,
not a million rows) and mapped back to rows with one gather; a list column (genres,
tags) has one entry per (row, value). Built once per snapshot per field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc


@dataclass
class TextIndex:
    """Distinct lower-case values of a text column and, per entry, its value's code."""

    values: pl.Series  # distinct values; position = code
    codes: np.ndarray  # (entries,) code of each entry
    rows: np.ndarray | None  # (entries,) row of each entry, in row order; None: one entry per row
    n_rows: int
    _index: tuple[np.ndarray, np.ndarray] | None = None
    _counts: np.ndarray | None = None

    @classmethod
    def of_scalars(cls, series: pl.Series | pa.Array | pa.ChunkedArray) -> TextIndex:
        text = series.to_arrow() if isinstance(series, pl.Series) else series
        return cls._encode(pc.fill_null(text, ""), None, len(text))

    @classmethod
    def of_scalar_batches(cls, scan: Callable[[Callable[[pa.Array], None]], object], n_rows: int) -> TextIndex:
        """`of_scalars` over a column read a batch at a time (`scan(each)` calls `each` with
        every batch in row order): each batch is dictionary-encoded and dropped, its distinct
        values merged into those seen so far, so the whole column is never held. Read whole
        and combined, 10M tracks' albums peaked 486 MB over what the process held."""
        known = pa.array([], pa.large_string())  # the distinct values met so far, in order of first meeting
        parts: list[np.ndarray] = []

        def each(batch: pa.Array) -> None:
            nonlocal known
            encoded = pc.dictionary_encode(pc.fill_null(batch, ""))
            distinct = encoded.dictionary.cast(pa.large_string())
            found = pc.index_in(distinct, value_set=known)
            fresh = ~np.asarray(found.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
            place = found.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int32)
            place[fresh] = len(known) + np.arange(int(fresh.sum()), dtype=np.int32)
            if fresh.any():
                known = pa.concat_arrays([known, distinct.filter(pa.array(fresh))])
            parts.append(place[encoded.indices.to_numpy(zero_copy_only=False)])

        scan(each)
        indices = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
        if len(indices) != n_rows:
            raise ValueError(f"read {len(indices)} values of a column of {n_rows} rows")
        return cls(*_lowered(known, indices), None, n_rows)

    @classmethod
    def of_lists(cls, series: pl.Series | pa.Array | pa.ChunkedArray) -> TextIndex:
        lists = series.to_arrow() if isinstance(series, pl.Series) else series
        lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
        rows = pc.list_parent_indices(lists).to_numpy().astype(np.int32)
        return cls._of_entries(rows, pc.list_flatten(lists), len(lists))

    def with_entries(self, rows: np.ndarray, values: np.ndarray) -> TextIndex:
        """This index with more (row, value) entries (the genres tracks inherit from playlists)."""
        if not len(rows):
            return self
        assert self.rows is not None
        extra = self._of_entries(np.asarray(rows, dtype=np.int32), pa.array(list(values), pa.large_string()), self.n_rows)
        assert extra.rows is not None
        merged = pl.concat([self.values, extra.values]).unique().sort()
        codes = np.concatenate([_places(merged, self.values)[self.codes], _places(merged, extra.values)[extra.codes]])
        return TextIndex(merged, *_once_per_row(codes, np.concatenate([self.rows, extra.rows]), len(merged)), self.n_rows)

    @classmethod
    def _of_entries(cls, rows: np.ndarray, values: pa.Array | pa.ChunkedArray, n_rows: int) -> TextIndex:
        """Entries (row, value), missing values left out and a value repeated in one row kept once."""
        index = cls._encode(values, rows, n_rows)
        assert index.rows is not None
        present = np.asarray(pc.is_valid(values).to_numpy(zero_copy_only=False), dtype=bool)
        return cls(index.values, *_once_per_row(index.codes[present], index.rows[present], len(index.values)), n_rows)

    @classmethod
    def _encode(cls, text: pa.Array | pa.ChunkedArray, rows: np.ndarray | None, n_rows: int) -> TextIndex:
        """Codes of lower-cased values: the column is dictionary-encoded as it is (Arrow, no
        copy of a string per entry), and only its distinct values are lowered and merged,
        so a 10M-row column costs 4 bytes an entry, not a string."""
        encoded = pc.dictionary_encode(text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text)
        # Missing values (left out by the caller) get code 0 here.
        return cls(*_lowered(encoded.dictionary, encoded.indices.fill_null(0).to_numpy(zero_copy_only=False)), rows, n_rows)

    def entries_of(self, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(the position in `rows` of each entry's row, the entries) for the entries of these
        rows (None: every row, positions being rows). A list field's entries are in row
        order, so each row's entries are found by binary search."""
        assert self.rows is not None, "a scalar field has one entry per row"
        if rows is None:
            return self.rows, np.arange(len(self.rows))
        rows = np.asarray(rows, dtype=np.int64)
        lo, hi = np.searchsorted(self.rows, rows, "left"), np.searchsorted(self.rows, rows, "right")
        counts = hi - lo
        at = np.repeat(np.arange(len(rows)), counts)
        entries = np.repeat(lo, counts) + np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        return at, entries

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
            # np.take and np.compress: twice and four times as fast as fancy and boolean
            # indexing over 2M genre entries
            hit = np.take(matched, self.codes)
            if self.rows is None:
                return hit
            out = np.zeros(self.n_rows, dtype=bool)
            out[np.compress(hit, self.rows)] = True
            return out
        entries = np.concatenate([order[starts[c] : starts[c + 1]] for c in codes]) if len(codes) else order[:0]
        out = np.zeros(self.n_rows, dtype=bool)
        out[entries if self.rows is None else self.rows[entries]] = True
        return out

    def _postings(self) -> tuple[np.ndarray, np.ndarray]:
        """Entries sorted by code, and where each code's run starts (an inverted index)."""
        if self._index is None:
            self._index = postings(self.codes, len(self.values))
        return self._index

    def counts(self) -> np.ndarray:
        """Entries per distinct value (computed once)."""
        if self._counts is None:
            self._counts = np.bincount(self.codes, minlength=len(self.values))
        return self._counts

    def value_counts(self) -> dict[str, int]:
        """`counts` by value, empty values left out (tracks per genre or tag)."""
        return {v: int(c) for v, c in zip(self.values.to_list(), self.counts()) if v}


#: Entries sorted at a time while postings are built (`postings`).
POSTINGS_CHUNK = 1 << 18


def postings(codes: np.ndarray, distinct: int, chunk: int = POSTINGS_CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """(starts, order): the entries sorted by code, stably (a code's entries in entry
    order), and where each code's run starts. A counting sort, a chunk of entries at a
    time: each chunk is sorted on its own (numpy sorts 8- and 16-bit integers by radix:
    genres' and tags' codes fit) and its entries are placed after the earlier chunks' of
    the same code. The places are 32-bit and the temporaries a chunk's size: for 20M genre
    entries (10M tracks) one sort of them all peaked at 305 MB (64-bit places, then narrowed,
    and the codes in their order for the starts), this at 153 MB in 0.42x the time
    (`bench/bench_sorts.py`)."""
    codes = np.asarray(codes)
    starts = np.zeros(distinct + 1, dtype=np.int64)
    np.cumsum(np.bincount(codes, minlength=distinct), out=starts[1:])
    place = np.int32 if len(codes) < 2**31 else np.int64
    order = np.empty(len(codes), dtype=place)
    narrow = next((t for t in (np.uint8, np.uint16) if distinct <= np.iinfo(t).max + 1), None)
    free = starts[:-1].astype(place)  # the next place of each code
    step = np.arange(min(chunk, len(codes)), dtype=place)
    for begin in range(0, len(codes), chunk):
        part = codes[begin : begin + chunk]
        local = np.argsort(part.astype(narrow) if narrow is not None else part, kind="stable").astype(place)
        ordered = part[local]
        here = np.bincount(part, minlength=distinct).astype(place)
        first = np.cumsum(here, dtype=place) - here  # where each code's entries begin in the sorted chunk
        at = free[ordered]
        at += step[: len(part)]
        at -= first[ordered]
        local += begin
        order[at] = local
        free += here
    return starts, order


def sorted_distinct(strings: pl.Series) -> tuple[pl.Series, np.ndarray]:
    """(the distinct strings sorted, the place of each string among them as int32 codes):
    one sort of the strings, each run of equal ones a code. Sorting the distinct ones and
    searching every string among them took 9.2 s for 5M distinct titles; this 2.6 s
    (`bench/bench_sorts.py`)."""
    if not len(strings):
        return strings.clear(), np.zeros(0, dtype=np.int32)
    order = strings.arg_sort().to_numpy()
    ordered = strings.gather(order)
    first = np.ones(len(ordered), dtype=bool)  # where each run of equal strings begins
    if len(ordered) > 1:
        first[1:] = (ordered.slice(1) != ordered.slice(0, len(ordered) - 1)).to_numpy()
    codes = np.empty(len(ordered), dtype=np.int32)
    codes[order] = np.cumsum(first, dtype=np.int32) - 1
    return ordered.filter(pl.Series(first)), codes


def _lowered(dictionary: pa.Array, indices: np.ndarray) -> tuple[pl.Series, np.ndarray]:
    """(the distinct lower-cased values, sorted; each entry's code among them) of entries
    given as a dictionary and each entry's index into it: only the dictionary is lowered."""
    values, remap = sorted_distinct(pl.Series("v", dictionary.cast(pa.large_string())).str.to_lowercase())
    codes = remap[indices] if len(remap) else np.zeros(len(indices), dtype=np.int32)
    return values, codes.astype(np.int32, copy=False)


def _places(values: pl.Series, of: pl.Series) -> np.ndarray:
    """Where each of `of` is in the sorted distinct `values` (int32 codes)."""
    return values.search_sorted(of).to_numpy().astype(np.int32) if len(of) else np.zeros(0, dtype=np.int32)


def _once_per_row(codes: np.ndarray, rows: np.ndarray, n_values: int) -> tuple[np.ndarray, np.ndarray]:
    """(codes, rows) in row order (then code), every (row, code) entry once: the entries'
    keys (row, code) sorted and told apart by value, rows and codes read back from them
    (no gather of the entries by a sort order: at 10M tracks 0.5 s where that took 1.2 s;
    the keys arrive nearly in row order, which numpy's stable sort takes in close to linear
    time, and already in order they are kept as they are)."""
    if len(codes) < 2:
        return codes, rows
    width = n_values + 1
    keys = rows.astype(np.int64) * width + codes
    if np.all(keys[1:] > keys[:-1]):
        return codes, rows
    keys = np.sort(keys, kind="stable")
    first = np.empty(len(keys), dtype=bool)
    first[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    keys = keys[first]
    at = keys // width
    return (keys - at * width).astype(codes.dtype, copy=False), at.astype(rows.dtype, copy=False)
