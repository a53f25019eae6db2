"""The co-listen space over the memory budget, served from its LanceDB index.

`attune optimize` writes every track's co-listen position (learned from the playlists, or
estimated by the cold-start mapping for tracks in none) to the space table, with one more
coordinate carrying an estimate's residual. With every IVF partition searched (the
fixture's index is exact), a budgeted search must return the in-memory space's rows and
scores: learned and estimated tracks ranked together, filters, like/unlike terms, artist
targets (which pull in related artists), tracks added after the index was built.
"""

import numpy as np
import pyarrow as pa
import pytest
from attune.engine import Library
from attune.engine.spaces import served as served_module
from attune.engine.storage import TRACKS_SCHEMA
from attune.engine.storage import vectors as vector_indexes

from .test_budget import N, _budget_template, _rows, budget_lib  # noqa: F401  (the fixture: 900 tracks, 6 playlists, optimized)

QUERIES = [  # (query, the path the budgeted search takes)
    ('like:track("t0003") in:colisten limit:12', "IVF_FLAT"),  # a track in a playlist
    ('like:track("t0500") in:colisten limit:12', "IVF_FLAT"),  # a track in none: an estimated seed
    ('like:track("t0500") in:colisten limit:200', "IVF_FLAT"),  # learned and estimated positions together
    ('like:playlist("List 2") in:colisten energy>0.3 limit:20', "IVF_FLAT"),
    ('like:track("t0010") in:colisten artist:"Artist 7" limit:10', "exact over the"),  # selective
    ('like:track("t0001") like:track("t0100") unlike:track("t0200") in:colisten limit:15', "IVF_FLAT"),
    ('like:track("t0007") in:colisten per:artist=1 limit:15', "IVF_FLAT"),
    ('like:artist("Artist 3") in:colisten limit:15', "related artists ranked exactly"),
    ('like:artist("Artist 3") in:colisten energy>0.5 limit:15', "related artists ranked exactly"),
    ('like:artist("Artist 3") unlike:artist("Artist 5") like:track("t0001") in:colisten limit:15', "related artists"),
]


def _same(served, memory) -> None:
    assert served.plan.served is not None and memory.plan.served is None
    assert served.frame["track_id"].to_list() == memory.frame["track_id"].to_list()
    np.testing.assert_allclose(served.frame["score"].to_numpy(), memory.frame["score"].to_numpy(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(("query", "path"), QUERIES)
def test_the_served_co_listen_space_returns_the_in_memory_rows(budget_lib, query, path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(served_module, "EXACT_ROWS_READ", 100)  # the fixture is small: filters passing more take the index
    memory = Library.open(budget_lib).search(query)
    served = Library.open(budget_lib, memory_budget="1KB").search(query)
    _same(served, memory)
    assert path in served.plan.served_how
    if "limit:200" in query:  # learned and estimated tracks ranked together (an estimate's residual included)
        lib = Library.open(budget_lib)
        learned = set(lib.store.read("tracks", ["track_id"], where="array_length(colisten) > 0")["track_id"].to_pylist())
        got = set(served.frame["track_id"].to_list())
        assert got & learned and got - learned


def test_optimize_records_learned_and_estimated_positions(budget_lib):  # noqa: F811
    lib = Library.open(budget_lib)
    state = lib.store.vectors.state("colisten")
    assert state is not None and state.dims == 33 and state.partitions > 0
    assert state.extra["learned"] == 120 and state.extra["estimated"] == state.rows == N - 120
    z = np.asarray(lib.store.vectors.open("colisten").to_arrow()["z"].to_pylist(), dtype=np.float32)
    # the index holds the estimates, their last coordinate sqrt(residual) ...
    np.testing.assert_allclose(z[:, -1], np.sqrt(state.extra["residual"]), rtol=1e-5)
    # ... in the tracks table's order (a served space maps it to rows by comparing runs of ids)
    order = [t for t in lib.store.read("tracks", ["track_id"])["track_id"].to_pylist()]
    ids = lib.store.vectors.open("colisten").to_arrow()["track_id"].to_pylist()
    learned, exact = lib.store.vectors.read_exact("colisten", state.extra["exact_version"], 33)
    assert ids == [t for t in order if t not in set(learned)]
    # the learned positions beside it, last coordinate 0
    assert len(learned) == 120 and (exact[:, -1] == 0).all()


def test_tracks_added_after_the_index_are_placed_and_found_then_optimize_adds_them(budget_lib, monkeypatch):  # noqa: F811
    monkeypatch.setattr(served_module, "EXACT_ROWS_READ", 100)
    lib = Library.open(budget_lib)
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(_rows(N, 30, 7), schema=TRACKS_SCHEMA))
    query = 'like:track("t0905") in:colisten limit:60'  # a new track as the seed
    budgeted = Library.open(budget_lib, memory_budget="1KB")
    served = budgeted.search(query)
    _same(served, Library.open(budget_lib).search(query))
    assert any(t >= f"t{N:04d}" for t in served.frame["track_id"].to_list())
    assert "30 tracks indexed or changed since the colisten index" in budgeted.explain(query)
    done = Library.open(budget_lib).optimize()
    assert done["colisten"]["added"] == 30 and done["colisten"]["rows"] == N + 30 - 120  # (estimates; 120 learned beside)
    again = Library.open(budget_lib, memory_budget="1KB")
    assert "since the colisten index" not in again.explain(query)
    _same(again.search(query), Library.open(budget_lib).search(query))
    assert Library.open(budget_lib).optimize()["colisten"]["added"] == 0


def test_after_a_playlist_edit_the_plan_says_the_positions_are_of_then_and_optimize_learns_them_again(budget_lib):  # noqa: F811
    query = 'like:track("t0003") in:colisten limit:12'
    Library.open(budget_lib).playlists.create("Edit", [f"t{i:04d}" for i in range(0, 300, 7)])
    budgeted = Library.open(budget_lib, memory_budget="1KB")
    stale = budgeted.search(query)
    assert stale.plan.served is not None and stale.frame.height == 12
    assert any("positions, whitening and cold-start mapping are those of then" in n for n in stale.plan.notes)
    done = Library.open(budget_lib).optimize()
    assert done["colisten"]["rebuilt"] and done["colisten"]["learned"] > 120
    fresh = Library.open(budget_lib, memory_budget="1KB").search(query)
    assert not any("those of then" in n for n in fresh.plan.notes)
    _same(fresh, Library.open(budget_lib).search(query))


def test_the_median_behind_the_artist_pull_is_measured_on_a_sample_past_its_size(budget_lib, monkeypatch):  # noqa: F811
    """Past served.SAMPLE tracks the median distance is taken over a seeded sample: the
    same artists still come first."""
    query = 'like:artist("Artist 3") in:colisten limit:10'
    whole = Library.open(budget_lib, memory_budget="1KB").search(query)
    monkeypatch.setattr(served_module, "SAMPLE", 300)
    sampled = Library.open(budget_lib, memory_budget="1KB").search(query)
    assert set(sampled.frame["artist"].to_list()) == set(whole.frame["artist"].to_list())


def test_with_every_playlist_gone_optimize_drops_the_index(budget_lib, monkeypatch):  # noqa: F811
    monkeypatch.setattr(vector_indexes, "NPROBES_SHARE", 1.0)
    lib = Library.open(budget_lib)
    for p in list(lib.playlists.all()):
        lib.playlists.delete(p.name)
    assert "colisten" not in Library.open(budget_lib).optimize()
    assert Library.open(budget_lib).store.vectors.state("colisten") is None


def test_a_changed_track_in_no_playlist_is_placed_again_and_one_in_a_playlist_keeps_its_position(budget_lib, monkeypatch):  # noqa: F811
    """An estimate comes from the track's data: a track changed since the index (here its
    attributes) is placed again from its data now; a learned position comes from the
    playlists and stays."""
    monkeypatch.setattr(served_module, "EXACT_ROWS_READ", 100)
    lib = Library.open(budget_lib)
    lib.store.update_columns("tracks", "track_id", pa.table({"track_id": ["t0500", "t0003"], "energy": [0.99, 0.99],
                                                             "valence": [0.01, 0.01]}))  # (stamped: written now)
    budgeted = Library.open(budget_lib, memory_budget="1KB")
    for query in ('like:track("t0500") in:colisten limit:30', 'like:track("t0003") in:colisten limit:30'):
        _same(budgeted.search(query), Library.open(budget_lib).search(query))
    assert "1 tracks indexed or changed since the colisten index" in budgeted.explain('like:track("t0500") in:colisten')
    assert Library.open(budget_lib).store.count("tracks", "array_length(colisten) > 0") == 120  # t0003 still learned
    done = Library.open(budget_lib).optimize()
    assert done["colisten"]["added"] == 1 and done["colisten"]["rows"] == N - 120
    again = Library.open(budget_lib, memory_budget="1KB")
    assert "since the colisten index" not in again.explain('like:track("t0500") in:colisten')
    _same(again.search('like:track("t0500") in:colisten limit:30'), Library.open(budget_lib).search('like:track("t0500") in:colisten limit:30'))


def test_what_needs_a_whole_served_space_in_memory_is_refused_over_the_budget(budget_lib):  # noqa: F811
    """Paths, sequencing, maps and analysis need every vector of their space in memory: over
    the budget the audio and co-listen spaces are only served for searches, so those say so
    instead of building them (16 GB of audio vectors at 10M tracks); the attribute space,
    held in parts, still serves them."""
    from attune.engine.errors import NotAvailableError

    over = Library.open(budget_lib, memory_budget="1KB")
    for space in ("audio", "colisten"):
        with pytest.raises(NotAvailableError, match=f"whole {space} space of 900 tracks in memory"):
            over.path_between("t0001", "t0002", steps=4, space=space)
        with pytest.raises(NotAvailableError, match=f"whole {space} space"):
            over.sequence("List 1", space=space)
        with pytest.raises(NotAvailableError, match=f"a path in the {space} space needs the whole space"):
            over.search(f'path:track("t0001")..track("t0002") in:{space} limit:4')
    with pytest.raises(NotAvailableError, match="whole colisten space"):
        over.analyze(spaces=("attr", "colisten"))
    assert over.path_between("t0001", "t0002", steps=4, space="attr").track_ids[0] == "t0001"
    assert over.analyze(spaces=("attr",)) is not None
    within = Library.open(budget_lib, memory_budget="4GB")
    assert within.path_between("t0001", "t0002", steps=4, space="colisten").track_ids[-1] == "t0002"


def test_a_damaged_table_of_learned_positions_is_named_and_optimize_full_writes_it_anew(budget_lib):  # noqa: F811
    """The learned positions live in their own table beside the index: damage to it names
    that table (not the index's), and `attune optimize --full` writes both anew."""
    from attune.engine.storage.store import DamagedError

    files = [p for p in (budget_lib / "space_colisten_exact.lance" / "data").rglob("*") if p.is_file()]
    assert files
    for path in files:
        with open(path, "r+b") as f:
            f.write(b"garbage!" * 1000)
    with pytest.raises(DamagedError, match=r"the space_colisten_exact table .* cannot be read .*attune optimize --full"):
        Library.open(budget_lib, memory_budget="1KB").search('like:track("t0003") in:colisten limit:5')
    Library.open(budget_lib, memory_budget="1KB").optimize(full=True)
    assert Library.open(budget_lib, memory_budget="1KB").search('like:track("t0003") in:colisten limit:5').frame.height == 5
