"""An in-memory view of a library: the tracks as a polars frame, the playlists,
and each space's whitened matrix.

Searches run against a snapshot: LanceDB is the store of record, but a filter
mask over an in-memory frame and one matrix-vector product per space answer a
query in milliseconds, where a LanceDB scan takes hundreds (bench/README.md).
A snapshot can also be built from plain data, which is how evaluation hides
playlist entries without touching the library on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from .spaces import ATTRIBUTE_DIMS, MAX_GENRE_DIMS, Whitener, fit_whitener

SPACE_NAMES = ("attr", "audio", "colisten")
VECTOR_COLUMNS = {"audio": "embedding", "colisten": "colisten"}


@dataclass(frozen=True)
class Playlist:
    playlist_id: str
    name: str
    track_ids: tuple[str, ...]
    genres: tuple[str, ...] = ()
    source: str = "user"


@dataclass
class SpaceData:
    """One space over a snapshot: whitened vectors for the rows that have one."""

    name: str
    dims: tuple[str, ...]
    z: np.ndarray  # (N, d) float32; rows without a vector are zero
    has: np.ndarray  # (N,) bool
    sqnorm: np.ndarray  # (N,) float32, |z|^2
    whitener: Whitener

    @property
    def missing(self) -> int:
        return int((~self.has).sum())

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Whiten raw vectors of this space (rows of the same dims as `dims`)."""
        return self.whitener.transform(x)


def lower(column: str) -> pl.Expr:
    """A text column in lower case, missing as ""."""
    return pl.col(column).fill_null("").str.to_lowercase()


def joined(column: str) -> pl.Expr:
    """A list column as one lower-case string, each element between newlines.

    `contains("\\nsoul\\n")` is then an exact element match and
    `contains("soul")` a substring match, both as one string search; used on
    small frames (LanceDB results, explanations), where building it is cheap.
    """
    return pl.lit("\n") + pl.col(column).fill_null([]).list.join("\n").str.to_lowercase() + pl.lit("\n")


def prepare(tracks: pl.DataFrame, playlists: Sequence[Playlist]) -> pl.DataFrame:
    """Add a row index and each track's effective genres (its own and its playlists').

    Only narrow frames are joined, so the wide track frame is never copied.
    """
    tracks = tracks.with_row_index("_row")
    inherited = [(tid, g) for p in playlists if p.genres for tid in p.track_ids for g in p.genres]
    if not inherited:
        return tracks
    extra = (
        pl.DataFrame(inherited, schema={"track_id": pl.String, "_g": pl.String}, orient="row")
        .group_by("track_id")
        .agg(pl.col("_g").unique())
    )
    genres = (
        tracks.select("_row", "track_id", "genres")
        .join(extra, on="track_id", how="left")
        .sort("_row")
        .select(
            pl.concat_list(pl.col("genres").fill_null([]), pl.col("_g").fill_null([]))
            .list.unique(maintain_order=True)
            .alias("genres")
        )
        .to_series()
    )
    return tracks.with_columns(genres.rechunk())


@dataclass
class Snapshot:
    frame: pl.DataFrame
    playlists: dict[str, Playlist]
    #: The tracks as stored, before `prepare` (for building variants of this snapshot).
    raw: pl.DataFrame
    whiteners: dict[str, Whitener] = field(default_factory=dict)
    #: Reads a vector column as (track_id, column) when the frame lacks it.
    vectors: Callable[[str], pl.DataFrame] | None = field(default=None, repr=False)
    #: (load, save) of stored co-listen vectors; None: train in memory (evaluation snapshots).
    colisten_io: tuple[Callable[[], dict | None], Callable[[dict], None]] | None = field(default=None, repr=False)
    _spaces: dict[str, SpaceData] = field(default_factory=dict, repr=False)
    _membership: pl.DataFrame | None = field(default=None, repr=False)
    _text: dict = field(default_factory=dict, repr=False)
    _sorted_ids: tuple | None = field(default=None, repr=False)
    _numbers: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        tracks: pl.DataFrame,
        playlists: Iterable[Playlist],
        whiteners: dict[str, Whitener] | None = None,
        *,
        vectors: Callable[[str], pl.DataFrame] | None = None,
        colisten_io: tuple | None = None,
    ) -> "Snapshot":
        playlists = list(playlists)
        # One chunk per column (from_arrow already gives that for a read library):
        # gathers of a few rows then stay sub-millisecond.
        if tracks.n_chunks("all") and max(tracks.n_chunks("all")) > 1:
            tracks = tracks.rechunk()
        frame = prepare(tracks, playlists)
        return cls(frame, {p.name: p for p in playlists}, tracks, dict(whiteners or {}), vectors, colisten_io)

    def with_playlists(self, playlists: Iterable[Playlist]) -> "Snapshot":
        """The same tracks with other playlists (spaces are refitted on them)."""
        return Snapshot.build(self.raw, playlists, vectors=self.vectors)

    def __len__(self) -> int:
        return self.frame.height

    # -- lookups -----------------------------------------------------------------

    def rows_of(self, track_ids: Iterable[str]) -> np.ndarray:
        """Row indices of the given track ids that exist (order not kept)."""
        ids = list(track_ids)
        if not ids:
            return np.zeros(0, dtype=np.int64)
        mask = self.frame["track_id"].is_in(ids)
        return self.frame["_row"].filter(mask).to_numpy().astype(np.int64)

    @property
    def membership(self) -> pl.DataFrame:
        """One row per (playlist, track) entry that is in the library: name, track_id, _row."""
        if self._membership is None:
            entries = [(p.name, tid) for p in self.playlists.values() for tid in p.track_ids]
            frame = pl.DataFrame(entries, schema={"playlist": pl.String, "track_id": pl.String}, orient="row")
            self._membership = frame.join(self.frame.select("track_id", "_row"), on="track_id", how="inner")
        return self._membership

    def playlist_rows(self, name: str) -> np.ndarray:
        rows = self.membership.filter(pl.col("playlist") == name)["_row"].unique()
        return rows.to_numpy().astype(np.int64)

    def row_of_id(self, track_id: str) -> int | None:
        """The row of one track id (binary search over the sorted ids), or None."""
        if self._sorted_ids is None:
            order = self.frame["track_id"].arg_sort()
            self._sorted_ids = (self.frame["track_id"].gather(order), order.to_numpy())
        ids, order = self._sorted_ids
        at = ids.search_sorted(track_id)
        if at < len(ids) and ids[at] == track_id:
            return int(order[at])
        return None

    def text_index(self, field_name: str):
        """The dictionary encoding of a text field (artist, album, title, path, genre, tag)."""
        from .masks import TextIndex

        if field_name not in self._text:
            column = {"genre": "genres", "tag": "tags"}.get(field_name, field_name)
            series = self.frame[column]
            self._text[field_name] = (
                TextIndex.of_lists(series) if column in ("genres", "tags") else TextIndex.of_scalars(series)
            )
        return self._text[field_name]

    def numbers(self, column: str) -> np.ndarray:
        """A numeric column as float64 with NaN where unknown."""
        if column not in self._numbers:
            self._numbers[column] = self.frame[column].cast(pl.Float64).fill_null(np.nan).to_numpy()
        return self._numbers[column]

    def genre_unknown(self) -> np.ndarray:
        """Rows of tracks with no genre at all."""
        if "genre_unknown" not in self._numbers:
            index = self.text_index("genre")
            assert index.rows is not None
            self._numbers["genre_unknown"] = np.bincount(index.rows, minlength=len(self)) == 0
        return self._numbers["genre_unknown"]

    def sound_space(self) -> tuple[np.ndarray, np.ndarray]:
        """The attribute space without its genre dimensions: (z, |z|^2)."""
        if "attr/sound" not in self._numbers:  # cached beside the numeric columns
            space = self.space("attr")
            keep = np.array([not d.startswith("genre:") for d in space.dims], dtype=bool)
            z = np.ascontiguousarray(space.z[:, keep])
            self._numbers["attr/sound"] = (z, np.einsum("ij,ij->i", z, z))
        return self._numbers["attr/sound"]

    def artists(self) -> list[str]:
        return self.frame["artist"].drop_nulls().unique().to_list()

    # -- spaces ------------------------------------------------------------------

    def space(self, name: str) -> SpaceData:
        if name not in self._spaces:
            self._spaces[name] = self._build_space(name)
        return self._spaces[name]

    def reset_spaces(self) -> None:
        self._spaces.clear()

    def vector_frame(self, name: str) -> pl.DataFrame:
        """The frame with the space's vector column (read on first use)."""
        column = VECTOR_COLUMNS[name]
        if column not in self.frame.columns:
            if self.vectors is None:
                return self.frame.with_columns(pl.lit(None, dtype=pl.List(pl.Float32)).alias(column))
            vectors = self.vectors(column)
            self.frame = self.frame.join(vectors, on="track_id", how="left").sort("_row")
        return self.frame

    def _colisten_matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """Co-listen vectors trained on this snapshot's playlists (see colisten.py)."""
        from .colisten import DIMENSIONS, train

        vectors = self.colisten_io[0]() if self.colisten_io else None
        if vectors is None:
            in_library = set(self.membership["track_id"].to_list())  # only tracks the library has
            vectors = train([[t for t in p.track_ids if t in in_library] for p in self.playlists.values()])
            if self.colisten_io:
                self.colisten_io[1](vectors)
        x = np.zeros((len(self), DIMENSIONS), dtype=np.float32)
        has = np.zeros(len(self), dtype=bool)
        if vectors:
            ids = list(vectors)
            rows = self.frame.select("track_id", "_row").filter(pl.col("track_id").is_in(ids))
            for track_id, row in rows.iter_rows():
                x[row] = vectors[track_id]
                has[row] = True
        return x, has

    def vectors_missing(self, name: str) -> bool:
        """True when no track has a vector in this space."""
        if name == "attr":
            return False
        if name == "colisten":
            return self.membership.height == 0
        return self.vector_frame(name)[VECTOR_COLUMNS[name]].list.len().fill_null(0).max() in (0, None)

    def _build_space(self, name: str) -> SpaceData:
        if name == "attr":
            x, dims = attribute_matrix(self)
            has = np.ones(len(x), dtype=bool)
        elif name == "colisten":
            x, has = self._colisten_matrix()
            dims = tuple(f"colisten{i}" for i in range(x.shape[1]))
        else:
            x, has = vector_column(self.vector_frame(name), VECTOR_COLUMNS[name])
            dims = tuple(f"{name}{i}" for i in range(x.shape[1]))
        groups = self._groups(has)
        whitener = self.whiteners.get(name)
        vectors = x if has.all() else x[has]
        if whitener is None or whitener.dims != dims:
            whitener = fit_whitener(vectors, groups, dims)
            self.whiteners[name] = whitener
        if has.all():
            z = whitener.transform(x)
        else:
            z = np.zeros((len(x), len(dims)), dtype=np.float32)
            if has.any():
                z[has] = whitener.transform(vectors)
        del x, vectors
        return SpaceData(name, dims, z, has, np.einsum("ij,ij->i", z, z), whitener)

    def _groups(self, has: np.ndarray) -> list[np.ndarray]:
        """Each playlist's rows, as positions among the rows that have a vector."""
        position = np.full(len(has), -1, dtype=np.int64)
        position[has] = np.arange(int(has.sum()))
        member = self.membership.unique(["playlist", "_row"])
        rows = position[member["_row"].to_numpy()]
        keep = rows >= 0
        names = member["playlist"].to_numpy()[keep]
        rows = rows[keep]
        order = np.argsort(names, kind="stable")
        names, rows = names[order], rows[order]
        bounds = np.flatnonzero(names[1:] != names[:-1]) + 1
        return np.split(rows, bounds) if len(rows) else []


def attribute_matrix(snap: "Snapshot") -> tuple[np.ndarray, tuple[str, ...]]:
    """The attribute space's raw vectors: scaled numeric attributes and genre indicators.

    A missing value is replaced by the attribute's mean over the library, so it
    neither pulls a track towards nor away from anything; a track with no genre
    at all gets the library's mean genre profile for the same reason. Genre
    dimensions are the MAX_GENRE_DIMS most frequent genres.
    """
    frame = snap.frame
    dims = [d for d in ATTRIBUTE_DIMS if d in frame.columns and frame[d].null_count() < frame.height]
    index = snap.text_index("genre")
    counts = index.counts()
    top = sorted(range(len(counts)), key=lambda c: (-counts[c], index.values[c]))[:MAX_GENRE_DIMS]
    x = np.empty((frame.height, len(dims) + len(top)), dtype=np.float32)
    for j, dim in enumerate(dims):
        offset, scale = ATTRIBUTE_DIMS[dim]
        values = (snap.numbers(dim) - offset) / scale
        x[:, j] = np.where(np.isnan(values), np.nanmean(values), values)
    unknown = snap.genre_unknown() if top else None
    for j, code in enumerate(top, start=len(dims)):
        assert index.rows is not None and unknown is not None
        column = x[:, j]
        column[:] = 0.0
        column[index.rows[index.codes == code]] = 1.0
        if unknown.any() and not unknown.all():
            column[unknown] = column[~unknown].mean()
    return x, tuple(dims) + tuple(f"genre:{index.values[c]}" for c in top)


def vector_column(frame: pl.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """A list<float> column as an (N, d) matrix and a has-vector mask."""
    lengths = frame[column].list.len().fill_null(0).to_numpy()
    has = lengths > 0
    if not has.any():
        return np.zeros((frame.height, 0)), has
    d = int(np.bincount(lengths[has]).argmax())
    has &= lengths == d
    x = np.zeros((frame.height, d))
    x[has] = np.stack(frame[column].filter(pl.Series(has)).to_list())
    return x, has
