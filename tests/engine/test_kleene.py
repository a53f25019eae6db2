"""The numpy backend's three-valued logic where numbers are unknown: a NOT over an unknown
value stays unknown (left out), as in the polars backend and SQL. The shared backend tests
run on imports where every number is known; this one has unknown values in every column."""

import numpy as np
import polars as pl
from attune.engine.execution import NumpyBackend, PlaylistMatcher, PolarsBackend
from attune.engine.storage import Playlist, Snapshot
from attune.query import Compare, Not, Or, Range, TextMatch
from hypothesis import HealthCheck, given, settings

from .test_backends import trees

N = 60


def _snapshot() -> Snapshot:
    rng = np.random.default_rng(7)

    def numbers(scale: float) -> list[float | None]:
        out: list[float | None] = [float(x) for x in rng.uniform(0, scale, N)]
        for i in range(0, N, 4):
            out[i] = None  # unknown (the library stores nulls; the numpy backend reads them as NaN)
        return out

    frame = pl.DataFrame({
        "track_id": [f"t{i}" for i in range(N)], "title": [f"Song {i}" for i in range(N)],
        "artist": [["Al Green", "soul band", None][i % 3] for i in range(N)],
        "album": pl.Series([None, "Soul Album"] * (N // 2), dtype=pl.String), "path": pl.Series([None] * N, dtype=pl.String),
        "genres": [[["soul"], ["rock", "pop"], [], None][i % 4] for i in range(N)],
        "tags": pl.Series([[["gym"], None][i % 2] for i in range(N)], dtype=pl.List(pl.String)),
        **{name: numbers(scale) for name, scale in [("energy", 1), ("valence", 1), ("vocalness", 1), ("tempo", 200),
                                                     ("popularity", 100), ("year", 2030), ("length", 400),
                                                     ("instrumentalness", 1)]},
    })
    return Snapshot.build(frame, [Playlist("p1", "gym", tuple(f"t{i}" for i in range(0, N, 3)))])


SNAP = _snapshot()


def _same(where) -> None:
    matcher = PlaylistMatcher(SNAP.playlists)
    ids = SNAP.tracks.frame["track_id"].to_numpy()
    numpy_rows = sorted(ids[NumpyBackend(SNAP, matcher).mask(where)])
    polars_rows = sorted(PolarsBackend(matcher).filter(SNAP.frame, where)["track_id"].to_list())
    assert numpy_rows == polars_rows, where


def test_not_over_unknown_numbers_leaves_them_out():
    over = Compare("energy", ">", 0.5)
    backend = NumpyBackend(SNAP, PlaylistMatcher(SNAP.playlists))
    known = ~np.isnan(SNAP.numbers("energy"))
    assert not (backend.mask(Not(over)) & ~known).any() and (backend.mask(Not(over)) | backend.mask(over)).sum() == known.sum()
    _same(Not(Or((over, TextMatch("genre", ("rock",), "contains")))))
    _same(Not(Range("tempo", 50.0, 50.0)))
    _same(Not(Range("year", None, 1000.0)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_the_numpy_backend_agrees_with_polars_where_numbers_are_unknown(where):
    try:
        _same(where)
    except Exception as exc:  # a playlist: value no playlist has is an error in both (checked there)
        if type(exc).__name__ != "QueryError":
            raise


def _edges(values32: np.ndarray) -> list[float]:
    """Bounds where rounding to float32 would move a comparison's answer: each value itself,
    the float64 numbers just above and below it, and halfway to its float32 neighbours."""
    out: list[float] = []
    for v in values32.astype(np.float64):
        up = float(np.nextafter(np.float32(v), np.float32(np.inf)))
        down = float(np.nextafter(np.float32(v), np.float32(-np.inf)))
        out += [v, np.nextafter(v, np.inf), np.nextafter(v, -np.inf), (v + up) / 2, (v + down) / 2]
    return out + [1e300, -1e300, float(np.inf), 0.1, 0.4, 1990, 2**25 + 1]


def test_float32_numbers_compare_with_any_bound_exactly_as_float64():
    """Over the memory budget a column whose values are all float32 is kept as float32; a
    bound such as 0.4 (no float32) must not be rounded into a value of the column."""
    from attune.engine.execution.numpy_backend import _NP_OPS, compare

    rng = np.random.default_rng(3)
    values = np.concatenate([rng.random(40).astype(np.float32), np.float32([0.4, 0.1, 1990, 2**25, 0, -0.0, 1e30])])
    exact = values.astype(np.float64)
    for bound in _edges(values):
        for op, reference in _NP_OPS.items():
            assert np.array_equal(compare(values, op, bound), reference(exact, bound)), (op, bound)
