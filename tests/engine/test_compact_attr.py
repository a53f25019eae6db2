"""The attribute space over the memory budget, held in parts (`spaces/compact.py`): the
same vectors, the same rows and scores as the in-memory space, in a fraction of the memory.

The fixture has what the parts must get right: more genres than the space has genre
dimensions (some are left out), tracks with no genre (the mean profile), genres inherited
from playlists, missing attribute values (the mean), and tracks with identical vectors
(ties, broken by row as in memory)."""

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
from attune.engine import Library
from attune.engine.spaces import space
from attune.engine.spaces.attributes import MAX_GENRE_DIMS, attribute_matrix
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
    path = tmp_path_factory.mktemp("compact") / "lib"
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
