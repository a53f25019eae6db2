"""The attribute space over the memory budget, held in parts (`spaces/compact.py`): the
same vectors, the same rows and scores as the in-memory space, in a fraction of the memory.

The fixture has what the parts must get right: more genres than the space has genre
dimensions (some are left out), tracks with no genre (the mean profile), genres inherited
from playlists, missing attribute values (the mean), and tracks with identical vectors
(ties, broken by row as in memory)."""

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from attune.engine import Library
from attune.engine.spaces import space
from attune.engine.spaces.attributes import MAX_GENRE_DIMS, attribute_matrix, attribute_parts
from attune.engine.spaces.compact import CompactVectors
from attune.engine.storage import TRACKS_SCHEMA

N = 700
GENRES = [f"g{i:02d}" for i in range(MAX_GENRE_DIMS + 8)]


def _rows() -> list[dict]:
    rng = np.random.default_rng(11)
    out = []
    for i in range(N):
        if i % 13 == 0:
            genres = []  # no genre: the library's mean profile
        else:
            genres = sorted({GENRES[int(min(rng.exponential(9), len(GENRES) - 1))] for _ in range(int(rng.integers(1, 4)))})
        twin = i % 50 == 7 and i > 7  # the same vector as the track before it: a tie
        out.append(dict.fromkeys(TRACKS_SCHEMA.names) | {
            "updated_at": datetime.now(UTC), "track_id": f"t{i:04d}", "title": f"Song {i}", "artist": f"Artist {i % 30}",
            "source": "test", "genres": out[-1]["genres"] if twin else genres,
            **{name: (out[-1][name] if twin else (None if rng.random() < 0.1 else float(rng.uniform(lo, hi))))
               for name, lo, hi in [("energy", 0, 1), ("valence", 0, 1), ("vocalness", 0, 1), ("tempo", 60, 180)]},
            "popularity": int(rng.integers(0, 100)), "year": int(rng.integers(1960, 2024))})
    return out


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return _make(tmp_path_factory.mktemp("compact") / "lib")


def _make(path):
    lib = Library.open(path)
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(_rows(), schema=TRACKS_SCHEMA))
    rng = np.random.default_rng(2)
    lib.playlists.upsert_imported({f"p{k}": {"name": f"List {k}", "track_ids": [f"t{i:04d}" for i in rng.choice(N, 25, replace=False)],
                                             "genres": ["inherited soul"] if k % 3 == 0 else []} for k in range(12)}, source="test")
    return path


def test_the_parts_give_the_whole_matrixs_vectors_exactly(library):
    over, memory = Library.open(library, memory_budget="1KB").snapshot(), Library.open(library).snapshot()
    parts, whole = space(over, "attr"), space(memory, "attr")
    assert isinstance(parts.z, CompactVectors) and isinstance(whole.z, np.ndarray)
    assert parts.dims == whole.dims and sum(d.startswith("genre:") for d in parts.dims) == MAX_GENRE_DIMS
    assert "genre:inherited soul" in parts.dims
    np.testing.assert_array_equal(parts.whitener.matrix, whole.whitener.matrix)
    rows = np.array([0, 13, 5, 699, 57, 56, 13])
    np.testing.assert_array_equal(parts.z[rows], whole.z[rows])
    np.testing.assert_allclose(parts.z[np.ix_(rows, [0, 3])], whole.z[np.ix_(rows, [0, 3])], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(parts.z[5], whole.z[5])
    # |z|^2 through the parts (no row whitened): the matrix's up to rounding
    np.testing.assert_allclose(parts.sqnorm, whole.sqnorm, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(parts.z.parts.rows(rows), attribute_matrix(memory, rows)[0])
    v = np.random.default_rng(0).normal(size=len(parts.dims)).astype(np.float32)
    np.testing.assert_allclose(parts.z @ v, whole.z @ v, rtol=1e-4, atol=1e-3)
    per_track = parts.z.parts.numbers.nbytes + parts.z.parts.profile.nbytes  # (the profiles: one per distinct genre set)
    assert per_track * 4 < whole.z.nbytes and parts.z.nbytes == per_track + parts.z.parts.profiles.nbytes


QUERIES = [
    'like:track("t0003") limit:15',
    'like:track("t0056") limit:40',  # t0057 has its vector: a tie at distance 0
    'like:playlist("List 3") -genre:g00 limit:30',
    'like:track("t0010") unlike:track("t0200") energy>0.3 limit:20',
    'like:artist("Artist 4") per:artist=1 limit:12',
    'like:track("t0020") genre:g01 limit:500',  # more than the candidates ranked again: every passing track
]


@pytest.mark.parametrize("query", QUERIES)
def test_searches_over_the_budget_return_the_in_memory_rows_and_scores(library, query):
    over, memory = Library.open(library, memory_budget="1KB"), Library.open(library)
    over.snapshot()  # loaded, over the budget: searches run on it
    got, want = over.search(query), memory.search(query)
    assert isinstance(space(over.snapshot(), "attr").z, CompactVectors)
    assert got.frame["track_id"].to_list() == want.frame["track_id"].to_list()
    # (a product over a few rows may round its last bit otherwise than over all of them)
    np.testing.assert_allclose(got.frame["score"].to_numpy(), want.frame["score"].to_numpy(), rtol=1e-6, atol=1e-5)


def test_the_parts_distances_only_pick_candidates_ranked_again_on_exact_vectors(library, monkeypatch):
    """The parts' distances round otherwise than the matrix's; they only pick the best
    candidates, which are ranked again on their exact vectors. Made off by up to 1 on
    purpose here, they still give the in-memory rows in the in-memory order."""
    rng = np.random.default_rng(4)
    product = CompactVectors.__matmul__
    monkeypatch.setattr(CompactVectors, "__matmul__",
                        lambda self, v: product(self, v) + rng.uniform(-0.5, 0.5, len(self)).astype(np.float32))
    over, memory = Library.open(library, memory_budget="1KB"), Library.open(library)
    over.snapshot()
    for query in ('like:track("t0033") limit:25', 'like:playlist("List 1") limit:10'):
        assert over.search(query).frame["track_id"].to_list() == memory.search(query).frame["track_id"].to_list()


@pytest.mark.parametrize("query", ['like:track("t0003") weight:energy=3 limit:15', 'like:track("t0003") weight:genre=0.5 limit:15'])
def test_weights_whiten_every_row_and_say_so(library, query):
    over, memory = Library.open(library, memory_budget="1KB"), Library.open(library)
    over.snapshot()
    got, want = over.search(query), memory.search(query)
    assert got.frame["track_id"].to_list() == want.frame["track_id"].to_list()
    np.testing.assert_array_equal(got.frame["score"].to_numpy(), want.frame["score"].to_numpy())
    assert any("held in parts" in note for note in got.plan.notes)


def test_expansion_over_the_budget_is_the_in_memory_expansion(library):
    over, memory = Library.open(library, memory_budget="1KB"), Library.open(library)
    for name in ("List 0", "List 5"):
        got, want = over.expand(name, limit=20), memory.expand(name, limit=20)
        assert got.frame["track_id"].to_list() == want.frame["track_id"].to_list()
        np.testing.assert_allclose(got.frame["score"].to_numpy(), want.frame["score"].to_numpy(), rtol=1e-5)


def test_the_budget_counts_the_parts_not_a_matrix(library):
    over = Library.open(library, memory_budget="1KB")
    snap = over.snapshot()
    assert over.budget(snap)["attr"] < N * 40 * 4  # before it is built: estimated, in parts
    attr = space(snap, "attr")
    after = over.budget(snap)["attr"]
    assert after == attr.z.nbytes + attr.sqnorm.nbytes < N * len(attr.dims) * 4


def test_the_plan_says_the_attribute_space_is_held_in_parts(library):
    over, memory = Library.open(library, memory_budget="1KB"), Library.open(library)
    over.snapshot()
    query = 'like:track("t0003") limit:5'
    assert "held in parts" in over.explain(query) and "ranked again on their exact vectors" in over.explain(query)
    assert "held in parts" not in memory.explain(query)


def test_a_stored_whitening_is_used_without_a_pass_over_the_parts_for_their_moments(library, monkeypatch):
    """The moments of the raw vectors only fit a whitening: a process that finds the
    whitening stored (`Library._stored_whiteners`) builds the space in parts without them
    (a pass over every track, 1.3 s at 10M), and ranks as the process that fitted it."""
    from attune.engine.spaces import whitening

    query = 'like:track("t0003") limit:10'
    first = Library.open(library, memory_budget="1KB").search(query)  # fits and stores the whitening
    passes = []
    real = whitening.Moments.add
    monkeypatch.setattr(whitening.Moments, "add", lambda self, block: (passes.append(len(block)), real(self, block))[1])
    again = Library.open(library, memory_budget="1KB")
    assert again.search(query).frame["track_id"].to_list() == first.frame["track_id"].to_list()
    assert passes == []
    again.fit()  # fitting anew still takes them
    assert N in passes


@pytest.fixture
def optimized(tmp_path):
    """The library after `attune optimize` (which stores the attribute parts)."""
    path = _make(tmp_path / "lib")
    return path, Library.open(path).optimize()


def _computing(monkeypatch) -> list[int]:
    """Counts the times the parts are computed from the columns (instead of read)."""
    import importlib

    module = importlib.import_module("attune.engine.spaces.space")
    calls: list[int] = []
    real = module.attribute_parts
    monkeypatch.setattr(module, "attribute_parts", lambda snap: (calls.append(len(snap)), real(snap))[1])
    return calls


def test_optimize_stores_the_parts_and_a_fresh_process_builds_the_space_from_them(optimized, monkeypatch):
    """Over the budget the first attribute-space query read every attribute column and the
    genre lists (seconds at 10M tracks): after `attune optimize` it reads the parts it
    stored, the same parts, and ranks the same rows."""
    path, done = optimized
    assert done["attr"]["rows"] == N and done["attr"].get("rebuilt")
    computed = _computing(monkeypatch)
    over, memory = Library.open(path, memory_budget="1KB"), Library.open(path)
    for query in QUERIES:
        assert over.search(query).frame["track_id"].to_list() == memory.search(query).frame["track_id"].to_list()
    assert computed == []
    stored = space(over.snapshot(), "attr").z.parts
    fresh = attribute_parts(Library.open(path, memory_budget="1KB").snapshot())
    np.testing.assert_array_equal(stored.numbers, fresh.numbers)
    np.testing.assert_array_equal(stored.profiles[stored.profile], fresh.profiles[fresh.profile])
    assert stored.names == fresh.names
    assert Library.open(path).optimize()["attr"].get("current")


def test_stored_parts_are_not_read_for_other_tracks_or_other_inherited_genres(optimized, monkeypatch):
    """The parts are the tracks' at one version (row for row) and, where playlists give
    their tracks genres, those playlists': a new track, or a playlist's genres changed,
    and they are computed from the columns again until the next `attune optimize`."""
    path, _ = optimized
    computed = _computing(monkeypatch)
    lib = Library.open(path)
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist([dict.fromkeys(TRACKS_SCHEMA.names) | {
        "updated_at": datetime.now(UTC), "track_id": "new1", "title": "New", "artist": "Someone", "source": "test",
        "genres": ["g00"], "energy": 0.5, "valence": 0.5}], schema=TRACKS_SCHEMA))
    query = 'like:track("new1") limit:5'
    over = Library.open(path, memory_budget="1KB")
    got = over.search(query)
    assert computed == [N + 1] and got.frame["track_id"].to_list() == Library.open(path).search(query).frame["track_id"].to_list()
    # the plan says where the parts it holds came from (once it holds them)
    assert any("parts were computed from the attribute columns: `attune optimize` stores them" in n for n in over.search(query).plan.notes)
    assert Library.open(path).optimize()["attr"].get("rebuilt")
    computed.clear()
    over = Library.open(path, memory_budget="1KB")
    over.search(query)
    assert computed == []
    assert any("(the parts as `attune optimize` stored them)" in n for n in over.search(query).plan.notes)
    lib = Library.open(path)
    lib.playlists.upsert_imported({"p1": {"name": "List 1", "track_ids": lib.playlists.get("List 1").track_ids,
                                          "genres": ["newly inherited"]}}, source="test")
    query = 'like:playlist("List 1") limit:10'
    assert (Library.open(path, memory_budget="1KB").search(query).frame["track_id"].to_list()
            == Library.open(path).search(query).frame["track_id"].to_list())
    assert computed == [N + 1]


def test_a_damaged_parts_table_is_computed_around_and_written_anew_by_optimize(optimized, monkeypatch):
    path, _ = optimized
    for file in (path / "space_attr_parts.lance" / "data").rglob("*"):
        if file.is_file():
            with open(file, "r+b") as f:
                f.write(b"garbage!" * 1000)
    query = 'like:track("t0003") limit:15'
    computed = _computing(monkeypatch)
    assert (Library.open(path, memory_budget="1KB").search(query).frame["track_id"].to_list()
            == Library.open(path).search(query).frame["track_id"].to_list())
    assert computed == [N]
    assert Library.open(path).optimize()["attr"].get("rebuilt")
    computed.clear()
    Library.open(path, memory_budget="1KB").search(query)
    assert computed == []


def test_the_stored_form_of_the_parts_gives_the_same_rows():
    """`stored` keeps each profile as its bits (and the mean profile's shares): read back,
    every track's raw vector is the one computed, over a library with more genres than
    dimensions, tracks without a genre, and none at all."""
    from attune.engine.spaces.attributes import AttributeParts
    from attune.engine.storage import Snapshot

    for genres in (True, False):
        rows = [r | ({} if genres else {"genres": []}) for r in _rows()]
        snap = Snapshot.build(pl.from_arrow(pa.Table.from_pylist(rows, schema=TRACKS_SCHEMA)), [])
        parts = attribute_parts(snap)
        back = AttributeParts.from_stored(parts.stored())
        every = np.arange(N)
        np.testing.assert_array_equal(back.rows(every), parts.rows(every))
        np.testing.assert_array_equal(back.rows(every), attribute_matrix(snap)[0])
        assert back.names == parts.names


@pytest.mark.parametrize("query", ['like:track("t0003") limit:2', 'like:artist("Artist 4") per:artist=1 limit:12',
                                   'like:track("t0056") per:artist=1 limit:30', 'like:playlist("List 3") -genre:g00 limit:2'])
def test_too_few_candidates_ranked_again_widen_to_the_in_memory_rows(library, monkeypatch, query):
    """Fewer candidates than per: and the limit need: the search takes four times as many,
    ranked among themselves, until the rows are the in-memory path's (scores included)."""
    import importlib

    run = importlib.import_module("attune.engine.search.run")
    monkeypatch.setattr(run, "RERANK_MIN", 1)
    monkeypatch.setattr(run, "RERANK_PER_RESULT", 1)
    over, memory = Library.open(library, memory_budget="1KB"), Library.open(library)
    over.snapshot()
    got, want = over.search(query), memory.search(query)
    assert got.frame["track_id"].to_list() == want.frame["track_id"].to_list()
    np.testing.assert_allclose(got.frame["score"].to_numpy(), want.frame["score"].to_numpy(), rtol=1e-6, atol=1e-5)


def test_a_pass_over_every_row_a_chunk_at_a_time_is_the_product_over_the_whole(library, monkeypatch):
    from attune.engine.spaces import compact

    monkeypatch.setattr(compact, "PASS_CHUNK", 64)  # 700 rows: eleven chunks, the last a short one
    over, memory = Library.open(library, memory_budget="1KB"), Library.open(library)
    parts, whole = space(over.snapshot(), "attr"), space(memory.snapshot(), "attr")
    v = np.random.default_rng(3).normal(size=len(parts.dims))
    product = parts.z @ v
    np.testing.assert_array_equal(product, parts.z._through_parts(parts.z.whitener.matrix.T @ v, np.arange(N), np.float32))
    np.testing.assert_allclose(product, whole.z @ v.astype(np.float32), rtol=1e-4, atol=1e-3)
    two = np.random.default_rng(4).normal(size=(len(parts.dims), 2))  # several vectors at once (a map's axes)
    np.testing.assert_allclose(parts.z @ two, whole.z @ two.astype(np.float32), rtol=1e-4, atol=1e-3)
