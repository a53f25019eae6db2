"""The row copy: result rows over the memory budget are read from one encoded column.

Every test compares what a library over its budget returns (rows from the copy, and from
the tracks table for what the copy lacks) with what the same library returns in memory:
every column, NaN and null apart.
"""

import shutil
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from attune.engine import Library
from attune.engine.storage import TRACKS_SCHEMA, rowcopy
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

N = 400


def _rows(start: int, n: int, seed: int, title: str = "Song") -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(start, start + n):
        out.append(dict.fromkeys(TRACKS_SCHEMA.names) | {
            "updated_at": datetime.now(UTC), "track_id": f"t{i:04d}", "source": "test",
            "title": f"{title} {i} \u00e9\"\\n" if i % 5 else None, "artist": f"Artist {i % 30}",
            "genres": [["soul", "funk"], [], None, ["h\u00e9"]][i % 4], "year": 1960 + i % 60 if i % 7 else None,
            "energy": float("nan") if i % 11 == 0 else float(rng.uniform()), "valence": float(rng.uniform()),
            "tempo": None if i % 3 == 0 else float(rng.uniform(60, 180)), "popularity": int(rng.integers(0, 100)),
            "embedding": rng.normal(0, 1, 8).astype(np.float32).tolist()})
    return out


@pytest.fixture(scope="module")
def _template(tmp_path_factory):
    path = tmp_path_factory.mktemp("rowcopy") / "lib"
    lib = Library.open(path)
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(_rows(0, N, 1), schema=TRACKS_SCHEMA))
    lib.playlists.create("Mix", [f"t{i:04d}" for i in range(0, N, 9)])
    done = lib.optimize()
    assert done["rows"]["rows"] == N and done["rows"]["rebuilt"]
    return path


@pytest.fixture
def lib_path(_template, tmp_path):
    """A copy of the library for each test (optimizing it learns the co-listen space: seconds)."""
    path = tmp_path / "lib"
    shutil.copytree(_template, path)
    return path


QUERIES = ["limit:500", "energy>0.5 limit:40", 'like:track("t0005") in:audio limit:30', 'like:track("t0012") limit:25',
           "genre:soul limit:60"]


def _same(over: Library, memory: Library, query: str) -> None:
    over.snapshot(), memory.snapshot()  # loaded: a cold library answers filters in LanceDB
    got, want = over.search(query).frame, memory.search(query).frame
    assert_frame_equal(got.drop("score"), want.drop("score"), check_exact=True)


def _same_rows(over: Library, memory: Library) -> None:
    """Every row, taken in a shuffled order, as the in-memory snapshot has it."""
    rows = np.random.default_rng(0).permutation(len(memory.snapshot()))
    assert_frame_equal(over.snapshot().gather(rows), memory.snapshot().gather(rows), check_exact=True)


def _spy(monkeypatch) -> list[int]:
    """How many rows each take from the copy asked for."""
    taken: list[int] = []
    original = rowcopy.CopyReader.take

    def take(self, offsets, schema):
        taken.append(len(offsets))
        return original(self, offsets, schema)

    monkeypatch.setattr(rowcopy.CopyReader, "take", take)
    return taken


@pytest.mark.parametrize("query", QUERIES)
def test_rows_over_the_budget_are_the_in_memory_rows(lib_path, query, monkeypatch):
    taken = _spy(monkeypatch)
    over = Library.open(lib_path, memory_budget="1KB")
    memory = Library.open(lib_path)
    _same(over, memory, query)
    assert sum(taken) > 0  # read from the copy
    _same_rows(over, memory)
    assert over.snapshot().tracks._copy.identity  # the copy of the snapshot's own version: row i is place i


def test_tracks_written_after_the_copy_are_read_from_the_tracks_table(lib_path, monkeypatch):
    lib = Library.open(lib_path)
    changed = _rows(100, 50, 7, title="Changed")
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(changed + _rows(N, 20, 8), schema=TRACKS_SCHEMA))
    lib.store.delete("tracks", "track_id IN ('t0003', 't0004')")
    taken = _spy(monkeypatch)
    over, memory = Library.open(lib_path, memory_budget="1KB"), Library.open(lib_path)
    _same_rows(over, memory)
    for query in [q for q in QUERIES if "in:audio" not in q] + ["title:Changed limit:100"]:
        _same(over, memory, query)  # (the audio index is behind: it ranks with the whitening it was built under)
    assert not over.snapshot().tracks._copy.identity
    frame = over.search("title:Changed limit:100").frame
    assert frame.height == 40 and 0 < sum(taken)  # titles of rows 100-149 that have one, none from the old copy

    # `attune optimize` brings the copy up to date: the changed rows are replaced in it.
    done = Library.open(lib_path).optimize()
    assert not done["rows"].get("rebuilt") and done["rows"]["replaced"] == 70 and done["rows"]["rows"] == N + 20
    taken.clear()
    over, memory = Library.open(lib_path, memory_budget="1KB"), Library.open(lib_path)
    _same(over, memory, "title:Changed limit:100")
    assert sum(taken) == 40  # every row from the copy now
    _same_rows(over, memory)
    assert Library.open(lib_path).optimize()["rows"]["current"]


def test_a_copy_brought_up_to_date_after_rows_moved_is_not_taken_for_the_tracks_order(lib_path):
    """Co-listen vectors are stored without a new write time, and storing them moves the
    updated rows to the end of the tracks table: a refresh that replaced nothing must not
    call the copy ordered (row i would be read from place i: another track's row)."""
    lib = Library.open(lib_path)
    lib.playlists.create("Other", [f"t{i:04d}" for i in range(1, N, 7)])
    lib.search('like:track("t0001") in:colisten limit:5')  # learns the space again and stores its vectors
    before = rowcopy.RowCopies.refresh
    refreshed = []

    def refresh(self, state):
        got = before(self, state)
        refreshed.append(got)
        return got

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rowcopy.RowCopies, "refresh", refresh)
        done = Library.open(lib_path).optimize()
    assert refreshed[0][1] == 0 and not refreshed[0][0].ordered  # nothing replaced, but the order is gone
    assert done["rows"]["rebuilt"]  # so the copy was written anew in the new order
    over, memory = Library.open(lib_path, memory_budget="1KB"), Library.open(lib_path)
    _same_rows(over, memory)
    for query in QUERIES:
        _same(over, memory, query)
    assert over.snapshot().tracks._copy.identity


def test_rows_changed_in_place_after_the_copy_are_read_from_the_tracks_table(lib_path):
    """A file touched (its size and date) and columns set in place also stamp the row, so
    the copy's older row is not read for them."""
    lib = Library.open(lib_path)
    lib.store.update_file("t0007", 12345, 1.5e9)
    lib.store.update_columns("tracks", "track_id", pa.table({"track_id": ["t0008"], "energy_slope": [0.25]}))
    over, memory = Library.open(lib_path, memory_budget="1KB"), Library.open(lib_path)
    _same_rows(over, memory)
    rows = over.snapshot().rows_of(["t0007", "t0008"])
    got = over.snapshot().gather(rows)
    assert got["file_size"].to_list()[0] == 12345 and got["energy_slope"].to_list()[1] == 0.25


def test_without_a_copy_rows_come_from_the_tracks_table(tmp_path, monkeypatch):
    lib = Library.open(tmp_path / "lib")
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(_rows(0, 60, 1), schema=TRACKS_SCHEMA))
    taken = _spy(monkeypatch)
    _same(Library.open(tmp_path / "lib", memory_budget="1KB"), Library.open(tmp_path / "lib"), "limit:100")
    assert taken == []


def test_a_copy_newer_than_the_snapshot_is_not_read(lib_path, monkeypatch):
    over = Library.open(lib_path, memory_budget="1KB")
    snap = over.snapshot()
    writer = Library.open(lib_path)
    writer.store.upsert("tracks", "track_id", pa.Table.from_pylist(_rows(0, 30, 5, title="Newer"), schema=TRACKS_SCHEMA))
    writer.optimize(full=True)
    assert snap.tracks._open_copy is not None  # not opened yet: it is opened on the first take, after the write
    taken = _spy(monkeypatch)
    frame = snap.gather(np.arange(30))
    assert taken == [] and not any("Newer" in (t or "") for t in frame["title"].to_list())


_VALUES = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=False, width=64))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.text(max_size=12)), _VALUES,
                          st.one_of(st.none(), st.lists(st.text(max_size=5), max_size=3)),
                          st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
                          st.one_of(st.none(), st.integers(-(2**62), 2**62))), min_size=1, max_size=20))
def test_decoding_gives_back_what_was_encoded(rows):
    schema = {"s": pl.String, "f": pl.Float64, "l": pl.List(pl.String), "i": pl.Int32, "j": pl.Int64}
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    back = rowcopy.decode(rowcopy.encode(frame, list(schema)), schema)
    assert_frame_equal(back, frame, check_exact=True)
