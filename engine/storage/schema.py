"""The tables' schemas. The tracks table is derived from the field registry
(`attune.query.fields`): one column per stored field, in the registry's order."""

from __future__ import annotations

import pyarrow as pa
from attune.query.fields import FIELDS

SCHEMA_VERSION = 1

_TS = pa.timestamp("us", tz="UTC")
_ARROW = {
    "id": pa.string(),
    "text": pa.string(),
    "texts": pa.list_(pa.string()),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float": pa.float64(),
    "vector": pa.list_(pa.float32()),
    "scores": pa.list_(pa.struct([("genre", pa.string()), ("score", pa.float32())])),
    "timestamp": _TS,
}

TRACKS_SCHEMA = pa.schema(
    [pa.field(f.column, _ARROW[f.kind], nullable=f.kind != "id") for f in FIELDS if f.column is not None]
)

#: Columns read into the in-memory snapshot: everything but vectors (read when a space
#: needs them), genre scores and the write time.
SCALAR_COLUMNS: list[str] = [
    f.column for f in FIELDS if f.column is not None and f.kind not in ("vector", "scores", "timestamp")
]

SEGMENTS_SCHEMA = pa.schema(
    [
        pa.field("track_id", pa.string(), nullable=False),
        pa.field("start", pa.float64()),
        pa.field("end", pa.float64()),
        pa.field("embedding", pa.list_(pa.float32())),
        pa.field("taggram", pa.list_(pa.float32())),
    ]
)

PLAYLISTS_SCHEMA = pa.schema(
    [
        pa.field("playlist_id", pa.string(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("track_ids", pa.list_(pa.string())),
        # Genre labels the playlist carries (Spotify's playlist_genre/subgenre);
        # its tracks inherit them as genre tags.
        pa.field("genres", pa.list_(pa.string())),
        pa.field("source", pa.string()),
        pa.field("created_at", _TS),
        pa.field("updated_at", _TS),
    ]
)

META_SCHEMA = pa.schema([pa.field("key", pa.string(), nullable=False), pa.field("value", pa.string())])

INDEX_ERRORS_SCHEMA = pa.schema(
    [pa.field("path", pa.string(), nullable=False), pa.field("reason", pa.string()), pa.field("at", _TS)]
)

TABLES = {
    "tracks": TRACKS_SCHEMA,
    "segments": SEGMENTS_SCHEMA,
    "playlists": PLAYLISTS_SCHEMA,
    "meta": META_SCHEMA,
    "index_errors": INDEX_ERRORS_SCHEMA,
}
