"""The three filter backends give the same rows for generated query trees.

numpy (masks over the snapshot), polars (expressions over the frame) and SQL (pushed to
LanceDB, alone where a tree can be pushed whole, and as the lance executor: SQL plus the
polars backend for what cannot) are compared on two fixtures: the shared one, whose
playlists give their tracks genres (so genre: cannot go to SQL), and one whose tracks
carry their own genres (so it can).
"""

import pyarrow as pa
import pytest
from attune.engine import Library
from attune.engine.execution import NumpyBackend, PlaylistMatcher, PolarsBackend, SqlBackend
from attune.engine.search import run
from attune.engine.storage import TRACKS_SCHEMA
from attune.query import And, Compare, Not, Options, Or, Query, QueryError, Range, TextMatch
from attune.query.walk import depth, normalize, walk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow

WORDS = ["al", "green", "Al Green", "soul", "edm", "pop", "big room", "o'brien", "50%", "%", "_", "back\\slash",
         "drop table", "rós", "RÓS", 'quoted "band"', "pump", "gym", "", " ", "rock", "jazz", "t0", "piano"]
REGEXES = [r"^al\s", r"soul|funk", r"\d{4}", r"^the ", r"room$", r"^$", r"o'b"]
NUMBERS = [0.0, 0.05, 0.3, 0.45, 0.5, 0.9, 0.95, 1.0, -1.0, 60.0, 120.0, 130.0, 1971.0, 1972.0, 2005.0, 2020.0, 1e6]
NUMERIC = ["energy", "valence", "vocalness", "tempo", "popularity", "year", "length", "instrumentalness"]
TEXT = ["artist", "album", "title", "genre", "tag", "path"]

values = st.sampled_from(WORDS) | st.text(alphabet="aelnorsgp% _'", max_size=4)
numbers = st.sampled_from(NUMBERS) | st.floats(-10, 3000, allow_nan=False)


def _text():
    plain = st.builds(TextMatch, st.sampled_from(TEXT), st.lists(values, min_size=1, max_size=3).map(tuple),
                      st.sampled_from(["contains", "exact"]))
    regex = st.builds(TextMatch, st.sampled_from(TEXT), st.lists(st.sampled_from(REGEXES), min_size=1, max_size=2).map(tuple),
                      st.just("regex"))
    playlist = st.builds(TextMatch, st.just("playlist"), st.lists(st.sampled_from(["gym", "Sunday Morning", "odd", "n", "e"]),
                         min_size=1, max_size=2).map(tuple), st.sampled_from(["contains", "exact"]))
    return plain | regex | playlist.filter(lambda t: t.mode == "contains" or all(len(v) > 1 for v in t.values))


def _range():
    def make(field, a, b, shape):
        lo, hi = sorted((a, b))
        return Range(field, None if shape == "high" else lo, None if shape == "low" else hi)

    return st.builds(make, st.sampled_from(NUMERIC), numbers, numbers, st.sampled_from(["both", "low", "high"]))


leaves = _text() | st.builds(Compare, st.sampled_from(NUMERIC), st.sampled_from(["<", "<=", ">", ">=", "=", "!="]), numbers) | _range()


def _extend(children):
    not_and = children.filter(lambda x: not isinstance(x, And))
    not_or = children.filter(lambda x: not isinstance(x, Or))
    return (
        st.builds(Not, children)
        | st.lists(not_and, min_size=2, max_size=4).map(lambda xs: And(tuple(xs)))
        | st.lists(not_or, min_size=2, max_size=4).map(lambda xs: Or(tuple(xs)))
    )


trees = st.recursive(leaves, _extend, max_leaves=10)


@pytest.fixture(scope="module")
def own_genres_lib(tmp_path_factory, fixture_csv):
    """The fixture's tracks with the genres of their playlists as their own, playlists without genres."""
    lib = Library.open(tmp_path_factory.mktemp("own"))
    lib.import_spotify([fixture_csv])
    snap = lib.snapshot()
    rows = lib.store.read("tracks").to_pylist()
    genres = dict(zip(snap.frame["track_id"].to_list(), snap.frame["genres"].to_list()))
    for row in rows:
        row["genres"] = genres[row["track_id"]]
    lib.store.upsert("tracks", "track_id", pa.Table.from_pylist(rows, schema=TRACKS_SCHEMA))
    lib.playlists.upsert_imported({p.playlist_id: {"name": p.name, "track_ids": dict.fromkeys(p.track_ids), "genres": {}}
                                   for p in snap.playlists.values()}, source="spotify")
    assert not lib.snapshot().inherits_genres
    return lib


def _rows(lib, where):
    snap = lib.snapshot()
    matcher = PlaylistMatcher(snap.playlists)
    ids = snap.tracks.frame["track_id"].to_numpy()
    got = {"numpy": sorted(ids[NumpyBackend(snap, matcher).mask(where)])}
    got["polars"] = sorted(PolarsBackend(matcher).filter(snap.frame, where)["track_id"].to_list())
    sql = SqlBackend(matcher, genres_inherited=snap.inherits_genres).sql(where)
    if sql is not None:
        got["sql"] = sorted(lib.store.read("tracks", ["track_id"], where=sql)["track_id"].to_pylist())
    got["lance"] = sorted(run(lib.source(), Query(where, options=Options(limit=1000)), executor="lance").track_ids)
    return got


def _check(lib, where):
    try:
        got = _rows(lib, where)
    except QueryError:  # e.g. a playlist: value no playlist has; every backend raises it (checked below)
        for backend in ("numpy", "polars", "lance"):
            with pytest.raises(QueryError):
                _one(lib, where, backend)
        return
    first = got["numpy"]
    assert all(rows == first for rows in got.values()), got


def _one(lib, where, backend):
    snap = lib.snapshot()
    matcher = PlaylistMatcher(snap.playlists)
    if backend == "numpy":
        return NumpyBackend(snap, matcher).mask(where)
    if backend == "polars":
        return PolarsBackend(matcher).filter(snap.frame, where)
    return run(lib.source(), Query(where, options=Options(limit=1000)), executor="lance")


#: Each example runs two LanceDB queries: at most 1,000 of them even in CI's profile.
EXAMPLES = min(settings.default.max_examples, 1000)


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(trees)
def test_backends_agree_with_inherited_genres(shared_lib, where):
    _check(shared_lib, where)


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(trees)
def test_backends_agree_with_own_genres(own_genres_lib, where):
    _check(own_genres_lib, where)


def test_the_comparison_sees_a_difference(shared_lib):
    """A backend that answers wrongly is caught: the check is not vacuous."""
    where = TextMatch("artist", ("green",))
    got = _rows(shared_lib, where)
    assert got["numpy"] == ["t01", "t02"] and set(got) >= {"numpy", "polars", "sql", "lance"}
    got["polars"] = ["t01"]
    assert not all(rows == got["numpy"] for rows in got.values())


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(trees)
def test_normalizing_keeps_the_rows(shared_lib, where):
    """NOT pushed down, And/Or flattened, text terms merged: the same rows, never deeper."""
    snap = shared_lib.snapshot()
    backend = NumpyBackend(snap)
    try:
        before = backend.mask(where)
    except QueryError:
        return
    after = normalize(where)
    assert (backend.mask(after) == before).all()
    assert depth(after) <= depth(where)
    assert not any(isinstance(n, Not) and isinstance(n.item, (Not, And, Or)) for n in walk(after))
