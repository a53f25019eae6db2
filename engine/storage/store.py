"""The LanceDB store of record: table schemas, opening, migrations, atomic writes.

Every write here is one LanceDB commit (one table version), so a crash leaves a
table as it was before the write or with the whole write, never half of it.
Nothing above `attune.engine.storage` talks to LanceDB directly.
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa

from ..errors import DamagedError, LibraryError
from .history import History
from .locks import Locks
from .place import Place, is_uri, place_of
from .reads import READ_BATCH, read_all, take_ordered
from .rowcopy import RowCopies
from .schema import META_SCHEMA, SCHEMA_VERSION, TABLES
from .sqltext import chunks, sql_in, sql_string
from .vectors import VectorIndexes

#: How stale a view of the tables may be with respect to other processes' writes.
CONSISTENCY_SECONDS = 1.0
#: Meta key: columns added to the tables' schemas that the library has not filled yet.
ADDED_COLUMNS = "columns.added"


def now() -> datetime:
    return datetime.now(UTC)


class Versions(NamedTuple):
    """The versions of the tables a snapshot is read from. Track data (and everything
    computed from it) is keyed on `tracks` and `segments`; playlist data (memberships,
    inherited genres, whitening) on `playlists`."""

    tracks: int
    playlists: int
    segments: int

    @property
    def track_key(self) -> tuple[int, int]:
        return (self.tracks, self.segments)


#: The way out of a damaged table of the library's own (`Store.reading`).
RESTORE = "`attune history` lists its earlier versions and `attune restore N` brings the library back to one"


class QueryTimeout(LibraryError):
    """A query ran past its time limit and was stopped."""

    title = "query timeout"


class _Damaged:
    """Stands for a table that could not be opened: any use raises why."""

    def __init__(self, error: DamagedError) -> None:
        self.error = error

    def __getattr__(self, name: str):
        raise self.error


class Written(NamedTuple):
    """What one upsert did: rows inserted and updated, and the table version it committed."""

    inserted: int
    updated: int
    version: int


class Store:
    """The library: its LanceDB tables, in a folder or on object storage (`place.py`)."""

    def __init__(self, place: Place | Path | str, *, caches: tuple[int, int] | None = None) -> None:
        """`caches`: bytes of LanceDB's index and metadata caches (None: LanceDB's defaults)."""
        self.place = place if isinstance(place, Place) else place_of(place)
        #: The folder of a local library; the URI (a string) of one on object storage.
        self.path: Path | str = self.place.local if self.place.local is not None else str(self.place)
        self._versions: Versions | None = None
        self._checked = 0.0
        self.place.prepare()
        self.locks = Locks(self.place)
        #: LanceDB's caches, sized (None: LanceDB's default session, 6 GB and 1 GB).
        self.session = None
        if caches is not None:
            from lancedb import Session

            self.session = Session(index_cache_size_bytes=int(caches[0]), metadata_cache_size_bytes=int(caches[1]))
        with self.place.guarding("opening the library"):
            self.db = self.place.connect(self.session)
        self.tables = {}
        # (two processes creating one library take turns)
        with self.locks.hold("library"), self.place.guarding("opening the library"):
            existing = set(self._table_names())
            for name, schema in TABLES.items():
                try:
                    with self.reading(name):
                        if name in existing:
                            self.tables[name] = self.db.open_table(name)
                        else:
                            self.tables[name] = self.db.create_table(name, schema=schema, exist_ok=True)
                except DamagedError as exc:  # kept, so `attune history` and `attune restore` still work
                    self.tables[name] = _Damaged(exc)
            self._check_schema_version(fresh=not existing)
            self.added_columns: list[str] = []
            self._add_missing_columns()
        self.history = History(self)
        self.vectors = VectorIndexes(self)  # the space tables and their indexes (`attune optimize`)
        self.copies = RowCopies(self)  # the row copy of the tracks table (`attune optimize`)

    @property
    def damaged(self) -> list[str]:
        """Tables that could not be opened (each use of them raises their DamagedError)."""
        return [name for name, table in self.tables.items() if isinstance(table, _Damaged)]

    def reopen(self, name: str) -> None:
        """Open a table again (after its newest versions were set aside by a restore)."""
        with self.reading(name):
            self.tables[name] = self.db.open_table(name)
        self._changed()

    def _table_names(self) -> list[str]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return list(self.db.table_names())

    def _check_schema_version(self, *, fresh: bool) -> None:
        stored = self.get_meta("schema_version")
        if stored is None:
            if not fresh and self.tables["tracks"].count_rows() > 0:
                raise LibraryError(
                    f"{self.path} holds tracks but no schema version; it was not written by attune"
                )
            self.set_meta("schema_version", SCHEMA_VERSION)
            return
        if int(stored) > SCHEMA_VERSION:
            raise LibraryError(
                f"the library at {self.path} was written by a newer attune (schema {stored}, "
                f"this attune reads up to {SCHEMA_VERSION}); upgrade attune to open it"
            )
        # Versions below SCHEMA_VERSION would be migrated here; 1 is the first.

    def _add_missing_columns(self) -> None:
        """Columns added to a table's schema since it was written are added, empty, and
        listed in `added_columns` until the library has filled those it can derive
        (`filled`). The list is written to meta before a column is added, so a process
        stopped between adding and filling leaves it for the next open."""
        meta_ok = not isinstance(self.tables["meta"], _Damaged)
        pending = [str(c) for c in (self.get_meta(ADDED_COLUMNS) or [])] if meta_ok else []
        for name, schema in TABLES.items():
            if isinstance(self.tables[name], _Damaged):
                continue
            have = set(self.tables[name].schema.names)
            missing = [f for f in schema if f.name not in have]
            if missing:
                if name != "meta" and meta_ok:
                    pending += [f"{name}.{f.name}" for f in missing]
                    self.set_meta(ADDED_COLUMNS, pending)
                self.tables[name].add_columns(missing)
        self.added_columns = pending

    def filled(self, columns: Sequence[str]) -> None:
        """The library has filled these added columns (`added_columns` forgets them)."""
        self.added_columns = [c for c in self.added_columns if c not in set(columns)]
        self.set_meta(ADDED_COLUMNS, self.added_columns)

    # -- versions --------------------------------------------------------------

    def versions(self) -> Versions:
        """Table versions: a key that changes whenever a table changes.

        Writes through this store are seen at once; writes by another process
        (an index run beside a search session) within CONSISTENCY_SECONDS.
        """
        versions, clock = self._versions, time.monotonic()  # one read: another thread may forget them meanwhile
        if versions is None or clock - self._checked > CONSISTENCY_SECONDS:
            versions = self._versions = self._latest_versions()
            self._checked = clock
        return versions

    @property
    def cached_versions(self) -> Versions | None:
        """The versions `versions()` holds now, read from nothing (None before the first)."""
        return self._versions

    def newest_versions(self) -> Versions:
        """The tables' versions as of now, for a check in the background (`attune serve`
        looking for other processes' writes). The cached versions take them but keep their
        age: a check here never delays when `versions()` next looks for itself, so a commit
        another process makes just after it is not hidden for CONSISTENCY_SECONDS."""
        latest = self._latest_versions()
        if self._versions is not None:
            self._versions = latest
        return latest

    def _latest_versions(self) -> Versions:
        names = ("tracks", "playlists", "segments")
        for name in names:
            with self.reading(name):
                self.tables[name].checkout_latest()
        return Versions(*(self.tables[name].version for name in names))

    def _changed(self) -> None:
        self._versions = None

    def changed(self) -> None:
        """Forget the cached versions: the next `versions()` reads them anew."""
        self._changed()

    @contextmanager
    def reading(self, table: str, remedy: str = RESTORE) -> Iterator[None]:
        """Turn LanceDB's errors about a table's files into one clear error naming the table
        and the way out (`remedy`: by default the history and `attune restore`)."""
        try:
            yield
        except (RuntimeError, OSError, ValueError) as exc:
            if isinstance(exc, ValueError) or ("lance" not in str(exc).lower() and not isinstance(exc, OSError)):
                failed = self.place.failure(exc, f"reading the {table} table")
                if failed is None:
                    raise
                raise failed from None
            raise self.unreadable(table, exc, remedy) from None

    def unreadable(self, table: str, exc: BaseException, remedy: str = RESTORE) -> LibraryError:
        """The error saying that a table's files cannot be read, and what to do; or, on
        object storage, that the storage itself failed (`place.storage_failure`): a
        network error is no reason to restore anything."""
        failed = self.place.failure(exc, f"reading the {table} table")
        if failed is not None:
            return failed
        text = str(exc)
        first = text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__
        return DamagedError(f"the {table} table of the library at {self.path} cannot be read ({first}); {remedy}")

    @contextmanager
    def writing(self, table: str) -> Iterator[None]:
        """Hold the table's write lock, with the table checked out at its newest version:
        what is read inside the block is what the write will replace (see `locks.py`)."""
        with self.locks.hold(table), self.place.guarding(f"writing the {table} table"):
            if not self.locks.held(table, outer=True):
                self.tables[table].checkout_latest()
            yield

    def is_writing(self, table: str) -> bool:
        """Whether this thread holds the table's write lock (the table is then current)."""
        return self.locks.held(table)

    # -- meta --------------------------------------------------------------------

    def get_meta(self, key: str) -> Any:
        table = self.tables["meta"]
        rows = table.search().where(f"key = {sql_string(key)}").select(["value"]).to_arrow()
        return json.loads(rows["value"][0].as_py()) if rows.num_rows else None

    def set_meta(self, key: str, value: Any) -> None:
        data = pa.table({"key": [key], "value": [json.dumps(value)]}, schema=META_SCHEMA)
        self.upsert("meta", "key", data)

    def update_meta(self, key: str, change) -> Any:
        """Read a meta value, change it and write it back, with no other writer in between."""
        with self.writing("meta"):
            value = change(self.get_meta(key))
            self.set_meta(key, value)
        return value

    # -- writes --------------------------------------------------------------------

    def upsert(self, table: str, key: str, data: pa.Table) -> Written:
        """Insert or update rows by key in one commit; returns what it did and the version it made.

        Holds the table's write lock and merges against its newest version, so two
        writers upserting the same new key at once insert it once."""
        if data.num_rows == 0:
            return Written(0, 0, self.tables[table].version)
        data = data.select(TABLES[table].names).cast(TABLES[table])
        with self.writing(table):
            result = (
                self.tables[table]
                .merge_insert(key)
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute(data)
            )
        self._changed()
        return Written(result.num_inserted_rows, result.num_updated_rows, result.version)

    def deduplicate(self, table: str, key: str, order: str | None = None) -> int:
        """Keep one row per key (the last by `order`, else any): repairs what concurrent
        writers of older attune versions inserted twice. Returns the rows removed."""
        with self.writing(table):
            keys = self.read(table, [key])[key]
            counts = keys.value_counts()
            twice = [k.as_py() for k, n in zip(counts.field(0), counts.field(1)) if n.as_py() > 1]
            if not twice:
                return 0
            removed = 0
            for chunk in chunks(twice, 500):
                where = sql_in(key, chunk)
                rows = self.read(table, where=where).to_pylist()
                if order:
                    rows.sort(key=lambda r: (r[order] is not None, r[order]))
                keep = {r[key]: r for r in rows}
                self.tables[table].delete(where)
                self.tables[table].add(pa.Table.from_pylist(list(keep.values()), schema=TABLES[table]))
                removed += len(rows) - len(keep)
        self._changed()
        return removed

    def latest_version(self, table: str) -> int:
        """The table's newest version, as of now (other processes' commits included)."""
        with self.reading(table):
            self.tables[table].checkout_latest()
            return self.tables[table].version

    def update_columns(self, table: str, key: str, data: pa.Table, *, stamp: bool = True) -> int:
        """Set some columns of existing rows, matched by key, in one commit; returns rows
        updated. `stamp`: also set `updated_at`, by which what is derived from the rows (the
        row copy, a space's index) finds those changed since it was made; False only for
        columns nothing derived reads (co-listen vectors)."""
        if data.num_rows == 0:
            return 0
        if stamp and "updated_at" in TABLES[table].names and "updated_at" not in data.column_names:
            data = data.append_column("updated_at", pa.array([now()] * data.num_rows, TABLES[table].field("updated_at").type))
        schema = pa.schema([TABLES[table].field(name) for name in data.column_names])
        with self.writing(table):
            result = self.tables[table].merge_insert(key).when_matched_update_all().execute(data.cast(schema))
        self._changed()
        return result.num_updated_rows

    def delete(self, table: str, where: str) -> None:
        with self.writing(table):
            self.tables[table].delete(where)
        self._changed()

    def update_file(self, track_id: str, size: int, mtime: float) -> None:
        """Record a file's new size and date (its audio is unchanged) in one commit."""
        with self.writing("tracks"):
            self.tables["tracks"].update(where=f"track_id = {sql_string(track_id)}",
                                         values={"file_size": size, "file_mtime": mtime, "updated_at": now()})
        self._changed()

    def add(self, table: str, data: pa.Table) -> None:
        """Append rows in one commit (no key check: for bulk loads of new rows)."""
        with self.writing(table):
            self.tables[table].add(data.select(TABLES[table].names).cast(TABLES[table]))
        self._changed()

    # -- reads ---------------------------------------------------------------------

    def count(self, table: str, where: str | None = None) -> int:
        """Rows of a table (that match `where`)."""
        with self.reading(table):
            return self.tables[table].count_rows(where) if where else self.tables[table].count_rows()

    def _query(self, table: str, columns: Iterable[str] | None, where: str | None):
        """Every row of a table (that matches `where`), these columns (None: all)."""
        query = self.tables[table].search()
        if where:
            query = query.where(where)
        if columns is not None:
            query = query.select(list(columns))
        return query.limit(max(self.tables[table].count_rows(), 1))

    def batches(self, table: str, columns: Iterable[str], where: str | None = None, size: int = 65_536) -> Iterator[pa.RecordBatch]:
        """Rows of a table a batch at a time (a big table is never read whole)."""
        with self.reading(table):
            yield from self._query(table, columns, where).to_batches(size)

    def columns(self, table: str, version: int, names: Iterable[str]) -> Columns:
        """A table at one version, to be read a column at a time (a lazy snapshot's reader)."""
        with self.reading(table):
            pinned = self.db.open_table(table)
            pinned.checkout(version)
            return Columns(self, table, pinned, list(names))

    def read(self, table: str, columns: Iterable[str] | None = None, where: str | None = None,
             *, timeout: float | None = None) -> pa.Table:
        """Rows of a table (those that match `where`), all or some columns.

        `timeout` (seconds) stops a query LanceDB has not answered in time, with a
        `QueryTimeout` error; damaged files are a `DamagedError` naming the table."""
        with self.reading(table):
            try:
                return read_all(self._query(table, columns, where), timeout)
            except RuntimeError as exc:
                if timeout and ("timeout" in str(exc).lower() or "timed out" in str(exc).lower()):
                    raise QueryTimeout(f"LanceDB did not answer within {timeout:g} s; make the filter narrower") from None
                raise


class Columns:
    """One table at one version, read a column at a time or a few rows at a time by position
    (`snapshot.TrackData` when lazy). A later write by anyone does not move it."""

    def __init__(self, store: Store, name: str, table: Any, names: list[str]) -> None:
        self.store, self.name, self.table = store, name, table
        self.names = [n for n in names if n in set(table.schema.names)]
        self.rows = table.count_rows()
        self._lock = threading.Lock()
        self._schema = None

    def _whole(self, names: Sequence[str]):
        """A query for whole columns of the pinned table (every row, in order)."""
        return self.table.search().select(list(names)).limit(max(self.rows, 1))

    def _check(self, read: int, name: str) -> None:
        if read != self.rows:
            raise DamagedError(f"the {self.name} table of {self.store.path} gave {read} rows of {name}, "
                               f"not {self.rows}; reopen the library")

    def arrow(self, names: Sequence[str]) -> pa.Table:
        """Whole columns of the pinned table, as Arrow."""
        with self.store.reading(self.name), self._lock:
            return read_all(self._whole(names))

    def scan(self, name: str, each: Callable[[pa.Array], None]) -> None:
        """One column of the pinned table a batch at a time, in row order: `each(batch)` is
        called with every batch (of READ_BATCH rows), which is dropped after it, so the
        column is never held whole. `each` must not read this table again."""
        read = 0
        with self.store.reading(self.name), self._lock:
            for batch in self._whole([name]).to_batches(READ_BATCH):
                read += batch.num_rows
                each(batch.column(0))
        self._check(read, name)

    def read(self, name: str):
        import polars as pl

        data = self.arrow([name])
        self._check(data.num_rows, name)
        return pl.from_arrow(data).to_series().alias(name)

    def schema(self, names: Sequence[str]):
        """The polars types of these columns (nothing is read)."""
        import polars as pl

        if self._schema is None:
            self._schema = pl.from_arrow(self.table.schema.empty_table().select(self.names)).schema  # type: ignore[union-attr]
        return {n: self._schema[n] for n in names}

    def take(self, rows, names: Sequence[str] | None = None):
        import polars as pl

        with self.store.reading(self.name), self._lock:
            frame = pl.from_arrow(take_ordered(self.table, rows, self.names if names is None else names))
        assert isinstance(frame, pl.DataFrame)
        return frame


def default_library_path() -> Path | str:
    """$ATTUNE_LIBRARY (a folder or an object-storage URI), else the platform's user data directory."""
    env = os.environ.get("ATTUNE_LIBRARY")
    if env:
        return env if is_uri(env) else Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("attune") / "library"
