"""An in-memory view of a library: the tracks as a polars frame, the playlists,
and each space's whitened matrix.

Searches run against a snapshot: LanceDB is the store of record, but a filter
mask over an in-memory frame and one matrix-vector product per space answer a
query in milliseconds, where a LanceDB scan takes hundreds (bench/README.md).
A snapshot can also be built from plain data, which is how evaluation hides
playlist entries without touching the library on disk.
"""

from __future__ import annotations

from collections import Counter
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


def _joined(column: str) -> pl.Expr:
    """A list column as one lower-case string, each element between newlines.

    `contains("\\nsoul\\n")` is then an exact element match and
    `contains("soul")` a substring match, both as one vectorised string search.
    """
    return (
        pl.lit("\n")
        + pl.col(column).fill_null([]).list.join("\n").str.to_lowercase()
        + pl.lit("\n")
    ).alias(f"_{column}")


def prepare(tracks: pl.DataFrame, playlists: Sequence[Playlist]) -> pl.DataFrame:
    """Add the derived columns searches use: effective genres, lower-case text, a row index."""
    tracks = tracks.with_row_index("_row")
    inherited = [(tid, g) for p in playlists if p.genres for tid in p.track_ids for g in p.genres]
    if inherited:
        extra = (
            pl.DataFrame(inherited, schema={"track_id": pl.String, "_g": pl.String}, orient="row")
            .group_by("track_id")
            .agg(pl.col("_g").unique())
        )
        tracks = (
            tracks.join(extra, on="track_id", how="left")
            .with_columns(
                pl.concat_list(pl.col("genres").fill_null([]), pl.col("_g").fill_null([]))
                .list.unique(maintain_order=True)
                .alias("genres")
            )
            .drop("_g")
            .sort("_row")
        )
    return tracks.with_columns(
        *(pl.col(c).fill_null("").str.to_lowercase().alias(f"_{c}") for c in ("artist", "title", "album", "path")),
        _joined("genres"),
        _joined("tags"),
    )


@dataclass
class Snapshot:
    frame: pl.DataFrame
    playlists: dict[str, Playlist]
    #: The tracks as stored, before `prepare` (for building variants of this snapshot).
    raw: pl.DataFrame
    whiteners: dict[str, Whitener] = field(default_factory=dict)
    #: Reads a vector column as (track_id, column) when the frame lacks it.
    vectors: Callable[[str], pl.DataFrame] | None = field(default=None, repr=False)
    _spaces: dict[str, SpaceData] = field(default_factory=dict, repr=False)
    _membership: pl.DataFrame | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        tracks: pl.DataFrame,
        playlists: Iterable[Playlist],
        whiteners: dict[str, Whitener] | None = None,
        *,
        vectors: Callable[[str], pl.DataFrame] | None = None,
    ) -> "Snapshot":
        playlists = list(playlists)
        return cls(prepare(tracks, playlists), {p.name: p for p in playlists}, tracks, dict(whiteners or {}), vectors)

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

    def vectors_missing(self, name: str) -> bool:
        """True when no track has a vector in this space."""
        if name == "attr":
            return False
        return self.vector_frame(name)[VECTOR_COLUMNS[name]].list.len().fill_null(0).max() in (0, None)

    def _build_space(self, name: str) -> SpaceData:
        if name == "attr":
            x, dims = attribute_matrix(self.frame)
            has = np.ones(len(x), dtype=bool)
        else:
            x, has = vector_column(self.vector_frame(name), VECTOR_COLUMNS[name])
            dims = tuple(f"{name}{i}" for i in range(x.shape[1]))
        groups = self._groups(has)
        whitener = self.whiteners.get(name)
        if whitener is None or whitener.dims != dims:
            whitener = fit_whitener(x[has], groups, dims)
            self.whiteners[name] = whitener
        z = np.zeros((len(x), len(dims)), dtype=np.float32)
        if has.any():
            z[has] = whitener.transform(x[has])
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


def genre_vocabulary(frame: pl.DataFrame, limit: int = MAX_GENRE_DIMS) -> list[str]:
    counts: Counter[str] = Counter()
    for genres in frame["genres"].to_list():
        counts.update({g.lower() for g in genres or ()})
    return [g for g, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def attribute_matrix(frame: pl.DataFrame) -> tuple[np.ndarray, tuple[str, ...]]:
    """The attribute space's raw vectors: scaled numeric attributes and genre indicators.

    A missing value is replaced by the attribute's mean over the library, so it
    neither pulls a track towards nor away from anything.
    """
    columns, dims = [], []
    for dim, (offset, scale) in ATTRIBUTE_DIMS.items():
        if dim not in frame.columns or frame[dim].null_count() == frame.height:
            continue
        values = ((frame[dim].cast(pl.Float64) - offset) / scale).to_numpy()
        columns.append(np.where(np.isnan(values), np.nanmean(values), values))
        dims.append(dim)
    genres = genre_vocabulary(frame)
    if genres:
        joined = frame["_genres"]
        # A track with no genre at all is unknown, not "none of these": it gets
        # the library's mean genre profile, as a missing number gets the mean.
        unknown = (joined == "\n\n").to_numpy()
        for g in genres:
            values = joined.str.contains("\n" + g + "\n", literal=True).cast(pl.Float64).to_numpy().copy()
            if unknown.any() and not unknown.all():
                values[unknown] = values[~unknown].mean()
            columns.append(values)
            dims.append(f"genre:{g}")
    if not columns:
        return np.zeros((frame.height, 0)), ()
    return np.column_stack(columns), tuple(dims)


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
