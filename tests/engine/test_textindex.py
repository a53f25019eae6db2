"""Text indexes (dictionary encoding of text and list columns) against a plain-Python reference."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
from attune.engine.storage.textindex import TextIndex
from hypothesis import given, settings
from hypothesis import strategies as st

WORDS = ["Rock", "rock", "Pop", "jazz", "Jazz", "", "Hip Hop", "ÉLAN", "élan"]
word = st.sampled_from(WORDS)


def entries(index: TextIndex) -> set[tuple[int, str]]:
    rows = index.rows if index.rows is not None else np.arange(len(index.codes))
    values = index.values.to_list()
    found = [(int(r), values[c]) for r, c in zip(rows, index.codes)]
    assert len(found) == len(set(found)), "an entry repeated in one row"
    return set(found)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(st.one_of(st.none(), word), max_size=4)), max_size=25),
       st.lists(st.tuples(st.integers(0, 24), word), max_size=8))
def test_list_index_matches_reference(lists, extra):
    series = pl.Series("genres", lists, dtype=pl.List(pl.String))
    want = {(i, v.lower()) for i, values in enumerate(lists) for v in values or () if v is not None}
    index = TextIndex.of_lists(series)
    assert entries(index) == want
    assert index.values.to_list() == sorted({v for _, v in want})
    assert entries(TextIndex.of_lists(series.to_arrow())) == want  # straight from Arrow, as a lazy library reads it
    extra = [(r, v) for r, v in extra if r < len(lists)]
    both = index.with_entries(np.array([r for r, _ in extra], dtype=np.int64), np.array([v for _, v in extra], dtype=object))
    assert entries(both) == want | {(r, v.lower()) for r, v in extra}
    for ix in (index, both):  # entries in row order; a row's entries found by binary search
        assert ix.rows is not None and np.all(np.diff(ix.rows) >= 0)
        asked = np.array(sorted({r for r, _ in extra} | {0}))[::-1] if lists else np.zeros(0, dtype=np.int64)
        at, found = ix.entries_of(asked)
        got = {(int(asked[a]), ix.values[int(ix.codes[e])]) for a, e in zip(at, found)}
        assert got == {(r, v) for r, v in entries(ix) if r in set(asked.tolist())}
    if want:
        hit = both.rows_where(both.matching("exact", "rock"))
        assert set(np.flatnonzero(hit)) == {r for r, v in entries(both) if v == "rock"}


@given(st.lists(st.one_of(st.none(), word), max_size=25))
def test_scalar_index_matches_reference(values):
    index = TextIndex.of_scalars(pl.Series("artist", values, dtype=pl.String))
    assert index.rows is None and len(index.codes) == len(values)
    assert [index.values[int(c)] for c in index.codes] == [(v or "").lower() for v in values]
    arrow = TextIndex.of_scalars(pa.array(values, pa.string()))
    assert np.array_equal(arrow.codes, index.codes)


def test_postings_find_the_rows_whatever_the_number_of_distinct_values():
    """The inverted index sorts 8- and 16-bit codes by radix and wider ones as they are."""
    rng = np.random.default_rng(0)
    for distinct in (200, 3_000, 70_000):
        values = [f"v{i}" for i in rng.integers(0, distinct, 150_000)]
        index = TextIndex.of_scalars(pl.Series("artist", values))
        asked = ["v7", "v150", f"v{distinct - 1}"]
        hit = index.rows_where(index.matching_any("exact", asked))
        assert np.array_equal(np.flatnonzero(hit), [i for i, v in enumerate(values) if v in asked]), distinct


def test_postings_are_a_stable_sort_by_code_built_a_chunk_at_a_time():
    """The inverted index equals one stable sort of every entry by code, whatever the chunk
    size (several chunks, a chunk of one entry, one chunk for all), with codes no entry has
    (empty runs) and none at all."""
    from attune.engine.storage.textindex import postings

    rng = np.random.default_rng(3)
    for distinct, n in ((5, 1_000), (300, 20_000), (70_000, 50_000), (4, 0)):
        codes = rng.integers(0, max(distinct - 2, 1), n).astype(np.int32)  # the last codes unused
        want = np.argsort(codes, kind="stable")
        for chunk in (1, 777, 4_096, max(n, 1)):
            if chunk == 1 and n > 1_000:
                continue
            starts, order = postings(codes, distinct, chunk=chunk)
            assert order.dtype == np.int32 and len(starts) == distinct + 1
            np.testing.assert_array_equal(order, want)
            np.testing.assert_array_equal(starts, np.searchsorted(codes[want], np.arange(distinct + 1)))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), word), max_size=40), st.integers(1, 7))
def test_scalar_index_read_a_batch_at_a_time_is_the_whole_columns(values, batch):
    """A scalar column encoded batch by batch (a lazy library's read: the column never
    held whole) gives the index of the column read whole: the same values, the same code
    for every row, a value first met in a later batch included."""
    whole = TextIndex.of_scalars(pa.array(values, pa.string()))

    def scan(each):
        for start in range(0, len(values), batch):
            each(pa.array(values[start : start + batch], pa.string()))

    batched = TextIndex.of_scalar_batches(scan, len(values))
    assert batched.rows is None and batched.values.to_list() == whole.values.to_list()
    np.testing.assert_array_equal(batched.codes, whole.codes)
    assert batched.codes.dtype == np.int32


def test_scalar_index_read_in_batches_refuses_a_short_read():
    import pytest

    with pytest.raises(ValueError, match="3 values of a column of 4 rows"):
        TextIndex.of_scalar_batches(lambda each: each(pa.array(["a", "B", None])), 4)


@given(st.lists(st.sampled_from(["b", "a", "", "é", "ab", "A", "b "]), max_size=30))
def test_sorted_distinct_is_the_sorted_unique_values_and_each_ones_place(strings):
    from attune.engine.storage.textindex import sorted_distinct

    series = pl.Series("v", strings, dtype=pl.String)
    values, codes = sorted_distinct(series)
    assert values.to_list() == series.unique().sort().to_list()
    assert codes.dtype == np.int32 and [values[int(c)] for c in codes] == strings
