"""The LanceDB store of record: table schemas, opening, migrations, atomic writes.

Every write here is one LanceDB commit (one table version), so a crash leaves a
table as it was before the write or with the whole write, never half of it.
Nothing above `attune.engine.storage` talks to LanceDB directly.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa

from ..errors import LibraryError
from .schema import META_SCHEMA, SCHEMA_VERSION, TABLES

#: How stale a view of the tables may be with respect to other processes' writes.
CONSISTENCY_SECONDS = 1.0


def now() -> datetime:
    return datetime.now(UTC)


def sql_string(value: str) -> str:
    """The one way a string reaches a LanceDB filter: a single-quoted SQL literal.

    LanceDB's SQL reads backslashes literally, so doubling single quotes is the
    whole escape. NUL cannot appear in a SQL literal and is refused.
    """
    if "\x00" in value:
        raise ValueError("a filter value cannot contain a NUL character")
    return "'" + value.replace("'", "''") + "'"


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


class Written(NamedTuple):
    """What one upsert did: rows inserted and updated, and the table version it committed."""

    inserted: int
    updated: int
    version: int


class Store:
    """The library directory: four LanceDB tables."""

    def __init__(self, path: Path) -> None:
        import lancedb

        self.path = path
        self._versions: Versions | None = None
        self._checked = 0.0
        path.mkdir(parents=True, exist_ok=True)
        self.db = lancedb.connect(str(path))
        existing = set(self._table_names())
        self.tables = {}
        for name, schema in TABLES.items():
            if name in existing:
                self.tables[name] = self.db.open_table(name)
            else:
                self.tables[name] = self.db.create_table(name, schema=schema, exist_ok=True)
        self._check_schema_version(fresh=not existing)
        self._add_missing_columns()

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
        """Columns added to a table's schema since it was written are added, empty."""
        for name, schema in TABLES.items():
            have = set(self.tables[name].schema.names)
            missing = [f for f in schema if f.name not in have]
            if missing:
                self.tables[name].add_columns(missing)

    # -- versions --------------------------------------------------------------

    def versions(self) -> Versions:
        """Table versions: a key that changes whenever a table changes.

        Writes through this store are seen at once; writes by another process
        (an index run beside a search session) within CONSISTENCY_SECONDS.
        """
        clock = time.monotonic()
        if self._versions is None or clock - self._checked > CONSISTENCY_SECONDS:
            names = ("tracks", "playlists", "segments")
            for name in names:
                self.tables[name].checkout_latest()
            self._versions = Versions(*(self.tables[name].version for name in names))
            self._checked = clock
        return self._versions

    def _changed(self) -> None:
        self._versions = None

    # -- meta --------------------------------------------------------------------

    def get_meta(self, key: str) -> Any:
        table = self.tables["meta"]
        rows = table.search().where(f"key = {sql_string(key)}").select(["value"]).to_arrow()
        return json.loads(rows["value"][0].as_py()) if rows.num_rows else None

    def set_meta(self, key: str, value: Any) -> None:
        data = pa.table({"key": [key], "value": [json.dumps(value)]}, schema=META_SCHEMA)
        self.upsert("meta", "key", data)

    # -- writes --------------------------------------------------------------------

    def upsert(self, table: str, key: str, data: pa.Table) -> Written:
        """Insert or update rows by key in one commit; returns what it did and the version it made."""
        if data.num_rows == 0:
            return Written(0, 0, self.tables[table].version)
        data = data.select(TABLES[table].names).cast(TABLES[table])
        result = (
            self.tables[table]
            .merge_insert(key)
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(data)
        )
        self._changed()
        return Written(result.num_inserted_rows, result.num_updated_rows, result.version)

    def latest_version(self, table: str) -> int:
        """The table's newest version, as of now (other processes' commits included)."""
        self.tables[table].checkout_latest()
        return self.tables[table].version

    def update_columns(self, table: str, key: str, data: pa.Table) -> int:
        """Set some columns of existing rows, matched by key, in one commit; returns rows updated."""
        if data.num_rows == 0:
            return 0
        schema = pa.schema([TABLES[table].field(name) for name in data.column_names])
        result = self.tables[table].merge_insert(key).when_matched_update_all().execute(data.cast(schema))
        self._changed()
        return result.num_updated_rows

    def delete(self, table: str, where: str) -> None:
        self.tables[table].delete(where)
        self._changed()

    def update_file(self, track_id: str, size: int, mtime: float) -> None:
        """Record a file's new size and date (its audio is unchanged) in one commit."""
        self.tables["tracks"].update(where=f"track_id = {sql_string(track_id)}", values={"file_size": size, "file_mtime": mtime})
        self._changed()

    def add(self, table: str, data: pa.Table) -> None:
        """Append rows in one commit (no key check: for bulk loads of new rows)."""
        self.tables[table].add(data.select(TABLES[table].names).cast(TABLES[table]))
        self._changed()

    # -- reads ---------------------------------------------------------------------

    def count(self, table: str, where: str | None = None) -> int:
        """Rows of a table (that match `where`)."""
        return self.tables[table].count_rows(where) if where else self.tables[table].count_rows()

    def read(self, table: str, columns: Iterable[str] | None = None, where: str | None = None) -> pa.Table:
        query = self.tables[table].search()
        if where:
            query = query.where(where)
        if columns is not None:
            query = query.select(list(columns))
        limit = self.tables[table].count_rows()
        return query.limit(max(limit, 1)).to_arrow()


def default_library_path() -> Path:
    """$ATTUNE_LIBRARY, else the platform's user data directory."""
    env = os.environ.get("ATTUNE_LIBRARY")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("attune") / "library"
