"""An in-memory view of a library, in two parts with different lifetimes.

- `TrackData`: the tracks table as one polars frame (with a `_row` index), its text
  indexes, numeric columns and vector matrices. Keyed on the tracks' (and segments')
  table version: a playlist edit does not re-read a single track.
- `Snapshot`: the track data plus the playlists: memberships, the genres tracks inherit
  from their playlists, and everything computed from them (whitening, spaces, the
  plain-words vocabulary). Keyed on the playlists' table version as well. A snapshot
  built after a playlist edit reuses what the previous one computed for playlists
  that did not change.

Searches run against a snapshot: LanceDB is the store of record, but a filter mask over
in-memory arrays and one matrix-vector product per space answer a query in
milliseconds, where a LanceDB scan takes hundreds (bench/README.md). A snapshot can also
be built from plain data, which is how evaluation hides playlist entries without
touching the library on disk.

What is computed from a snapshot lives in its typed cache: `snap.memo(KEY, factory)`,
with each key saying whether it depends on the tracks or the playlists (`cache.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import polars as pl
import pyarrow as pa
from attune.query.fields import LIST_FIELDS, column

from .cache import Key, Memo, T
from .reads import release
from .rowcopy import CopyReader
from .textindex import TextIndex


@dataclass(frozen=True)
class Playlist:
    playlist_id: str
    name: str
    track_ids: tuple[str, ...]
    genres: tuple[str, ...] = ()
    source: str = "user"


def lower(column_name: str) -> pl.Expr:
    """A text column in lower case, missing as ""."""
    return pl.col(column_name).fill_null("").str.to_lowercase()


#: Seed of the id hashes (any fixed value: only equality within one process matters).
_SEED = 0x5EED


class Columns(Protocol):
    """Reads a tracks table at one version a column at a time (`store.Columns`)."""

    rows: int
    names: Sequence[str]

    def read(self, name: str) -> pl.Series: ...
    def arrow(self, names: Sequence[str]) -> pa.Table: ...
    def scan(self, name: str, each: Callable[[pa.Array], None]) -> None: ...
    def take(self, rows: np.ndarray, names: Sequence[str] | None = None) -> pl.DataFrame: ...
    def schema(self, names: Sequence[str]) -> pl.Schema: ...


#: A lazy snapshot takes some columns of some rows from the row copy rather than from the
#: tracks table when more than this many are missing (a column's take costs about what
#: the copy's whole row does).
COPY_COLUMNS = 3


class TrackData:
    """The tracks of a library in memory; see the module docstring.

    Built from a whole frame (evaluation, tests), or lazily from a `Columns` reader: then
    nothing is read at open but the row count, each column is read from LanceDB the first
    time a query needs it, and whole rows for results are taken by position (at the
    snapshot's table version, so every column lines up). `frame` still gives every column
    (reading those not read yet) for the code that wants them all.
    """

    def __init__(self, frame: pl.DataFrame | None = None, *, vectors: Callable[[str], pl.DataFrame] | None = None,
                 key: object = None, columns: Columns | None = None, whole_rows: bool = True,
                 segments: Callable[[Sequence[str]], pa.Table] | None = None,
                 copy: Callable[[], CopyReader | None] | None = None) -> None:
        self.key = key
        #: Lazy only: the row copy (`rowcopy.py`), opened on first use; None: none.
        self._open_copy = copy
        self._copy: CopyReader | None = None
        #: The segments table at the snapshot's version, some columns of it (None: no store).
        self.read_segments = segments
        #: Lazy only: read every column the first time whole rows are wanted (results), so
        #: later gathers are in memory; False (over the memory budget): take rows from LanceDB.
        self.whole_rows = whole_rows
        self.cache = Memo()
        self._read_vectors = vectors
        self._text: dict[str, TextIndex] = {}
        self._numbers: dict[str, np.ndarray] = {}
        self._sorted_ids: tuple[np.ndarray, np.ndarray] | None = None
        self._id_scans = 0  # lookups of a few ids answered by a scan (`rows_or_missing`)
        self._sorting_ids = threading.Lock()  # held while the hashes are sorted (`_ids`)
        self._ids_thread: threading.Thread | None = None  # sorting them behind the lookups
        self._reader = columns
        self._loaded: dict[str, pl.Series] = {}
        self._sizes: dict[str, int] = {}  # bytes of each column read (polars measures them in ms: once per column)
        self._frame: pl.DataFrame | None = None
        if frame is not None:
            # One chunk per column (from_arrow already gives that for a read library):
            # gathers of a few rows then stay sub-millisecond.
            if frame.width and max(frame.n_chunks("all")) > 1:
                frame = frame.rechunk()
            if "_row" not in frame.columns:
                frame = frame.with_row_index("_row")
            self._frame = frame
            self._height = frame.height
            self._names = [c for c in frame.columns if c != "_row"]
        else:
            assert columns is not None
            self._height = columns.rows
            self._names = list(columns.names)

    @property
    def lazy(self) -> bool:
        """True while some columns are still only in LanceDB."""
        return self._frame is None

    @property
    def columns(self) -> list[str]:
        """The column names (nothing is read)."""
        return ["_row", *self._names]

    def column(self, name: str) -> pl.Series:
        """One column, read on first use when lazy."""
        if self._frame is not None:
            return self._frame[name]
        if name == "_row":
            return pl.Series("_row", np.arange(self._height, dtype=np.uint32))
        if name not in self._loaded:
            if name not in self._names:
                raise pl.exceptions.ColumnNotFoundError(name)
            assert self._reader is not None
            self._loaded[name] = self._reader.read(name).rechunk()
            self._sizes[name] = int(self._loaded[name].estimated_size())
            if not self.whole_rows:
                release()
        return self._loaded[name]

    def select(self, names: Sequence[str]) -> pl.DataFrame:
        """Some whole columns as a frame."""
        if self._frame is not None:
            return self._frame.select(names)
        return pl.DataFrame([self.column(n) for n in names])

    @property
    def frame(self) -> pl.DataFrame:
        """Every column (those not read yet are read now)."""
        if self._frame is None:
            self._frame = pl.DataFrame([self.column(n) for n in self.columns])
            self._loaded.clear()
        return self._frame

    def take(self, rows: np.ndarray | Sequence[int]) -> pl.DataFrame:
        """Whole rows, in this order (taken from LanceDB by position when lazy)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self._frame is None and self.whole_rows:
            self.frame  # noqa: B018 - reads the remaining columns once
        if self._frame is not None:
            return self._frame[rows]
        assert self._reader is not None
        if not len(rows):
            return pl.DataFrame([self.column(n).head(0) for n in self.columns])
        taken = self._copied(rows, self._names)
        if taken is None:
            taken = self._reader.take(rows)
        return taken.with_columns(pl.Series("_row", rows.astype(np.uint32))).select(self.columns)

    def take_columns(self, rows: np.ndarray, names: Sequence[str]) -> pl.DataFrame:
        """Some columns of some rows, in this order: those read already from memory, the
        others taken from LanceDB by position (a whole column is not read for a few rows)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self._frame is not None:
            return self._frame.select(names)[rows]
        have = [n for n in names if n == "_row" or n in self._loaded]
        missing = [n for n in names if n not in have]
        got = {n: self.column(n).gather(rows) for n in have}
        if missing and len(rows):
            assert self._reader is not None
            taken = self._copied(rows, missing) if len(missing) > COPY_COLUMNS else None
            got.update((taken if taken is not None else self._reader.take(rows, missing)).to_dict())
        elif missing:
            got.update({n: self.column(n).head(0) for n in missing})
        return pl.DataFrame([got[n] for n in names])

    def _copied(self, rows: np.ndarray, names: Sequence[str]) -> pl.DataFrame | None:
        """Some columns of some rows from the row copy (those it lacks, or has older than
        the snapshot, from the tracks table); None when there is no copy to read."""
        if self._open_copy is not None:
            self._copy, self._open_copy = self._open_copy(), None
        copy = self._copy
        if copy is None or not set(names) <= set(copy.columns):
            return None
        assert self._reader is not None
        places = copy.places(lambda: self.column("track_id"), self.rows_or_missing, len(self))
        at = rows if places is None else places[rows].astype(np.int64)
        hit = at >= 0
        got = copy.take(at[hit], self._reader.schema(copy.columns)).select(names)
        if hit.all():
            return got
        rest = self._reader.take(rows[~hit], names)
        order = np.concatenate([np.flatnonzero(hit), np.flatnonzero(~hit)])
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        return pl.concat([got, rest.select(names)]).select(pl.all().gather(back))

    def nbytes(self) -> int:
        """Bytes of the columns read so far (and of the row copy's places)."""
        if self._frame is not None:
            if "_frame" not in self._sizes:
                self._sizes["_frame"] = int(self._frame.estimated_size())
            return self._sizes["_frame"]
        return sum(self._sizes.values()) + (self._copy.nbytes() if self._copy is not None else 0)

    def __len__(self) -> int:
        return self._height

    def text_index(self, field_name: str) -> TextIndex:
        """The dictionary encoding of a text field's own values (artist, ..., genre, tag)."""
        if field_name not in self._text:
            name = column(field_name)
            if self._frame is None and name not in self._loaded and name in self._names:
                # Straight from Arrow: a text column as a polars Series takes several times
                # its size while it is built (4 GB for 10M tracks' genres), and only the
                # index is needed.
                assert self._reader is not None
                if field_name in LIST_FIELDS:
                    self._text[field_name] = TextIndex.of_lists(self._reader.arrow([name])[name])
                else:  # a batch at a time: the whole column is never held
                    reader = self._reader
                    self._text[field_name] = TextIndex.of_scalar_batches(lambda each: reader.scan(name, each), len(self))
            else:
                data = self.column(name)
                self._text[field_name] = TextIndex.of_lists(data) if field_name in LIST_FIELDS else TextIndex.of_scalars(data)
                del data
            if self._frame is None and not self.whole_rows:
                release()
        return self._text[field_name]

    def numbers(self, column_name: str) -> np.ndarray:
        """A numeric column as floats with NaN where unknown: float64, except over the memory
        budget for a column whose every value is a float32 (years, popularity, attributes a
        model computed in float32): then float32, the same values in half the memory
        (`numpy_backend` compares them with bounds exactly). `numbers_at` is always float64."""
        if column_name not in self._numbers:
            # Over the memory budget a column read for its numbers only is not kept as well
            # (at 10M tracks each would hold 80 MB twice over).
            keep = self._frame is not None or self.whole_rows or column_name in self._loaded
            if not keep:
                assert self._reader is not None
            series = self.column(column_name) if keep else self._reader.read(column_name).rechunk()
            if series.dtype == pl.Float64 and series.null_count() == 0 and series.n_chunks() == 1:
                values = series.to_numpy()  # the column's own memory (read-only), not a second copy
            else:
                values = series.cast(pl.Float64).fill_null(np.nan).to_numpy()
            if not keep:
                values = _narrowed(values)
            self._numbers[column_name] = values
            if not keep:
                self._sizes[f"numbers.{column_name}"] = int(values.nbytes)
                del series
                release()
        return self._numbers[column_name]

    def numbers_at(self, column_name: str, rows: np.ndarray | None = None) -> np.ndarray:
        """`numbers` (or some rows of it), except that over the memory budget a column not
        read yet is not kept: it is read for this call only, or only these rows are taken
        by position (the attribute space reads every attribute column once to build itself,
        and would otherwise hold them all: 700 MB at 10M tracks)."""
        if column_name in self._numbers or self.whole_rows or self._frame is not None or column_name in self._loaded:
            values = self.numbers(column_name)
            values = values if rows is None else values[rows]
            return values.astype(np.float64, copy=False)
        assert self._reader is not None
        series = self._reader.read(column_name) if rows is None else self.take_columns(rows, [column_name])[column_name]
        values = series.cast(pl.Float64).fill_null(np.nan).to_numpy()
        del series
        if rows is None:
            release()
        return values

    def known(self, column_name: str) -> np.ndarray:
        """Rows where a numeric column has a value (computed once per column)."""
        return self.cache.get(Key(f"tracks.known.{column_name}", "tracks"), lambda: ~np.isnan(self.numbers(column_name)))

    def rows_of(self, track_ids: Iterable[str]) -> np.ndarray:
        """Rows of the given track ids that exist, in the order given (unknown ids left out)."""
        rows = self.rows_or_missing(track_ids)
        return rows[rows >= 0]

    def rows_or_missing(self, track_ids: Iterable[str]) -> np.ndarray:
        """The row of each id, in the order given; -1 where there is no such track.

        A binary search over the ids' 64-bit hashes (12 bytes a track: 120 MB at 10M,
        where an array of the ids as Python strings took 680 MB), each hit checked against
        the id itself, so a hash collision never returns a wrong row. Lookups of a few ids (a
        query's seed tracks) scan the ids instead (50-70 ms at 10M tracks, where hashing and
        sorting them takes 2-3 s: what a command that runs one query waits for) until the
        hashes are sorted, which a second such lookup starts in a background thread (a
        process that goes on asking: no query of it waits the seconds the sort takes)."""
        query = pl.Series("q", list(track_ids) if not isinstance(track_ids, pl.Series) else track_ids, dtype=pl.String)
        out = np.full(len(query), -1, dtype=np.int64)
        if not len(query) or not len(self):
            return out
        if self._sorted_ids is None and len(query) <= FEW_IDS:
            self._id_scans += 1
            ids = self.column("track_id")  # (read here, not by the thread and a lookup at once)
            if self._id_scans >= SORT_AFTER_SCANS:
                self._sort_ids_behind()
            rows = np.flatnonzero(ids.is_in(query.implode()).fill_null(False).to_numpy())
            row_of = dict(zip(ids.gather(rows).to_list(), rows.tolist()))
            return np.array([row_of.get(q, -1) for q in query.to_list()], dtype=np.int64)
        hashes, order = self._ids()
        want = query.hash(_SEED).to_numpy()
        if len(want) > 10_000:  # many ids: search them in sorted order (10M random searches took 17 s, sorted 1 s)
            by_hash = np.argsort(want)
            lo, hi = np.empty(len(want), dtype=np.int64), np.empty(len(want), dtype=np.int64)
            lo[by_hash] = np.searchsorted(hashes, want[by_hash], "left")
            hi[by_hash] = np.searchsorted(hashes, want[by_hash], "right")
        else:
            lo, hi = np.searchsorted(hashes, want, "left"), np.searchsorted(hashes, want, "right")
        one = hi - lo == 1
        if one.any():
            at = np.flatnonzero(one)
            rows = order[lo[at]]
            same = (self.column("track_id").gather(rows) == query.gather(at)).fill_null(False).to_numpy()
            out[at[same]] = rows[same]
        ids = self.column("track_id")
        for i in np.flatnonzero(hi - lo > 1):  # several tracks share this hash (rare): compare each
            for row in order[lo[i]:hi[i]]:
                if ids[int(row)] == query[int(i)]:
                    out[i] = row
                    break
        return out

    def row_of_id(self, track_id: str) -> int | None:
        rows = self.rows_of([track_id])
        return int(rows[0]) if len(rows) else None

    def _ids(self) -> tuple[np.ndarray, np.ndarray]:
        """The track ids' hashes sorted, and the row of each (sorted once: a caller that
        needs them while the background thread sorts them waits for it)."""
        if self._sorted_ids is None:
            with self._sorting_ids:
                if self._sorted_ids is None:
                    # polars' sort: 0.7 s at 10M tracks where numpy's argsort took 2.9-3.9 s, and
                    # the rows come as 32-bit (40 MB less at 10M)
                    hashes = self.column("track_id").hash(_SEED)
                    order = hashes.arg_sort()
                    self._sorted_ids = (hashes.gather(order).to_numpy(), order.to_numpy())
        return self._sorted_ids

    def _sort_ids_behind(self) -> None:
        """Sort the ids' hashes in a background thread, once (hashing and sorting release
        the GIL: lookups and queries go on meanwhile)."""
        if self._ids_thread is not None:
            return
        self._ids_thread = threading.Thread(target=self._sort_quietly, name="attune-id-hashes", daemon=True)
        self._ids_thread.start()

    def _sort_quietly(self) -> None:
        with suppress(Exception):  # (a lookup that needs them sorts them itself, and says why it could not)
            self._ids()

    def vectors(self, column_name: str) -> tuple[np.ndarray, np.ndarray]:
        """A vector column as an (N, d) float matrix and a has-vector mask (read on first use)."""
        return self.cache.get(_VECTORS[column_name], lambda: self._load_vectors(column_name))

    def _load_vectors(self, column_name: str) -> tuple[np.ndarray, np.ndarray]:
        if column_name in self.columns:
            frame = self.select(["_row", column_name])
        elif self._read_vectors is not None:
            read = self._read_vectors(column_name)
            rows = self.rows_of(read["track_id"].to_list())
            frame = pl.DataFrame({"_row": rows, column_name: read[column_name]}) if len(rows) == read.height else (
                read.join(self.select(["track_id", "_row"]), on="track_id", how="inner").select("_row", column_name)
            )
        else:
            return np.zeros((len(self), 0)), np.zeros(len(self), dtype=bool)
        return vector_matrix(frame, column_name, len(self))


#: `rows_or_missing` scans the ids for lookups of at most this many ids ...
FEW_IDS = 16
#: ... until their hashes are sorted, which the SORT_AFTER_SCANS-th such lookup starts in a
#: background thread.
SORT_AFTER_SCANS = 2


def _narrowed(values: np.ndarray) -> np.ndarray:
    """float64 values as float32 when every one of them is a float32 (NaN included), else
    as they are. Checked a slice at a time, so a column that is not stops at its first."""
    step = 1 << 20
    for start in range(0, len(values), step):
        part = values[start : start + step]
        if not np.array_equal(part.astype(np.float32), part, equal_nan=True):
            return values
    return values.astype(np.float32)


_VECTORS = {name: Key(f"tracks.vectors.{name}", "tracks") for name in ("embedding", "colisten", "taggram")}


def vector_matrix(frame: pl.DataFrame, column_name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, d) matrix and has-vector mask from a (_row, list<float>) frame; rows of another
    length than the most common one count as missing."""
    lengths = frame[column_name].list.len().fill_null(0).to_numpy()
    keep = lengths > 0
    has = np.zeros(n, dtype=bool)
    if not keep.any():
        return np.zeros((n, 0)), has
    d = int(np.bincount(lengths[keep]).argmax())
    keep &= lengths == d
    rows = frame["_row"].to_numpy()[keep]
    x = np.zeros((n, d))
    x[rows] = np.stack(frame[column_name].filter(pl.Series(keep)).to_list())
    has[rows] = True
    return x, has


_PLAYLIST_ROWS = Key[dict]("snapshot.playlist_rows")
_MEMBERSHIP = Key[pl.DataFrame]("snapshot.membership")
_INHERITED = Key[tuple]("snapshot.inherited_genres")
_GENRE_INDEX = Key[TextIndex]("snapshot.genre_index")
_FRAME = Key[pl.DataFrame]("snapshot.frame")
_GENRE_UNKNOWN = Key[np.ndarray]("snapshot.genre_unknown")


@dataclass
class Learned:
    """Where a snapshot keeps what it learns from its playlists: the co-listen vectors and
    the cold-start mapping (each loader returns None when nothing valid for this snapshot's
    playlists is stored). A snapshot without one (evaluation views) learns in memory."""

    load_vectors: Callable[[], dict | None]
    save_vectors: Callable[[dict], None]
    load_mapping: Callable[[], dict | None]
    save_mapping: Callable[[dict], None]


class Snapshot:
    """Track data and playlists; see the module docstring."""

    def __init__(
        self,
        tracks: TrackData,
        playlists: Iterable[Playlist],
        *,
        whiteners: dict | None = None,
        colisten_io: Learned | None = None,
        stored_parts: Callable[[bool], dict | None] | None = None,
        key: object = None,
        previous: Snapshot | None = None,
    ) -> None:
        self.tracks = tracks
        self.playlists: dict[str, Playlist] = {p.name: p for p in playlists}
        #: Whether any playlist gives its tracks genres (Spotify's playlist genres).
        self.inherits_genres = any(p.genres for p in self.playlists.values())
        #: Stored whitening (name -> Whitener) to use instead of fitting, when still valid.
        self.whiteners: dict = dict(whiteners or {})
        #: Stored co-listen vectors and mapping; None: learn in memory (evaluation snapshots).
        self.colisten_io = colisten_io
        #: The attribute space's parts `attune optimize` stored for these tracks (given
        #: whether genres are inherited from the playlists), or None when none are current
        #: (`spaces.attributes.AttributeParts.stored`); None: always computed.
        self.stored_parts = stored_parts
        self.key = key
        self.cache = Memo()
        #: The snapshot this one replaces (same tracks, other playlists): what did not change is reused.
        self.previous = previous if previous is not None and previous.tracks is tracks else None
        #: What the snapshots before `previous` computed, newest value per key (`earlier`). The
        #: chain is cut at one link, so a long-running process that sees thousands of playlist
        #: edits holds one earlier snapshot, not all of them.
        self.inherited: dict[Key, object] = {}
        if self.previous is not None:
            newer = self.previous.cache.items()
            self.inherited = {**self.previous.inherited, **newer}
            if _PLAYLIST_ROWS in newer:  # rows per playlist: the newer snapshot may have computed only some
                self.inherited[_PLAYLIST_ROWS] = {**self.previous.inherited.get(_PLAYLIST_ROWS, {}), **newer[_PLAYLIST_ROWS]}
            self.previous.previous, self.previous.inherited = None, {}

    def earlier(self, key: Key[T]) -> T | None:
        """The value of `key` as the newest earlier snapshot that computed it left it (None:
        none did); the caller checks it still fits (the playlists it was computed for)."""
        if self.previous is None:
            return None
        value = self.previous.cache.peek(key)
        return value if value is not None else self.inherited.get(key)  # type: ignore[return-value]

    @classmethod
    def build(cls, tracks: pl.DataFrame, playlists: Iterable[Playlist], whiteners: dict | None = None, *,
              vectors: Callable[[str], pl.DataFrame] | None = None, colisten_io: Learned | None = None) -> Snapshot:
        """A snapshot of plain data (tests, evaluation)."""
        return cls(TrackData(tracks, vectors=vectors), playlists, whiteners=whiteners, colisten_io=colisten_io)

    def with_playlists(self, playlists: Iterable[Playlist]) -> Snapshot:
        """The same tracks with other playlists (spaces are refitted on them)."""
        return Snapshot(self.tracks, playlists)

    def __len__(self) -> int:
        return len(self.tracks)

    def memo(self, key: Key[T], factory: Callable[[], T]) -> T:
        """The cached value of `key`, computed by `factory` on first use."""
        return (self.tracks.cache if key.scope == "tracks" else self.cache).get(key, factory)

    def forget(self, key: Key) -> None:
        (self.tracks.cache if key.scope == "tracks" else self.cache).drop(key)

    # -- frames and columns ---------------------------------------------------------

    @property
    def frame(self) -> pl.DataFrame:
        """Every track, with the genres it inherits from its playlists (built on first use)."""
        if not self.inherits_genres:
            return self.tracks.frame
        return self.memo(_FRAME, lambda: self.gather(np.arange(len(self))))

    def gather(self, rows: np.ndarray | Sequence[int]) -> pl.DataFrame:
        """These rows (in this order), genres including those inherited from playlists."""
        rows = np.asarray(rows, dtype=np.int64)
        picked = self.tracks.take(rows)
        if not self.inherits_genres or not len(rows):
            return picked
        inh_rows, inh_genres = self.memo(_INHERITED, self._inherited)
        lo, hi = np.searchsorted(inh_rows, rows, "left"), np.searchsorted(inh_rows, rows, "right")
        own = picked["genres"].to_list()
        merged = [list(dict.fromkeys([*(g or ()), *inh_genres[a:b]])) if b > a else g for g, a, b in zip(own, lo, hi)]
        return picked.with_columns(pl.Series("genres", merged, dtype=pl.List(pl.String)))

    def numbers(self, column_name: str) -> np.ndarray:
        return self.tracks.numbers(column_name)

    def known(self, column_name: str) -> np.ndarray:
        return self.tracks.known(column_name)

    def rows_of(self, track_ids: Iterable[str]) -> np.ndarray:
        return self.tracks.rows_of(track_ids)

    def row_of_id(self, track_id: str) -> int | None:
        return self.tracks.row_of_id(track_id)

    def artists(self) -> list[str]:
        return self.tracks.column("artist").drop_nulls().unique().to_list()

    def text_index(self, field_name: str) -> TextIndex:
        """The dictionary encoding of a text field; `genre` includes inherited genres."""
        if field_name == "genre" and self.inherits_genres:
            return self.memo(_GENRE_INDEX, self._genre_index)
        return self.tracks.text_index(field_name)

    def genre_unknown(self) -> np.ndarray:
        """Rows of tracks with no genre at all."""
        def unknown() -> np.ndarray:
            index = self.text_index("genre")
            assert index.rows is not None
            return np.bincount(index.rows, minlength=len(self)) == 0

        return self.memo(_GENRE_UNKNOWN, unknown)

    # -- playlists ------------------------------------------------------------------

    def playlist_rows(self, name: str) -> np.ndarray:
        """Rows of a playlist's tracks that are in the library, in playlist order."""
        rows = self.memo(_PLAYLIST_ROWS, dict)  # name -> (the track ids they are of, rows)
        if name not in rows:
            ids = self.playlists[name].track_ids
            rows[name] = self._earlier_rows(name) or (ids, self.tracks.rows_of(ids))
        return rows[name][1]

    def _earlier_rows(self, name: str) -> tuple[tuple[str, ...], np.ndarray] | None:
        """What an earlier snapshot found for this playlist, if its tracks are the same."""
        old = (self.previous.cache.peek(_PLAYLIST_ROWS) or {}).get(name) if self.previous is not None else None
        old = old if old is not None else self.inherited.get(_PLAYLIST_ROWS, {}).get(name)  # type: ignore[union-attr]
        return old if old is not None and old[0] == self.playlists[name].track_ids else None

    def resolve_playlists(self) -> None:
        """Find the rows of every playlist not resolved yet in one lookup of all their ids
        (2,000 playlists one at a time took 1.8 s at 10M tracks: a hash search per call)."""
        rows = self.memo(_PLAYLIST_ROWS, dict)
        missing = []
        for name in self.playlists:
            if name not in rows:
                earlier = self._earlier_rows(name)
                if earlier is not None:
                    rows[name] = earlier
                else:
                    missing.append(name)
        if not missing:
            return
        found = self.tracks.rows_or_missing([t for name in missing for t in self.playlists[name].track_ids])
        start = 0
        for name in missing:
            ids = self.playlists[name].track_ids
            part = found[start : start + len(ids)]
            rows.setdefault(name, (ids, part[part >= 0]))
            start += len(ids)

    @property
    def membership(self) -> pl.DataFrame:
        """One row per (playlist, track) entry that is in the library: playlist, track_id, _row."""
        def build() -> pl.DataFrame:
            names, rows = [], []
            self.resolve_playlists()
            for name in self.playlists:
                found = self.playlist_rows(name)
                names.append(np.full(len(found), name, dtype=object))
                rows.append(found)
            row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
            ids = self.tracks.column("track_id").to_numpy()[row] if len(row) else np.zeros(0, dtype=object)
            return pl.DataFrame(
                {"playlist": np.concatenate(names) if names else [], "track_id": ids, "_row": row},
                schema={"playlist": pl.String, "track_id": pl.String, "_row": pl.UInt32},
            )

        return self.memo(_MEMBERSHIP, build)

    def _inherited(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, genres) each track inherits from its playlists, sorted by row."""
        rows, genres = [], []
        for p in self.playlists.values():
            if p.genres:
                found = self.playlist_rows(p.name)
                for g in p.genres:
                    rows.append(found)
                    genres.append(np.full(len(found), g, dtype=object))
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
        row, genre = np.concatenate(rows), np.concatenate(genres)
        order = np.argsort(row, kind="stable")
        return row[order], genre[order]

    def _genre_index(self) -> TextIndex:
        own = self.tracks.text_index("genre")  # the tracks' own genres (kept with the track data)
        return own.with_entries(*self.memo(_INHERITED, self._inherited))
