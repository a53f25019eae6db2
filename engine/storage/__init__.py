"""Storage: the LanceDB tables (the store of record), the in-memory snapshot read from
them, its typed cache and the text indexes. Nothing above this package talks to
LanceDB directly."""

from . import quickimport  # noqa: F401  (before anything imports lancedb: 0.8-1.6 s off every start)
from .cache import Key, Memo
from .schema import INDEX_ERRORS_SCHEMA, PLAYLISTS_SCHEMA, SCALAR_COLUMNS, SEGMENTS_SCHEMA, TABLES, TRACKS_SCHEMA
from .snapshot import Learned, Playlist, Snapshot, TrackData, lower
from .sqltext import chunks, sql_in
from .store import DamagedError, QueryTimeout, Store, Versions, default_library_path, now, sql_string
from .textindex import TextIndex

__all__ = [
    "DamagedError", "INDEX_ERRORS_SCHEMA", "QueryTimeout", "Key", "Learned", "Memo", "PLAYLISTS_SCHEMA", "Playlist", "SCALAR_COLUMNS", "SEGMENTS_SCHEMA",
    "Snapshot", "Store", "TABLES", "TRACKS_SCHEMA", "TextIndex", "TrackData", "Versions", "default_library_path",
    "chunks", "lower", "now", "sql_in", "sql_string",
]
