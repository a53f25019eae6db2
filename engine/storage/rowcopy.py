"""A row-wise copy of the tracks table, for result rows over the memory budget.

LanceDB stores a table a column at a time, so taking a few whole rows by position costs
about 0.6-1 ms per column however few the rows: the 37 columns of a result row took
42 ms for 10 rows of a 10M-track library, most of an audio search. `attune optimize`
therefore also writes `track_rows`: per track, its id and every snapshot column encoded
as one JSON object (short keys; NaN kept apart, JSON has none). Ten rows then cost one
column's take and a vectorised decode: about 5 ms.

The copy is written in the tracks table's order from one version of it, recorded in the
meta table (`rows.copy`). A snapshot at that very version maps row i to place i; a later
one maps its rows by comparing runs of track ids (`places`), and treats every track
written after the copy was made (`updated_at`) as missing from it: those rows are taken
from the tracks table itself, so a result row is never older than the snapshot. A copy
newer than the snapshot is not used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from .reads import READ_BATCH, take_ordered
from .sqltext import chunks, sql_in

TABLE = "track_rows"
META_KEY = "rows.copy"
#: The key of the list of a row's NaN columns (JSON has no NaN; a NaN would read back as null).
NAN_KEY = "~"


@dataclass(frozen=True)
class CopyState:
    """What `rows.copy` in the meta table says: the tracks version the copy was made from,
    its rows and columns, and when it was started (tracks written after are not in it)."""

    tracks_version: int
    rows: int
    columns: tuple[str, ...]
    built_at: str
    #: Written whole, in the tracks table's order (a refresh appends the rows it replaces).
    ordered: bool = True
    #: The copy table's version this state describes (a reader checks out that very version).
    version: int = 0

    @classmethod
    def from_meta(cls, data: dict | None) -> CopyState | None:
        if not data:
            return None
        return cls(int(data["tracks_version"]), int(data["rows"]), tuple(data["columns"]), str(data["built_at"]),
                   bool(data.get("ordered", False)), int(data.get("version", 0)))

    def to_meta(self) -> dict:
        return {**asdict(self), "columns": list(self.columns)}


def _keys(columns: Sequence[str]) -> dict[str, str]:
    return {c: format(i, "x") for i, c in enumerate(columns)}


def encode(frame: pl.DataFrame, columns: Sequence[str]) -> pl.Series:
    """Each row of `frame` (these columns) as one JSON object, keyed by the column's place."""
    keys = _keys(columns)
    floats = [c for c in columns if frame.schema[c] in (pl.Float32, pl.Float64)]
    fields = [pl.col(c).alias(keys[c]) for c in columns]
    if floats:
        nans = pl.concat_list([pl.when(pl.col(c).is_nan()).then(pl.lit(keys[c])) for c in floats]).list.drop_nulls()
        fields.append(pl.when(nans.list.len() > 0).then(nans).alias(NAN_KEY))
    return frame.select(pl.struct(fields).struct.json_encode().alias("row")).to_series()


def decode(rows: pl.Series, schema: pl.Schema | dict[str, pl.DataType]) -> pl.DataFrame:
    """Rows encoded by `encode` back as a frame with this schema (the columns encoded)."""
    columns = list(schema)
    keys = _keys(columns)
    struct = pl.Struct({**{keys[c]: schema[c] for c in columns}, NAN_KEY: pl.List(pl.String)})
    frame = rows.str.json_decode(struct).struct.unnest()
    nans = frame[NAN_KEY]
    frame = frame.drop(NAN_KEY).rename({keys[c]: c for c in columns})
    if nans.null_count() == len(nans):  # no NaN in these rows (the usual case)
        return frame
    floats = [c for c in columns if schema[c] in (pl.Float32, pl.Float64)]
    return frame.with_columns(nans.alias(NAN_KEY)).with_columns(
        pl.when(pl.col(NAN_KEY).list.contains(keys[c]).fill_null(False)).then(float("nan")).otherwise(pl.col(c)).alias(c)
        for c in floats).drop(NAN_KEY)


class RowCopies:
    """The row copy of one store (`store.copies`)."""

    def __init__(self, store) -> None:
        self.store = store

    def state(self) -> CopyState | None:
        self.store.latest_version("meta")  # see what other processes wrote
        return CopyState.from_meta(self.store.get_meta(META_KEY))

    def columns(self, columns: Sequence[str]) -> tuple[str, ...]:
        """Those of these columns the tracks table has: what a copy holds."""
        have = set(self.store.tables["tracks"].schema.names)
        return tuple(c for c in columns if c in have)

    @contextmanager
    def _writing(self) -> Iterator[tuple[Any, int, str]]:
        """Hold the copy's lock, with the tracks table at its newest version: (the tracks
        table, its version, the time now, before anything is read: a track written while
        the copy is made counts as written after it)."""
        with self.store.locks.hold(TABLE):
            built_at = datetime.now(UTC).isoformat()
            tracks = self.store.tables["tracks"]
            tracks.checkout_latest()
            yield tracks, tracks.version, built_at

    def write(self, columns: Sequence[str], progress: Callable[[int], None] | None = None) -> CopyState:
        """Write the copy anew from the tracks table's newest version, a batch at a time."""
        store = self.store
        with self._writing() as (tracks, version, built_at):
            have = list(self.columns(columns))
            table, rows = None, 0
            for batch in tracks.search().select(have).limit(max(tracks.count_rows(), 1)).to_batches(READ_BATCH):
                data = _table(pl.from_arrow(pa.Table.from_batches([batch])), have)  # type: ignore[arg-type]
                if table is None:
                    table = store.db.create_table(TABLE, data, mode="overwrite")
                else:
                    table.add(data)
                rows += data.num_rows
                if progress:
                    progress(data.num_rows)
            if table is None:
                table = store.db.create_table(TABLE, schema=_SCHEMA, mode="overwrite")
            table.optimize(cleanup_older_than=_KEEP)
            state = CopyState(version, rows, tuple(have), built_at, True, table.version)
            store.set_meta(META_KEY, state.to_meta())
        return state

    def refresh(self, state: CopyState) -> tuple[CopyState, int]:
        """Bring the copy up to the tracks table's newest version: the rows of the tracks
        written since it was made are replaced (deleted tracks' rows stay, never matched).
        Returns the new state and how many rows were replaced."""
        store = self.store
        with self._writing() as (tracks, version, built_at):
            if version == state.tracks_version:
                return state, 0
            table = store.db.open_table(TABLE)
            newer = tracks.search().where(written_since(state.built_at)).select(list(state.columns))
            data = pl.from_arrow(newer.limit(max(tracks.count_rows(), 1)).to_arrow())
            assert isinstance(data, pl.DataFrame)
            ids = data["track_id"].to_list()
            for chunk in chunks(ids, 1000):
                table.delete(sql_in("track_id", chunk))
            if ids:
                table.add(_table(data, state.columns))
                table.optimize(cleanup_older_than=_KEEP)
            # Still in the tracks table's order only if nothing was replaced here and no row moved
            # there (a column updated without a new write time, the co-listen vectors, moves
            # the updated rows to the table's end).
            ordered = state.ordered and not ids and _same_order(tracks, table)
            new = CopyState(version, table.count_rows(), state.columns, built_at, ordered, table.version)
            store.set_meta(META_KEY, new.to_meta())
        return new, len(ids)

    def reader(self, tracks_table, version: int, rows: int) -> CopyReader | None:
        """The copy as a snapshot pinned at this version of the tracks table reads it (None:
        no copy, or one newer than the snapshot)."""
        state = self.state()
        if state is None or state.tracks_version > version or TABLE not in self.store._table_names():
            return None
        table = self.store.db.open_table(TABLE)
        try:
            table.checkout(state.version)
        except (ValueError, RuntimeError, OSError):  # removed since (a copy made over an hour after this one)
            return None
        return CopyReader(state, table, tracks_table, identity=state.ordered and state.tracks_version == version and state.rows == rows)


#: Versions of the copy (derived data) are removed after this long: a reader still on one has long finished.
_KEEP = timedelta(hours=1)
_SCHEMA = pa.schema([pa.field("track_id", pa.string()), pa.field("row", pa.string())])


def _table(frame: pl.DataFrame, columns: Sequence[str]) -> pa.Table:
    return pa.table({"track_id": frame["track_id"].to_arrow().cast(pa.string()),
                     "row": encode(frame, columns).to_arrow().cast(pa.string())}, schema=_SCHEMA)


def written_since(built_at: str) -> str:
    """The SQL filter for tracks written after `built_at` (an ISO time in UTC): what a
    derived table (the row copy, a space's index) made then does not hold yet."""
    return f"updated_at > TIMESTAMP '{built_at[:26].replace('+00:00', '')}'"


class CopyReader:
    """The row copy, pinned, as one snapshot reads it."""

    def __init__(self, state: CopyState, table, tracks_table, *, identity: bool) -> None:
        self.state, self.table, self._tracks = state, table, tracks_table
        self.identity = identity
        self._places: np.ndarray | None = None
        self.columns = state.columns

    def places(self, track_ids: Callable[[], pl.Series], rows_or_missing: Callable[[Iterable[str]], np.ndarray],
               n: int) -> np.ndarray | None:
        """Each snapshot row's place in the copy, -1 where the copy lacks it or is older than
        the track (None: the identity, a copy of the snapshot's own version)."""
        if self.identity:
            return None
        if self._places is None:
            found = places(track_ids(), rows_or_missing, _batches(self.table), n)
            newer = self._tracks.search().where(written_since(self.state.built_at)).select(["track_id"])
            changed = rows_or_missing(newer.limit(max(n, 1)).to_arrow()["track_id"].to_pylist())
            found[changed[changed >= 0]] = -1
            self._places = found
        return self._places

    def take(self, offsets: np.ndarray, schema: pl.Schema | dict[str, pl.DataType]) -> pl.DataFrame:
        """The rows at these places of the copy, decoded with the snapshot's schema."""
        if not len(offsets):
            return pl.DataFrame(schema=schema)
        rows = take_ordered(self.table, offsets, ["row"])["row"]
        return decode(pl.Series("row", rows.combine_chunks(), dtype=pl.String), schema)

    def nbytes(self) -> int:
        return 0 if self._places is None else int(self._places.nbytes)


def _same_order(tracks, copy) -> bool:
    """Whether the copy holds the tracks table's ids in the same order (read a batch at a
    time; stops at the first difference)."""
    if tracks.count_rows() != copy.count_rows():
        return False
    left = iter(_batches(tracks))
    pending = pl.Series("track_id", [], dtype=pl.String)
    for ids in _batches(copy):
        while len(pending) < len(ids):
            more = next(left, None)
            if more is None:
                return False
            pending = pl.concat([pending, more])
        if not bool((pending.slice(0, len(ids)) == ids).all()):
            return False
        pending = pending.slice(len(ids))
    return True


def _batches(table) -> Iterator[pl.Series]:
    for batch in table.search().select(["track_id"]).limit(max(table.count_rows(), 1)).to_batches(READ_BATCH):
        yield pl.from_arrow(batch.column(0)).alias("track_id")  # type: ignore[union-attr]


def places(track_ids: pl.Series, rows_or_missing: Callable[[pl.Series], np.ndarray], batches: Iterable[pl.Series],
           n: int) -> np.ndarray:
    """Each of n snapshot rows' place in a table derived from the tracks table (-1: not
    there), from the table's track ids a batch at a time. Such a table is written in the
    tracks table's order, so a batch usually holds the very ids of the snapshot rows after
    the last one found: that is checked by comparing the two runs of ids (0.1 s for 10M
    tracks) before any id is looked up one by one (8 s for 10M); a batch that differs (a
    track missing there, rows written or deleted since) is looked up. int32 places when the
    table has fewer than 2^31 rows."""
    out = np.full(n, -1, dtype=np.int64)
    start = at = 0  # the batch's first place in the table; the snapshot row expected next
    for ids in batches:
        m = len(ids)
        if at + m <= n and m and bool((track_ids.slice(at, m) == ids).all()):
            out[at : at + m] = start + np.arange(m)
            at += m
        else:
            rows = rows_or_missing(ids)
            found = rows >= 0
            out[rows[found]] = start + np.flatnonzero(found)
            at = int(rows[found][-1]) + 1 if found.any() else at
        start += m
    return out.astype(np.int32) if start < 2**31 else out
