"""The memory budget: a library over it serves the audio space from its LanceDB index.

The fixture's index is made exact (every IVF partition searched), so the budgeted path must
return the same rows as the in-memory path, for broad filters (through the index), for
selective ones (every passing track, on product-quantisation codes or exact vectors), for
several like/unlike terms, and for tracks indexed after the index was built.
"""

import shutil
import time
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
from attune.engine import Library, LibraryError
from attune.engine.errors import NotAvailableError
from attune.engine.library import parse_size
from attune.engine.spaces import served as attune_served
from attune.engine.storage import TRACKS_SCHEMA
from attune.engine.storage import vectors as vector_indexes
from attune.engine.storage.vectors import VersionGone

N, D = 900, 12


def _rows(start: int, n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 3, (9, D))
    out = []
    for i in range(start, start + n):
        cluster = i % 9
        x = centres[cluster] + rng.normal(0, 1, D)
        out.append(dict.fromkeys(TRACKS_SCHEMA.names) | {
            "updated_at": datetime.now(UTC),  # as the importer and the indexer stamp what they write
            "track_id": f"t{i:04d}", "title": f"Song {i}", "artist": f"Artist {i % 40}", "source": "test",
            "energy": float(rng.uniform()), "valence": float(rng.uniform()), "popularity": int(rng.integers(0, 100)),
            "embedding": x.astype(np.float32).tolist()})
    return out


@pytest.fixture(scope="session")
def _budget_template(tmp_path_factory):
    """The library once per run (optimizing it learns the co-listen space: seconds); each
    test gets a copy of its folder."""
    path = tmp_path_factory.mktemp("budget") / "lib"
    lib = Library.open(path)
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(_rows(0, N, 1), schema=TRACKS_SCHEMA))
    for p in range(6):
        lib.playlists.create(f"List {p}", [f"t{i:04d}" for i in range(p, N, 37)][:20])
    done = lib.optimize()
    assert done["audio"]["rows"] == N and done["audio"]["partitions"] == 30
    return path


@pytest.fixture
def budget_lib(_budget_template, tmp_path, monkeypatch):
    monkeypatch.setattr(vector_indexes, "NPROBES_SHARE", 1.0)  # search every partition: the index is exact
    path = tmp_path / "lib"
    shutil.copytree(_budget_template, path)
    return path


QUERIES = [  # (query, the path the budgeted search takes)
    ('like:track("t0005") in:audio limit:25', "IVF_FLAT"),
    ('like:track("t0005") in:audio energy>0.3 limit:25', "IVF_FLAT"),  # broad: through the index
    ('like:track("t0010") in:audio artist:"Artist 7" limit:10', "exact over the 23 passing"),  # selective
    ('like:playlist("List 2") in:audio limit:30', "IVF_FLAT"),
    ('like:track("t0001") like:track("t0100") unlike:track("t0200") in:audio limit:20', "IVF_FLAT"),
    ('like:track("t0007") in:audio per:artist=1 limit:15', "IVF_FLAT"),
    ('like:track("t0007") in:audio energy>0.95 limit:15', "exact over the"),
]


@pytest.mark.parametrize(("query", "path"), QUERIES)
def test_the_budgeted_path_returns_the_in_memory_rows(budget_lib, query, path, monkeypatch):
    from attune.engine.spaces import served as served_module

    monkeypatch.setattr(served_module, "EXACT_ROWS_READ", 100)  # the fixture is small: filters passing more take the index
    monkeypatch.setattr(vector_indexes, "READ_BATCH", 128)  # the space table's ids are mapped a batch at a time
    memory = Library.open(budget_lib).search(query)
    served = Library.open(budget_lib, memory_budget="1KB").search(query)
    assert served.plan.served is not None and memory.plan.served is None
    assert path in served.plan.served_how
    assert served.frame["track_id"].to_list() == memory.frame["track_id"].to_list()
    np.testing.assert_allclose(served.frame["score"].to_numpy(), memory.frame["score"].to_numpy(), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("take_rows", [20_000, 10])
@pytest.mark.parametrize("query", ["energy>0.2 limit:7", "valence<0.5 limit:40", 'artist:"Artist 3" limit:5', "limit:300"])
def test_filters_over_the_budget_order_like_the_in_memory_path_without_reading_titles(budget_lib, query, take_rows,
                                                                                       monkeypatch):
    """Over the budget, a filter's default order (popularity, artist, title) takes artist and
    title only for the rows as popular as the first few, ties included; the rows are the
    in-memory path's. With too many such rows it reads the columns whole (the same rows)."""
    import importlib

    monkeypatch.setattr(importlib.import_module("attune.engine.search.run"), "TAKE_ROWS", take_rows)
    memory = Library.open(budget_lib).search(query)
    lib = Library.open(budget_lib, memory_budget="1KB")
    lib.snapshot()  # loaded: the search runs on it (a cold library answers filters in LanceDB)
    served = lib.search(query)
    assert served.frame["track_id"].to_list() == memory.frame["track_id"].to_list()
    loaded = set(lib.snapshot().tracks._loaded)
    assert ("title" in loaded) == (take_rows == 10), loaded


def test_selective_filters_rank_every_passing_track_on_codes_then_exactly(budget_lib, monkeypatch):
    from attune.engine.spaces import served as served_module

    monkeypatch.setattr(served_module, "RERANK_MIN", 20)  # the fixture is small: make the codes do the first cut
    query = 'like:track("t0010") in:audio energy<0.5 limit:10'
    memory = Library.open(budget_lib).search(query)
    sizes = Library.open(budget_lib, memory_budget="1KB").budget()  # the track data estimated as over a budget
    between = sizes["tracks"] + sizes["attr"] + sizes["audio_pq"]  # the codes fit, the full space does not
    assert between < sizes["tracks"] + sizes["attr"] + sizes["audio_in_memory"]
    lib = Library.open(budget_lib, memory_budget=between)
    assert lib.budget()["audio"] == "lance" and lib.budget()["pq_codes"]
    served = lib.search(query)
    assert "product-quantisation codes" in (served.plan.served_how or "") and "best 160 again" in served.plan.served_how
    assert served.frame["track_id"].to_list() == memory.frame["track_id"].to_list()


def test_codes_best_candidates_are_read_in_steps_and_rank_as_in_memory(budget_lib, monkeypatch):
    import re

    from attune.engine.spaces import served as served_module

    # Small steps on the small fixture: the first 20 by the codes, then 10 at a time, 100 at most.
    for name, value in (("RERANK", 1), ("RERANK_MIN", 100), ("RERANK_FIRST", 20), ("RERANK_STEP", 10)):
        monkeypatch.setattr(served_module, name, value)
    query = 'like:track("t0010") in:audio energy<0.5 limit:10'
    memory = Library.open(budget_lib).search(query)
    sizes = Library.open(budget_lib, memory_budget="1KB").budget()
    lib = Library.open(budget_lib, memory_budget=sizes["tracks"] + sizes["attr"] + sizes["audio_pq"])
    served = lib.search(query)
    read = int(re.search(r"the best ([\d,]+) again", served.plan.served_how).group(1))
    assert 20 <= read < 100, served.plan.served_how
    assert served.frame["track_id"].to_list() == memory.frame["track_id"].to_list()


def test_tracks_indexed_after_the_index_are_still_found_and_the_plan_says_so(budget_lib):
    lib = Library.open(budget_lib)
    new = _rows(N, 30, 7)
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(new, schema=TRACKS_SCHEMA))
    query = 'like:track("t0905") in:audio limit:120'
    memory = Library.open(budget_lib).search(query)
    budgeted = Library.open(budget_lib, memory_budget="1KB")
    served = budgeted.search(query)
    got = served.frame["track_id"].to_list()
    assert any(t >= f"t{N:04d}" for t in got)  # the newest rows are ranked too
    assert set(got) == set(memory.frame["track_id"].to_list())
    text = budgeted.explain(query)
    assert "served from LanceDB" in text and "since the audio index was built" in text and "attune optimize" in text
    # Under a selective filter every passing track is ranked from the filter's rows (no pass
    # over a 10M-row mask): new tracks, an excluded seed and older ones together, the same
    # rows in the same order as when they are found through the masks.
    import importlib

    run = importlib.import_module("attune.engine.search.run")
    for selective in ('like:track("t0905") in:audio artist:"Artist 26" limit:40',
                      'like:track("t0910") like:track("t0025") in:audio energy>0.5 limit:400'):
        got = budgeted.search(selective)
        assert "exact over the" in got.plan.served_how
        assert any(t >= f"t{N:04d}" for t in got.frame["track_id"].to_list())
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(run, "EXACT_ROWS", 0)  # the rows are not taken from the mask: the masks' path
            through_masks = Library.open(budget_lib, memory_budget="1KB").search(selective)
        assert got.frame["track_id"].to_list() == through_masks.frame["track_id"].to_list()
        np.testing.assert_array_equal(got.frame["score"].to_numpy(), through_masks.frame["score"].to_numpy())


def test_the_plan_says_which_path_and_why(budget_lib):
    text = Library.open(budget_lib, memory_budget="1KB").explain('like:track("t0005") in:audio energy>0.3')
    assert "served from LanceDB" in text and "IVF_FLAT over 900 tracks" in text
    assert "path:     exact over the" in text  # the path this query takes (900 tracks: few enough to rank all)
    assert "served from LanceDB" not in Library.open(budget_lib).explain('like:track("t0005") in:audio')
    assert "served from LanceDB" not in Library.open(budget_lib, memory_budget="8GB").explain('like:track("t0005") in:audio')


def test_over_the_budget_without_an_index_the_plan_says_to_optimize(tmp_path):
    lib = Library.open(tmp_path / "lib", memory_budget="1KB")
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(_rows(0, 50, 1), schema=TRACKS_SCHEMA))
    text = lib.explain('like:track("t0001") in:audio')
    assert "no index yet" in text and "attune optimize" in text
    assert len(lib.search('like:track("t0001") in:audio limit:5')) == 5  # still answered, from memory


def test_memory_sizes_are_read_like_people_write_them():
    assert parse_size("4GB") == 4 * 2**30 and parse_size("512 MiB") == 512 * 2**20 and parse_size("2e9") == 2_000_000_000
    assert parse_size(None) is None and parse_size(1234) == 1234 and parse_size("100") == 100
    with pytest.raises(LibraryError, match="memory size"):
        parse_size("lots")


def test_optimize_adds_new_tracks_to_the_index_and_refits_after_playlist_edits(budget_lib):
    lib = Library.open(budget_lib)
    assert lib.optimize()["audio"].get("current")  # nothing changed since the fixture's optimize
    changed = _rows(100, 25, 11)  # new vectors for old tracks: their rows in the space table are replaced
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(_rows(N, 40, 7) + changed, schema=TRACKS_SCHEMA))
    done = lib.optimize()["audio"]
    assert done["added"] == 65 and done["rows"] == N + 40 and not done.get("rebuilt")
    budgeted = Library.open(budget_lib, memory_budget="1KB")
    query = 'like:track("t0905") in:audio limit:120'
    assert "since the audio index was built" not in budgeted.explain(query)  # the index is current again
    # The rows an exact ranking in the index's own whitening gives (the in-memory path has refitted it).
    from attune.engine.spaces.whitening import Whitener

    whitener = Whitener.from_json(lib.store.vectors.state("audio").whitener)
    table = lib.store.read("tracks", ["track_id", "embedding"])
    z = whitener.transform(np.asarray(table["embedding"].to_pylist(), dtype=np.float64))
    ids = table["track_id"].to_pylist()
    d = ((z - z[ids.index("t0905")]) ** 2).sum(axis=1)
    kth = np.sort(d)[120]  # the seed itself (0) is not a result
    got = budgeted.search(query).frame["track_id"].to_list()
    assert len(got) == 120 and all(d[ids.index(t)] <= kth * (1 + 1e-5) for t in got)  # float32 ties at the edge
    assert any("t0100" <= t < "t0125" for t in got)
    lib.playlists.add("List 0", ["t0003"])
    time.sleep(1.1)  # another Library object sees the edit within a second (CONSISTENCY_SECONDS)
    assert "playlists changed since the audio index was built" in budgeted.explain(query)
    assert lib.optimize()["audio"].get("rebuilt")  # new playlists: the whitening is refitted, the table written anew
    time.sleep(1.1)  # another process's optimize is seen within a second
    assert "playlists changed" not in budgeted.explain(query)


def test_attune_optimize_on_the_command_line(budget_lib):
    from attune.tui.cli import cli
    from click.testing import CliRunner

    out = CliRunner().invoke(cli, ["optimize", "--library", str(budget_lib), "--full"])
    assert out.exit_code == 0, out.output
    assert "audio: 900 tracks written and indexed (IVF_FLAT, 30 partitions)" in out.output
    assert "scalar indexes (energy (BTREE)" in out.output
    assert ("co-listen: 900 tracks placed (120 learned from the playlists, kept beside the index; 780 estimated by the "
            "cold-start mapping and indexed: IVF_FLAT, 28 partitions)") in out.output
    assert "attribute space: the parts of 900 tracks written and the whitening fitted in" in out.output
    again = CliRunner().invoke(cli, ["optimize", "--library", str(budget_lib)])
    assert "attribute space: the parts of 900 tracks are current" in again.output, again.output


@pytest.mark.parametrize(("table", "damage"), [("space_audio", "data"), ("space_audio", "index"),
                                              ("space_audio", "manifest"), ("space_audio", "gone"),
                                              ("space_colisten", "index"), ("space_colisten_exact", "data")])
def test_a_plain_optimize_writes_anew_a_space_table_it_would_call_current_but_cannot_be_read(budget_lib, table, damage):
    """Without `--full` an index whose state is current was left as it was even when its
    table could not serve a search: `attune optimize` checks the table first (its rows, its
    index, a few rows' files) and writes a damaged or missing one anew, saying why."""
    from attune.tui.cli import cli
    from click.testing import CliRunner

    space = "colisten" if "colisten" in table else "audio"
    query = f'like:track("t0005") in:{space} limit:5'
    healthy = Library.open(budget_lib).optimize()  # an intact library: nothing to repair, nothing written
    assert healthy["audio"].get("current") and healthy["colisten"].get("current")
    assert "repaired" not in healthy["audio"] and "repaired" not in healthy["colisten"]
    if damage == "gone":
        shutil.rmtree(budget_lib / f"{table}.lance")
    else:
        folder = {"manifest": "_versions", "index": "_indices"}.get(damage, "data")
        files = [p for p in (budget_lib / f"{table}.lance" / folder).rglob("*") if p.is_file()]
        assert files
        for path in files:
            with open(path, "r+b") as f:
                f.write(b"garbage!" * 1000)
    out = CliRunner().invoke(cli, ["optimize", "--library", str(budget_lib)])
    assert out.exit_code == 0, out.output
    label = "co-listen" if space == "colisten" else "audio"
    assert f"{label}: the index could not be used (" in out.output
    other = "audio" if space == "colisten" else "co-listen"
    assert f"{other}: the index of 900 tracks is current" in out.output or f"{other}: the index of 780" in out.output
    served = Library.open(budget_lib, memory_budget="1KB").search(query)
    assert served.plan.served is not None and served.frame.height == 5
    assert Library.open(budget_lib).optimize()[space].get("current")  # and the next one finds it sound


def test_the_attribute_space_over_the_budget_keeps_no_attribute_column_and_refits_the_same(budget_lib):
    """Over the budget the attribute space reads each attribute column for itself only
    (10M tracks' columns would stay in memory: 700 MB) and whitens its matrix in place; a
    playlist edit refits it from rows taken by position. Its answers stay the in-memory ones."""
    query = 'like:track("t0003") limit:15'
    lib = Library.open(budget_lib, memory_budget="1KB")
    lib.snapshot()
    assert lib.search(query).frame["track_id"].to_list() == Library.open(budget_lib).search(query).frame["track_id"].to_list()
    assert not {"valence", "energy"} & set(lib.snapshot().tracks._loaded)
    lib.playlists.create("Edit", [f"t{i:04d}" for i in range(0, 300, 7)])
    after = lib.search('like:playlist("Edit") limit:15')
    fresh = Library.open(budget_lib).search('like:playlist("Edit") limit:15')
    assert after.frame["track_id"].to_list() == fresh.frame["track_id"].to_list()
    np.testing.assert_allclose(after.frame["score"].to_numpy(), fresh.frame["score"].to_numpy(), rtol=1e-4, atol=1e-4)


def test_the_co_listen_space_past_the_budget_without_an_index_is_refused_with_what_to_do(tmp_path):
    """Over a budget the co-listen space would not fit, a library that has no co-listen index
    yet says so (and what to run) instead of building the space; within one it runs."""
    path = tmp_path / "lib"
    lib = Library.open(path)
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(_rows(0, 300, 1), schema=TRACKS_SCHEMA))
    for p in range(4):
        lib.playlists.create(f"List {p}", [f"t{i:04d}" for i in range(p, 300, 13)][:20])
    with pytest.raises(Exception, match=r"co-listen space of 300 tracks does not fit .* no index yet: run `attune optimize`") as caught:
        Library.open(path, memory_budget="1KB").search('like:track("t0003") in:colisten limit:5')
    assert type(caught.value).__name__ == "NotAvailableError"
    assert Library.open(path, memory_budget="4GB").search('like:track("t0003") in:colisten limit:5').frame.height == 5


def test_lancedbs_caches_are_held_within_the_budget(budget_lib):
    """LanceDB keeps IVF partitions and index pages in its own caches (6 GB and 1 GB by
    default); within a budget they get a share of it, and stay under it however many
    searches run."""
    from attune.engine import library as library_module

    lib = Library.open(budget_lib, memory_budget="600KB")
    assert lib.store.session is not None and Library.open(budget_lib).store.session is None
    lib.snapshot()
    for i in range(0, 300, 7):
        lib.search(f'like:track("t{i:04d}") in:audio limit:5')
        lib.search(f"energy>{i / 300:.2f} limit:5")
    budget = 600 * 2**10
    assert 0 < lib.store.session.size_bytes <= budget // library_module.INDEX_CACHE_SHARE + budget // library_module.METADATA_CACHE_SHARE


@pytest.mark.parametrize("case", ["aligned", "gaps", "shuffled", "deleted and new"])
def test_the_space_tables_ids_map_to_the_same_rows_however_they_are_ordered(budget_lib, case):
    """Batches in the tracks table's order are matched by comparing runs of ids; any batch
    that differs is looked up id by id. Both give the rows an id-by-id lookup gives."""
    import polars as pl
    from attune.engine.storage.rowcopy import places

    snap = Library.open(budget_lib).snapshot()
    ids = snap.frame["track_id"].to_list()
    rng = np.random.default_rng(3)
    table = {"aligned": ids, "gaps": [t for i, t in enumerate(ids) if i % 97 not in (5, 6)],
             "shuffled": list(rng.permutation(ids)),
             "deleted and new": ids[:300] + ["gone-1", "gone-2"] + ids[310:600] + ["gone-3"] + ids[600:]}[case]
    batches = [pl.Series("track_id", table[i : i + 64]) for i in range(0, len(table), 64)]
    expected = np.full(len(ids), -1)
    where = {t: i for i, t in enumerate(ids)}
    for place, t in enumerate(table):
        if t in where:
            expected[where[t]] = place
    assert np.array_equal(places(snap.tracks.column("track_id"), snap.tracks.rows_or_missing, iter(batches), len(snap)), expected)


def test_a_space_table_in_the_tracks_order_is_mapped_without_looking_ids_up(budget_lib):
    import polars as pl
    from attune.engine.storage.rowcopy import places

    snap = Library.open(budget_lib).snapshot()
    ids = snap.frame["track_id"].to_list()

    def looked_up(*_):
        raise AssertionError("an aligned batch was looked up id by id")

    batches = [pl.Series("track_id", ids[i : i + 100]) for i in range(0, len(ids), 100)]
    assert np.array_equal(places(snap.tracks.column("track_id"), looked_up, iter(batches), len(snap)), np.arange(len(ids)))


def test_row_ids_map_to_places_over_runs_and_batches():
    from attune.engine.storage.vectors import RowIds

    fragments = [np.arange(0, 300) + (3 << 32), np.delete(np.arange(0, 500), [7, 8, 200]) + (5 << 32), np.arange(40) + (9 << 32)]
    table = np.concatenate(fragments).astype(np.uint64)  # the row ids of a table in place order
    ids = RowIds()
    for i in range(0, len(table), 128):  # batches cut across the fragments
        ids.add(table[i : i + 128])
    assert ids.runs < 20
    order = np.random.default_rng(0).permutation(len(table))
    assert np.array_equal(ids.places(table[order]), order)
    strangers = np.array([(5 << 32) + 7, (5 << 32) + 500, 2 << 32, (9 << 32) + 40, 0], dtype=np.uint64)
    assert (ids.places(strangers) == -1).all()


def test_over_the_budget_a_column_read_for_its_numbers_is_not_kept_as_well(budget_lib):
    over, memory = Library.open(budget_lib, memory_budget="1KB").snapshot(), Library.open(budget_lib).snapshot()
    for name in ("energy", "popularity", "tempo"):  # no NaN, whole numbers, all unknown
        np.testing.assert_array_equal(over.numbers(name), memory.numbers(name))
        assert name not in over.tracks._loaded and f"numbers.{name}" in over.tracks._sizes
    assert over.tracks.nbytes() >= sum(over.numbers(n).nbytes for n in ("energy", "popularity", "tempo"))
    over.tracks.column("energy")  # asked for as a column: read and kept; the numbers are not read again
    assert "energy" in over.tracks._loaded


def test_vectors_taken_by_row_id_come_back_in_the_order_asked_repeats_included(budget_lib):
    from attune.engine.storage.vectors import RowIds, id_batches, take

    lib = Library.open(budget_lib)
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(_rows(100, 30, 11), schema=TRACKS_SCHEMA))
    lib.optimize()  # the changed rows deleted and appended: two fragments, with deletions
    table = lib.store.vectors.open("audio")
    rowids = RowIds()
    list(id_batches(table, rowids))
    places = np.array([5, 899, 3, 3, 450, 0, 899, 120])
    by_offset = take(table, places, D)
    np.testing.assert_array_equal(take(table, places, D, rowids), by_offset)
    np.testing.assert_array_equal(rowids.places(rowids.rowids(places)), places)


def test_training_co_listen_vectors_does_not_make_tracks_look_newer_than_the_audio_index(budget_lib):
    lib = Library.open(budget_lib)
    lib.search('like:track("t0005") in:colisten limit:5')  # trains the co-listen space and stores its vectors
    assert lib.store.count("tracks", "array_length(colisten) > 0") > 0
    text = Library.open(budget_lib, memory_budget="1KB").explain('like:track("t0005") in:audio')
    assert "since the audio index was built" not in text


def test_over_the_budget_float32_columns_are_kept_as_float32_and_filter_the_same_rows(tmp_path):
    """A column whose every value is a float32 (whole numbers; attributes a model computed in
    float32) is held in half the memory over the budget; filters with bounds on its values,
    between them and past them return the in-memory path's rows, NOT and unknowns included."""
    rng = np.random.default_rng(5)
    rows = []
    for i in range(400):
        rows.append(dict.fromkeys(TRACKS_SCHEMA.names) | {
            "updated_at": datetime.now(UTC), "track_id": f"f{i:04d}", "title": f"Song {i}", "artist": f"A{i % 9}",
            "source": "test", "popularity": None if i % 11 == 0 else int(rng.integers(0, 100)),
            "valence": float(np.float32(rng.choice([0.1, 0.4, 0.7]) if i % 3 == 0 else rng.uniform())),
            "energy": float(rng.uniform())})  # float64 values: kept as they are
    lib = Library.open(tmp_path / "lib")
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(rows, schema=TRACKS_SCHEMA))
    over = Library.open(tmp_path / "lib", memory_budget="1KB")
    memory = Library.open(tmp_path / "lib")
    snap = over.snapshot()
    assert snap.numbers("popularity").dtype == np.float32 and snap.numbers("valence").dtype == np.float32
    assert snap.numbers("energy").dtype == np.float64
    assert snap.tracks._sizes["numbers.valence"] == 400 * 4
    valences = sorted({float(np.float32(v)) for v in (0.1, 0.4, 0.7)})
    queries = [f"valence:{v}..{v} limit:500" for v in (0.1, 0.4, 0.7, *valences)]
    queries += [f"valence<={v} limit:500" for v in (0.1, 0.4, *valences)] + [f"valence>{v} limit:500" for v in (0.4, *valences)]
    queries += ["popularity:42..42 limit:500", "-popularity<50 limit:500", "popularity!=7 limit:500", "valence:0.4..0.7 limit:500"]
    for query in queries:
        got = over.search(query)
        assert got.plan.executor == "memory", query
        assert sorted(got.frame["track_id"].to_list()) == sorted(memory.search(query).frame["track_id"].to_list()), query


@pytest.mark.parametrize(("budget", "resident_mb", "released"), [(None, 10_000, 0), ("1GB", 500, 0), ("1GB", 900, 2)])
def test_near_its_budget_a_search_and_an_expansion_give_freed_memory_back(budget_lib, monkeypatch, budget, resident_mb,
                                                                          released):
    """Past SETTLE_SHARE of the budget resident, the allocators' freed memory goes back to the
    system after a search and before and after an expansion; not sooner (the next search
    would fault it in again), never without a budget."""
    import importlib

    library_module = importlib.import_module("attune.engine.library")
    calls = []
    monkeypatch.setattr(library_module, "resident", lambda: resident_mb * 2**20)
    monkeypatch.setattr(library_module, "release", lambda: calls.append(1))
    lib = Library.open(budget_lib, memory_budget=budget)
    lib.search("energy>0.5 limit:5")
    assert len(calls) == min(released, 1)
    lib.expand("List 1", limit=5)
    assert len(calls) == released + min(released, 1)


def test_release_returns_the_c_heaps_free_pages_where_the_c_library_can():
    import platform

    from attune.engine.storage import reads

    reads.release()  # never fails, whatever the C library
    assert (reads._malloc_trim() is not None) == (platform.libc_ver()[0] == "glibc")
    assert reads.resident() is None or reads.resident() > 10 * 2**20


def test_a_search_while_optimize_rebuilds_the_index_reads_the_table_its_index_state_names(budget_lib, monkeypatch):
    """`attune optimize --full` writes the space table anew (a new whitening after playlist
    edits) before it records the new index state: a search in between, in another process
    or library, still ranks on the table the recorded state was built from (the rows and
    scores of before), not on half-written rows whitened another way."""
    from attune.engine.spaces import served as served_module

    monkeypatch.setattr(served_module, "EXACT_ROWS_READ", 100)
    query, colisten = 'like:track("t0005") in:audio limit:20', 'like:track("t0005") in:colisten limit:20'
    before = Library.open(budget_lib, memory_budget="1KB").search(query)
    before_colisten = Library.open(budget_lib, memory_budget="1KB").search(colisten)
    lib = Library.open(budget_lib)
    for p in range(6):  # other playlists: the whitening is refitted, every vector moves
        lib.playlists.create(f"Other {p}", [f"t{i:04d}" for i in range(3 * p, N, 11)][:30])
    during = []
    partitions_for = vector_indexes.partitions_for

    def in_the_middle(rows):  # called once every row is written, before the index is built and recorded
        during.append(Library.open(budget_lib, memory_budget="1KB").search(colisten if during else query))
        return partitions_for(rows)

    monkeypatch.setattr(vector_indexes, "partitions_for", in_the_middle)
    lib.optimize(full=True)
    assert len(during) == 2  # the audio and the co-listen tables
    assert during[0].frame["track_id"].to_list() == before.frame["track_id"].to_list()
    np.testing.assert_allclose(during[0].frame["score"].to_numpy(), before.frame["score"].to_numpy(), rtol=1e-6)
    assert during[1].plan.served is not None
    assert during[1].frame["track_id"].to_list() == before_colisten.frame["track_id"].to_list()
    after = Library.open(budget_lib, memory_budget="1KB").search(query)
    memory = Library.open(budget_lib).search(query)
    assert after.frame["track_id"].to_list() == memory.frame["track_id"].to_list()
    assert not np.allclose(after.frame["score"].to_numpy(), before.frame["score"].to_numpy(), rtol=1e-3)


def test_a_space_table_version_removed_under_a_reader_is_read_again_then_refused_as_retryable(budget_lib, monkeypatch):
    from attune.engine.storage.place import BusyError

    monkeypatch.setattr(attune_served, "EXACT_ROWS_READ", 100)
    query = 'like:track("t0005") in:audio limit:5'
    lib = Library.open(budget_lib, memory_budget="1KB")
    opened = lib.store.vectors.open
    failures = []

    def gone_once(space, version=-1):
        if not failures:
            failures.append(version)
            raise VersionGone(f"version {version} was removed")
        return opened(space, version)

    monkeypatch.setattr(lib.store.vectors, "open", gone_once)
    assert lib.search(query).frame.height == 5 and failures  # the state read again, its version found

    def gone(space, version=-1):
        raise VersionGone(f"version {version} was removed")

    again = Library.open(budget_lib, memory_budget="1KB")
    monkeypatch.setattr(again.store.vectors, "open", gone)
    with pytest.raises(BusyError, match="retry"):
        again.search(query)


def test_a_removed_space_table_version_is_told_from_a_damaged_one(budget_lib):
    """LanceDB says the same kind of error for a version cleaned up and a manifest it cannot
    read: the table's own list of versions tells them apart."""
    from attune.engine.storage.store import DamagedError

    lib = Library.open(budget_lib, memory_budget="1KB")
    state = lib.store.vectors.state("audio")
    assert lib.store.vectors.open("audio", state.table_version).count_rows() == state.rows
    with pytest.raises(VersionGone):
        lib.store.vectors.open("audio", state.table_version + 1000)
    lib.store.vectors._table("audio").add(lib.store.vectors.open("audio").head(1))  # a newer version, still readable
    manifest = budget_lib / "space_audio.lance" / "_versions" / f"{2**64 - 1 - state.table_version}.manifest"
    manifest.write_bytes(b"not a manifest" * 10)  # the state's version (LanceDB names them counting down from 2^64-1)
    again = Library.open(budget_lib, memory_budget="1KB")
    assert again.store.vectors.open("audio").version == state.table_version + 1
    with pytest.raises(DamagedError, match="space_audio.*attune optimize --full"):
        again.store.vectors.open("audio", state.table_version)


@pytest.mark.parametrize("damage", ["manifest", "data", "index"])
def test_a_search_over_a_damaged_space_table_says_which_table_and_that_optimize_writes_it_anew(budget_lib, damage,
                                                                                               monkeypatch):
    """Not a retryable BusyError for ever (a manifest), not LanceDB's own error (a data file,
    read when the space is mapped; an index file, read by the search itself)."""
    from attune.engine.storage.store import DamagedError

    monkeypatch.setattr(attune_served, "EXACT_ROWS_READ", 100)  # the fixture is small: through the index
    folder = {"manifest": "_versions", "index": "_indices"}.get(damage, "data")
    files = [p for p in (budget_lib / "space_audio.lance" / folder).rglob("*") if p.is_file()]
    assert files
    for path in files:
        with open(path, "r+b") as f:
            f.write(b"garbage!" * 1000)
    lib = Library.open(budget_lib, memory_budget="1KB")
    with pytest.raises(DamagedError, match="space_audio table .* cannot be read .*`attune optimize --full` writes it anew"):
        lib.search('like:track("t0005") in:audio limit:5')
    assert lib.search("energy>0.5 limit:5").frame.height > 0  # the library's own tables still answer
    Library.open(budget_lib, memory_budget="1KB").optimize(full=True)  # the way out the error gives
    assert Library.open(budget_lib, memory_budget="1KB").search('like:track("t0005") in:audio limit:5').frame.height == 5


def test_evaluating_expansion_over_the_budget_is_refused_where_the_co_listen_space_is_served(budget_lib):
    """The evaluation ranks with the whole co-listen space in memory: over the budget, where
    searches are served from its index, it says so instead of building it."""
    with pytest.raises(NotAvailableError, match="whole colisten space"):
        Library.open(budget_lib, memory_budget="1KB").evaluate_expansion(min_size=10, k=20)
    result = Library.open(budget_lib).evaluate_expansion(min_size=10, k=20)
    assert "recall" in str(result)


def test_warm_reads_each_served_index_through_once_when_it_fits_in_free_memory(budget_lib, monkeypatch):
    """`attune serve`'s warm reads the served indexes through (a search probing every
    partition) and the row copy's files, so that the page cache holds them: once per
    build, only where the system has the memory free, and only for a library on a local
    disk."""
    import attune.engine.library as library_module
    from attune.engine.storage.reads import read_through

    probes: list[tuple[int, int]] = []
    real = attune_served.search
    monkeypatch.setattr(attune_served, "search", lambda table, centre, k, nprobes: probes.append((len(centre), nprobes))
                        or real(table, centre, k, nprobes))
    files: list = []
    monkeypatch.setattr(library_module, "read_through", lambda paths: files.extend(paths) or read_through(paths))
    monkeypatch.setattr(library_module, "available", lambda: 2**40)
    lib = Library.open(budget_lib, memory_budget="1KB")
    took = lib.warm()
    audio = lib.store.vectors.state("audio")
    assert "index pages" in took and (audio.dims, audio.partitions) in probes  # every partition of the audio index
    assert {p for _, p in probes} >= {audio.partitions, lib.store.vectors.state("colisten").partitions}
    assert files and {f.parent for f in files} == {budget_lib / "track_rows.lance" / "data"}  # the result rows
    assert read_through(files) == sum(f.stat().st_size for f in files)
    probes.clear()
    files.clear()
    assert "index pages" not in lib.warm() and not probes and not files  # read once per build
    assert lib.search('like:track("t0005") in:audio limit:5').frame.height == 5

    # Not where the index would not fit in half of what the system has available...
    monkeypatch.setattr(library_module, "available", lambda: audio.rows * audio.dims * 4)
    small = Library.open(budget_lib, memory_budget="1KB")
    assert "index pages" not in small.warm() and not probes and not files
    # ... nor where /proc does not say, nor on object storage (no page cache of ours to fill)
    monkeypatch.setattr(library_module, "available", lambda: None)
    assert "index pages" not in Library.open(budget_lib, memory_budget="1KB").warm() and not probes
    monkeypatch.setattr(library_module, "available", lambda: 2**40)
    remote = Library.open(budget_lib, memory_budget="1KB")
    monkeypatch.setattr(remote.store.place, "local", None)
    assert "index pages" not in remote.warm() and not probes
    # within the budget nothing is served, so nothing is read through
    assert "index pages" not in Library.open(budget_lib).warm() and not probes
